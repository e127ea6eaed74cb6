/**
 * Builds EXIF (a little-endian TIFF structure) for test images, with full
 * control over tag types (sharp's withExif cannot write BYTE tags such as
 * GPSAltitudeRef, nor an IFD1 thumbnail). Test fixtures only.
 */

export type TagValue =
  | { type: 'ascii'; value: string }
  | { type: 'byte'; value: number[] }
  | { type: 'short'; value: number[] }
  | { type: 'long'; value: number[] }
  | { type: 'rational'; value: Array<[number, number]> }
  | { type: 'undefined'; value: Buffer }
  /** Any type code and bytes, e.g. an invalid type (0 or 99) as a crafted or damaged file has. */
  | { type: 'raw'; code: number; count: number; bytes: Buffer };

export type Ifd = Record<number, TagValue>;

export interface ExifSpec {
  ifd0?: Ifd;
  exif?: Ifd;
  gps?: Ifd;
  /** JPEG bytes stored as the IFD1 thumbnail. */
  thumbnail?: Buffer;
  /** Bytes placed right after the header, before IFD0 (image data, so IFD0 lies as far in as this is long). */
  dataBeforeIfd0?: Buffer;
}

export const TAGS = {
  Make: 0x010f,
  Model: 0x0110,
  Orientation: 0x0112,
  Software: 0x0131,
  DateTime: 0x0132,
  ExifIfd: 0x8769,
  GpsIfd: 0x8825,
  Compression: 0x0103,
  JpegOffset: 0x0201,
  JpegLength: 0x0202,
  ImageWidth: 0x0100,
  ImageLength: 0x0101,
  PixelXDimension: 0xa002,
  PixelYDimension: 0xa003,
  SubSecTime: 0x9290,
  DateTimeOriginal: 0x9003,
  CreateDate: 0x9004,
  OffsetTime: 0x9010,
  OffsetTimeOriginal: 0x9011,
  OffsetTimeDigitized: 0x9012,
  SubSecTimeOriginal: 0x9291,
  GPSLatitudeRef: 0x0001,
  GPSLatitude: 0x0002,
  GPSLongitudeRef: 0x0003,
  GPSLongitude: 0x0004,
  GPSAltitudeRef: 0x0005,
  GPSAltitude: 0x0006,
  GPSStatus: 0x0009,
} as const;

export const ascii = (value: string): TagValue => ({ type: 'ascii', value });
export const short = (...value: number[]): TagValue => ({ type: 'short', value });
export const byte = (...value: number[]): TagValue => ({ type: 'byte', value });
export const rational = (...value: Array<[number, number]>): TagValue => ({ type: 'rational', value });
/** SRATIONAL (type 10): signed, as some phone writers store GPS degrees. */
export const srational = (...value: Array<[number, number]>): TagValue => {
  const bytes = Buffer.alloc(value.length * 8);
  value.forEach(([n, d], i) => {
    bytes.writeInt32LE(n, i * 8);
    bytes.writeInt32LE(d, i * 8 + 4);
  });
  return { type: 'raw', code: 10, count: value.length, bytes };
};

const TYPE_CODE = { byte: 1, ascii: 2, short: 3, long: 4, rational: 5, undefined: 7 } as const;

function encode(v: TagValue): { count: number; bytes: Buffer } {
  switch (v.type) {
    case 'ascii': {
      const bytes = Buffer.from(`${v.value}\0`, 'latin1');
      return { count: bytes.length, bytes };
    }
    case 'byte':
      return { count: v.value.length, bytes: Buffer.from(v.value) };
    case 'raw':
      return { count: v.count, bytes: v.bytes };
    case 'undefined':
      return { count: v.value.length, bytes: v.value };
    case 'short': {
      const bytes = Buffer.alloc(v.value.length * 2);
      v.value.forEach((n, i) => bytes.writeUInt16LE(n, i * 2));
      return { count: v.value.length, bytes };
    }
    case 'long': {
      const bytes = Buffer.alloc(v.value.length * 4);
      v.value.forEach((n, i) => bytes.writeUInt32LE(n, i * 4));
      return { count: v.value.length, bytes };
    }
    case 'rational': {
      const bytes = Buffer.alloc(v.value.length * 8);
      v.value.forEach(([n, d], i) => {
        bytes.writeUInt32LE(n, i * 8);
        bytes.writeUInt32LE(d, i * 8 + 4);
      });
      return { count: v.value.length, bytes };
    }
  }
}

const pad = (n: number) => n + (n % 2);

function ifdSize(ifd: Ifd): number {
  let data = 0;
  for (const v of Object.values(ifd)) {
    const { bytes } = encode(v);
    if (bytes.length > 4) data += pad(bytes.length);
  }
  return 2 + Object.keys(ifd).length * 12 + 4 + data;
}

