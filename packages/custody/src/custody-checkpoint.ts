import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buffer } from 'node:stream/consumers';
import { z } from 'zod';
import { assertValidId, ExhibitError, isExhibitError, isValidId, type AppendLog } from '@exhibit/core';
import { canonicalJson } from './canonical-json.js';
import { CUSTODY_LIMITS } from './custody-entry.js';
import type { CustodySql } from './custody-index.sql.js';
import { SignatureVerifier, type Signer } from './signer.js';

export const CHECKPOINT_FORMAT = 'exhibit-custody-checkpoint/1';

/**
 * A signed statement of where one evidence item's log stood: its entry count
 * and head hash. Checkpoints are kept where the pipeline can only append
 * (an immutable append blob in Azure, an O_APPEND file locally), so a log
 * later cut short, re-signed or deleted no longer matches its checkpoint.
 */
export interface CustodyCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  caseId: string;
  evidenceId: string;
  /** Entries in the log at the time (lastSeq + 1). */
  entries: number;
  lastSeq: number;
  /** SHA-256 of the entry at lastSeq. */
  headHash: string;
  time: string;
  keyId: string;
  alg: 'Ed25519' | 'ES256';
  /** base64url signature over the canonical JSON of every other member. */
  sig: string;
}

const checkpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  caseId: z.string().refine(isValidId),
  evidenceId: z.string().refine(isValidId),
  entries: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  lastSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.string().max(64),
  keyId: z.string().min(1).max(256),
  alg: z.enum(['Ed25519', 'ES256']),
  sig: z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/),
});

/** Largest checkpoint file read back (per case); far beyond what years of five-minute checkpoints of a case write. */
const MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024;
const MAX_CHECKPOINT_LINE = 4096;

function checkpointBytes(cp: Omit<CustodyCheckpoint, 'sig'>): Buffer {
  return Buffer.from(canonicalJson(cp), 'utf8');
}

export async function signCheckpoint(signer: Signer, cp: Omit<CustodyCheckpoint, 'sig' | 'keyId' | 'alg' | 'format'>): Promise<CustodyCheckpoint> {
  const unsigned = { format: CHECKPOINT_FORMAT, ...cp, keyId: signer.keyId, alg: signer.algorithm } as const;
  const sig = Buffer.from(await signer.sign(checkpointBytes(unsigned))).toString('base64url');
  return { ...unsigned, sig };
}

/**
 * Where checkpoints are kept: one append-only stream per case. Implementations
 * only ever append; nothing here rewrites or deletes.
 */
export interface CheckpointStore {
  /** Human-readable location, for messages. */
  readonly location: string;
  append(caseId: string, bytes: Buffer, options?: { abortSignal?: AbortSignal }): Promise<void>;
  /** The case's checkpoint stream, or null when it has none. */
  read(caseId: string, options?: { abortSignal?: AbortSignal }): Promise<Buffer | null>;
}

function checkpointFileName(caseId: string): string {
  return `${assertValidId('case', caseId)}.jsonl`;
}

/**
 * Local store: `<dir>/<caseId>.jsonl`, always opened with O_APPEND, so even a
 * bug here cannot rewrite what is there. Keep the directory where the
 * pipeline's account may append but not replace (e.g. `chattr +a`, or a
 * separate mount): see docs/operations.md.
 */
