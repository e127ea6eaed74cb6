-- The evidence index: what was received (uploads), every occurrence of a file
-- (files), and what was learned about each distinct content (contents).
-- Values written by the pipeline are checked here as well as in code, because
-- the index is what an examiner reads in court.

-- Trigram indexes make "path contains ..." searches fast. The extension is
-- optional: where it cannot be created (not allow-listed on a managed server)
-- the same searches still work, only by scanning.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pg_trgm is not available (%); path search will scan', SQLERRM;
END
$$;

-- One row per evidence blob, written once when it is first seen. Later events
-- (a changed blob, a redelivered message) never overwrite what was received.
CREATE TABLE uploads (
  blob_name     text PRIMARY KEY,
  case_id       text NOT NULL,
  evidence_id   text NOT NULL,
  file_name     text NOT NULL,
  root_file_id  text NOT NULL UNIQUE,
  size          bigint NOT NULL CHECK (size >= 0),
  etag          text NOT NULL,
  version_id    text,
  content_type  text,
  last_modified timestamptz NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  -- As declared by the examiner (examiner, exhibit reference, expected hashes).
  acquisition   jsonb NOT NULL DEFAULT '{}',
  -- As computed by the hash stage; null until then.
  md5           text CHECK (md5 ~ '^[0-9a-f]{32}$'),
  sha1          text CHECK (sha1 ~ '^[0-9a-f]{40}$'),
  sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  integrity     text NOT NULL DEFAULT 'pending'
                CHECK (integrity IN ('pending', 'verified', 'mismatch', 'no-reference')),
  -- Which declared hashes disagreed with the computed ones, e.g. {sha256}.
  mismatches    text[] NOT NULL DEFAULT '{}',
  hashed_at     timestamptz,
  -- Set when the hash stage gave up (dead-lettered message), so the evidence
  -- item can still complete with the reason on record.
  hash_failure_stage  text,
  hash_failure_code   text,
  hash_failure_detail text,
  CHECK ((hash_failure_stage IS NULL) = (hash_failure_code IS NULL) AND (hash_failure_detail IS NULL) = (hash_failure_code IS NULL)),
  CHECK ((md5 IS NULL) = (sha256 IS NULL) AND (sha1 IS NULL) = (sha256 IS NULL)),
  CHECK ((integrity = 'pending') = (sha256 IS NULL))
);

CREATE INDEX uploads_evidence_idx ON uploads (case_id, evidence_id);
CREATE INDEX uploads_unhashed_idx ON uploads (case_id, evidence_id) WHERE integrity = 'pending' AND hash_failure_code IS NULL;

