import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { buffer } from 'node:stream/consumers';
import {
  assertValidId,
  ExhibitError,
  isExhibitError,
  LIMITS,
  PIPELINE_CUSTODY_ACTIONS,
  type AppendLog,
  type AppendLogHead,
  type CustodyAction,
  type CustodyEvent,
  type Logger,
  type ToolVersion,
} from '@exhibit/core';
import { toPlainJson } from './canonical-json.js';
import {
  CUSTODY_ACTOR,
  CUSTODY_FORMAT,
  CUSTODY_LIMITS,
  encodeEntry,
  GENESIS_HASH,
  hashEntryText,
  parseEntryText,
  SEGMENT_START,
  signingBytes,
  storedEventKey,
  type CustodyEntry,
  type CustodySubject,
  type SegmentStartDetails,
  type UnsignedEntry,
  unsignedPart,
} from './custody-entry.js';
import { indexedLinesAfter, insertIndexedEntries, lastIndexedEntry, recordedEventKeys, type CustodySql, type IndexedEntry } from './custody-index.sql.js';
import { GroupCommit, type Waiting } from './group-commit.js';
import { readLines } from './line-reader.js';
import { evidencePrefix, segmentName } from './segment-names.js';
import { publicKeyOf, SignatureVerifier, type PublicKeyRecord, type Signer } from './signer.js';

const ACTIONS: ReadonlySet<CustodyAction> = new Set<CustodyAction>([
  // The pipeline's, as the lifecycle lists them (core lifecycle.ts).
  ...PIPELINE_CUSTODY_ACTIONS,
  'stage-completed', 'upload', 'search', 'view', 'thumbnail-view',
  'download', 'export', 'bookmark', 'assignment-change', 'verify', 'read', 'log-restored', 'known-file-match',
  'known-file-match-withdrawn', 'pdq-backfill',
]);

interface LastEntry {
  seq: number;
  hash: string;
  time: string;
  segment: number;
}

/** Where a writer believes the end of an evidence item's log is. */
interface Tail {
  caseId: string;
  evidenceId: string;
  segment: number;
  name: string;
  head: AppendLogHead;
  /** Last entry of this segment; null while the segment is empty. */
  last: LastEntry | null;
  /** Last entry of the previous segment, which an empty segment's start entry chains to. */
  before: LastEntry | null;
  /**
   * Seq of this segment's first entry. Fullness is counted from the log's own
   * seqs, never from service metadata, so every writer reaches the same
   * verdict from the same bytes and nobody appends to a segment once a
   * successor may exist.
   */
  startSeq: number;
}

export interface CustodyWriterOptions {
  appendLog: AppendLog;
  sql: CustodySql;
  signer: Signer;
  logger: Logger;
  /** Keys whose entries the index copy accepts when catching up (never keys found beside the logs). */
  trustedKeys?: PublicKeyRecord[];
  /** Version recorded on the entries the log adds itself. */
  toolVersion?: string;
  /** Segment size limits; every writer of one log must use the same values. */
  rolloverEntries?: number;
  rolloverBytes?: number;
  now?: () => Date;
}

/**
 * Appends signed entries to per-evidence append blobs. Within a process, writes
 * to one log take turns, and entries that arrive while a write is in flight go
 * out together in the next one (group commit, group-commit.ts): one append block
 * of several lines, each entry chained and signed on its own, and one index
 * transaction. Across processes, conditional appends decide and the loser
 * re-reads the tail, re-chains, re-signs and tries again.
 */
export class CustodyWriter {
  private readonly tails = new Map<string, Tail>();
  private readonly groups: GroupCommit<CheckedEvent>;
  private readonly registeredCases = new Map<string, Promise<void>>();
  /** Restorations done while loading a tail, recorded in the log itself after the write that found them. */
  private readonly restorations = new Map<string, { segment: number; fromSeq: number; entries: number }>();
  private readonly rolloverEntries: number;
  private readonly rolloverBytes: number;
  private readonly now: () => Date;
  private readonly tools: ToolVersion[];
  /** Entries one block carries: the signer may allow fewer (a remote signer, one round trip per entry). */
  private readonly maxGroupEntries: number;
  /** Signing time one block may spend (a remote signer); unbounded for local signing. */
  private readonly maxGroupSigningMs: number;

  constructor(
    private readonly o: CustodyWriterOptions,
    private readonly ensureKeyRegistered: (caseId: string, options: { abortSignal?: AbortSignal }) => Promise<void>,
  ) {
    this.rolloverEntries = Math.min(o.rolloverEntries ?? CUSTODY_LIMITS.rolloverEntries, CUSTODY_LIMITS.rolloverEntries);
    this.rolloverBytes = Math.min(o.rolloverBytes ?? CUSTODY_LIMITS.rolloverBytes, CUSTODY_LIMITS.rolloverBytes);
    if (this.rolloverEntries < 2) throw new ExhibitError('invalid-config', 'rolloverEntries must be at least 2');
    this.now = o.now ?? (() => new Date());
    this.tools = [{ name: 'exhibit-custody', version: o.toolVersion ?? 'unknown' }];
    this.maxGroupEntries = o.signer.remote ? CUSTODY_LIMITS.maxRemoteGroupEntries : CUSTODY_LIMITS.maxGroupEntries;
    this.maxGroupSigningMs = o.signer.remote ? CUSTODY_LIMITS.maxGroupSigningMs : Number.POSITIVE_INFINITY;
    this.groups = new GroupCommit<CheckedEvent>({
      maxGroupEntries: this.maxGroupEntries,
      write: (key, group, abortSignal) => this.writeGroup(key, group, abortSignal),
      hasOwnWork: (key) => this.restorations.has(key),
    });
  }

