import { describe, expect, it } from 'vitest';
import { copyLine, CopyChunk } from './hash-set-copy.js';
import type { HashSetRow } from './hash-set.types.js';

const row = (over: Partial<HashSetRow>): HashSetRow => ({ md5: null, sha1: null, sha256: null, category: null, size: null, extra: null, ...over });

describe('CopyChunk', () => {
  it('holds exactly the COPY lines of its rows as UTF-8, and starts afresh after take()', () => {
    const rows = [
      row({ md5: 'a'.repeat(32) }),
      row({ sha256: 'b'.repeat(64), category: 2, size: 10 }),
      // Non-ASCII and characters COPY must escape, in a VICS field kept as data.
      row({ sha1: 'c'.repeat(40), extra: { Series: 'Škoda\tline\nbreak \\ 東京 😀' } }),
    ];
    const chunk = new CopyChunk();
    for (const r of rows) chunk.push(r);
    const first = chunk.take();
    expect(first.rows).toBe(3);
    expect(first.data.toString('utf8')).toBe(rows.map(copyLine).join(''));
    expect(chunk.rows).toBe(0);
    chunk.push(rows[0]!);
    const second = chunk.take();
    expect(second.data.toString('utf8')).toBe(copyLine(rows[0]!));
    // The first chunk's bytes were handed over, not overwritten by the next rows.
    expect(first.data.toString('utf8')).toBe(rows.map(copyLine).join(''));
  });

  it('grows past its first buffer for many or wide rows, keeping every byte', () => {
    const wide = row({ md5: 'd'.repeat(32), extra: { Tags: 'x'.repeat(100_000), Name: 'é'.repeat(50_000) } });
    const many = Array.from({ length: 5000 }, (_, i) => row({ md5: i.toString(16).padStart(32, '0') }));
    const chunk = new CopyChunk();
    chunk.push(wide);
    for (const r of many) chunk.push(r);
    const { data, rows } = chunk.take();
    expect(rows).toBe(5001);
    expect(data.equals(Buffer.from([wide, ...many].map(copyLine).join(''), 'utf8'))).toBe(true);
  });
});
