import { ExhibitError } from '@exhibit/core';
import { pdqCandidateCondition, pdqSearchMethod } from '../pdq-mih.query.js';
import type { SqlClient } from '../sql-client.js';

/**
 * Matching contents' PDQ hashes (content_pdq: frame 0 of a picture, each
 * contact-sheet frame of a video) against PDQ lists (docs/known-files.md,
 * "PDQ hash lists"). A content matches a set when one of its frames is within
 * the set's max_distance bits of a listed hash; the match keeps the nearest
 * (then the lowest frame, then the lowest listed hash, so two runs agree).
 *
 * Always exact: for a set whose max_distance is up to 31 bits the listed
 * hashes compared come from the multi-index-hashing GIN index on the set's
 * partition (migration 0085, pdq-mih.query.ts); beyond, the set is scanned
 * with bit_count(listed # content). Both find the same nearest hash.
 */

/** Meta's guidance: up to about 31 bits of 256 is likely the same picture (docs/pdq.md). */
export const DEFAULT_PDQ_MAX_DISTANCE = 31;
/**
 * A content frame whose PDQ quality is below this is not matched: the picture
 * has too little structure (flat, tiny, blurred) for its hash to mean anything,
 * and flat pictures' hashes sit near each other whatever they show.
 */
export const PDQ_MATCH_MIN_QUALITY = 50;
/** maintenance_work_mem of a PDQ list's index build (per import, on the database server or in PGlite). */
const PDQ_INDEX_BUILD_MEMORY = '256MB';

export interface PdqSet {
  setId: number;
  maxDistance: number;
  /** How the listed hashes near a content frame are found (both exact): the index up to 31 bits, else a scan. */
  method: 'mih' | 'scan';
}

/** The partition of one set; set ids are integers from the database, never text from outside. */
export function pdqPartition(setId: number): string {
  if (!Number.isSafeInteger(setId) || setId < 1) throw new ExhibitError('invalid-argument', `bad hash set id ${setId}`);
  return `hash_set_hashes_${setId}`;
}

export function checkMaxDistance(d: number): number {
  if (!Number.isInteger(d) || d < 0 || d > 256) throw new ExhibitError('invalid-argument', `a PDQ distance is a whole number of bits from 0 to 256, not ${d}`);
  return d;
}

/**
 * Builds the multi-index-hashing index on a loaded PDQ set's table (once,
 * after the load: faster than keeping it up to date row by row). IF NOT
 * EXISTS: a resumed import runs it again. More maintenance memory than
 * PostgreSQL's default 64 MB lets the GIN build sort its 16 keys per hash in
 * fewer passes (measured, docs/benchmarks.md); still a fixed bound.
 */
export async function indexPdqSet(sql: SqlClient, table: string): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.exec(`SET LOCAL maintenance_work_mem = '${PDQ_INDEX_BUILD_MEMORY}'`);
    await tx.exec(`CREATE INDEX IF NOT EXISTS ${table}_pdq_mih_idx ON ${table} USING gin (pdq_mih_chunks(pdq))`);
  });
}

/** The enabled PDQ sets a filter on `s` picks, each with how its nearest hashes are found. */
export async function pdqSets(sql: SqlClient, setFilter: string, params: unknown[] = []): Promise<PdqSet[]> {
  const { rows } = await sql.query<{ set_id: number; max_distance: number }>(
    `SELECT s.set_id, s.max_distance FROM hash_sets s WHERE s.format = 'pdq-list' AND (${setFilter}) ORDER BY s.set_id`,
    params,
  );
  return rows.map((r) => ({ setId: Number(r.set_id), maxDistance: Number(r.max_distance), method: pdqSearchMethod(Number(r.max_distance)) }));
}

/**
 * The rows a PDQ set adds to hash_set_matches for the contents `contentFilter`
 * (a WHERE on `p`, content_pdq) picks: one per content, its nearest frame.
 * Columns as hash_set_matches' INSERT lists them (PDQ_MATCH_COLUMNS).
 */
export function pdqMatchSelect(set: PdqSet, contentFilter: string): string {
  const t = pdqPartition(set.setId);
  const max = checkMaxDistance(set.maxDistance);
  const nearest = `SELECT h.pdq, h.extra ->> 'label' AS label, bit_count(h.pdq # p.pdq)::int AS distance
         FROM ${t} h
        WHERE ${pdqCandidateCondition(set.method, 'h.pdq', 'p.pdq', max)} AND bit_count(h.pdq # p.pdq) <= ${max}
        ORDER BY bit_count(h.pdq # p.pdq), h.pdq
        LIMIT 1`;
  return `
    SELECT DISTINCT ON (p.sha256) p.sha256, ${set.setId}::bigint AS set_id, 'pdq' AS matched_on, NULL::smallint AS category,
           x.distance AS pdq_distance, p.frame AS pdq_frame, x.pdq AS pdq_listed, x.label AS pdq_label
      FROM content_pdq p
      CROSS JOIN LATERAL (${nearest}) x
     WHERE (${contentFilter}) AND p.quality >= ${PDQ_MATCH_MIN_QUALITY} AND x.distance <= ${max}
     ORDER BY p.sha256, x.distance, p.frame, x.pdq`;
}

export const PDQ_MATCH_COLUMNS = 'sha256, set_id, matched_on, category, pdq_distance, pdq_frame, pdq_listed, pdq_label';
