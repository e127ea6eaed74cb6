import { ExhibitError, type PdqFrameHash, type SimilarContent, type SimilarQuery, type SimilarResult } from '@exhibit/core';
import { pdqCandidateCondition, pdqSearchMethod } from './pdq-mih.query.js';
import type { SqlClient } from './sql-client.js';

/**
 * PDQ hashes per content (migration 0025) and similar-image search by Hamming
 * distance, limited to the cases the caller may see.
 *
 * Always exact: every hash within the distance, none beyond it. Up to 31 bits
 * the rows compared come from the multi-index-hashing GIN index (migration
 * 0085, pdq-mih.query.ts); beyond, from a scan of bit_count(pdq # query). The
 * result says which ran.
 */

/** The port's types (packages/core), under the names this module has exported. */
export type PdqRow = PdqFrameHash;
export type { SimilarQuery, SimilarContent, SimilarResult };

export const PDQ_SEARCH_DEFAULT_LIMIT = 100;
export const PDQ_SEARCH_MAX_LIMIT = 1000;
/** Occurrences listed per similar content (one content may sit in many archives). */
export const PDQ_SEARCH_FILES_PER_CONTENT = 100;
const HEX64 = /^[0-9a-f]{64}$/;

function bitsLiteral(hash: string): string {
  const hex = hash.toLowerCase();
  if (!HEX64.test(hex)) throw new ExhibitError('invalid-argument', 'a PDQ hash is 64 hex digits');
  return 'x' + hex;
}

