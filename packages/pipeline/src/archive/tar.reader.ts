import type { Readable } from 'node:stream';
import { ExhibitError, LIMITS, type BlobRef, type BlobStore, type FileFlag } from '@exhibit/core';
import type { DeadlineWorkerPool } from '@exhibit/core/deadline-pool';
import { abortError, ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from './archive-reader.js';
import { ArchiveThreadSession, memberStream, openFailure } from './archive-thread.session.js';
import { archivePool } from './archive.pool.js';
import type { TarListInput, TarListResult, WireArchiveEntry } from './archive.tasks.js';
import { serveFeed } from './blob-bytes.server.js';
import { DuplicateNameTracker } from './entry-name.js';

export interface TarReaderOptions {
  gzip: boolean;
  etag?: string;
  /** The archive is `size` bytes of the blob from `offset` (a TAR stored inside a ZIP, read in place). */
  span?: { offset: number; size: number };
  maxEntryNameBytes: number;
  /** Whole-stream bomb guard for tar.gz: expanded/compressed beyond this fails the archive... */
  maxCompressionRatio: number;
  /** ...once more than this many bytes have been expanded. */
  compressionRatioMinBytes: number;
  /** Holes one GNU sparse member may expand to (LIMITS.maxSparseHoleBytes by default). */
  maxSparseHoleBytes?: number;
  abortSignal?: AbortSignal;
  /** Step budget of the parser thread (LIMITS.archiveParseStepMs by default; tests shrink it). */
  archiveParseStepMs?: number;
  /** Another pool (tests). */
  pool?: DeadlineWorkerPool;
}

/**
 * TAR and TAR.GZ, streamed front to back from the blob. tar-stream, gunzip
 * and the bomb guard never run here: they run in an archive parser thread
 * (tar.parser.ts) under the step budget LIMITS.archiveParseStepMs and a heap
 * limit. This side opens the blob's read stream (pinned to its ETag) and
 * hands the thread its pieces as it asks for them, keeps the duplicate-name
 * check, and takes entries and member chunks one at a time. Entries must be
 * taken in order; a member left unread is skipped by the thread.
 */
export async function openTarReader(blobs: BlobStore, blob: BlobRef, options: TarReaderOptions): Promise<ArchiveReader> {
  return new ThreadedTarReader(blobs, blob, options);
}

class ThreadedTarReader implements ArchiveReader {
  readonly format: 'tar' | 'tar.gz';
  /** Known only once the listing has reached the archive's end (bytes after its end-of-archive marker). */
  readonly findings: FileFlag[] = [];
  private source: Readable | undefined;

  constructor(
    private readonly blobs: BlobStore,
    private readonly blob: BlobRef,
    private readonly options: TarReaderOptions,
  ) {
    this.format = options.gzip ? 'tar.gz' : 'tar';
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<ArchiveEntry> {
    const signal = options.abortSignal ?? this.options.abortSignal;
    const source = await this.blobs.openRead(this.blob, {
      ...(this.options.span ? { offset: this.options.span.offset, count: this.options.span.size } : {}),
      ...(this.options.etag ? { ifMatch: this.options.etag } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    });
    this.source = source;
    const feed = serveFeed(source, this.blob);
    const input: TarListInput = {
      gzip: this.options.gzip,
      maxEntryNameBytes: this.options.maxEntryNameBytes,
      maxCompressionRatio: this.options.maxCompressionRatio,
      compressionRatioMinBytes: this.options.compressionRatioMinBytes,
      maxSparseHoleBytes: this.options.maxSparseHoleBytes ?? LIMITS.maxSparseHoleBytes,
    };
    const session = new ArchiveThreadSession(this.options.pool ?? archivePool(), 'tar-list', input, {
      label: `${this.format} reader`,
      timeoutMs: this.options.archiveParseStepMs ?? LIMITS.archiveParseStepMs,
      ...(signal ? { abortSignal: signal } : {}),
      serveBytes: feed,
    });
    // A deadline or shutdown ends the read wherever it waits: the pool stops the thread, and a stalled stream is let go.
    const onAbort = () => source.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    const duplicates = new DuplicateNameTracker();
    let index = 0;
    try {
      for (let request = await session.exchange(null); ; request = await session.exchange({ op: 'next' })) {
        if (request.t === 'failed') throw request.error;
        if (request.t === 'done') {
          for (const finding of (request.value as TarListResult | null)?.findings ?? []) if (!this.findings.includes(finding)) this.findings.push(finding);
          return;
        }
        // What is left of a member the stage stopped reading early: 'next' tells the thread to skip it.
        if (request.t !== 'entry') continue;
        if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
        if (signal?.aborted) throw abortError(signal);
        yield this.toArchiveEntry(request.entry, index, duplicates, session);
        index += 1;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await session.end();
    }
  }

  private toArchiveEntry(wire: WireArchiveEntry, index: number, duplicates: DuplicateNameTracker, session: ArchiveThreadSession): ArchiveEntry {
    const flags: FileFlag[] = [...wire.flags];
    const duplicateOf = duplicates.check(wire.displayPath, index);
    if (duplicateOf !== undefined) flags.push('duplicate-name');
    const label = `tar entry ${index}`;
    let opened = false;
    return {
      index,
      recordedName: wire.recordedName,
      displayPath: wire.displayPath,
      name: wire.name,
      extension: wire.extension,
      kind: wire.kind,
      declaredSize: wire.declaredSize,
      compressedSize: null,
      times: wire.times,
      flags,
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      ...(wire.linkTarget !== undefined ? { linkTarget: wire.linkTarget } : {}),
      encrypted: false,
      ...(wire.checkedBefore !== undefined ? { checkedBefore: wire.checkedBefore } : {}),
      open: async (): Promise<Readable> => {
        if (wire.kind !== 'file') throw new ExhibitError('invalid-argument', `${label} is a ${wire.kind}, it has no content`);
        if (opened) throw new ExhibitError('invalid-argument', `${label} was already opened; tar is read once, in order`);
        opened = true;
        const event = await session.exchange({ op: 'open' });
        if (event.t !== 'opened') throw openFailure(event, label);
        return memberStream(session, label);
      },
    };
  }

  async close(): Promise<void> {
    this.source?.destroy();
  }
}
