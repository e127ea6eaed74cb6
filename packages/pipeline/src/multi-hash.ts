import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ExhibitError, type Hashes } from '@exhibit/core';
import { openWorkerHashJob, type WorkerHashJob } from './hash-workers.js';

/** MD5, SHA-1 and SHA-256 over one pass of the bytes, on the calling thread. */
export class MultiHasher {
  private readonly md5: Hash = createHash('md5');
  private readonly sha1: Hash = createHash('sha1');
  private readonly sha256: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha1.update(chunk);
    this.sha256.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Hashes {
    return { md5: this.md5.digest('hex'), sha1: this.sha1.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

/** Bytes handed to the hash threads at a time; content smaller than one block is hashed inline. */
export const HASH_BLOCK_BYTES = 1024 * 1024;
/** Blocks a job may have queued in the hash threads: bounds memory at this many MiB per job. */
export const HASH_MAX_BLOCKS_IN_FLIGHT = 4;

/**
 * Blocks whose bytes the hash threads have finished with, for reuse. Shared
 * memory lives outside the JS heap, so a fresh 1 MiB block per send is
 * collected late: hashing 1 GB that way let the process grow by ~700 MiB.
 * Capped so an idle process keeps at most this many.
 */
const spareBlocks: SharedArrayBuffer[] = [];
const MAX_SPARE_BLOCKS = 16;

function takeBlock(): SharedArrayBuffer {
  return spareBlocks.pop() ?? new SharedArrayBuffer(HASH_BLOCK_BYTES);
}

function returnBlock(block: SharedArrayBuffer): void {
  if (spareBlocks.length < MAX_SPARE_BLOCKS) spareBlocks.push(block);
}

/**
 * MD5, SHA-1 and SHA-256 computed in the hash threads (see hash-workers.ts),
 * so large content neither blocks the event loop nor is limited to one core.
 * Results equal MultiHasher's. `update` resolves once the bytes are copied and
 * the threads have room; call `dispose` when giving up before `digest`.
 */
export class ParallelHasher {
  bytes = 0;
  private block = takeBlock();
  private view = Buffer.from(this.block);
  private fill = 0;
  private job: WorkerHashJob | undefined;
  private readonly inFlight: Array<Promise<void>> = [];

  async update(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(HASH_BLOCK_BYTES - this.fill, chunk.length - offset);
      this.view.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      if (this.fill === HASH_BLOCK_BYTES) await this.send();
    }
  }

  private async send(): Promise<void> {
    this.job ??= openWorkerHashJob();
    const block = this.block;
    const sent = this.job.update(block, this.fill);
    // Reused only once every thread has hashed it; after a failure it is simply dropped.
    // Awaited later (or in digest); the handler also keeps an early failure from being "unhandled" meanwhile.
    sent.then(() => returnBlock(block), () => undefined);
    this.inFlight.push(sent);
    this.block = takeBlock();
    this.view = Buffer.from(this.block);
    this.fill = 0;
    if (this.inFlight.length >= HASH_MAX_BLOCKS_IN_FLIGHT) await this.inFlight.shift();
  }

  async digest(): Promise<Hashes> {
    if (!this.job) {
      const inline = new MultiHasher();
      inline.update(this.view.subarray(0, this.fill));
      this.releaseBlock();
      return inline.digest();
    }
    if (this.fill > 0) await this.send();
    this.releaseBlock();
    await Promise.all(this.inFlight.splice(0));
    const hex = await this.job.digest();
    this.job = undefined;
    const { md5, sha1, sha256 } = hex;
    if (!md5 || !sha1 || !sha256) throw new ExhibitError('tool-unavailable', 'hash threads returned an incomplete digest');
    return { md5, sha1, sha256 };
  }

  /** Frees the threads' contexts of an abandoned hashing. */
  dispose(): void {
    this.job?.drop();
    this.job = undefined;
  }

  /** The block being filled goes back for reuse; this hasher takes no more bytes. */
  private releaseBlock(): void {
    returnBlock(this.block);
    this.block = new SharedArrayBuffer(0);
    this.view = Buffer.from(this.block);
    this.fill = 0;
  }
}

/** A pass-through stream that hashes what flows through it (in the hash threads). */
export class HashingTransform extends Transform {
  readonly hasher = new ParallelHasher();

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.hasher.update(chunk).then(() => callback(null, chunk), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (err) this.hasher.dispose();
    callback(err);
  }
}
