import type { Readable } from 'node:stream';
import { errorMessage, ExhibitError, LIMITS, type BlobRef, type BlobStore, type DiskImageVolume, type ExhibitErrorCode, type FileFlag, volumeNoteText } from '@exhibit/core';
import type { DeadlineWorkerPool, ServeResult } from '@exhibit/core/deadline-pool';
import { ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from '../archive/archive-reader.js';
import { analyseEntryName, DuplicateNameTracker } from '../archive/entry-name.js';
import { ParallelHasher } from '../multi-hash.js';
import { memberChunkStream, ParserThreadSession } from '../parser-thread.session.js';
import { diskPool } from './disk-image.pool.js';
import { storedHashesCheckable, type DiskHashTaskInput, type DiskImageFacts, type DiskRequest, type DiskTaskInput, type DiskVolumeResult, type DiskVolumeTaskInput, type WireEntry } from './disk-image.tasks.js';
import type { MediaHashes, StoredHashCheck } from './open-disk-image.js';

/**
 * A disk image seen as an archive (docs/disk-images.md, "In the pipeline"):
 * every entry the file-system readers list, volume after volume, becomes an
 * ArchiveEntry, so the unpack stage stores, counts, budgets and hands off its
 * files exactly as it does a ZIP's members.
 *
 * The readers themselves never run here: containers, volume systems and file
 * systems are parsed in the disk parser threads (disk-image.worker.ts, under
 * the budgets LIMITS.diskOpenTimeoutMs and LIMITS.diskParseStepMs and a heap
 * limit). This side does the I/O (ranged reads of the evidence blob, pinned
 * to its ETag), and takes entries and member bytes one at a time: the thread
 * waits for each answer, so at most one chunk (DISK_CHUNK_BYTES) of a member
 * is in flight. A file lying contiguous in a raw or fixed-VHD image is a span
 * of the blob (`storedSpan`, like a stored ZIP member); anything else (EWF
 * chunks, fragmented or compressed data) is produced by the thread and
 * copied to derived/ by the member store.
 *
 * One bad volume never stops the others: its failure (a hostile structure,
 * or the thread stopped: 'parse-timeout', 'parse-crashed') is kept
 * (volumes()) and the listing goes on with the next volume.
 */

export interface DiskImageReader extends ArchiveReader {
  readonly format: 'disk-image';
  /** What the image is (container, media size, EWF header), as the parser thread found it. */
  readonly image: DiskImageFacts;
  /** Each volume with the file system read and entries listed so far, or why it was not read. */
  volumes(): DiskImageVolume[];
  /** The stage ended the listing on the entry yielded last without taking it: not counted among its volume's entries. */
  lastEntryNotTaken(): void;
  /** Whether a volume's problem is a finding about it, its listing having run to its end (not a stop). */
  listedInFull(volumeIndex: number): boolean;
  /** The blobs the image was read from, in order: one, or each segment of a split image. */
  readonly segmentBlobs: ImageSegmentRecord[];
  /**
   * Hashes the media through the container and compares with what an EWF
   * image stores: the media the listing already handed on in order (entries())
   * is not read again; the rest is read now.
   */
  verify(options?: { abortSignal?: AbortSignal }): Promise<StoredHashCheck>;
  /** What was read, for the log and the bench: blob bytes per phase, and how the media hash was fed. */
  readonly readCounts: DiskReadCounts;
  /**
   * The media from `from` on, read through the container in order, chunk by
   * chunk to `take` (the resumable stored-hash check, disk/resumable-image-check.ts),
   * until its end or until `take` answers false. Returns the offset reached.
   */
  readMedia(from: number, take: (bytes: Uint8Array) => Promise<boolean>, options?: { abortSignal?: AbortSignal }): Promise<number>;
}

export interface DiskReadCounts {
  /** Bytes of the image's blobs served to the parser threads while opening and listing. */
  listingBlobBytes: number;
  /** Bytes of the image's blobs served to the stored-hash check after the listing. */
  checkBlobBytes: number;
  /** Media bytes hashed in order while the listing read them (in-order-media.source.ts). */
  mediaHashedInListing: number;
  /** Media bytes hashed after the listing, by the check's own read. */
  mediaHashedAfter: number;
  /** Member data the listing read behind the hash's cursor (media read twice). */
  mediaRereadByListing: number;
}

export interface OpenDiskImageOptions {
  /** The image's own bytes: the whole blob, or (nested in a stored ZIP member) a span of it. */
  offset?: number;
  size: number;
  /** False: the EWF stored-hash check is not fed during the listing; verify() reads all of the media after it. */
  hashMediaInListing?: boolean;
  /** Media of at least this many bytes is not fed during the listing either: its check is taken resumably (resumable-image-check.ts) after it. */
  hashMediaInListingBelowBytes?: number;
  etag?: string;
  maxEntryNameBytes: number;
  abortSignal?: AbortSignal;
  /** Parser budgets (LIMITS by default; tests shrink them). */
  diskOpenTimeoutMs?: number;
  diskParseStepMs?: number;
  /** Another pool (tests). */
  pool?: DeadlineWorkerPool;
  /**
   * The segments after the first of a split image (E02 …, .002 …), each its
   * own blob, in the item's order, each read pinned to its own ETag. The
   * first segment is `blob`, whole.
   */
  moreSegments?: ImageSegmentBlob[];
}

/** A segment as recorded with the image (disk_images.segments, custody). */
export interface ImageSegmentRecord {
  name: string;
  size: number;
  etag: string | null;
}

/** One segment of a split image: its blob, size and the ETag its reads are pinned to. */
export interface ImageSegmentBlob {
  blob: BlobRef;
  size: number;
  etag?: string;
}

/** Opens the container and volume system in a parser thread (the file systems are read as entries() reaches them). */
export async function openDiskImageReader(blobs: BlobStore, blob: BlobRef, blobSize: number, options: OpenDiskImageOptions): Promise<DiskImageReader> {
  const more = options.moreSegments ?? [];
  if (more.length > 0 && ((options.offset ?? 0) !== 0 || options.size !== blobSize)) {
    throw new ExhibitError('invalid-argument', 'a split disk image is read from whole segment blobs, never from a span of one');
  }
  if (more.length + 1 > LIMITS.maxImageSegments) {
    throw new ExhibitError('limit-exceeded', `${more.length + 1} image segments exceed ${LIMITS.maxImageSegments}`);
  }
  const fileName = (b: BlobRef) => b.name.slice(b.name.lastIndexOf('/') + 1);
  const input: DiskTaskInput = {
    blobSize,
    offset: options.offset ?? 0,
    size: options.size,
    ...(more.length > 0 ? { moreSegmentBytes: more.map((s) => s.size), segmentNames: [blob, ...more.map((s) => s.blob)].map(fileName) } : {}),
  };
  const reader = new ThreadedDiskImageReader(blobs, blob, input, options);
  await reader.open();
  return reader;
}

/** One task's conversation with its disk parser thread (parser-thread.session.ts); the thread's reads of the blob are served directly. */
class Session extends ParserThreadSession<DiskRequest, Extract<DiskRequest, { t: 'read' | 'media' }>> {}

class ThreadedDiskImageReader implements DiskImageReader {
  readonly format = 'disk-image' as const;
  image!: DiskImageFacts;
  private readonly listed: DiskImageVolume[] = [];
  private readonly volumesListedInFull = new Set<number>();
  private readonly pool: DeadlineWorkerPool;
  /** The media hash for the stored-hash check (EWF with stored hashes), fed in order by the volume tasks, then by verify(). */
  private mediaHash: ParallelHasher | null = null;
  private phase: 'listing' | 'check' = 'listing';
  readonly readCounts: DiskReadCounts = { listingBlobBytes: 0, checkBlobBytes: 0, mediaHashedInListing: 0, mediaHashedAfter: 0, mediaRereadByListing: 0 };

  constructor(
    private readonly blobs: BlobStore,
    private readonly blob: BlobRef,
    private readonly input: DiskTaskInput,
    private readonly options: OpenDiskImageOptions,
  ) {
    this.pool = options.pool ?? diskPool();
  }

  /**
   * Serves the thread's ranged reads of the blob (or of segment `segment` of a
   * split image): the only bytes it gets, checked against that blob, pinned to
   * its ETag. A segment the item does not have is refused, never guessed.
   *
   * A `follow` read (a member's data, or the media in order) is asked of the
   * store as a stream from that offset rather than a random-access range: an
   * uploaded image's single read (archive/single-read.source.ts) then moves
   * its pass forward to it, hashing the bytes in between, instead of reading
   * it on the side and the same bytes again when it drains. Structures far
   * ahead (an MFT, a later group's inode table) stay ranged reads, so they
   * never drag the pass past files still to be listed. Against storage itself
   * both are one ranged GET.
   */
  private read = async (offset: number, length: number, abortSignal: AbortSignal | undefined, segment = 0, follow = false): Promise<ServeResult> => {
    const more = this.options.moreSegments ?? [];
    if (!Number.isSafeInteger(segment) || segment < 0 || segment > more.length) {
      throw new ExhibitError('invalid-argument', `disk parser thread asked for segment ${segment + 1} of an image of ${more.length + 1}`);
    }
    const target = segment === 0 ? { blob: this.blob, size: this.input.blobSize, etag: this.options.etag } : more[segment - 1]!;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > target.size || length > LIMITS.maxDiskReadBytes) {
      throw new ExhibitError('invalid-argument', `disk parser thread asked for bytes ${offset}+${length}, outside the ${target.size}-byte image blob${more.length > 0 ? ` (segment ${segment + 1})` : ''}`);
    }
    const options = { ...(target.etag ? { ifMatch: target.etag } : {}), ...(abortSignal ? { abortSignal } : {}) };
    const chunk = follow && length > 0 ? await readStream(this.blobs, target.blob, offset, length, options) : await this.blobs.readRange(target.blob, offset, length, options);
    const bytes = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    if (this.phase === 'listing') this.readCounts.listingBlobBytes += bytes.byteLength;
    else this.readCounts.checkBlobBytes += bytes.byteLength;
    return { value: bytes, transfer: [bytes] };
  };

  /**
   * Media bytes a volume task hands on in order for the stored-hash check. A
   * task run again (its thread died before handing over an entry) hands on
   * bytes already taken: those are skipped. Bytes that do not follow what was
   * hashed are refused (the thread then leaves the rest to verify()).
   */
  private takeMedia = async (offset: number, bytes: ArrayBuffer): Promise<ServeResult> => {
    const hasher = this.mediaHash;
    const have = hasher?.bytes ?? 0;
    if (!hasher || !Number.isSafeInteger(offset) || offset < 0 || offset > have || offset + bytes.byteLength > this.image.mediaBytes) {
      throw new ExhibitError('invalid-argument', `disk parser thread handed on media bytes ${offset}+${bytes.byteLength}, not following the ${have} hashed`);
    }
    const skip = have - offset;
    if (skip < bytes.byteLength) {
      await hasher.update(new Uint8Array(bytes, skip));
      this.readCounts.mediaHashedInListing += bytes.byteLength - skip;
    }
    // Progress, unlike a byte range served: only bytes that follow are taken, so a thread can renew the step
    // budget this way at most once per MiB of media. Without it, the media taken up to a file far into the
    // disk would all count against one step.
    return { value: null, renew: skip < bytes.byteLength };
  };

  private session(kind: string, input: unknown, label: string, timeoutMs: number, abortSignal: AbortSignal | undefined): Session {
    const signal = abortSignal ?? this.options.abortSignal;
    return new Session(this.pool, kind, input, {
      label,
      timeoutMs,
      ...(signal ? { abortSignal: signal } : {}),
      served: ['read', 'media'],
      serve: (request) =>
        request.t === 'media' ? this.takeMedia(request.offset, request.bytes) : this.read(request.offset, request.length, signal, request.segment ?? 0, request.follow === true),
    });
  }

  async open(): Promise<void> {
    this.image = await this.pool.run<DiskImageFacts>('disk-open', this.input, {
      label: 'disk image reader (container and volumes)',
      timeoutMs: this.options.diskOpenTimeoutMs ?? LIMITS.diskOpenTimeoutMs,
      ...(this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {}),
      serve: (raw) => {
        const request = raw as DiskRequest;
        if (request.t !== 'read') return Promise.reject(new ExhibitError('invalid-argument', `disk parser thread sent '${request.t}' while opening the image`));
        return this.read(request.offset, request.length, this.options.abortSignal, request.segment ?? 0, request.follow === true);
      },
    });
    // Not when told otherwise (a resumed unpack): the feed would read the media from its start up to the first member this
    // attempt reads, before it reads it, on every continuation; the check then reads the whole media after the listing.
    const below = this.options.hashMediaInListingBelowBytes;
    const resumableCheck = below !== undefined && this.image.mediaBytes >= below;
    if (storedHashesCheckable(this.image.ewf) && this.options.hashMediaInListing !== false && !resumableCheck) this.mediaHash = new ParallelHasher();
  }

  get segmentBlobs(): ImageSegmentRecord[] {
    const first = { name: this.blob.name, size: this.input.blobSize, etag: this.options.etag ?? null };
    return [first, ...(this.options.moreSegments ?? []).map((s) => ({ name: s.blob.name, size: s.size, etag: s.etag ?? null }))];
  }

  listedInFull(volumeIndex: number): boolean {
    return this.volumesListedInFull.has(volumeIndex);
  }

  /**
   * The stage ended the listing on the entry entries() yielded last without taking it (no member recorded for it: a budget,
   * a limit, a walk over recorded members only): it is not counted among its volume's entries, which count the entries
   * taken (regression budget-stopped-volume-recorded-with-wrong-entries).
   */
  lastEntryNotTaken(): void {
    const volume = this.listed.at(-1);
    if (volume && volume.entries > 0) volume.entries -= 1;
  }

  volumes(): DiskImageVolume[] {
    const seen = new Set(this.listed.map((v) => v.index));
    // Volumes entries() never reached (a stop before them) are listed unread.
    const unread = this.image.volumes
      .filter((v) => !seen.has(v.index))
      .map((v) => ({ ...v, fileSystem: null, problem: null, entries: 0 }));
    return [...this.listed, ...unread].map((v) => ({ ...v }));
  }

  async verify(options: { abortSignal?: AbortSignal } = {}): Promise<StoredHashCheck> {
    const stored = this.image.ewf?.storedHashes ?? {};
    const computed = await this.hashMedia(options.abortSignal);
    return {
      stored,
      computed,
      md5Matches: stored.md5 ? stored.md5 === computed.md5 : null,
      sha1Matches: stored.sha1 ? stored.sha1 === computed.sha1 : null,
    };
  }

  /**
   * MD5, SHA-1 and SHA-256 of the media as the thread reads it through the
   * container, hashed in the hash threads (multi-hash.ts): the media the
   * volume tasks handed on in order is already in the hash; the rest is read
   * here.
   */
  private async hashMedia(abortSignal: AbortSignal | undefined): Promise<MediaHashes> {
    const hasher = this.mediaHash ?? new ParallelHasher();
    this.mediaHash = null;
    this.phase = 'check';
    const from = hasher.bytes;
    const input: DiskHashTaskInput = { ...this.input, from };
    const session = this.session('disk-hash', input, 'disk image reader (media)', this.options.diskParseStepMs ?? LIMITS.diskParseStepMs, abortSignal);
    try {
      for (let request = await session.exchange(null); ; request = await session.exchange({ op: 'more' })) {
        if (request.t === 'failed') throw request.error;
        if (request.t !== 'chunk') throw new ExhibitError('corrupt-file', `the disk parser thread ended the media after ${hasher.bytes} of ${this.image.mediaBytes} bytes`);
        if (request.bytes.byteLength > 0) await hasher.update(new Uint8Array(request.bytes));
        if (request.last) break;
      }
      await session.end();
      this.readCounts.mediaHashedAfter += hasher.bytes - from;
      if (hasher.bytes !== this.image.mediaBytes) throw new ExhibitError('corrupt-file', `the media hash took ${hasher.bytes} of ${this.image.mediaBytes} bytes`);
      return { ...(await hasher.digest()), bytes: this.image.mediaBytes };
    } catch (err) {
      hasher.dispose();
      await session.end();
      throw err;
    }
  }

  async readMedia(from: number, take: (bytes: Uint8Array) => Promise<boolean>, options: { abortSignal?: AbortSignal } = {}): Promise<number> {
    const media = this.image.mediaBytes;
    if (!Number.isSafeInteger(from) || from < 0 || from > media) throw new ExhibitError('invalid-argument', `media offset ${from} is outside the ${media}-byte media`);
    this.phase = 'check';
    if (from === media) return from;
    const input: DiskHashTaskInput = { ...this.input, from };
    const session = this.session('disk-hash', input, 'disk image reader (media, resumable check)', this.options.diskParseStepMs ?? LIMITS.diskParseStepMs, options.abortSignal);
    let at = from;
    try {
      for (let request = await session.exchange(null); ; request = await session.exchange({ op: 'more' })) {
        if (request.t === 'failed') throw request.error;
        if (request.t !== 'chunk') throw new ExhibitError('corrupt-file', `the disk parser thread ended the media after ${at} of ${media} bytes`);
        const bytes = new Uint8Array(request.bytes);
        if (at + bytes.byteLength > media) throw new ExhibitError('corrupt-file', `the disk parser thread sent media past its ${media} bytes`);
        at += bytes.byteLength;
        this.readCounts.mediaHashedAfter += bytes.byteLength;
        const more = await take(bytes);
        if (request.last) {
          if (at !== media) throw new ExhibitError('corrupt-file', `the media hash took ${at} of ${media} bytes`);
          break;
        }
        if (!more) break;
      }
    } finally {
      await session.end();
    }
    return at;
  }

  async close(): Promise<void> {
    this.mediaHash?.dispose();
    this.mediaHash = null;
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncGenerator<ArchiveEntry> {
    const several = this.image.volumes.length > 1;
    const duplicates = new DuplicateNameTracker();
    const stepMs = this.options.diskParseStepMs ?? LIMITS.diskParseStepMs;
    let index = 0;
    for (const v of this.image.volumes) {
      const listed: DiskImageVolume = { ...v, fileSystem: null, problem: null, entries: 0 };
      this.listed.push(listed);
      const input: DiskVolumeTaskInput = { ...this.input, volumeIndex: v.index, ...(this.mediaHash ? { hashMediaFrom: this.mediaHash.bytes } : {}) };
      const session = this.session('disk-volume', input, `disk image reader (volume ${v.index})`, stepMs, options.abortSignal);
      try {
        for (let request = await session.exchange(null); ; request = await session.exchange({ op: 'next' })) {
          if (request.t === 'failed') {
            const err = request.error;
            // A thread stopped on this volume's structures fails the volume, like a hostile structure does.
            if (err instanceof ExhibitError && (err.code === 'parse-timeout' || err.code === 'parse-crashed')) {
              listed.problem = { code: err.code, message: err.message };
              break;
            }
            throw err;
          }
          if (request.t === 'done') {
            const result = request.value as DiskVolumeResult;
            listed.fileSystem = result.fileSystem;
            if (result.problem) {
              const { listedInFull, ...problem } = result.problem;
              listed.problem = problem;
              if (listedInFull) this.volumesListedInFull.add(v.index);
            }
            // Said in the image's record beside the volume system's notes (never a problem: nothing failed).
            for (const n of result.notes ?? []) this.image.volumeProblems.push(volumeNoteText(`volume ${v.index}`, n.code, n.message));
            this.readCounts.mediaRereadByListing += result.mediaFeed?.rereadBytes ?? 0;
            break;
          }
          // Chunks of a member the stage stopped reading early: 'next' tells the thread to skip the rest.
          if (request.t !== 'entry') continue;
          // The file system opened: named in the volume's record even when the stage ends the listing before the volume's 'done'
          // (regression budget-stopped-volume-recorded-with-wrong-entries).
          listed.fileSystem = request.fileSystem;
          if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
          options.abortSignal?.throwIfAborted();
          const prefix = several ? `vol${v.index}/` : '';
          const member = this.toArchiveEntry(request.entry, index, prefix, duplicates, session);
          index += 1;
          listed.entries += 1;
          yield member;
        }
      } finally {
        await session.end();
      }
    }
  }

  private toArchiveEntry(entry: WireEntry, index: number, prefix: string, duplicates: DuplicateNameTracker, session: Session): ArchiveEntry {
    // The readers' paths are hostile text like any archive's names: normalised and escaped the same way.
    const { flags: nameFlags, ...naming } = analyseEntryName(`${prefix}${entry.path}`, { maxNameBytes: this.options.maxEntryNameBytes, entryIndex: index });
    const flags = new Set<FileFlag>(nameFlags);
    if (!entry.allocated) flags.add('deleted');
    if (entry.recovered) flags.add('recovered');
    if (entry.problemCode === 'limit-exceeded') flags.add('limit-exceeded');
    const duplicateOf = duplicates.check(naming.displayPath, index);
    if (duplicateOf !== undefined) flags.add('duplicate-name');
    const imageOffset = this.input.offset;
    const out: ArchiveEntry = {
      ...naming,
      index,
      kind: entry.kind,
      declaredSize: entry.size,
      compressedSize: null,
      times: entry.times,
      flags: [...flags],
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      ...(entry.kind === 'symlink' && entry.linkTarget !== undefined ? { linkTarget: entry.linkTarget } : {}),
      encrypted: false,
      async open() {
        const first = await session.exchange({ op: 'open' });
        if (first.t === 'data-error') throw dataError(first);
        if (first.t === 'failed') throw first.error;
        if (first.t !== 'chunk') throw new ExhibitError('corrupt-file', `${entry.path}: the disk parser thread sent no data for this entry`);
        const span = first.span;
        // A raw image split over several blobs gives the segment index; only the first segment is this blob.
        if (span && (span.segment ?? 0) === 0 && span.offset >= imageOffset) {
          out.storedSpan = { offset: span.offset - imageOffset, length: span.length };
        }
        return memberStream(session, first);
      },
    };
    if (entry.kind === 'symlink') out.flags.push('link');
    return out;
  }
}

/** Exactly `length` bytes from `offset`, read as a stream (a short body is a storage fault, retried, never a short read). */
async function readStream(blobs: BlobStore, blob: BlobRef, offset: number, length: number, options: { ifMatch?: string; abortSignal?: AbortSignal }): Promise<Buffer> {
  const stream = await blobs.openRead(blob, { offset, count: length, ...options });
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      parts.push(bytes);
      got += bytes.length;
      if (got > length) break;
    }
  } catch (err) {
    if (err instanceof ExhibitError) throw err;
    throw new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${errorMessage(err)}`, { cause: err });
  } finally {
    stream.destroy();
  }
  if (got !== length) throw new ExhibitError('storage-unavailable', `read ${got} of the ${length} bytes at ${offset} of ${blob.container}/${blob.name}`);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
}

/** A member's bytes as the thread sends them, after the first chunk (the answer to 'open'), a chunk at a time. */
function memberStream(session: Session, first: Extract<DiskRequest, { t: 'chunk' }>): Readable {
  return memberChunkStream(session, {
    first,
    failure: (event) => {
      if (event.t === 'data-error') return dataError(event);
      if (event.t === 'failed') return event.error;
      return new ExhibitError('corrupt-file', 'the disk parser thread ended a member before its last byte');
    },
  });
}

/** A member's data-error from the parser thread, back to its type with its details (isMediaDamage reads details.reason). */
function dataError(event: Extract<DiskRequest, { t: 'data-error' }>): ExhibitError {
  return new ExhibitError(event.code as ExhibitErrorCode, event.message, event.details ? { details: event.details } : {});
}