-- One row per occurrence: the uploaded file itself (depth 0) or a member of an
-- archive, however deeply nested. The same bytes appearing twice are two rows
-- here sharing one contents row.
CREATE TABLE files (
  file_id          text PRIMARY KEY,
  case_id          text NOT NULL,
  evidence_id      text NOT NULL,
  parent_id        text REFERENCES files (file_id),
  -- Position of the member in its archive's directory, as read.
  entry_index      integer CHECK (entry_index >= 0),
  depth            integer NOT NULL CHECK (depth >= 0),
  path             text NOT NULL,
  -- The member name exactly as the archive recorded it; `name` is the display form.
  recorded_name    text NOT NULL,
  name             text NOT NULL,
  extension        text,
  entry_kind       text NOT NULL
                   CHECK (entry_kind IN ('file', 'directory', 'symlink', 'hardlink', 'device', 'fifo', 'other')),
  size             bigint CHECK (size >= 0),
  sha256           text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- Where the bytes are kept; absent for entries without content.
  source_container text,
  source_name      text,
  -- Member times as the archive recorded them (RecordedTime per kind).
  archive_times    jsonb NOT NULL DEFAULT '{}',
  -- Findings about this occurrence, e.g. ext-mismatch (the name, not the bytes, is at fault).
  flags            text[] NOT NULL DEFAULT '{}',
  stage            text NOT NULL DEFAULT 'pending'
                   CHECK (stage IN ('pending', 'identified', 'described', 'thumbnailed', 'indexed', 'failed')),
  -- The first failure, kept even if a message is redelivered.
  failure_stage    text,
  failure_code     text,
  failure_detail   text,
  unpack           text NOT NULL DEFAULT 'n/a' CHECK (unpack IN ('n/a', 'pending', 'done', 'failed')),
  member_count     integer CHECK (member_count >= 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((source_container IS NULL) = (source_name IS NULL)),
  CHECK ((stage = 'failed') = (failure_code IS NOT NULL)),
  CHECK ((failure_stage IS NULL) = (failure_code IS NULL) AND (failure_detail IS NULL) = (failure_code IS NULL)),
  CHECK ((parent_id IS NULL) = (entry_index IS NULL))
);

-- Member ids are derived from (parent, index); this keeps that promise in the data.
CREATE UNIQUE INDEX files_parent_entry_idx ON files (parent_id, entry_index);
CREATE INDEX files_evidence_idx ON files (case_id, evidence_id);
CREATE INDEX files_sha256_idx ON files (sha256);
-- Work still to do, for status and completeness checks.
CREATE INDEX files_open_idx ON files (case_id, evidence_id, stage) WHERE stage NOT IN ('indexed', 'failed');
CREATE INDEX files_unpack_open_idx ON files (case_id, evidence_id) WHERE unpack = 'pending';
CREATE INDEX files_flags_idx ON files USING gin (flags);
CREATE INDEX files_path_sort_idx ON files (case_id, (lower(path) COLLATE "C"), (path COLLATE "C"), file_id);

DO $$
DECLARE
  trgm_schema text;
BEGIN
  SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';
  IF trgm_schema IS NOT NULL THEN
    EXECUTE format('CREATE INDEX files_path_trgm_idx ON files USING gin (lower(path) %I.gin_trgm_ops)', trgm_schema);
  END IF;
END
$$;

-- One row per distinct content (SHA-256): identified, described and
-- thumbnailed once, however many times it occurs.
CREATE TABLE contents (
  sha256               text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  md5                  text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),
  sha1                 text NOT NULL CHECK (sha1 ~ '^[0-9a-f]{40}$'),
  size                 bigint NOT NULL CHECK (size >= 0),
  -- The first copy stored; every occurrence has the same bytes.
  source_container     text NOT NULL,
  source_name          text NOT NULL,
  mime                 text,
  detected_ext         text,
  kind                 text CHECK (kind IN ('image', 'video', 'audio', 'archive', 'document', 'other')),
  -- Full normalised metadata (MediaMetadata); the columns below copy the
  -- parts people search on so those searches can use indexes.
  metadata             jsonb,
  metadata_status      text NOT NULL DEFAULT 'pending' CHECK (metadata_status IN ('pending', 'done', 'failed', 'n/a')),
  -- Set only when the source recorded an offset or is defined as UTC.
  taken_at_utc         timestamptz,
  -- The recorded wall clock as text, and parsed (no time zone) for range
  -- searches on files whose offset is unknown.
  taken_at_local       text,
  taken_at_local_ts    timestamp,
  taken_offset_minutes integer,
  gps_lat              double precision CHECK (gps_lat BETWEEN -90 AND 90),
  gps_lon              double precision CHECK (gps_lon BETWEEN -180 AND 180),
  make                 text,
  model                text,
  duration_sec         double precision,
  width                integer,
  height               integer,
  thumbnail_container  text,
  thumbnail_name       text,
  thumbnail_source     text CHECK (thumbnail_source IN ('image', 'exif-preview', 'contact-sheet')),
  thumbnail_status     text NOT NULL DEFAULT 'pending' CHECK (thumbnail_status IN ('pending', 'done', 'failed', 'n/a')),
  failure_stage        text,
  failure_code         text,
  failure_detail       text,
  -- Tool name and version per stage, so every result can be reproduced.
  tools                jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((thumbnail_container IS NULL) = (thumbnail_name IS NULL)),
  CHECK ((gps_lat IS NULL) = (gps_lon IS NULL)),
  CHECK ((failure_stage IS NULL) = (failure_code IS NULL) AND (failure_detail IS NULL) = (failure_code IS NULL))
);

CREATE INDEX contents_md5_idx ON contents (md5);
CREATE INDEX contents_sha1_idx ON contents (sha1);
CREATE INDEX contents_kind_idx ON contents (kind, mime);
CREATE INDEX contents_taken_utc_idx ON contents (taken_at_utc) WHERE taken_at_utc IS NOT NULL;
CREATE INDEX contents_taken_local_idx ON contents (taken_at_local_ts) WHERE taken_at_utc IS NULL AND taken_at_local_ts IS NOT NULL;
CREATE INDEX contents_gps_idx ON contents (gps_lat, gps_lon) WHERE gps_lat IS NOT NULL;
-- text_pattern_ops so case-insensitive prefix searches (make LIKE 'canon%') use the index in any collation.
CREATE INDEX contents_make_idx ON contents (lower(make) text_pattern_ops);
CREATE INDEX contents_model_idx ON contents (lower(model) text_pattern_ops);
