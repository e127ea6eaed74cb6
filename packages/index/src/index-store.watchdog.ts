import type { FileStage, UnpackState } from '@exhibit/core';
import type { SqlClient } from './sql-client.js';

/** A file whose work stopped moving (see migration 0014). */
export interface StalledFile {
  fileId: string;
  caseId: string;
  evidenceId: string;
  parentId: string | null;
  stage: FileStage;
  unpack: UnpackState;
  /**
   * Re-drives since the file last moved (or, while the root's unpack is not
   * pending, since its resumable hash's checkpoint last moved).
   */
  redrives: number;
  /**
   * Set for an upload's root file: the upload's blob and whether its hash is
   * still to do; `hashMoving` when that hash is a resumable one whose
   * checkpoint (upload_hash_checkpoints, migration 0220) moved within stallMs:
   * the hash is progressing, so only the root's other work (a pending unpack)
   * can be what stalled.
   */
  upload: { blobName: string; hashPending: boolean; hashMoving: boolean } | null;
  /** Last progress (ISO 8601). */
  updatedAt: string;
  /**
   * Last move as `redrives` counts it (ISO 8601): the later of updatedAt and,
   * while the root's unpack is not pending, its resumable hash's checkpoint.
   * With the re-drive count it names a re-drive (its message key): a repeat
   * of the same re-drive gets the same name, the next one another.
   */
  movedAt: string;
}

/** A content whose thumbnail is recorded as made, with one occurrence to re-drive it through. */
export interface DoneThumbnail {
  sha256: string;
  blob: { container: string; name: string };
  file: { fileId: string; caseId: string; evidenceId: string } | null;
}

/** The queries of the watchdog, kept out of the IndexStore port: only the runtime's watchdog uses them. */
export interface WatchdogStore {
  /**
   * Open work (a file short of indexed/failed, or an unpack pending) whose last progress and last
   * re-drive are both older than `stallMs`, in evidence items where no file moved for `stallMs`
   * either (a long queue behind a big item is not a stall). Oldest first.
   */
  listStalledFiles(options: { stallMs: number; limit: number }): Promise<StalledFile[]>;
  /** Counts a re-drive; a file that moved since its last re-drive starts counting again. */
  markRedriven(fileIds: string[]): Promise<void>;
  /** Thumbnails recorded as done, in sha256 order after `after`, a page at a time. */
  listDoneThumbnails(options: { after: string; limit: number }): Promise<DoneThumbnail[]>;
}

