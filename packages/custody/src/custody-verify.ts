import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { ExhibitError, assertValidId, isExhibitError, isValidId, type AppendLog, type BlobStore, type ToolVersion } from '@exhibit/core';
import {
  CUSTODY_LIMITS,
  GENESIS_HASH,
  HASH_RECORDING_ACTIONS,
  parseEntryText,
  SEGMENT_START,
  signingBytes,
  unsignedPart,
  type CustodyEntry,
  type CustodySubject,
} from './custody-entry.js';
import { indexedCount, indexedEvidenceIds, indexedHashes, lastIndexedEntries, type CustodySql } from './custody-index.sql.js';
import { parseCheckpoints, type CheckpointProblem, type CheckpointStore, type CustodyCheckpoint } from './custody-checkpoint.js';
import { readKeysDocument } from './key-registry.js';
import { readLines } from './line-reader.js';
import { casePrefix, evidencePrefix, parseSegmentName, segmentName } from './segment-names.js';
import { sameKey, SignatureVerifier, type PublicKeyRecord } from './signer.js';

/** Why a custody log does not verify; the first one found is reported. */
export type CustodyBreakReason =
  | 'unparseable'
  | 'non-canonical'
  | 'wrong-subject'
  | 'unknown-key'
  | 'bad-signature'
  | 'inserted'
  | 'index-mismatch'
  | 'reordered'
  | 'seq-gap'
  | 'broken-link'
  | 'time-regression'
  | 'segment-chain'
  | 'truncated'
  | 'evidence-modified'
  | 'evidence-missing'
  /** The index or a checkpoint knows the evidence item, but storage holds no segment of its log (deleted). */
  | 'missing-log'
  /** The entry at a checkpoint's seq is not the one the checkpoint signed (the log was rewritten). */
  | 'checkpoint-mismatch';

export interface CustodyBreak {
  reason: CustodyBreakReason;
  /** The entry at fault: its seq as written (null when it could not be read). */
  seq: number | null;
  /** The seq the chain expected at that point. */
  expectedSeq: number | null;
  segment: string | null;
  /** 1-based line within the segment. */
  line: number | null;
  detail: string;
}

export interface VerifiedEntry {
  seq: number;
  time: string;
  actor: string;
  action: string;
  subject: CustodySubject;
  details: Record<string, unknown>;
  tools: ToolVersion[];
  eventKey?: string;
  keyId: string;
  alg: string;
  prevHash: string;
  hash: string;
  segment: string;
}

export interface EvidenceHashCheck {
  blobName: string;
  /** The entry that recorded the hash. */
  seq: number;
  recordedSha256: string;
  actualSha256: string | null;
  ok: boolean;
}

export interface EvidenceCustodyVerification {
  caseId: string;
  evidenceId: string;
  ok: boolean;
  /** Entries read and verified before the first break (all of them when ok). */
  verifiedEntries: number;
  lastSeq: number | null;
  /** Hash of the last verified entry: quote it to pin the log's state. */
  headHash: string | null;
  segments: Array<{ name: string; entries: number; bytes: number }>;
  /** Entries in the index copy, or null when no index was compared. */
  indexEntries: number | null;
  keyIds: string[];
  evidence: EvidenceHashCheck[];
  firstBreak: CustodyBreak | null;
  /** The latest trusted checkpoint of this log, when checkpoints were read. */
  checkpoint?: { entries: number; lastSeq: number; headHash: string; time: string; keyId: string } | null;
  /** Set by whoever records the verification in the item's own log: false when that log is too damaged to take it. */
  auditRecorded?: boolean;
  /** False when the evidence blobs were not re-hashed (asked not to, or no access: a bundle). */
  evidenceChecked?: boolean;
  /**
   * Runs of entries the index copy has no row for although a later entry it records vouches
   * for them through the hash chain (a writer's index copy never written): not tampering,
   * but the index's listings lack them until a writer catches it up.
   */
  indexGaps?: Array<{ fromSeq: number; toSeq: number }>;
  /** Up to `collectEntries` verified entries, for reports. */
  entries?: VerifiedEntry[];
  entriesOmitted?: number;
}

