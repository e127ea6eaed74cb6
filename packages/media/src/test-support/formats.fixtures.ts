import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ascii, buildExif, dms, short, TAGS, withExifSegment, type Ifd } from './exif.builder.js';
import { heicFromJpeg, heifEncAvailable, makeWithFfmpeg, testTools } from './fixtures.js';
import { storedLocalEntry } from './zip-records.js';

/**
 * Regression fixtures for the formats real devices make, each named after the
 * failure it caught. Generated here, so every byte is explained.
 */

const TIFF_TAGS = {
  ImageWidth: 0x0100,
  ImageLength: 0x0101,
  BitsPerSample: 0x0102,
  Compression: 0x0103,
  Photometric: 0x0106,
  StripOffsets: 0x0111,
  SamplesPerPixel: 0x0115,
  RowsPerStrip: 0x0116,
  StripByteCounts: 0x0117,
  PlanarConfiguration: 0x011c,
} as const;

/**
 * An uncompressed RGB TIFF whose pixel data comes first and whose first IFD
 * (with Make, Model, DateTime and GPS) lies `pixels` bytes in, past the 4 KiB
 * identification used to read, as scanners and some cameras write them.
 * Left half red, right half blue.
 */
export function tiffWithIfdBeyond4KiB(width = 64, height = 48): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (x < width / 2) pixels[o] = 255;
      else pixels[o + 2] = 255;
    }
  }
  const long = (n: number) => ({ type: 'long' as const, value: [n] });
  return buildExif({
    dataBeforeIfd0: pixels,
    ifd0: {
      [TIFF_TAGS.ImageWidth]: long(width),
      [TIFF_TAGS.ImageLength]: long(height),
      [TIFF_TAGS.BitsPerSample]: short(8, 8, 8),
      [TIFF_TAGS.Compression]: short(1),
      [TIFF_TAGS.Photometric]: short(2),
      [TIFF_TAGS.StripOffsets]: long(8),
      [TIFF_TAGS.SamplesPerPixel]: short(3),
      [TIFF_TAGS.RowsPerStrip]: long(height),
      [TIFF_TAGS.StripByteCounts]: long(pixels.length),
      [TIFF_TAGS.PlanarConfiguration]: short(1),
      [TAGS.Make]: ascii('NIKON CORPORATION'),
      [TAGS.Model]: ascii('NIKON D850'),
      [TAGS.DateTime]: ascii('2024:03:09 17:45:12'),
    },
    exif: { [TAGS.DateTimeOriginal]: ascii('2024:03:09 17:45:10'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
    gps: {
      [TAGS.GPSLatitudeRef]: ascii('N'),
      [TAGS.GPSLatitude]: dms(48.8584),
      [TAGS.GPSLongitudeRef]: ascii('E'),
      [TAGS.GPSLongitude]: dms(2.2945),
    },
  });
}

/** A JPEG, left half red and right half blue, optionally with EXIF (Make, Orientation). */
export async function twoToneJpegWithExif(width: number, height: number, exif: { make?: string; orientation?: number } = {}): Promise<Buffer> {
  const left = await sharp({ create: { width: Math.floor(width / 2), height, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width, height, channels: 3, background: '#0000ff' } })
    .composite([{ input: left, left: 0, top: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
  if (exif.make === undefined && exif.orientation === undefined) return jpeg;
  const ifd0: Ifd = {};
  if (exif.make) {
    ifd0[TAGS.Make] = ascii(exif.make);
    ifd0[TAGS.Model] = ascii('EOS R5');
  }
  if (exif.orientation) ifd0[TAGS.Orientation] = short(exif.orientation);
  return withExifSegment(jpeg, buildExif({ ifd0, exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:00:00') } }));
}

/**
 * A camera HEIF like Canon's and Sony's `.HIF`: major brand `heix`, compatible
 * brands `mif1 heix miaf` and no `heic`, which exifr required. Made with
 * heif-enc, its ftyp rewritten in place (same length, so no offset moves).
 * Null when heif-enc is not installed.
 */
export function cameraHif(jpeg: Buffer): Buffer | null {
  const heic = heicFromJpeg(jpeg);
  return heic ? asCameraHif(heic) : null;
}

/** heif-enc output with its ftyp rewritten to a camera's `heix` / `mif1 heix miaf`. */
export function asCameraHif(heic: Buffer): Buffer {
  const size = heic.readUInt32BE(0);
  if (heic.toString('latin1', 4, 8) !== 'ftyp' || size !== 28) throw new Error(`unexpected ftyp from heif-enc (${size} bytes)`);
  const out = Buffer.from(heic);
  out.write('heix', 8, 'latin1');
  out.write('mif1heixmiaf', 16, 'latin1');
  return out;
}

/**
 * A 10-bit 4:2:2 HEVC HEIF, as Canon and Sony write `.HIF` (heif-enc from a
 * 16-bit PNG, x265 with chroma 4:2:2), left half red and right half blue,
 * with a camera's brands. Null when heif-enc is not installed.
 */
export async function tenBit422Hif(width: number, height: number): Promise<Buffer | null> {
  if (!heifEncAvailable()) return null;
  const left = await sharp({ create: { width: Math.floor(width / 2), height, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const png16 = await sharp({ create: { width, height, channels: 3, background: '#0000ff' } })
    .composite([{ input: left, left: 0, top: 0 }])
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hif-'));
  try {
    const input = path.join(dir, 'in.png');
    const out = path.join(dir, 'out.heic');
    writeFileSync(input, png16);
    const run = spawnSync('heif-enc', ['-b', '10', '-p', 'chroma=422', '-q', '60', input, '-o', out], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`heif-enc failed: ${run.stderr}`);
    return asCameraHif(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Two images in one HEIF (heif-enc of a red 320x240 and a blue 200x400 JPEG,
 * items 1 and 2) with `pitm` rewritten in place to make item 2, the second,
 * the primary: the shape of a photo whose edit is kept beside the original,
 * or of a file another tool rewrote. heif-info, exiftool and libvips show the
 * blue 200x400 image. Null when heif-enc is not installed.
 */
export async function heicPrimaryNotFirstItem(): Promise<Buffer | null> {
  if (!heifEncAvailable()) return null;
  const red = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#ff0000' } }).jpeg().toBuffer();
  const blue = await sharp({ create: { width: 200, height: 400, channels: 3, background: '#0000ff' } }).jpeg().toBuffer();
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-heic2-'));
  try {
    writeFileSync(path.join(dir, 'red.jpg'), red);
    writeFileSync(path.join(dir, 'blue.jpg'), blue);
    const out = path.join(dir, 'out.heic');
    const run = spawnSync('heif-enc', ['-q', '50', path.join(dir, 'red.jpg'), path.join(dir, 'blue.jpg'), '-o', out], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`heif-enc failed: ${run.stderr}`);
    const heic = readFileSync(out);
    // pitm version 0: size, 'pitm', version and flags, then a 16-bit item ID.
    const pitm = heic.indexOf('pitm', 0, 'latin1');
    if (pitm < 4 || heic.readUInt32BE(pitm - 4) !== 14 || heic[pitm + 4] !== 0 || heic.readUInt16BE(pitm + 8) !== 1) {
      throw new Error('unexpected pitm from heif-enc');
    }
    heic.writeUInt16BE(2, pitm + 8);
    return heic;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The top-level (or child) boxes of bytes[from, to): type, start and size; stops at anything malformed. */
function isoBoxes(bytes: Buffer, from: number, to: number): Array<{ type: string; start: number; size: number }> {
  const out: Array<{ type: string; start: number; size: number }> = [];
  for (let at = from; at + 8 <= to; ) {
    const size = bytes.readUInt32BE(at);
    if (size < 8 || at + size > to) break;
    out.push({ type: bytes.toString('latin1', at + 4, at + 8), start: at, size });
    at += size;
  }
  return out;
}

/**
 * A 2 s MP4 (320x240 test pattern) with a 64x64 yellow cover picture whose
 * `udta` (holding the cover as `covr`) comes before the `trak`, as tagging
 * tools may leave it: ffmpeg then lists the cover art (an attached picture)
 * as video stream 0 and the movie as stream 1. Reordered inside `moov` only,
 * so no chunk offset moves.
 */
export async function mp4WithCoverArtBeforeTracks(): Promise<Buffer> {
  const mp4 = await makeWithFfmpeg(
    [
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=2',
      '-f', 'lavfi', '-i', 'color=yellow:s=64x64:d=0.1',
      '-map', '0', '-map', '1', '-c:v:0', 'mpeg4', '-c:v:1', 'mjpeg', '-frames:v:1', '1', '-disposition:v:1', 'attached_pic',
    ],
    'mp4',
  );
  const moov = isoBoxes(mp4, 0, mp4.length).find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov from ffmpeg');
  const children = isoBoxes(mp4, moov.start + 8, moov.start + moov.size);
  const rank = (type: string) => (type === 'mvhd' ? 0 : type === 'udta' ? 1 : 2);
  const reordered = [...children].sort((a, b) => rank(a.type) - rank(b.type)).map((b) => mp4.subarray(b.start, b.start + b.size));
  const out = Buffer.from(mp4);
  Buffer.concat(reordered).copy(out, moov.start + 8);
  return out;
}

/**
 * A 1 s M4A-style MP4: a sound track and a 64x64 yellow cover picture
 * (attached picture, no movie): nothing for a contact sheet to show.
 */
export async function mp4WithOnlyCoverArt(): Promise<Buffer> {
  return makeWithFfmpeg(
    [
      '-f', 'lavfi', '-i', 'sine=duration=1',
      '-f', 'lavfi', '-i', 'color=yellow:s=64x64:d=0.1',
      '-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v:0', 'attached_pic',
    ],
    'mp4',
  );
}

/**
 * A HEIF image sequence with no still image (`ftyp msf1`, one HEVC track with
 * the `pict` handler, no `meta` items): ffmpeg's libx265 encoding of a 1 s
 * test pattern, branded `msf1`, its handler rewritten in place from `vide`.
 * Null when this ffmpeg has no libx265.
 */
export async function heifSequenceWithoutStill(): Promise<Buffer | null> {
  const ffmpeg = await testTools().resolve('ffmpeg');
  if (!spawnSync(ffmpeg.path, ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout.includes('libx265')) return null;
  const seq = await makeWithFfmpeg(
    ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=1', '-c:v', 'libx265', '-x265-params', 'log-level=error', '-tag:v', 'hvc1', '-brand', 'msf1'],
    'mp4',
  );
  const out = Buffer.from(seq);
  // hdlr: size, type, version and flags, pre_defined, then the handler type.
  for (let at = out.indexOf('hdlr', 0, 'latin1'); at >= 0; at = out.indexOf('hdlr', at + 4, 'latin1')) {
    if (out.toString('latin1', at + 12, at + 16) === 'vide') out.write('pict', at + 12, 'latin1');
  }
  return out;
}

/** A minimal stored ZIP (one member, with central directory and end record) whose offsets count from its own start. */
export function storedZipArchive(name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const local = storedLocalEntry(name, data);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length;
  const cdSize = central.length + nameBytes.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, central, nameBytes, end]);
}

/** Deterministic bytes no identifier knows (no signature, not text). */
export function unknownBinary(size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  // Never a signature: start with a byte no format in file-type starts with.
  out[0] = 0x01;
  out[1] = 0x02;
  return out;
}

/** A GIF whose first frame is red on the left half and blue on the right; `frames` > 1 adds green frames (animated). */
export async function gif(width: number, height: number, frames: number): Promise<Buffer> {
  const frame = (first: boolean) => {
    const b = Buffer.alloc(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      const left = p % width < width / 2;
      b[p * 3] = first && left ? 255 : 0;
      b[p * 3 + 1] = first ? 0 : 255;
      b[p * 3 + 2] = first && !left ? 255 : 0;
    }
    return b;
  };
  const all = Buffer.concat(Array.from({ length: frames }, (_, i) => frame(i === 0)));
  return sharp(all, { raw: { width, height: height * frames, channels: 3, pageHeight: height } }).gif().toBuffer();
}

