-- The segment manifest of a split disk image, declared when its upload is
-- registered (docs/disk-images.md, "Split images"): one row per declared
-- segment, in order, with its size and the acquisition hashes the imaging
-- tool wrote for it (NULL where none was declared). The primary key on the
-- blob name keeps a segment in one manifest only; first_blob_name (the set's
-- first segment) is what the first segment's unpack looks the set up by.
-- The declaring user comes from the API token, like upload_registrations'.
CREATE TABLE image_segment_manifests (
  blob_name       text        PRIMARY KEY CHECK (length(blob_name) BETWEEN 1 AND 1024),
  first_blob_name text        NOT NULL CHECK (length(first_blob_name) BETWEEN 1 AND 1024),
  case_id         text        NOT NULL,
  evidence_id     text        NOT NULL,
  position        integer     NOT NULL CHECK (position >= 1),
  file_name       text        NOT NULL,
  size            bigint      NOT NULL CHECK (size >= 1),
  md5             text        CHECK (md5 ~ '^[0-9a-f]{32}$'),
  sha1            text        CHECK (sha1 ~ '^[0-9a-f]{40}$'),
  sha256          text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  declared_by     text        NOT NULL CHECK (length(declared_by) BETWEEN 1 AND 256),
  declared_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (first_blob_name, position)
);

CREATE INDEX image_segment_manifests_by_item ON image_segment_manifests (case_id, evidence_id);