export interface CustodyVerification {
  format: 'exhibit-custody-verification/1';
  caseId: string;
  verifiedAt: string;
  ok: boolean;
  /**
   * Where the accepted keys came from: 'trusted', handed to the verifier out of band; 'keys.json', found
   * beside the logs (legacy); 'bundle', carried by the bundle being verified, which proves consistency with
   * those keys only (compare their ids with the published ones).
   */
  keys: { source: 'trusted' | 'keys.json' | 'bundle'; accepted: PublicKeyRecord[]; rejected: Array<{ keyId: string; reason: string }> };
  /** Checkpoints read (when a checkpoint store was given); a rejected checkpoint fails the verification. */
  checkpoints?: { location: string; verified: number; rejected: CheckpointProblem[] };
  /** What this verification could not check, e.g. evidence re-hashing from a bundle. */
  notes?: string[];
  items: EvidenceCustodyVerification[];
}

/** Why a key found beside the logs (keys.json, keys/*.json) is not used when the verifier has a trusted set. */
export const UNTRUSTED_PUBLISHED_KEY = 'untrusted: published only beside the logs';

export interface VerifyCustodyOptions {
  /** The evidence blobs; without them the evidence is not re-hashed (a bundle carries no evidence). */
  blobs?: BlobStore | null;
  log: AppendLog;
  /** The index copy; without it, truncation at the end of a log cannot be detected. */
  sql?: CustodySql | null;
  caseId: string;
  evidenceId?: string;
  containers: { evidence: string };
  /**
   * Keys trusted out of band (the pinned set, Key Vault's key versions, a key
   * bundle). When given, keys published beside the logs are not trusted:
   * those not in this set are listed in keys.rejected.
   */
  trustedKeys?: PublicKeyRecord[];
  /** Only without trustedKeys: keys trusted in addition to keys.json (legacy, trusts what is beside the logs). */
  additionalKeys?: PublicKeyRecord[];
  /** Signed checkpoints of the logs' heads: with them a cut-off tail or a deleted log is found without the index. */
  checkpoints?: CheckpointStore | null;
  /** Re-hash the evidence blobs against the hashes recorded in the log (default true). */
  checkEvidence?: boolean;
  /**
   * How long to wait for the index rows of the newest entries, which writers copy just after
   * appending, before calling them never recorded (default CUSTODY_LIMITS.indexGraceMs).
   */
  indexGraceMs?: number;
  /** Return up to this many verified entries per evidence item (default 0). */
  collectEntries?: number;
  now?: () => Date;
  abortSignal?: AbortSignal;
}

interface SegmentInfo {
  number: number;
  name: string;
  length: number;
}

/**
 * Re-verifies custody logs from storage: every line's form, signature, seq,
 * link and time, the chaining of segments, agreement with the index copy,
 * and the evidence blobs against the hashes the log recorded. Read-only.
 */
