/**
 * The regression corpus: one crafted file per class of failure found on real
 * camera and phone files (issue 8), each named after the failure it catches,
 * with what a correct extractor must report. The expected values follow from
 * how each file is built; corpus.exiftool.test.ts checks them against
 * exiftool and ffprobe. `npx tsx test/corpus/write-corpus.ts <dir>` writes
 * the files, for `npm run validate -- <dir>`.
 *
 * A field listed in `fields` but absent from `expected` must be absent: an
 * extractor that reports it anyway is wrong ("right or absent, never wrong").
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import yazl from 'yazl';
import { SAMPLES_DIR } from '../../samples/generate.js';
import { walkUpload } from '../../samples/lib/sample.reader.js';
import {
  ascii,
  buildExif,
  byte,
  rational,
  TAGS,
  withExifSegment,
  type ExifSpec,
  type Ifd,
  type TagValue,
} from '../../packages/media/src/test-support/exif.builder.js';
import { makeWithFfmpeg } from '../../packages/media/src/test-support/fixtures.js';
import type { Field, FieldValues } from '../validate/fields.compare.js';
import { buildTiff } from './tiff.writer.js';

export interface CorpusCase {
  /** File name: the failure it catches, and the right extension. */
  name: string;
  /** What goes wrong on real files that this file reproduces. */
  catches: string;
  build(): Promise<Buffer>;
  /** The fields asserted; absent from `expected` means "must be absent". */
  fields: readonly Field[];
  expected: FieldValues;
}

const IMAGE_FIELDS: readonly Field[] = ['type', 'make', 'model', 'takenAt', 'gps', 'pixelSize'];
const VIDEO_FIELDS: readonly Field[] = [...IMAGE_FIELDS, 'durationSec', 'codecs'];

/** Degrees as EXIF DMS rationals in hundredths of an arc-second, and the exact decimal they encode. */
function dms(decimal: number): { tag: TagValue; value: number } {
  const hundredths = Math.round(Math.abs(decimal) * 360_000);
  const d = Math.floor(hundredths / 360_000);
  const m = Math.floor((hundredths % 360_000) / 6000);
  const s = hundredths % 6000;
  return { tag: rational([d, 1], [m, 1], [s, 100]), value: d + m / 60 + s / 100 / 3600 };
}

function gpsIfd(lat: number, lon: number): { ifd: Ifd; point: { lat: number; lon: number } } {
  const la = dms(lat);
  const lo = dms(lon);
  return {
    ifd: {
      [TAGS.GPSLatitudeRef]: ascii(lat < 0 ? 'S' : 'N'),
      [TAGS.GPSLatitude]: la.tag,
      [TAGS.GPSLongitudeRef]: ascii(lon < 0 ? 'W' : 'E'),
      [TAGS.GPSLongitude]: lo.tag,
    },
    point: { lat: lat < 0 ? -la.value : la.value, lon: lon < 0 ? -lo.value : lo.value },
  };
}

const EXIF_IMAGE_WIDTH = 0xa002;
const EXIF_IMAGE_HEIGHT = 0xa003;
const long = (n: number): TagValue => ({ type: 'long', value: [n] });

/** A baseline JPEG of flat colour (sharp), with an APP1 Exif segment built tag by tag. */
async function jpeg(width: number, height: number, exif?: ExifSpec): Promise<Buffer> {
  const plain = await sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .jpeg({ quality: 80, progressive: false, mozjpeg: false })
    .toBuffer();
  return exif ? withExifSegment(plain, buildExif(exif)) : plain;
}

/** A JPEG big enough that cutting it loses scan data but keeps every header: deterministic noise. */
async function noisyJpeg(width: number, height: number, exif: ExifSpec): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = 0x2545f491;
  for (let i = 0; i < raw.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  const plain = await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85, progressive: false, mozjpeg: false }).toBuffer();
  return withExifSegment(plain, buildExif(exif));
}

