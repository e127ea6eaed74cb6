import { exifSegment } from './jpeg.segments.js';

/**
 * Adds an IFD1 (the EXIF thumbnail directory) to a JPEG's EXIF block.
 *
 * Why by hand: libvips (so sharp) writes IFD0/Exif/GPS but never an IFD1
 * thumbnail, and no maintained npm package writes one. Appending is safe
 * because TIFF offsets are relative to the TIFF header: existing offsets stay
 * valid when the new directory and the thumbnail bytes go after everything
 * else; only IFD0's "next IFD" pointer (zero today) and the APP1 length change.
 */
export function withExifThumbnail(jpeg: Buffer, thumbnailJpeg: Buffer): Buffer {
  const seg = exifSegment(jpeg);
  const tiffStart = seg.offset + 10;
  const tiff = jpeg.subarray(tiffStart, seg.offset + seg.length);
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw new Error(`unknown TIFF byte order ${JSON.stringify(order)}`);
  const le = order === 'II';
  const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const put16 = (b: Buffer, at: number, v: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const put32 = (b: Buffer, at: number, v: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));

  const ifd0 = u32(tiff, 4);
  const nextPointer = ifd0 + 2 + 12 * u16(tiff, ifd0);
  if (u32(tiff, nextPointer) !== 0) throw new Error('the EXIF block already has an IFD1');

  const ifd1 = tiff.length + (tiff.length % 2); // IFDs start on a word boundary
  const entries: Array<[tag: number, type: number, value: number]> = [
    [0x0103, 3, 6], // Compression: 6 = JPEG (old-style), what cameras write for thumbnails
    [0x0201, 4, 0], // JPEGInterchangeFormat: offset, filled in below
    [0x0202, 4, thumbnailJpeg.length], // JPEGInterchangeFormatLength
  ];
  const dirBytes = 2 + 12 * entries.length + 4;
  const thumbOffset = ifd1 + dirBytes;
  entries[1]![2] = thumbOffset;

  const dir = Buffer.alloc(ifd1 - tiff.length + dirBytes);
  let at = ifd1 - tiff.length;
  put16(dir, at, entries.length);
  at += 2;
  for (const [tag, type, value] of entries) {
    put16(dir, at, tag);
    put16(dir, at + 2, type);
    put32(dir, at + 4, 1);
    // A SHORT sits left-justified in the 4-byte value field.
    if (type === 3) put16(dir, at + 8, value);
    else put32(dir, at + 8, value);
    at += 12;
  }
  put32(dir, at, 0); // no IFD2

  const newTiff = Buffer.concat([tiff, dir, thumbnailJpeg]);
  put32(newTiff, nextPointer, ifd1);
  const payloadLength = 2 + 6 + newTiff.length;
  if (payloadLength > 0xffff) throw new Error(`EXIF block too large for one APP1 segment: ${payloadLength} bytes`);
  const header = Buffer.from([0xff, 0xe1, payloadLength >> 8, payloadLength & 0xff]);
  return Buffer.concat([
    jpeg.subarray(0, seg.offset),
    header,
    Buffer.from('Exif\0\0', 'latin1'),
    newTiff,
    jpeg.subarray(seg.offset + seg.length),
  ]);
}
