import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { channelStats } from './channel-stats.js';

/** sharp's own figures for the same raw pixels (libvips' vips_stats). */
async function sharpStats(data: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  const stats = await sharp(data, { raw: { width, height, channels } }).stats();
  return stats.channels.map((c) => ({ mean: c.mean, stdev: c.stdev }));
}

/** Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced. */
function noise(length: number, seed: number, spread = 256, base = 0): Buffer {
  const out = Buffer.alloc(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = base + (s % spread);
  }
  return out;
}

describe('channelStats', () => {
  // The thumbnailer's no-content finding compares stdev with 1 and prints the rounded means: the figures must be libvips'.
  const cases: Array<{ name: string; width: number; height: number; channels: 1 | 2 | 3 | 4; data: Buffer }> = [
    { name: 'noise, RGB', width: 320, height: 240, channels: 3, data: noise(320 * 240 * 3, 1) },
    { name: 'noise, grey, odd size', width: 317, height: 211, channels: 1, data: noise(317 * 211, 2) },
    // A PNG or WebP with transparency keeps its alpha channel: grey + alpha (2) and RGBA (4).
    { name: 'noise, grey + alpha, odd size', width: 301, height: 199, channels: 2, data: noise(301 * 199 * 2, 4) },
    { name: 'noise, RGBA', width: 320, height: 240, channels: 4, data: noise(320 * 240 * 4, 5) },
    { name: 'RGBA noise, opaque (alpha flat at 255)', width: 257, height: 129, channels: 4, data: (() => { const b = noise(257 * 129 * 4, 6); for (let i = 3; i < b.length; i += 4) b[i] = 255; return b; })() },
    { name: 'grey + alpha, flat grey, alpha half transparent', width: 200, height: 100, channels: 2, data: (() => { const b = Buffer.alloc(200 * 100 * 2, 90); for (let i = 1; i < b.length; i += 2) b[i] = i < b.length / 2 ? 0 : 255; return b; })() },
    { name: 'flat', width: 200, height: 100, channels: 3, data: Buffer.alloc(200 * 100 * 3, 128) },
    { name: 'nearly flat (stdev close to 1)', width: 320, height: 213, channels: 3, data: noise(320 * 213 * 3, 3, 3, 127) },
    { name: 'a few stray pixels on flat', width: 320, height: 180, channels: 3, data: (() => { const b = Buffer.alloc(320 * 180 * 3, 40); for (let i = 0; i < b.length; i += 997) b[i] = 255; return b; })() },
    { name: 'one pixel', width: 1, height: 1, channels: 3, data: Buffer.from([10, 20, 30]) },
  ];
  for (const c of cases) {
    it(`gives the mean and stdev sharp's stats() gives, bit for bit: ${c.name}`, async () => {
      expect(channelStats(c.data, c.channels)).toEqual(await sharpStats(c.data, c.width, c.height, c.channels));
    });
  }

  it('refuses bytes that are not whole pixels', () => {
    expect(() => channelStats(Buffer.alloc(10), 3)).toThrow(RangeError);
  });
});
