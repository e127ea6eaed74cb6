import type { RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

/**
 * Where a WebP's EXIF chunk is. exifr has no WebP reader, so a WebP's capture
 * time, GPS, make and model were never read (webp-exif-chunk-not-read); the
 * chunk holds a plain TIFF structure, which exifr reads as a source of its own.
 * libvips and others start the chunk with JPEG's `Exif\0\0`; exiftool accepts
 * both.
 *
 * Runs in the parser thread (sandbox/parse.worker.ts), under its deadline, and
 * reads the file in MEDIA_LIMITS.metadataChunkBytes windows: EXIF follows every
 * frame of an animation, and one ranged read per chunk cost an animated WebP
 * of 1,000 frames 974 reads on the main thread
 * (webp-animation-exif-read-per-chunk).
 */
export type WebpExifChunk =
  /** The TIFF structure (after any Exif\0\0), cut to the bytes the file has within the cap. */
  | { kind: 'exif'; start: number; length: number; cutAtCap: boolean }
  /** The walk stopped at MEDIA_LIMITS.maxWebpChunks chunks without reaching EXIF or the end: EXIF may be missing. */
  | { kind: 'stopped'; chunks: number }
  /** The VP8X flags say there is EXIF, but the walk reached the byte cap first: EXIF is missing. */
  | { kind: 'capped'; bytes: number }
  /** Not a WebP, or a WebP without an EXIF chunk within the cap. */
  | { kind: 'none' };

/** Reads served from one window of the file at a time. */
class WindowedReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly source: RandomAccessSource,
    private readonly end: number,
  ) {}

  /** Up to `length` bytes at `offset` (fewer at `end`); `length` is at most one window. */
  async read(offset: number, length: number): Promise<Buffer> {
    const want = Math.max(0, Math.min(length, this.end - offset));
    if (offset < this.windowStart || offset + want > this.windowStart + this.window.length) {
      this.windowStart = offset;
      this.window = await this.source.read(offset, Math.max(want, Math.min(MEDIA_LIMITS.metadataChunkBytes, this.end - offset)));
    }
    const from = offset - this.windowStart;
    return this.window.subarray(from, Math.min(from + want, this.window.length));
  }
}

export async function findWebpExifChunk(source: RandomAccessSource, maxBytes: number): Promise<WebpExifChunk> {
  let end = Math.min(source.size, maxBytes);
  const reader = new WindowedReader(source, end);
  const riff = await reader.read(0, 21);
  if (riff.length < 12 || riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WEBP') return { kind: 'none' };
  // VP8X flags say whether there is an EXIF chunk (bit 3). When they say none, look only
  // inside the first window: an animation's frames are not walked for nothing.
  const vp8x = riff.length >= 21 && riff.toString('latin1', 12, 16) === 'VP8X';
  if (vp8x && (riff[20]! & 0x08) === 0) {
    end = Math.min(end, MEDIA_LIMITS.metadataChunkBytes);
  }
  // Only when the flags promise EXIF is a walk ended by the cap (not the file's end) a loss worth saying.
  const promised = vp8x && (riff[20]! & 0x08) !== 0 && end < source.size;
  let offset = 12;
  let chunks = 0;
  for (; chunks < MEDIA_LIMITS.maxWebpChunks && offset + 8 <= end; chunks++) {
    const head = await reader.read(offset, 8);
    if (head.length < 8) return { kind: 'none' };
    const length = head.readUInt32LE(4);
    const start = offset + 8;
    if (head.toString('latin1', 0, 4) === 'EXIF') {
      // A chunk that claims more than the file holds is cut to what is there: exifr reports what it cannot read.
      const available = Math.max(0, Math.min(length, end - start));
      const prefix = await reader.read(start, Math.min(6, available));
      const skip = prefix.length === 6 && prefix.toString('latin1') === 'Exif\0\0' ? 6 : 0;
      return { kind: 'exif', start: start + skip, length: available - skip, cutAtCap: available < length && end < source.size };
    }
    offset = start + length + (length % 2);
  }
  if (offset + 8 <= end) return { kind: 'stopped', chunks };
  return promised ? { kind: 'capped', bytes: end } : { kind: 'none' };
}

/** `length` bytes of `source` from `start`, read through it (no URL: only exifr reads this). */
export function subSource(source: RandomAccessSource, start: number, length: number): RandomAccessSource {
  return {
    name: source.name,
    size: length,
    read: (offset, count, readOptions) => {
      const from = Math.max(0, Math.min(offset, length));
      return source.read(start + from, Math.max(0, Math.min(count, length - from)), readOptions);
    },
    url: () => Promise.reject(new Error('a WebP EXIF chunk has no URL of its own')),
  };
}
