/**
 * Width and height from the header of image formats that carry no EXIF
 * block exifr can read (GIF, WebP, BMP), so such an image still gets its
 * dimensions instead of failing at metadata. Pure, over the first bytes only.
 */
export interface HeaderDimensions {
  format: 'gif' | 'webp' | 'bmp';
  width: number;
  height: number;
}

/** Bytes that always hold these headers. */
export const HEADER_DIMENSION_BYTES = 64;

export function headerDimensions(b: Buffer): HeaderDimensions | null {
  if (b.length >= 10 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) {
    return valid('gif', b.readUInt16LE(6), b.readUInt16LE(8));
  }
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = b.toString('latin1', 12, 16);
    if (chunk === 'VP8X') return valid('webp', b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1);
    if (chunk === 'VP8L' && b[20] === 0x2f) {
      const bits = b.readUInt32LE(21);
      return valid('webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
    }
    if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
      return valid('webp', b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
    }
    return null;
  }
  if (b.length >= 26 && b.toString('latin1', 0, 2) === 'BM') {
    const headerSize = b.readUInt32LE(14);
    if (headerSize === 12) return valid('bmp', b.readUInt16LE(18), b.readUInt16LE(20));
    if (headerSize >= 40 && headerSize <= 124) return valid('bmp', b.readInt32LE(18), Math.abs(b.readInt32LE(22)));
  }
  return null;
}

function valid(format: HeaderDimensions['format'], width: number, height: number): HeaderDimensions | null {
  return width > 0 && height > 0 && width <= 1_000_000 && height <= 1_000_000 ? { format, width, height } : null;
}