  async record(event: CustodyEvent, options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    // The entry's time is when it was submitted, not when its group's block was built.
    const checked = { ...checkEvent(event), submittedAt: this.now().toISOString() };
    await this.groups.submit(`${checked.caseId}/${checked.evidenceId}`, checked, options.abortSignal);
  }

  /**
   * Writes the first entries of `group` that fit one block (the segment's room,
   * CUSTODY_LIMITS.maxGroupEntries/maxGroupBytes) as one conditional append and one
   * index transaction, and settles their callers once both are done. Events whose
   * eventKey the log already has are settled without a write; a duplicate within the
   * group is written once and settles every caller that sent it. Returns what did not
   * fit, for the next group.
   */
  private async writeGroup(key: string, group: Waiting<CheckedEvent>[], abortSignal: AbortSignal | undefined): Promise<Waiting<CheckedEvent>[]> {
    const [caseId, evidenceId] = key.split('/') as [string, string];
    const options = abortSignal ? { abortSignal } : {};
    await this.registerCase(caseId, options);
    let tail = this.tails.get(key) ?? (await this.loadTail(caseId, evidenceId, { ...options, catchUp: true }));
    let todo = slotsOf(group);
    for (let attempt = 1; attempt <= CUSTODY_LIMITS.maxAppendAttempts; attempt++) {
      // Lines were just restored (loading the tail): say so in the log before anything else is appended to it.
      const restored = this.restorations.get(key);
      if (restored) {
        this.restorations.delete(key);
        todo.unshift({ event: restorationEvent(caseId, evidenceId, restored, this.tools, this.now().toISOString()), waiting: [] });
      }
      // A successor may itself be full already (other writers went ahead): walk on to the newest
      // (its lines copied to the index on the way) before asking the index what is recorded.
      while (this.isFull(tail)) tail = await this.nextSegment(tail, options);
      todo = await this.withoutRecorded(caseId, evidenceId, todo);
      if (todo.length === 0) return [];
      const block = await this.buildBlock(tail, todo, options);
      // Every entry of the group was refused on its own (too large): nothing to append.
      if (block.lines.length === 0) return block.rest.flatMap((slot) => slot.waiting);
      const result = await this.tryAppend(tail, block, options);
      tail = result.tail;
      // A tail whose index copy failed is forgotten, so the next write starts cold and catches the index up.
      if (result.indexed === false) this.tails.delete(key);
      else this.remember(tail);
      if (result.status === 'recorded') {
        // The log is the record: an entry durable in it is recorded, index copy or not. Rejecting
        // here made callers retry (a 503 for a view) and record the action twice. The forgotten
        // tail makes the next write to this log, in this process or after a restart, copy it.
        if (result.indexed === false) {
          this.o.logger.warn(
            { log: tail.name, entries: block.written.length, fromSeq: block.firstEventSeq },
            'custody entries recorded in the log; their index copy failed and the next write to this log copies them',
          );
        }
        for (const slot of block.written) slot.waiting.forEach((w) => w.resolve());
        return block.rest.flatMap((slot) => slot.waiting);
      }
      // Entries another writer recorded meanwhile (a redelivered event) are not written again.
      todo = todo.filter((slot) => {
        if (!slot.event.eventKey || !result.seenKeys.has(slot.event.eventKey)) return true;
        this.o.logger.debug({ log: tail.name, eventKey: slot.event.eventKey }, 'custody event recorded concurrently by another writer');
        slot.waiting.forEach((w) => w.resolve());
        return false;
      });
      if (todo.length === 0) return [];
      // Lines another writer appended could not be copied to the index: catch it up from the log
      // before appending after them, so a later row never lands before theirs.
      if (result.status === 'lost' && result.indexed === false) tail = await this.loadTail(caseId, evidenceId, { ...options, catchUp: true });
      await pause(attempt, abortSignal);
    }
    throw new ExhibitError('storage-unavailable', `custody log ${tail.name}: no append won after ${CUSTODY_LIMITS.maxAppendAttempts} attempts`, {
      details: { reason: 'contention' },
    });
  }

  /** Settles the slots whose eventKey the index copy already records (a redelivered event) and returns the rest. */
  private async withoutRecorded(caseId: string, evidenceId: string, todo: Slot[]): Promise<Slot[]> {
    const keys = todo.flatMap((slot) => (slot.event.eventKey ? [slot.event.eventKey] : []));
    if (keys.length === 0) return todo;
    const recorded = await recordedEventKeys(this.o.sql, caseId, evidenceId, keys);
    if (recorded.size === 0) return todo;
    return todo.filter((slot) => {
      if (!slot.event.eventKey || !recorded.has(slot.event.eventKey)) return true;
      this.o.logger.debug({ caseId, evidenceId, eventKey: slot.event.eventKey }, 'custody event already recorded');
      slot.waiting.forEach((w) => w.resolve());
      return false;
    });
  }

