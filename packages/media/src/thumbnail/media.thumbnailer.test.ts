import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, LIMITS } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { buildExif, short, TAGS, withExifSegment } from '../test-support/exif.builder.js';
import { heicFromJpeg, heifEncAvailable, pixelBombPng, sampleHeic, testTools, testVideo, twoToneJpeg } from '../test-support/fixtures.js';
import { RangeServer } from '../test-support/range.server.js';
import { MediaThumbnailer } from './media.thumbnailer.js';

/** Mean colour of the left and right thirds of an image: tells which way it was turned. */
async function leftRight(jpeg: Buffer): Promise<{ left: number[]; right: number[] }> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const mean = (x0: number, x1: number) => {
    const sum = [0, 0, 0];
    let n = 0;
    for (let y = 0; y < info.height; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * info.width + x) * info.channels;
        sum[0]! += data[i]!;
        sum[1]! += data[i + 1]!;
        sum[2]! += data[i + 2]!;
        n++;
      }
    }
    return sum.map((s) => Math.round(s / n));
  };
  return { left: mean(0, Math.floor(info.width / 3)), right: mean(Math.ceil((2 * info.width) / 3), info.width) };
}

const isRed = (c: number[]) => c[0]! > 180 && c[2]! < 80;
const isBlue = (c: number[]) => c[2]! > 180 && c[0]! < 80;

describe('MediaThumbnailer.image', () => {
  const thumbnailer = new MediaThumbnailer(testTools());

  it('fits a JPEG into the thumbnail box, strips metadata and names the recipe', async () => {
    const jpeg = withExifSegment(await twoToneJpeg(1000, 500), buildExif({ ifd0: { [TAGS.Make]: { type: 'ascii', value: 'Canon' } } }));
    const t = await thumbnailer.image(new BufferSource(jpeg, 'a.jpg'), { mime: 'image/jpeg' });
    expect(t.from).toBe('image');
    expect([t.width, t.height]).toEqual([LIMITS.thumbnailEdgePx, LIMITS.thumbnailEdgePx / 2]);
    const meta = await sharp(t.jpeg).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: t.width, height: t.height });
    expect(meta.exif).toBeUndefined();
    expect(thumbnailer.recipe).toBe(`t${LIMITS.thumbnailEdgePx}q80`);
  });

  it('is deterministic: the same input gives the same bytes', async () => {
    const jpeg = await twoToneJpeg(900, 700);
    const a = await thumbnailer.image(new BufferSource(jpeg));
    const b = await new MediaThumbnailer(testTools()).image(new BufferSource(Buffer.from(jpeg)));
    expect(a.jpeg.equals(b.jpeg)).toBe(true);
  });

  it('turns the image upright from its EXIF orientation', async () => {
    // Stored landscape red|blue; orientation 6 means "rotate 90° clockwise to view".
    const jpeg = withExifSegment(await twoToneJpeg(400, 200), buildExif({ ifd0: { [TAGS.Orientation]: short(6) } }));
    const t = await thumbnailer.image(new BufferSource(jpeg));
    expect(t.height).toBeGreaterThan(t.width);
    const unrotated = await thumbnailer.image(new BufferSource(await twoToneJpeg(400, 200)));
    expect(unrotated.width).toBeGreaterThan(unrotated.height);
    const sides = await leftRight(unrotated.jpeg);
    expect(isRed(sides.left) && isBlue(sides.right)).toBe(true);
  });

  it('does not enlarge small images', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 128, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const t = await thumbnailer.image(new BufferSource(png), { mime: 'image/png' });
    expect([t.width, t.height]).toEqual([40, 30]);
  });

  it('regression: corrupt-jpeg-with-intact-exif-thumbnail falls back to the EXIF preview', async () => {
    const preview = await twoToneJpeg(160, 80);
    const withThumb = withExifSegment(await twoToneJpeg(1200, 600), buildExif({ ifd0: { [TAGS.Orientation]: short(1) }, thumbnail: preview }));
    // Keep SOI + APP1 (EXIF with thumbnail), destroy everything after it.
    const app1End = 4 + withThumb.readUInt16BE(4) + 2;
    const garbage = Buffer.alloc(20_000, 0x5a);
    const corrupt = Buffer.concat([withThumb.subarray(0, app1End), Buffer.from([0xff, 0xdb, 0x00, 0x04, 0x00, 0x00]), garbage]);
    const t = await thumbnailer.image(new BufferSource(corrupt), { mime: 'image/jpeg' });
    expect(t.from).toBe('exif-preview');
    expect([t.width, t.height]).toEqual([160, 80]);
    const sides = await leftRight(t.jpeg);
    expect(isRed(sides.left) && isBlue(sides.right)).toBe(true);
  });

  it('applies the main image orientation to the EXIF preview', async () => {
    const preview = await twoToneJpeg(160, 80);
    const withThumb = withExifSegment(await twoToneJpeg(1200, 600), buildExif({ ifd0: { [TAGS.Orientation]: short(3) }, thumbnail: preview }));
    const app1End = 4 + withThumb.readUInt16BE(4) + 2;
    const corrupt = Buffer.concat([withThumb.subarray(0, app1End), Buffer.alloc(5_000, 0xa5)]);
    const t = await thumbnailer.image(new BufferSource(corrupt));
    expect(t.from).toBe('exif-preview');
    // Orientation 3 = rotated 180°: blue now on the left.
    const sides = await leftRight(t.jpeg);
    expect(isBlue(sides.left) && isRed(sides.right)).toBe(true);
  });

  it('fails a corrupt JPEG without a preview with decode-failed and a reason', async () => {
    const jpeg = await twoToneJpeg(300, 200);
    const corrupt = Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(10_000, 0x33)]);
    const err = await thumbnailer.image(new BufferSource(corrupt), { mime: 'image/jpeg' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'decode-failed')).toBe(true);
    expect((err as Error).message).toMatch(/could not be decoded/);
  });

  it('refuses a pixel bomb (huge declared dimensions in a tiny PNG) before decoding', async () => {
    const bomb = pixelBombPng(100_000, 100_000);
    expect(bomb.length).toBeLessThan(2048);
    const err = await thumbnailer.image(new BufferSource(bomb), { mime: 'image/png' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
  });

  it('refuses formats outside the loader allowlist', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    const err = await thumbnailer.image(new BufferSource(svg)).catch((e: unknown) => e);
    expect(isExhibitError(err, 'unsupported-format')).toBe(true);
  });

  it('refuses images larger than the byte cap without reading them', async () => {
    const huge = new BufferSource(Buffer.alloc(0));
    Object.defineProperty(huge, 'size', { value: 1024 ** 3 });
    const err = await thumbnailer.image(huge).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect(huge.reads).toEqual([]);
  });

  it('decodes HEIC (HEVC) through libheif', async (ctx) => {
    const sample = sampleHeic();
    const generated = sample ? null : heicFromJpeg(await twoToneJpeg(600, 300));
    const heic = sample?.bytes ?? generated;
    if (!heic) {
      ctx.skip(`no HEIC available: samples/extraction has none and heif-enc is ${heifEncAvailable() ? 'failing' : 'not installed'}`);
      return;
    }
    const t = await thumbnailer.image(new BufferSource(heic, 'IMG.HEIC'), { mime: 'image/heic' });
    expect(t.from).toBe('image');
    expect(Math.max(t.width, t.height)).toBeLessThanOrEqual(LIMITS.thumbnailEdgePx);
    expect((await sharp(t.jpeg).metadata()).format).toBe('jpeg');
    if (generated) {
      expect([t.width, t.height]).toEqual([320, 160]);
      const sides = await leftRight(t.jpeg);
      expect(isRed(sides.left) && isBlue(sides.right)).toBe(true);
    }
  });

  it('reports the tools used', async () => {
    const names = (await thumbnailer.tools('image')).map((t) => t.name);
    expect(names).toEqual(['sharp', 'libvips', 'heic-decode', 'libheif-js', 'exifr', 'exhibit-pdq', 'exhibit-preview-compare']);
  });
});

