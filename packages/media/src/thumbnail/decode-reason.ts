/**
 * Why an image failed to decode, told from its bytes rather than from
 * libvips' error text. libvips keeps one error buffer for the whole process:
 * under concurrent decodes the same file reports its own message, an empty
 * one, or another file's message appended (measured: 1 in 10 failures of a
 * broken JPEG decoded beside a broken PNG). A reason read off the bytes is the
 * same every run, which a recorded failure must be; the tool's own text stays
 * on the error's `cause` for the logs.
 *
 * The checks are structural only (markers, chunk lengths, trailers), bounded
 * by the buffer, and never follow a length past its end.
 */

export const DECODE_REASONS = {
  truncated: 'image data ends before the image is complete (truncated)',
  jpegNoScan: 'JPEG structure is broken (no image scan follows the headers)',
  jpegDamaged: 'JPEG image data is damaged',
  pngDamaged: 'PNG image data is damaged',
  gifDamaged: 'GIF image data is damaged',
  tiffDamaged: 'TIFF structure is damaged',
  webpDamaged: 'WebP image data is damaged',
  heifDamaged: 'HEIF image data is damaged',
  unknown: 'image data could not be decoded',
} as const;

export type DecodeReason = (typeof DECODE_REASONS)[keyof typeof DECODE_REASONS];

export function decodeReasonOf(bytes: Uint8Array): DecodeReason {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegReason(bytes);
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return pngReason(bytes);
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return bytes[bytes.length - 1] === 0x3b ? DECODE_REASONS.gifDamaged : DECODE_REASONS.truncated;
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return DECODE_REASONS.tiffDamaged;
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && ascii(bytes, 8, 4) === 'WEBP') return riffReason(bytes);
  if (ascii(bytes, 4, 4) === 'ftyp') return DECODE_REASONS.heifDamaged;
  return DECODE_REASONS.unknown;
}

/**
 * Walks the marker segments up to the first scan. Truncated: a segment or the
 * scan runs past the end (no EOI after the scan). No scan: the headers end
 * (EOI or a byte that is no marker) before any SOS.
 */
function jpegReason(b: Uint8Array): DecodeReason {
  let at = 2;
  for (;;) {
    if (at >= b.length) return DECODE_REASONS.truncated;
    if (b[at] !== 0xff) return DECODE_REASONS.jpegNoScan;
    // Fill bytes (0xFF 0xFF …) may precede a marker.
    while (at < b.length && b[at] === 0xff) at++;
    if (at >= b.length) return DECODE_REASONS.truncated;
    const marker = b[at++]!;
    if (marker === 0xd9) return DECODE_REASONS.jpegNoScan;
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (at + 2 > b.length) return DECODE_REASONS.truncated;
    const length = (b[at]! << 8) | b[at + 1]!;
    if (length < 2) return DECODE_REASONS.jpegDamaged;
    if (at + length > b.length) return DECODE_REASONS.truncated;
    at += length;
    if (marker === 0xda) return hasEoiFrom(b, at) ? DECODE_REASONS.jpegDamaged : DECODE_REASONS.truncated;
  }
}

function hasEoiFrom(b: Uint8Array, from: number): boolean {
  for (let i = b.length - 2; i >= from; i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}

/** Chunks from the signature on: truncated when a chunk runs past the end or IEND never comes. */
function pngReason(b: Uint8Array): DecodeReason {
  let at = 8;
  while (at + 8 <= b.length) {
    const length = ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
    const type = ascii(b, at + 4, 4);
    if (at + 12 + length > b.length) return DECODE_REASONS.truncated;
    if (type === 'IEND') return DECODE_REASONS.pngDamaged;
    at += 12 + length;
  }
  return DECODE_REASONS.truncated;
}

/** RIFF declares its own size: fewer bytes than declared is a truncation. */
function riffReason(b: Uint8Array): DecodeReason {
  if (b.length < 12) return DECODE_REASONS.truncated;
  const declared = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
  return declared + 8 > b.length ? DECODE_REASONS.truncated : DECODE_REASONS.webpDamaged;
}

function startsWith(b: Uint8Array, prefix: number[]): boolean {
  return b.length >= prefix.length && prefix.every((v, i) => b[i] === v);
}

function ascii(b: Uint8Array, from: number, length: number): string {
  if (from + length > b.length) return '';
  return String.fromCharCode(...b.subarray(from, from + length));
}
