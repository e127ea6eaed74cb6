import { describe, expect, it } from 'vitest';
import { bytesByteSource, runsByteSource } from './file-byte-source.js';

const base = () => {
  const b = new Uint8Array(100);
  for (let i = 0; i < b.length; i++) b[i] = i;
  const source = bytesByteSource(b);
  return { ...source, read: source.read, spanInBase: (offset: number, length: number) => ({ offset: offset + 1000, length }) };
};

describe('runsByteSource', () => {
  const runs = [
    { logical: 0, length: 10, physical: 50 },
    { logical: 10, length: 10, physical: null },
    { logical: 20, length: 5, physical: 0 },
  ];

  it('reads runs in order, sparse runs and gaps past the last run as zeros', async () => {
    const data = runsByteSource(base(), runs, 30);
    expect([...(await data.read(8, 15))]).toEqual([58, 59, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect([...(await data.read(24, 6))]).toEqual([4, 0, 0, 0, 0, 0]);
  });

  it('refuses a read outside the data as corrupt-file, never a short read', async () => {
    const data = runsByteSource(base(), runs, 30);
    await expect(data.read(25, 6)).rejects.toMatchObject({ code: 'corrupt-file' });
    await expect(data.read(-1, 2)).rejects.toMatchObject({ code: 'corrupt-file' });
  });

  it('gives a span of the base only inside one allocated run', () => {
    const data = runsByteSource(base(), runs, 30);
    expect(data.spanInBase!(2, 8)).toEqual({ offset: 1052, length: 8 });
    expect(data.spanInBase!(5, 10)).toBeNull();
    expect(data.spanInBase!(12, 2)).toBeNull();
  });

  it('the in-memory source hands out copies, so fixing up a record never changes the image', async () => {
    const bytes = Buffer.from([1, 2, 3, 4]);
    const copy = await bytesByteSource(bytes).read(0, 4);
    copy[0] = 9;
    expect(bytes[0]).toBe(1);
  });
});
