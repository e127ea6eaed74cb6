-- Blobs that reached the evidence container but were not taken in as
-- evidence: a name that is not <caseId>/<evidenceId>/<file name> (dropped at
-- the container root, an empty segment, an id outside the id alphabet). Such
-- a blob names no case, so it has no custody log to go in; this table is its
-- record, so that nothing put in front of the pipeline is silently ignored.
--
-- One row per version of a blob, as its ETag tells them apart. The watcher,
-- the reconciliation timer and a redelivered event see the same blob again
-- and again: each sighting moves last_seen_at and counts, it never adds a
-- row. A blob overwritten with other bytes is a new row.
CREATE TABLE rejected_blobs (
  container     text        NOT NULL,
  blob_name     text        NOT NULL,
  etag          text        NOT NULL,
  size          bigint      NOT NULL CHECK (size >= 0),
  last_modified timestamptz NOT NULL,
  -- RejectedBlobReason in packages/core/src/ports/index-store.ts.
  reason        text        NOT NULL CHECK (reason IN ('not-evidence-name', 'not-evidence-container')),
  -- What exactly is wrong with it, as first recorded.
  detail        text        NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  seen_count    integer     NOT NULL DEFAULT 1 CHECK (seen_count >= 1),
  PRIMARY KEY (container, blob_name, etag)
);

-- The admin list: newest first, paged.
CREATE INDEX rejected_blobs_first_seen_idx ON rejected_blobs (first_seen_at DESC);