/** bit(256)'s text form (256 binary digits) as 64 hex digits. */
export function hexOfBits(bits: string): string {
  let hex = '';
  for (let i = 0; i < bits.length; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}

function checkPdqRows(rows: readonly PdqRow[]): void {
  for (const row of rows) {
    if (!Number.isSafeInteger(row.frame) || row.frame < 0) throw new ExhibitError('invalid-argument', `PDQ frame must be a whole number from 0, not ${row.frame}`);
    if (!Number.isInteger(row.quality) || row.quality < 0 || row.quality > 100) throw new ExhibitError('invalid-argument', `PDQ quality is 0-100, not ${row.quality}`);
    if (row.timeMs !== undefined && (!Number.isSafeInteger(row.timeMs) || row.timeMs < 0 || row.timeMs > 2 ** 31 - 1)) {
      throw new ExhibitError('invalid-argument', `PDQ frame time must be whole milliseconds from 0, not ${row.timeMs}`);
    }
  }
}

/**
 * The CTEs that replace a content's PDQ hashes inside another statement (the
 * thumbnail's write, IndexStore.setThumbnail), only when `onlyIf` (an SQL
 * boolean over that statement's CTEs) holds: one statement instead of a
 * transaction of a DELETE and an INSERT per frame, the thumbnail's own
 * round trip after it (a PGlite statement is CPU on the host's main thread).
 * The insert reads the delete's count, so the delete has run to its end
 * before any row goes in (data-modifying CTEs otherwise run in no set order)
 * and the rows it removed no longer hold their keys.
 */
export function pdqReplaceCtes(add: (value: unknown) => string, sha256Param: string, rows: readonly PdqRow[], onlyIf: string): string[] {
  checkPdqRows(rows);
  const frames = add(rows.map((r) => r.frame));
  const hashes = add(rows.map((r) => bitsLiteral(r.hash)));
  const qualities = add(rows.map((r) => r.quality));
  const times = add(rows.map((r) => r.timeMs ?? null));
  return [
    `pdq_gone AS (DELETE FROM content_pdq WHERE sha256 = ${sha256Param} AND ${onlyIf} RETURNING 1)`,
    `pdq_rows AS (INSERT INTO content_pdq (sha256, frame, pdq, quality, time_ms)
       SELECT ${sha256Param}, u.frame, u.hash::bit(256), u.quality, u.time_ms
         FROM unnest(${frames}::integer[], ${hashes}::text[], ${qualities}::smallint[], ${times}::integer[]) AS u (frame, hash, quality, time_ms)
        WHERE ${onlyIf} AND (SELECT count(*) FROM pdq_gone) >= 0
       RETURNING 1)`,
  ];
}

/** Records a content's PDQ hashes, replacing what an earlier run recorded (idempotent). */
export async function setPdq(sql: SqlClient, sha256: string, rows: readonly PdqRow[]): Promise<void> {
  checkPdqRows(rows);
  await sql.transaction(async (tx) => {
    await tx.query('DELETE FROM content_pdq WHERE sha256 = $1', [sha256]);
    for (const row of rows) {
      await tx.query(
        'INSERT INTO content_pdq (sha256, frame, pdq, quality, time_ms) VALUES ($1, $2, $3::bit(256), $4, $5)',
        [sha256, row.frame, bitsLiteral(row.hash), row.quality, row.timeMs ?? null],
      );
    }
  });
}

export async function getPdq(sql: SqlClient, sha256: string): Promise<PdqRow[]> {
  const { rows } = await sql.query<{ frame: number; bits: string; quality: number; time_ms: number | null }>(
    'SELECT frame, pdq::text AS bits, quality, time_ms FROM content_pdq WHERE sha256 = $1 ORDER BY frame',
    [sha256],
  );
  return rows.map((r) => ({
    frame: Number(r.frame),
    hash: hexOfBits(r.bits),
    quality: Number(r.quality),
    ...(r.time_ms === null || r.time_ms === undefined ? {} : { timeMs: Number(r.time_ms) }),
  }));
}

/** Contents of the given cases whose PDQ hash is within maxDistance of the query, nearest first. */
export async function similarByPdq(sql: SqlClient, query: SimilarQuery, options: { method?: SimilarResult['method'] } = {}): Promise<SimilarResult> {
  const target = bitsLiteral(query.hash);
  if (!Number.isInteger(query.maxDistance) || query.maxDistance < 0 || query.maxDistance > 256) {
    throw new ExhibitError('invalid-argument', `PDQ distance is 0-256, not ${query.maxDistance}`);
  }
  const limit = Math.min(query.limit ?? PDQ_SEARCH_DEFAULT_LIMIT, PDQ_SEARCH_MAX_LIMIT);
  if (!Number.isInteger(limit) || limit < 1) throw new ExhibitError('invalid-argument', `limit must be a whole number from 1, not ${query.limit}`);
  // The caller may ask for the scan (benchmarks compare the two); the index only where it answers.
  const method = options.method ?? pdqSearchMethod(query.maxDistance);
  const candidates = pdqCandidateCondition(method, 'p.pdq', '$1::bit(256)', query.maxDistance);
  const caseIds = [...new Set(query.caseIds)];
  if (caseIds.length === 0) return { method, items: [] };
  return sql.transaction(async (tx) => {
    // With the index, the hashes within the distance are found first (materialized), then filtered by
    // case: a few rows, each by files' index (OFFSET 0 keeps the EXISTS a per-row probe; as a semi-join
    // the planner, expecting many rows, read all of files: 0.7 s at 200,000 files in PGlite, measured). The planner cannot know how few rows the look-up yields
    // (its estimate for 272 keys is most of the table) and would scan instead. The scan is the query
    // as it was (not materialized), so a small case's files can lead.
    // And no parallel workers: for a few thousand candidates their start-up cost more than the look-up
    // (at 1,000,000 hashes on the loaded 2-core VM: a 16 ms index scan inside a 90 ms Gather).
    if (method === 'mih') await tx.exec('SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0');
    const { rows } = await tx.query<{ sha256: string; frame: number; quality: number; distance: number; time_ms: number | null }>(
      `WITH near AS ${method === 'mih' ? '' : 'NOT '}MATERIALIZED (
         SELECT p.sha256, p.frame, p.quality, p.time_ms, bit_count(p.pdq # $1::bit(256))::integer AS distance
           FROM content_pdq p
          WHERE ${candidates} AND bit_count(p.pdq # $1::bit(256)) <= $3
       )
       SELECT n.* FROM near n
        WHERE EXISTS (SELECT 1 FROM files f WHERE f.sha256 = n.sha256 AND f.case_id = ANY($2::text[]) OFFSET 0)
        ORDER BY n.distance, n.sha256, n.frame
        LIMIT $4`,
      [target, caseIds, query.maxDistance, limit],
    );
    const shas = [...new Set(rows.map((r) => r.sha256))];
    const { rows: files } = shas.length === 0
      ? { rows: [] as Array<{ sha256: string; file_id: string; case_id: string; evidence_id: string; path: string }> }
      : await tx.query<{ sha256: string; file_id: string; case_id: string; evidence_id: string; path: string }>(
        `SELECT sha256, file_id, case_id, evidence_id, path FROM (
           SELECT f.sha256, f.file_id, f.case_id, f.evidence_id, f.path,
                  row_number() OVER (PARTITION BY f.sha256 ORDER BY f.case_id, f.path, f.file_id) AS n
             FROM files f
            WHERE f.sha256 = ANY($1::text[]) AND f.case_id = ANY($2::text[])
         ) occurrences
         WHERE n <= $3
         ORDER BY sha256, n`,
        [shas, caseIds, PDQ_SEARCH_FILES_PER_CONTENT],
      );
    const { rows: kinds } = shas.length === 0
      ? { rows: [] as Array<{ sha256: string; kind: string | null }> }
      : await tx.query<{ sha256: string; kind: string | null }>('SELECT sha256, kind FROM contents WHERE sha256 = ANY($1::text[])', [shas]);
    const videos = new Set(kinds.filter((k) => k.kind === 'video').map((k) => k.sha256));
    const bySha = new Map<string, SimilarContent['files']>();
    for (const f of files) {
      const list = bySha.get(f.sha256) ?? [];
      list.push({ fileId: f.file_id, caseId: f.case_id, evidenceId: f.evidence_id, path: f.path });
      bySha.set(f.sha256, list);
    }
    return {
      method,
      items: rows.map((r) => ({
        sha256: r.sha256,
        frame: Number(r.frame),
        ...(r.time_ms === null || r.time_ms === undefined ? {} : { timeMs: Number(r.time_ms) }),
        video: videos.has(r.sha256),
        quality: Number(r.quality),
        distance: Number(r.distance),
        files: bySha.get(r.sha256) ?? [],
      })),
    };
  });
}

/** Pictures and videos whose thumbnail came from themselves, with no PDQ hash and no backfill attempt (migration 0066). */
const BACKFILL_CANDIDATE = `c.pdq_backfilled_at IS NULL AND c.thumbnail_status = 'done' AND c.kind IN ('image', 'video')
  AND c.thumbnail_source IN ('image', 'contact-sheet')
  AND NOT EXISTS (SELECT 1 FROM content_pdq p WHERE p.sha256 = c.sha256)`;

export async function pdqBackfillCandidates(sql: SqlClient, options: { after: string | null; limit: number }): Promise<string[]> {
  const { rows } = await sql.query<{ sha256: string }>(
    `SELECT c.sha256 FROM contents c WHERE ${BACKFILL_CANDIDATE} AND ($1::text IS NULL OR c.sha256 > $1) ORDER BY c.sha256 LIMIT $2`,
    [options.after, options.limit],
  );
  return rows.map((r) => r.sha256);
}

export async function pdqBackfillPending(sql: SqlClient): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM contents c WHERE ${BACKFILL_CANDIDATE}`);
  return Number(rows[0]?.n ?? 0);
}

/** The hashes and the attempt in one transaction: a crash leaves the content a candidate, and the next run redoes it. */
export async function recordPdqBackfill(sql: SqlClient, sha256: string, result: { pdq: readonly PdqRow[] } | { failure: string }): Promise<void> {
  await sql.transaction(async (tx) => {
    if ('pdq' in result) await setPdq(tx, sha256, result.pdq);
    await tx.query('UPDATE contents SET pdq_backfilled_at = now(), pdq_backfill_failure = $2 WHERE sha256 = $1', [sha256, 'failure' in result ? result.failure.slice(0, 2000) : null]);
  });
}

export async function filesOfContent(sql: SqlClient, sha256: string, limit: number): Promise<Array<{ fileId: string; caseId: string; evidenceId: string; path: string }>> {
  const { rows } = await sql.query<{ file_id: string; case_id: string; evidence_id: string; path: string }>(
    'SELECT file_id, case_id, evidence_id, path FROM files WHERE sha256 = $1 ORDER BY case_id, evidence_id, file_id LIMIT $2',
    [sha256, limit],
  );
  return rows.map((r) => ({ fileId: r.file_id, caseId: r.case_id, evidenceId: r.evidence_id, path: r.path }));
}
