import { MATCH_OUT } from './hash-sets/hash-set-store.js';
import { EVIDENCE_DISK_IMAGES_SQL } from './index-store.disk-images.js';
import { columnList, UPLOAD_COLUMNS, type Row } from './index-store.rows.js';
import { EVIDENCE_SEGMENT_MANIFESTS_SQL } from './index-store.segment-manifests.js';
import type { SqlClient } from './sql-client.js';

/** Longest failures/findings list in a status; the full list is a search (stage 'failed') away. */
export const STATUS_LIST_MAX = 1000;

/**
 * Completeness per evidence, in one place for evidenceStatus and
 * listEvidence: every upload hashed and its root file recorded, and no file
 * still waiting for a stage or an unpack.
 */
export const EVIDENCE_SUMMARY_SQL = `
  SELECT u.case_id, u.evidence_id,
         count(*)::int AS uploads,
         (SELECT count(*) FROM files f WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id)::int AS files,
         bool_and(u.integrity <> 'pending' OR u.hash_failure_code IS NOT NULL) AS hashed,
         bool_and(EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id)) AS roots_recorded,
         NOT EXISTS (SELECT 1 FROM files f
                      WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id
                        AND f.stage NOT IN ('indexed', 'failed'))
         AND NOT EXISTS (SELECT 1 FROM files f
                          WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id
                            AND f.unpack = 'pending') AS settled
    FROM uploads u
   WHERE ($1::text IS NULL OR u.case_id = $1) AND ($2::text IS NULL OR u.evidence_id = $2)
   GROUP BY u.case_id, u.evidence_id
   ORDER BY u.case_id COLLATE "C", u.evidence_id COLLATE "C"`;

/**
 * The parts of an evidence item's status, each the rows of one query ($1 case,
 * $2 evidence item). They are read by one statement (EVIDENCE_STATUS_SQL), so
 * they share one snapshot without a transaction: a status that says complete
 * counted the same files it found settled.
 */
const PARTS = {
  summary: EVIDENCE_SUMMARY_SQL,
  uploads: `SELECT ${columnList(UPLOAD_COLUMNS, 'u')}, u.hash_failure_code, r.failure_stage AS root_failure_stage, r.path AS root_path, r.flags AS root_flags
              FROM uploads u LEFT JOIN files r ON r.file_id = u.root_file_id
             WHERE u.case_id = $1 AND u.evidence_id = $2
             ORDER BY u.blob_name COLLATE "C"`,
  groups: `SELECT f.entry_kind = 'file' AS has_content, f.stage, f.failure_stage, f.unpack,
                  COALESCE(c.metadata_status = 'failed', false) AS metadata_failed, count(*)::int AS n
             FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256
            WHERE f.case_id = $1 AND f.evidence_id = $2
            GROUP BY 1, 2, 3, 4, 5`,
  // A file's own failure, or (while the file itself carries on) a failed analysis of its content.
  failures: `SELECT * FROM (
               SELECT f.file_id, f.path, f.failure_stage AS stage, f.failure_code AS code, f.failure_detail AS detail
                 , NULL::text AS reason, NULL::integer AS recorded, NULL::bigint AS declared
                 FROM files f WHERE f.case_id = $1 AND f.evidence_id = $2 AND f.stage = 'failed'
               UNION ALL
               -- An archive whose unpack stopped (the archive's own file carries on): why, and how far it got.
               -- A stop from before migration 0011 that 0012 found no custody record for still shows,
               -- without a reason (none is known), so it cannot hide behind 'complete'.
               SELECT f.file_id, f.path, 'unpack', COALESCE(f.unpack_failure_code, 'corrupt-file'),
                      COALESCE(f.unpack_failure_detail, 'unpack stopped before its reason was kept in the index; see the custody log'),
                      f.unpack_failure_reason, COALESCE(f.unpack_members_recorded, f.member_count, 0), f.unpack_members_declared
                 FROM files f WHERE f.case_id = $1 AND f.evidence_id = $2 AND f.unpack = 'failed'
               UNION ALL
               SELECT f.file_id, f.path, c.failure_stage, c.failure_code, c.failure_detail, NULL, NULL, NULL
                 FROM files f JOIN contents c ON c.sha256 = f.sha256
                WHERE f.case_id = $1 AND f.evidence_id = $2 AND f.stage <> 'failed' AND c.failure_code IS NOT NULL
             ) x ORDER BY x.path COLLATE "C", x.file_id LIMIT ${STATUS_LIST_MAX}`,
  // The occurrence's own flags, then the findings about its bytes (with their recorded detail).
  flagged: `SELECT * FROM (
              SELECT f.file_id, f.path, flag, f.extension, c.detected_ext, c.mime, c.metadata -> 'findings' AS metadata_findings, NULL::text AS detail
                FROM files f CROSS JOIN LATERAL unnest(f.flags) AS flag
                LEFT JOIN contents c ON c.sha256 = f.sha256
               WHERE f.case_id = $1 AND f.evidence_id = $2
              UNION ALL
              SELECT f.file_id, f.path, cf.value->>'flag', f.extension, c.detected_ext, c.mime, NULL::jsonb, cf.value->>'detail'
                FROM files f JOIN contents c ON c.sha256 = f.sha256
                CROSS JOIN LATERAL jsonb_array_elements(c.findings) AS cf
               WHERE f.case_id = $1 AND f.evidence_id = $2 AND c.findings <> '[]'::jsonb
            ) x ORDER BY x.path COLLATE "C", x.file_id, x.flag COLLATE "C", x.detail COLLATE "C" LIMIT ${STATUS_LIST_MAX}`,
  // Known-bad and notable matches (migration 0020) are findings; known-good ones are only counted.
  known: `SELECT f.file_id, f.path, ${MATCH_OUT}
            FROM files f JOIN hash_set_matches m ON m.sha256 = f.sha256
            JOIN hash_sets s ON s.set_id = m.set_id AND s.enabled AND s.state = 'active' AND s.kind <> 'known-good'
           WHERE f.case_id = $1 AND f.evidence_id = $2
           ORDER BY f.path COLLATE "C", f.file_id, s.name COLLATE "C" LIMIT ${STATUS_LIST_MAX}`,
  knownCounts: `SELECT count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'known-bad')::int AS known_bad,
                       count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'notable')::int AS notable,
                       count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'known-good')::int AS known_good
                  FROM files f JOIN hash_set_matches m ON m.sha256 = f.sha256
                  JOIN hash_sets s ON s.set_id = m.set_id AND s.enabled AND s.state = 'active'
                 WHERE f.case_id = $1 AND f.evidence_id = $2`,
  diskImages: EVIDENCE_DISK_IMAGES_SQL,
  manifests: EVIDENCE_SEGMENT_MANIFESTS_SQL,
} as const;

