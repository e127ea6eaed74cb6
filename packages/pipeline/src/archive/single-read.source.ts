import { Readable } from 'node:stream';
import { ExhibitError, errorMessage, sameEtag, type BlobRef, type BlobStore, type ReadOptions } from '@exhibit/core';

/** Bytes kept behind the pass's position, for reads that step back a little (a ZIP header's block, a re-read). */
export const SINGLE_READ_WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * A ranged read starting up to this far past the pass's position moves the
 * pass there (the bytes in between are hashed and dropped); one starting
 * farther is read from storage on the side (a ZIP's end record and central
 * directory at the end of the blob), and the pass stays where it is.
 */
export const SINGLE_READ_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * The window may grow past SINGLE_READ_WINDOW_BYTES while a reader still
 * holds bytes in it (a range being copied out, a member stream not yet at its
 * end), but never past this: a reader that falls behind it reads storage.
 */
export const SINGLE_READ_MAX_HELD_BYTES = 4 * SINGLE_READ_WINDOW_BYTES;

export interface SingleReadOptions {
  /** The blob's size as received; the pass must see exactly this many bytes. */
  size: number;
  /** Every read, pass and side, is pinned to this ETag: a changed blob fails with precondition-failed. */
  etag: string;
  /** Takes every byte of the blob once, in order (the upload's hash). Awaited: it is the pass's backpressure. */
  consume(chunk: Buffer): Promise<void>;
  abortSignal?: AbortSignal;
  windowBytes?: number;
  aheadBytes?: number;
  /**
   * A stream starting farther ahead than `aheadBytes` is read from storage on
   * the side instead of moving the pass there: for a later segment of a split
   * image, whose pass must not read a whole segment (hashing it) while a
   * parser thread's structure read waits (disk/later-segment-reads.source.ts).
   */
  farStreamsAside?: boolean;
  /**
   * The blob's first bytes, already read from storage under the same ETag
   * (a split image's segment head, read by a parser task before its pass
   * opened): consumed first, and the stream starts after them.
   */
  head?: Buffer;
  /**
   * Where the pass starts (0 without it): an earlier unpack attempt hashed the
   * blob up to here and saved its hash state (unpack.stage.ts UploadPass), so
   * `consume` takes the bytes from this offset on, and reads of bytes before it
   * are side reads from storage (counted as behind the window). Not with `head`.
   */
  startOffsetBytes?: number;
}

/** What the pass read, for the log, the custody entry and the bench. */
export interface SingleReadCounts {
  /** Bytes the pass read from storage (the whole blob once, when it drained; from its start offset when it resumed). */
  passBytes: number;
  /** Bytes read from storage besides the pass: far ahead of it (a ZIP's tail) or behind its window. */
  sideBytes: number;
  sideReads: number;
  /** Of the side reads, those behind the window (the reader came back to bytes already dropped). */
  behindReads: number;
}

interface Chunk {
  offset: number;
  bytes: Buffer;
}

/**
 * One front-to-back read of an uploaded archive that serves both its hash and
 * its unpacking. The blob is streamed once from offset 0 (or from
 * `startOffsetBytes`, where an earlier attempt's saved hash state ends),
 * pinned to its ETag; every chunk from there goes to `consume` (the upload's
 * hasher: node:crypto's threads, or hash-wasm when the pass resumes across
 * continuations) in order, exactly once, and
 * is kept in a bounded window while the archive reader's ranged reads and
 * streams are served from it. A read past the window's end moves the pass
 * forward; a read far ahead (the ZIP's central directory, read first) or
 * behind the window goes to storage on the side, and is counted. `drain`
 * reads whatever the reader did not need, so the hash covers every byte.
 *
 * The archive readers (zip.reader.ts, tar.reader.ts) read through a BlobStore,
 * so this source hands them one (`blobStore()`) in which the archive's blob
 * is served by the pass and every other call goes to the real store.
 */
