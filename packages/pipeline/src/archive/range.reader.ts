import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ARCHIVE_READ_BYTES } from './archive.tasks.js';

/** Central directory records are read a few dozen bytes at a time; fetch them in blocks. */
const BLOCK_BYTES = 256 * 1024;
/** Two access patterns interleave (central directory, member headers): a few blocks cover both. */
const CACHED_BLOCKS = 4;
/** Ranges up to this size are served from the block cache instead of their own requests. */
const SMALL_RANGE_BYTES = 64 * 1024;

/** Reads `length` bytes of the archive from `offset` (the main thread's ranged blob read). */
export type ReadRange = (offset: number, length: number) => Promise<Buffer>;

/**
 * yauzl's RandomAccessReader over ranged reads, in the archive parser thread:
 * each read is a request to the main thread (thread-link.ts), which reads the
 * blob. The archive is never copied locally nor held in memory; at most
 * CACHED_BLOCKS blocks are cached, and a member's data is read piece by
 * piece (ARCHIVE_READ_BYTES) as its stream is consumed.
 */
export class RangeReader extends yauzl.RandomAccessReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly readRange: ReadRange,
    /** Bytes of the archive. */
    private readonly size: number,
  ) {
    super();
  }

  private block(n: number): Promise<Buffer> {
    const cached = this.blocks.get(n);
    if (cached) {
      // Re-insert to mark as most recently used.
      this.blocks.delete(n);
      this.blocks.set(n, cached);
      return cached;
    }
    const start = n * BLOCK_BYTES;
    const pending = this.readRange(start, Math.min(BLOCK_BYTES, this.size - start));
    pending.catch(() => this.blocks.delete(n));
    this.blocks.set(n, pending);
    while (this.blocks.size > CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return pending;
  }

  /** Reads up to `length` bytes; fewer only at the end of the archive (yauzl reports that as EOF). */
  async readBytes(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (!(position >= 0) || position >= end) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (let n = Math.floor(position / BLOCK_BYTES); n * BLOCK_BYTES < end; n += 1) {
      const block = await this.block(n);
      const from = Math.max(position - n * BLOCK_BYTES, 0);
      const to = Math.min(end - n * BLOCK_BYTES, block.length);
      parts.push(block.subarray(from, to));
    }
    return Buffer.concat(parts);
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null, bytesRead?: number) => void,
  ): void {
    this.readBytes(position, length).then(
      (bytes) => {
        bytes.copy(buffer, offset);
        callback(null, bytes.length);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const stop = Math.min(end, this.size);
    if (stop - start <= SMALL_RANGE_BYTES) {
      return Readable.from(
        (async function* (reader: RangeReader) {
          yield await reader.readBytes(start, stop - start);
        })(this),
        { objectMode: false },
      );
    }
    // A piece is asked for only when the stream wants more: backpressure reaches the main thread's reads.
    let at = start;
    const readRange = this.readRange;
    return new Readable({
      highWaterMark: 0,
      read() {
        if (at >= stop) {
          this.push(null);
          return;
        }
        const length = Math.min(ARCHIVE_READ_BYTES, stop - at);
        readRange(at, length).then(
          (bytes) => {
            at += length;
            if (bytes.length > 0) this.push(bytes);
            if (bytes.length < length || at >= stop) this.push(null);
          },
          (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
  }
}
