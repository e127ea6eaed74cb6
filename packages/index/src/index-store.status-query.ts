import type { Row } from './index-store.rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * The parts of an evidence item's status, each the rows of one query, as
 * evidence_status (migration 0125, redefined by 0130) returns them: one statement with one
 * snapshot, whose plans the session keeps.
 */
const PART_NAMES = ['summary', 'uploads', 'groups', 'failures', 'flagged', 'known', 'knownCounts', 'diskImages', 'manifests'] as const;

export type EvidenceStatusParts = Record<(typeof PART_NAMES)[number], Row[]>;

/**
 * Columns that are timestamps in a part. Inside json they arrive as text with
 * microseconds and an offset; the drivers give a Date (milliseconds, the same
 * instant truncated the same way), which is what the row mappers expect.
 */
const TIMESTAMP_COLUMNS: Partial<Record<(typeof PART_NAMES)[number], readonly string[]>> = {
  uploads: ['last_modified', 'received_at', 'hashed_at', 'changed_first_seen_at', 'changed_last_seen_at'],
  manifests: ['declared_at'],
};

export async function readEvidenceStatusParts(sql: SqlClient, caseId: string, evidenceId: string): Promise<EvidenceStatusParts> {
  const { rows } = await sql.query<{ status: Record<string, Row[] | null> | null }>('SELECT evidence_status($1, $2) AS status', [caseId, evidenceId]);
  const status = rows[0]?.status ?? {};
  const parts = {} as EvidenceStatusParts;
  for (const name of PART_NAMES) {
    // json_agg of no rows is null.
    const partRows = status[name] ?? [];
    for (const column of TIMESTAMP_COLUMNS[name] ?? []) {
      for (const r of partRows) if (typeof r[column] === 'string') r[column] = new Date(r[column] as string);
    }
    parts[name] = partRows;
  }
  return parts;
}
