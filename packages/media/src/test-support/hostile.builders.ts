/**
 * Crafted files for the parsers of evidence bytes: structures whose sizes,
 * offsets and counts lead a parser in circles or into huge work. Each builder
 * is named after the failure it catches. Test fixtures only.
 */

function box(kind: string, body: Buffer, size = 8 + body.length): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size, 0);
  head.write(kind, 4, 'latin1');
  return Buffer.concat([head, body]);
}

function fullBox(kind: string, version: number, body: Buffer, size?: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE((version << 24) >>> 0, 0);
  return box(kind, Buffer.concat([head, body]), size);
}

/** ftyp with major brand heic and compatible brands mif1, heic (24 bytes). */
function heicFtyp(): Buffer {
  return box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
}

/**
 * The 80-byte HEIC of issue 8: ftyp, then a box whose size field is 0. exifr
 * 7.1.3's HEIC parser walks top-level boxes by adding each box's size to the
 * offset until it meets `meta`; a size of 0 never moves it, and since every
 * step only awaits a resolved promise, the loop holds the event loop for good.
 */
export function heicZeroLengthBoxAfterFtyp(): Buffer {
  const file = Buffer.concat([heicFtyp(), Buffer.alloc(80 - 24)]);
  file.write('free', 28, 'latin1');
  return file;
}

/**
 * A `meta` box that claims to be larger than the file, holding an `iinf`
 * that declares 65535 entries of size 0 (the same offset read 65535 times)
 * and an `iloc` (version 2) that declares 2^32-1 items whose extents point
 * back at the `iloc` itself.
 */
export function heicSelfReferencingMeta(): Buffer {
  const ftyp = heicFtyp();
  const metaOffset = ftyp.length;
  // meta head (8) + full-box head (4), then iinf.
  const iinfBody = Buffer.alloc(2 + 12);
  iinfBody.writeUInt16BE(0xffff, 0);
  // An infe of size 0 as the first entry.
  iinfBody.write('infe', 2 + 4, 'latin1');
  const iinf = fullBox('iinf', 0, iinfBody);
  const ilocOffset = metaOffset + 12 + iinf.length;
  const ilocBody = Buffer.alloc(2 + 4 + 4 + 2 + 2 + 2 + 4 + 4);
  let o = 0;
  ilocBody.writeUInt8(0x44, o++); // offset_size 4, length_size 4
  ilocBody.writeUInt8(0x40, o++); // base_offset_size 4, index_size 0
  ilocBody.writeUInt32BE(0xffffffff, o); // item_count
  o += 4;
  ilocBody.writeUInt32BE(1, o); // item_ID
  o += 4;
  ilocBody.writeUInt16BE(0, o); // construction_method 0
  o += 2;
  ilocBody.writeUInt16BE(0, o); // data_reference_index
  o += 2;
  ilocBody.writeUInt16BE(0xffff, o); // extent_count
  o += 2;
  ilocBody.writeUInt32BE(ilocOffset, o); // base_offset: the iloc itself
  o += 4;
  ilocBody.writeUInt32BE(0xffffffff, o);
  const iloc = fullBox('iloc', 2, ilocBody);
  const children = Buffer.concat([iinf, iloc]);
  const meta = fullBox('meta', 0, children, 0x7fffffff);
  return Buffer.concat([ftyp, meta]);
}

/** ftyp, then `count` empty 8-byte `free` boxes before a `meta` box: a walk that stops only at `meta` takes `count` steps. */
export function heicManyTinyBoxesBeforeMeta(count: number): Buffer {
  const free = box('free', Buffer.alloc(0));
  return Buffer.concat([heicFtyp(), ...Array.from({ length: count }, () => free), fullBox('meta', 0, Buffer.alloc(0))]);
}

interface RawEntry {
  tag: number;
  type: number;
  count: number;
  /** The 4-byte value/offset field. */
  value: number;
}

