-- The review app's whole-case aggregates (map clusters, timeline buckets;
-- issue 13) join a case's files to their contents. These indexes carry the
-- columns the aggregates read beside the join key, so both sides of the join
-- are index-only scans already ordered by sha256 (with
-- files_case_sha256_idx on the files side): a merge join that reads neither
-- table's wide rows nor builds a hash table of the contents.

-- Map: positions of the GPS-tagged contents (the map only ever counts those).
CREATE INDEX contents_sha256_gps_idx ON contents (sha256) INCLUDE (gps_lat, gps_lon) WHERE gps_lat IS NOT NULL;

-- Timeline: the recorded capture time and whether its offset is known, for
-- every content (not partial: the timeline also counts files without one).
CREATE INDEX contents_sha256_taken_idx ON contents (sha256) INCLUDE (taken_at_local_ts, taken_at_utc);
