import { randomBytes } from 'node:crypto';
import type { RandomAccessSource } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { ReadOnceSource } from './read-once-source.js';

/** A source over `data` that records every range asked of it, and can return short. */
function recording(data: Buffer, options: { shortBy?: number } = {}) {
  const reads: Array<[number, number]> = [];
  const source: RandomAccessSource = {
    name: 'x.jpg',
    size: data.length,
    read: async (offset, length) => {
      reads.push([offset, length]);
      return data.subarray(offset, Math.max(offset, offset + length - (options.shortBy ?? 0)));
    },
    url: async () => 'http://storage/x.jpg',
  };
  return { source, reads };
}

describe('ReadOnceSource', () => {
  it('serves every later read of a range from the first fetch', async () => {
    const data = randomBytes(100_000);
    const { source, reads } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000 });
    expect(await once.read(0, 4096)).toEqual(data.subarray(0, 4096));
    expect(await once.read(100, 200)).toEqual(data.subarray(100, 300));
    expect(reads).toEqual([[0, 4096]]);
  });

  it('serves every read from bytes it was given whole (the member-bytes cache), reading storage for none', async () => {
    const data = randomBytes(200_000);
    const { source, reads } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000, whole: Buffer.from(data) });
    expect(await once.read(0, 65_536)).toEqual(data.subarray(0, 65_536));
    expect(await once.loadWhole()).toBe(true);
    expect(await once.read(0, data.length)).toEqual(data);
    expect(reads).toEqual([]);
    expect(once.fetches).toBe(0);
  });

  it('ignores given bytes of another length than the file\'s, and reads storage', async () => {
    const data = randomBytes(10_000);
    const { source, reads } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000, whole: data.subarray(0, 9_999) });
    expect(await once.read(0, 10_000)).toEqual(data);
    expect(reads).toEqual([[0, 10_000]]);
  });

  it('loads the whole file by fetching only the gaps, then reads memory', async () => {
    const data = randomBytes(300_000);
    const { source, reads } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000 });
    await once.read(0, 65_536); // identify's head
    await once.read(300_000 - 65_558, 65_558); // identify's tail
    expect(await once.loadWhole()).toBe(true);
    expect(reads).toEqual([
      [0, 65_536],
      [234_442, 65_558],
      [65_536, 234_442 - 65_536],
    ]);
    expect(once.bytesFetched).toBe(data.length);
    // Compared with equals(): a deep comparison of 300 kB is slow and says no more.
    expect((await once.read(0, data.length)).equals(data)).toBe(true);
    expect(await once.read(123_456, 7)).toEqual(data.subarray(123_456, 123_463));
    expect(reads).toHaveLength(3);
  });

  it('keeps a larger file per range: loadWhole refuses it and fetches nothing', async () => {
    const data = randomBytes(50_000);
    const { source, reads } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 10_000 });
    expect(await once.loadWhole()).toBe(false);
    expect(reads).toEqual([]);
    expect(await once.read(40_000, 20_000)).toEqual(data.subarray(40_000, 50_000));
    expect(await once.url()).toBe('http://storage/x.jpg');
  });

  it('refuses to hand out a hole when storage returns less than it holds (retryable)', async () => {
    const { source } = recording(randomBytes(10_000), { shortBy: 10 });
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000 });
    await expect(once.loadWhole()).rejects.toMatchObject({ code: 'storage-unavailable', retryable: true });
  });

  it('clamps reads to the file and returns nothing past its end', async () => {
    const data = randomBytes(1000);
    const { source } = recording(data);
    const once = new ReadOnceSource(source, { maxWholeBytes: 1_000_000 });
    expect(await once.read(900, 500)).toEqual(data.subarray(900));
    expect((await once.read(2000, 10)).length).toBe(0);
  });
});
