import type { SqlClient } from '@exhibit/index';
import { encodeEntry, type CustodyEntry } from './custody-entry.js';

/** The index copy of custody entries (migration 0200-custody.sql). */
export type CustodySql = Pick<SqlClient, 'query'>;

export interface IndexedEntry {
  entry: CustodyEntry;
  segment: number;
  hash: string;
}

/**
 * Rows already there (same seq, or same eventKey) are left as they are: the first copy wins.
 * The entry rows and their signed lines (custody_lines, migration 0014, so a log whose tail
 * storage lost can be restored) go in as one statement, hence one transaction: a group of
 * entries appended in one block is in the index copy whole or not at all, and a crash
 * between the two tables can no longer leave a row without its line.
 */
export async function insertIndexedEntries(sql: CustodySql, rows: IndexedEntry[]): Promise<void> {
  if (rows.length === 0) return;
  const params: unknown[] = [];
  const values: string[] = [];
  const lineValues: string[] = [];
  for (const { entry, segment, hash } of rows) {
    const p = params.length;
    const line = encodeEntry(entry).toString('utf8');
    params.push(
      entry.subject.caseId,
      entry.subject.evidenceId,
      entry.seq,
      segment,
      entry.time,
      entry.actor,
      entry.action,
      JSON.stringify(entry.subject),
      JSON.stringify(entry.details),
      JSON.stringify(entry.tools),
      entry.eventKey ?? null,
      entry.keyId,
      entry.prevHash,
      hash,
      line.endsWith('\n') ? line.slice(0, -1) : line,
    );
    const n = (i: number) => `$${p + i}`;
    values.push(
      `(${n(1)}, ${n(2)}, ${n(3)}::bigint, ${n(4)}::integer, ${n(5)}::timestamptz, ${n(6)}, ${n(7)}, ${n(8)}::jsonb, ${n(9)}::jsonb, ${n(10)}::jsonb, ${n(11)}, ${n(12)}, ${n(13)}, ${n(14)})`,
    );
    lineValues.push(`(${n(1)}, ${n(2)}, ${n(3)}::bigint, ${n(4)}::integer, ${n(15)})`);
  }
  await sql.query(
    `WITH entries AS (
       INSERT INTO custody_entries
         (case_id, evidence_id, seq, segment, time, actor, action, subject, details, tools, event_key, key_id, prev_hash, entry_hash)
       VALUES ${values.join(',\n              ')}
       ON CONFLICT DO NOTHING
     )
     INSERT INTO custody_lines (case_id, evidence_id, seq, segment, line)
     VALUES ${lineValues.join(', ')}
     ON CONFLICT DO NOTHING`,
    params,
  );
}

/** Signed lines the index holds after `afterSeq`, with the entry hash their custody_entries row records. */
export async function indexedLinesAfter(
  sql: CustodySql,
  caseId: string,
  evidenceId: string,
  afterSeq: number,
  limit: number,
): Promise<Array<{ seq: number; segment: number; line: string | null; hash: string }>> {
  const { rows } = await sql.query<{ seq: number | string; segment: number | string; line: string | null; entry_hash: string }>(
    `SELECT e.seq, e.segment, l.line, e.entry_hash
       FROM custody_entries e
       LEFT JOIN custody_lines l ON l.case_id = e.case_id AND l.evidence_id = e.evidence_id AND l.seq = e.seq
      WHERE e.case_id = $1 AND e.evidence_id = $2 AND e.seq > $3
      ORDER BY e.seq
      LIMIT $4`,
    [caseId, evidenceId, afterSeq, limit],
  );
  return rows.map((r) => ({ seq: Number(r.seq), segment: Number(r.segment), line: r.line, hash: r.entry_hash }));
}

/** Which of `eventKeys` the index copy already records for this log. */
export async function recordedEventKeys(sql: CustodySql, caseId: string, evidenceId: string, eventKeys: string[]): Promise<Set<string>> {
  if (eventKeys.length === 0) return new Set();
  const { rows } = await sql.query<{ event_key: string }>(
    `SELECT event_key FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 AND event_key = ANY($3::text[])`,
    [caseId, evidenceId, eventKeys],
  );
  return new Set(rows.map((r) => r.event_key));
}

export async function lastIndexedEntry(sql: CustodySql, caseId: string, evidenceId: string): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await sql.query<{ seq: number | string; entry_hash: string }>(
    `SELECT seq, entry_hash FROM custody_entries
      WHERE case_id = $1 AND evidence_id = $2
      ORDER BY seq DESC
      LIMIT 1`,
    [caseId, evidenceId],
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.entry_hash } : null;
}

