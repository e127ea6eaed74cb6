-- Progress of the EWF stored-hash check of a large image (docs/disk-images.md,
-- "The EWF stored-hash check across attempts"): the MD5/SHA-1/SHA-256 of the
-- media read through the container cannot be taken in one unpack attempt for a
-- 500 GB-2 TB image (LIMITS.stageDeadlineMs), so the unpack saves the hash
-- states (hash-wasm save(), base64, opaque; `engine` names the build that
-- wrote them, as in migration 0220) with the media offset they cover every
-- LIMITS.hashCheckpointBytes of media, and the next unpack message reads on
-- from offset_bytes. One row per image file. `etags` is the ETags the image's
-- segment blobs were read under, in order (JSON array): progress is only
-- resumed over the same blobs. restarts counts starts over from offset 0
-- (states that do not load), part of the continuation keys, bounded by
-- LIMITS.maxHashRestarts. updated_at is the watchdog's sign that the image's
-- unpack moves (index-store.watchdog.ts); the file's own updated_at is left
-- alone, so stalls elsewhere in the item are still seen. Rows are saved only
-- while the image's unpack is pending and deleted once the check is recorded.
CREATE TABLE IF NOT EXISTS image_check_checkpoints (
  file_id       text        PRIMARY KEY,
  etags         text        NOT NULL,
  engine        text        NOT NULL,
  restarts      integer     NOT NULL DEFAULT 0 CHECK (restarts >= 0),
  media_bytes   bigint      NOT NULL CHECK (media_bytes >= 0),
  offset_bytes  bigint      NOT NULL CHECK (offset_bytes >= 0 AND offset_bytes <= media_bytes),
  md5_state     text        NOT NULL,
  sha1_state    text        NOT NULL,
  sha256_state  text        NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