export function createFileCheckpointStore(dir: string): CheckpointStore {
  return {
    location: dir,
    async append(caseId, bytes) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(path.join(dir, checkpointFileName(caseId)), fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600);
      try {
        // One write per batch of whole lines: O_APPEND makes each write land at the end.
        await handle.write(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    async read(caseId) {
      try {
        const file = path.join(dir, checkpointFileName(caseId));
        const bytes = await readFile(file);
        if (bytes.length > MAX_CHECKPOINT_BYTES) throw new ExhibitError('limit-exceeded', `checkpoint file ${file} is larger than ${MAX_CHECKPOINT_BYTES} bytes`);
        return bytes;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
  };
}

/**
 * Azure store: an append blob per case in a container of its own with a
 * time-based immutability policy that allows protected append writes, so the
 * pipeline's identity can add blocks but never overwrite or delete them.
 */
export function appendLogCheckpointStore(log: AppendLog): CheckpointStore {
  return {
    location: `container ${log.container}`,
    async append(caseId, bytes, options = {}) {
      const name = checkpointFileName(caseId);
      for (let attempt = 1; attempt <= CUSTODY_LIMITS.maxAppendAttempts; attempt++) {
        let head = await log.head(name, options);
        if (!head) {
          await log.create(name, { ifNotExists: true, ...options });
          head = await log.head(name, options);
          if (!head) continue;
        }
        try {
          await log.append(name, bytes, { appendPosition: head.length, ifMatch: head.etag, ...options });
          return;
        } catch (err) {
          if (!isExhibitError(err, 'precondition-failed')) throw err;
        }
        await sleep(Math.floor(Math.random() * 50 * attempt));
      }
      throw new ExhibitError('storage-unavailable', `checkpoints of case ${caseId}: no append won after ${CUSTODY_LIMITS.maxAppendAttempts} attempts`);
    },
    async read(caseId, options = {}) {
      const name = checkpointFileName(caseId);
      const head = await log.head(name, options);
      if (!head) return null;
      if (head.length > MAX_CHECKPOINT_BYTES) throw new ExhibitError('limit-exceeded', `checkpoint blob ${name} is larger than ${MAX_CHECKPOINT_BYTES} bytes`);
      try {
        return await buffer(await log.read(name, { count: head.length, offset: 0, ...options }));
      } catch (err) {
        if (isExhibitError(err, 'not-found')) return null;
        throw err;
      }
    },
  };
}

export interface CheckpointProblem {
  line: number;
  evidenceId: string | null;
  keyId: string | null;
  reason: string;
}

/**
 * Reads a case's checkpoints and keeps, per evidence item, the latest one
 * (highest lastSeq) whose signature verifies with a trusted key. Every line
 * that is not such a checkpoint is a problem: checkpoints are only appended
 * by us, so anything else was written by someone else.
 */
export function parseCheckpoints(
  caseId: string,
  bytes: Buffer | null,
  verifier: SignatureVerifier,
): { latest: Map<string, CustodyCheckpoint>; count: number; problems: CheckpointProblem[] } {
  const latest = new Map<string, CustodyCheckpoint>();
  const problems: CheckpointProblem[] = [];
  let count = 0;
  if (!bytes || bytes.length === 0) return { latest, count, problems };
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  const trailing = lines.pop();
  if (trailing) problems.push({ line: lines.length + 1, evidenceId: null, keyId: null, reason: 'last line has no newline (partial write or truncation)' });
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.length > MAX_CHECKPOINT_LINE) return problems.push({ line: n, evidenceId: null, keyId: null, reason: 'line too long' });
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return problems.push({ line: n, evidenceId: null, keyId: null, reason: 'not JSON' });
    }
    const parsed = checkpointSchema.safeParse(raw);
    if (!parsed.success) return problems.push({ line: n, evidenceId: null, keyId: null, reason: 'not a custody checkpoint' });
    const cp = parsed.data as CustodyCheckpoint;
    if (cp.caseId !== caseId) return problems.push({ line: n, evidenceId: cp.evidenceId, keyId: cp.keyId, reason: `checkpoint of case ${cp.caseId}` });
    if (cp.entries !== cp.lastSeq + 1) return problems.push({ line: n, evidenceId: cp.evidenceId, keyId: cp.keyId, reason: 'entries is not lastSeq + 1' });
    if (!verifier.get(cp.keyId)) return problems.push({ line: n, evidenceId: cp.evidenceId, keyId: cp.keyId, reason: `signed with key ${cp.keyId}, which is not trusted` });
    const { sig, ...unsigned } = cp;
    if (!verifier.verify(cp.keyId, cp.alg, checkpointBytes(unsigned), Buffer.from(sig, 'base64url'))) {
      return problems.push({ line: n, evidenceId: cp.evidenceId, keyId: cp.keyId, reason: 'signature does not verify' });
    }
    count++;
    const prev = latest.get(cp.evidenceId);
    if (!prev || cp.lastSeq > prev.lastSeq) latest.set(cp.evidenceId, cp);
    else if (cp.lastSeq === prev.lastSeq && cp.headHash !== prev.headHash) {
      problems.push({ line: n, evidenceId: cp.evidenceId, keyId: cp.keyId, reason: `disagrees with an earlier checkpoint about seq ${cp.lastSeq}` });
    }
    return undefined;
  });
  return { latest, count, problems };
}

