-- Progress of a resumable hash of a large upload (docs/architecture.md,
-- "Resumable hash of a large upload"): a 500 GB-2 TB disk image cannot be
-- read in one stage invocation (LIMITS.stageDeadlineMs), so the hash stage
-- saves the MD5, SHA-1 and SHA-256 states every LIMITS.hashCheckpointBytes and
-- before it stops, and the next invocation reads on from offset_bytes. Keyed on
-- the upload's root file id and the ETag the bytes were read under: a state is
-- only ever resumed against the same blob version (the read is pinned to it);
-- another ETag is another blob, whose row is never used. The row is deleted
-- once the upload's hash is recorded. States are hash-wasm's save() output,
-- base64 (opaque; the same library version loads them).
CREATE TABLE IF NOT EXISTS upload_hash_checkpoints (
  root_file_id  text        NOT NULL,
  etag          text        NOT NULL,
  offset_bytes  bigint      NOT NULL CHECK (offset_bytes >= 0),
  md5_state     text        NOT NULL,
  sha1_state    text        NOT NULL,
  sha256_state  text        NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (root_file_id, etag)
);
