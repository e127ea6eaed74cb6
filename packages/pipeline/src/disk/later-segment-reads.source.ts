import { Readable } from 'node:stream';
import { errorMessage, ExhibitError, sameEtag, type BlobRef, type BlobStore, type Hashes, type UploadRecord } from '@exhibit/core';
import { SINGLE_READ_AHEAD_BYTES, SingleReadSource, type SingleReadCounts } from '../archive/single-read.source.js';
import { isEvidenceChange, recordEvidenceChanged, recordUploadHash } from '../hash.stage.js';
import { ParallelHasher } from '../multi-hash.js';
import type { StageContext, StageDeps } from '../stage.js';

/**
 * Small reads of the segments (each parser task's section chain at a
 * segment's head and tail, the same blocks in every task: open, each volume,
 * the check) kept on this side, least recently used out first, up to this
 * many bytes: otherwise they are read from storage again by every task, about
 * 2 MiB per segment per task (0.74 times an 8-MiB segment; 0.4 % of a 1.5-GB
 * one, where a set of hundreds of segments outgrows the cache anyway).
 */
const LATER_SEGMENT_BLOCK_CACHE_BYTES = 16 * 1024 * 1024;
/** Ranged reads up to this size are kept (a parser thread's structure block: diskCacheBlockBytes, 1 MiB); streams (data) are not. */
const KEPT_READ_MAX_BYTES = 1024 * 1024;

/**
 * The later segments of a declared split image (E02 …, .002 …) still
 * unhashed when their first segment's unpack starts, each read once for both
 * the listing and its upload's hash (docs/disk-images.md, "Split sets"). The
 * hash stage left them here (hash.stage.ts firstSegmentUnpackToCome).
 *
 * One segment at a time has a pass (archive/single-read.source.ts: a
 * front-to-back stream pinned to the ETag received, hashed in order, serving
 * ranged reads from a window behind it), so memory stays one window whatever
 * the set's size. The first read of a segment with no pass open opens its
 * pass; reads of another segment meanwhile go to storage, as before. Once the
 * listing's reads have carried a pass to the segment's end, its hash is
 * recorded (in the background) and the next segment read gets the pass.
 * After the listing, `settle` reads on the main side what the listing left:
 * the rest of a half-read segment, then each segment never opened, so no
 * parser thread's request waits for a hash. The hashes are recorded as the
 * hash stage records them (recordUploadHash: the same verdict against the
 * acquisition hashes, the same custody key, so once whoever hashes it); a
 * segment whose blob changed is recorded as that upload's evidence-changed.
 * What a stopped unpack (its deadline, a crash) did not hash stays pending:
 * its hash stage, re-checking, hashes it once the unpack is over, and a
 * redelivered unpack reads it again.
 */
export class LaterSegmentReads {
  /** Segments not yet read whole, by blob name, in set order. */
  private readonly left = new Map<string, UploadRecord>();
  private active: { upload: UploadRecord; source: SingleReadSource; hasher: ParallelHasher } | null = null;
  /** Hash records under way in the background; the first failure, if any, is thrown by `settle`. */
  private readonly recording: Array<Promise<void>> = [];
  private recordFailure: { error: unknown } | null = null;
  /** Segments hashed in this unpack's read, and what their passes read (the log, the bench). */
  readonly hashed: string[] = [];
  readonly counts: SingleReadCounts & { keptHits: number; keptBytes: number } = { passBytes: 0, sideBytes: 0, sideReads: 0, behindReads: 0, keptHits: 0, keptBytes: 0 };
  /** The ETag each segment was received with (every read of it is pinned to it). */
  private readonly etags = new Map<string, string>();
  /** Kept small reads by blob, offset and length; Map order is the recency order. */
  private readonly kept = new Map<string, Buffer>();
  private keptBytes = 0;

  constructor(
    private readonly deps: StageDeps,
    segments: readonly UploadRecord[],
    private readonly ctx: Pick<StageContext, 'logger' | 'abortSignal'>,
    /** The set's first segment: its small reads are kept too (its tail blocks, past its own pass, are read by every task). */
    first: UploadRecord | null = null,
  ) {
    if (first) this.etags.set(first.blobName, first.etag);
    for (const s of segments) {
      this.left.set(s.blobName, s);
      this.etags.set(s.blobName, s.etag);
    }
  }

  get pending(): number {
    return this.left.size;
  }

