import { ExhibitError } from '@exhibit/core';
import type { SqlClient } from '../sql-client.js';

/**
 * Matching contents' PDQ hashes (content_pdq: frame 0 of a picture, each
 * contact-sheet frame of a video) against PDQ lists (docs/known-files.md,
 * "PDQ hash lists"). A content matches a set when one of its frames is within
 * the set's max_distance bits of a listed hash; the match keeps the nearest
 * (then the lowest frame, then the lowest listed hash, so two runs agree).
 *
 * Two ways to find the nearest listed hash, one answer: where the set's
 * partition has an HNSW index (pgvector), its nearest candidates come from the
 * index; elsewhere an exact scan of bit_count(listed # content) over the set.
 * HNSW is approximate: on a large set it can miss a near hash (no match
 * recorded), never record a wrong distance, which is always computed exactly.
 */

/** Meta's guidance: up to about 31 bits of 256 is likely the same picture (docs/pdq.md). */
export const DEFAULT_PDQ_MAX_DISTANCE = 31;
/**
 * A content frame whose PDQ quality is below this is not matched: the picture
 * has too little structure (flat, tiny, blurred) for its hash to mean anything,
 * and flat pictures' hashes sit near each other whatever they show.
 */
export const PDQ_MATCH_MIN_QUALITY = 50;
/** Nearest candidates taken from the HNSW index per content frame, before the exact distance decides. */
const HNSW_CANDIDATES = 8;

export interface PdqSet {
  setId: number;
  maxDistance: number;
  /** The schema of pgvector when the set's partition has its HNSW index, else null (exact scan). */
  hnswSchema: string | null;
}

/** The partition of one set; set ids are integers from the database, never text from outside. */
export function pdqPartition(setId: number): string {
  if (!Number.isSafeInteger(setId) || setId < 1) throw new ExhibitError('invalid-argument', `bad hash set id ${setId}`);
  return `hash_set_hashes_${setId}`;
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function checkMaxDistance(d: number): number {
  if (!Number.isInteger(d) || d < 0 || d > 256) throw new ExhibitError('invalid-argument', `a PDQ distance is a whole number of bits from 0 to 256, not ${d}`);
  return d;
}

/** pgvector's schema, when it is installed (the HNSW index needs it). */
async function vectorSchema(sql: SqlClient): Promise<string | null> {
  const { rows } = await sql.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`,
  );
  return rows[0]?.schema ?? null;
}

/**
 * Builds the HNSW index on a loaded PDQ set's table where pgvector is
 * installed (PGlite bundles it; migration 0025 creates the extension where it
 * can). Anywhere else the set is matched by an exact scan. IF NOT EXISTS: a
 * resumed import runs it again.
 */
export async function indexPdqSet(sql: SqlClient, table: string): Promise<void> {
  const schema = await vectorSchema(sql);
  if (!schema) return;
  await sql.exec(`CREATE INDEX IF NOT EXISTS ${table}_pdq_hnsw_idx ON ${table} USING hnsw (pdq ${quoteIdent(schema)}.bit_hamming_ops)`);
}

/** The enabled PDQ sets a filter on `s` picks, each with how its nearest hashes are found. */
export async function pdqSets(sql: SqlClient, setFilter: string, params: unknown[] = []): Promise<PdqSet[]> {
  const { rows } = await sql.query<{ set_id: number; max_distance: number; hnsw: boolean }>(
    `SELECT s.set_id, s.max_distance,
            EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = 'hash_set_hashes_' || s.set_id || '_pdq_hnsw_idx' AND c.relkind = 'i') AS hnsw
       FROM hash_sets s
      WHERE s.format = 'pdq-list' AND (${setFilter})
      ORDER BY s.set_id`,
    params,
  );
  if (rows.length === 0) return [];
  const schema = rows.some((r) => r.hnsw === true) ? await vectorSchema(sql) : null;
  return rows.map((r) => ({ setId: Number(r.set_id), maxDistance: Number(r.max_distance), hnswSchema: r.hnsw === true ? schema : null }));
}

/**
 * The rows a PDQ set adds to hash_set_matches for the contents `contentFilter`
 * (a WHERE on `p`, content_pdq) picks: one per content, its nearest frame.
 * Columns as hash_set_matches' INSERT lists them (PDQ_MATCH_COLUMNS).
 */
export function pdqMatchSelect(set: PdqSet, contentFilter: string): string {
  const t = pdqPartition(set.setId);
  const max = checkMaxDistance(set.maxDistance);
  const nearest = set.hnswSchema
    ? `SELECT h.pdq, h.extra ->> 'label' AS label, bit_count(h.pdq # p.pdq)::int AS distance
         FROM ${t} h
        ORDER BY h.pdq OPERATOR(${quoteIdent(set.hnswSchema)}.<~>) p.pdq
        LIMIT ${HNSW_CANDIDATES}`
    : `SELECT h.pdq, h.extra ->> 'label' AS label, bit_count(h.pdq # p.pdq)::int AS distance
         FROM ${t} h
        WHERE bit_count(h.pdq # p.pdq) <= ${max}
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
