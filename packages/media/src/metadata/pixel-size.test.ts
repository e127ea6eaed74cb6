import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { noisyJpeg } from '../test-support/fixtures.js';
import { readPixelSize } from './pixel-size.js';

const size = (bytes: Buffer, maxBytes = 16 * 1024 * 1024) => readPixelSize(new BufferSource(bytes), { maxBytes });
const canvas = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#204060' } });

describe('readPixelSize', () => {
  it('reads the header of each format sharp writes', async () => {
    expect(await size(await canvas(50, 30).jpeg().toBuffer())).toEqual({ width: 50, height: 30, format: 'jpeg' });
    expect(await size(await canvas(51, 31).jpeg({ progressive: true }).toBuffer())).toEqual({ width: 51, height: 31, format: 'jpeg' });
    expect(await size(await canvas(52, 32).png().toBuffer())).toEqual({ width: 52, height: 32, format: 'png' });
    expect(await size(await canvas(53, 33).gif().toBuffer())).toEqual({ width: 53, height: 33, format: 'gif' });
    expect(await size(await canvas(54, 34).webp().toBuffer())).toEqual({ width: 54, height: 34, format: 'webp' });
    expect(await size(await canvas(55, 35).webp({ lossless: true }).toBuffer())).toEqual({ width: 55, height: 35, format: 'webp' });
    expect(await size(await canvas(56, 36).tiff().toBuffer())).toEqual({ width: 56, height: 36, format: 'tiff' });
    expect(await size(await canvas(58, 38).avif().toBuffer())).toEqual({ width: 58, height: 38, format: 'heif' });
  });

  it("reads an Apple CgBI PNG's IHDR after its CgBI chunk", async () => {
    const png = await canvas(61, 41).png().toBuffer();
    const cgbi = Buffer.concat([png.subarray(0, 8), Buffer.from([0, 0, 0, 4]), Buffer.from('CgBI'), Buffer.from([0x50, 0, 0x20, 0x06]), Buffer.alloc(4), png.subarray(8)]);
    expect(await size(cgbi)).toEqual({ width: 61, height: 41, format: 'png' });
  });

  it('reads a real HEIC (libheif-written)', async () => {
    const heic = readFileSync(new URL('../thumbnail/two-tone-4032x3024.fixture.heic', import.meta.url));
    expect(await size(heic)).toEqual({ width: 4032, height: 3024, format: 'heif' });
  });

  it("takes the HEIF primary item's ispe, not the first one (a thumbnail listed first)", async () => {
    const box = (type: string, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      const head = Buffer.alloc(8);
      head.writeUInt32BE(8 + body.length, 0);
      head.write(type, 4, 'latin1');
      return Buffer.concat([head, body]);
    };
    const full = (version: number, flags: number) => Buffer.from([version, (flags >> 16) & 255, (flags >> 8) & 255, flags & 255]);
    const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
    const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
    const ispe = (w: number, h: number) => box('ispe', full(0, 0), u32(w), u32(h));
    const ipma = box('ipma', full(0, 0), u32(2), u16(1), Buffer.from([1, 0x81]), u16(2), Buffer.from([1, 0x82]));
    const meta = box('meta', full(0, 0), box('hdlr', full(0, 0), u32(0), Buffer.from('pict'), Buffer.alloc(13)), box('pitm', full(0, 0), u16(2)),
      box('iprp', box('ipco', ispe(160, 120), ispe(4032, 3024)), ipma));
    const heif = Buffer.concat([box('ftyp', Buffer.from('heic'), u32(0), Buffer.from('mif1heic')), meta]);
    expect(await size(heif)).toEqual({ width: 4032, height: 3024, format: 'heif' });
  });

  it('skips the EXIF thumbnail inside APP1 and reads only the head of a large JPEG', async () => {
    const big = await noisyJpeg(1600, 1200);
    const source = new BufferSource(big);
    expect(await readPixelSize(source, { maxBytes: 16 * 1024 * 1024 })).toEqual({ width: 1600, height: 1200, format: 'jpeg' });
    expect(source.highestOffsetRead).toBeLessThanOrEqual(64 * 1024);
  });

  it('gives no size rather than a guess for damaged or missing headers', async () => {
    const jpeg = await canvas(50, 30).jpeg().toBuffer();
    // Cut before the frame header.
    expect(await size(jpeg.subarray(0, 20))).toBeNull();
    // Garbage where a marker should be: no resynchronising.
    const broken = Buffer.from(jpeg);
    broken[2] = 0x00;
    expect(await size(broken)).toBeNull();
    // SOI, EOI: no image.
    expect(await size(Buffer.from([0xff, 0xd8, 0xff, 0xd9, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeNull();
    expect(await size(Buffer.from('just some text, not an image'))).toBeNull();
    // Frame header beyond the read cap.
    expect(await size(jpeg, 100)).toBeNull();
  });
});
