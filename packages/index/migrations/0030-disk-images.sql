-- Disk images read by the unpack stage (issue 15, docs/disk-images.md): one row
-- per image file, with its container, its volumes and, for EWF (E01), the
-- header the acquisition wrote (case number, evidence number, examiner, notes,
-- acquisition date, software) and the check of the MD5/SHA-1 stored in the
-- image against a hash of the media data read. The image's members are rows in
-- files like any archive's; this is what is known about the image itself.
CREATE TABLE disk_images (
  file_id           text PRIMARY KEY REFERENCES files (file_id) ON DELETE CASCADE,
  case_id           text NOT NULL,
  evidence_id       text NOT NULL,
  format            text NOT NULL,
  media_bytes       bigint NOT NULL CHECK (media_bytes >= 0),
  segment_count     integer NOT NULL CHECK (segment_count >= 1),
  volumes           jsonb NOT NULL DEFAULT '[]',
  volume_problems   jsonb NOT NULL DEFAULT '[]',
  ewf_header        jsonb,
  stored_hashes     jsonb,
  computed_hashes   jsonb,
  integrity         text NOT NULL CHECK (integrity IN ('verified', 'mismatch', 'no-reference', 'failed')),
  mismatches        text[] NOT NULL DEFAULT '{}',
  integrity_detail  text,
  recorded_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX disk_images_evidence_idx ON disk_images (case_id, evidence_id);