  /** The segments this read holds the hash of and has not hashed yet. */
  get unhashed(): UploadRecord[] {
    return [...this.left.values()];
  }

  /** A BlobStore in which the segments left are read through their passes (as said above) and everything else through `inner`. */
  blobStore(inner: BlobStore): BlobStore {
    return Object.create(inner, {
      readRange: {
        value: async (ref: BlobRef, offset: number, count: number, options?: Parameters<BlobStore['readRange']>[3]) => {
          const key = this.keyOf(ref, offset, count, options?.ifMatch);
          const hit = key === null ? null : this.hit(key);
          if (hit) return hit;
          const source = await this.sourceFor(ref);
          const bytes = source ? await source.blobStore().readRange(ref, offset, count, options) : await inner.readRange(ref, offset, count, options);
          if (key !== null) this.keep(key, bytes);
          return bytes;
        },
      },
      openRead: {
        value: async (ref: BlobRef, options: Parameters<BlobStore['openRead']>[1] = {}) => {
          const key = options.count === undefined ? null : this.keyOf(ref, options.offset ?? 0, options.count, options.ifMatch);
          const hit = key === null ? null : this.hit(key);
          if (hit) return Readable.from([hit]);
          const source = await this.sourceFor(ref);
          // Not kept: a stream is a member's or the media's data, read in order once; kept, it would push out the structure blocks.
          return source ? source.blobStore().openRead(ref, options) : inner.openRead(ref, options);
        },
      },
    }) as BlobStore;
  }

  /** The key a small read of a segment is kept under, or null (not a segment of this set, too large, not pinned to the ETag received). */
  private keyOf(ref: BlobRef, offset: number, count: number, ifMatch: string | undefined): string | null {
    if (ref.container !== this.deps.containers.evidence) return null;
    const etag = this.etags.get(ref.name);
    if (etag === undefined || !(count > 0 && count <= KEPT_READ_MAX_BYTES)) return null;
    // Only reads pinned to the ETag received: the kept bytes are that version's, never another's.
    if (ifMatch === undefined || !sameEtag(ifMatch, etag)) return null;
    return `${offset}:${count}:${ref.name}`;
  }

  /** A copy (the caller may hand its buffer to a thread), and the entry becomes the most recent. */
  private hit(key: string): Buffer | null {
    const bytes = this.kept.get(key);
    if (!bytes) return null;
    this.kept.delete(key);
    this.kept.set(key, bytes);
    this.counts.keptHits += 1;
    this.counts.keptBytes += bytes.length;
    return Buffer.from(bytes);
  }

  private keep(key: string, bytes: Buffer): void {
    if (this.kept.has(key) || bytes.length > KEPT_READ_MAX_BYTES) return;
    this.kept.set(key, Buffer.from(bytes));
    this.keptBytes += bytes.length;
    for (const [k, b] of this.kept) {
      if (this.keptBytes <= LATER_SEGMENT_BLOCK_CACHE_BYTES) break;
      this.kept.delete(k);
      this.keptBytes -= b.length;
    }
  }

  /**
   * Reads the rest of every segment left into its hash and records it; stops
   * (leaving the rest pending, for the hash stage) when the stage's deadline
   * cuts it off. Storage faults are thrown (the unpack is retried, and reads
   * again only what is still unhashed).
   */
  async settle(): Promise<void> {
    try {
      if (this.active) {
        await this.drained(this.active.upload, () => this.active!.source.drain());
        if (this.active) this.finishActive();
      }
      for (const upload of [...this.left.values()]) {
        this.active = this.open(upload);
        await this.drained(upload, () => this.active!.source.drain());
        if (this.active) this.finishActive();
      }
    } catch (err) {
      const signal = this.ctx.abortSignal;
      if (!(signal?.aborted && signal.reason instanceof ExhibitError && signal.reason.code === 'timeout')) throw err;
      this.ctx.logger.warn({ left: [...this.left.keys()].slice(0, 20), read: this.counts }, 'the unpack\'s read of its later segments was cut off by the deadline; the hash stage hashes the rest');
    } finally {
      await Promise.allSettled(this.recording);
    }
    if (this.recordFailure) throw this.recordFailure.error;
  }

  /**
   * Drops the open pass (what was not read whole stays pending) and the kept
   * blocks; waits for the hashes of segments read whole to be recorded, so an
   * unpack stopped by a fault still leaves them (a redelivery reads only the rest).
   */
  async close(): Promise<void> {
    await Promise.allSettled(this.recording);
    this.kept.clear();
    this.keptBytes = 0;
    this.dropActive();
  }