export function createWatchdogStore(sql: SqlClient): WatchdogStore {
  return {
    async listStalledFiles({ stallMs, limit }) {
      const { rows } = await sql.query<{
        file_id: string;
        case_id: string;
        evidence_id: string;
        parent_id: string | null;
        stage: FileStage;
        unpack: UnpackState;
        redrives: number;
        redriven_at: Date | string | null;
        updated_at: Date | string;
        moved_at: Date | string;
        blob_name: string | null;
        hash_pending: boolean | null;
        hash_moving: boolean | null;
      }>(
        `SELECT f.file_id, f.case_id, f.evidence_id, f.parent_id, f.stage, f.unpack, f.updated_at,
                -- A re-drive older than the last move (the root's, or a resumable hash's checkpoint, which does not
                -- touch the root) counts from nothing again: a multi-hour hash's stall gaps are not one long stall.
                -- The checkpoint counts only while the hash is what the root waits on (its unpack not pending): a
                -- root stalled on its unpack beside a moving hash is re-sent the unpack, and those re-drives must
                -- count up to stuck, not start again at every checkpoint of an hours-long hash.
                -- An image's resumable stored-hash check (migration 0225) is its unpack's progress the same way.
                CASE WHEN f.redriven_at IS NOT NULL
                          AND f.redriven_at >= GREATEST(f.updated_at, CASE WHEN f.unpack <> 'pending' THEN (SELECT max(c.updated_at) FROM upload_hash_checkpoints c WHERE c.root_file_id = f.file_id) END,
                                                        (SELECT i.updated_at FROM image_check_checkpoints i WHERE i.file_id = f.file_id))
                     THEN f.redrives ELSE 0 END AS redrives,
                -- The same last move the count resets on: a re-drive's key names it (redrive-<n>-<moved ms>), so a
                -- re-drive after the image's check moved is never the earlier re-drive's id again.
                GREATEST(f.updated_at, CASE WHEN f.unpack <> 'pending' THEN (SELECT max(c.updated_at) FROM upload_hash_checkpoints c WHERE c.root_file_id = f.file_id) END,
                         (SELECT i.updated_at FROM image_check_checkpoints i WHERE i.file_id = f.file_id)) AS moved_at,
                u.blob_name, (u.integrity = 'pending' AND u.hash_failure_code IS NULL) AS hash_pending, hm.moving AS hash_moving
           FROM files f
           LEFT JOIN uploads u ON u.root_file_id = f.file_id
           -- A resumable hash's progress is its checkpoint row's updated_at, not the root's (which stays the
           -- root's own): a hash that runs for hours is not a stall, and it hides no stall elsewhere in the item.
           CROSS JOIN LATERAL (SELECT (u.integrity = 'pending' AND u.hash_failure_code IS NULL AND EXISTS (
                    SELECT 1 FROM upload_hash_checkpoints c
                     WHERE c.root_file_id = f.file_id
                       AND c.updated_at >= now() - make_interval(secs => $1::double precision / 1000))) IS TRUE AS moving) hm
          WHERE (f.stage NOT IN ('indexed', 'failed') OR f.unpack = 'pending')
            -- Its hash moving and nothing else awaited: not stalled.
            AND NOT (hm.moving AND f.stage = 'pending' AND f.unpack <> 'pending')
            -- An image whose stored-hash check saved progress within the stall time is moving (its checkpoint row,
            -- not its updated_at, which stays its own: a check running for hours hides no stall elsewhere in the item).
            AND GREATEST(f.updated_at, (SELECT i.updated_at FROM image_check_checkpoints i WHERE i.file_id = f.file_id)) < now() - make_interval(secs => $1::double precision / 1000)
            AND (f.redriven_at IS NULL OR f.redriven_at < now() - make_interval(secs => $1::double precision / 1000))
            AND NOT EXISTS (SELECT 1 FROM files g
                             WHERE g.case_id = f.case_id AND g.evidence_id = f.evidence_id
                               AND g.updated_at >= now() - make_interval(secs => $1::double precision / 1000))
          ORDER BY f.updated_at, f.file_id
          LIMIT $2`,
        [stallMs, limit],
      );
      return rows.map((r) => ({
        fileId: r.file_id,
        caseId: r.case_id,
        evidenceId: r.evidence_id,
        parentId: r.parent_id,
        stage: r.stage,
        unpack: r.unpack,
        redrives: Number(r.redrives),
        upload: r.blob_name === null ? null : { blobName: r.blob_name, hashPending: r.hash_pending === true, hashMoving: r.hash_moving === true },
        updatedAt: new Date(r.updated_at).toISOString(),
        movedAt: new Date(r.moved_at).toISOString(),
      }));
    },

    async markRedriven(fileIds) {
      if (fileIds.length === 0) return;
      // updated_at is progress, so it is left alone: a re-drive is not a move. A resumable hash's progress
      // is its checkpoint row's updated_at, counted only when the root's unpack is not pending (as in
      // listStalledFiles; GREATEST skips the NULL of no row or of an unpack-pending root).
      await sql.query(
        `UPDATE files
            SET redrives = CASE WHEN redriven_at IS NOT NULL
                                     AND redriven_at >= GREATEST(updated_at, CASE WHEN unpack <> 'pending' THEN (SELECT max(c.updated_at) FROM upload_hash_checkpoints c WHERE c.root_file_id = files.file_id) END,
                                                                 (SELECT i.updated_at FROM image_check_checkpoints i WHERE i.file_id = files.file_id))
                                THEN redrives + 1 ELSE 1 END,
                redriven_at = now()
          WHERE file_id = ANY($1::text[])`,
        [fileIds],
      );
    },

    async listDoneThumbnails({ after, limit }) {
      const { rows } = await sql.query<{
        sha256: string;
        thumbnail_container: string;
        thumbnail_name: string;
        file_id: string | null;
        case_id: string | null;
        evidence_id: string | null;
      }>(
        `SELECT c.sha256, c.thumbnail_container, c.thumbnail_name, f.file_id, f.case_id, f.evidence_id
           FROM contents c
           LEFT JOIN LATERAL (SELECT file_id, case_id, evidence_id FROM files
                               WHERE sha256 = c.sha256 AND stage <> 'failed'
                               ORDER BY file_id LIMIT 1) f ON true
          WHERE c.thumbnail_status = 'done' AND c.thumbnail_name IS NOT NULL AND c.sha256 > $1
          ORDER BY c.sha256
          LIMIT $2`,
        [after, limit],
      );
      return rows.map((r) => ({
        sha256: r.sha256,
        blob: { container: r.thumbnail_container, name: r.thumbnail_name },
        file: r.file_id && r.case_id && r.evidence_id ? { fileId: r.file_id, caseId: r.case_id, evidenceId: r.evidence_id } : null,
      }));
    },
  };
}
