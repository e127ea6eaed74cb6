import { ExhibitError, LIMITS } from '@exhibit/core';
import { checkRange } from './byte-source.js';
import type { ByteSource } from './disk-reader.types.js';
import { segmentError } from './ewf-image.container.js';

/**
 * The one rule of a split raw set's sizes, for every path that reads one (the
 * pipeline's blobs, findImageSegments; local files, `exhibit image ls` through
 * openDiskImage): every splitter (split -b, FTK Imager, ewfexport) cuts at one
 * size, so every segment before the last holds as many bytes as the first and
 * the last 1 to that many. A piece cut short in the middle would otherwise be
 * read as the media with its tail gone and every later byte shifted: files
 * listed with wrong data and wrong hashes (regression
 * `split-raw-short-middle-segment-read-shifted`). `name` labels a segment in the
 * message (the blob or file name); without one it is counted among those given.
 */
export function checkSplitRawSizes(segments: readonly { size: number; name?: string }[]): void {
  if (segments.length < 2) return;
  const first = segments[0]!;
  const of = first.name !== undefined ? `of ${first.name}` : 'of those given';
  const label = (s: { name?: string }) => (s.name !== undefined ? ` (${s.name})` : '');
  segments.slice(0, -1).forEach((s, i) => {
    if (s.size !== first.size) {
      throw segmentError('segment-truncated', `segment ${i + 1} ${of}${label(s)} holds ${s.size} bytes, the first holds ${first.size}: only the last may be shorter`);
    }
  });
  const last = segments[segments.length - 1]!;
  if (last.size === 0 || last.size > first.size) {
    throw segmentError('segment-truncated', `the last segment ${of}${label(last)} holds ${last.size} bytes; a split image's last segment holds 1 to ${first.size}`);
  }
}

/**
 * Raw (dd) media and split raw (.001, .002 …): the segments, in the order
 * given, are the media laid end to end. A read that crosses a segment boundary
 * is served from both; spanInBase answers only within one segment, since the
 * evidence blob it names is one segment.
 */
export class RawImage implements ByteSource {
  readonly size: number;
  /** Start of each segment on the media. */
  private readonly starts: number[];

  constructor(private readonly segments: readonly ByteSource[]) {
    if (segments.length === 0) throw new ExhibitError('invalid-argument', 'a raw image needs at least one segment');
    if (segments.length > LIMITS.maxImageSegments) {
      throw new ExhibitError('limit-exceeded', `${segments.length} segments exceed ${LIMITS.maxImageSegments}`);
    }
    this.starts = [];
    let at = 0;
    for (const segment of segments) {
      this.starts.push(at);
      at += segment.size;
    }
    this.size = at;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  private segmentAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty segments.
    while (lo < this.segments.length - 1 && this.segments[lo]!.size === 0) lo += 1;
    return lo;
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'raw image');
    if (this.segments.length === 1) return this.segments[0]!.read(offset, length, options);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = this.segmentAt(at);
      const segment = this.segments[index]!;
      const within = at - this.starts[index]!;
      const count = Math.min(segment.size - within, length - done);
      out.set(await segment.read(within, count, options), done);
      done += count;
    }
    return out;
  }

  /** The span within the segment blob, with `segment` its index, when the range lies in one segment. */
  spanInSegment(offset: number, length: number): { segment: number; offset: number; length: number } | null {
    if (offset < 0 || length < 0 || offset + length > this.size) return null;
    const index = this.segmentAt(offset);
    const within = offset - this.starts[index]!;
    if (within + length > this.segments[index]!.size) return null;
    const span = this.segments[index]!.spanInBase?.(within, length) ?? null;
    return span ? { segment: index, ...span } : null;
  }

  /** Within one segment only; `segment` says which segment blob the offset is in (0 for plain raw). */
  spanInBase(offset: number, length: number): { segment: number; offset: number; length: number } | null {
    return this.spanInSegment(offset, length);
  }
}