  /**
   * Chains and signs the entries of one block onto the tail: the segment's start entry
   * first when it is empty, then as many slots as the segment's room and the group
   * limits allow. A slot whose entry is too large is refused on its own (limit-exceeded)
   * and the chain goes on without it.
   */
  private async buildBlock(tail: Tail, todo: Slot[], options: { abortSignal?: AbortSignal }): Promise<Block> {
    const lines: Buffer[] = [];
    const entries: Array<{ entry: CustodyEntry; hash: string }> = [];
    let bytes = 0;
    let last = tail.last;
    const add = (signed: SignedLine) => {
      lines.push(signed.line);
      entries.push({ entry: signed.entry, hash: signed.hash });
      bytes += signed.line.length;
      last = { seq: signed.entry.seq, hash: signed.hash, time: signed.entry.time, segment: tail.segment };
    };
    // Each entry's signature is inside the hash the next chains to, so a block is signed one entry
    // at a time while the tail it was built on ages: with a remote signer bounded by signing time
    // as well as by count and bytes, or it holds a group for seconds and loses every race.
    let signingMs = 0;
    const timedSign = async (unsigned: UnsignedEntry) => {
      const started = performance.now();
      try {
        return await this.sign(unsigned, options);
      } finally {
        signingMs += performance.now() - started;
      }
    };
    if (last === null) add(await timedSign(this.segmentStart(tail)));
    const room = this.rolloverEntries - (last!.seq - tail.startSeq + 1);
    const firstEventSeq = last!.seq + 1;
    const written: Slot[] = [];
    let next = 0;
    for (; next < todo.length && written.length < Math.min(room, this.maxGroupEntries); next++) {
      if (written.length > 0 && signingMs >= this.maxGroupSigningMs) break;
      const slot = todo[next]!;
      let signed: SignedLine;
      try {
        signed = await timedSign(this.eventEntry(slot.event, last!));
      } catch (err) {
        if (!isExhibitError(err, 'limit-exceeded')) throw err;
        slot.waiting.forEach((w) => w.reject(err));
        continue;
      }
      if (written.length > 0 && bytes + signed.line.length > CUSTODY_LIMITS.maxGroupBytes) break;
      add(signed);
      written.push(slot);
    }
    return { lines, entries, written, rest: todo.slice(next), firstEventSeq };
  }

  private registerCase(caseId: string, options: { abortSignal?: AbortSignal }): Promise<void> {
    let pending = this.registeredCases.get(caseId);
    if (!pending) {
      pending = this.ensureKeyRegistered(caseId, options);
      this.registeredCases.set(caseId, pending);
      pending.catch(() => this.registeredCases.delete(caseId));
    }
    return pending;
  }

  private isFull(tail: Tail): boolean {
    const entries = tail.last ? tail.last.seq - tail.startSeq + 1 : 0;
    return entries >= this.rolloverEntries || tail.head.length >= this.rolloverBytes;
  }

  private eventEntry(event: CheckedEvent, last: LastEntry): UnsignedEntry {
    return {
      v: 1,
      seq: last.seq + 1,
      // Submission time, but never before the previous entry's (the chain's times do not go back).
      time: event.submittedAt < last.time ? last.time : event.submittedAt,
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      details: event.details,
      tools: event.tools,
      ...(event.eventKey ? { eventKey: event.eventKey } : {}),
      prevHash: last.hash,
      keyId: this.o.signer.keyId,
      alg: this.o.signer.algorithm,
    };
  }

  private segmentStart(tail: Tail): UnsignedEntry {
    const before = tail.before;
    const details: SegmentStartDetails = {
      format: CUSTODY_FORMAT,
      canonicalization: 'RFC 8785',
      hash: 'SHA-256',
      segment: tail.segment,
      previousSegment: before ? segmentName(tail.caseId, tail.evidenceId, before.segment) : null,
      previousHash: before ? before.hash : null,
      key: publicKeyOf(this.o.signer),
    };
    return {
      v: 1,
      seq: before ? before.seq + 1 : 0,
      time: before ? this.timeAfter(before.time) : this.now().toISOString(),
      actor: CUSTODY_ACTOR,
      action: SEGMENT_START,
      subject: { caseId: tail.caseId, evidenceId: tail.evidenceId },
      details: details as unknown as Record<string, unknown>,
      tools: this.tools,
      prevHash: before ? before.hash : GENESIS_HASH,
      keyId: this.o.signer.keyId,
      alg: this.o.signer.algorithm,
    };
  }

  /** Entry times never go backwards, even when writers' clocks disagree. */
  private timeAfter(previous: string): string {
    const now = this.now().toISOString();
    return now < previous ? previous : now;
  }

