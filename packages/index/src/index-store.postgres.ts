import {
  ExhibitError,
  type BlobRef,
  type ContentRecord,
  type EvidenceStatus,
  type FileFailure,
  type FileFlag,
  type FileKind,
  type FileRecord,
  type FileStage,
  type Hashes,
  type IndexStore,
  type IntegrityVerdict,
  type Logger,
  type MediaMetadata,
  type NewFile,
  type NewUpload,
  type SearchQuery,
  type SearchResult,
  type StageName,
  type ToolVersion,
  type UnpackState,
  type UploadRecord,
} from '@exhibit/core';
import { searchColumns } from './index-store.columns.js';
import {
  CONTENT_COLUMNS,
  FILE_COLUMNS,
  UPLOAD_COLUMNS,
  clampDetail,
  cleanParams,
  columnList,
  toContent,
  toFile,
  toJson,
  toUpload,
  type Row,
} from './index-store.rows.js';
import { buildSearch } from './index-store.search.js';
import { FILE_STAGE_ORDER, countByStage, flagDetail, stageCounts, type FileStateGroup } from './index-store.status.js';
import { migrate } from './migrate.js';
import type { SqlClient } from './sql-client.js';

/** Rows per INSERT statement; larger batches are split inside one transaction. */
const INSERT_CHUNK_ROWS = 2000;
/** Longest failures/findings list in a status; the full list is a search (stage 'failed') away. */
export const STATUS_LIST_MAX = 1000;

const UNPACK_RANK: Record<UnpackState, number> = { 'n/a': 0, pending: 1, done: 2, failed: 2 };

const uploadCols = columnList(UPLOAD_COLUMNS, 'u');
const fileCols = columnList(FILE_COLUMNS, 'f');
const contentCols = columnList(CONTENT_COLUMNS, 'c');

function uniqueFlags(flags: readonly FileFlag[] | undefined): FileFlag[] {
  return [...new Set(flags ?? [])];
}

function notFound(what: string, id: string): ExhibitError {
  return new ExhibitError('not-found', `${what} ${id} is not in the index`, { details: { id } });
}

/**
 * Completeness per evidence, in one place for evidenceStatus and
 * listEvidence: every upload hashed and its root file recorded, and no file
 * still waiting for a stage or an unpack.
 */
