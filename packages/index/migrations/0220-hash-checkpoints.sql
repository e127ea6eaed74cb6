-- Progress of a resumable hash of a large upload (docs/architecture.md,
-- "Resumable hash of a large upload"): a 500 GB-2 TB disk image cannot be
-- read in one stage invocation (LIMITS.stageDeadlineMs), so the hash stage
-- saves the MD5, SHA-1 and SHA-256 states every LIMITS.hashCheckpointBytes and
-- before it stops, and the next invocation reads on from offset_bytes. Keyed on
-- the upload's root file id and the ETag the bytes were read under: a state is
-- only ever resumed against the same blob version (the read is pinned to it);
-- another ETag is another blob, whose row is never used. The row is deleted
-- once the upload's hash is recorded. States are hash-wasm's save() output,
-- base64, opaque: hash-wasm stamps each with its WebAssembly build and loads
-- only its own, so `engine` names the library and version that wrote them
-- (`hash-wasm@4.13.0`) and a hash stage of any other version starts over from
-- byte 0 rather than fail on them (a deploy in the middle of a long hash).
-- restarts counts those starts over: it is part of the continuation messages'
-- keys (offsets come round again; a repeated key would be dropped as a
-- duplicate), and a later start over replaces the row whatever its offset;
-- another engine's save replaces the row too but never lowers restarts.
-- updated_at is the watchdog's sign that the hash moves (index-store.watchdog.ts).
CREATE TABLE IF NOT EXISTS upload_hash_checkpoints (
  root_file_id  text        NOT NULL,
  etag          text        NOT NULL,
  engine        text        NOT NULL,
  restarts      integer     NOT NULL DEFAULT 0 CHECK (restarts >= 0),
  offset_bytes  bigint      NOT NULL CHECK (offset_bytes >= 0),
  md5_state     text        NOT NULL,
  sha1_state    text        NOT NULL,
  sha256_state  text        NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (root_file_id, etag)
);

-- A resumable hash given up on after LIMITS.maxHashRestarts starts over
-- (hash-state-unusable): an uploaded archive's pending unpack is recorded
-- failed with that reason (unpack.stage.ts closeUnpackOfFailedHash). Only
-- where the column is (0011): a database without it has no check to widen.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = 'files' AND column_name = 'unpack_failure_reason') THEN
    ALTER TABLE files DROP CONSTRAINT IF EXISTS files_unpack_failure_reason_check;
    ALTER TABLE files ADD CONSTRAINT files_unpack_failure_reason_check CHECK (unpack_failure_reason IN (
        'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
        'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered', 'stuck', 'evidence-changed',
        'hash-state-unusable'));
  END IF;
END $$;