  private async sign(unsigned: UnsignedEntry, options: { abortSignal?: AbortSignal }): Promise<SignedLine> {
    const signature = await this.o.signer.sign(signingBytes(unsigned), options);
    const entry: CustodyEntry = { ...unsigned, signature: Buffer.from(signature).toString('base64url') };
    const line = encodeEntry(entry);
    if (line.length > CUSTODY_LIMITS.maxEntryBytes) {
      throw new ExhibitError('limit-exceeded', `custody entry for ${unsigned.subject.caseId}/${unsigned.subject.evidenceId} is larger than ${CUSTODY_LIMITS.maxEntryBytes} bytes`);
    }
    return { entry, line, hash: hashEntryText(line.toString('utf8', 0, line.length - 1)) };
  }

  /**
   * One conditional append of a whole block (one append block: Azure stores it whole or
   * not at all) and, once it landed, one index transaction for its entries.
   * 'recorded': the block is in the log (appended now, or found appended when only the
   * answer was lost); indexed says whether its index copy was written. 'lost': someone
   * else wrote first; the tail is updated and seenKeys holds the eventKeys they wrote.
   * 'reloaded': the tail had to be read afresh.
   */
  private async tryAppend(
    tail: Tail,
    block: Block,
    options: { abortSignal?: AbortSignal },
  ): Promise<
    | { status: 'recorded'; tail: Tail; indexed: boolean }
    | { status: 'lost' | 'reloaded'; tail: Tail; indexed?: boolean; seenKeys: ReadonlySet<string> }
  > {
    const bytes = Buffer.concat(block.lines);
    const rows = block.entries.map(({ entry, hash }) => ({ entry, segment: tail.segment, hash }));
    const newest = block.entries.at(-1)!;
    if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'custody append aborted', { cause: options.abortSignal.reason });
    try {
      // Not cancellable once sent: an append cut off mid-request may still land, and a line whose
      // writer never learnt so would reach the index copy only when some later writer adopts it.
      const head = await this.o.appendLog.append(tail.name, bytes, { appendPosition: tail.head.length, ifMatch: tail.head.etag });
      const appended = { ...tail, head, last: { seq: newest.entry.seq, hash: newest.hash, time: newest.entry.time, segment: tail.segment } };
      return { status: 'recorded', tail: appended, indexed: await this.index(rows, appended) };
    } catch (err) {
      // The segment this writer had open is gone (deleted under it): read the log afresh,
      // which refuses to start a deleted log again.
      if (isExhibitError(err, 'not-found')) {
        return { status: 'reloaded', tail: await this.loadTail(tail.caseId, tail.evidenceId, { ...options, catchUp: true }), seenKeys: new Set() };
      }
      if (!isExhibitError(err, 'precondition-failed')) throw err;
    }
    // Someone else wrote first, or our own append landed and only the answer was lost (the SDK retried it).
    const seen = await this.readSince(tail, options);
    // Too far ahead to read back (or rewritten): reload, and copy what the others appended to the
    // index first. The index is what withoutRecorded asks, and a rival's line it lacks (its index
    // copy failed, or has not committed yet) would otherwise be appended a second time, leaving a
    // hole in the index copy below this writer's row that no catch-up fills
    // (regression reloaded-writer-duplicated-event-key-index-hole).
    if (seen === null) return { status: 'reloaded', tail: await this.loadTail(tail.caseId, tail.evidenceId, { ...options, catchUp: true }), seenKeys: new Set() };
    // Every line seen here is copied to the index before anything is appended after it: the
    // writer that appended it may be gone, or its answer lost, and a later row landing first
    // would leave a hole that verification must read as an insertion.
    const adopted = this.adoptable(tail, seen.lines);
    const indexed = await this.index(adopted, seen.tail);
    const seenHashes = new Set(seen.lines.map((l) => l.hash));
    if (block.entries.every((e) => seenHashes.has(e.hash))) {
      const adoptedHashes = new Set(adopted.map((r) => r.hash));
      return { status: 'recorded', tail: seen.tail, indexed: indexed && block.entries.every((e) => adoptedHashes.has(e.hash)) };
    }
    const seenKeys = new Set(seen.lines.flatMap((l) => (l.eventKey ? [l.eventKey] : [])));
    return { status: 'lost', tail: seen.tail, indexed, seenKeys };
  }

  /**
   * What was appended since the writer last looked, so a lost race can tell
   * whether the entry it wanted is there already. Null when the log was not
   * simply appended to (rewritten, or too far ahead): the caller reloads.
   */
  private async readSince(
    tail: Tail,
    options: { abortSignal?: AbortSignal },
  ): Promise<{ tail: Tail; lines: SeenLine[] } | null> {
    const head = await this.o.appendLog.head(tail.name, options);
    if (!head || head.length <= tail.head.length) {
      if (head && head.length < tail.head.length) {
        this.o.logger.error({ log: tail.name, was: tail.head.length, now: head.length }, 'custody log shrank; it was rewritten outside the custody writer');
      }
      return null;
    }
    const count = head.length - tail.head.length;
    if (count > CUSTODY_LIMITS.maxDeltaReadBytes) return null;
    let bytes: Buffer;
    try {
      bytes = await buffer(await this.o.appendLog.read(tail.name, { offset: tail.head.length, count, ifMatch: head.etag, abortSignal: options.abortSignal }));
    } catch (err) {
      if (isExhibitError(err, 'precondition-failed')) return null;
      throw err;
    }
    const lines: SeenLine[] = [];
    for (const text of bytes.toString('utf8').split('\n').slice(0, -1)) {
      const parsed = parseEntryText(text);
      if (!parsed.ok) return null;
      lines.push({ hash: parsed.hash, entry: parsed.entry, ...(parsed.entry.eventKey ? { eventKey: parsed.entry.eventKey } : {}) });
    }
    const lastLine = lines.at(-1);
    if (!lastLine) return null;
    const last = { seq: lastLine.entry.seq, hash: lastLine.hash, time: lastLine.entry.time, segment: tail.segment };
    return { tail: { ...tail, head, last }, lines };
  }

  /**
   * The lines another writer appended since this tail that the index copy may take: those
   * that chain onto the tail and carry a trusted signature (as catchUpIndex accepts).
   */
  private adoptable(tail: Tail, lines: SeenLine[]): IndexedEntry[] {
    const verifier = new SignatureVerifier([publicKeyOf(this.o.signer), ...(this.o.trustedKeys ?? [])]);
    const start = tail.last ?? tail.before;
    let prev = start ? { seq: start.seq, hash: start.hash } : { seq: -1, hash: GENESIS_HASH };
    const rows: IndexedEntry[] = [];
    for (const { entry: e, hash } of lines) {
      if (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash) break;
      if (!verifier.verify(e.keyId, e.alg, signingBytes(unsignedPart(e)), Buffer.from(e.signature, 'base64url'))) break;
      rows.push({ entry: e, segment: tail.segment, hash });
      prev = { seq: e.seq, hash };
    }
    if (rows.length < lines.length) {
      this.o.logger.error({ log: tail.name, seq: lines[rows.length]!.entry.seq }, 'custody log has an appended entry the index copy does not accept; run custody verify');
    }
    return rows;
  }

  private async nextSegment(tail: Tail, options: { abortSignal?: AbortSignal }): Promise<Tail> {
    const segment = tail.segment + 1;
    const name = segmentName(tail.caseId, tail.evidenceId, segment);
    await this.o.appendLog.create(name, { ifNotExists: true, abortSignal: options.abortSignal });
    const head = await this.o.appendLog.head(name, options);
    if (!head) throw new ExhibitError('storage-unavailable', `custody segment ${name} vanished after it was created`);
    // Nobody appends to a full segment, so the last entry we know of it is its final one.
    const before = tail.last ?? tail.before;
    const startSeq = before ? before.seq + 1 : 0;
    const last = head.length === 0 ? null : await this.readLastEntry(name, segment, head, options).catch((err: unknown) => {
      if (isExhibitError(err, 'precondition-failed')) return undefined;
      throw err;
    });
    // Appended to while we read it: start from a fresh look at the whole log.
    if (last === undefined) return this.loadTail(tail.caseId, tail.evidenceId, { ...options, catchUp: true });
    const next = { caseId: tail.caseId, evidenceId: tail.evidenceId, segment, name, head, last, before, startSeq };
    // Others wrote to it already: their lines go to the index before the next write asks it what is recorded.
    if (last !== null) await this.catchUpIndex(next, options);
    return next;
  }

  /** Finds the newest segment and its last entry; on a cold start, brings the index copy up to it. */
  private async loadTail(caseId: string, evidenceId: string, options: { abortSignal?: AbortSignal; catchUp: boolean }): Promise<Tail> {
    for (let attempt = 0; attempt < CUSTODY_LIMITS.maxAppendAttempts; attempt++) {
      let segment = -1;
      for await (const item of this.o.appendLog.list(evidencePrefix(caseId, evidenceId), options)) {
        const m = /\/(\d{6})\.jsonl$/.exec(item.name);
        if (m && item.name === segmentName(caseId, evidenceId, Number(m[1]))) segment = Math.max(segment, Number(m[1]));
      }
      if (segment < 0) {
        // No segment in storage. A new log, unless the index copy has entries: then the log
        // was deleted, and starting it again at seq 0 would paper over the deletion.
        const indexed = await lastIndexedEntry(this.o.sql, caseId, evidenceId);
        if (indexed) {
          this.o.logger.error({ caseId, evidenceId, indexedEntries: indexed.seq + 1 }, 'custody log is missing from storage');
          throw new ExhibitError('conflict', `custody log ${caseId}/${evidenceId} is missing from storage but the index copy has ${indexed.seq + 1} entries; run custody verify`);
        }
        segment = 0;
        await this.o.appendLog.create(segmentName(caseId, evidenceId, 0), { ifNotExists: true, abortSignal: options.abortSignal });
      }
      const name = segmentName(caseId, evidenceId, segment);
      const head = await this.o.appendLog.head(name, options);
      if (!head) {
        await pause(attempt + 1, options.abortSignal);
        continue;
      }
      try {
        const last = head.length === 0 ? null : await this.readLastEntry(name, segment, head, options);
        const before = head.length === 0 && segment > 0 ? await this.lastEntryOf(caseId, evidenceId, segment - 1, options) : null;
        const startSeq = last ? await this.firstSeqOf(name, head, options) : before ? before.seq + 1 : 0;
        const tail = await this.restoreLostTail({ caseId, evidenceId, segment, name, head, last, before, startSeq }, options);
        if (options.catchUp) await this.catchUpIndex(tail, options);
        return tail;
      } catch (err) {
        if (!isExhibitError(err, 'precondition-failed')) throw err;
      }
      // Other writers appended while we read: back off as an append does, or busy writers
      // (8 at once in the tests) keep invalidating every read and exhaust the attempts.
      await pause(attempt + 1, options.abortSignal);
    }
    throw new ExhibitError('storage-unavailable', `custody log ${caseId}/${evidenceId}: tail kept changing while it was read`);
  }

  private async lastEntryOf(caseId: string, evidenceId: string, segment: number, options: { abortSignal?: AbortSignal }): Promise<LastEntry | null> {
    const name = segmentName(caseId, evidenceId, segment);
    const head = await this.o.appendLog.head(name, options);
    if (!head || head.length === 0) {
      throw new ExhibitError('conflict', `custody segment ${name} is missing or empty but a later segment exists; run custody verify`);
    }
    return this.readLastEntry(name, segment, head, options);
  }

  private async firstSeqOf(name: string, head: AppendLogHead, options: { abortSignal?: AbortSignal }): Promise<number> {
    const count = Math.min(head.length, CUSTODY_LIMITS.maxEntryBytes);
    const text = (await buffer(await this.o.appendLog.read(name, { offset: 0, count, ifMatch: head.etag, abortSignal: options.abortSignal }))).toString('utf8');
    const parsed = text.includes('\n') ? parseEntryText(text.slice(0, text.indexOf('\n'))) : null;
    if (!parsed?.ok) {
      this.o.logger.error({ log: name }, 'custody log begins with an unreadable entry');
      throw new ExhibitError('conflict', `custody log ${name} begins with an unreadable entry; run custody verify`);
    }
    return parsed.entry.seq;
  }

  private async readLastEntry(name: string, segment: number, head: AppendLogHead, options: { abortSignal?: AbortSignal }): Promise<LastEntry> {
    const count = Math.min(head.length, CUSTODY_LIMITS.maxEntryBytes + 1);
    const bytes = await buffer(await this.o.appendLog.read(name, { offset: head.length - count, count, ifMatch: head.etag, abortSignal: options.abortSignal }));
    const text = bytes.toString('utf8');
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : [];
    const lastText = lines.at(-1);
    const parsed = lastText === undefined || (lines.length === 1 && count < head.length) ? null : parseEntryText(lastText);
    if (!parsed?.ok) {
      this.o.logger.error({ log: name }, 'custody log ends in an unreadable entry');
      throw new ExhibitError('conflict', `custody log ${name} ends in an unreadable entry; run custody verify`);
    }
    return { seq: parsed.entry.seq, hash: parsed.hash, time: parsed.entry.time, segment };
  }

  /**
   * Storage lost the newest entries of this segment (Azurite killed hard loses its last
   * writes) while their index rows stayed: the index is ahead of the blob. The signed lines
   * the index kept (custody_lines) are appended again, byte for byte, but only each one whose
   * hash is its custody_entries row's, whose signature verifies and which links onto the
   * log's last entry: the log becomes what it was, never something the index made up. Lines
   * of another segment, or missing lines (rows written before they were kept), are left to
   * custody verify to report.
   */
  private async restoreLostTail(tail: Tail, options: { abortSignal?: AbortSignal }): Promise<Tail> {
    const newest = tail.last ?? tail.before;
    if (!newest) return tail;
    const indexed = await lastIndexedEntry(this.o.sql, tail.caseId, tail.evidenceId);
    if (!indexed || indexed.seq <= newest.seq) return tail;
    const rows = await indexedLinesAfter(this.o.sql, tail.caseId, tail.evidenceId, newest.seq, 10_000);
    // Only trusted keys, never keys published beside the logs (which whoever cut the log could write).
    const verifier = new SignatureVerifier([publicKeyOf(this.o.signer), ...(this.o.trustedKeys ?? [])]);
    let restored = tail;
    let prev = { seq: newest.seq, hash: newest.hash };
    for (const row of rows) {
      if (row.segment !== tail.segment || row.line === null || row.seq !== prev.seq + 1) break;
      const parsed = parseEntryText(row.line);
      if (!parsed.ok || parsed.hash !== row.hash || parsed.entry.seq !== row.seq || parsed.entry.prevHash !== prev.hash) break;
      const e = parsed.entry;
      if (!verifier.verify(e.keyId, e.alg, signingBytes(unsignedPart(e)), Buffer.from(e.signature, 'base64url'))) break;
      const head = await this.o.appendLog.append(restored.name, Buffer.from(`${row.line}\n`, 'utf8'), {
        appendPosition: restored.head.length,
        ifMatch: restored.head.etag,
        abortSignal: options.abortSignal,
      });
      restored = { ...restored, head, last: { seq: e.seq, hash: parsed.hash, time: e.time, segment: tail.segment } };
      prev = { seq: e.seq, hash: parsed.hash };
    }
    const count = prev.seq - newest.seq;
    if (count > 0) {
      this.restorations.set(`${tail.caseId}/${tail.evidenceId}`, { segment: tail.segment, fromSeq: newest.seq + 1, entries: count });
      this.o.logger.error(
        { caseId: tail.caseId, evidenceId: tail.evidenceId, log: tail.name, restored: count, fromSeq: newest.seq + 1 },
        'custody log in storage had lost its newest entries (storage crash); appended the same signed lines again from the index',
      );
    }
    if (prev.seq < indexed.seq) {
      this.o.logger.error({ caseId: tail.caseId, evidenceId: tail.evidenceId, log: tail.name, blobSeq: prev.seq, indexSeq: indexed.seq }, 'custody log is behind its index copy and could not be restored; run custody verify');
    }
    return restored;
  }

  /**
   * After a crash between an append and its index row, the blob is ahead of
   * the index. Copies the missing entries, but only those that carry a valid
   * signature and chain onto what the index already holds: the index must
   * stay an independent witness, never a copy of a tampered tail.
   */
  private async catchUpIndex(tail: Tail, options: { abortSignal?: AbortSignal }): Promise<void> {
    const newest = tail.last ?? tail.before;
    if (!newest) return;
    const indexed = await lastIndexedEntry(this.o.sql, tail.caseId, tail.evidenceId);
    if (indexed && indexed.seq >= newest.seq) return;
    // Only trusted keys: a key published beside the logs could have signed anything.
    const verifier = new SignatureVerifier([publicKeyOf(this.o.signer), ...(this.o.trustedKeys ?? [])]);
    const fromSeq = indexed ? indexed.seq + 1 : 0;
    let prevHash = indexed ? indexed.hash : GENESIS_HASH;
    let rows: IndexedEntry[] = [];
    let copied = 0;
    const firstSegment = indexed ? await this.segmentHolding(tail, newest.segment, fromSeq, options) : 0;
    for (let segment = firstSegment; segment <= newest.segment; segment++) {
      const name = segmentName(tail.caseId, tail.evidenceId, segment);
      for await (const line of readLines(await this.o.appendLog.read(name, options), CUSTODY_LIMITS.maxEntryBytes)) {
        const parsed = line.text !== null && line.terminated ? parseEntryText(line.text) : null;
        if (!parsed?.ok) return this.stopCatchUp(tail, rows, copied, 'unreadable entry');
        const e = parsed.entry;
        if (e.seq < fromSeq) continue;
        if (e.seq !== fromSeq + copied + rows.length || e.prevHash !== prevHash) return this.stopCatchUp(tail, rows, copied, 'entry does not chain onto the index copy');
        if (!verifier.verify(e.keyId, e.alg, signingBytes(unsignedPart(e)), Buffer.from(e.signature, 'base64url'))) {
          return this.stopCatchUp(tail, rows, copied, 'entry signature does not verify');
        }
        rows.push({ entry: e, segment, hash: parsed.hash });
        prevHash = parsed.hash;
        // In pieces, in seq order: a reload may find a whole segment ahead (150 MiB), never held at once.
        if (rows.length >= CATCH_UP_BATCH_ENTRIES) {
          await insertIndexedEntries(this.o.sql, rows);
          copied += rows.length;
          rows = [];
        }
      }
    }
    await this.stopCatchUp(tail, rows, copied, null);
  }

  /** The newest segment whose first entry is at or before `seq`: earlier segments need not be read. */
  private async segmentHolding(tail: Tail, newestSegment: number, seq: number, options: { abortSignal?: AbortSignal }): Promise<number> {
    for (let segment = newestSegment; segment > 0; segment--) {
      const name = segmentName(tail.caseId, tail.evidenceId, segment);
      const head = await this.o.appendLog.head(name, options);
      if (head && head.length > 0 && (await this.firstSeqOf(name, head, options)) <= seq) return segment;
    }
    return 0;
  }

  private async stopCatchUp(tail: Tail, rows: IndexedEntry[], copied: number, problem: string | null): Promise<void> {
    await insertIndexedEntries(this.o.sql, rows);
    const entries = copied + rows.length;
    if (entries > 0) this.o.logger.warn({ caseId: tail.caseId, evidenceId: tail.evidenceId, entries }, 'custody index copy caught up with the log');
    if (problem) {
      this.o.logger.error({ caseId: tail.caseId, evidenceId: tail.evidenceId, problem }, 'custody log has entries the index copy does not accept; run custody verify');
    }
  }

  /** Index rows follow the blob; a failure here leaves the entry recorded and the index to catch up later. */
  private async index(rows: IndexedEntry[], tail: Tail): Promise<boolean> {
    try {
      await insertIndexedEntries(this.o.sql, rows);
      return true;
    } catch (err) {
      this.o.logger.error({ err, caseId: tail.caseId, evidenceId: tail.evidenceId }, 'custody entry recorded but its index copy failed; it will be copied on the next write');
      return false;
    }
  }

  private remember(tail: Tail): void {
    const key = `${tail.caseId}/${tail.evidenceId}`;
    this.tails.delete(key);
    this.tails.set(key, tail);
    if (this.tails.size > CUSTODY_LIMITS.maxCachedTails) {
      const oldest = this.tails.keys().next().value;
      if (oldest !== undefined) this.tails.delete(oldest);
    }
  }
}