/** The newest index row of each evidence item of a case (or of one item). */
export async function lastIndexedEntries(sql: CustodySql, caseId: string, evidenceId?: string): Promise<Map<string, { seq: number; hash: string }>> {
  const { rows } = await sql.query<{ evidence_id: string; seq: number | string; entry_hash: string }>(
    `SELECT DISTINCT ON (evidence_id) evidence_id, seq, entry_hash
       FROM custody_entries
      WHERE case_id = $1 AND ($2::text IS NULL OR evidence_id = $2)
      ORDER BY evidence_id, seq DESC`,
    [caseId, evidenceId ?? null],
  );
  return new Map(rows.map((r) => [r.evidence_id, { seq: Number(r.seq), hash: r.entry_hash }]));
}

/** Entry hashes from `fromSeq` on, in seq order. */
export async function indexedHashes(
  sql: CustodySql,
  caseId: string,
  evidenceId: string,
  fromSeq: number,
  limit: number,
): Promise<Array<{ seq: number; hash: string }>> {
  const { rows } = await sql.query<{ seq: number | string; entry_hash: string }>(
    `SELECT seq, entry_hash FROM custody_entries
      WHERE case_id = $1 AND evidence_id = $2 AND seq >= $3
      ORDER BY seq
      LIMIT $4`,
    [caseId, evidenceId, fromSeq, limit],
  );
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.entry_hash }));
}

export async function indexedEvidenceIds(sql: CustodySql, caseId: string): Promise<string[]> {
  const { rows } = await sql.query<{ evidence_id: string }>(
    `SELECT DISTINCT evidence_id FROM custody_entries WHERE case_id = $1 ORDER BY evidence_id`,
    [caseId],
  );
  return rows.map((r) => r.evidence_id);
}

/** Rows the index copy has for this log, up to `throughSeq` when given (a hole counts as missing, not as present). */
export async function indexedCount(sql: CustodySql, caseId: string, evidenceId: string, throughSeq?: number): Promise<number> {
  const { rows } = await sql.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 AND ($3::bigint IS NULL OR seq <= $3::bigint)`,
    [caseId, evidenceId, throughSeq ?? null],
  );
  return Number(rows[0]?.n ?? 0);
}

/** A custody entry as the index copy holds it: for provenance views and audit lists, not for verification. */
export interface IndexedCustodyEntry {
  caseId: string;
  evidenceId: string;
  seq: number;
  segment: number;
  time: string;
  actor: string;
  action: string;
  subject: Record<string, string>;
  details: Record<string, unknown>;
  tools: Array<{ name: string; version: string }>;
  eventKey: string | null;
  keyId: string;
  entryHash: string;
}

/** Entries of a case, optionally only those about one evidence item, file occurrence or content, oldest first. */
export async function listIndexedEntries(
  sql: CustodySql,
  filter: { caseId: string; evidenceId?: string; fileId?: string; sha256?: string; limit: number },
): Promise<IndexedCustodyEntry[]> {
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT case_id, evidence_id, seq, segment, time, actor, action, subject, details, tools, event_key, key_id, entry_hash
       FROM custody_entries
      WHERE case_id = $1
        AND ($2::text IS NULL OR evidence_id = $2)
        AND ($3::text IS NULL OR subject ->> 'fileId' = $3)
        AND ($4::text IS NULL OR subject ->> 'sha256' = $4)
      ORDER BY time, evidence_id, seq
      LIMIT $5`,
    [filter.caseId, filter.evidenceId ?? null, filter.fileId ?? null, filter.sha256 ?? null, filter.limit],
  );
  return rows.map((r) => ({
    caseId: String(r.case_id),
    evidenceId: String(r.evidence_id),
    seq: Number(r.seq),
    segment: Number(r.segment),
    time: r.time instanceof Date ? r.time.toISOString() : new Date(String(r.time)).toISOString(),
    actor: String(r.actor),
    action: String(r.action),
    subject: r.subject as Record<string, string>,
    details: r.details as Record<string, unknown>,
    tools: r.tools as Array<{ name: string; version: string }>,
    eventKey: (r.event_key as string | null) ?? null,
    keyId: String(r.key_id),
    entryHash: String(r.entry_hash),
  }));
}
