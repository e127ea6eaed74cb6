import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blockId, blockIndexOf, MAX_BLOCKS_PER_BLOB } from './block-id.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('blockId', () => {
  it('is deterministic and encodes the index', () => {
    expect(blockId(7, sha('a'))).toBe(blockId(7, sha('a')));
    expect(blockIndexOf(blockId(7, sha('a')))).toBe(7);
    expect(blockIndexOf(blockId(MAX_BLOCKS_PER_BLOB - 1, sha('z')))).toBe(MAX_BLOCKS_PER_BLOB - 1);
  });

  it('differs for different bytes at the same index and for the same bytes at different indexes', () => {
    expect(blockId(3, sha('a'))).not.toBe(blockId(3, sha('b')));
    expect(blockId(3, sha('a'))).not.toBe(blockId(4, sha('a')));
  });

  it('has one length for every index (Azure requires it) and fits the 64-byte limit', () => {
    const lengths = new Set([0, 9, 10, 999, 12_345, MAX_BLOCKS_PER_BLOB - 1].map((i) => blockId(i, sha(String(i))).length));
    expect(lengths.size).toBe(1);
    expect(Buffer.from(blockId(0, sha('x')), 'base64').length).toBeLessThanOrEqual(64);
  });

  it('rejects out-of-range indexes and malformed digests', () => {
    expect(() => blockId(-1, sha('a'))).toThrow(/out of range/);
    expect(() => blockId(MAX_BLOCKS_PER_BLOB, sha('a'))).toThrow(/out of range/);
    expect(() => blockId(1, 'abc')).toThrow(/SHA-256/);
    expect(blockIndexOf(Buffer.from('someone-else').toString('base64'))).toBeNull();
  });
});
