-- Where an interrupted load of a positioned source continues (docs/known-files.md,
-- "Import, versions and resuming"). An NSRL RDS v3 release is read from its
-- table in rowid order, every row as it is, and de-duplicated in the index
-- after the load; load_cursor is the rowid of the last source row whose chunk
-- committed, so a resumed import reads on from there instead of re-reading
-- hundreds of millions of rows. NULL for text and JSON sources (they resume
-- by row count) and before the first chunk.
ALTER TABLE hash_sets ADD COLUMN load_cursor bigint;
