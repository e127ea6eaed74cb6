-- Search at scale (issue 13): keyset pages, bounded counts, and the filtered
-- searches of the review app under 100 ms at 100,000 files
-- (docs/review-api.md, "Paging and totals"; docs/benchmarks.md).

-- The taken-at axis (index-store.search.ts TAKEN_SQL: the instant when the
-- offset is known, else the wall clock, read as UTC), by which the gallery
-- sorts and a capture-time range narrows. An index on the expression gives a
-- takenAt page an ordered scan that stops after one page (files are then
-- found by files_case_sha256_idx), a keyset page its start, a range filter
-- one index range (search adds the axis bounds the range implies), and the
-- planner statistics of the axis. sha256 lets the join read no heap first.
CREATE INDEX contents_taken_axis_idx ON contents ((COALESCE(taken_at_utc AT TIME ZONE 'UTC', taken_at_local_ts)), sha256);

-- Duplicates in the review summary (migration 0060): per group, the files
-- whose content occurs more than once in the case (duplicates=only) and the
-- files that stand for their content (its smallest fileId in the case, or no
-- content: duplicates=collapse). Both are properties of a file within its
-- case, so sums over any groups are the direct counts; they depend on the
-- files' (case, sha256), whose changes the 0060 triggers already record.
-- Null in a summary made before this migration: such a summary is not used
-- for duplicates (and every summary is remade, below).
ALTER TABLE review_summary_counts
  ADD COLUMN duplicate_files integer CHECK (duplicate_files >= 0),
  ADD COLUMN first_files     integer CHECK (first_files >= 0);

-- Every summary is remade on its case's next quiet read, with the new counts.
DELETE FROM review_summary_state;