export async function verifyCustody(options: VerifyCustodyOptions): Promise<CustodyVerification> {
  const caseId = assertValidId('case', options.caseId);
  const verifiedAt = (options.now?.() ?? new Date()).toISOString();
  let keySource: 'trusted' | 'keys.json' = 'trusted';
  let records = options.trustedKeys;
  const keyProblems: Array<{ keyId: string; reason: string }> = [];
  const doc = await readKeysDocument(options.log, caseId, { abortSignal: options.abortSignal });
  keyProblems.push(...(doc?.problems ?? []).map((reason) => ({ keyId: '(unreadable)', reason })));
  if (!records) {
    keySource = 'keys.json';
    records = [...(options.additionalKeys ?? []), ...(doc?.document.keys ?? [])];
  } else {
    // Anyone who can write beside the logs can publish a key there; with a trusted set it is only reported.
    const trusted = records;
    const seen = new Set<string>();
    for (const k of doc?.document.keys ?? []) {
      if (seen.has(k.keyId)) continue;
      seen.add(k.keyId);
      if (!trusted.some((t) => sameKey(t, k))) keyProblems.push({ keyId: k.keyId, reason: UNTRUSTED_PUBLISHED_KEY });
    }
  }
  const verifier = new SignatureVerifier(records);
  let checkpointSummary: CustodyVerification['checkpoints'];
  let latestCheckpoints = new Map<string, CustodyCheckpoint>();
  if (options.checkpoints) {
    const read = parseCheckpoints(caseId, await options.checkpoints.read(caseId, { abortSignal: options.abortSignal }), verifier);
    latestCheckpoints = read.latest;
    // Verifying one item: another item's bad checkpoint is not this item's concern; an unattributable line is.
    const rejected = options.evidenceId ? read.problems.filter((p) => p.evidenceId === null || p.evidenceId === options.evidenceId) : read.problems;
    checkpointSummary = { location: options.checkpoints.location, verified: read.count, rejected };
  }

  // The index copy's heads are read before the log is listed: a row is only written after its
  // line was appended, so every entry they name is in the listed log, and entries appended while
  // this runs (beyond the listed lengths) are left to the next verification.
  const indexHeads = options.sql ? await lastIndexedEntries(options.sql, caseId, options.evidenceId) : null;
  const segmentsByEvidence = new Map<string, SegmentInfo[]>();
  const prefix = options.evidenceId ? evidencePrefix(caseId, options.evidenceId) : casePrefix(caseId);
  for await (const item of options.log.list(prefix, { abortSignal: options.abortSignal })) {
    const parsed = parseSegmentName(caseId, item.name);
    if (!parsed) continue;
    const list = segmentsByEvidence.get(parsed.evidenceId) ?? [];
    list.push({ number: parsed.segment, name: item.name, length: item.length });
    segmentsByEvidence.set(parsed.evidenceId, list);
  }
  const evidenceIds = new Set(segmentsByEvidence.keys());
  if (options.sql) {
    for (const id of await indexedEvidenceIds(options.sql, caseId)) if (isValidId(id)) evidenceIds.add(id);
  }
  // A checkpointed item whose log is gone is a missing log, index or not.
  for (const id of latestCheckpoints.keys()) if (!options.evidenceId || id === options.evidenceId) evidenceIds.add(id);
  if (options.evidenceId) {
    const wanted = assertValidId('evidence', options.evidenceId);
    if (!evidenceIds.has(wanted)) throw new ExhibitError('not-found', `no custody log for ${caseId}/${wanted}`);
    evidenceIds.clear();
    evidenceIds.add(wanted);
  }
  const items: EvidenceCustodyVerification[] = [];
  for (const evidenceId of [...evidenceIds].sort()) {
    const segments = (segmentsByEvidence.get(evidenceId) ?? []).sort((a, b) => a.number - b.number);
    const checkpoint = options.checkpoints ? (latestCheckpoints.get(evidenceId) ?? null) : undefined;
    const indexLast = indexHeads ? (indexHeads.get(evidenceId) ?? null) : null;
    items.push(await verifyEvidence(options, verifier, caseId, evidenceId, segments, checkpoint, indexLast));
  }
  const notes: string[] = [];
  if (!options.blobs && options.checkEvidence !== false) notes.push('evidence not re-hashed: no access to the evidence blobs (not possible offline from a bundle)');
  return {
    format: 'exhibit-custody-verification/1',
    caseId,
    verifiedAt,
    ok: items.every((i) => i.ok) && (checkpointSummary?.rejected.length ?? 0) === 0,
    keys: { source: keySource, accepted: verifier.records(), rejected: [...keyProblems, ...verifier.rejected] },
    ...(checkpointSummary ? { checkpoints: checkpointSummary } : {}),
    ...(notes.length > 0 ? { notes } : {}),
    items,
  };
}

interface ScannedLine {
  segment: SegmentInfo;
  segmentIndex: number;
  line: number;
  text: string | null;
  terminated: boolean;
  tooLong: boolean;
}

async function* scanLines(log: AppendLog, segments: SegmentInfo[], abortSignal?: AbortSignal): AsyncGenerator<ScannedLine | { emptySegment: SegmentInfo; segmentIndex: number }> {
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    let line = 0;
    // Only the bytes the listing saw: a consistent snapshot with the index heads read before it.
    const body = await log.read(segment.name, { offset: 0, count: segment.length, abortSignal });
    for await (const l of readLines(body, CUSTODY_LIMITS.maxEntryBytes)) {
      line++;
      yield { segment, segmentIndex: i, line, text: l.text, terminated: l.terminated, tooLong: l.tooLong };
    }
    if (line === 0) yield { emptySegment: segment, segmentIndex: i };
  }
}