export class SingleReadSource {
  private readonly windowBytes: number;
  private readonly aheadBytes: number;
  private readonly chunks: Chunk[] = [];
  /** Bytes of the blob the pass has read and handed to `consume`. */
  private position = 0;
  private windowBytesHeld = 0;
  private body: AsyncIterator<unknown> | null = null;
  private stream: Readable | null = null;
  private pulling: Promise<boolean> | null = null;
  /** Offsets readers are still copying from: the window keeps them (up to SINGLE_READ_MAX_HELD_BYTES). */
  private readonly holds = new Map<number, number>();
  private nextHold = 0;
  private failure: unknown = null;
  private closed = false;
  readonly counts: SingleReadCounts = { passBytes: 0, sideBytes: 0, sideReads: 0, behindReads: 0 };

  constructor(
    private readonly blobs: BlobStore,
    readonly blob: BlobRef,
    private readonly options: SingleReadOptions,
  ) {
    this.windowBytes = options.windowBytes ?? SINGLE_READ_WINDOW_BYTES;
    this.aheadBytes = options.aheadBytes ?? SINGLE_READ_AHEAD_BYTES;
    const start = options.startOffsetBytes ?? 0;
    if (!Number.isSafeInteger(start) || start < 0 || start > options.size || (start > 0 && options.head)) {
      throw new ExhibitError('invalid-argument', `bad start ${start} of a single read of ${options.size} bytes`);
    }
    this.position = start;
  }

  /** Where this pass started (an earlier attempt hashed the bytes before it). */
  get startOffsetBytes(): number {
    return this.options.startOffsetBytes ?? 0;
  }

  get size(): number {
    return this.options.size;
  }

  /** Bytes of the blob the pass has read (and consumed) so far. */
  get passed(): number {
    return this.position;
  }

  /** Whether the pass has read (and consumed) the whole blob. */
  get complete(): boolean {
    return this.position >= this.options.size;
  }

