-- A member stored uncompressed in a ZIP is read in place: its bytes are a span
-- of the archive's blob, `size` bytes from source_offset, not a copy in the
-- derived container (the copy only doubled storage). NULL: the whole blob.
ALTER TABLE files ADD COLUMN source_offset bigint;
ALTER TABLE files ADD CONSTRAINT files_source_offset_check
  CHECK (source_offset IS NULL OR (source_offset >= 0 AND source_container IS NOT NULL));
ALTER TABLE contents ADD COLUMN source_offset bigint;
ALTER TABLE contents ADD CONSTRAINT contents_source_offset_check
  CHECK (source_offset IS NULL OR source_offset >= 0);