/** Pages through the index copy's hashes in seq order, as the log is read in seq order. */
class IndexHashes {
  private rows = new Map<number, string>();
  private from = 0;
  private to = 0;
  private static readonly PAGE = 5000;

  constructor(
    private readonly sql: CustodySql,
    private readonly caseId: string,
    private readonly evidenceId: string,
  ) {}

  async at(seq: number): Promise<string | undefined> {
    if (seq < this.from || seq >= this.to) {
      const page = await indexedHashes(this.sql, this.caseId, this.evidenceId, seq, IndexHashes.PAGE);
      this.rows = new Map(page.map((r) => [r.seq, r.hash]));
      this.from = seq;
      this.to = page.length < IndexHashes.PAGE ? Number.MAX_SAFE_INTEGER : page[page.length - 1]!.seq + 1;
    }
    return this.rows.get(seq);
  }
}

async function verifyEvidence(
  options: VerifyCustodyOptions,
  verifier: SignatureVerifier,
  caseId: string,
  evidenceId: string,
  segments: SegmentInfo[],
  checkpoint: CustodyCheckpoint | null | undefined,
  indexLast: { seq: number; hash: string } | null,
): Promise<EvidenceCustodyVerification> {
  const index = options.sql ? new IndexHashes(options.sql, caseId, evidenceId) : null;
  const collect = Math.min(options.collectEntries ?? 0, CUSTODY_LIMITS.maxReportEntries);
  const result: EvidenceCustodyVerification = {
    caseId,
    evidenceId,
    ok: false,
    verifiedEntries: 0,
    lastSeq: null,
    headHash: null,
    segments: segments.map((s) => ({ name: s.name, entries: 0, bytes: s.length })),
    // Rows counted, not the newest seq + 1: a hole in the index copy must show in the count.
    indexEntries: options.sql ? (indexLast ? await indexedCount(options.sql, caseId, evidenceId, indexLast.seq) : 0) : null,
    keyIds: [],
    evidence: [],
    firstBreak: null,
    ...(checkpoint !== undefined
      ? { checkpoint: checkpoint && { entries: checkpoint.entries, lastSeq: checkpoint.lastSeq, headHash: checkpoint.headHash, time: checkpoint.time, keyId: checkpoint.keyId } }
      : {}),
    ...(collect > 0 ? { entries: [], entriesOmitted: 0 } : {}),
  };
  const keyIds = new Set<string>();
  const recordedHashes = new Map<string, { seq: number; sha256: string }>();
  let prev: { entry: CustodyEntry; hash: string; segmentIndex: number } | null = null;
  let unindexed: { seq: number; at: ScannedLine } | null = null;
  /** Entries within the index copy's range that it has no row for, until an indexed entry vouches for them. */
  let gap: { fromSeq: number; at: ScannedLine } | null = null;

  const scan = scanLines(options.log, segments, options.abortSignal)[Symbol.asyncIterator]();
  /** Reads on past a suspected break, only to tell what kind of break it is. */
  const laterLineMatches = async (test: (entry: CustodyEntry, hash: string) => boolean): Promise<boolean> => {
    for (let next = await scan.next(); !next.done; next = await scan.next()) {
      const v = next.value;
      if ('emptySegment' in v || v.text === null) continue;
      const parsed = parseEntryText(v.text);
      if (parsed.ok && test(parsed.entry, parsed.hash)) return true;
    }
    return false;
  };
  const fail = (reason: CustodyBreakReason, at: ScannedLine | null, seq: number | null, detail: string): EvidenceCustodyVerification => {
    result.firstBreak = {
      reason,
      seq,
      expectedSeq: prev ? prev.entry.seq + 1 : 0,
      segment: at?.segment.name ?? null,
      line: at?.line ?? null,
      detail,
    };
    return result;
  };

  const finish = async (): Promise<EvidenceCustodyVerification> => {
    result.keyIds = [...keyIds].sort();
    result.evidenceChecked = options.checkEvidence !== false && !!options.blobs;
    if (result.evidenceChecked) await checkEvidence(options, caseId, evidenceId, recordedHashes, result);
    result.ok = result.firstBreak === null;
    return result;
  };

  if (segments.length === 0) {
    // Only reached for an item the index knows (storage listed nothing for it): its log was
    // deleted. Said as such, rather than as a truncation or a 404 that hides the item.
    const known = [indexLast ? `the index copy has ${indexLast.seq + 1} entries` : null, checkpoint ? `the checkpoint of ${checkpoint.time} records ${checkpoint.entries}` : null].filter(Boolean);
    fail('missing-log', null, null, `no segment of the custody log of ${caseId}/${evidenceId} is in storage${known.length > 0 ? `; ${known.join('; ')}` : ''}`);
    return finish();
  }

  for (let next = await scan.next(); !next.done; next = await scan.next()) {
    const v = next.value;
    if ('emptySegment' in v) {
      // Only the newest segment may be empty: a writer created it and has not written its start yet.
      if (v.segmentIndex !== segments.length - 1) {
        fail('segment-chain', null, null, `segment ${v.emptySegment.name} is empty but later segments exist`);
        return finish();
      }
      continue;
    }
    const at = v;
    if (at.segment.number !== at.segmentIndex) {
      const missing = segmentName(caseId, evidenceId, at.segmentIndex);
      fail('segment-chain', at, null, `segment ${missing} is missing`);
      return finish();
    }
    if (at.tooLong) {
      fail('unparseable', at, null, `line is longer than ${CUSTODY_LIMITS.maxEntryBytes} bytes`);
      return finish();
    }
    if (at.text === null || !at.terminated) {
      fail('unparseable', at, null, at.text === null ? 'line is not valid UTF-8' : 'last line has no newline (partial write or truncation)');
      return finish();
    }
    const parsed = parseEntryText(at.text);
    if (!parsed.ok) {
      fail(parsed.reason, at, null, parsed.detail);
      return finish();
    }
    const { entry, hash } = parsed;
    const expectedSeq = prev ? prev.entry.seq + 1 : 0;
    if (entry.subject.caseId !== caseId || entry.subject.evidenceId !== evidenceId) {
      fail('wrong-subject', at, entry.seq, `entry belongs to ${entry.subject.caseId}/${entry.subject.evidenceId}`);
      return finish();
    }
    const key = verifier.get(entry.keyId);
    if (!key || key.algorithm !== entry.alg) {
      fail('unknown-key', at, entry.seq, `signed with ${entry.alg} key ${entry.keyId}, which is not a trusted key of this case`);
      return finish();
    }
    if (!verifier.verify(entry.keyId, entry.alg, signingBytes(unsignedPart(entry)), Buffer.from(entry.signature, 'base64url'))) {
      fail('bad-signature', at, entry.seq, `signature does not verify with key ${entry.keyId}`);
      return finish();
    }
    let vouched = false;
    if (index) {
      const indexed = await index.at(entry.seq);
      vouched = indexed === hash;
      if (indexed === undefined) {
        if (indexLast && entry.seq <= indexLast.seq) {
          // A row missing inside the index's range (a writer whose answer was lost never wrote
          // it): not an insertion unless the next indexed entry disagrees. Its row records the
          // hash of that entry, which the chain ties to this one, so an entry put in here could
          // only pass by matching the original's hash.
          gap ??= { fromSeq: entry.seq, at };
        } else {
          // Possibly an append whose index row is still being written; looked at again at the end.
          unindexed ??= { seq: entry.seq, at };
        }
      } else if (indexed !== hash) {
        const original = indexed;
        const displaced = await laterLineMatches((_e, h) => h === original);
        fail(
          displaced ? 'inserted' : 'index-mismatch',
          at,
          entry.seq,
          displaced
            ? 'this entry is not the one the index copy recorded at this seq; the recorded one follows later in the log'
            : 'this entry differs from the one the index copy recorded at this seq',
        );
        return finish();
      }
    }
    if (entry.seq !== expectedSeq) {
      if (entry.seq < expectedSeq) {
        fail('inserted', at, entry.seq, `seq ${entry.seq} appears again after seq ${expectedSeq - 1}`);
        return finish();
      }
      const later = await laterLineMatches((e) => e.seq === expectedSeq);
      fail(later ? 'reordered' : 'seq-gap', at, entry.seq, later ? `seq ${entry.seq} comes before seq ${expectedSeq}` : `seq ${expectedSeq}${entry.seq - expectedSeq > 1 ? `-${entry.seq - 1}` : ''} missing`);
      return finish();
    }
    const isSegmentFirst = at.line === 1;
    if (isSegmentFirst !== (entry.action === SEGMENT_START)) {
      fail('segment-chain', at, entry.seq, isSegmentFirst ? 'segment does not begin with a segment-start entry' : 'segment-start entry in the middle of a segment');
      return finish();
    }
    const expectedPrev = prev ? prev.hash : GENESIS_HASH;
    if (entry.prevHash !== expectedPrev) {
      fail(isSegmentFirst ? 'segment-chain' : 'broken-link', at, entry.seq, `prevHash ${entry.prevHash.slice(0, 16)}… does not match the previous entry (${expectedPrev.slice(0, 16)}…)`);
      return finish();
    }
    if (isSegmentFirst) {
      const problem = segmentStartProblem(entry, at, prev, caseId, evidenceId, key);
      if (problem) {
        fail(problem.reason, at, entry.seq, problem.detail);
        return finish();
      }
    }
    if (prev && entry.time < prev.entry.time) {
      fail('time-regression', at, entry.seq, `time ${entry.time} is before the previous entry's ${prev.entry.time}`);
      return finish();
    }

    if (checkpoint && entry.seq === checkpoint.lastSeq && hash !== checkpoint.headHash) {
      fail('checkpoint-mismatch', at, entry.seq, `this entry is not the one the checkpoint of ${checkpoint.time} signed as seq ${checkpoint.lastSeq} (the log was rewritten)`);
      return finish();
    }

    if (gap && vouched) {
      (result.indexGaps ??= []).push({ fromSeq: gap.fromSeq, toSeq: entry.seq - 1 });
      gap = null;
    }
    keyIds.add(entry.keyId);
    result.verifiedEntries++;
    result.lastSeq = entry.seq;
    result.headHash = hash;
    result.segments[at.segmentIndex]!.entries++;
    const sha = entry.subject.sha256;
    if (HASH_RECORDING_ACTIONS.has(entry.action) && entry.subject.blobName && sha && /^[0-9a-f]{64}$/.test(sha)) {
      recordedHashes.set(entry.subject.blobName, { seq: entry.seq, sha256: sha });
    }
    if (result.entries) {
      if (result.entries.length < collect) result.entries.push(toVerified(entry, hash, at.segment.name));
      else result.entriesOmitted = (result.entriesOmitted ?? 0) + 1;
    }
    prev = { entry, hash, segmentIndex: at.segmentIndex };
  }

  if (options.sql && indexLast && (prev === null || indexLast.seq > prev.entry.seq)) {
    const from = prev ? prev.entry.seq + 1 : 0;
    fail('truncated', null, null, `the index copy records seq ${from}${indexLast.seq > from ? `-${indexLast.seq}` : ''}, which the log no longer has`);
    result.firstBreak!.segment = segments.at(-1)?.name ?? null;
    return finish();
  }
  if (checkpoint && (prev === null || prev.entry.seq < checkpoint.lastSeq)) {
    const from = prev ? prev.entry.seq + 1 : 0;
    fail('truncated', null, null, `the checkpoint of ${checkpoint.time} records ${checkpoint.entries} entries (seq ${from}${checkpoint.lastSeq > from ? `-${checkpoint.lastSeq}` : ''} missing from the log)`);
    result.firstBreak!.segment = segments.at(-1)?.name ?? null;
    return finish();
  }
  if (gap) {
    fail('inserted', gap.at, gap.fromSeq, 'the index copy has no entry with this seq, and no later entry it records vouches for it');
    result.firstBreak!.expectedSeq = gap.fromSeq;
    return finish();
  }
  if (unindexed && options.sql && !(await indexCaughtUp(options, caseId, evidenceId, unindexed.seq))) {
    const u = unindexed;
    result.firstBreak = {
      reason: 'inserted',
      seq: u.seq,
      expectedSeq: u.seq,
      segment: u.at.segment.name,
      line: u.at.line,
      detail: 'the log has entries from this seq on that the index copy never recorded',
    };
  }
  return finish();
}

