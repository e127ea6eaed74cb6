import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MerkleAccumulator, merkleRoot } from './merkle-root.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const leaf = (hex: string) => createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(hex, 'hex')])).digest();
const node = (l: Buffer, r: Buffer) => createHash('sha256').update(Buffer.concat([Buffer.from([1]), l, r])).digest();

describe('merkleRoot', () => {
  it('of nothing is SHA-256 of the empty string', () => {
    expect(merkleRoot([])).toBe(createHash('sha256').digest('hex'));
  });

  it('of one member is its domain-separated leaf, not the member hash itself', () => {
    const h = sha('a');
    expect(merkleRoot([h])).toBe(leaf(h).toString('hex'));
    expect(merkleRoot([h])).not.toBe(h);
  });

  it('follows the documented construction for three members (odd node promoted)', () => {
    const [a, b, c] = [sha('a'), sha('b'), sha('c')];
    const expected = node(node(leaf(a), leaf(b)), leaf(c)).toString('hex');
    expect(merkleRoot([a, b, c])).toBe(expected);
  });

  it('depends on order', () => {
    expect(merkleRoot([sha('a'), sha('b')])).not.toBe(merkleRoot([sha('b'), sha('a')]));
  });

  it('rejects anything that is not a lowercase SHA-256 hex digest', () => {
    expect(() => merkleRoot(['abc'])).toThrow(/SHA-256/);
    expect(() => merkleRoot([sha('a').toUpperCase()])).toThrow(/SHA-256/);
  });
});

describe('MerkleAccumulator', () => {
  it('matches merkleRoot for every count from 0 to 70', () => {
    const hashes = Array.from({ length: 70 }, (_, i) => sha(String(i)));
    for (let n = 0; n <= hashes.length; n += 1) {
      const acc = new MerkleAccumulator();
      for (const h of hashes.slice(0, n)) acc.push(h);
      expect(acc.root(), `n=${n}`).toBe(merkleRoot(hashes.slice(0, n)));
      expect(acc.count).toBe(n);
    }
  });
});
