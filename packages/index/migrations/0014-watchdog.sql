-- The watchdog (packages/runtime/src/watchdog.ts) finds work that stopped
-- moving: a file short of 'indexed'/'failed', or an archive whose unpack is
-- pending, whose last progress (updated_at: every move, failure and unpack
-- change sets it) is older than the stall threshold while nothing else of its
-- evidence item moved either. It re-sends the file's stage message (stages are
-- idempotent) and counts that here; redrives counts re-drives since the file
-- last moved (a move after redriven_at restarts the count). After
-- maxRedrives without a move the file is failed with code 'stuck'.
ALTER TABLE files
  ADD COLUMN redrives    integer NOT NULL DEFAULT 0 CHECK (redrives >= 0),
  ADD COLUMN redriven_at timestamptz;

-- An archive given up on by the watchdog carries its own stop reason.
ALTER TABLE files DROP CONSTRAINT IF EXISTS files_unpack_failure_reason_check;
ALTER TABLE files ADD CONSTRAINT files_unpack_failure_reason_check CHECK (unpack_failure_reason IN (
    'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
    'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered', 'stuck'));

-- Open work by age, and the latest progress per evidence item.
CREATE INDEX files_open_age_idx ON files (updated_at) WHERE stage NOT IN ('indexed', 'failed') OR unpack = 'pending';
CREATE INDEX files_evidence_progress_idx ON files (case_id, evidence_id, updated_at);

-- The derived-blob check walks contents with a thumbnail in key order, a page per pass.
CREATE INDEX contents_thumbnail_done_idx ON contents (sha256) WHERE thumbnail_status = 'done';

-- The signed custody lines exactly as appended, beside the index copy of their
-- fields (custody_entries, created by a later migration, holds no signature).
-- Storage that loses its last writes in a crash (Azurite killed hard) can lose
-- the tail of a custody log while its index rows stay; the custody writer then
-- appends these lines again, byte for byte, after checking each one's hash
-- against its custody_entries row, its signature and its link to the log's
-- last entry, so the log is what it was and verifies.
CREATE TABLE custody_lines (
  case_id     text    NOT NULL,
  evidence_id text    NOT NULL,
  seq         bigint  NOT NULL CHECK (seq >= 0),
  segment     integer NOT NULL CHECK (segment >= 0),
  line        text    NOT NULL,
  PRIMARY KEY (case_id, evidence_id, seq)
);
