import { createHash } from 'node:crypto';
import { headerSegments } from './jpeg.segments.js';

/**
 * Deterministic noise that never contains 0xFF, so a decoder finds no marker
 * in it: libjpeg then reaches the end of the data and stops with a hard error
 * (not a warning a lenient decoder could ignore and paint grey).
 */
export function markerFreeNoise(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  let filled = 0;
  for (let block = 0; filled < length; block++) {
    const digest = createHash('sha256').update(`${seed}\0${block}`).digest();
    for (const byte of digest) {
      if (filled === length) break;
      out[filled++] = byte === 0xff ? 0x7f : byte;
    }
  }
  return out;
}

/**
 * Keeps every header segment before the first scan (EXIF, ICC, tables, frame
 * header) and replaces the scan, from its SOS marker to the end of the file,
 * with noise of the same length: the primary image cannot be decoded, the
 * EXIF block (and its thumbnail) is intact.
 */
export function destroyScan(jpeg: Buffer, seed: string): Buffer {
  const sos = headerSegments(jpeg).at(-1)!;
  return Buffer.concat([jpeg.subarray(0, sos.offset), markerFreeNoise(jpeg.length - sos.offset, seed)]);
}