function writeIfd(out: Buffer, at: number, ifd: Ifd, next: number): void {
  const tags = Object.keys(ifd).map(Number).sort((a, b) => a - b);
  out.writeUInt16LE(tags.length, at);
  let dataAt = at + 2 + tags.length * 12 + 4;
  tags.forEach((tag, i) => {
    const v = ifd[tag]!;
    const { count, bytes } = encode(v);
    const e = at + 2 + i * 12;
    out.writeUInt16LE(tag, e);
    out.writeUInt16LE(v.type === 'raw' ? v.code : TYPE_CODE[v.type], e + 2);
    out.writeUInt32LE(count, e + 4);
    if (bytes.length <= 4) {
      bytes.copy(out, e + 8);
    } else {
      out.writeUInt32LE(dataAt, e + 8);
      bytes.copy(out, dataAt);
      dataAt += pad(bytes.length);
    }
  });
  out.writeUInt32LE(next, at + 2 + tags.length * 12);
}

/** The TIFF structure: IFD0, Exif IFD, GPS IFD, IFD1 (+ thumbnail), in that order. */
export function buildExif(spec: ExifSpec): Buffer {
  const ifd0: Ifd = { ...(spec.ifd0 ?? {}) };
  const exif = spec.exif && Object.keys(spec.exif).length > 0 ? spec.exif : undefined;
  const gps = spec.gps && Object.keys(spec.gps).length > 0 ? spec.gps : undefined;
  // Pointer tags are LONG; reserve them before sizes are computed.
  if (exif) ifd0[TAGS.ExifIfd] = { type: 'long', value: [0] };
  if (gps) ifd0[TAGS.GpsIfd] = { type: 'long', value: [0] };
  const ifd1: Ifd | undefined = spec.thumbnail
    ? { [TAGS.Compression]: short(6), [TAGS.JpegOffset]: { type: 'long', value: [0] }, [TAGS.JpegLength]: { type: 'long', value: [spec.thumbnail.length] } }
    : undefined;

  const ifd0At = 8 + pad(spec.dataBeforeIfd0?.length ?? 0);
  const exifAt = ifd0At + ifdSize(ifd0);
  const gpsAt = exifAt + (exif ? ifdSize(exif) : 0);
  const ifd1At = gpsAt + (gps ? ifdSize(gps) : 0);
  const thumbAt = ifd1At + (ifd1 ? ifdSize(ifd1) : 0);
  const total = thumbAt + (spec.thumbnail?.length ?? 0);

  if (exif) ifd0[TAGS.ExifIfd] = { type: 'long', value: [exifAt] };
  if (gps) ifd0[TAGS.GpsIfd] = { type: 'long', value: [gpsAt] };
  if (ifd1) ifd1[TAGS.JpegOffset] = { type: 'long', value: [thumbAt] };

  const out = Buffer.alloc(total);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifd0At, 4);
  spec.dataBeforeIfd0?.copy(out, 8);
  writeIfd(out, ifd0At, ifd0, ifd1 ? ifd1At : 0);
  if (exif) writeIfd(out, exifAt, exif, 0);
  if (gps) writeIfd(out, gpsAt, gps, 0);
  if (ifd1) writeIfd(out, ifd1At, ifd1, 0);
  spec.thumbnail?.copy(out, thumbAt);
  return out;
}

/** Inserts an APP1 Exif segment right after the JPEG's SOI marker. */
export function withExifSegment(jpeg: Buffer, tiff: Buffer): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  if (payload.length + 2 > 0xffff) throw new Error('EXIF too large for one APP1 segment');
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

/** Bytes stored with type UNDEFINED (7), as some phones and editors write text tags such as DateTimeOriginal. */
export const undefinedText = (value: string): TagValue => ({ type: 'raw', code: 7, count: Buffer.byteLength(value, 'latin1'), bytes: Buffer.from(value, 'latin1') });

/**
 * A Photoshop APP13 segment (as Photoshop and exiftool write it) holding one IPTC-IIM
 * resource (8BIM 0x0404) with these application records (record 2), inserted after SOI.
 * IPTC dataset numbers: 55 DateCreated, 60 TimeCreated, 62 DigitalCreationDate, 63 ...Time.
 */
export function withIptcSegment(jpeg: Buffer, datasets: Array<[number, string]>): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const records = Buffer.concat(
    datasets.map(([dataset, text]) => {
      const head = Buffer.from([0x1c, 0x02, dataset, 0, 0]);
      head.writeUInt16BE(Buffer.byteLength(text, 'latin1'), 3);
      return Buffer.concat([head, Buffer.from(text, 'latin1')]);
    }),
  );
  const resource = Buffer.alloc(12);
  resource.write('8BIM', 0, 'latin1');
  resource.writeUInt16BE(0x0404, 4); // then an empty Pascal name (2 bytes)
  resource.writeUInt32BE(records.length, 8);
  const payload = Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource, records, Buffer.alloc(records.length % 2)]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffed, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

/** Degrees as EXIF [deg, min, sec] rationals (seconds to 1/100). */
export function dms(decimal: number): TagValue {
  const abs = Math.abs(decimal);
  const d = Math.floor(abs);
  const m = Math.floor((abs - d) * 60);
  const s = Math.round(((abs - d) * 60 - m) * 60 * 100);
  return rational([d, 1], [m, 1], [s, 100]);
}