describe('MediaThumbnailer.video', () => {
  const server = new RangeServer();
  const thumbnailer = new MediaThumbnailer(testTools());

  beforeAll(async () => {
    await server.start();
    server.put('/clip.mp4', await testVideo({ seconds: 6, size: '320x240' }));
    server.put('/garbage.mp4', Buffer.from('not a video '.repeat(500)));
  }, 60_000);

  afterAll(async () => {
    await server.stop();
  });

  const sourceAt = (path: string) => new BufferSource(Buffer.alloc(0), path.slice(1), () => server.url(path));

  it('makes a 3x3 contact sheet that decodes, deterministically', async () => {
    const t = await thumbnailer.video(sourceAt('/clip.mp4'), { durationSec: 6 });
    expect(t.from).toBe('contact-sheet');
    expect([t.width, t.height]).toEqual([3 * 320, 3 * 240]);
    const meta = await sharp(t.jpeg).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 960, height: 720 });
    // The test pattern is never black: the last tile holds a frame too. stats() looks
    // at its input, not at the pipeline's result, so the tile is extracted first.
    const lastTile = await sharp(t.jpeg).extract({ left: 640, top: 480, width: 320, height: 240 }).png().toBuffer();
    const stats = await sharp(lastTile).stats();
    expect(stats.channels[0]!.mean + stats.channels[1]!.mean + stats.channels[2]!.mean).toBeGreaterThan(60);
    const again = await thumbnailer.video(sourceAt('/clip.mp4'), { durationSec: 6 });
    expect(again.jpeg.equals(t.jpeg)).toBe(true);
  });

  it('probes the duration itself when none is given', async () => {
    const t = await thumbnailer.video(sourceAt('/clip.mp4'), {});
    expect([t.width, t.height]).toEqual([960, 720]);
  });

  it('fails garbage without a tool fault', async () => {
    const err = await thumbnailer.video(sourceAt('/garbage.mp4'), { durationSec: 6 }).catch((e: unknown) => e);
    expect(isExhibitError(err)).toBe(true);
    expect((err as { code: string }).code).toMatch(/^(corrupt-file|unsupported-format|decode-failed)$/);
    expect((err as Error).message).not.toContain('SECRETSIGNATURE');
  });
});
