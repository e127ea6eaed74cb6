/**
 * A baseline uncompressed RGB TIFF whose IFD0 sits wherever the test wants
 * it: after the pixel strip, so that it lies beyond the first 4 KiB a
 * signature sniffer reads (cameras and scanners write TIFFs this way). Only
 * for crafting corpus files; little-endian, one strip.
 */
import type { Ifd, TagValue } from '../../packages/media/src/test-support/exif.builder.js';

const TYPE_CODE = { byte: 1, ascii: 2, short: 3, long: 4, rational: 5, undefined: 7 } as const;

function encode(v: TagValue): Buffer {
  switch (v.type) {
    case 'ascii':
      return Buffer.from(`${v.value}\0`, 'latin1');
    case 'byte':
      return Buffer.from(v.value);
    case 'undefined':
      return v.value;
    case 'short':
      return Buffer.concat(v.value.map((n) => Buffer.from([n & 0xff, n >> 8])));
    case 'long':
      return Buffer.concat(v.value.map((n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }));
    case 'rational':
      return Buffer.concat(v.value.map(([n, d]) => { const b = Buffer.alloc(8); b.writeUInt32LE(n); b.writeUInt32LE(d, 4); return b; }));
    case 'raw':
      return v.bytes;
  }
}

const count = (v: TagValue, bytes: Buffer) => (v.type === 'raw' ? v.count : v.type === 'short' ? bytes.length / 2 : v.type === 'long' ? bytes.length / 4 : v.type === 'rational' ? bytes.length / 8 : bytes.length);

/** One IFD with its out-of-line data right after it; returns the bytes to place at `at`. */
function ifdBytes(ifd: Ifd, at: number): Buffer {
  const tags = Object.keys(ifd).map(Number).sort((a, b) => a - b);
  const head = Buffer.alloc(2 + tags.length * 12 + 4);
  head.writeUInt16LE(tags.length, 0);
  const data: Buffer[] = [];
  let dataAt = at + head.length;
  tags.forEach((tag, i) => {
    const v = ifd[tag]!;
    const bytes = encode(v);
    const e = 2 + i * 12;
    head.writeUInt16LE(tag, e);
    head.writeUInt16LE(v.type === 'raw' ? v.code : TYPE_CODE[v.type], e + 2);
    head.writeUInt32LE(count(v, bytes), e + 4);
    if (bytes.length <= 4) bytes.copy(head, e + 8);
    else {
      head.writeUInt32LE(dataAt, e + 8);
      const padded = bytes.length % 2 ? Buffer.concat([bytes, Buffer.alloc(1)]) : bytes;
      data.push(padded);
      dataAt += padded.length;
    }
  });
  return Buffer.concat([head, ...data]);
}

const long = (n: number): TagValue => ({ type: 'long', value: [n] });
const short = (...n: number[]): TagValue => ({ type: 'short', value: n });

/**
 * width × height RGB pixels (one strip at offset 8), then IFD0 with the given
 * extra tags, then the Exif and GPS IFDs. With `ifdFirst`, the IFDs come
 * first and the strip after them (IFD0 at offset 8).
 */
export function buildTiff(options: { width: number; height: number; ifd0?: Ifd; exif?: Ifd; gps?: Ifd; ifdFirst?: boolean }): Buffer {
  const { width, height } = options;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
  const layout = (stripAt: number, ifd0At: number) => {
    const ifd0: Ifd = {
      256: long(width),
      257: long(height),
      258: short(8, 8, 8),
      259: short(1),
      262: short(2),
      273: long(stripAt),
      277: short(3),
      278: long(height),
      279: long(pixels.length),
      ...(options.ifd0 ?? {}),
    };
    if (options.exif) ifd0[0x8769] = long(0);
    if (options.gps) ifd0[0x8825] = long(0);
    const size0 = ifdBytes(ifd0, ifd0At).length;
    const exifAt = ifd0At + size0;
    const exifBytes = options.exif ? ifdBytes(options.exif, exifAt) : Buffer.alloc(0);
    const gpsAt = exifAt + exifBytes.length;
    const gpsBytes = options.gps ? ifdBytes(options.gps, gpsAt) : Buffer.alloc(0);
    if (options.exif) ifd0[0x8769] = long(exifAt);
    if (options.gps) ifd0[0x8825] = long(gpsAt);
    return { ifds: Buffer.concat([ifdBytes(ifd0, ifd0At), exifBytes, gpsBytes]) };
  };
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  if (options.ifdFirst) {
    // Two passes: the strip goes after the IFDs, whose size does not depend on the strip offset.
    const size = layout(0, 8).ifds.length;
    const { ifds } = layout(8 + size, 8);
    header.writeUInt32LE(8, 4);
    return Buffer.concat([header, ifds, pixels]);
  }
  const ifd0At = 8 + pixels.length + (pixels.length % 2);
  const { ifds } = layout(8, ifd0At);
  header.writeUInt32LE(ifd0At, 4);
  return Buffer.concat([header, pixels, Buffer.alloc(pixels.length % 2), ifds]);
}
