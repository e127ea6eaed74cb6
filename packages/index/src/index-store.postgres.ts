import {
  canonicalEtag,
  ExhibitError,
  isEvidenceComplete,
  type ArchiveStopReason,
  type BlobRef,
  type BudgetCounter,
  type DiskImageRecord,
  type EvidenceBudgetUsage,
  type UnpackFailure,
  type ContentSource,
  type ContentRecord,
  type EvidenceRef,
  type EvidenceStatus,
  type FileFailure,
  type FileFlag,
  type FileMove,
  type AnalysisWrite,
  type IdentificationWrite,
  type MetadataWrite,
  type ThumbnailWrite,
  type FileRecord,
  type FileStage,
  type Hashes,
  type HashCheckpoint,
  type ImageCheckCheckpoint,
  type CheckpointSave,
  type IndexStore,
  type IndexedResult,
  type IntegrityVerdict,
  type KnownFileMatch,
  type Logger,
  type NewFile,
  type NewRejectedBlob,
  type NewUpload,
  type RejectedBlob,
  type SearchAfter,
  type SearchQuery,
  type SearchResult,
  type StageName,
  type UnpackState,
  type UploadRecord,
  type SegmentManifestEntry,
  type StageLeaseAcquire,
  type StageLeaseKey,
  imageSegmentsStatus,
  type ReviewSummaryUpdate,
} from '@exhibit/core';
import { analysisCtes } from './index-store.analysis.js';
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
import { declareSegmentManifest, getDeclaredSegment, getSegmentManifest, latestSegmentRegistration, toSegmentManifestEntry } from './index-store.segment-manifests.js';
import { getDiskImage, recordDiskImage, toDiskImage } from './index-store.disk-images.js';
import { acquireStageLease, clearStageLeases, listUploadsToOfferAgain, releaseStageLease, renewStageLease, stageLeaseHeld } from './index-store.stage-leases.js';
import { filesOfContent, getPdq, pdqBackfillCandidates, pdqBackfillPending, pdqReplaceCtes, recordPdqBackfill, setPdq, similarByPdq, type PdqRow, type SimilarQuery, type SimilarResult } from './index-store.pdq.js';
import { RECORD_REJECTED_SQL, listRejectedQuery, recordRejectedParams, toRejectedBlob } from './index-store.rejected.js';
import { MAX_KEY_TEXT, buildSearch } from './index-store.search.js';
import { bringReviewSummaryUpToDate, jumpStart, refreshIfStaleAndQuiet, refreshReviewSummary, summaryCount, summaryDims, summaryState, wholeCaseView } from './review-summary.js';
import { countByStage, flagDetail, stageCounts, type FileStateGroup } from './index-store.status.js';
import { readEvidenceStatusParts } from './index-store.status-query.js';
import { SqlParams, addFlagsSql, fileFailCte, fileMoveCtes, uniqueFlags, unpackRank, unpackRankSql } from './index-store.transitions.js';
import { migrate } from './migrate.js';
import { HashSetStore, MATCH_OUT, toMatch } from './hash-sets/hash-set-store.js';
import { knownFileDetail } from './hash-sets/known-file-detail.js';
import type { SqlClient } from './sql-client.js';

/** Rows per INSERT statement; larger batches are split inside one transaction. */
const INSERT_CHUNK_ROWS = 2000;

const uploadCols = columnList(UPLOAD_COLUMNS, 'u');
const fileCols = columnList(FILE_COLUMNS, 'f');
const contentCols = columnList(CONTENT_COLUMNS, 'c');

function notFound(what: string, id: string): ExhibitError {
  return new ExhibitError('not-found', `${what} ${id} is not in the index`, { details: { id } });
}

/**
 * An upload by its blob name ($1): the digest finds the row through uploads_pkey (a name can be
 * longer than a b-tree row may be, migration 0105), the name itself makes the match exact.
 */
const UPLOAD_BY_NAME = (alias?: string) => {
  const col = alias ? `${alias}.` : '';
  return `${col}blob_name_sha256 = utf8_sha256($1::text) AND ${col}blob_name = $1`;
};

/** Budget counters and their columns (a fixed map: never a name from outside into SQL). */
const BUDGET_COLUMN: Record<BudgetCounter, string> = {
  expandedBytes: 'expanded_bytes',
  writtenBytes: 'written_bytes',
  entries: 'entries',
  unpackMs: 'unpack_ms',
};

