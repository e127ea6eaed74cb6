import { PassThrough, Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ExhibitError, errorMessage, type BlobRef, type BlobStore } from '@exhibit/core';

/** Central directory records are read a few dozen bytes at a time; fetch them in blocks. */
const BLOCK_BYTES = 256 * 1024;
/** Two access patterns interleave (central directory, member headers): a few blocks cover both. */
const CACHED_BLOCKS = 4;
/** Ranges up to this size are served from the block cache instead of their own request. */
const SMALL_RANGE_BYTES = 64 * 1024;

export interface BlobRangeReaderOptions {
  /** Bytes of the archive (the span's length when `offset` is set). */
  size: number;
  /** Where the archive starts in the blob: a ZIP stored inside another, read in place. */
  offset?: number;
  /** Reads are pinned to this ETag, so a blob that changes mid-read fails instead of mixing versions. */
  etag?: string;
  abortSignal?: AbortSignal;
}

/**
 * yauzl's RandomAccessReader over ranged blob reads: the archive is never
 * copied locally nor held in memory; at most CACHED_BLOCKS blocks are cached.
 */
export class BlobRangeReader extends yauzl.RandomAccessReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly blob: BlobRef,
    private readonly options: BlobRangeReaderOptions,
  ) {
    super();
  }

  private readOptions() {
    return {
      ...(this.options.etag ? { ifMatch: this.options.etag } : {}),
      ...(this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {}),
    };
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
    const count = Math.min(BLOCK_BYTES, this.options.size - start);
    const pending = this.blobs.readRange(this.blob, (this.options.offset ?? 0) + start, count, this.readOptions());
    pending.catch(() => this.blocks.delete(n));
    this.blocks.set(n, pending);
    while (this.blocks.size > CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return pending;
  }

  /** Reads up to `length` bytes; fewer only at the end of the blob (yauzl reports that as EOF). */
  async readBytes(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.options.size);
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
      (err: unknown) => callback(asStorageError(err, this.blob)),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (end - start <= SMALL_RANGE_BYTES) {
      const out = new PassThrough();
      this.readBytes(start, end - start).then(
        (bytes) => out.end(bytes),
        (err: unknown) => out.destroy(asStorageError(err, this.blob)),
      );
      return out;
    }
    const out = new PassThrough();
    this.blobs.openRead(this.blob, { offset: (this.options.offset ?? 0) + start, count: end - start, ...this.readOptions() }).then(
      (source) => {
        if (out.destroyed) {
          source.destroy();
          return;
        }
        source.on('error', (err) => out.destroy(asStorageError(err, this.blob)));
        out.on('close', () => source.destroy());
        source.pipe(out);
      },
      (err: unknown) => out.destroy(asStorageError(err, this.blob)),
    );
    return out;
  }
}

/** Failures of the blob store are infrastructure faults (retryable), never evidence findings. */
function asStorageError(err: unknown, blob: BlobRef): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${errorMessage(err)}`, { cause: err });
}