const southWest = gpsIfd(-22.9519, -43.2105);
const paris = gpsIfd(48.8584, 2.2945);

/** The committed sample HEIC (libheif/x265, EXIF from an "iPhone 14"); its values are in samples/expected.json. */
async function sampleHeic(): Promise<Buffer> {
  const zip = path.join(SAMPLES_DIR, 'extraction', 'DEMO-2026-001', 'EX01', 'phone-extraction.zip');
  const entries = await walkUpload('phone-extraction.zip', await readFile(zip));
  const heic = entries.find((e) => e.path.endsWith('DCIM/Camera/IMG_0003.HEIC'))?.bytes;
  if (!heic) throw new Error('the sample HEIC is not in the sample extraction');
  return heic;
}
const SAMPLE_HEIC_EXPECTED: FieldValues = {
  type: 'image/heic',
  make: 'Apple',
  model: 'iPhone 14',
  takenAt: { local: '2025-06-03T11:20:00', offsetMinutes: 120 },
  gps: { lat: -33.9249, lon: 18.4241 },
  pixelSize: { width: 1024, height: 768 },
};

/** Top-level ISO BMFF boxes: [offset, size, type]. */
function topBoxes(b: Buffer): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  for (let o = 0; o + 8 <= b.length; ) {
    const size = b.readUInt32BE(o);
    out.push([o, size, b.toString('latin1', o + 4, o + 8)]);
    if (size < 8) break;
    o += size;
  }
  return out;
}

interface IlocExtent {
  method: number;
  offsetAt: number;
  offsetSize: number;
  lengthAt: number;
  lengthSize: number;
}

/** Where each extent's offset and length fields are in the iloc box (ISO/IEC 14496-12 ItemLocationBox, versions 0-2). */
function ilocExtents(heif: Buffer): IlocExtent[] {
  const meta = topBoxes(heif).find(([, , type]) => type === 'meta');
  if (!meta) throw new Error('no meta box');
  // meta is a full box: 8-byte header + 4 bytes version/flags, then child boxes.
  for (let o = meta[0] + 12; o < meta[0] + meta[1]; ) {
    const size = heif.readUInt32BE(o);
    if (heif.toString('latin1', o + 4, o + 8) === 'iloc') {
      const version = heif[o + 8]!;
      let p = o + 12;
      const offsetSize = heif[p]! >> 4;
      const lengthSize = heif[p]! & 0x0f;
      const baseSize = heif[p + 1]! >> 4;
      const indexSize = version >= 1 ? heif[p + 1]! & 0x0f : 0;
      p += 2;
      const idSize = version === 2 ? 4 : 2;
      let count = idSize === 4 ? heif.readUInt32BE(p) : heif.readUInt16BE(p);
      p += idSize;
      const out: IlocExtent[] = [];
      while (count-- > 0) {
        p += idSize;
        const method = version >= 1 ? heif.readUInt16BE(p) & 0x0f : 0;
        if (version >= 1) p += 2;
        p += 2 + baseSize; // data_reference_index, base_offset
        const extents = heif.readUInt16BE(p);
        p += 2;
        for (let e = 0; e < extents; e++) {
          p += indexSize;
          out.push({ method, offsetAt: p, offsetSize, lengthAt: p + offsetSize, lengthSize });
          p += offsetSize + lengthSize;
        }
      }
      return out;
    }
    if (size < 8) break;
    o += size;
  }
  throw new Error('no iloc in meta');
}

function readField(b: Buffer, at: number, size: number): number {
  if (size === 4) return b.readUInt32BE(at);
  if (size === 8) return Number(b.readBigUInt64BE(at));
  throw new Error(`iloc field of ${size} bytes`);
}

function writeField(b: Buffer, at: number, size: number, value: number): void {
  if (size === 4) b.writeUInt32BE(value, at);
  else if (size === 8) b.writeBigUInt64BE(BigInt(value), at);
  else throw new Error(`iloc field of ${size} bytes`);
}