/**
 * Whether the index copy has a row at `seq`, waiting up to the grace period for one: a
 * writer appends first and copies to the index just after, so the newest entries may be
 * seconds ahead of their rows on an intact log. Past the grace they were never recorded.
 */
async function indexCaughtUp(options: VerifyCustodyOptions, caseId: string, evidenceId: string, seq: number): Promise<boolean> {
  const graceMs = Math.max(0, options.indexGraceMs ?? CUSTODY_LIMITS.indexGraceMs);
  const deadline = Date.now() + graceMs;
  for (let waitMs = 25; ; waitMs = Math.min(waitMs * 2, 500)) {
    if (await new IndexHashes(options.sql!, caseId, evidenceId).at(seq)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(waitMs, left), undefined, options.abortSignal ? { signal: options.abortSignal } : {});
  }
}

function segmentStartProblem(
  entry: CustodyEntry,
  at: ScannedLine,
  prev: { entry: CustodyEntry; hash: string; segmentIndex: number } | null,
  caseId: string,
  evidenceId: string,
  key: PublicKeyRecord,
): { reason: CustodyBreakReason; detail: string } | null {
  const d = entry.details as Partial<{ segment: unknown; previousSegment: unknown; previousHash: unknown; key: PublicKeyRecord }>;
  const previousSegment = prev ? segmentName(caseId, evidenceId, at.segmentIndex - 1) : null;
  if (d.segment !== at.segmentIndex || d.previousSegment !== previousSegment || d.previousHash !== (prev ? prev.hash : null)) {
    return { reason: 'segment-chain', detail: `segment-start does not name ${previousSegment ?? 'no previous segment'} and its last hash` };
  }
  if (!d.key || typeof d.key !== 'object' || !sameKey(d.key, key)) {
    return { reason: 'unknown-key', detail: `segment-start publishes a key that is not the trusted key ${entry.keyId}` };
  }
  return null;
}

