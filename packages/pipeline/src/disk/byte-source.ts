import { open, type FileHandle } from 'node:fs/promises';
import { ExhibitError, LIMITS, errorMessage, type BlobRef, type BlobStore } from '@exhibit/core';
import type { ByteSource } from './disk-reader.types.js';

/**
 * ByteSources the disk readers stack on each other: a local file, a blob read
 * by ranges through a small block cache, a slice (one partition), and the
 * concatenation of split segments. Every read is checked against the size
 * first, so no parser can read outside what it was given.
 */

/** Throws 'corrupt-file' unless [offset, offset+length) lies inside a source of `size` bytes. */
export function checkRange(size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new ExhibitError('corrupt-file', `${what}: read of ${length} bytes at ${offset} lies outside its ${size} bytes`);
  }
  if (length > LIMITS.maxDiskReadBytes) {
    throw new ExhibitError('limit-exceeded', `${what}: a single read of ${length} bytes exceeds ${LIMITS.maxDiskReadBytes}`);
  }
}

/** A local file (the CLI, tests): read-only, the handle opened once. */
export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    const stat = await handle.stat();
    return new FileByteSource(handle, stat.size, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length, this.name);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new ExhibitError('corrupt-file', `${this.name}: file shrank while being read`);
      done += bytesRead;
    }
    return out;
  }

  spanInBase(offset: number, length: number) {
    return offset >= 0 && length >= 0 && offset + length <= this.size ? { offset, length } : null;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * Blocks of one or more blobs, least recently used first. The segments of a
 * split image share one, so the cache stays at LIMITS.diskCacheBlocks blocks
 * whatever the number of segments.
 */
export type BlockCache = Map<string, Promise<Uint8Array>>;

/** An evidence blob read by ranges, pinned to its ETag, through an LRU of a few fixed blocks. */
export class BlobByteSource implements ByteSource {
  private readonly blocks: BlockCache;
  private readonly blockBytes = LIMITS.diskCacheBlockBytes;

  constructor(
    /** The storage port, or (in a disk parser thread) ranged reads the main thread serves. */
    private readonly blobs: Pick<BlobStore, 'readRange'>,
    private readonly blob: BlobRef,
    readonly size: number,
    private readonly options: { etag?: string; abortSignal?: AbortSignal; cache?: BlockCache } = {},
  ) {
    this.blocks = options.cache ?? new Map();
  }

  private block(n: number): Promise<Uint8Array> {
    const key = `${this.blob.container}/${this.blob.name}#${n}`;
    const cached = this.blocks.get(key);
    if (cached) {
      this.blocks.delete(key);
      this.blocks.set(key, cached);
      return cached;
    }
    const start = n * this.blockBytes;
    const count = Math.min(this.blockBytes, this.size - start);
    const pending = this.blobs
      .readRange(this.blob, start, count, {
        ...(this.options.etag ? { ifMatch: this.options.etag } : {}),
        ...(this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {}),
      })
      .catch((err: unknown) => {
        this.blocks.delete(key);
        if (err instanceof ExhibitError) throw err;
        throw new ExhibitError('storage-unavailable', `read ${this.blob.container}/${this.blob.name}: ${errorMessage(err)}`, { cause: err });
      });
    this.blocks.set(key, pending);
    while (this.blocks.size > LIMITS.diskCacheBlocks) this.blocks.delete(this.blocks.keys().next().value!);
    return pending;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length, `${this.blob.container}/${this.blob.name}`);
    const out = new Uint8Array(length);
    for (let n = Math.floor(offset / this.blockBytes); n * this.blockBytes < offset + length; n += 1) {
      const block = await this.block(n);
      const from = Math.max(offset - n * this.blockBytes, 0);
      const to = Math.min(offset + length - n * this.blockBytes, block.length);
      out.set(block.subarray(from, to), n * this.blockBytes + from - offset);
    }
    return out;
  }

  spanInBase(offset: number, length: number) {
    return offset >= 0 && length >= 0 && offset + length <= this.size ? { offset, length } : null;
  }
}

/** Bytes [offset, offset+size) of another source: a partition, a file's contiguous run. */
export class SliceByteSource implements ByteSource {
  constructor(
    private readonly base: ByteSource,
    private readonly offset: number,
    readonly size: number,
  ) {
    checkRange(base.size, offset, 0, 'slice');
    if (offset + size > base.size) throw new ExhibitError('corrupt-file', `slice of ${size} bytes at ${offset} lies outside its ${base.size}-byte source`);
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'slice');
    return this.base.read(this.offset + offset, length, options);
  }

  spanInBase(offset: number, length: number) {
    if (offset < 0 || length < 0 || offset + length > this.size || !this.base.spanInBase) return null;
    return this.base.spanInBase(this.offset + offset, length);
  }
}

/** A reader of `size` bytes built from a function; for data assembled from runs or clusters. */
export function functionSource(
  size: number,
  read: (offset: number, length: number, options?: { abortSignal?: AbortSignal }) => Promise<Uint8Array>,
  spanInBase?: (offset: number, length: number) => { offset: number; length: number } | null,
): ByteSource {
  return {
    size,
    async read(offset, length, options) {
      checkRange(size, offset, length, 'data');
      return read(offset, length, options);
    },
    ...(spanInBase ? { spanInBase } : {}),
  };
}

/** Reads `length` bytes split at fixed-size pieces: `piece(i)` gives piece i, read from `within` for `count` bytes. */
export async function readPieces(
  offset: number,
  length: number,
  pieceBytes: number,
  readPiece: (index: number, within: number, count: number) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const at = offset + done;
    const index = Math.floor(at / pieceBytes);
    const within = at - index * pieceBytes;
    const count = Math.min(pieceBytes - within, length - done);
    out.set(await readPiece(index, within, count), done);
    done += count;
  }
  return out;
}

/** Little-endian readers over a byte array; a field past the end is a corrupt structure, not undefined. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function u64(dv: DataView, at: number): number {
  const value = dv.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ExhibitError('corrupt-file', `64-bit field ${value} exceeds 2^53`);
  return Number(value);
}

export function ascii(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}
