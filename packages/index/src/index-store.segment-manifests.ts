import { ExhibitError, sameManifest, type SegmentManifestEntry } from '@exhibit/core';
import { cleanParams, type Row } from './index-store.rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * Split-image segment manifests (migration 0095): declared once per set at
 * upload registration, read by ingest (each segment's declared hashes), by the
 * first segment's unpack (wait for the set, check sizes) and by the status
 * (evidence_status, migration 0125, with these columns).
 */

const COLUMNS = 'blob_name, first_blob_name, case_id, evidence_id, position, file_name, size, md5, sha1, sha256, declared_by, declared_at';

export function toSegmentManifestEntry(r: Row): SegmentManifestEntry {
  const out: SegmentManifestEntry = {
    blobName: String(r['blob_name']),
    firstBlobName: String(r['first_blob_name']),
    caseId: String(r['case_id']),
    evidenceId: String(r['evidence_id']),
    position: Number(r['position']),
    fileName: String(r['file_name']),
    size: Number(r['size']),
    declaredBy: String(r['declared_by']),
    declaredAt: new Date(r['declared_at'] as string | Date).toISOString(),
  };
  for (const alg of ['md5', 'sha1', 'sha256'] as const) if (typeof r[alg] === 'string') out[alg] = r[alg];
  return out;
}

export async function getSegmentManifest(sql: SqlClient, firstBlobName: string): Promise<SegmentManifestEntry[]> {
  const { rows } = await sql.query(`SELECT ${COLUMNS} FROM image_segment_manifests WHERE first_blob_name = $1 ORDER BY position`, [firstBlobName]);
  return rows.map(toSegmentManifestEntry);
}

export async function getDeclaredSegment(sql: SqlClient, blobName: string): Promise<SegmentManifestEntry | null> {
  const { rows } = await sql.query(`SELECT ${COLUMNS} FROM image_segment_manifests WHERE blob_name = $1`, [blobName]);
  return rows[0] ? toSegmentManifestEntry(rows[0]) : null;
}

/** Upload registrations (migration 0101, the access store's table in the same database) of the set's declared segments. */
export async function latestSegmentRegistration(sql: SqlClient, firstBlobName: string): Promise<string | null> {
  const { rows } = await sql.query(
    `SELECT max(r.registered_at) AS latest FROM image_segment_manifests m JOIN upload_registrations r ON r.blob_name = m.blob_name WHERE m.first_blob_name = $1`,
    [firstBlobName],
  );
  const latest = rows[0]?.['latest'];
  return latest === null || latest === undefined ? null : new Date(latest as string | Date).toISOString();
}

/**
 * Declares a set, all of it or nothing: created=false when the same set was
 * declared before (returned as stored); a conflict when the set, or any of its
 * segments, was declared otherwise.
 */
export async function declareSegmentManifest(
  sql: SqlClient,
  entries: ReadonlyArray<Omit<SegmentManifestEntry, 'declaredAt'>>,
): Promise<{ created: boolean; manifest: SegmentManifestEntry[] }> {
  const first = entries[0];
  if (!first) throw new ExhibitError('invalid-argument', 'an empty segment manifest');
  return sql.transaction(async (tx) => {
    const existing = await getSegmentManifest(tx, first.firstBlobName);
    if (existing.length > 0) {
      if (!sameManifest(existing, entries)) throw new ExhibitError('conflict', `${first.firstBlobName} already has another segment manifest; a declared set is never changed`);
      return { created: false, manifest: existing };
    }
    for (const e of entries) {
      const { affectedRows } = await tx.query(
        `INSERT INTO image_segment_manifests (blob_name, first_blob_name, case_id, evidence_id, position, file_name, size, md5, sha1, sha256, declared_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (blob_name) DO NOTHING`,
        cleanParams([e.blobName, e.firstBlobName, e.caseId, e.evidenceId, e.position, e.fileName, e.size, e.md5 ?? null, e.sha1 ?? null, e.sha256 ?? null, e.declaredBy]),
      );
      if (affectedRows !== 1) throw new ExhibitError('conflict', `${e.blobName} is already declared in the segment manifest of another set`);
    }
    return { created: true, manifest: await getSegmentManifest(tx, first.firstBlobName) };
  });
}
