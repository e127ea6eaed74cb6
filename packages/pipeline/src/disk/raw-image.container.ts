import { ExhibitError, LIMITS } from '@exhibit/core';
import { checkRange } from './byte-source.js';
import type { ByteSource } from './disk-reader.types.js';
import { segmentError } from './ewf-image.container.js';

/**
 * The one rule of a split raw set's sizes, for every path that reads one (the
 * pipeline's blobs, findImageSegments; local files, `exhibit image ls` through
 * openDiskImage): every splitter (split -b, FTK Imager, ewfexport) cuts at one
 * size, so every segment before the last holds as many bytes as the first and
 * the last 1 to that many. A piece cut short in the middle must never be read
 * as the media with its tail gone and every later byte shifted: files listed
 * with wrong data and wrong hashes (regression
 * `split-raw-short-middle-segment-read-shifted`).
 *
 * One piece after the first and before the last shorter than the first is a
 * piece whose tail was lost (a copy stopped, a truncated file): the set is
 * consistent with that reading only when every other piece before the last
 * holds as many bytes as the first and there are at least two such (the first
 * and one more), which then say the piece size: with the first alone as
 * witness (three pieces) the first may as well be the odd one, so that set is
 * refused (regression `split-raw-three-pieces-short-middle-read-at-guessed-offset`). Its lost
 * tail is then a range of the media at known offsets, returned (RawImage
 * reads it as a failure, every later piece at its own offset; regression
 * `split-raw-short-middle-segment-refused`). Anything else (two short pieces,
 * a longer one, a short first piece, a last piece longer than the first or
 * empty) is refused 'segment-truncated'. `name` labels a segment in the
 * message (the blob or file name); without one it is counted among those given.
 */
export function checkSplitRawSizes(segments: readonly { size: number; name?: string }[]): SplitRawLoss | null {
  if (segments.length < 2) return null;
  const first = segments[0]!;
  const of = first.name !== undefined ? `of ${first.name}` : 'of those given';
  const label = (s: { name?: string }) => (s.name !== undefined ? ` (${s.name})` : '');
  const last = segments[segments.length - 1]!;
  if (last.size === 0 || last.size > first.size) {
    throw segmentError('segment-truncated', `the last segment ${of}${label(last)} holds ${last.size} bytes; a split image's last segment holds 1 to ${first.size}`);
  }
  const differing = segments.slice(0, -1).flatMap((s, i) => (s.size !== first.size ? [i] : []));
  if (differing.length === 0) return null;
  const at = differing[0]!;
  const short = segments[at]!;
  // The piece size is the first's only when another full piece before the last says so too: with one (three pieces,
  // [120, 100, 50]) "the first is too long" and "piece 2 lost its tail" cannot be told apart, and reading the later
  // pieces at index × the first's size would be wrong under the other reading (regression
  // `split-raw-three-pieces-short-middle-read-at-guessed-offset`).
  const fullBeforeLast = segments.length - 1 - differing.length;
  if (differing.length === 1 && short.size < first.size && fullBeforeLast >= 2) {
    const from = at * first.size + short.size;
    const to = (at + 1) * first.size;
    return {
      segment: at,
      pieceBytes: first.size,
      from,
      to,
      message:
        `segment ${at + 1} ${of}${label(short)} holds ${short.size} bytes, the first and every other before the last ${first.size}: ` +
        `its last ${first.size - short.size} bytes are lost (media bytes ${from} to ${to}); the later segments are read at their own offsets`,
    };
  }
  throw segmentError(
    'segment-truncated',
    `segment ${at + 1} ${of}${label(short)} holds ${short.size} bytes, the first holds ${first.size}: only the last may be shorter` +
      (differing.length > 1
        ? `, or one other piece whose tail was lost (${differing.length} pieces before the last differ from the first)`
        : short.size < first.size
          ? `, or one other piece whose tail was lost when at least two full pieces before the last attest the piece size (only the first does)`
          : ''),
  );
}

/** The lost tail of a split raw set's short middle piece (checkSplitRawSizes): media bytes [from, to). */
export interface SplitRawLoss {
  /** Index of the short piece (0-based). */
  segment: number;
  /** The size every piece before the last was cut at (the first's). */
  pieceBytes: number;
  from: number;
  to: number;
  /** Why, in words: the piece, its size, the range lost. */
  message: string;
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

  /**
   * `loss`: a split set whose piece `loss.segment` lost its tail (checkSplitRawSizes): every piece starts at its index ×
   * the piece size, so the pieces after it keep their offsets, and a read touching the lost range fails, never zeros.
   */
  constructor(
    private readonly segments: readonly ByteSource[],
    private readonly loss: SplitRawLoss | null = null,
  ) {
    if (segments.length === 0) throw new ExhibitError('invalid-argument', 'a raw image needs at least one segment');
    if (segments.length > LIMITS.maxImageSegments) {
      throw new ExhibitError('limit-exceeded', `${segments.length} segments exceed ${LIMITS.maxImageSegments}`);
    }
    if (loss && (loss.segment <= 0 || loss.segment >= segments.length - 1 || segments[loss.segment]!.size >= loss.pieceBytes)) {
      throw new ExhibitError('invalid-argument', `split raw piece ${loss.segment + 1} of ${segments.length} is not a short middle piece`);
    }
    this.starts = [];
    let at = 0;
    for (const [i, segment] of segments.entries()) {
      this.starts.push(loss ? i * loss.pieceBytes : at);
      at = loss ? i * loss.pieceBytes + segment.size : at + segment.size;
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
    // Skip empty segments (a plain raw list; in a set with a lost range every piece keeps its place).
    while (!this.loss && lo < this.segments.length - 1 && this.segments[lo]!.size === 0) lo += 1;
    return lo;
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'raw image');
    const loss = this.loss;
    if (loss && length > 0 && offset < loss.to && offset + length > loss.from) {
      // The same reason an EWF chunk lost with a truncated segment fails with: only what needs these bytes fails.
      throw segmentError(
        'segment-truncated',
        `media bytes ${Math.max(offset, loss.from)} to ${Math.min(offset + length, loss.to)} are not in the segments given: ${loss.message}`,
      );
    }
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
    if (this.loss && offset < this.loss.to && offset + length > this.loss.from) return null;
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
