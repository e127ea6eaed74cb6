import { ExhibitError, LIMITS, type BlobStore } from '@exhibit/core';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BlobByteSource, SliceByteSource } from './byte-source.js';
import type { ByteSource } from './disk-reader.types.js';
import { adler32 } from './ewf-image.container.js';
import { checkSplitRawSizes, RawImage } from './raw-image.container.js';
import { crc32, guidText } from './volume-system.reader.js';

const bytes = (n: number, seed = 1) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) out[i] = (i * 31 + seed) & 0xff;
  return out;
};

const memory = (data: Uint8Array): ByteSource => ({
  size: data.length,
  read: async (offset, length) => {
    if (offset < 0 || offset + length > data.length) throw new ExhibitError('corrupt-file', 'outside');
    return data.slice(offset, offset + length);
  },
  spanInBase: (offset, length) => ({ offset, length }),
});

describe('checksums', () => {
  it('Adler-32 and CRC-32 give the published check values', () => {
    const check = new TextEncoder().encode('123456789');
    expect(adler32(check)).toBe(0x091e01de);
    expect(crc32(check)).toBe(0xcbf43926);
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
    // Long input crosses Adler-32's 5552-byte reduction boundary; zlib's stream trailer is the reference.
    const long = new Uint8Array(100_000).fill(0xff);
    const stream = deflateSync(long);
    expect(adler32(long)).toBe(stream.readUInt32BE(stream.length - 4));
  });

  it('GPT GUIDs print with their first three fields little-endian', () => {
    const raw = Uint8Array.from([0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7]);
    expect(guidText(raw)).toBe('ebd0a0a2-b9e5-4433-87c0-68b6b72699c7');
  });
});