const EVIDENCE_SUMMARY_SQL = `
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

export class PostgresIndex implements IndexStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly options: { logger?: Logger } = {},
  ) {}

  private query<T extends Row = Row>(text: string, params: unknown[] = [], on: SqlClient = this.sql) {
    return on.query<T>(text, cleanParams(params));
  }

  /** Several reads that must agree with each other (counts with pages, status parts): one snapshot. */
  private snapshot<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R> {
    return this.sql.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return fn(tx);
    });
  }

  async migrate(): Promise<void> {
    await migrate(this.sql, this.options.logger ? { logger: this.options.logger } : {});
  }

  close(): Promise<void> {
    return this.sql.close();
  }

  // ---- uploads ----

  async recordUpload(upload: NewUpload): Promise<{ created: boolean; record: UploadRecord }> {
    const { affectedRows } = await this.query(
      `INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, version_id,
                            content_type, last_modified, acquisition)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
       ON CONFLICT (blob_name) DO NOTHING`,
      [
        upload.blobName, upload.caseId, upload.evidenceId, upload.fileName, upload.rootFileId, upload.size, upload.etag,
        upload.versionId, upload.contentType, upload.lastModified, toJson(upload.acquisition ?? {}),
      ],
    );
    const record = await this.getUpload(upload.blobName);
    if (!record) throw notFound('upload', upload.blobName);
    return { created: affectedRows === 1, record };
  }

  async getUpload(blobName: string): Promise<UploadRecord | null> {
    const { rows } = await this.query(`SELECT ${uploadCols} FROM uploads u WHERE u.blob_name = $1`, [blobName]);
    return rows[0] ? toUpload(rows[0]) : null;
  }

  async listUploadNames(): Promise<Set<string>> {
    const { rows } = await this.query<{ blob_name: string }>('SELECT blob_name FROM uploads');
    return new Set(rows.map((r) => r.blob_name));
  }

  /**
   * Written once: the first computed hashes stand. A later call with the same
   * hashes is a redelivery (no-op); different hashes mean the bytes under this
   * name changed, which is reported, never overwritten.
   */
  async recordUploadHashes(blobName: string, hashes: Hashes, integrity: IntegrityVerdict, mismatches: string[]): Promise<void> {
    if (integrity === 'pending') throw new ExhibitError('invalid-argument', 'recordUploadHashes needs a verdict, not pending');
    const { affectedRows } = await this.query(
      `UPDATE uploads SET md5 = $2, sha1 = $3, sha256 = $4, integrity = $5, mismatches = $6::text[], hashed_at = now()
        WHERE blob_name = $1 AND integrity = 'pending'`,
      [blobName, hashes.md5.toLowerCase(), hashes.sha1.toLowerCase(), hashes.sha256.toLowerCase(), integrity, mismatches],
    );
    if (affectedRows === 1) return;
    const existing = await this.getUpload(blobName);
    if (!existing) throw notFound('upload', blobName);
    const same =
      existing.hashes?.md5 === hashes.md5.toLowerCase() &&
      existing.hashes?.sha1 === hashes.sha1.toLowerCase() &&
      existing.hashes?.sha256 === hashes.sha256.toLowerCase();
    if (!same) {
      throw new ExhibitError('conflict', `upload ${blobName} was already hashed with different results`, {
        details: { blobName, recorded: existing.hashes, now: hashes },
      });
    }
  }

  /**
   * The hash stage gave up on this upload. The reason is kept on the upload
   * (first one wins) and the root file fails with it, since nothing after
   * hashing can run; the evidence item can then complete.
   */
  async failUploadHash(blobName: string, failure: FileFailure): Promise<void> {
    const [stage, code, detail] = this.failureParams(failure);
    await this.sql.transaction(async (tx) => {
      const { rows } = await this.query<{ root_file_id: string; integrity: string }>(
        `UPDATE uploads SET
            hash_failure_stage = COALESCE(hash_failure_stage, $2),
            hash_failure_code = COALESCE(hash_failure_code, $3),
            hash_failure_detail = COALESCE(hash_failure_detail, $4)
          WHERE blob_name = $1
          RETURNING root_file_id, integrity`,
        [blobName, stage, code, detail],
        tx,
      );
      const upload = rows[0];
      if (!upload) throw notFound('upload', blobName);
      // Already hashed (a late dead-letter after a successful retry): the file carries on.
      if (upload.integrity !== 'pending') return;
      await this.query(
        `UPDATE files SET stage = 'failed', failure_stage = $2, failure_code = $3, failure_detail = $4, updated_at = now()
          WHERE file_id = $1 AND stage <> 'failed'`,
        [upload.root_file_id, stage, code, detail],
        tx,
      );
    });
  }

  // ---- files ----

  async insertFiles(files: NewFile[]): Promise<number> {
    if (files.length === 0) return 0;
    const insertChunk = async (tx: SqlClient, chunk: NewFile[]) => {
      // One jsonb parameter carries the whole batch, whatever its size.
      const rows = chunk.map((f) => ({
        file_id: f.fileId,
        case_id: f.caseId,
        evidence_id: f.evidenceId,
        parent_id: f.parentId,
        entry_index: f.entryIndex,
        depth: f.depth,
        path: f.path,
        recorded_name: f.recordedName,
        name: f.name,
        extension: f.extension,
        entry_kind: f.entryKind,
        size: f.size,
        sha256: f.sha256?.toLowerCase() ?? null,
        source_container: f.source?.container ?? null,
        source_name: f.source?.name ?? null,
        archive_times: f.archiveTimes ?? {},
        flags: uniqueFlags(f.flags),
        stage: f.stage,
        failure_stage: f.failure?.stage ?? null,
        failure_code: f.failure?.code ?? null,
        failure_detail: f.failure ? clampDetail(f.failure.detail) : null,
        link_target: f.linkTarget ?? null,
      }));
      const { affectedRows } = await this.query(
        `INSERT INTO files (file_id, case_id, evidence_id, parent_id, entry_index, depth, path, recorded_name, name,
                            extension, entry_kind, size, sha256, source_container, source_name, archive_times, flags,
                            stage, failure_stage, failure_code, failure_detail, link_target)
         SELECT r.file_id, r.case_id, r.evidence_id, r.parent_id, r.entry_index, r.depth, r.path, r.recorded_name,
                r.name, r.extension, r.entry_kind, r.size, r.sha256, r.source_container, r.source_name,
                COALESCE(r.archive_times, '{}'::jsonb), ARRAY(SELECT jsonb_array_elements_text(r.flags)),
                r.stage, r.failure_stage, r.failure_code, r.failure_detail, r.link_target
           FROM jsonb_to_recordset($1::jsonb) AS r (
                  file_id text, case_id text, evidence_id text, parent_id text, entry_index integer, depth integer,
                  path text, recorded_name text, name text, extension text, entry_kind text, size bigint,
                  sha256 text, source_container text, source_name text, archive_times jsonb, flags jsonb,
                  stage text, failure_stage text, failure_code text, failure_detail text, link_target text)
         ON CONFLICT (file_id) DO NOTHING`,
        [toJson(rows)],
        tx,
      );
      return affectedRows;
    };
    if (files.length <= INSERT_CHUNK_ROWS) return insertChunk(this.sql, files);
    return this.sql.transaction(async (tx) => {
      let inserted = 0;
      for (let i = 0; i < files.length; i += INSERT_CHUNK_ROWS) inserted += await insertChunk(tx, files.slice(i, i + INSERT_CHUNK_ROWS));
      return inserted;
    });
  }

  async getFile(fileId: string): Promise<FileRecord | null> {
    const { rows } = await this.query(`SELECT ${fileCols} FROM files f WHERE f.file_id = $1`, [fileId]);
    return rows[0] ? toFile(rows[0]) : null;
  }

  async listChildren(parentId: string): Promise<FileRecord[]> {
    const { rows } = await this.query(`SELECT ${fileCols} FROM files f WHERE f.parent_id = $1 ORDER BY f.entry_index, f.file_id`, [parentId]);
    return rows.map(toFile);
  }

  private async assertFile(fileId: string): Promise<void> {
    const { rows } = await this.query('SELECT 1 FROM files WHERE file_id = $1', [fileId]);
    if (rows.length === 0) throw notFound('file', fileId);
  }

  /**
   * Moves forward only; never backwards, never out of 'failed'. The patch is
   * applied with a move and also with a same-stage call (the hash stage fills
   * in a pending root's SHA-256), never with a backwards one. Values already
   * set (hash, size, source) are kept: the first writer wins. Returns true only
   * for a strictly forward move.
   */
  async advanceFile(
    fileId: string,
    stage: FileStage,
    patch: { sha256?: string; size?: number; source?: BlobRef; flags?: FileFlag[] } = {},
  ): Promise<boolean> {
    if (stage === 'failed') throw new ExhibitError('invalid-argument', 'use failFile to fail a file');
    if (!FILE_STAGE_ORDER.includes(stage)) throw new ExhibitError('invalid-argument', `unknown stage ${String(stage)}`);
    // The row is locked before its old stage is read, so of two concurrent
    // identical calls exactly one reports the move (the other waits, then sees
    // the new stage).
    const { rows } = await this.query<{ old_stage: FileStage }>(
      `WITH before AS (SELECT file_id, stage AS old_stage FROM files WHERE file_id = $1 FOR UPDATE)
       UPDATE files f SET
          stage = $2,
          sha256 = COALESCE(f.sha256, $3),
          size = COALESCE(f.size, $4::bigint),
          source_name = CASE WHEN f.source_container IS NULL THEN $6 ELSE f.source_name END,
          source_container = COALESCE(f.source_container, $5),
          flags = f.flags || ARRAY(SELECT x FROM unnest($7::text[]) WITH ORDINALITY AS t (x, i)
                                    WHERE x <> ALL (f.flags) ORDER BY i),
          updated_at = now()
         FROM before
        WHERE f.file_id = before.file_id AND before.old_stage <> 'failed'
          AND array_position($8::text[], before.old_stage) <= array_position($8::text[], $2::text)
        RETURNING before.old_stage`,
      [
        fileId, stage, patch.sha256?.toLowerCase() ?? null, patch.size ?? null, patch.source?.container ?? null,
        patch.source?.name ?? null, uniqueFlags(patch.flags), [...FILE_STAGE_ORDER],
      ],
    );
    if (rows[0]) return rows[0].old_stage !== stage;
    await this.assertFile(fileId);
    return false;
  }

  /** The first failure wins: a redelivered message cannot replace the recorded reason. */
  async failFile(fileId: string, failure: FileFailure): Promise<void> {
    const { affectedRows } = await this.query(
      `UPDATE files SET stage = 'failed', failure_stage = $2, failure_code = $3, failure_detail = $4, updated_at = now()
        WHERE file_id = $1 AND stage <> 'failed'`,
      [fileId, failure.stage, failure.code, clampDetail(failure.detail)],
    );
    if (affectedRows === 0) await this.assertFile(fileId);
  }

  /** n/a → pending → done | failed, forward only; done and failed are final. */
  async setUnpack(fileId: string, state: UnpackState, memberCount?: number | null): Promise<void> {
    const rank = UNPACK_RANK[state];
    if (rank === undefined) throw new ExhibitError('invalid-argument', `unknown unpack state ${String(state)}`);
    const { affectedRows } = await this.query(
      `UPDATE files SET unpack = $2, member_count = COALESCE($3::integer, member_count), updated_at = now()
        WHERE file_id = $1
          AND (CASE unpack WHEN 'n/a' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END) < $4::integer`,
      [fileId, state, memberCount ?? null, rank],
    );
    if (affectedRows === 0) await this.assertFile(fileId);
  }

  async addFlags(fileId: string, flags: FileFlag[]): Promise<void> {
    const { affectedRows } = await this.query(
      `UPDATE files SET
          flags = flags || ARRAY(SELECT x FROM unnest($2::text[]) WITH ORDINALITY AS t (x, i) WHERE x <> ALL (flags) ORDER BY i),
          updated_at = now()
        WHERE file_id = $1`,
      [fileId, uniqueFlags(flags)],
    );
    if (affectedRows === 0) throw notFound('file', fileId);
  }

  // ---- contents ----

  async getContent(sha256: string): Promise<ContentRecord | null> {
    const { rows } = await this.query(`SELECT ${contentCols} FROM contents c WHERE c.sha256 = $1`, [sha256.toLowerCase()]);
    return rows[0] ? toContent(rows[0]) : null;
  }

  async ensureContent(content: { sha256: string; md5: string; sha1: string; size: number; source: BlobRef }): Promise<ContentRecord> {
    await this.query(
      `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sha256) DO NOTHING`,
      [content.sha256.toLowerCase(), content.md5.toLowerCase(), content.sha1.toLowerCase(), content.size, content.source.container, content.source.name],
    );
    const stored = await this.getContent(content.sha256);
    if (!stored) throw notFound('content', content.sha256);
    return stored;
  }

  private async assertContent(sha256: string): Promise<void> {
    const { rows } = await this.query('SELECT 1 FROM contents WHERE sha256 = $1', [sha256.toLowerCase()]);
    if (rows.length === 0) throw notFound('content', sha256);
  }

  /**
   * Each analysis is recorded once per content (first result wins), like a
   * file's failure: the same bytes give the same answer, and a redelivered
   * message must not rewrite what an examiner may already have relied on.
   */
  async setIdentification(sha256: string, id: { mime: string | null; detectedExt: string | null; kind: FileKind; tools: ToolVersion[] }): Promise<void> {
    const { affectedRows } = await this.query(
      `UPDATE contents SET mime = $2, detected_ext = $3, kind = $4,
              tools = tools || jsonb_build_object('identify', $5::jsonb), updated_at = now()
        WHERE sha256 = $1 AND kind IS NULL`,
      [sha256.toLowerCase(), id.mime, id.detectedExt, id.kind, toJson(id.tools)],
    );
    if (affectedRows === 0) await this.assertContent(sha256);
  }

  async setMetadata(
    sha256: string,
    result: { status: 'done' | 'failed' | 'n/a'; metadata: MediaMetadata | null; failure?: FileFailure; tools: ToolVersion[] },
  ): Promise<void> {
    const s = searchColumns(result.metadata);
    const { affectedRows } = await this.query(
      `UPDATE contents SET
          metadata_status = $2, metadata = $3::jsonb,
          taken_at_utc = $4::timestamptz, taken_at_local = $5, taken_at_local_ts = $6::timestamp,
          taken_offset_minutes = $7, gps_lat = $8, gps_lon = $9, make = $10, model = $11,
          duration_sec = $12, width = $13, height = $14,
          failure_stage = COALESCE(failure_stage, $15), failure_code = COALESCE(failure_code, $16),
          failure_detail = COALESCE(failure_detail, $17),
          tools = tools || jsonb_build_object('metadata', $18::jsonb), updated_at = now()
        WHERE sha256 = $1 AND metadata_status = 'pending'`,
      [
        sha256.toLowerCase(), result.status, result.metadata === null ? null : toJson(result.metadata),
        s.takenAtUtc, s.takenAtLocal, s.takenAtLocalTs, s.takenOffsetMinutes, s.gpsLat, s.gpsLon, s.make, s.model,
        s.durationSec, s.width, s.height,
        ...this.failureParams(result.failure), toJson(result.tools),
      ],
    );
    if (affectedRows === 0) await this.assertContent(sha256);
  }

  async setThumbnail(
    sha256: string,
    result: { status: 'done' | 'failed' | 'n/a'; blob: BlobRef | null; source: ContentRecord['thumbnailSource']; failure?: FileFailure; tools: ToolVersion[] },
  ): Promise<void> {
    const { affectedRows } = await this.query(
      `UPDATE contents SET
          thumbnail_status = $2, thumbnail_container = $3, thumbnail_name = $4, thumbnail_source = $5,
          failure_stage = COALESCE(failure_stage, $6), failure_code = COALESCE(failure_code, $7),
          failure_detail = COALESCE(failure_detail, $8),
          tools = tools || jsonb_build_object('thumbnail', $9::jsonb), updated_at = now()
        WHERE sha256 = $1 AND thumbnail_status = 'pending'`,
      [
        sha256.toLowerCase(), result.status, result.blob?.container ?? null, result.blob?.name ?? null, result.source,
        ...this.failureParams(result.failure), toJson(result.tools),
      ],
    );
    if (affectedRows === 0) await this.assertContent(sha256);
  }

  /** Failure columns are set together or not at all (the first failure on a content wins). */
  private failureParams(failure: FileFailure | undefined): [string | null, string | null, string | null] {
    return failure ? [failure.stage, failure.code, clampDetail(failure.detail)] : [null, null, null];
  }

  // ---- status ----

  /** Three index probes (uploads_unhashed_idx, files_open_idx, files_unpack_open_idx); no scan of the files. */
  async hasPendingWork(caseId: string, evidenceId: string): Promise<boolean> {
    const { rows } = await this.query<{ pending: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM uploads WHERE case_id = $1 AND evidence_id = $2
                        AND integrity = 'pending' AND hash_failure_code IS NULL)
           OR EXISTS (SELECT 1 FROM files WHERE case_id = $1 AND evidence_id = $2
                        AND stage NOT IN ('indexed', 'failed'))
           OR EXISTS (SELECT 1 FROM files WHERE case_id = $1 AND evidence_id = $2 AND unpack = 'pending')
           OR EXISTS (SELECT 1 FROM uploads u WHERE u.case_id = $1 AND u.evidence_id = $2
                        AND NOT EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id)) AS pending`,
      [caseId, evidenceId],
    );
    return rows[0]?.pending === true;
  }

  async listEvidence(caseId?: string): Promise<Array<{ caseId: string; evidenceId: string; uploads: number; files: number; complete: boolean }>> {
    const { rows } = await this.query(EVIDENCE_SUMMARY_SQL, [caseId ?? null, null]);
    return rows.map((r) => ({
      caseId: String(r.case_id),
      evidenceId: String(r.evidence_id),
      uploads: Number(r.uploads),
      files: Number(r.files),
      complete: r.hashed === true && r.roots_recorded === true && r.settled === true,
    }));
  }

  async evidenceStatus(caseId: string, evidenceId: string): Promise<EvidenceStatus | null> {
    const ev = [caseId, evidenceId];
    const [summary, uploads, groups, failures, flagged] = await this.snapshot(async (tx) => [
      await this.query(EVIDENCE_SUMMARY_SQL, ev, tx),
      await this.query(
        `SELECT ${uploadCols}, u.hash_failure_code, r.failure_stage AS root_failure_stage, r.path AS root_path, r.flags AS root_flags
           FROM uploads u LEFT JOIN files r ON r.file_id = u.root_file_id
          WHERE u.case_id = $1 AND u.evidence_id = $2
          ORDER BY u.blob_name COLLATE "C"`,
        ev,
        tx,
      ),
      await this.query(
        `SELECT entry_kind = 'file' AS has_content, stage, failure_stage, unpack, count(*)::int AS n
           FROM files WHERE case_id = $1 AND evidence_id = $2
          GROUP BY 1, 2, 3, 4`,
        ev,
        tx,
      ),
      // A file's own failure, or (while the file itself carries on) a failed analysis of its content.
      await this.query(
        `SELECT * FROM (
           SELECT f.file_id, f.path, f.failure_stage AS stage, f.failure_code AS code, f.failure_detail AS detail
             FROM files f WHERE f.case_id = $1 AND f.evidence_id = $2 AND f.stage = 'failed'
           UNION ALL
           SELECT f.file_id, f.path, c.failure_stage, c.failure_code, c.failure_detail
             FROM files f JOIN contents c ON c.sha256 = f.sha256
            WHERE f.case_id = $1 AND f.evidence_id = $2 AND f.stage <> 'failed' AND c.failure_code IS NOT NULL
         ) x ORDER BY x.path COLLATE "C", x.file_id LIMIT ${STATUS_LIST_MAX}`,
        ev,
        tx,
      ),
      await this.query(
        `SELECT f.file_id, f.path, flag, f.extension, c.detected_ext, c.mime
           FROM files f CROSS JOIN LATERAL unnest(f.flags) AS flag
           LEFT JOIN contents c ON c.sha256 = f.sha256
          WHERE f.case_id = $1 AND f.evidence_id = $2
          ORDER BY f.path COLLATE "C", f.file_id, flag COLLATE "C" LIMIT ${STATUS_LIST_MAX}`,
        ev,
        tx,
      ),
    ]);
    const head = summary.rows[0];
    if (!head && groups.rows.length === 0) return null;

    const fileGroups: FileStateGroup[] = groups.rows.map((r) => ({
      hasContent: r.has_content === true,
      stage: r.stage as FileStage,
      failureStage: (r.failure_stage ?? null) as StageName | null,
      unpack: r.unpack as FileStateGroup['unpack'],
      n: Number(r.n),
    }));
    const uploadRecords = uploads.rows.map(toUpload);

    const findings: EvidenceStatus['findings'] = [];
    for (const u of uploads.rows) {
      const record = toUpload(u);
      const alreadyFlagged = Array.isArray(u.root_flags) && (u.root_flags as string[]).includes('hash-mismatch');
      if (record.integrity === 'mismatch' && !alreadyFlagged) {
        findings.push({
          fileId: record.rootFileId,
          path: typeof u.root_path === 'string' ? u.root_path : record.fileName,
          flag: 'hash-mismatch',
          detail: `declared ${record.mismatches.join(', ') || 'hashes'} differ from the computed value`,
        });
      }
    }
    for (const r of flagged.rows) {
      findings.push({
        fileId: String(r.file_id),
        path: String(r.path),
        flag: r.flag as FileFlag,
        detail: flagDetail(String(r.flag), {
          extension: (r.extension ?? null) as string | null,
          detectedExt: (r.detected_ext ?? null) as string | null,
          mime: (r.mime ?? null) as string | null,
        }),
      });
    }

    return {
      caseId,
      evidenceId,
      uploads: uploadRecords,
      files: countByStage(fileGroups),
      stages: stageCounts(
        fileGroups,
        uploads.rows.map((u) => ({
          integrity: u.integrity as UploadRecord['integrity'],
          hashFailed: u.hash_failure_code !== null && u.hash_failure_code !== undefined,
          rootFailureStage: (u.root_failure_stage ?? null) as StageName | null,
        })),
      ),
      failures: failures.rows.map((r) => ({
        fileId: String(r.file_id),
        path: String(r.path),
        stage: r.stage as StageName,
        code: r.code as FileFailure['code'],
        detail: String(r.detail ?? ''),
      })),
      findings,
      complete: head !== undefined && head.hashed === true && head.roots_recorded === true && head.settled === true,
    };
  }

  // ---- search ----

  async search(query: SearchQuery): Promise<SearchResult> {
    const built = buildSearch(query);
    const [count, page] = await this.snapshot(async (tx) => [
      await this.query<{ total: number }>(built.countSql, built.params, tx),
      await this.query(built.pageSql, built.pageParams, tx),
    ] as const);
    return {
      total: Number(count.rows[0]?.total ?? 0),
      items: page.rows.map((r) => ({ file: toFile(r), content: r.c_sha256 === null || r.c_sha256 === undefined ? null : toContent(r, 'c_') })),
    };
  }
}

export function createPostgresIndex(sql: SqlClient, options: { logger?: Logger } = {}): IndexStore {
  return new PostgresIndex(sql, options);
}