/** The HEIF with `box` inserted right after ftyp; every file-offset extent moves by the box's length, so the file stays valid. */
function insertAfterFtyp(heif: Buffer, box: Buffer): Buffer {
  const [ftypAt, ftypSize, ftypType] = topBoxes(heif)[0] ?? [0, 0, ''];
  if (ftypType !== 'ftyp' || ftypAt !== 0) throw new Error('not a HEIF starting with ftyp');
  const out = Buffer.concat([heif.subarray(0, ftypSize), box, heif.subarray(ftypSize)]);
  for (const e of ilocExtents(out)) {
    if (e.method === 0) writeField(out, e.offsetAt, e.offsetSize, readField(out, e.offsetAt, e.offsetSize) + box.length);
  }
  return out;
}

/**
 * The sample HEIC with its Exif item laid out as Apple writes it: a 4-byte
 * offset of 6, then "Exif\0\0", then the TIFF structure (libheif writes
 * offset 0 and the TIFF at once). The Exif item is the last bytes of the file
 * and mdat the last box, so it grows in place.
 */
function withAppleExifHeader(heif: Buffer): Buffer {
  const boxes = topBoxes(heif);
  const mdat = boxes[boxes.length - 1];
  const exif = ilocExtents(heif).find((e) => readField(heif, e.offsetAt, e.offsetSize) + readField(heif, e.lengthAt, e.lengthSize) === heif.length);
  if (!mdat || mdat[2] !== 'mdat' || !exif) throw new Error('the sample HEIC does not end with its Exif item in mdat');
  const at = readField(heif, exif.offsetAt, exif.offsetSize);
  if (heif.readUInt32BE(at) !== 0 || heif.toString('latin1', at + 4, at + 8) !== 'II*\0') throw new Error('the last item is not an Exif item with offset 0');
  const item = Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from('Exif\0\0', 'latin1'), heif.subarray(at + 4)]);
  const out = Buffer.concat([heif.subarray(0, at), item]);
  writeField(out, exif.lengthAt, exif.lengthSize, item.length);
  out.writeUInt32BE(out.length - mdat[0], mdat[0]);
  return out;
}

/** A PNG with an eXIf chunk (PNG 1.5 extension; phones write it in screenshots) placed before the first IDAT. */
async function pngWithExif(width: number, height: number, exif: ExifSpec): Promise<Buffer> {
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
  const tiff = buildExif(exif);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(tiff.length, 0);
  head.write('eXIf', 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), tiff])), 0);
  const idat = png.indexOf('IDAT', 8, 'latin1') - 4;
  if (idat < 8) throw new Error('no IDAT');
  return Buffer.concat([png.subarray(0, idat), head, tiff, crc, png.subarray(idat)]);
}

const fullExif = (make: string, model: string, width: number, height: number, gps = southWest.ifd): ExifSpec => ({
  ifd0: { [TAGS.Make]: ascii(make), [TAGS.Model]: ascii(model), [TAGS.DateTime]: ascii('2024:05:01 13:00:00') },
  exif: {
    [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'),
    [TAGS.OffsetTimeOriginal]: ascii('-03:00'),
    [EXIF_IMAGE_WIDTH]: long(width),
    [EXIF_IMAGE_HEIGHT]: long(height),
  },
  gps,
});
const fullExpected = (make: string, model: string, width: number, height: number, type = 'image/jpeg'): FieldValues => ({
  type,
  make,
  model,
  takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: -180 },
  gps: southWest.point,
  pixelSize: { width, height },
});

function withoutField(values: FieldValues, field: Field): FieldValues {
  const copy = { ...values };
  delete copy[field];
  return copy;
}