/** A little-endian IFD at `offset` of `file`: `declared` entries counted, `entries` written, then the next-IFD offset. */
function writeIfd(file: Buffer, offset: number, entries: RawEntry[], next: number, declared = entries.length): number {
  file.writeUInt16LE(declared, offset);
  let o = offset + 2;
  for (const e of entries) {
    file.writeUInt16LE(e.tag, o);
    file.writeUInt16LE(e.type, o + 2);
    file.writeUInt32LE(e.count >>> 0, o + 4);
    file.writeUInt32LE(e.value >>> 0, o + 8);
    o += 12;
  }
  file.writeUInt32LE(next, o);
  return o + 4;
}

function tiffHeader(file: Buffer, ifd0: number): void {
  file.write('II', 0, 'latin1');
  file.writeUInt16LE(42, 2);
  file.writeUInt32LE(ifd0, 4);
}

/**
 * IFD0 whose next-IFD offset, Exif IFD pointer and GPS IFD pointer all point
 * back at IFD0 itself: a reader that follows the chain without remembering
 * where it has been never ends.
 */
export function tiffIfdLoopBackToIfd0(): Buffer {
  const file = Buffer.alloc(256);
  tiffHeader(file, 8);
  const make = 200;
  file.write('Loop\0', make, 'latin1');
  writeIfd(
    file,
    8,
    [
      { tag: 0x010f, type: 2, count: 5, value: make }, // Make
      { tag: 0x0112, type: 3, count: 1, value: 6 }, // Orientation
      { tag: 0x8769, type: 4, count: 1, value: 8 }, // ExifIFD → IFD0
      { tag: 0x8825, type: 4, count: 1, value: 8 }, // GPS IFD → IFD0
    ],
    8, // next IFD → IFD0
  );
  return file;
}

/**
 * IFD0 that declares 65535 entries in a 4 KiB file, with entries whose value
 * counts are near 2^32 (SHORT, LONG, RATIONAL, ASCII) and point inside the file:
 * a reader that trusts the counts allocates or loops over billions of values.
 */
export function tiffHugeValueCounts(): Buffer {
  const file = Buffer.alloc(4096, 0x41);
  tiffHeader(file, 8);
  writeIfd(
    file,
    8,
    [
      { tag: 0x010f, type: 2, count: 0xfffffff0, value: 100 }, // Make, ASCII
      { tag: 0x0100, type: 3, count: 0x7fffffff, value: 100 }, // ImageWidth, SHORT
      { tag: 0x0101, type: 4, count: 0x3fffffff, value: 100 }, // ImageLength, LONG
      { tag: 0x011a, type: 5, count: 0x1fffffff, value: 100 }, // XResolution, RATIONAL
      { tag: 0x8769, type: 4, count: 1, value: 8 }, // ExifIFD → IFD0
    ],
    0,
    0xffff,
  );
  return file;
}

/**
 * IFD0 with `tags` entries of `countEach` RATIONAL values (0/1) each, all
 * pointing at the same bytes: a small file whose parsed form holds
 * tags × countEach numbers.
 */
export function tiffOverlappingValueArrays(tags: number, countEach: number): Buffer {
  const data = 8 + 2 + tags * 12 + 4;
  const file = Buffer.alloc(data + countEach * 8);
  tiffHeader(file, 8);
  const entries = Array.from({ length: tags }, (_, i) => ({ tag: 0xc000 + i, type: 5, count: countEach, value: data }));
  writeIfd(file, 8, entries, 0);
  for (let i = 0; i < countEach; i++) file.writeUInt32LE(1, data + i * 8 + 4);
  return file;
}

/**
 * A JPEG with `count` empty APP15 segments (4 bytes each) before its APP1
 * Exif segment: a segment walk costs a step per segment, and the Exif lies
 * past the first chunks a chunked reader fetches.
 */
export function jpegManyAppSegmentsBeforeExif(count: number, exifTiff: Buffer): Buffer {
  const app15 = Buffer.from([0xff, 0xef, 0x00, 0x02]);
  const app1Head = Buffer.alloc(10);
  app1Head.writeUInt16BE(0xffe1, 0);
  app1Head.writeUInt16BE(2 + 6 + exifTiff.length, 2);
  app1Head.write('Exif\0\0', 4, 'latin1');
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    Buffer.concat(Array.from({ length: count }, () => app15)),
    app1Head,
    exifTiff,
    Buffer.from([0xff, 0xd9]),
  ]);
}
