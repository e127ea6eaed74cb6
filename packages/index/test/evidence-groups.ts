import type { SqlClient } from '../src/index.js';

/** Migration 0125's files-by-state part, which grouped every file of the item: what the status's groups must still be. */
export async function groupsByEveryFile(sql: SqlClient, caseId: string, evidenceId: string) {
  const { rows } = await sql.query(
    `SELECT f.entry_kind = 'file' AS has_content, f.stage, f.failure_stage, f.unpack, mf.sha256 IS NOT NULL AS metadata_failed, count(*)::int AS n
       FROM files f LEFT JOIN (SELECT sha256 FROM contents WHERE metadata_status = 'failed') mf ON mf.sha256 = f.sha256
      WHERE f.case_id = $1 AND f.evidence_id = $2
      GROUP BY 1, 2, 3, 4, 5`,
    [caseId, evidenceId],
  );
  return sortGroups(rows);
}

export function sortGroups(rows: Array<Record<string, unknown>>) {
  const key = (r: Record<string, unknown>) => JSON.stringify([r.has_content, r.stage, r.failure_stage ?? null, r.unpack, r.metadata_failed]);
  return rows.map((r) => ({ ...r, failure_stage: r.failure_stage ?? null, n: Number(r.n) })).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