export type EvidenceStatusParts = { -readonly [K in keyof typeof PARTS]: Row[] };

/**
 * Each part's rows as one json array column, in the part's own order: an
 * aggregate over a sorted subquery takes its rows in that order. One
 * statement instead of a transaction of nine (BEGIN, SET TRANSACTION, the
 * parts, COMMIT): on PGlite every statement is a round trip through the
 * database on the host's one JavaScript thread, and every result row becomes
 * an object there; here only one row of nine columns does.
 */
const EVIDENCE_STATUS_SQL = `SELECT ${Object.entries(PARTS)
  .map(([name, sql]) => `(SELECT json_agg(p) FROM (${sql}) p) AS "${name}"`)
  .join(',\n')}`;

/**
 * Columns that are timestamps in a part. Inside json they arrive as text with
 * microseconds and an offset; the drivers give a Date (milliseconds, the same
 * instant truncated the same way), which is what the row mappers expect.
 */
const TIMESTAMP_COLUMNS: Partial<Record<keyof typeof PARTS, readonly string[]>> = {
  uploads: ['last_modified', 'received_at', 'hashed_at', 'changed_first_seen_at', 'changed_last_seen_at'],
  manifests: ['declared_at'],
};

export async function readEvidenceStatusParts(sql: SqlClient, caseId: string, evidenceId: string): Promise<EvidenceStatusParts> {
  const { rows } = await sql.query(EVIDENCE_STATUS_SQL, [caseId, evidenceId]);
  const row = rows[0] ?? {};
  const parts = {} as EvidenceStatusParts;
  for (const name of Object.keys(PARTS) as Array<keyof typeof PARTS>) {
    const partRows = (row[name] ?? []) as Row[];
    for (const column of TIMESTAMP_COLUMNS[name] ?? []) {
      for (const r of partRows) if (typeof r[column] === 'string') r[column] = new Date(r[column] as string);
    }
    parts[name] = partRows;
  }
  return parts;
}
