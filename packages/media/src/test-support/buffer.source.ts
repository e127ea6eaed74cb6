import type { RandomAccessSource } from '@exhibit/core';

/**
 * A RandomAccessSource over bytes in memory that records every read, so tests
 * can check how much of a file an adapter touched. `url` is optional: only
 * the tools that need one (ffprobe/ffmpeg) call it.
 */
export class BufferSource implements RandomAccessSource {
  readonly reads: Array<{ offset: number; length: number }> = [];
  readonly size: number;

  constructor(
    private readonly bytes: Buffer,
    readonly name = 'evidence.bin',
    private readonly urlOf?: () => string,
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number, options: { abortSignal?: AbortSignal } = {}): Promise<Buffer> {
    options.abortSignal?.throwIfAborted();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`bad read ${offset}+${length}`);
    }
    this.reads.push({ offset, length });
    return Buffer.from(this.bytes.subarray(offset, Math.min(offset + length, this.bytes.length)));
  }

  async url(): Promise<string> {
    if (!this.urlOf) throw new Error('this test source has no URL');
    return this.urlOf();
  }

  /** Highest byte offset any read reached (exclusive). */
  get highestOffsetRead(): number {
    return this.reads.reduce((max, r) => Math.max(max, Math.min(r.offset + r.length, this.size)), 0);
  }

  get bytesRead(): number {
    return this.reads.reduce((sum, r) => sum + Math.max(0, Math.min(r.offset + r.length, this.size) - r.offset), 0);
  }
}