/** Entries one index statement of a catch-up carries (15 parameters each, far below PostgreSQL's 65,535). */
const CATCH_UP_BATCH_ENTRIES = 200;

/** One entry to write and every caller waiting on it (several when an eventKey came twice; none for the log's own). */
interface Slot {
  event: CheckedEvent;
  waiting: Waiting<CheckedEvent>[];
}

/** A group's entries chained onto a tail, ready to append as one block. */
interface Block {
  lines: Buffer[];
  entries: Array<{ entry: CustodyEntry; hash: string }>;
  /** Slots whose entries are in the block, in seq order. */
  written: Slot[];
  /** Slots that did not fit (segment room, group limits). */
  rest: Slot[];
  /** Seq of the block's first event entry (after a segment start). */
  firstEventSeq: number;
}

interface SignedLine {
  entry: CustodyEntry;
  line: Buffer;
  hash: string;
}

/** The group's callers by entry: an eventKey sent twice in one group is one entry. */
function slotsOf(group: Waiting<CheckedEvent>[]): Slot[] {
  const slots: Slot[] = [];
  const byKey = new Map<string, Slot>();
  for (const w of group) {
    const key = w.item.eventKey;
    const same = key === undefined ? undefined : byKey.get(key);
    if (same) {
      same.waiting.push(w);
      continue;
    }
    const slot = { event: w.item, waiting: [w] };
    slots.push(slot);
    if (key !== undefined) byKey.set(key, slot);
  }
  return slots;
}

