import { describe, expect, it } from 'vitest';
import { isPdqHex, pdqDihedralFromPixels, pdqDistance, pdqFromPixels, pdqHexToBytes, type PdqPixels } from './pdq.hasher.js';

/** A smooth diagonal pattern with some texture, w×h, RGB. */
function scene(width: number, height: number, channels: 1 | 3 = 3): PdqPixels {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = Math.round(127 + 120 * Math.sin((x * (c + 1)) / 23 + y / 17) * Math.cos(y / 31 - x / 41));
      }
    }
  }
  return { width, height, channels, data };
}

describe('pdqFromPixels', () => {
  it('gives an all-zero hash and quality 0 below 5 pixels on a side, as the reference does', () => {
    expect(pdqFromPixels({ width: 4, height: 100, channels: 1, data: new Uint8Array(400).fill(9) })).toEqual({ hash: '0'.repeat(64), quality: 0 });
    expect(pdqFromPixels({ width: 0, height: 0, channels: 3, data: new Uint8Array(0) }).quality).toBe(0);
  });

  it('sets half the bits (those above the median) of a textured picture and rates it well', () => {
    const { hash, quality } = pdqFromPixels(scene(300, 200));
    expect(isPdqHex(hash)).toBe(true);
    expect(pdqDistance(hash, '0'.repeat(64))).toBe(128);
    expect(quality).toBeGreaterThan(50);
  });

  it('ignores alpha: RGBA hashes as its RGB planes', () => {
    const rgb = scene(120, 90);
    const rgba = new Uint8Array(120 * 90 * 4);
    for (let p = 0; p < 120 * 90; p++) {
      rgba.set(rgb.data.subarray(p * 3, p * 3 + 3), p * 4);
      rgba[p * 4 + 3] = p % 7 === 0 ? 0 : 255;
    }
    expect(pdqFromPixels({ width: 120, height: 90, channels: 4, data: rgba })).toEqual(pdqFromPixels(rgb));
  });

  it('hashes an RGB image whose every pixel is grey as the grey image, as the reference sees it', () => {
    const grey = scene(100, 80, 1);
    const rgb = new Uint8Array(100 * 80 * 3);
    for (let p = 0; p < 100 * 80; p++) rgb.fill(grey.data[p]!, p * 3, p * 3 + 3);
    expect(pdqFromPixels({ width: 100, height: 80, channels: 3, data: rgb })).toEqual(pdqFromPixels(grey));
  });

  it('squashes a picture over 512 px to 512×512 by nearest neighbour first', () => {
    const big = scene(1024, 600);
    const squashed = new Uint8Array(512 * 512 * 3);
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const from = (Math.floor((y * 600) / 512) * 1024 + Math.floor((x * 1024) / 512)) * 3;
        squashed.set(big.data.subarray(from, from + 3), (y * 512 + x) * 3);
      }
    }
    expect(pdqFromPixels(big)).toEqual(pdqFromPixels({ width: 512, height: 512, channels: 3, data: squashed }));
  });

  it('rejects a buffer that does not hold width × height × channels bytes', () => {
    expect(() => pdqFromPixels({ width: 10, height: 10, channels: 3, data: new Uint8Array(299) })).toThrow(/300 bytes/);
  });

  it('turns the hash by parity without re-hashing: rotate180 twice over is the original', () => {
    const dih = pdqDihedralFromPixels(scene(200, 150));
    expect(dih.original).toBe(pdqFromPixels(scene(200, 150)).hash);
    const bits = (h: string) => pdqDistance(h, '0'.repeat(64));
    for (const h of [dih.rotate90, dih.rotate180, dih.rotate270, dih.flipX, dih.flipY, dih.flipPlus1, dih.flipMinus1]) expect(bits(h)).toBe(128);
    expect(pdqDistance(dih.original, dih.rotate180)).toBeGreaterThan(40);
  });
});

describe('pdqDistance and hex', () => {
  it('counts differing bits', () => {
    const a = '0'.repeat(64);
    expect(pdqDistance(a, a)).toBe(0);
    expect(pdqDistance(a, 'f'.repeat(64))).toBe(256);
    expect(pdqDistance(a, '8' + '0'.repeat(62) + '1')).toBe(2);
    expect(pdqDistance('F'.repeat(64), 'f'.repeat(64))).toBe(0);
  });

  it('refuses anything but 64 hex digits', () => {
    expect(() => pdqHexToBytes('abc')).toThrow(RangeError);
    expect(() => pdqHexToBytes('g'.repeat(64))).toThrow(RangeError);
    expect(pdqHexToBytes('ff' + '0'.repeat(62))[0]).toBe(255);
  });
});
