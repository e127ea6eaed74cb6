import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { probe } from '../metadata/ffprobe.metadata.js';
import { MediaMetadataExtractor } from '../metadata/media-metadata.extractor.js';
import { BufferSource } from '../test-support/buffer.source.js';
import { heicFromJpeg, heifEncAvailable, makeWithFfmpeg, testTools, testVideo } from '../test-support/fixtures.js';
import { cameraHif, gif, heicPrimaryNotFirstItem, heifSequenceWithoutStill, mp4WithCoverArtBeforeTracks, mp4WithOnlyCoverArt, tenBit422Hif, tiffWithIfdBeyond4KiB, twoToneJpegWithExif } from '../test-support/formats.fixtures.js';
import { RangeServer } from '../test-support/range.server.js';
import { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { heifOrientationDecision } from './heif-orientation.js';
import { heifTransforms } from './heif-transforms.js';
import { frameTimes } from './contact-sheet.js';
import { DECODE_REASONS, decodeReasonOf } from './decode-reason.js';
import { sharpError } from './image.thumbnail.js';
import { MediaThumbnailer } from './media.thumbnailer.js';

/**
 * The images and video real devices make. Each case failed before: GIF and
 * camera HEIF (.HIF) failed at metadata (so no thumbnail was tried), a
 * truncated JPEG was rejected although libvips decodes it leniently, a HEIC
 * with EXIF orientation 6 and no irot came out sideways, a flat grey decode
 * was an ordinary thumbnail, a clip shorter than the first seek got no sheet.
 */

const HEIF_SKIP = `heif-enc is not installed (Debian package libheif-examples)`;
const exiftoolAvailable = spawnSync('exiftool', ['-ver'], { encoding: 'utf8' }).error === undefined;

/** Mean colour of a region of a JPEG, as [r, g, b]. */
async function meanColour(jpeg: Buffer, region?: { left: number; top: number; width: number; height: number }): Promise<number[]> {
  const img = region ? await sharp(jpeg).extract(region).png().toBuffer() : jpeg;
  return (await sharp(img).stats()).channels.slice(0, 3).map((c) => Math.round(c.mean));
}
const isRed = (c: number[]) => c[0]! > 180 && c[2]! < 80;
const isBlue = (c: number[]) => c[2]! > 180 && c[0]! < 80;

/** exiftool's reading of a file, for comparison with ours (null when exiftool is absent). */
function exiftool(bytes: Buffer, tags: string[]): Record<string, unknown> | null {
  if (!exiftoolAvailable) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-exiftool-'));
  try {
    const file = path.join(dir, 'f');
    writeFileSync(file, bytes);
    const run = spawnSync('exiftool', ['-json', '-n', ...tags.map((t) => `-${t}`), file], { encoding: 'utf8' });
    return (JSON.parse(run.stdout) as Array<Record<string, unknown>>)[0] ?? null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('images real devices make', () => {
  const thumbnailer = new MediaThumbnailer(testTools());
  const metadata = new MediaMetadataExtractor(testTools());

  it('reads the GPS, make and date of a TIFF whose IFD lies beyond 4 KiB, and thumbnails it', async () => {
    const tiff = tiffWithIfdBeyond4KiB();
    const m = await metadata.image(new BufferSource(tiff, 'SCAN0001.TIF'), { mime: 'image/tiff' });
    expect(m).toMatchObject({ make: 'NIKON CORPORATION', model: 'NIKON D850', takenAt: { local: '2024-03-09T17:45:10', offsetMinutes: 60 } });
    expect(m.gps?.lat).toBeCloseTo(48.8584, 4);
    expect(m.gps?.lon).toBeCloseTo(2.2945, 4);
    const reference = exiftool(tiff, ['Make', 'GPSLatitude', 'GPSLongitude', 'DateTimeOriginal']);
    if (reference) {
      expect(reference.Make).toBe(m.make);
      expect(reference.GPSLatitude as number).toBeCloseTo(m.gps!.lat, 4);
      expect(reference.GPSLongitude as number).toBeCloseTo(m.gps!.lon, 4);
    } else {
      console.info('exiftool comparison skipped: exiftool is not installed (Debian package libimage-exiftool-perl)');
    }
    const t = await thumbnailer.image(new BufferSource(tiff, 'SCAN0001.TIF'), { mime: 'image/tiff' });
    expect(t).toMatchObject({ from: 'image', width: 64, height: 48, findings: [] });
    expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 16, height: 48 }))).toBe(true);
  });

  it('gives a GIF its dimensions (no EXIF reader for GIF) and a thumbnail of its first frame', async () => {
    for (const frames of [1, 3]) {
      const bytes = await gif(40, 30, frames);
      const m = await metadata.image(new BufferSource(bytes, 'anim.gif'), { mime: 'image/gif' });
      expect(m, `${frames} frame(s)`).toMatchObject({ width: 40, height: 30 });
      const t = await thumbnailer.image(new BufferSource(bytes, 'anim.gif'), { mime: 'image/gif' });
      expect(t, `${frames} frame(s)`).toMatchObject({ from: 'image', width: 40, height: 30, findings: [] });
      expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 15, height: 30 }))).toBe(true);
      expect(isBlue(await meanColour(t.jpeg, { left: 25, top: 0, width: 15, height: 30 }))).toBe(true);
    }
  });

  it('thumbnails a truncated JPEG from what decodes, with a partially-decoded finding', async () => {
    const whole = await twoToneJpegWithExif(600, 400);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    const t = await thumbnailer.image(new BufferSource(cut, 'IMG_0099.JPG'), { mime: 'image/jpeg' });
    expect(t.from).toBe('image');
    expect([t.width, t.height]).toEqual([320, 213]);
    expect(t.findings).toEqual([
      {
        flag: 'partially-decoded',
        detail: "image data ends before the image is complete (truncated); decoded with libvips' checks off, so parts of the image may be missing, grey or smeared",
      },
    ]);
    // The top (decoded) part is the photo: red on the left.
    expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 100, height: 60 }))).toBe(true);
  });

  it('fails a JPEG with nothing to decode with the same reason every run', async () => {
    const jpeg = await twoToneJpegWithExif(300, 200);
    // Headers kept, everything from the scan on replaced by noise (as in the sample IMG_CORRUPT.jpg).
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const broken = Buffer.concat([jpeg.subarray(0, sos), Buffer.alloc(4000, 0x5a)]);
    const other = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 7)]);
    const messages = new Set<string>();
    for (let i = 0; i < 4; i++) {
      // Another failing decode in between, as concurrent files do: libvips' shared error text must not leak in.
      const [err] = await Promise.all([
        thumbnailer.image(new BufferSource(broken, 'IMG_CORRUPT.jpg')).catch((e: unknown) => e),
        thumbnailer.image(new BufferSource(other, 'x.png')).catch((e: unknown) => e),
      ]);
      expect(isExhibitError(err, 'decode-failed')).toBe(true);
      messages.add((err as Error).message);
    }
    expect([...messages], [...messages].join(" || ")).toHaveLength(1);
    expect([...messages][0]).toMatch(/^image could not be decoded: /);
    expect([...messages][0]).not.toMatch(/Unknown error|VipsJpeg|\n/);
  });

  it('tells the reason from the bytes, never from libvips\' shared error text', async () => {
    const jpeg = await twoToneJpegWithExif(300, 200);
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toBuffer();
    // The scan cut short, and the headers with no scan at all.
    expect(decodeReasonOf(jpeg.subarray(0, sos + 200))).toBe(DECODE_REASONS.truncated);
    expect(decodeReasonOf(Buffer.concat([jpeg.subarray(0, sos), Buffer.from([0xff, 0xd9])]))).toBe(DECODE_REASONS.jpegNoScan);
    // Complete structure with garbage scan data between SOS and EOI.
    const garbled = Buffer.from(jpeg);
    garbled.fill(0xff, sos + 20, sos + 60);
    expect(decodeReasonOf(garbled)).toBe(DECODE_REASONS.jpegDamaged);
    expect(decodeReasonOf(png.subarray(0, png.length - 20))).toBe(DECODE_REASONS.truncated);
    const badIdat = Buffer.from(png);
    const at = badIdat.indexOf('IDAT') + 6;
    badIdat[at] = badIdat[at]! ^ 0xff;
    expect(decodeReasonOf(badIdat)).toBe(DECODE_REASONS.pngDamaged);
    // A chunk length pointing far past the end is a truncation, never a read beyond the buffer.
    const hugeChunk = Buffer.from(png);
    hugeChunk.writeUInt32BE(0xfffffff0, 8);
    expect(decodeReasonOf(hugeChunk)).toBe(DECODE_REASONS.truncated);
    expect(decodeReasonOf(Buffer.from('GIF89a\x01\x00'))).toBe(DECODE_REASONS.truncated);
    expect(decodeReasonOf(Buffer.alloc(0))).toBe(DECODE_REASONS.unknown);
    expect(decodeReasonOf(Buffer.from([0xff, 0xd8, 0xff]))).toBe(DECODE_REASONS.truncated);
  });

  it('regression: libvips-error-buffer-leaks-between-concurrent-decodes: 60 concurrent failures give one reason per file', async () => {
    const jpeg = await twoToneJpegWithExif(300, 200);
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const broken = Buffer.concat([jpeg.subarray(0, sos), Buffer.alloc(4000, 0x5a)]);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 7)]);
    const reasons = { jpeg: new Set<string>(), png: new Set<string>() };
    // Measured before the fix: about 1 in 10 of the JPEG's failures reported an empty or foreign libvips message.
    for (let i = 0; i < 20; i++) {
      const errs = await Promise.all([
        sharp(broken, { failOn: 'error' }).raw().toBuffer().catch((e: unknown) => ['jpeg', sharpError(e, broken).message] as const),
        sharp(png, { failOn: 'error' }).metadata().catch((e: unknown) => ['png', sharpError(e, png).message] as const),
        sharp(broken, { failOn: 'error' }).metadata().catch((e: unknown) => ['jpeg', sharpError(e, broken).message] as const),
      ]);
      for (const e of errs) if (Array.isArray(e)) reasons[e[0] as 'jpeg' | 'png'].add(e[1]);
    }
    expect([...reasons.jpeg]).toEqual([`image could not be decoded: ${DECODE_REASONS.jpegNoScan}`]);
    expect([...reasons.png]).toEqual([`image could not be decoded: ${DECODE_REASONS.truncated}`]);
  });

  it('marks a flat image (blank, or a decode that produced nothing) with a no-content finding', async () => {
    const grey = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#808080' } }).png().toBuffer();
    const t = await thumbnailer.image(new BufferSource(grey, 'blank.png'));
    expect(t.findings).toEqual([{ flag: 'no-content', detail: 'the decoded png image is one flat colour (rgb 128,128,128): blank, or a decode that produced nothing' }]);
  });

  it('marks a HEIF that decodes to flat grey with a no-content finding', async (ctx) => {
    const flat = heicFromJpeg(await sharp({ create: { width: 128, height: 96, channels: 3, background: '#808080' } }).jpeg().toBuffer());
    if (!flat) return ctx.skip(HEIF_SKIP);
    const t = await thumbnailer.image(new BufferSource(flat, 'IMG_0001.HEIC'), { mime: 'image/heic' });
    expect(t.findings?.map((f) => f.flag)).toEqual(['no-content']);
    expect(t.findings?.[0]?.detail).toMatch(/^the decoded image is one flat colour \(rgb 12[6-9],12[6-9],12[6-9]\)/);
  });

  it('reads the metadata of a camera HEIF (.HIF, brand heix without heic) and thumbnails it', async (ctx) => {
    if (!heifEncAvailable()) return ctx.skip(HEIF_SKIP);
    const hif = cameraHif(await twoToneJpegWithExif(320, 240, { make: 'Canon' }))!;
    expect(hif.toString('latin1', 4, 28)).toBe('ftypheix\0\0\0\0mif1heixmiaf');
    const m = await metadata.image(new BufferSource(hif, 'IMG_0001.HIF'), { mime: 'image/heic' });
    expect(m).toMatchObject({ make: 'Canon', model: 'EOS R5', takenAt: { local: '2024-05-01T12:00:00' } });
    const t = await thumbnailer.image(new BufferSource(hif, 'IMG_0001.HIF'), { mime: 'image/heic' });
    expect(t).toMatchObject({ from: 'image', width: 320, height: 240, findings: [] });
    expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 100, height: 240 }))).toBe(true);
  });

  it('decodes a 10-bit 4:2:2 HEVC camera HEIF (as Canon and Sony .HIF are coded)', async (ctx) => {
    const hif = await tenBit422Hif(320, 240);
    if (!hif) return ctx.skip(HEIF_SKIP);
    const t = await thumbnailer.image(new BufferSource(hif, 'IMG_0002.HIF'), { mime: 'image/heic' });
    expect(t).toMatchObject({ from: 'image', width: 320, height: 240, findings: [] });
    expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 100, height: 240 }))).toBe(true);
    expect(isBlue(await meanColour(t.jpeg, { left: 220, top: 0, width: 100, height: 240 }))).toBe(true);
  });

  it('regression: heic-primary-item-not-first-thumbnail-of-first-item: thumbnails and measures the pitm primary', async (ctx) => {
    const heic = await heicPrimaryNotFirstItem();
    if (!heic) return ctx.skip(HEIF_SKIP);
    // Item 1 is red 320x240, item 2 (the primary) blue 200x400; the first top-level image used to be decoded.
    const t = await thumbnailer.image(new BufferSource(heic, 'IMG_0003.HEIC'), { mime: 'image/heic' });
    // The primary's 1:2 portrait shape, scaled to fit the thumbnail box (the first item's is 4:3 landscape).
    expect([t.from, t.height]).toEqual(['image', t.width * 2]);
    expect(isBlue(await meanColour(t.jpeg))).toBe(true);
    const m = await metadata.image(new BufferSource(heic, 'IMG_0003.HEIC'), { mime: 'image/heic' });
    expect([m.width, m.height]).toEqual([200, 400]);
    const oracle = exiftool(heic, ['ImageWidth', 'ImageHeight']);
    if (oracle) expect([oracle.ImageWidth, oracle.ImageHeight]).toEqual([200, 400]);
  });

  it('turns a HEIC with EXIF orientation 6 and no irot upright, and records the conflict', async (ctx) => {
    if (!heifEncAvailable()) return ctx.skip(HEIF_SKIP);
    // Stored landscape red|blue; EXIF 6 says "turn 90° clockwise": upright, red is on top.
    const heic = heicFromJpeg(await twoToneJpegWithExif(320, 240, { orientation: 6 }))!;
    expect(heifTransforms(heic)).toEqual({ rotationCcw: 0, mirrorAxis: null });
    const t = await thumbnailer.image(new BufferSource(heic, 'IMG_0006.HEIC'), { mime: 'image/heic' });
    expect([t.width, t.height]).toEqual([240, 320]);
    expect(isRed(await meanColour(t.jpeg, { left: 0, top: 0, width: 240, height: 100 }))).toBe(true);
    expect(isBlue(await meanColour(t.jpeg, { left: 0, top: 220, width: 240, height: 100 }))).toBe(true);
    expect(t.findings).toEqual([
      {
        flag: 'orientation-conflict',
        detail:
          'EXIF orientation 6 (rotated 90° clockwise) applied: the HEIF has no rotation or mirror of its own (no irot or imir), so viewers that follow the HEIF specification alone show it upright as stored',
      },
    ]);
  });

  it('applies HEIF transforms over EXIF orientation, and says so when they disagree', () => {
    // irot 270° anticlockwise is EXIF 6: agreeing, nothing to say (what iPhones write).
    expect(heifOrientationDecision({ rotationCcw: 270, mirrorAxis: null }, 6)).toEqual({ apply: null, finding: null });
    expect(heifOrientationDecision({ rotationCcw: 0, mirrorAxis: null }, 1)).toEqual({ apply: null, finding: null });
    expect(heifOrientationDecision({ rotationCcw: 0, mirrorAxis: null }, null)).toEqual({ apply: null, finding: null });
    const conflict = heifOrientationDecision({ rotationCcw: 90, mirrorAxis: null }, 6);
    expect(conflict.apply).toBeNull();
    expect(conflict.finding?.detail).toBe(
      'the HEIF transforms (irot 90° anticlockwise) were applied; they show the image rotated 90° anticlockwise, but EXIF orientation 6 (rotated 90° clockwise) says otherwise',
    );
  });

  it('finds data appended after a JPEG while thumbnailing it', async () => {
    const jpeg = await twoToneJpegWithExif(64, 48);
    const t = await thumbnailer.image(new BufferSource(Buffer.concat([jpeg, Buffer.from('PK\x03\x04 not a photo')]), 'a.jpg'));
    expect(t.findings).toEqual([{ flag: 'trailing-data', detail: `16 bytes follow the JPEG end-of-image marker at byte ${jpeg.length}` }]);
  });
});

