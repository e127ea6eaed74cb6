import type { DiskImageRecord, IntegrityVerdict } from '@exhibit/core';
import { cleanParams, clampDetail, toJson, type Row } from './index-store.rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * What unpack read about a disk image (migration 0030): container, volumes,
 * and for EWF the acquisition header and the stored-hash check. One row per
 * image file; a re-run (redelivery) replaces it with the same facts.
 */

const COLUMNS = `file_id, case_id, evidence_id, format, media_bytes, segment_count, volumes, volume_problems,
  ewf_header, stored_hashes, computed_hashes, integrity, mismatches, integrity_detail, segments`;

export async function recordDiskImage(sql: SqlClient, r: DiskImageRecord): Promise<void> {
  await sql.query(
    `INSERT INTO disk_images (${COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $14, $15::jsonb)
     ON CONFLICT (file_id) DO UPDATE SET
       format = EXCLUDED.format, media_bytes = EXCLUDED.media_bytes, segment_count = EXCLUDED.segment_count,
       volumes = EXCLUDED.volumes, volume_problems = EXCLUDED.volume_problems, ewf_header = EXCLUDED.ewf_header,
       stored_hashes = EXCLUDED.stored_hashes, computed_hashes = EXCLUDED.computed_hashes,
       integrity = EXCLUDED.integrity, mismatches = EXCLUDED.mismatches, integrity_detail = EXCLUDED.integrity_detail,
       segments = EXCLUDED.segments, recorded_at = now()`,
    cleanParams([
      r.fileId, r.caseId, r.evidenceId, r.format, r.mediaBytes, r.segmentCount, toJson(r.volumes), toJson(r.volumeProblems),
      r.ewfHeader === null ? null : toJson(r.ewfHeader),
      r.storedHashes === null ? null : toJson(r.storedHashes),
      r.computedHashes === null ? null : toJson(r.computedHashes),
      r.integrity, r.mismatches, r.integrityDetail === null ? null : clampDetail(r.integrityDetail),
      toJson(r.segments),
    ]),
  );
}

export function toDiskImage(r: Row): DiskImageRecord {
  return {
    fileId: String(r['file_id']),
    caseId: String(r['case_id']),
    evidenceId: String(r['evidence_id']),
    format: String(r['format']),
    mediaBytes: Number(r['media_bytes']),
    segmentCount: Number(r['segment_count']),
    segments: (r['segments'] ?? []) as DiskImageRecord['segments'],
    volumes: (r['volumes'] ?? []) as DiskImageRecord['volumes'],
    volumeProblems: (r['volume_problems'] ?? []) as string[],
    ewfHeader: (r['ewf_header'] ?? null) as DiskImageRecord['ewfHeader'],
    storedHashes: (r['stored_hashes'] ?? null) as DiskImageRecord['storedHashes'],
    computedHashes: (r['computed_hashes'] ?? null) as DiskImageRecord['computedHashes'],
    integrity: String(r['integrity']) as IntegrityVerdict,
    mismatches: (r['mismatches'] ?? []) as string[],
    integrityDetail: r['integrity_detail'] === null || r['integrity_detail'] === undefined ? null : String(r['integrity_detail']),
  };
}

export async function getDiskImage(sql: SqlClient, fileId: string): Promise<DiskImageRecord | null> {
  const { rows } = await sql.query(`SELECT ${COLUMNS} FROM disk_images WHERE file_id = $1`, [fileId]);
  return rows[0] ? toDiskImage(rows[0]) : null;
}