/** A restored tail is itself an event of the log: the entry says which lines were appended again, and why. */
function restorationEvent(caseId: string, evidenceId: string, restored: { segment: number; fromSeq: number; entries: number }, tools: ToolVersion[], submittedAt: string): CheckedEvent {
  return { submittedAt, ...checkEvent({
    caseId,
    evidenceId,
    action: 'log-restored',
    actor: CUSTODY_ACTOR,
    details: {
      segment: restored.segment,
      fromSeq: restored.fromSeq,
      entries: restored.entries,
      reason: 'storage had lost the newest entries of this log (a crash); the same signed lines were appended again from the index copy',
    },
    tools,
    eventKey: `log-restored:${restored.segment}:${restored.fromSeq}`,
  }) };
}

interface SeenLine {
  hash: string;
  eventKey?: string;
  entry: CustodyEntry;
}

/** Waits before the next attempt after losing a race to other writers. */
async function pause(attempt: number, abortSignal: AbortSignal | undefined): Promise<void> {
  await sleep(backoffMs(attempt), undefined, { signal: abortSignal }).catch((err: unknown) => {
    throw new ExhibitError('aborted', 'custody append aborted', { cause: err });
  });
}

/** Exponential with full jitter, so writers that collided do not collide again in step. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(CUSTODY_LIMITS.maxBackoffMs, 5 * 2 ** Math.min(attempt, 10));
  return Math.floor(Math.random() * ceiling);
}

interface CheckedEvent {
  /** When the caller submitted it (ISO 8601): the entry's time, unless the previous entry's is later. */
  submittedAt: string;
  caseId: string;
  evidenceId: string;
  action: CustodyAction;
  actor: string;
  subject: CustodySubject;
  details: Record<string, unknown>;
  tools: ToolVersion[];
  eventKey?: string;
}

