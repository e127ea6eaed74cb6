import type { Readable } from 'node:stream';
import { ExhibitError, LIMITS, type BlobRef, type BlobStore, type FileFlag } from '@exhibit/core';
import type { DeadlineWorkerPool } from '@exhibit/core/deadline-pool';
import { abortError, ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from './archive-reader.js';
import { ArchiveThreadSession, memberStream, openFailure } from './archive-thread.session.js';
import { archivePool } from './archive.pool.js';
import type { WireArchiveEntry, ZipArchiveFinding, ZipFacts, ZipListInput, ZipMemberInput, ZipOpenInput } from './archive.tasks.js';
import { serveRange } from './blob-bytes.server.js';
import { DuplicateNameTracker } from './entry-name.js';

export type { ZipArchiveFinding } from './archive.tasks.js';

export interface ZipReaderOptions {
  /** Size of the blob, from its properties (never from the archive), or of the span when `offset` is set. */
  size: number;
  /** Where the archive starts in the blob (a ZIP stored inside another, read in place). */
  offset?: number;
  etag?: string;
  maxEntryNameBytes: number;
  /**
   * The configured entry limit (StageDeps.limits.maxArchiveEntries; LIMITS by default): central directory entries read
   * ahead for the overlap check (more stop the archive anyway), and the cap of each chain ZIP's span of entry indexes.
   */
  maxEntries?: number;
  abortSignal?: AbortSignal;
  /** Parser budgets (LIMITS by default; tests shrink them). */
  archiveOpenTimeoutMs?: number;
  archiveParseStepMs?: number;
  /** Parser time of the whole chain search, every window together (LIMITS.zipChainSearchTimeoutMs by default). */
  zipChainSearchTimeoutMs?: number;
  /** Another pool (tests). */
  pool?: DeadlineWorkerPool;
  /**
   * Whether an earlier attempt (a continuation, a redelivery) recorded the member of this entry index. A chain search
   * that does not finish fails the open with a retryable 'timeout' only when an earlier attempt recorded a member of
   * the chain (the first index past the archive's own span), since listing no chain would then lose what that attempt
   * listed (zip-chain-found-in-one-attempt-lost-in-the-next); otherwise it lists no chain and says so, as a first
   * attempt does, so a search that gives up every time cannot fail a resumed archive until its dead letter
   * (zip-chain-search-giving-up-fails-resumed-archive-until-dead-letter).
   */
  isRecorded?: (entryIndex: number) => Promise<boolean>;
}

/**
 * A ZIP (including ZIP64), read for the unpack stage. yauzl never runs here:
 * the end record, the central-directory survey, names, times, local headers,
 * inflate and CRC-32 run in an archive parser thread (zip.parser.ts) under
 * the budgets LIMITS.archiveOpenTimeoutMs (opening) and
 * LIMITS.archiveParseStepMs (each step of the listing) and a heap limit.
 * This side serves the thread's ranged reads of the blob (checked against
 * the archive's bytes, pinned to its ETag, under the abort signal), keeps the
 * duplicate-name check, and takes entries and member chunks one at a time.
 *
 * Opening throws ExhibitError 'corrupt-file' when no usable end record is
 * found or entries overlap (details: reason, membersDeclared, findings),
 * 'parse-timeout' / 'parse-crashed' when the thread was stopped, or a
 * retryable storage fault.
 */
export async function openZipReader(blobs: BlobStore, blob: BlobRef, options: ZipReaderOptions): Promise<ArchiveReader> {
  const pool = options.pool ?? archivePool();
  const read = serveRange(blobs, blob, {
    offset: options.offset ?? 0,
    size: options.size,
    ...(options.etag ? { etag: options.etag } : {}),
  });
  /** 'zip-open' over `length` bytes from `start` of the archive's bytes; the facts it gives placed in the whole (absolute). */
  const openWindow = async (start: number, length: number, timeoutMs = options.archiveOpenTimeoutMs ?? LIMITS.archiveOpenTimeoutMs, usedMs?: (ms: number) => void): Promise<ZipFacts> => {
    const windowRead = start === 0 && length === options.size ? read : serveRange(blobs, blob, { offset: (options.offset ?? 0) + start, size: length, ...(options.etag ? { etag: options.etag } : {}) });
    const input: ZipOpenInput = { size: length, maxEntries: options.maxEntries ?? Number.MAX_SAFE_INTEGER };
    const facts = await pool.run<ZipFacts>('zip-open', input, {
      label: 'zip reader (end record and central directory)',
      timeoutMs,
      // A chain window's budget is a share of the search's: a re-run after its thread died gets what is left of it, never
      // a fresh one (zip-chain-search-budget-reset-by-thread-death).
      ...(usedMs ? { usedMs, budgetSpansRuns: true } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      serve: (request) => windowRead(request, options.abortSignal),
    });
    // Plain data from the thread, still checked: the archive must lie inside its bytes.
    if (!Number.isSafeInteger(facts.prefix) || !Number.isSafeInteger(facts.size) || facts.prefix < 0 || facts.size < 0 || facts.prefix + facts.size > length) {
      throw new ExhibitError('corrupt-file', `zip: the parser placed the archive at ${facts.prefix}+${facts.size}, outside its ${length} bytes`);
    }
    // The declared count fixes every later chain ZIP's id base and the archive's declared total: a value that is no
    // count (no number, NaN, negative, fractional) would move ids, so it is a typed failure, never a base
    // (zip-chain-declared-count-unchecked). A ZIP64 count of 2^53 or more (yauzl reads it imprecisely) is still a count,
    // of more entries than any limit: its span is the entry cap and no declared total is given (ThreadedZipReader), and
    // its members are listed as unzip and Python's zipfile list them (zip64-huge-declared-count-loses-every-member).
    if (typeof facts.declared !== 'number' || !Number.isInteger(facts.declared) || facts.declared < 0) {
      throw new ExhibitError('corrupt-file', `zip: the parser reported ${String(facts.declared)} declared entries, no count of entries`, { details: { reason: 'declared-count-invalid' } });
    }
    if (facts.commentLengthAt !== null && !(Number.isSafeInteger(facts.commentLengthAt) && facts.commentLengthAt >= facts.prefix && facts.commentLengthAt + 2 <= facts.prefix + facts.size)) {
      throw new ExhibitError('corrupt-file', `zip: the parser placed the end record's comment length at ${facts.commentLengthAt}, outside the archive`);
    }
    return { ...facts, prefix: start + facts.prefix, commentLengthAt: facts.commentLengthAt === null ? null : start + facts.commentLengthAt };
  };
  const facts = await openWindow(0, options.size);
  const search = await zipChainAround(facts, options.size, openWindow, {
    windowMs: options.archiveOpenTimeoutMs ?? LIMITS.archiveOpenTimeoutMs,
    searchMs: options.zipChainSearchTimeoutMs ?? LIMITS.zipChainSearchTimeoutMs,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  if (search.gaveUp) {
    // The first chain member's index: the archive's own span (ThreadedZipReader's bases) comes first.
    const firstChainIndex = Math.min(facts.declared, entryIndexCap(options));
    if (options.isRecorded && (await options.isRecorded(firstChainIndex))) {
      throw new ExhibitError('timeout', 'zip: the search for ZIPs chained around the archive did not finish (a candidate ran out of parser time or crashed its thread, or the search ran out of its own) while resuming over recorded members; retried');
    }
    // Said, never silent: a later attempt's search may find the chain this one could not.
    return new ThreadedZipReader(pool, read, { ...facts, findings: [...facts.findings, 'zip-chain-incomplete'] }, [], options);
  }
  return new ThreadedZipReader(pool, read, facts, search.chain, options);
}

/**
 * ZIPs laid end to end around the one read as the archive (`cat a.zip b.zip`, with or without bytes after): that
 * one is the ZIP the end record at the file's end describes (unzip's and Python's), or, with bytes after, the first
 * whose end record is exact from the start; the others were lost, a mere archive-prefix or trailing-data finding
 * (zip-chain-lists-one-zip). Each is found as the archive is, in the bytes before it (a ZIP ending exactly where it
 * starts) and after it (one starting exactly where it ends), outside its own bytes, so a ZIP stored in a member is
 * never taken. The ZIPs before it must run back to the file's first byte, each starting where the one before it
 * ends: a ZIP preceded by bytes that are no ZIP (a local header whose data it is, with no directory entry) is data,
 * not a chain's (zip-chain-takes-zip-stored-in-unlisted-member); past LIMITS.maxZipChainArchives, a whole ZIP must
 * end where the earliest listed starts. At most LIMITS.maxZipChainArchives ZIPs in all; bytes that are no ZIP end
 * the search. Each window has at most the open budget of its own (`windowMs`, the parser's time as the archive's own
 * open has), and all of them together the search's (`searchMs`, LIMITS.zipChainSearchTimeoutMs, on the same clock:
 * the time a parser thread holds the task, never storage's nor the wait for a thread), of which each window gets what
 * is left, its re-run after a thread death included: a hostile file of slow windows spent up to
 * 2 × maxZipChainArchives − 1 open budgets, more than the stage deadline (zip-chain-search-unbounded-across-windows). A window that runs out of its budget or crashes its thread, or a search
 * whose budget is spent before its next window, ends the search with `gaveUp`: no chain (never the part found so far,
 * whose numbers and id bases the rest would move), and the caller says so (the finding zip-chain-incomplete, the
 * archive's own members listed as before, zip-chain-slow-lookup-fails-archive) or, when an earlier attempt recorded
 * a member of the chain, fails with a retryable fault (zip-chain-found-in-one-attempt-lost-in-the-next). At most
 * LIMITS.maxZipChainArchives windows backwards and as many forwards (a backward run that does not reach the first
 * byte is dropped and the forward search still runs). ZIPs with no entries are left out (they add nothing to list).
 */
async function zipChainAround(
  archive: ZipFacts,
  total: number,
  openWindow: (start: number, length: number, timeoutMs: number, usedMs: (ms: number) => void) => Promise<ZipFacts>,
  budgets: { windowMs: number; searchMs: number; abortSignal?: AbortSignal },
): Promise<{ chain: ZipFacts[]; gaveUp: boolean }> {
  const { windowMs, abortSignal } = budgets;
  const GAVE_UP = Symbol('gave-up');
  let leftMs = budgets.searchMs;
  const attempt = async (start: number, length: number): Promise<ZipFacts | null | typeof GAVE_UP> => {
    // The search's own budget is spent: it did not finish, as when a window runs out.
    if (!(leftMs > 0)) return GAVE_UP;
    try {
      return await openWindow(start, length, Math.min(windowMs, leftMs), (ms) => {
        leftMs -= ms;
      });
    } catch (err) {
      if (abortSignal?.aborted) throw err;
      // Not a ZIP there (or a damaged one: its bytes stay the finding they were).
      if (err instanceof ExhibitError && (err.code === 'corrupt-file' || err.code === 'unsupported-format')) return null;
      // A candidate the parser could not finish in its budget: the search did not finish (the archive itself opened fine).
      if (err instanceof ExhibitError && (err.code === 'parse-timeout' || err.code === 'parse-crashed')) return GAVE_UP;
      throw err;
    }
  };
  let before: ZipFacts[] = [];
  let at = archive.prefix;
  let grounded = at === 0;
  while (at > 0) {
    const zip = await attempt(0, at);
    if (zip === GAVE_UP) return { chain: [], gaveUp: true };
    if (zip === null) break;
    // The archive read is a whole ZIP in the comment of the end record before it, whose own directory checks out
    // (end-record-in-comment): that record's archive, the real one, was hidden (zip-comment-zip-hides-real-members).
    // Its comment runs on past it into the archive read: it is listed too, its comment length read as 0.
    if (zip.commentCut && before.length === 0 && archive.findings.includes('end-record-in-comment')) {
      before.unshift({ ...zip, commentCut: false });
      at = zip.prefix;
      grounded = at === 0;
      break;
    }
    if (zip.commentCut || zip.prefix + zip.size !== at) break;
    // As many as the limit allows: one more whole ZIP ending where the earliest starts grounds the chain.
    if (before.length + 1 >= LIMITS.maxZipChainArchives) {
      grounded = true;
      break;
    }
    before.unshift(zip);
    at = zip.prefix;
    grounded = at === 0;
  }
  if (!grounded) before = [];
  const found = before;
  let after = archive.prefix + archive.size;
  while (after < total && found.length + 1 < LIMITS.maxZipChainArchives) {
    const zip = await attempt(after, total - after);
    if (zip === GAVE_UP) return { chain: [], gaveUp: true };
    if (zip === null || zip.commentCut || zip.prefix !== after || zip.size === 0) break;
    found.push(zip);
    after = zip.prefix + zip.size;
  }
  return { chain: found.filter((zip) => zip.declared > 0), gaveUp: false };
}

/**
 * How many entry indexes one ZIP of a chain takes at most: one past the configured entry limit (an unpack never records
 * more; the entry past it reaches the stage, which stops at its limit). The configured limit, never LIMITS': with a
 * lower configured one the bases would leave ids the unpack never reaches between the ZIPs and ask whether the wrong
 * index was recorded (zip-chain-id-cap-reads-global-limits).
 */
function entryIndexCap(options: Pick<ZipReaderOptions, 'maxEntries'>): number {
  const configured = options.maxEntries ?? LIMITS.maxArchiveEntries;
  return Number.isSafeInteger(configured) && configured >= 0 && configured < Number.MAX_SAFE_INTEGER ? configured + 1 : LIMITS.maxArchiveEntries + 1;
}

class ThreadedZipReader implements ArchiveReader {
  readonly format = 'zip' as const;
  readonly findings: ZipArchiveFinding[];
  readonly declaredEntries?: number;
  /** The archive, then the other ZIPs of its chain in file order, each with the path prefix its members are listed under. */
  private readonly segments: Array<{ facts: ZipFacts; pathPrefix: string; base: number; span: number }>;

  constructor(
    private readonly pool: DeadlineWorkerPool,
    private readonly read: ReturnType<typeof serveRange>,
    private readonly facts: ZipFacts,
    chain: ZipFacts[],
    private readonly options: ZipReaderOptions,
  ) {
    this.findings = [...facts.findings];
    // Each count is a non-negative integer (openWindow), but a ZIP64 count of 2^53 or more is imprecise, and so may be
    // the sum of several: then absent, never a wrong total (zip64-huge-declared-count-loses-every-member). A sum of
    // non-negative numbers is safe only when every count in it is.
    const declaredEntries = facts.declared + chain.reduce((sum, zip) => sum + zip.declared, 0);
    if (Number.isSafeInteger(declaredEntries)) this.declaredEntries = declaredEntries;
    // Numbered from 1 in file order among the ZIPs listed, the archive included (its members keep their own paths):
    // the same bytes give the same numbers. ZIPs with no entries were left out and take no number.
    const inFile = [...chain, facts].sort((a, b) => a.prefix - b.prefix);
    // Each ZIP's entry indexes (its members' ids) start at a base fixed by the bytes: the declared counts of the ZIPs
    // listed before it, each capped one past the configured entry limit (entryIndexCap). How far another ZIP was listed
    // (a damaged directory) never moves them (zip-chain-timeout-shifts-later-chain-member-ids).
    let base = 0;
    const cap = entryIndexCap(options);
    const listed = [{ facts, pathPrefix: '' }, ...chain.map((zip) => ({ facts: zip, pathPrefix: `zip-chain-${inFile.indexOf(zip) + 1}/` }))];
    this.segments = listed.map((segment) => {
      const span = Math.min(segment.facts.declared, cap);
      const placed = { ...segment, base, span };
      base += span;
      return placed;
    });
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<ArchiveEntry> {
    const signal = options.abortSignal ?? this.options.abortSignal;
    const duplicates = new DuplicateNameTracker();
    // Entry indexes run on across the chain's ZIPs from each one's fixed base; `local` is the place in its own directory.
    const chainListed = this.segments.length > 1;
    for (const segment of this.segments) {
      let index = segment.base;
      const { facts } = segment;
      const input: ZipListInput = { prefix: facts.prefix, size: facts.size, commentLengthAt: facts.commentLengthAt, maxEntryNameBytes: this.options.maxEntryNameBytes };
      const session = this.session('zip-list', input, 'zip reader (entries)', signal);
      const chained = segment.pathPrefix !== '';
      let local = 0;
      try {
        for (let request = await session.exchange(null); ; request = await session.exchange({ op: 'next' })) {
          if (request.t === 'failed') throw request.error;
          if (request.t === 'done') break;
          // What is left of a member the stage stopped reading early: 'next' tells the thread to skip it.
          if (request.t !== 'entry') continue;
          // More entries than the ZIP's span would take the ids of the next ZIP's: with a chain, its listing ends here.
          if (chainListed && local >= segment.span) {
            if (!chained) {
              throw new ExhibitError('corrupt-file', `zip: the archive lists more than the ${segment.span} entries placed for it, with ZIPs chained around it`, { details: { reason: 'entries-past-declared' } });
            }
            if (!this.findings.includes('zip-chain-incomplete')) this.findings.push('zip-chain-incomplete');
            break;
          }
          if (local > 0 && local % ENTRIES_PER_TURN === 0) await nextTurn();
          if (signal?.aborted) throw abortError(signal);
          // Set once a ZIP of the chain gave a member (an empty or fake one adds nothing: no finding).
          if (chained && !this.findings.includes('zip-chain')) this.findings.push('zip-chain');
          const listed = { session, current: true };
          try {
            yield this.toArchiveEntry(request.entry, index, local, segment, duplicates, listed, signal);
          } finally {
            listed.current = false;
          }
          index += 1;
          local += 1;
        }
      } catch (err) {
        // A ZIP of the chain whose directory is damaged part way ends only its own listing, with the finding: never the
        // archive's nor the other ZIPs' members (zip-chain-bad-extra-zip-fails-archive); where is fixed by its bytes.
        // A parser time-out or crash is not: it ends the whole listing as the archive's own does, so no attempt lists
        // later ZIPs after skipping a timing-dependent part of one (the unpack's member count, which a continuation
        // resumes by, would shift: zip-chain-timeout-shifts-later-chain-member-ids). Storage faults and aborts too.
        const own = err instanceof ExhibitError && ['corrupt-file', 'unsupported-format'].includes(err.code);
        if (!chained || !own || signal?.aborted) throw err;
        if (!this.findings.includes('zip-chain-incomplete')) this.findings.push('zip-chain-incomplete');
      } finally {
        await session.end();
      }
    }
    if (this.facts.commentCut) {
      throw new ExhibitError('corrupt-file', 'zip: the end record\'s comment runs past the end of the file (the archive was cut off after its central directory)', {
        details: { reason: 'truncated' },
      });
    }
  }

  private session(kind: string, input: unknown, label: string, signal: AbortSignal | undefined): ArchiveThreadSession {
    return new ArchiveThreadSession(this.pool, kind, input, {
      label,
      timeoutMs: this.options.archiveParseStepMs ?? LIMITS.archiveParseStepMs,
      ...(signal ? { abortSignal: signal } : {}),
      serveBytes: (request) => this.read(request, signal),
    });
  }

  private toArchiveEntry(
    listedWire: WireArchiveEntry,
    index: number,
    local: number,
    segment: { facts: ZipFacts; pathPrefix: string },
    duplicates: DuplicateNameTracker,
    listed: { session: ArchiveThreadSession; current: boolean },
    signal: AbortSignal | undefined,
  ): ArchiveEntry {
    const wire = segment.pathPrefix === '' ? listedWire : { ...listedWire, displayPath: `${segment.pathPrefix}${listedWire.displayPath}` };
    const facts = segment.facts;
    const flags: FileFlag[] = [...wire.flags];
    const duplicateOf = duplicates.check(wire.displayPath, index);
    if (duplicateOf !== undefined) flags.push('duplicate-name');
    const archiveSize = facts.prefix + facts.size;
    const label = `zip entry ${index}`;
    const entry: ArchiveEntry = {
      index,
      recordedName: wire.recordedName,
      displayPath: wire.displayPath,
      name: wire.name,
      extension: wire.extension,
      kind: wire.kind,
      declaredSize: wire.declaredSize,
      compressedSize: wire.compressedSize,
      times: wire.times,
      flags,
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      ...(wire.linkTarget !== undefined ? { linkTarget: wire.linkTarget } : {}),
      encrypted: wire.encrypted,
      open: async (): Promise<Readable> => {
        // The listing's thread sends the member while the entry is the current one; later, a thread of its own does.
        const current = listed.current;
        const session = current ? listed.session : this.session('zip-member', { prefix: facts.prefix, size: facts.size, commentLengthAt: facts.commentLengthAt, index: local } satisfies ZipMemberInput, 'zip reader (member)', signal);
        const opened = await session.exchange(current ? { op: 'open' } : null);
        if (opened.t !== 'opened') {
          if (!current) await session.end();
          throw openFailure(opened, label);
        }
        if (opened.headerMismatch && !entry.flags.includes('header-mismatch')) entry.flags.push('header-mismatch');
        const span = opened.storedSpan;
        if (span && Number.isSafeInteger(span.offset) && Number.isSafeInteger(span.length) && span.offset >= 0 && span.length >= 0 && span.offset + span.length <= archiveSize) {
          entry.storedSpan = { offset: span.offset, length: span.length };
        }
        const stream = memberStream(session, label);
        if (!current) stream.on('close', () => void session.end());
        return stream;
      },
    };
    return entry;
  }

  async close(): Promise<void> {}
}