function toVerified(entry: CustodyEntry, hash: string, segment: string): VerifiedEntry {
  return {
    seq: entry.seq,
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    details: entry.details,
    tools: entry.tools,
    ...(entry.eventKey ? { eventKey: entry.eventKey } : {}),
    keyId: entry.keyId,
    alg: entry.alg,
    prevHash: entry.prevHash,
    hash,
    segment,
  };
}

async function sha256Of(options: VerifyCustodyOptions, name: string): Promise<string | null> {
  const hash = createHash('sha256');
  if (!options.blobs) return null;
  try {
    const body = await options.blobs.openRead({ container: options.containers.evidence, name }, { abortSignal: options.abortSignal });
    await pipeline(body, new Writable({ write: (chunk: Buffer, _e, cb) => (hash.update(chunk), cb()) }), { signal: options.abortSignal });
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return null;
    throw err;
  }
  return hash.digest('hex');
}

/** Re-hashes each evidence blob the log recorded a hash for, against the latest such entry. */
async function checkEvidence(
  options: VerifyCustodyOptions,
  caseId: string,
  evidenceId: string,
  recorded: Map<string, { seq: number; sha256: string }>,
  result: EvidenceCustodyVerification,
): Promise<void> {
  const prefix = evidencePrefix(caseId, evidenceId);
  const ordered = [...recorded.entries()].sort((a, b) => a[1].seq - b[1].seq);
  for (const [blobName, { seq, sha256 }] of ordered) {
    // Only blobs of this evidence item: a name read from a log is not trusted to point elsewhere.
    if (!blobName.startsWith(prefix)) continue;
    const actual = await sha256Of(options, blobName);
    const ok = actual === sha256;
    result.evidence.push({ blobName, seq, recordedSha256: sha256, actualSha256: actual, ok });
    if (!ok && result.firstBreak === null) {
      result.firstBreak = {
        reason: actual === null ? 'evidence-missing' : 'evidence-modified',
        seq,
        expectedSeq: null,
        segment: null,
        line: null,
        detail: actual === null ? `evidence blob ${blobName} is gone` : `evidence blob ${blobName} now hashes to ${actual}, not the recorded ${sha256}`,
      };
    }
  }
}