describe('contact sheets that fit the clip', () => {
  const server = new RangeServer();
  const thumbnailer = new MediaThumbnailer(testTools());
  const metadata = new MediaMetadataExtractor(testTools());
  const sourceAt = (p: string) => new BufferSource(Buffer.alloc(0), p.slice(1), () => server.url(p));
  let sequence: Buffer | null = null;
  let damagedSequence: Buffer | null = null;
  let stillDamagedSequence: Buffer | null = null;

  beforeAll(async () => {
    await server.start();
    server.put('/short.mp4', await testVideo({ seconds: 0.2 }));
    sequence = await heifSequenceWithoutStill();
    if (sequence) {
      server.put('/burst.heics', sequence);
      // The same with its moov (and all after it) overwritten: nothing for ffmpeg to read either.
      const moov = sequence.indexOf('moov', 0, 'latin1');
      damagedSequence = Buffer.concat([sequence.subarray(0, moov), Buffer.alloc(sequence.length - moov, 0x5a)]);
      server.put('/burst-damaged.heics', damagedSequence);
      // The sequence with a still image declared (a real HEIC's meta: pitm, iinf, iloc) whose data is not
      // where its iloc says: the still cannot be decoded, while the track ffmpeg reads is intact.
      const heic = heicFromJpeg(await sharp({ create: { width: 64, height: 48, channels: 3, background: '#f00' } }).jpeg().toBuffer());
      if (heic) {
        const meta = heic.indexOf('meta', 0, 'latin1') - 4;
        stillDamagedSequence = Buffer.concat([sequence, heic.subarray(meta, meta + heic.readUInt32BE(meta))]);
        server.put('/burst-still-damaged.heics', stillDamagedSequence);
      }
    }
    server.put('/cover-first.mp4', await mp4WithCoverArtBeforeTracks());
    server.put('/cover-only.mp4', await mp4WithOnlyCoverArt());
    // One frame at 10 fps: every seek into its 0.1 s lands past its only frame.
    server.put('/one-frame.mp4', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=0.1', '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p'], 'mp4'));
    const movie = ['-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
    // 1 s of video beside 30 s of audio (a clip whose audio ran on, a screen recording stopped early).
    server.put('/short-video-track.mp4', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=1', '-f', 'lavfi', '-i', 'sine=duration=30', ...movie], 'mp4'));
    // A video stream that starts 10 s into the file and runs 2 s, beside 30 s of audio from 0 (a cut recording).
    server.put('/late-video-stream.mp4', await makeWithFfmpeg(['-itsoffset', '10', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=2', '-f', 'lavfi', '-i', 'sine=duration=30', '-fps_mode', 'passthrough', ...movie], 'mp4'));
    // A 30 s recording whose copy stopped after about its first second: the index (in front) still says 30 s.
    const whole = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=30', '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'], 'mp4');
    const mdat = whole.indexOf('mdat', 0, 'latin1');
    server.put('/cut-off-recording.mp4', whole.subarray(0, mdat + 4 + Math.floor(whole.length / 30)));
    // The same 30 s (300 frames at 10 fps) whose video track header (mdhd) says 0.1 s, as a muxer bug or an
    // edit writes it: ffprobe gives the stream a 0.1 s duration beside nb_frames=300 and a 30 s file.
    const understated = Buffer.from(whole);
    const mdhd = understated.indexOf('mdhd', 0, 'latin1');
    expect(understated[mdhd + 4]).toBe(0); // version 0: 32-bit timescale at +16, duration at +20
    understated.writeUInt32BE(understated.readUInt32BE(mdhd + 16) / 10, mdhd + 20);
    server.put('/mdhd-understated.mp4', understated);
    // One frame at 1 fps (cover art or a still as a real video track) beside 20 s of audio, as a slideshow
    // exporter or `ffmpeg -loop 1 -i cover.jpg -i song.m4a -r 1 -frames:v 1` writes it.
    server.put('/cover-audio.mp4', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=1:duration=1', '-f', 'lavfi', '-i', 'sine=duration=20', ...movie], 'mp4'));
    // A 12 s clip with a keyframe every 5 s, cut from 4.5 s for 6 s without re-encoding (an edit list).
    const gop = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=30:duration=12', '-c:v', 'mpeg4', '-q:v', '5', '-g', '150', '-pix_fmt', 'yuv420p'], 'mp4');
    const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-editlist-'));
    try {
      writeFileSync(path.join(dir, 'gop.mp4'), gop);
      server.put('/editlist.mp4', await makeWithFfmpeg(['-ss', '4.5', '-i', path.join(dir, 'gop.mp4'), '-t', '6', '-c', 'copy'], 'mp4'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  afterAll(() => server.stop());

  it('plans frames within the clip, fewer for a short one, down to the first frame alone', () => {
    expect(frameTimes(0.2, 9)).toEqual([0]);
    expect(frameTimes(0.1, 9)).toEqual([0]);
    expect(frameTimes(1, 9)).toEqual([0.167, 0.5, 0.833]);
    expect(frameTimes(6, 9)).toHaveLength(9);
    for (const d of [0.35, 0.7, 1.3, 2.9, 3, 120]) {
      for (const t of frameTimes(d, 9)) expect(t, `${t} s of ${d} s`).toBeLessThan(d);
    }
  });

  it('makes a one-frame sheet for a 0.2 s clip', async () => {
    const t = await thumbnailer.video(sourceAt('/short.mp4'), { durationSec: 0.2 });
    expect(t).toMatchObject({ from: 'contact-sheet', width: 320, height: 240 });
    expect((await meanColour(t.jpeg)).reduce((a, b) => a + b, 0)).toBeGreaterThan(60);
  });

  it('regression: contact-sheet-of-cover-art-listed-first: takes the frames from the movie, not the attached picture', async (ctx) => {
    const streams = (await probe(await testTools().resolve('ffprobe'), sourceAt('/cover-first.mp4'))).streams ?? [];
    if (streams[0]?.disposition?.attached_pic !== 1) return ctx.skip('this ffmpeg does not list the cover art first (it wrote it as a track, not in udta)');
    // With the duration the metadata step recorded (no probe planned), and without it (probed first).
    for (const options of [{ durationSec: 2 }, {}]) {
      const t = await thumbnailer.video(sourceAt('/cover-first.mp4'), options);
      // Six frames of the 320x240 movie, three to a row; the cover is a 64x64 yellow square.
      expect(t, JSON.stringify(options)).toMatchObject({ from: 'contact-sheet', width: 960, height: 480 });
      expect(t.pdq).toHaveLength(6);
    }
  });

  it('regression: contact-sheet-of-cover-art-only: a file whose only picture is its cover fails with that reason, no sheet of the cover', async () => {
    for (const options of [{ durationSec: 1 }, {}]) {
      const err = await thumbnailer.video(sourceAt('/cover-only.mp4'), options).catch((e: unknown) => e);
      expect(isExhibitError(err, 'decode-failed'), JSON.stringify(options)).toBe(true);
      expect((err as Error).message).toBe('no video stream (none, or cover art only)');
    }
  });

  it('regression: heif-sequence-without-still-image-not-thumbnailed: takes the first frame of its track', async (ctx) => {
    if (!sequence) return ctx.skip('this ffmpeg has no libx265 to make a HEIF sequence');
    expect(sequence.toString('latin1', 4, 12)).toBe('ftypmsf1');
    // libheif-js decodes still items only ("HEIF image not found"); ffmpeg reads the pict track as a video.
    const t = await thumbnailer.image(new BufferSource(sequence, 'burst.heics', () => server.url('/burst.heics')), { mime: 'image/heif-sequence' });
    expect(t).toMatchObject({ from: 'contact-sheet', width: 320, height: 240 });
    expect(t.pdq?.map((p) => p.timeMs)).toEqual([0]);
    // regression: heif-sequence-frame-tools-omit-ffmpeg: the ffmpeg that made the frame is recorded with it.
    expect(t.tools).toEqual([await testTools().toolVersion('ffmpeg')]);

    // Nothing ffmpeg can read either: the decoder's own failure stands.
    const damaged = await thumbnailer.image(new BufferSource(damagedSequence!, 'damaged.heics', () => server.url('/burst-damaged.heics')), { mime: 'image/heif-sequence' }).catch((err: unknown) => err);
    expect(isExhibitError(damaged, 'decode-failed')).toBe(true);
  });

  it('regression: heif-sequence-damaged-still-replaced-by-first-frame: a still that fails to decode is the failure, not the track', async (ctx) => {
    if (!stillDamagedSequence) return ctx.skip('no libx265 in ffmpeg or no heif-enc to make the file');
    const source = new BufferSource(stillDamagedSequence, 'still-damaged.heics', () => server.url('/burst-still-damaged.heics'));
    const err = await thumbnailer.image(source, { mime: 'image/heif-sequence' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'decode-failed'), JSON.stringify(err)).toBe(true);
  });

  it('regression: heif-sequence-frame-swallows-retryable-failure: no ffmpeg is retryable, not the decoder\'s failure', async (ctx) => {
    if (!sequence) return ctx.skip('this ffmpeg has no libx265 to make a HEIF sequence');
    const noFfmpeg = new MediaThumbnailer(new MediaToolResolver({ ffmpegPath: '/nonexistent/ffmpeg' }));
    const err = await noFfmpeg.image(new BufferSource(sequence, 'burst.heics', () => server.url('/burst.heics')), { mime: 'image/heif-sequence' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'tool-unavailable')).toBe(true);
  });

  it('regression: contact-sheet-of-short-video-track-no-video-frame: frames are planned on the video stream, not the 30 s file', async () => {
    const source = sourceAt('/short-video-track.mp4');
    const recorded = await metadata.video(source);
    expect(recorded.durationSec).toBe(30);
    // ffprobe (the oracle) on the stream ffmpeg shows: 1 s from the file's start.
    expect(recorded.videoStream).toEqual({ startSec: 0, durationSec: 1 });
    // As the pipeline calls it (with what the metadata step recorded, or only the duration, as recorded
    // before the video stream was), and probed by the thumbnailer.
    for (const options of [{ durationSec: recorded.durationSec!, videoStream: recorded.videoStream }, { durationSec: recorded.durationSec! }, {}]) {
      const t = await thumbnailer.video(source, options);
      // 1 s at 0.3 s apart: three frames, all inside the second of video, all taken.
      expect(t, JSON.stringify(options)).toMatchObject({ from: 'contact-sheet', width: 960, height: 240 });
      // Planned at 0.167, 0.5 and 0.833 s; each hash is recorded at its frame's own time, the first frame at
      // or after the seek (10 fps: 0.2, 0.5, 0.9 s), not at the seek time (pdq-frame-time-is-seek-time-not-frame-time).
      expect(t.pdq?.map((p) => p.timeMs)).toEqual([200, 500, 900]);
    }
  });

  it('regression: contact-sheet-of-late-video-stream-misses-it: frames are planned from where the video stream starts', async () => {
    const source = sourceAt('/late-video-stream.mp4');
    const recorded = await metadata.video(source);
    expect(recorded.videoStream).toEqual({ startSec: 10, durationSec: 2 });
    const t = await thumbnailer.video(source, { durationSec: recorded.durationSec!, videoStream: recorded.videoStream });
    // Six frames over its 2 s (not nine over 30 s, of which six fell before or after it), each a different picture.
    // Planned at 10.167 ... 11.833 s; recorded at the times of the 10 fps frames taken.
    expect(t.pdq?.map((p) => p.timeMs)).toEqual([10200, 10500, 10900, 11200, 11500, 11900]);
    expect(new Set(t.pdq?.map((p) => p.hash)).size).toBe(6);
  });

  it('regression: contact-sheet-of-cut-off-recording-no-video-frame: the first frame when every planned seek lands past the data', async () => {
    const source = sourceAt('/cut-off-recording.mp4');
    const recorded = await metadata.video(source);
    expect(recorded.videoStream).toEqual({ startSec: 0, durationSec: 30 });
    const t = await thumbnailer.video(source, { durationSec: recorded.durationSec!, videoStream: recorded.videoStream });
    expect(t).toMatchObject({ from: 'contact-sheet', width: 320, height: 240 });
    expect(t.pdq?.map((p) => p.timeMs)).toEqual([0]);
  });

  it('regression: contact-sheet-cover-art-flagged-partially-decoded: an intact one-frame video beside audio gets its frame, no damage claim', async () => {
    // Cover art or a still as a real video track (one frame at 1 fps) beside 20 s of audio: intact, yet every
    // planned time (0.167–0.833 s) lies after its only frame, so the sheet is its first frame, as for a cut
    // recording. Nothing tells the two apart there, so neither carries partially-decoded ("the image could be
    // decoded only in part"), which was false for this one; the single frame time shows what the sheet is.
    const source = sourceAt('/cover-audio.mp4');
    const recorded = await metadata.video(source);
    // ffprobe (the oracle): a 1 s video stream of 1 frame at 1 fps in a 20 s file.
    const video = ((await probe(await testTools().resolve('ffprobe'), source)).streams ?? []).find((st) => st.codec_type === 'video');
    expect([Number(video?.duration), video?.nb_frames, video?.avg_frame_rate, recorded.durationSec]).toEqual([1, '1', '1/1', 20]);
    for (const options of [{ durationSec: recorded.durationSec!, videoStream: recorded.videoStream }, {}]) {
      const t = await thumbnailer.video(source, options);
      expect(t, JSON.stringify(options)).toMatchObject({ from: 'contact-sheet', width: 320, height: 240 });
      expect(t.pdq?.map((p) => p.timeMs)).toEqual([0]);
      expect(t.findings).toBeUndefined();
    }
    // The cut recording reaches the same fallback: its first frame, the same absence of a claim.
    const cut = sourceAt('/cut-off-recording.mp4');
    const cutRecorded = await metadata.video(cut);
    const t = await thumbnailer.video(cut, { durationSec: cutRecorded.durationSec!, videoStream: cutRecorded.videoStream });
    expect(t.pdq?.map((p) => p.timeMs)).toEqual([0]);
    expect(t.findings).toBeUndefined();
  });

  it('regression: video-stream-duration-stored-from-edit-list-frames: the stored stream duration is no longer than the file says', async () => {
    // A clip cut without re-encoding (`ffmpeg -ss 4.5 -i gop.mp4 -t 6 -c copy`): the copy starts at the
    // keyframe before 4.5 s and an edit list hides the lead-in, so the track holds 315 frames at 30 fps
    // (10.5 s) for a 6 s stream. Stored as the stream's duration, 10.5 s was wrong.
    const source = sourceAt('/editlist.mp4');
    const probed = await probe(await testTools().resolve('ffprobe'), source);
    const video = (probed.streams ?? []).find((st) => st.codec_type === 'video');
    // ffprobe (the oracle): the stream's duration, and more frames than fit in it.
    const stated = Number(video?.duration);
    expect(Number(video?.nb_frames) / 30).toBeGreaterThan(stated + 3);
    const recorded = await metadata.video(source);
    expect(recorded.videoStream).toEqual({ startSec: 0, durationSec: stated });
    expect(recorded.durationSec).toBe(Number(probed.format?.duration));
  });

  it('regression: stream-duration-understated-one-frame: frames are planned over what the frames fill when the track header says less', async () => {
    const source = sourceAt('/mdhd-understated.mp4');
    const probed = await probe(await testTools().resolve('ffprobe'), source);
    // ffprobe (the oracle) states both: a 0.1 s stream of 300 frames at 10 fps in a 30 s file.
    const video = (probed.streams ?? []).find((st) => st.codec_type === 'video');
    expect([Number(video?.duration), video?.nb_frames, video?.avg_frame_rate, Number(probed.format?.duration)]).toEqual([0.1, '300', '10/1', 30]);
    const recorded = await metadata.video(source);
    expect(recorded.videoStream).toEqual({ startSec: 0, durationSec: 30 });
    const t = await thumbnailer.video(source, { durationSec: recorded.durationSec!, videoStream: recorded.videoStream });
    // Planned at 1.667 ... 28.333 s; recorded at the times of the 10 fps frames taken.
    expect(t.pdq?.map((p) => p.timeMs)).toEqual([1700, 5000, 8400, 11700, 15000, 18400, 21700, 25000, 28400]);
    expect(new Set(t.pdq?.map((p) => p.hash)).size).toBe(9);
    expect(t.findings).toBeUndefined();
  });

  it('makes a sheet for a single-frame clip, whose every seek misses', async () => {
    const t = await thumbnailer.video(sourceAt('/one-frame.mp4'), { durationSec: 0.1 });
    expect(t).toMatchObject({ from: 'contact-sheet', width: 320, height: 240 });
  });

});