/** Events come from our own code, but what they carry comes from evidence and users: check it all. */
function checkEvent(event: CustodyEvent): Omit<CheckedEvent, 'submittedAt'> {
  const caseId = assertValidId('case', event.caseId);
  const evidenceId = assertValidId('evidence', event.evidenceId);
  if (!ACTIONS.has(event.action)) throw new ExhibitError('invalid-argument', `unknown custody action ${JSON.stringify(String(event.action)).slice(0, 80)}`);
  if (typeof event.actor !== 'string' || event.actor.length === 0 || event.actor.length > 256) {
    throw new ExhibitError('invalid-argument', 'custody actor must be 1-256 characters');
  }
  if (event.eventKey !== undefined && (typeof event.eventKey !== 'string' || event.eventKey.length === 0)) {
    throw new ExhibitError('invalid-argument', 'custody eventKey must be a non-empty string');
  }
  // A key built from a long blob name is stored in its digest form, never refused: refusing it lost the event.
  const eventKey = event.eventKey === undefined ? undefined : storedEventKey(event.eventKey);
  const subject: CustodySubject = { caseId, evidenceId };
  const s = event.subject ?? {};
  for (const [k, max] of [['blobName', LIMITS.maxBlobNameChars], ['fileId', 128], ['sha256', 128]] as const) {
    const v = s[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ExhibitError('invalid-argument', `custody subject.${k} must be 1-${max} characters`);
    subject[k] = v;
  }
  const tools = (event.tools ?? []).map((t) => ({ name: String(t.name).slice(0, 200), version: String(t.version).slice(0, 200) }));
  if (tools.length > CUSTODY_LIMITS.maxTools) throw new ExhibitError('invalid-argument', `at most ${CUSTODY_LIMITS.maxTools} tool versions per custody entry`);
  const details = toPlainJson(event.details ?? {});
  if (details === null || typeof details !== 'object' || Array.isArray(details)) throw new ExhibitError('invalid-argument', 'custody details must be an object');
  return { caseId, evidenceId, action: event.action, actor: event.actor, subject, details, tools, ...(eventKey ? { eventKey } : {}) };
}