  /**
   * Reads `count` bytes from `offset` (fewer only at the end of the blob).
   * `abortSignal` stops this read (a structure read whose task ran out of
   * time), not the pass, as for openRange: without it a read just ahead of a
   * pass held up by its hash waited for the pass whatever its caller's
   * deadline said.
   */
  async readRange(offset: number, count: number, options: { abortSignal?: AbortSignal } = {}): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(count) || count < 0) {
      throw new ExhibitError('invalid-argument', `bad range ${offset}+${count}`);
    }
    options.abortSignal?.throwIfAborted();
    const end = Math.min(offset + count, this.options.size);
    if (end <= offset) return Buffer.alloc(0);
    if (end - offset > this.windowBytes || offset > this.position + this.aheadBytes) return this.side(offset, end, false, options.abortSignal);
    if (offset < this.windowStart()) return this.side(offset, end, true, options.abortSignal);
    const hold = this.hold(offset);
    try {
      while (this.position < end) if (!(await this.pullUnless(options.abortSignal))) break;
      // The window dropped the start while this read waited (another reader held more): read it from storage.
      if (offset < this.windowStart()) return await this.side(offset, end, true, options.abortSignal);
      if (this.position < end) throw this.short();
      return this.copy(offset, end);
    } finally {
      this.holds.delete(hold);
    }
  }

  /**
   * Streams `count` bytes from `offset` (to the end without `count`). A
   * member's data: served by the pass, which jumps forward to it when it
   * starts far ahead (the bytes in between are hashed, and a later read of
   * them goes to storage); only a stream starting behind the window is read
   * from storage. `abortSignal` stops this stream (a member or follow read
   * given up on: its unpack's budget ran out), not the pass: it stops waiting
   * for the pass at once, so a stream far ahead does not move the pass through
   * the whole gap first; the pass goes on for the hash (`drain`).
   */
  openRange(offset: number, count?: number, options: { abortSignal?: AbortSignal } = {}): Readable {
    const end = Math.min(count === undefined ? this.options.size : offset + count, this.options.size);
    if (!(offset >= 0) || end <= offset) return Readable.from([]);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    async function* pieces(): AsyncGenerator<Buffer> {
      let at = offset;
      const hold = self.hold(at);
      try {
        while (at < end) {
          options.abortSignal?.throwIfAborted();
          if (at < self.windowStart()) {
            // Behind the window (from the start, or dropped while this stream waited): the rest from storage.
            yield* self.sideStream(at, end, options.abortSignal);
            return;
          }
          if (self.options.farStreamsAside && at > self.position + self.aheadBytes) {
            yield* self.sideStream(at, end, options.abortSignal, false);
            return;
          }
          if (at >= self.position && !(await self.pullUnless(options.abortSignal))) throw self.short();
          if (at >= self.position) continue;
          const piece = self.copy(at, Math.min(end, self.position, at + 1024 * 1024));
          at += piece.length;
          self.holds.set(hold, at);
          yield piece;
        }
      } finally {
        self.holds.delete(hold);
      }
    }
    return Readable.from(pieces(), { objectMode: false });
  }

  /** Reads the rest of the blob into `consume`, so the hash covers every byte. */
  async drain(): Promise<void> {
    while (await this.pull()) {
      // Nothing more will be read from the window.
      this.trim();
    }
    if (!this.complete) throw this.short();
  }

  /** Stops the pass; later reads fail. */
  close(): void {
    this.closed = true;
    this.stream?.destroy();
    this.chunks.length = 0;
    this.windowBytesHeld = 0;
  }

  /**
   * A BlobStore in which `blob` is read through this pass (ranged reads and
   * streams; the reader's ETag condition is the pass's own) and everything
   * else goes to `blobs`.
   */
  blobStore(): BlobStore {
    const same = (ref: BlobRef) => ref.container === this.blob.container && ref.name === this.blob.name;
    const inner = this.blobs;
    const store: BlobStore = {
      getProperties: (ref, options) => inner.getProperties(ref, options),
      exists: (ref, options) => inner.exists(ref, options),
      list: (container, options) => inner.list(container, options),
      upload: (ref, data, options) => inner.upload(ref, data, options),
      copy: (from, to, options) => inner.copy(from, to, options),
      delete: (ref, options) => inner.delete(ref, options),
      readUrl: (ref, options) => inner.readUrl(ref, options),
      ensureContainer: (container) => inner.ensureContainer(container),
      readRange: async (ref, offset, count, options) => {
        if (!same(ref)) return inner.readRange(ref, offset, count, options);
        this.checkEtag(options?.ifMatch);
        return this.readRange(offset, count, options?.abortSignal ? { abortSignal: options.abortSignal } : {});
      },
      openRead: async (ref, options: ReadOptions = {}) => {
        if (!same(ref)) return inner.openRead(ref, options);
        this.checkEtag(options.ifMatch);
        return this.openRange(options.offset ?? 0, options.count, options.abortSignal ? { abortSignal: options.abortSignal } : {});
      },
    };
    return store;
  }

  private checkEtag(ifMatch: string | undefined): void {
    // The reader was opened on properties read at the same time; a different ETag means the blob changed in between.
    if (ifMatch !== undefined && !sameEtag(ifMatch, this.options.etag)) {
      throw new ExhibitError('precondition-failed', `${this.blob.container}/${this.blob.name} changed (ETag ${ifMatch}, the pass reads ${this.options.etag})`);
    }
  }

  private windowStart(): number {
    return this.chunks[0]?.offset ?? this.position;
  }

  private hold(offset: number): number {
    const id = this.nextHold++;
    this.holds.set(id, offset);
    return id;
  }

  /** Reads the next chunk of the pass into the window and `consume`; false at the end of the blob. */
  private pull(): Promise<boolean> {
    this.pulling ??= this.pullOnce().finally(() => {
      this.pulling = null;
    });
    return this.pulling;
  }

  /**
   * The next pull, or the signal's reason as soon as it aborts: the pull
   * itself is not abandoned (the pass and its hash go on), only this wait.
   */
  private pullUnless(signal: AbortSignal | undefined): Promise<boolean> {
    if (!signal) return this.pull();
    signal.throwIfAborted();
    const pulling = this.pull();
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // A pull that fails after this wait was given up is kept as the pass's failure (pullOnce), not left unhandled here.
    pulling.catch(() => undefined);
    return Promise.race([pulling, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
  }

  private async pullOnce(): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new ExhibitError('aborted', 'the single read of the archive was closed');
    if (this.position >= this.options.size) return false;
    try {
      const head = this.options.head;
      if (!this.body && this.position === 0 && head && head.length > 0 && head.length <= this.options.size) {
        await this.options.consume(head);
        this.chunks.push({ offset: 0, bytes: head });
        this.windowBytesHeld += head.length;
        this.position = head.length;
        return true;
      }
      if (!this.body) {
        this.stream = await this.blobs.openRead(this.blob, {
          ...(this.position > 0 ? { offset: this.position } : {}),
          ifMatch: this.options.etag,
          ...(this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {}),
        });
        this.body = this.stream[Symbol.asyncIterator]();
      }
      const next = await this.body.next();
      if (next.done) return false;
      let bytes = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
      // Storage must not give more than it said it holds; what is past the recorded size is not the evidence.
      if (this.position + bytes.length > this.options.size) {
        throw new ExhibitError('storage-unavailable', `read more than the ${this.options.size} bytes of ${this.blob.container}/${this.blob.name}`);
      }
      if (bytes.length === 0) return true;
      await this.options.consume(bytes);
      this.chunks.push({ offset: this.position, bytes });
      this.windowBytesHeld += bytes.length;
      this.position += bytes.length;
      this.counts.passBytes += bytes.length;
      this.trim();
      return true;
    } catch (err) {
      this.failure = asStorageError(err, this.blob);
      this.stream?.destroy();
      throw this.failure;
    }
  }

  /** Drops chunks wholly behind the window, unless a reader holds them (and the held bytes are within bounds). */
  private trim(): void {
    let keepFrom = this.position - this.windowBytes;
    for (const offset of this.holds.values()) keepFrom = Math.min(keepFrom, offset);
    keepFrom = Math.max(keepFrom, this.position - SINGLE_READ_MAX_HELD_BYTES);
    while (this.chunks.length > 1) {
      const first = this.chunks[0]!;
      if (first.offset + first.bytes.length > keepFrom) break;
      this.chunks.shift();
      this.windowBytesHeld -= first.bytes.length;
    }
  }

  /** Bytes [start, end) from the window, which holds them. */
  private copy(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    for (const c of this.chunks) {
      const cEnd = c.offset + c.bytes.length;
      if (cEnd <= start) continue;
      if (c.offset >= end) break;
      parts.push(c.bytes.subarray(Math.max(0, start - c.offset), Math.min(c.bytes.length, end - c.offset)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, end - start);
  }

  private async side(start: number, end: number, behind: boolean, readerSignal?: AbortSignal): Promise<Buffer> {
    this.counts.sideReads += 1;
    if (behind) this.counts.behindReads += 1;
    const signals = [this.options.abortSignal, readerSignal].filter((s): s is AbortSignal => s !== undefined);
    const bytes = await this.blobs.readRange(this.blob, start, end - start, {
      ifMatch: this.options.etag,
      ...(signals.length > 0 ? { abortSignal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) } : {}),
    });
    this.counts.sideBytes += bytes.length;
    return bytes;
  }

  private async *sideStream(start: number, end: number, readerSignal: AbortSignal | undefined, behind = true): AsyncGenerator<Buffer> {
    this.counts.sideReads += 1;
    if (behind) this.counts.behindReads += 1;
    const signals = [this.options.abortSignal, readerSignal].filter((s): s is AbortSignal => s !== undefined);
    const stream = await this.blobs.openRead(this.blob, {
      offset: start,
      count: end - start,
      ifMatch: this.options.etag,
      ...(signals.length > 0 ? { abortSignal: AbortSignal.any(signals) } : {}),
    });
    try {
      for await (const chunk of stream) {
        const bytes = chunk as Buffer;
        this.counts.sideBytes += bytes.length;
        yield bytes;
      }
    } catch (err) {
      throw asStorageError(err, this.blob);
    } finally {
      stream.destroy();
    }
  }

  private short(): ExhibitError {
    // Storage ended the body before the size it reported: retry rather than hash or unpack a hole.
    return new ExhibitError('storage-unavailable', `read ${this.position} of ${this.options.size} bytes of ${this.blob.container}/${this.blob.name}`);
  }
}

/** Failures of the blob store are infrastructure faults (retryable), never evidence findings; precondition-failed stays what it is. */
function asStorageError(err: unknown, blob: BlobRef): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${errorMessage(err)}`, { cause: err });
}