export const CORPUS: readonly CorpusCase[] = [
  {
    name: 'control-full-exif-gps-south-west.jpg',
    catches: 'nothing: a well-formed phone JPEG, so a broken harness shows up here first (southern and western GPS signs)',
    build: () => jpeg(64, 48, fullExif('Google', 'Pixel 8', 64, 48)),
    fields: IMAGE_FIELDS,
    expected: fullExpected('Google', 'Pixel 8', 64, 48),
  },
  {
    name: 'make-model-nul-terminated-garbage-after-nul.jpg',
    catches: 'Make/Model kept the bytes after the NUL that ends an EXIF ASCII value (firmware reuses fixed buffers)',
    build: () => jpeg(64, 48, { ...fullExif('Canon\0\0\0EOS-1D junk', 'Canon EOS 5D\0\u00ff\u00feJUNK', 64, 48) }),
    fields: IMAGE_FIELDS,
    expected: fullExpected('Canon', 'Canon EOS 5D', 64, 48),
  },
  {
    name: 'make-model-nul-and-space-padded-fixed-length.jpg',
    catches: 'Make/Model padded to a fixed length with NULs and spaces must come out without the padding',
    build: () => jpeg(64, 48, fullExif('NIKON CORPORATION\0\0\0\0\0\0', 'NIKON D750      ', 64, 48)),
    fields: IMAGE_FIELDS,
    expected: fullExpected('NIKON CORPORATION', 'NIKON D750', 64, 48),
  },
  {
    name: 'declared-size-differs-from-pixels.jpg',
    catches: 'width/height taken from EXIF ExifImageWidth/Height (a declaration, stale after a resize) instead of the frame',
    build: () => jpeg(64, 48, fullExif('Apple', 'iPhone 12', 4032, 3024)),
    fields: IMAGE_FIELDS,
    expected: fullExpected('Apple', 'iPhone 12', 64, 48),
  },
  {
    name: 'pixel-size-only-in-frame-header-no-exif-size.jpg',
    catches: 'no width/height when EXIF declares none, although the JPEG frame header (SOF) always has them',
    build: () =>
      jpeg(64, 48, {
        ifd0: { [TAGS.Make]: ascii('samsung'), [TAGS.Model]: ascii('SM-G991B') },
        exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'), [TAGS.OffsetTimeOriginal]: ascii('-03:00') },
        gps: southWest.ifd,
      }),
    fields: IMAGE_FIELDS,
    expected: fullExpected('samsung', 'SM-G991B', 64, 48),
  },
  {
    name: 'modifydate-only-no-capture-time.jpg',
    catches: 'taken-at fell back to ModifyDate (IFD0 DateTime), which records the last edit, not the capture',
    build: () =>
      jpeg(64, 48, {
        ifd0: { [TAGS.Make]: ascii('Apple'), [TAGS.Model]: ascii('iPhone 12'), [TAGS.DateTime]: ascii('2023:01:02 03:04:05'), [TAGS.Software]: ascii('Photos 8.0') },
        exif: { [EXIF_IMAGE_WIDTH]: long(64), [EXIF_IMAGE_HEIGHT]: long(48) },
      }),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/jpeg', make: 'Apple', model: 'iPhone 12', pixelSize: { width: 64, height: 48 } },
  },
  {
    name: 'datetimeoriginal-all-zero-clock-never-set.jpg',
    catches: 'an all-zero DateTimeOriginal (clock never set) is no time; the digitised time with its own offset is next',
    build: () =>
      jpeg(64, 48, {
        ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('Canon EOS 80D') },
        exif: {
          [TAGS.DateTimeOriginal]: ascii('0000:00:00 00:00:00'),
          [TAGS.CreateDate]: ascii('2022:02:03 04:05:06'),
          [TAGS.OffsetTimeDigitized]: ascii('+01:00'),
          [EXIF_IMAGE_WIDTH]: long(64),
          [EXIF_IMAGE_HEIGHT]: long(48),
        },
      }),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/jpeg', make: 'Canon', model: 'Canon EOS 80D', takenAt: { local: '2022-02-03T04:05:06', offsetMinutes: 60 }, pixelSize: { width: 64, height: 48 } },
  },
  {
    name: 'gps-null-island.jpg',
    catches: 'GPS 0,0 (what a receiver without a fix writes) reported as a location in the Gulf of Guinea',
    build: () => jpeg(64, 48, fullExif('Xiaomi', 'Redmi Note 9', 64, 48, {
      [TAGS.GPSLatitudeRef]: ascii('N'),
      [TAGS.GPSLatitude]: rational([0, 1], [0, 1], [0, 100]),
      [TAGS.GPSLongitudeRef]: ascii('E'),
      [TAGS.GPSLongitude]: rational([0, 1], [0, 1], [0, 100]),
      [TAGS.GPSAltitudeRef]: byte(0),
      [TAGS.GPSAltitude]: rational([0, 1]),
    })),
    fields: IMAGE_FIELDS,
    expected: withoutField(fullExpected('Xiaomi', 'Redmi Note 9', 64, 48), 'gps'),
  },
  {
    name: 'tiff-first-ifd-beyond-4kib.tif',
    catches: 'a TIFF whose IFD0 comes after its pixel data, beyond the first 4 KiB, was not identified at all',
    build: async () =>
      buildTiff({
        width: 48,
        height: 32,
        ifd0: { [TAGS.Make]: ascii('Hasselblad'), [TAGS.Model]: ascii('X2D 100C') },
        exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'), [TAGS.OffsetTimeOriginal]: ascii('+02:00') },
        gps: paris.ifd,
      }),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/tiff', make: 'Hasselblad', model: 'X2D 100C', takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 }, gps: paris.point, pixelSize: { width: 48, height: 32 } },
  },
  {
    name: 'control-tiff-ifd-within-head.tif',
    catches: 'nothing: the same TIFF with IFD0 at offset 8, as most writers do',
    build: async () =>
      buildTiff({
        width: 48,
        height: 32,
        ifdFirst: true,
        ifd0: { [TAGS.Make]: ascii('Hasselblad'), [TAGS.Model]: ascii('X2D 100C') },
        exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'), [TAGS.OffsetTimeOriginal]: ascii('+02:00') },
        gps: paris.ifd,
      }),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/tiff', make: 'Hasselblad', model: 'X2D 100C', takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 }, gps: paris.point, pixelSize: { width: 48, height: 32 } },
  },
  {
    name: 'gif-static.gif',
    catches: 'a GIF failed metadata extraction ("unknown file format"), so even its pixel size was lost',
    build: () => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 40, b: 40 } } }).gif().toBuffer(),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/gif', pixelSize: { width: 40, height: 30 } },
  },
  {
    name: 'control-png-ihdr-size-no-exif.png',
    catches: 'nothing: a PNG without EXIF has its size in IHDR and no other value',
    build: () => sharp({ create: { width: 30, height: 20, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer(),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/png', pixelSize: { width: 30, height: 20 } },
  },
  {
    name: 'png-exif-chunk-screenshot.png',
    catches: 'EXIF in a PNG eXIf chunk (no JPEG APP1), as phones write in screenshots',
    build: () =>
      pngWithExif(30, 20, {
        ifd0: { [TAGS.Make]: ascii('Apple'), [TAGS.Model]: ascii('iPhone 13') },
        exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'), [TAGS.OffsetTimeOriginal]: ascii('+02:00') },
      }),
    fields: IMAGE_FIELDS,
    expected: { type: 'image/png', make: 'Apple', model: 'iPhone 13', takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 }, pixelSize: { width: 30, height: 20 } },
  },
  {
    name: 'jpeg-truncated.jpg',
    catches: 'a JPEG cut short (interrupted copy, carved file) still has every header; its metadata must survive',
    build: async () => {
      const whole = await noisyJpeg(256, 192, fullExif('motorola', 'moto g54', 256, 192));
      return whole.subarray(0, Math.floor(whole.length * 0.6));
    },
    fields: IMAGE_FIELDS,
    expected: fullExpected('motorola', 'moto g54', 256, 192),
  },
  {
    name: 'jpeg-with-zip-appended.jpg',
    catches: 'a JPEG with a ZIP after its end (hidden payload) is still a JPEG with its own metadata',
    build: async () => {
      const image = await jpeg(64, 48, fullExif('OnePlus', 'CPH2449', 64, 48));
      const zip = new yazl.ZipFile();
      zip.addBuffer(Buffer.from('hidden payload\n'), 'secret.txt', { mtime: new Date(Date.UTC(2024, 0, 1)), compress: false });
      zip.end();
      const chunks: Buffer[] = [];
      for await (const c of zip.outputStream) chunks.push(c as Buffer);
      return Buffer.concat([image, ...chunks]);
    },
    fields: IMAGE_FIELDS,
    expected: fullExpected('OnePlus', 'CPH2449', 64, 48),
  },
  {
    name: 'control-heic-sample.heic',
    catches: 'nothing: the sample HEIC as libheif wrote it (ftyp, meta, mdat)',
    build: sampleHeic,
    fields: IMAGE_FIELDS,
    expected: SAMPLE_HEIC_EXPECTED,
  },
  {
    name: 'heic-mdat-size-zero-runs-to-end-of-file.heic',
    catches: 'a last box of size 0 ("runs to the end of the file", as cameras write mdat while recording) made HEIF readers loop or fail',
    build: async () => {
      const heic = Buffer.from(await sampleHeic());
      const mdat = topBoxes(heic).find(([, , type]) => type === 'mdat');
      if (!mdat || mdat[0] + mdat[1] !== heic.length) throw new Error('the sample HEIC does not end with its mdat');
      heic.writeUInt32BE(0, mdat[0]);
      return heic;
    },
    fields: IMAGE_FIELDS,
    expected: SAMPLE_HEIC_EXPECTED,
  },
  {
    name: 'heic-empty-free-box-after-ftyp.heic',
    catches: 'a box with no payload between ftyp and meta (writers leave free/skip boxes as padding) must not stop a HEIF reader',
    build: async () => insertAfterFtyp(await sampleHeic(), Buffer.from([0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65])),
    fields: IMAGE_FIELDS,
    expected: SAMPLE_HEIC_EXPECTED,
  },
  {
    name: 'heic-exif-item-apple-header-offset-6.heic',
    catches: 'the Exif item as iPhones write it (TIFF header offset 6, after "Exif\\0\\0"), not as libheif writes it',
    build: async () => withAppleExifHeader(await sampleHeic()),
    fields: IMAGE_FIELDS,
    expected: SAMPLE_HEIC_EXPECTED,
  },
  {
    name: 'heic-major-brand-mif1.heic',
    catches: 'a HEIF whose major brand is the generic mif1 (heic only among the compatible brands), as some Android phones write',
    build: async () => {
      const heic = Buffer.from(await sampleHeic());
      if (heic.toString('latin1', 4, 12) !== 'ftypheic') throw new Error('the sample HEIC does not start with ftyp heic');
      heic.write('mif1', 8, 'latin1');
      return heic;
    },
    fields: IMAGE_FIELDS,
    // Still HEVC-coded: exiftool names the type from the compatible brands too.
    expected: { ...SAMPLE_HEIC_EXPECTED, type: 'image/heif' },
  },
  {
    name: 'control-video-mp4-creation-time-location.mp4',
    catches: 'nothing: an MP4 with a creation_time (kept as written, no zone: cameras write local time there), ISO 6709 location and make/model keys',
    build: () =>
      makeWithFfmpeg(
        [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1',
          '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p',
          '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
          '-movflags', 'use_metadata_tags',
          '-metadata', 'creation_time=2024-05-01T10:20:30Z',
          '-metadata', 'location=+48.8584+002.2945/',
          '-metadata', 'com.android.manufacturer=Google',
          '-metadata', 'com.android.model=Pixel 8',
        ],
        'mp4',
      ),
    fields: VIDEO_FIELDS,
    expected: {
      type: 'video/mp4',
      make: 'Google',
      model: 'Pixel 8',
      takenAt: { local: '2024-05-01T10:20:30', offsetMinutes: null },
      gps: { lat: 48.8584, lon: 2.2945 },
      pixelSize: { width: 160, height: 120 },
      durationSec: 1,
      codecs: ['mpeg4'],
    },
  },
  {
    name: 'video-mp4-no-creation-time-header-date-zero.mp4',
    catches: 'a movie header date of 0 (1904-01-01, "not set") is no capture time',
    build: () =>
      makeWithFfmpeg(
        [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1',
          '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p',
          '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
        ],
        'mp4',
      ),
    fields: VIDEO_FIELDS,
    expected: { type: 'video/mp4', pixelSize: { width: 160, height: 120 }, durationSec: 1, codecs: ['mpeg4'] },
  },
  {
    name: 'video-mp4-xmp-only-capture-date.mp4',
    catches: "an edited MP4 whose only capture date is its XMP (a top-level uuid box) gets xmp:CreateDate, never the history entry's or the ingredient's date beside it",
    build: async () => {
      const mp4 = await makeWithFfmpeg(
        [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1',
          '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p',
          '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
        ],
        'mp4',
      );
      const packet = Buffer.from(
        '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
          '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" xmp:CreateDate="2023-01-02T03:04:05+02:00">' +
          '<xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource"><stEvt:action>saved</stEvt:action><stEvt:when>2023-06-07T08:09:10+02:00</stEvt:when></rdf:li></rdf:Seq></xmpMM:History>' +
          '<xmpMM:Ingredients><rdf:Bag><rdf:li><rdf:Description xmp:CreateDate="2019-07-04T12:00:00-04:00"/></rdf:li></rdf:Bag></xmpMM:Ingredients>' +
          '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>',
        'utf8',
      );
      // A top-level uuid box with XMP's UUID, where Premiere and exiftool write an MP4's XMP.
      const head = Buffer.alloc(8);
      head.writeUInt32BE(8 + 16 + packet.length, 0);
      head.write('uuid', 4, 'latin1');
      return Buffer.concat([mp4, head, Buffer.from('be7acfcb97a942e89c71999491e3afac', 'hex'), packet]);
    },
    fields: VIDEO_FIELDS,
    expected: { type: 'video/mp4', takenAt: { local: '2023-01-02T03:04:05', offsetMinutes: 120 }, pixelSize: { width: 160, height: 120 }, durationSec: 1, codecs: ['mpeg4'] },
  },
  {
    name: 'control-video-mov-apple-creationdate-local-offset.mov',
    catches: "nothing: Apple's creationdate (local time and offset) wins over the movie header's creation_time",
    build: () =>
      makeWithFfmpeg(
        [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1',
          '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p',
          '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
          '-movflags', 'use_metadata_tags',
          '-metadata', 'creation_time=2024-05-01T10:20:30Z',
          '-metadata', 'com.apple.quicktime.creationdate=2024-05-01T12:20:30+0200',
          '-metadata', 'com.apple.quicktime.make=Apple',
          '-metadata', 'com.apple.quicktime.model=iPhone 15 Pro',
          '-metadata', 'com.apple.quicktime.location.ISO6709=-33.9249+018.4241+012.000/',
        ],
        'mov',
      ),
    fields: VIDEO_FIELDS,
    expected: {
      type: 'video/quicktime',
      make: 'Apple',
      model: 'iPhone 15 Pro',
      takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 },
      gps: { lat: -33.9249, lon: 18.4241 },
      pixelSize: { width: 160, height: 120 },
      durationSec: 1,
      codecs: ['mpeg4'],
    },
  },
];

/**
 * Cases today's main gets wrong, with the failure and the branch fixing it.
 * corpus.test.ts runs these with `it.fails`; delete an entry once its fix is
 * merged and the case passes (vitest then runs it with `it`).
 */
export const KNOWN_FAILURES: Readonly<Record<string, string>> = {};