  private dropActive(): void {
    this.active?.hasher.dispose();
    this.active?.source.close();
    this.active = null;
  }

  /** Runs `drain` for the open pass; a changed segment is recorded as such, and the pass dropped. */
  private async drained(upload: UploadRecord, drain: () => Promise<void>): Promise<void> {
    try {
      await drain();
    } catch (err) {
      if (!isEvidenceChange(err)) throw err;
      this.ctx.logger.error({ blobName: upload.blobName, err: errorMessage(err) }, 'evidence blob changed during its unpack\'s read');
      this.dropActive();
      this.left.delete(upload.blobName);
      await recordEvidenceChanged(this.deps, upload);
    }
  }

  /**
   * The pass a read of `ref` goes through, or null (not a segment left, or
   * another segment's pass is open and more than SINGLE_READ_AHEAD_BYTES from
   * its end). A pass that close to its end is first read to it (as a read
   * that far ahead would move it), so the listing going on into the next
   * segment takes the pass with it rather than leaving the segment's last
   * bytes (an EWF segment's tail sections, read from this side's kept blocks)
   * to be read again after the listing, and the next segment's media to
   * storage.
   */
  private async sourceFor(ref: BlobRef): Promise<SingleReadSource | null> {
    if (ref.container !== this.deps.containers.evidence) return null;
    for (;;) {
      const upload = this.left.get(ref.name);
      if (!upload) return null;
      const active = this.active;
      if (active?.upload.blobName === ref.name) return active.source;
      if (active && !active.source.complete) {
        if (active.source.size - active.source.passed > SINGLE_READ_AHEAD_BYTES) return null;
        await this.drained(active.upload, () => active.source.drain());
        // Meanwhile another read may have switched the pass, or this segment may be done: look again.
        if (this.active === active) this.finishActive();
        continue;
      }
      if (active) this.finishActive();
      this.active = this.open(upload);
      return this.active.source;
    }
  }

  private open(upload: UploadRecord): { upload: UploadRecord; source: SingleReadSource; hasher: ParallelHasher } {
    const hasher = new ParallelHasher();
    // The segment's head, kept from a task's read of it before its pass opened: hashed from here, not read again.
    const head = this.kept.get(`0:${Math.min(KEPT_READ_MAX_BYTES, upload.size)}:${upload.blobName}`);
    const source = new SingleReadSource(
      this.deps.blobs,
      { container: this.deps.containers.evidence, name: upload.blobName },
      {
        size: upload.size,
        etag: upload.etag,
        consume: (chunk) => hasher.update(chunk),
        farStreamsAside: true,
        ...(head ? { head: Buffer.from(head) } : {}),
        ...(this.ctx.abortSignal ? { abortSignal: this.ctx.abortSignal } : {}),
      },
    );
    return { upload, source, hasher };
  }

  /**
   * The open pass has read its segment whole: its hash is recorded in the
   * background. The pass is not closed: a reader may still be copying from its
   * window (it is dropped with the last reference); reads of the segment from
   * now on go to storage.
   */
  private finishActive(): void {
    const { upload, source, hasher } = this.active!;
    this.active = null;
    this.left.delete(upload.blobName);
    for (const k of ['passBytes', 'sideBytes', 'sideReads', 'behindReads'] as const) this.counts[k] += source.counts[k];
    const recorded = this.record(upload, hasher).catch((error: unknown) => {
      this.recordFailure ??= { error };
    });
    this.recording.push(recorded);
  }

  private async record(upload: UploadRecord, hasher: ParallelHasher): Promise<void> {
    let hashes: Hashes;
    try {
      hashes = await hasher.digest();
      if (hasher.bytes !== upload.size) {
        throw new ExhibitError('storage-unavailable', `read ${hasher.bytes} bytes of ${upload.blobName}, expected ${upload.size}`);
      }
    } finally {
      hasher.dispose();
    }
    // Hashed meanwhile by its hash stage (its wait ran out): the same bytes, the same record; nothing to write twice.
    const now = await this.deps.index.getUpload(upload.blobName);
    if (now && now.integrity !== 'pending') return;
    await recordUploadHash(this.deps, upload, hashes, this.ctx);
    this.hashed.push(upload.blobName);
  }
}