describe('split raw', () => {
  it('reads across segment boundaries, and gives spans only within one segment', async () => {
    const whole = bytes(10_000);
    const image = new RawImage([memory(whole.slice(0, 3000)), memory(whole.slice(3000, 3000)), memory(whole.slice(3000, 7001)), memory(whole.slice(7001))]);
    expect(image.size).toBe(10_000);
    expect(await image.read(2990, 4100)).toEqual(whole.slice(2990, 7090));
    expect(image.spanInBase(3100, 100)).toEqual({ segment: 2, offset: 100, length: 100 });
    expect(image.spanInBase(2990, 20)).toBeNull();
    await expect(image.read(9990, 11)).rejects.toMatchObject({ code: 'corrupt-file' });
  });

  it('split-raw-short-middle-segment-refused: a piece before the last whose tail was lost is a lost range at known offsets; the later pieces keep theirs; anything else is refused', async () => {
    const whole = bytes(10_000);
    const sizes = [3000, 1200, 3000, 800];
    // Piece 2 holds the first 1200 of its 3000 bytes: media bytes 4200 to 6000 are lost.
    const loss = checkSplitRawSizes(sizes.map((size, i) => ({ size, name: `disk.00${i + 1}` })));
    expect(loss).toMatchObject({ segment: 1, pieceBytes: 3000, from: 4200, to: 6000, message: expect.stringMatching(/^segment 2 of disk\.001 \(disk\.002\) holds 1200 bytes.*media bytes 4200 to 6000/) });
    const image = new RawImage([memory(whole.slice(0, 3000)), memory(whole.slice(3000, 4200)), memory(whole.slice(6000, 9000)), memory(whole.slice(9000, 9800))], loss);
    expect(image.size).toBe(9800);
    // Before the range and after it, every byte where the whole set has it (never shifted by the 1800 lost).
    expect(await image.read(2990, 1210)).toEqual(whole.slice(2990, 4200));
    expect(await image.read(6000, 3800)).toEqual(whole.slice(6000, 9800));
    expect(image.spanInBase(6100, 100)).toEqual({ segment: 2, offset: 100, length: 100 });
    // Touching the range fails with the reason an EWF chunk lost with its segment gives, never zeros.
    for (const [offset, length] of [[4199, 2], [5000, 10], [5999, 1], [0, 9800]] as const) {
      await expect(image.read(offset, length)).rejects.toMatchObject({ code: 'corrupt-file', details: { reason: 'segment-truncated' } });
    }
    expect(image.spanInBase(5000, 10)).toBeNull();
    // Not consistent with one lost tail: refused as before.
    for (const refused of [
      [3000, 1200, 1200, 800], // two short pieces
      [3000, 3100, 3000, 800], // a longer one
      [1200, 3000, 3000, 800], // the first short: the piece size is unknown
      [3000, 1200, 3000, 3001], // the last longer than the first
    ]) {
      expect(() => checkSplitRawSizes(refused.map((size) => ({ size })))).toThrow(/\[segment-truncated\]/);
    }
    expect(checkSplitRawSizes([{ size: 3000 }, { size: 3000 }, { size: 800 }])).toBeNull();
  });

  it('split-raw-three-pieces-short-middle-read-at-guessed-offset: with three pieces only the first attests the piece size, so a short middle piece is refused, never read as a lost tail', () => {
    // [120, 100, 50]: "the first is 20 bytes too long, pieces of 100" reads piece 3 at 220, "piece 2 lost 20 bytes" at
    // 240. Nothing tells them apart; reading either is a guess that shifts every later byte when wrong.
    expect(() => checkSplitRawSizes([{ size: 120 }, { size: 100 }, { size: 50 }])).toThrow(/holds 100 bytes, the first holds 120: only the last may be shorter.*\[segment-truncated\]/);
    expect(() => checkSplitRawSizes([{ size: 120, name: 'a.001' }, { size: 100, name: 'a.002' }, { size: 120, name: 'a.003' }])).toThrow(/\[segment-truncated\]/);
    // Two full pieces before the last say the size: the lost tail is read as lost, at its place.
    expect(checkSplitRawSizes([{ size: 120 }, { size: 100 }, { size: 120 }, { size: 50 }])).toMatchObject({ segment: 1, from: 220, to: 240 });
    expect(checkSplitRawSizes([{ size: 120 }, { size: 120 }, { size: 100 }, { size: 50 }])).toMatchObject({ segment: 2, from: 340, to: 360 });
  });

  it('a slice (a partition) never reads outside itself or its base', async () => {
    const base = memory(bytes(4096));
    expect(() => new SliceByteSource(base, 4000, 200)).toThrow(ExhibitError);
    const slice = new SliceByteSource(base, 1024, 1024);
    await expect(slice.read(1000, 25)).rejects.toMatchObject({ code: 'corrupt-file' });
    expect(slice.spanInBase(10, 10)).toEqual({ offset: 1034, length: 10 });
  });
});

describe('blob byte source', () => {
  it('serves reads from a bounded LRU of fixed blocks and stays within the blob', async () => {
    const data = bytes(LIMITS.diskCacheBlockBytes * 20 + 123);
    const requests: [number, number][] = [];
    // Only readRange is used by BlobByteSource; the rest of the port is not needed here.
    const store = {
      readRange: async (_ref: unknown, offset: number, count: number) => {
        requests.push([offset, count]);
        return Buffer.from(data.subarray(offset, offset + count));
      },
    } as unknown as BlobStore;
    const source = new BlobByteSource(store, { container: 'evidence', name: 'disk.img' }, data.length);
    const B = LIMITS.diskCacheBlockBytes;
    expect(await source.read(B - 10, 20)).toEqual(data.slice(B - 10, B + 10));
    expect(await source.read(B + 5, 10)).toEqual(data.slice(B + 5, B + 15));
    expect(requests).toEqual([[0, B], [B, B]]);
    expect(await source.read(data.length - 23, 23)).toEqual(data.slice(-23));
    expect(requests.at(-1)).toEqual([20 * B, 123]);
    for (let i = 0; i < 20; i += 1) await source.read(i * B, 1);
    expect(requests.length).toBeLessThanOrEqual(3 + 20);
    await expect(source.read(data.length - 1, 2)).rejects.toMatchObject({ code: 'corrupt-file' });
    expect(Math.max(...requests.map(([o, c]) => o + c))).toBeLessThanOrEqual(data.length);
  });
});
