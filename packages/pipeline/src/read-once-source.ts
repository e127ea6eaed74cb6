import { ExhibitError, type RandomAccessSource } from '@exhibit/core';

/**
 * One read of a file's bytes for all of its analysis: every range fetched
 * from storage is kept for the rest of the analyse step, so identify's head
 * and tail, the metadata parser's reads and the thumbnailer's whole-image read
 * share the same bytes instead of each going back to storage.
 *
 * Memory is bounded: only ranges asked for are kept, and `loadWhole` (called
 * for images, which the thumbnailer needs whole anyway) refuses files larger
 * than `maxWholeBytes`, which are then read per range as before. Tools that
 * read by URL (ffprobe, ffmpeg on videos) read storage themselves.
 */
export class ReadOnceSource implements RandomAccessSource {
  readonly name: string;
  readonly size: number;
  readonly urlOffset?: number;
  /** Non-overlapping cached ranges, sorted by offset. */
  private segments: Array<{ offset: number; bytes: Buffer }> = [];
  /** Bytes fetched from storage through this source (for the bench and tests). */
  bytesFetched = 0;
  fetches = 0;

  /**
   * `whole`: the file's bytes already in memory (the member-bytes cache), all
   * `inner.size` of them; every read is then served from it. Bytes of any
   * other length are ignored and storage is read as usual.
   */
  constructor(
    private readonly inner: RandomAccessSource,
    private readonly options: { maxWholeBytes: number; whole?: Buffer | null },
  ) {
    this.name = inner.name;
    this.size = inner.size;
    if (inner.urlOffset !== undefined) this.urlOffset = inner.urlOffset;
    if (options.whole && options.whole.length === this.size && this.size > 0) this.segments = [{ offset: 0, bytes: options.whole }];
  }

  url(): Promise<string> {
    return this.inner.url();
  }

  async read(offset: number, length: number, options: { abortSignal?: AbortSignal } = {}): Promise<Buffer> {
    const start = Math.max(0, Math.min(offset, this.size));
    const end = Math.max(start, Math.min(start + Math.max(0, length), this.size));
    if (end === start) return Buffer.alloc(0);
    const cached = this.cached(start, end);
    if (cached) return cached;
    const bytes = await this.fetch(start, end, options);
    this.keep(start, bytes);
    return bytes;
  }

  /**
   * Fetches whatever of the file is not cached yet, so the rest of the analysis
   * reads memory. False (nothing fetched) when the file is larger than allowed.
   */
  async loadWhole(options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    if (this.size > this.options.maxWholeBytes) return false;
    for (const gap of this.gaps()) {
      const bytes = await this.fetch(gap.start, gap.end, options);
      this.keep(gap.start, bytes);
    }
    const missing = this.gaps();
    if (missing.length > 0) {
      // Storage returned less than it holds: retry the message rather than analyse a hole.
      throw new ExhibitError('storage-unavailable', `read ${this.size - missing.reduce((n, g) => n + g.end - g.start, 0)} of ${this.size} bytes of ${this.name}`);
    }
    // One buffer for the whole file: later reads are views, not copies of copies.
    if (this.segments.length > 1) {
      const whole = Buffer.concat(this.segments.map((s) => s.bytes), this.size);
      this.segments = [{ offset: 0, bytes: whole }];
    }
    return true;
  }

  private async fetch(start: number, end: number, options: { abortSignal?: AbortSignal }): Promise<Buffer> {
    const bytes = await this.inner.read(start, end - start, options);
    this.fetches += 1;
    this.bytesFetched += bytes.length;
    return bytes;
  }

  private cached(start: number, end: number): Buffer | null {
    for (const s of this.segments) {
      if (s.offset <= start && s.offset + s.bytes.length >= end) return s.bytes.subarray(start - s.offset, end - s.offset);
    }
    return null;
  }

  /** Keeps a fetched range, merged with the ranges it touches. */
  private keep(offset: number, bytes: Buffer): void {
    if (bytes.length === 0) return;
    let start = offset;
    let end = offset + bytes.length;
    const touching = this.segments.filter((s) => s.offset <= end && s.offset + s.bytes.length >= start);
    if (touching.length === 0) {
      this.segments.push({ offset, bytes });
    } else {
      for (const s of touching) {
        start = Math.min(start, s.offset);
        end = Math.max(end, s.offset + s.bytes.length);
      }
      const merged = Buffer.alloc(end - start);
      for (const s of touching) s.bytes.copy(merged, s.offset - start);
      bytes.copy(merged, offset - start);
      this.segments = this.segments.filter((s) => !touching.includes(s));
      this.segments.push({ offset: start, bytes: merged });
    }
    this.segments.sort((a, b) => a.offset - b.offset);
  }

  private gaps(): Array<{ start: number; end: number }> {
    const gaps: Array<{ start: number; end: number }> = [];
    let at = 0;
    for (const s of this.segments) {
      if (s.offset > at) gaps.push({ start: at, end: s.offset });
      at = Math.max(at, s.offset + s.bytes.length);
    }
    if (at < this.size) gaps.push({ start: at, end: this.size });
    return gaps;
  }
}
