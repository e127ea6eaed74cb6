-- The queryable copy of the custody logs. The append blobs in the custody
-- container are the record; these rows are written after each append lands
-- and serve searching, reports, eventKey idempotency, and as a second,
-- independent witness when a log is verified (a row the blob lacks means the
-- blob lost an entry; a blob entry with no row was added behind our back).

CREATE TABLE custody_entries (
  case_id     text        NOT NULL,
  evidence_id text        NOT NULL,
  seq         bigint      NOT NULL CHECK (seq >= 0),
  -- Segment number (the append blob <case>/<evidence>/<segment>.jsonl).
  segment     integer     NOT NULL CHECK (segment >= 0),
  time        timestamptz NOT NULL,
  actor       text        NOT NULL,
  action      text        NOT NULL,
  -- { caseId, evidenceId, blobName?, fileId?, sha256? }
  subject     jsonb       NOT NULL,
  details     jsonb       NOT NULL,
  tools       jsonb       NOT NULL DEFAULT '[]'::jsonb,
  event_key   text,
  key_id      text        NOT NULL,
  prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  -- SHA-256 of the entry's canonical bytes (RFC 8785), signature included.
  entry_hash  text        NOT NULL CHECK (entry_hash ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (case_id, evidence_id, seq)
);

-- A redelivered pipeline message must not be recorded twice.
CREATE UNIQUE INDEX custody_entries_event_key
  ON custody_entries (case_id, evidence_id, event_key)
  WHERE event_key IS NOT NULL;

-- Case-wide audit views in time order; provenance by file and by content.
CREATE INDEX custody_entries_case_time ON custody_entries (case_id, time);
CREATE INDEX custody_entries_file ON custody_entries ((subject ->> 'fileId')) WHERE subject ? 'fileId';
CREATE INDEX custody_entries_sha256 ON custody_entries ((subject ->> 'sha256')) WHERE subject ? 'sha256';
