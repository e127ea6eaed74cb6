-- A member path of any length can be recorded (regression
-- long-incompressible-member-path-not-recorded). files_path_sort_idx (0001)
-- held lower(path) and path whole: a b-tree refuses an index row over 2,704
-- bytes (8,191 after compression), so a member whose path was long and
-- incompressible (a hostile name of up to LIMITS.maxEntryNameBytes = 4 KiB,
-- nested up to LIMITS.maxNestingDepth) failed its whole insert batch, and
-- took its siblings with it. The stored path stays whole; only the index
-- holds a bounded prefix.
--
-- The index holds the first 512 characters of lower(path): at most 2,048
-- bytes of UTF-8, so the worst row is 8 (tuple header) + 65 (case id, at most
-- 64 bytes) + 3 (alignment) + 4 + 2,048 (the prefix and its header) = 2,128
-- bytes, under 2,704 uncompressed. Path order (index-store.search.ts SORT_SQL,
-- review-store exportPage) sorts by this prefix first, then lower(path),
-- path and file_id as before: in the "C" collation a prefix order agrees with
-- the full order, so the order is unchanged; the index serves the prefix and
-- an incremental sort breaks its ties (paths equal for 512 characters).
DROP INDEX IF EXISTS files_path_sort_idx;
CREATE INDEX files_path_sort_idx ON files (case_id, (left(lower(path), 512) COLLATE "C"));