/** Heads of the index copy whose latest checkpoint is older (or missing), oldest case first. */
async function headsToCheckpoint(sql: CustodySql, caseId: string | undefined, limit: number) {
  const { rows } = await sql.query<{ case_id: string; evidence_id: string; seq: number | string; entry_hash: string }>(
    `SELECT e.case_id, e.evidence_id, e.seq, e.entry_hash
       FROM (SELECT case_id, evidence_id, max(seq) AS seq
               FROM custody_entries
              WHERE ($1::text IS NULL OR case_id = $1)
              GROUP BY case_id, evidence_id) m
       JOIN custody_entries e USING (case_id, evidence_id, seq)
       LEFT JOIN custody_checkpoints c USING (case_id, evidence_id)
      WHERE c.last_seq IS NULL OR c.last_seq <> e.seq OR c.head_hash <> e.entry_hash
      ORDER BY e.case_id, e.evidence_id
      LIMIT $2`,
    [caseId ?? null, limit],
  );
  return rows.map((r) => ({ caseId: r.case_id, evidenceId: r.evidence_id, seq: Number(r.seq), hash: r.entry_hash }));
}

export interface CheckpointRun {
  /** Checkpoints written, per case. */
  written: Array<{ caseId: string; evidenceIds: string[] }>;
  checkpoints: number;
}

/**
 * Writes a signed checkpoint for every evidence item whose head (in the
 * index copy) moved since its last checkpoint. Idempotent: a second run with
 * nothing new writes nothing. The index row `custody_checkpoints` only
 * remembers what was written, to find what moved; the store is the record.
 */
export async function writeCheckpoints(options: {
  sql: CustodySql;
  store: CheckpointStore;
  signer: Signer;
  caseId?: string;
  /** Items per run (default 5,000); the next run picks up the rest. */
  maxItems?: number;
  now?: () => Date;
  abortSignal?: AbortSignal;
}): Promise<CheckpointRun> {
  const heads = await headsToCheckpoint(options.sql, options.caseId, options.maxItems ?? 5000);
  const byCase = new Map<string, typeof heads>();
  for (const h of heads) {
    if (!isValidId(h.caseId) || !isValidId(h.evidenceId)) continue;
    const list = byCase.get(h.caseId) ?? [];
    list.push(h);
    byCase.set(h.caseId, list);
  }
  const run: CheckpointRun = { written: [], checkpoints: 0 };
  for (const [caseId, list] of byCase) {
    const time = (options.now?.() ?? new Date()).toISOString();
    const lines: string[] = [];
    for (const h of list) {
      const cp = await signCheckpoint(options.signer, { caseId, evidenceId: h.evidenceId, entries: h.seq + 1, lastSeq: h.seq, headHash: h.hash, time });
      lines.push(canonicalJson(cp));
    }
    await options.store.append(caseId, Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8'), options.abortSignal ? { abortSignal: options.abortSignal } : {});
    for (const h of list) {
      await options.sql.query(
        `INSERT INTO custody_checkpoints (case_id, evidence_id, last_seq, head_hash, time)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (case_id, evidence_id) DO UPDATE
           SET last_seq = EXCLUDED.last_seq, head_hash = EXCLUDED.head_hash, time = EXCLUDED.time
         WHERE custody_checkpoints.last_seq <= EXCLUDED.last_seq`,
        [caseId, h.evidenceId, h.seq, h.hash, time],
      );
    }
    run.written.push({ caseId, evidenceIds: list.map((h) => h.evidenceId) });
    run.checkpoints += list.length;
  }
  return run;
}