export class PostgresIndex implements IndexStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly options: { logger?: Logger; /** false: never read the review summary (tests and benches compare with it) */ reviewSummary?: boolean } = {},
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
       ON CONFLICT (blob_name_sha256) DO NOTHING`,
      [
        upload.blobName, upload.caseId, upload.evidenceId, upload.fileName, upload.rootFileId, upload.size, canonicalEtag(upload.etag),
        upload.versionId, upload.contentType, upload.lastModified, toJson(upload.acquisition ?? {}),
      ],
    );
    const record = await this.getUpload(upload.blobName);
    if (!record) throw notFound('upload', upload.blobName);
    return { created: affectedRows === 1, record };
  }

  async getUpload(blobName: string): Promise<UploadRecord | null> {
    const { rows } = await this.query(`SELECT ${uploadCols} FROM uploads u WHERE ${UPLOAD_BY_NAME('u')}`, [blobName]);
    return rows[0] ? toUpload(rows[0]) : null;
  }

  declareSegmentManifest(entries: ReadonlyArray<Omit<SegmentManifestEntry, 'declaredAt'>>): Promise<{ created: boolean; manifest: SegmentManifestEntry[] }> {
    return declareSegmentManifest(this.sql, entries);
  }

  getSegmentManifest(firstBlobName: string): Promise<SegmentManifestEntry[]> {
    return getSegmentManifest(this.sql, firstBlobName);
  }

  latestSegmentRegistration(firstBlobName: string): Promise<string | null> {
    return latestSegmentRegistration(this.sql, firstBlobName);
  }

  getDeclaredSegment(blobName: string): Promise<SegmentManifestEntry | null> {
    return getDeclaredSegment(this.sql, blobName);
  }

  async listUploadNames(): Promise<Set<string>> {
    const { rows } = await this.query<{ blob_name: string }>('SELECT blob_name FROM uploads');
    return new Set(rows.map((r) => r.blob_name));
  }

  async listUploadEtags(): Promise<Map<string, string>> {
    const { rows } = await this.query<{ blob_name: string; etag: string }>('SELECT blob_name, etag FROM uploads');
    return new Map(rows.map((r) => [r.blob_name, canonicalEtag(r.etag)]));
  }

  listUploadsToOfferAgain(options: { pendingForMs: number; unlessLeasedOn: readonly string[] }): Promise<Set<string>> {
    return listUploadsToOfferAgain(this.sql, options);
  }

  /** The first sighting's time stays; the latest ETag and size are what is there now. */
  async recordEvidenceChanged(blobName: string, seen: { etag: string; size: number | null }): Promise<void> {
    await this.query(
      `UPDATE uploads
          SET changed_etag = $2,
              changed_size = $3,
              changed_first_seen_at = COALESCE(changed_first_seen_at, now()),
              changed_last_seen_at = now()
        WHERE ${UPLOAD_BY_NAME()}`,
      [blobName, seen.etag === '' ? '' : canonicalEtag(seen.etag), seen.size],
    );
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
        WHERE ${UPLOAD_BY_NAME()} AND integrity = 'pending'`,
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

  async getHashCheckpoint(rootFileId: string, etag: string): Promise<HashCheckpoint | null> {
    const { rows } = await this.query<{ engine: string; restarts: number; offset_bytes: string | number; md5_state: string; sha1_state: string; sha256_state: string; updated_at: Date | string }>(
      `SELECT engine, restarts, offset_bytes, md5_state, sha1_state, sha256_state, updated_at FROM upload_hash_checkpoints WHERE root_file_id = $1 AND etag = $2`,
      [rootFileId, canonicalEtag(etag)],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      rootFileId,
      etag: canonicalEtag(etag),
      engine: r.engine,
      restarts: Number(r.restarts),
      offsetBytes: Number(r.offset_bytes),
      states: { md5: r.md5_state, sha1: r.sha1_state, sha256: r.sha256_state },
      updatedAt: new Date(r.updated_at).toISOString(),
    };
  }

  async saveHashCheckpoint(c: HashCheckpoint): Promise<CheckpointSave> {
    // Only while the upload's hash is pending: a trailing chain (a redelivery or re-drive beside a
    // continuation) that reaches a checkpoint after the hash was recorded would otherwise leave a row
    // that nothing deletes. The row's updated_at is what the watchdog reads as the hash moving
    // (index-store.watchdog.ts); the root file's updated_at is not touched. Another engine's save
    // replaces the row (its states are its own) but never lowers restarts: a later start over must get
    // a count not used before, or its continuation keys repeat and are dropped as duplicates. FOR SHARE
    // on the upload: a save that raced the hash's record or failure waits for it, then sees it not
    // pending and inserts nothing (the record deletes the rows after; see hash.stage.ts). Whether the row was written is
    // answered apart from whether the hash is pending: a save another delivery's further progress refused was reported
    // as if written, and the hash stage continued on a state the row did not hold (regression
    // hash-save-reported-pending-when-row-not-written). The same progress saved again is written again (the states are
    // exact for their offset, so they are the same).
    const { rows } = await this.query<{ pending: boolean; written: boolean }>(
      `WITH live AS (
         SELECT 1 FROM uploads WHERE root_file_id = $1 AND integrity = 'pending' AND hash_failure_code IS NULL FOR SHARE
       ), saved AS (
         INSERT INTO upload_hash_checkpoints (root_file_id, etag, engine, restarts, offset_bytes, md5_state, sha1_state, sha256_state, updated_at)
         SELECT $1, $2, $3, $8, $4, $5, $6, $7, now() FROM live
         ON CONFLICT (root_file_id, etag) DO UPDATE SET
           engine = EXCLUDED.engine, restarts = GREATEST(upload_hash_checkpoints.restarts, EXCLUDED.restarts), offset_bytes = EXCLUDED.offset_bytes, md5_state = EXCLUDED.md5_state,
           sha1_state = EXCLUDED.sha1_state, sha256_state = EXCLUDED.sha256_state, updated_at = now()
         WHERE (upload_hash_checkpoints.restarts, upload_hash_checkpoints.offset_bytes) <= (EXCLUDED.restarts, EXCLUDED.offset_bytes)
            OR upload_hash_checkpoints.engine <> EXCLUDED.engine
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM live) AS pending, EXISTS (SELECT 1 FROM saved) AS written`,
      [c.rootFileId, canonicalEtag(c.etag), c.engine, c.offsetBytes, c.states.md5, c.states.sha1, c.states.sha256, c.restarts],
    );
    if (rows[0]?.pending !== true) return 'not-pending';
    return rows[0].written === true ? 'saved' : 'behind';
  }

  async deleteHashCheckpoints(rootFileId: string): Promise<void> {
    await this.query(`DELETE FROM upload_hash_checkpoints WHERE root_file_id = $1`, [rootFileId]);
  }

  async getImageCheckCheckpoint(fileId: string): Promise<ImageCheckCheckpoint | null> {
    const { rows } = await this.query<{ etags: string; engine: string; restarts: number; media_bytes: string | number; offset_bytes: string | number; md5_state: string; sha1_state: string; sha256_state: string; updated_at: Date | string }>(
      `SELECT etags, engine, restarts, media_bytes, offset_bytes, md5_state, sha1_state, sha256_state, updated_at FROM image_check_checkpoints WHERE file_id = $1`,
      [fileId],
    );
    const r = rows[0];
    if (!r) return null;
    let etags: string[] = [];
    try {
      const parsed: unknown = JSON.parse(r.etags);
      if (Array.isArray(parsed) && parsed.every((e) => typeof e === 'string')) etags = parsed as string[];
    } catch {
      // Unreadable: matches no reader's segments, so the check starts over.
    }
    return {
      fileId,
      etags,
      engine: r.engine,
      restarts: Number(r.restarts),
      mediaBytes: Number(r.media_bytes),
      offsetBytes: Number(r.offset_bytes),
      states: { md5: r.md5_state, sha1: r.sha1_state, sha256: r.sha256_state },
      updatedAt: new Date(r.updated_at).toISOString(),
    };
  }

  async saveImageCheckCheckpoint(c: ImageCheckCheckpoint): Promise<CheckpointSave> {
    // Only while the image's unpack is pending (FOR SHARE: a save racing the unpack's end waits for it, then
    // inserts nothing). A root whose hash failed meanwhile is still pending here: the next attempt closes its unpack
    // (closeUnpackOfFailedHash). The row's updated_at is the watchdog's sign that the image's unpack moves; the
    // file's own updated_at is left alone, so stalls elsewhere in the item are still seen (index-store.watchdog.ts).
    // Whether the row was written is answered apart from whether the unpack is pending: a save another delivery's further
    // progress refused was reported saved, and its caller sent a continuation keyed on a state the row did not hold
    // (regression image-check-save-reported-pending-when-row-not-written). The same progress saved again is written again
    // (the states are exact for their offset, so they are the same).
    const { rows } = await this.query<{ pending: boolean; written: boolean }>(
      `WITH live AS (
         SELECT file_id FROM files WHERE file_id = $1 AND unpack = 'pending' FOR SHARE
       ), saved AS (
         INSERT INTO image_check_checkpoints (file_id, etags, engine, restarts, media_bytes, offset_bytes, md5_state, sha1_state, sha256_state, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, now() FROM live
         ON CONFLICT (file_id) DO UPDATE SET
           etags = EXCLUDED.etags, engine = EXCLUDED.engine, restarts = GREATEST(image_check_checkpoints.restarts, EXCLUDED.restarts),
           media_bytes = EXCLUDED.media_bytes, offset_bytes = EXCLUDED.offset_bytes, md5_state = EXCLUDED.md5_state,
           sha1_state = EXCLUDED.sha1_state, sha256_state = EXCLUDED.sha256_state, updated_at = now()
         WHERE (image_check_checkpoints.restarts, image_check_checkpoints.offset_bytes) <= (EXCLUDED.restarts, EXCLUDED.offset_bytes)
            OR image_check_checkpoints.engine <> EXCLUDED.engine
            OR image_check_checkpoints.etags <> EXCLUDED.etags
            OR image_check_checkpoints.media_bytes <> EXCLUDED.media_bytes
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM live) AS pending, EXISTS (SELECT 1 FROM saved) AS written`,
      [c.fileId, JSON.stringify(c.etags), c.engine, c.restarts, c.mediaBytes, c.offsetBytes, c.states.md5, c.states.sha1, c.states.sha256],
    );
    if (rows[0]?.pending !== true) return 'not-pending';
    return rows[0].written === true ? 'saved' : 'behind';
  }

  async deleteImageCheckCheckpoint(fileId: string): Promise<void> {
    await this.query(`DELETE FROM image_check_checkpoints WHERE file_id = $1`, [fileId]);
  }

  acquireStageLease(key: StageLeaseKey & { messageId: string }, leaseMs: number): Promise<StageLeaseAcquire> {
    return acquireStageLease(this.sql, key, leaseMs);
  }

  renewStageLease(key: StageLeaseKey, leaseMs: number): Promise<boolean> {
    return renewStageLease(this.sql, key, leaseMs);
  }

  releaseStageLease(key: StageLeaseKey): Promise<void> {
    return releaseStageLease(this.sql, key);
  }

  stageLeaseHeld(key: Omit<StageLeaseKey, 'holder'>): Promise<boolean> {
    return stageLeaseHeld(this.sql, key);
  }

  clearStageLeases(): Promise<number> {
    return clearStageLeases(this.sql);
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
          WHERE ${UPLOAD_BY_NAME()}
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
        source_offset: f.source?.offset ?? null,
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
                            extension, entry_kind, size, sha256, source_container, source_name, source_offset,
                            archive_times, flags, stage, failure_stage, failure_code, failure_detail, link_target)
         SELECT r.file_id, r.case_id, r.evidence_id, r.parent_id, r.entry_index, r.depth, r.path, r.recorded_name,
                r.name, r.extension, r.entry_kind, r.size, r.sha256, r.source_container, r.source_name, r.source_offset,
                COALESCE(r.archive_times, '{}'::jsonb), ARRAY(SELECT jsonb_array_elements_text(r.flags)),
                r.stage, r.failure_stage, r.failure_code, r.failure_detail, r.link_target
           FROM jsonb_to_recordset($1::jsonb) AS r (
                  file_id text, case_id text, evidence_id text, parent_id text, entry_index integer, depth integer,
                  path text, recorded_name text, name text, extension text, entry_kind text, size bigint,
                  sha256 text, source_container text, source_name text, source_offset bigint, archive_times jsonb, flags jsonb,
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

  async getFiles(fileIds: readonly string[]): Promise<Map<string, FileRecord>> {
    const found = new Map<string, FileRecord>();
    if (fileIds.length === 0) return found;
    const { rows } = await this.query(`SELECT ${fileCols} FROM files f WHERE f.file_id = ANY($1::text[])`, [[...fileIds]]);
    for (const row of rows) {
      const file = toFile(row);
      found.set(file.fileId, file);
    }
    return found;
  }

  async getFileWithContent(fileId: string): Promise<{ file: FileRecord; content: ContentRecord | null } | null> {
    const { rows } = await this.query(
      `SELECT ${fileCols}, ${columnList(CONTENT_COLUMNS, 'c', 'c_')}
         FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256
        WHERE f.file_id = $1`,
      [fileId],
    );
    const row = rows[0];
    if (!row) return null;
    return { file: toFile(row), content: row.c_sha256 === null || row.c_sha256 === undefined ? null : toContent(row, 'c_') };
  }

  async getFilesWithContent(fileIds: readonly string[]): Promise<Map<string, { file: FileRecord; content: ContentRecord | null }>> {
    const found = new Map<string, { file: FileRecord; content: ContentRecord | null }>();
    if (fileIds.length === 0) return found;
    const { rows } = await this.query(
      `SELECT ${fileCols}, ${columnList(CONTENT_COLUMNS, 'c', 'c_')}
         FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256
        WHERE f.file_id = ANY($1::text[])`,
      [[...fileIds]],
    );
    for (const row of rows) {
      const file = toFile(row);
      found.set(file.fileId, { file, content: row.c_sha256 === null || row.c_sha256 === undefined ? null : toContent(row, 'c_') });
    }
    return found;
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
   * Moves forward only (the rule is fileMoveCtes'). The patch is applied with
   * a move and also with a same-stage call (the hash stage fills in a pending
   * root's SHA-256), never with a backwards one. Values already set (hash,
   * size, source) are kept: the first writer wins. Returns true only for a
   * strictly forward move.
   */
  async advanceFile(
    fileId: string,
    stage: FileStage,
    patch: { sha256?: string; size?: number; source?: BlobRef; flags?: FileFlag[]; unpack?: 'pending' } = {},
  ): Promise<boolean> {
    const p = new SqlParams();
    const ctes = fileMoveCtes(p, { fileId, stage, ...patch });
    const { rows } = await this.query<{ old_stage: FileStage | null; found: boolean }>(
      `WITH ${ctes}
       SELECT (SELECT old_stage FROM moved) AS old_stage, EXISTS (SELECT 1 FROM before) AS found`,
      p.values,
    );
    const row = rows[0];
    if (!row?.found) throw notFound('file', fileId);
    return row.old_stage !== null && row.old_stage !== stage;
  }

  async markIndexed(ref: EvidenceRef & { fileId: string }): Promise<IndexedResult> {
    const p = new SqlParams();
    // A redelivery (already indexed) writes nothing.
    const ctes = fileMoveCtes(p, { fileId: ref.fileId, stage: 'indexed', evidence: ref, onlyIf: "before.old_stage <> 'indexed'" });
    // The probe runs only after a real move, with this file counted as done
    // (see migration 0003 for why it takes a lock).
    const { rows } = await this.query<{ stage: FileStage; open_work: boolean | null }>(
      `WITH ${ctes}
       SELECT b.old_stage AS stage,
              CASE WHEN m.old_stage IS NOT NULL
                   THEN evidence_open_work(${p.add(ref.caseId)}, ${p.add(ref.evidenceId)}, ${p.add(ref.fileId)}) END AS open_work
         FROM before b LEFT JOIN moved m ON true`,
      p.values,
    );
    const row = rows[0];
    if (!row) return { moved: false, stage: null };
    if (row.open_work === null) return { moved: false, stage: row.stage };
    return { moved: true, openWork: row.open_work };
  }

  /**
   * One statement for a batch message's files: the moves (forward only, a
   * redelivery of an indexed file writes nothing), then, when any moved, one
   * probe of the evidence item with all the batch's files counted as done
   * (migration 0045; the lock and the fresh snapshot are 0003's).
   */
  async markIndexedBatch(ref: EvidenceRef, fileIds: readonly string[]): Promise<Map<string, IndexedResult>> {
    const results = new Map<string, IndexedResult>(fileIds.map((id) => [id, { moved: false, stage: null }]));
    if (fileIds.length === 0) return results;
    const { rows } = await this.query<{ file_id: string; stage: FileStage; moved: boolean; open_work: boolean | null }>(
      `WITH before AS (
         SELECT file_id, stage AS old_stage FROM files
          WHERE file_id = ANY($1::text[]) AND case_id = $2 AND evidence_id = $3
          ORDER BY file_id
          FOR UPDATE
       ), moved AS (
         UPDATE files f SET stage = 'indexed', updated_at = now()
           FROM before
          WHERE f.file_id = before.file_id AND before.old_stage NOT IN ('failed', 'indexed')
         RETURNING f.file_id
       ), probe AS (
         SELECT CASE WHEN EXISTS (SELECT 1 FROM moved) THEN evidence_open_work_except($2, $3, $1::text[]) END AS open_work
       )
       SELECT b.file_id, b.old_stage AS stage, (m.file_id IS NOT NULL) AS moved, p.open_work
         FROM before b LEFT JOIN moved m ON m.file_id = b.file_id CROSS JOIN probe p`,
      [[...fileIds], ref.caseId, ref.evidenceId],
    );
    for (const row of rows) {
      results.set(row.file_id, row.moved ? { moved: true, openWork: row.open_work === true } : { moved: false, stage: row.stage });
    }
    return results;
  }

  /** The first failure wins: a redelivered message cannot replace the recorded reason. */
  async failFile(fileId: string, failure: FileFailure): Promise<void> {
    const p = new SqlParams();
    const cte = fileFailCte(p, fileId, failure);
    const { rows } = await this.query<{ found: boolean }>(
      `WITH ${cte} SELECT EXISTS (SELECT 1 FROM failed) OR EXISTS (SELECT 1 FROM files WHERE file_id = ${p.add(fileId)}) AS found`,
      p.values,
    );
    if (!rows[0]?.found) throw notFound('file', fileId);
  }

  async failMembersFrom(parentId: string, fromEntryIndex: number, failure: FileFailure): Promise<number> {
    const { affectedRows } = await this.query(
      `UPDATE files SET stage = 'failed', failure_stage = $3, failure_code = $4, failure_detail = $5,
              size = NULL, sha256 = NULL, source_container = NULL, source_name = NULL, source_offset = NULL, updated_at = now()
        WHERE parent_id = $1 AND entry_index >= $2 AND stage <> 'failed'`,
      [parentId, fromEntryIndex, failure.stage, failure.code, clampDetail(failure.detail)],
    );
    return affectedRows;
  }

  /** n/a → pending → done | failed, forward only; done and failed are final. */
  async setUnpack(fileId: string, state: UnpackState, memberCount?: number | null, failure?: UnpackFailure): Promise<void> {
    const rank = unpackRank(state);
    const f = state === 'failed' ? failure : undefined;
    const { affectedRows } = await this.query(
      `UPDATE files SET unpack = $2, member_count = COALESCE($3::integer, member_count),
              unpack_failure_code = $5, unpack_failure_reason = $6, unpack_failure_detail = $7,
              unpack_members_recorded = $8, unpack_members_declared = $9, updated_at = now()
        WHERE file_id = $1 AND ${unpackRankSql('unpack')} < $4::integer`,
      [
        fileId, state, memberCount ?? null, rank,
        f?.code ?? null, f?.reason ?? null, f ? clampDetail(f.detail) : null, f?.membersRecorded ?? null, f?.membersDeclared ?? null,
      ],
    );
    if (affectedRows === 0) await this.assertFile(fileId);
  }

  // ---- expansion budget ----

  async budgetUsage(ref: EvidenceRef): Promise<EvidenceBudgetUsage> {
    const { rows } = await this.query(
      `SELECT (SELECT COALESCE(sum(size), 0) FROM uploads WHERE case_id = $1 AND evidence_id = $2) AS evidence_bytes,
              b.expanded_bytes, b.written_bytes, b.entries, b.unpack_ms
         FROM (SELECT 1) one LEFT JOIN evidence_budgets b ON b.case_id = $1 AND b.evidence_id = $2`,
      [ref.caseId, ref.evidenceId],
    );
    const r = rows[0] ?? {};
    return {
      evidenceBytes: Number(r.evidence_bytes ?? 0),
      used: {
        expandedBytes: Number(r.expanded_bytes ?? 0),
        writtenBytes: Number(r.written_bytes ?? 0),
        entries: Number(r.entries ?? 0),
        unpackMs: Number(r.unpack_ms ?? 0),
      },
    };
  }

  async claimBudget(ref: EvidenceRef, counter: BudgetCounter, want: number, max: number): Promise<number> {
    const col = BUDGET_COLUMN[counter];
    if (!(want > 0)) return 0;
    return this.sql.transaction(async (tx) => {
      await this.query(`INSERT INTO evidence_budgets (case_id, evidence_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [ref.caseId, ref.evidenceId], tx);
      // Row-locked read and update in one transaction: concurrent unpacks of the evidence item queue here.
      const { rows } = await this.query<{ used: string | number }>(
        `SELECT ${col} AS used FROM evidence_budgets WHERE case_id = $1 AND evidence_id = $2 FOR UPDATE`,
        [ref.caseId, ref.evidenceId],
        tx,
      );
      const used = Number(rows[0]?.used ?? 0);
      const granted = Math.max(0, Math.min(Math.floor(want), Math.floor(max) - used));
      if (granted > 0) {
        await this.query(`UPDATE evidence_budgets SET ${col} = ${col} + $3 WHERE case_id = $1 AND evidence_id = $2`, [ref.caseId, ref.evidenceId, granted], tx);
      }
      return granted;
    });
  }

  async releaseBudget(ref: EvidenceRef, counter: BudgetCounter, amount: number): Promise<void> {
    if (!(amount > 0)) return;
    const col = BUDGET_COLUMN[counter];
    await this.query(
      `UPDATE evidence_budgets SET ${col} = GREATEST(${col} - $3, 0) WHERE case_id = $1 AND evidence_id = $2`,
      [ref.caseId, ref.evidenceId, Math.floor(amount)],
    );
  }

  async addFlags(fileId: string, flags: FileFlag[]): Promise<void> {
    const { affectedRows } = await this.query(
      `UPDATE files SET
          flags = ${addFlagsSql('flags', '$2')},
          updated_at = now()
        WHERE file_id = $1`,
      [fileId, uniqueFlags(flags)],
    );
    if (affectedRows === 0) throw notFound('file', fileId);
  }

  async addFlagsToFiles(fileIds: readonly string[], flags: FileFlag[]): Promise<void> {
    if (fileIds.length === 0 || flags.length === 0) return;
    await this.query(
      `UPDATE files SET flags = ${addFlagsSql('flags', '$2')}, updated_at = now() WHERE file_id = ANY($1::text[])`,
      [[...fileIds], uniqueFlags(flags)],
    );
  }

  async removeFlagsFromFiles(fileIds: readonly string[], flags: FileFlag[]): Promise<void> {
    if (fileIds.length === 0 || flags.length === 0) return;
    await this.query(
      `UPDATE files SET flags = ARRAY(SELECT x FROM unnest(flags) WITH ORDINALITY AS t (x, i) WHERE x <> ALL ($2::text[]) ORDER BY i), updated_at = now()
        WHERE file_id = ANY($1::text[]) AND flags && $2::text[]`,
      [[...fileIds], uniqueFlags(flags)],
    );
  }

  // ---- contents ----

  async getContent(sha256: string): Promise<ContentRecord | null> {
    const { rows } = await this.query(`SELECT ${contentCols} FROM contents c WHERE c.sha256 = $1`, [sha256.toLowerCase()]);
    return rows[0] ? toContent(rows[0]) : null;
  }

  /**
   * One statement: the insert reports a new row, a conflict falls through to
   * the stored one. A row committed by a concurrent insert after this
   * statement's snapshot is in neither; it is read again then.
   */
  async ensureContent(content: { sha256: string; md5: string; sha1: string; size: number; source: ContentSource }): Promise<ContentRecord> {
    const sha256 = content.sha256.toLowerCase();
    const { rows } = await this.query(
      `WITH inserted AS (
         INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, source_offset)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (sha256) DO NOTHING
         RETURNING ${CONTENT_COLUMNS.join(', ')}
       )
       SELECT ${columnList(CONTENT_COLUMNS, 'i')} FROM inserted i
       UNION ALL
       SELECT ${contentCols} FROM contents c WHERE c.sha256 = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
      [sha256, content.md5.toLowerCase(), content.sha1.toLowerCase(), content.size, content.source.container, content.source.name, content.source.offset ?? null],
    );
    const stored = rows[0] ? toContent(rows[0]) : await this.getContent(sha256);
    if (!stored) throw notFound('content', sha256);
    return stored;
  }

  /**
   * ensureContent for many contents in one statement (an unpack's batch of
   * members): rows already stored are kept (the first writer wins), and of
   * the same content twice in the list the first is written.
   */
  async ensureContents(contents: ReadonlyArray<{ sha256: string; md5: string; sha1: string; size: number; source: ContentSource }>): Promise<void> {
    const first = new Map<string, (typeof contents)[number]>();
    for (const c of contents) {
      const sha256 = c.sha256.toLowerCase();
      if (!first.has(sha256)) first.set(sha256, c);
    }
    if (first.size === 0) return;
    const rows = [...first.entries()];
    await this.query(
      `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, source_offset)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
       ORDER BY 1
       ON CONFLICT (sha256) DO NOTHING`,
      [
        rows.map(([sha256]) => sha256),
        rows.map(([, c]) => c.md5.toLowerCase()),
        rows.map(([, c]) => c.sha1.toLowerCase()),
        rows.map(([, c]) => c.size),
        rows.map(([, c]) => c.source.container),
        rows.map(([, c]) => c.source.name),
        rows.map(([, c]) => c.source.offset ?? null),
      ],
    );
  }

  /**
   * Each analysis is recorded once per content (first result wins), like a
   * file's failure: the same bytes give the same answer, and a redelivered
   * message must not rewrite what an examiner may already have relied on.
   * Each is one part of setAnalysis, under its own condition.
   */
  async setIdentification(sha256: string, id: IdentificationWrite, file?: FileMove): Promise<void> {
    await this.setAnalysis(sha256, { identification: id }, file);
  }

  async setMetadata(sha256: string, result: MetadataWrite, file?: FileMove): Promise<void> {
    await this.setAnalysis(sha256, { metadata: result }, file);
  }

  async setThumbnail(sha256: string, result: ThumbnailWrite, file?: FileMove): Promise<void> {
    await this.setAnalysis(sha256, { thumbnail: result }, file);
  }

  /**
   * One statement for whatever parts of a content's analysis are given, and the occurrence's move or failure.
   * PostgreSQL lets one statement change a row once, so the parts share one UPDATE of the content: `due` reads,
   * with the row locked (so of two concurrent writers exactly one sees a part still open), which parts are still
   * open (kind not recorded, metadata pending, thumbnail pending; false for a part not given), and each column a
   * part sets takes the part's value only where that part is due, else keeps its own. That is what each part's
   * own `UPDATE ... WHERE <its condition>` wrote, one after another: identification, metadata, thumbnail
   * (findings appended in that order; the first failure on the content kept). The PDQ hashes go in only when
   * this statement records the thumbnail; the occurrence moves (or fails) only if the content exists.
   */
  async setAnalysis(sha256: string, results: AnalysisWrite, file?: FileMove): Promise<void> {
    const { identification: id, metadata: meta, thumbnail: thumb } = results;
    if (meta?.noThumbnail && thumb) throw new ExhibitError('invalid-argument', 'a content without a thumbnail (noThumbnail) cannot record one');
    const p = new SqlParams();
    const sha = p.add(sha256.toLowerCase());
    const contentExists = `EXISTS (SELECT 1 FROM contents WHERE sha256 = ${sha})`;
    const ctes: string[] = [];
    if (id || meta || thumb) {
      ctes.push(...analysisCtes(p, sha, results));
      // The PDQ hashes go in with the thumbnail that recorded them, or not at all (a later writer's are dropped with its thumbnail).
      if (thumb?.pdq && thumb.pdq.length > 0) ctes.push(...pdqReplaceCtes((v) => p.add(v), sha, thumb.pdq, 'EXISTS (SELECT 1 FROM analysis WHERE analysis.thumbnail)'));
    }
    let fileFound = 'true';
    if (file) {
      ctes.push(
        'failure' in file
          ? fileFailCte(p, file.fileId, file.failure, { onlyIf: contentExists, ...(file.flags ? { flags: file.flags } : {}) })
          : fileMoveCtes(p, {
              fileId: file.fileId,
              stage: file.to,
              ...(file.flags ? { flags: file.flags } : {}),
              ...(file.unpack ? { unpack: file.unpack } : {}),
              onlyIf: contentExists,
            }),
      );
      fileFound = `EXISTS (SELECT 1 FROM files WHERE file_id = ${p.add(file.fileId)})`;
    }
    const { rows } = await this.query<{ content_found: boolean; file_found: boolean }>(
      `${ctes.length > 0 ? `WITH ${ctes.join(', ')}\n       ` : ''}SELECT ${contentExists} AS content_found, ${fileFound} AS file_found`,
      p.values,
    );
    if (!rows[0]?.content_found) throw notFound('content', sha256);
    if (file && !rows[0].file_found) throw notFound('file', file.fileId);
  }

  /** Failure columns are set together or not at all (the first failure on a content wins). */
  private failureParams(failure: FileFailure | undefined): [string | null, string | null, string | null] {
    return failure ? [failure.stage, failure.code, clampDetail(failure.detail)] : [null, null, null];
  }

  // ---- status ----

  /**
   * Index probes only (see migration 0003), under the evidence item's
   * completion lock, so that a markIndexed probing before its own commit is
   * never missed by this one nor this one by it.
   */
  async hasPendingWork(caseId: string, evidenceId: string): Promise<boolean> {
    const { rows } = await this.query<{ pending: boolean }>('SELECT evidence_open_work($1, $2) AS pending', [caseId, evidenceId]);
    return rows[0]?.pending === true;
  }

  async listEvidence(caseId?: string): Promise<Array<{ caseId: string; evidenceId: string; uploads: number; files: number; complete: boolean }>> {
    const { rows } = await this.query(
      `SELECT * FROM evidence_summary s WHERE ($1::text IS NULL OR s.case_id = $1) ORDER BY s.case_id COLLATE "C", s.evidence_id COLLATE "C"`,
      [caseId ?? null],
    );
    return rows.map((r) => ({
      caseId: String(r.case_id),
      evidenceId: String(r.evidence_id),
      uploads: Number(r.uploads),
      files: Number(r.files),
      complete: isEvidenceComplete({ hashed: r.hashed, rootsRecorded: r.roots_recorded, settled: r.settled }),
    }));
  }

  async evidenceIdsHolding(caseId: string, sha256: string): Promise<string[]> {
    // The occurrences through files_sha256_idx, each read once. A probe per evidence item was tried and
    // measured ~30x slower (2.7 s against 90 ms on the server, 100,000 copies in 4 of 40 items): no index
    // leads with (case, evidence, sha256), so each probe walked every file of its item.
    const { rows } = await this.query(
      `SELECT DISTINCT evidence_id COLLATE "C" AS evidence_id FROM files WHERE case_id = $1 AND sha256 = $2 ORDER BY 1`,
      [caseId, sha256],
    );
    return rows.map((r) => String(r.evidence_id));
  }

  async evidenceStatus(caseId: string, evidenceId: string): Promise<EvidenceStatus | null> {
    const parts = await readEvidenceStatusParts(this.sql, caseId, evidenceId);
    const { summary, uploads, groups, failures, flagged, known, knownCounts, diskImages } = parts;
    const manifests = parts.manifests.map(toSegmentManifestEntry);
    const head = summary[0];
    if (!head && groups.length === 0) return null;

    const fileGroups: FileStateGroup[] = groups.map((r) => ({
      hasContent: r.has_content === true,
      stage: r.stage as FileStage,
      failureStage: (r.failure_stage ?? null) as StageName | null,
      unpack: r.unpack as FileStateGroup['unpack'],
      metadataFailed: r.metadata_failed === true,
      n: Number(r.n),
    }));
    const uploadRecords = uploads.map(toUpload);

    const findings: EvidenceStatus['findings'] = [];
    for (const u of uploads) {
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
    for (const r of flagged) {
      findings.push({
        fileId: String(r.file_id),
        path: String(r.path),
        flag: r.flag as FileFlag,
        detail: typeof r.detail === 'string' ? r.detail : flagDetail(String(r.flag), {
          extension: (r.extension ?? null) as string | null,
          fileName: typeof r.path === 'string' ? r.path : null,
          detectedExt: (r.detected_ext ?? null) as string | null,
          mime: (r.mime ?? null) as string | null,
          metadataFindings: r.metadata_findings ?? null,
        }),
      });
    }

    for (const r of known) {
      const match = toMatch(r);
      findings.push({ fileId: String(r.file_id), path: String(r.path), flag: match.kind === 'known-bad' ? 'known-bad' : 'notable', detail: knownFileDetail(match) });
    }
    const counts = knownCounts[0];

    return {
      caseId,
      evidenceId,
      knownFiles: { knownBad: Number(counts?.known_bad ?? 0), notable: Number(counts?.notable ?? 0), knownGood: Number(counts?.known_good ?? 0) },
      uploads: uploadRecords,
      // media_damaged comes with migration 0240's function: absent without it, never read as 'not damaged'.
      diskImages: diskImages.map((r) => ({
        ...toDiskImage(r),
        path: String(r['path']),
        ...(typeof r['media_damaged'] === 'boolean' ? { mediaDamaged: r['media_damaged'] } : {}),
      })),
      imageSegments: imageSegmentsStatus(uploadRecords.map((u) => u.fileName), manifests),
      files: countByStage(fileGroups),
      stages: stageCounts(
        fileGroups,
        uploads.map((u) => ({
          integrity: u.integrity as UploadRecord['integrity'],
          hashFailed: u.hash_failure_code !== null && u.hash_failure_code !== undefined,
          rootFailureStage: (u.root_failure_stage ?? null) as StageName | null,
        })),
      ),
      failures: failures.map((r) => ({
        fileId: String(r.file_id),
        path: String(r.path),
        stage: r.stage as StageName,
        code: r.code as FileFailure['code'],
        detail: String(r.detail ?? ''),
        ...(r.reason !== null && r.reason !== undefined
          ? {
              archive: {
                reason: r.reason as ArchiveStopReason,
                membersRecorded: Number(r.recorded ?? 0),
                membersDeclared: r.declared === null || r.declared === undefined ? null : Number(r.declared),
              },
            }
          : {}),
      })),
      findings,
      complete: head !== undefined && isEvidenceComplete({ hashed: head.hashed, rootsRecorded: head.roots_recorded, settled: head.settled }),
    };
  }

  // ---- search ----

  refreshReviewSummary(caseId: string): Promise<boolean> {
    return refreshReviewSummary(this.sql, caseId);
  }

  bringReviewSummaryUpToDate(caseId: string, options: { budgetMs: number; abortSignal?: AbortSignal }): Promise<ReviewSummaryUpdate> {
    return bringReviewSummaryUpToDate(this.sql, caseId, options);
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const built = buildSearch(query);
    const cap = query.countCap;
    if (cap !== undefined && (!Number.isInteger(cap) || cap < 1)) throw new ExhibitError('invalid-argument', 'countCap must be a positive integer');
    const { sort: _sort, order: _order, limit: _limit, offset: _offset, after: _after, countCap: _countCap, ...filter } = query;
    // The total from the case's review summary when the filter is one it keeps
    // (review-summary.ts): a few rows instead of counting every match. Else
    // counted, up to the cap when there is one.
    const dims = this.options.reviewSummary === false ? null : summaryDims(filter, true);
    if (dims) await refreshIfStaleAndQuiet(this.sql, dims.caseId);
    return this.snapshot(async (tx) => {
      const fresh = dims !== null && (await summaryState(tx, dims.caseId))?.fresh === true;
      let total = dims && fresh ? await summaryCount(tx, dims) : null;
      let totalIsLowerBound = false;
      if (total !== null) {
        // counted by the summary: exact
      } else if (cap === undefined) total = Number((await this.query<{ total: number }>(built.countSql, built.params, tx)).rows[0]?.total ?? 0);
      else if (built.countedPageSql !== null) {
        // Count and page in one pass over the matches (BuiltSearch.countedPageSql).
        const { rows: counted } = await this.query<{ total: number; ids: string[] }>(built.countedPageSql, [...built.params, cap + 1, query.offset ?? 0, built.limit + 1], tx);
        const n = Number(counted[0]?.total ?? 0);
        if (n <= cap) {
          const ids = counted[0]?.ids ?? [];
          const byId = new Map<string, Row>((await this.query(built.byIdSql, [query.caseId, ids], tx)).rows.map((r) => [String(r.file_id), r]));
          return this.searchResult(n, false, ids.map((id) => byId.get(id)).filter((r): r is Row => r !== undefined), built.limit, query);
        }
        totalIsLowerBound = true;
        total = cap;
      } else {
        const n = Number((await this.query<{ total: number }>(built.boundedCountSql, [...built.params, cap + 1], tx)).rows[0]?.total ?? 0);
        totalIsLowerBound = n > cap;
        total = Math.min(n, cap);
      }
      // One row past the page says whether a next page exists.
      const rows: Row[] = [];
      // A jump in the whole-case view starts after the summary's nearest stored position (migration 0110), not at row 0.
      const jump =
        dims && fresh && wholeCaseView(dims) && query.after === undefined && (query.offset ?? 0) > 0
          ? await jumpStart(tx, dims.caseId, query.sort ?? 'path', query.order === 'desc', query.offset ?? 0, built.limit + 1)
          : null;
      const page = jump
        ? buildSearch({ ...query, offset: 0, after: jump.after }, true, jump)
        : built.positionSql === null
          ? built
          : buildSearch({ ...query, after: await this.positionOf(built.positionSql, query, tx) }, true);
      for (const segment of page.segments) {
        if (rows.length > built.limit) break;
        rows.push(...(await this.query(segment.sql, [...segment.params, built.limit + 1 - rows.length], tx)).rows);
      }
      return this.searchResult(total, totalIsLowerBound, rows, built.limit, query);
    });
  }

  /** A position given by its row alone (SearchAfter without key), with the row's key read back in this snapshot. */
  private async positionOf(positionSql: string, query: SearchQuery, tx: SqlClient): Promise<SearchAfter> {
    const fileId = query.after!.fileId;
    const { rows } = await this.query<{ k: string | null }>(positionSql, [query.caseId, fileId], tx);
    if (rows.length === 0) {
      throw new ExhibitError('invalid-argument', 'after: the file this page follows is no longer in the case: start again from the first page', {
        details: { after: 'position-gone' },
      });
    }
    return { key: rows[0]!.k ?? null, fileId };
  }

  /** A page of `limit` from `rows` (one more says a next page exists), with its total. */
  private searchResult(counted: number, lowerBound: boolean, rows: Row[], limit: number, query: SearchQuery): SearchResult {
    let total = counted;
    let totalIsLowerBound = lowerBound;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const key = (last?.k ?? null) as string | null;
    // A key longer than the index takes back is left out: the position is then the row (positionSql).
    const next = rows.length > limit && last ? (key !== null && key.length > MAX_KEY_TEXT ? { fileId: String(last.file_id) } : { key, fileId: String(last.file_id) }) : null;
    // A page past the counted cap shows there are at least that many; the last page shows exactly how many.
    const offset = query.after === undefined ? (query.offset ?? 0) : null;
    if (totalIsLowerBound && offset !== null && offset + page.length > total) {
      total = offset + page.length;
      totalIsLowerBound = next !== null;
    }
    return {
      total,
      totalIsLowerBound,
      items: page.map((r) => ({ file: toFile(r), content: r.c_sha256 === null || r.c_sha256 === undefined ? null : toContent(r, 'c_') })),
      next,
    };
  }

  // ---- PDQ perceptual hashes (index-store.pdq.ts) ----

  /** Records a content's PDQ hashes (frame 0 for a picture), replacing an earlier run's. */
  recordDiskImage(record: DiskImageRecord): Promise<void> {
    return recordDiskImage(this.sql, record);
  }

  getDiskImage(fileId: string): Promise<DiskImageRecord | null> {
    return getDiskImage(this.sql, fileId);
  }

  setPdq(sha256: string, rows: readonly PdqRow[]): Promise<void> {
    return setPdq(this.sql, sha256, rows);
  }

  getPdq(sha256: string): Promise<PdqRow[]> {
    return getPdq(this.sql, sha256);
  }

  /** Contents of the given cases within a Hamming distance of a PDQ hash, nearest first. */
  similarByPdq(query: SimilarQuery): Promise<SimilarResult> {
    return similarByPdq(this.sql, query);
  }

  pdqBackfillCandidates(options: { after: string | null; limit: number }): Promise<string[]> {
    return pdqBackfillCandidates(this.sql, options);
  }

  pdqBackfillPending(): Promise<number> {
    return pdqBackfillPending(this.sql);
  }

  recordPdqBackfill(sha256: string, result: { pdq: readonly PdqRow[] } | { failure: string }): Promise<void> {
    return recordPdqBackfill(this.sql, sha256, result);
  }

  filesOfContent(sha256: string, limit: number): Promise<Array<{ fileId: string; caseId: string; evidenceId: string; path: string }>> {
    return filesOfContent(this.sql, sha256, limit);
  }

  // ---- hash sets (migration 0020, docs/known-files.md) ----

  async matchFileAgainstHashSets(fileId: string): Promise<KnownFileMatch[]> {
    // One statement; an unknown file or one without content has nothing to match.
    return new HashSetStore(this.sql).matchFile(fileId);
  }

  async matchFilesAgainstHashSets(fileIds: readonly string[]): Promise<Map<string, KnownFileMatch[]>> {
    return new HashSetStore(this.sql).matchFiles(fileIds);
  }

  async knownFileMatches(fileId: string): Promise<KnownFileMatch[]> {
    const { rows } = await this.query<{ sha256: string | null }>('SELECT sha256 FROM files WHERE file_id = $1', [fileId]);
    const sha256 = rows[0]?.sha256;
    if (!sha256) return [];
    return new HashSetStore(this.sql).matchesOf([sha256]);
  }

  // ---- rejected blobs ----

  async recordRejectedBlob(blob: NewRejectedBlob): Promise<{ created: boolean; record: RejectedBlob }> {
    const { rows } = await this.query(RECORD_REJECTED_SQL, recordRejectedParams(blob));
    const row = rows[0];
    if (!row) throw notFound('rejected blob', `${blob.container}/${blob.blobName}`);
    const record = toRejectedBlob(row);
    // Only the insert leaves the count at 1; every conflict adds to it.
    return { created: record.seenCount === 1, record };
  }

  async listRejectedBlobs(page: { limit?: number; offset?: number } = {}): Promise<{ total: number; items: RejectedBlob[] }> {
    const q = listRejectedQuery(page);
    const [count, items] = await this.snapshot(async (tx) => [
      await this.query<{ total: number }>(q.countSql, [], tx),
      await this.query(q.pageSql, q.pageParams, tx),
    ] as const);
    return { total: Number(count.rows[0]?.total ?? 0), items: items.rows.map(toRejectedBlob) };
  }
}

export function createPostgresIndex(sql: SqlClient, options: { logger?: Logger; reviewSummary?: boolean } = {}): IndexStore {
  return new PostgresIndex(sql, options);
}
