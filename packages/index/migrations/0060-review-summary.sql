-- A per-case summary of the review app's whole-case aggregates (issue 13):
-- file counts, map cells at zooms 0..N and timeline buckets of every size,
-- per (evidence item, kind, has a position, hidden as known-good). The map,
-- the timeline and a search's total read these few rows instead of joining
-- every file of the case to its content (docs/review-api.md, "Summary").
--
-- The summary is a cache with an exact invalidation rule, never a second
-- truth: it is computed in one snapshot by the same expressions as the direct
-- queries (review-summary.ts), and it is used only when nothing it depends on
-- has changed since. Every statement that changes what it depends on appends
-- a row to review_summary_changes (triggers below, in the writer's own
-- transaction); a refresh deletes exactly the change rows its snapshot saw.
-- So a reader whose snapshot shows a summary and no change row for the case
-- sees a summary of exactly the data in its snapshot; otherwise it asks the
-- files themselves. Change rows are appended, never updated: writers on the
-- same case never wait for each other here.

CREATE TABLE review_summary_state (
  case_id      text        PRIMARY KEY,
  refreshed_at timestamptz NOT NULL,
  -- Map cells are kept for zooms 0..map_max_zoom; deeper zooms ask the files.
  map_max_zoom integer     NOT NULL CHECK (map_max_zoom BETWEEN 0 AND 22),
  files        bigint      NOT NULL CHECK (files >= 0),
  -- review_summary_sets_version.version as the refresh saw it.
  sets_version bigint      NOT NULL,
  refresh_ms   integer     NOT NULL CHECK (refresh_ms >= 0)
);

CREATE TABLE review_summary_changes (
  case_id    text        NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX review_summary_changes_case_idx ON review_summary_changes (case_id, changed_at);

-- kind is null for files without a content row (not hashed yet, or no bytes).
CREATE TABLE review_summary_counts (
  case_id     text    NOT NULL,
  evidence_id text    NOT NULL,
  kind        text,
  has_gps     boolean NOT NULL,
  hidden      boolean NOT NULL,
  files       integer NOT NULL CHECK (files > 0),
  with_taken  integer NOT NULL CHECK (with_taken >= 0),
  min_taken   timestamp,
  max_taken   timestamp
);
CREATE INDEX review_summary_counts_case_idx ON review_summary_counts (case_id);

-- Sums of positions are numeric: exact, so a mean over several rows is the
-- same number whichever rows are added first (float sums are not).
CREATE TABLE review_summary_cells (
  case_id     text     NOT NULL,
  evidence_id text     NOT NULL,
  kind        text,
  hidden      boolean  NOT NULL,
  zoom        smallint NOT NULL,
  gx          bigint   NOT NULL,
  gy          bigint   NOT NULL,
  files       integer  NOT NULL CHECK (files > 0),
  sum_lat     numeric  NOT NULL,
  sum_lon     numeric  NOT NULL,
  min_lat     float8   NOT NULL,
  max_lat     float8   NOT NULL,
  min_lon     float8   NOT NULL,
  max_lon     float8   NOT NULL,
  -- The smallest (byte order) of the cell's: the file itself when it is alone.
  file_id     text     NOT NULL,
  sha256      text
);
CREATE INDEX review_summary_cells_case_zoom_idx ON review_summary_cells (case_id, zoom);

CREATE TABLE review_summary_buckets (
  case_id        text      NOT NULL,
  evidence_id    text      NOT NULL,
  kind           text,
  hidden         boolean   NOT NULL,
  unit           text      NOT NULL CHECK (unit IN ('minute', 'hour', 'day', 'week', 'month', 'year')),
  start          timestamp NOT NULL,
  with_offset    integer   NOT NULL CHECK (with_offset >= 0),
  without_offset integer   NOT NULL CHECK (without_offset >= 0)
);
CREATE INDEX review_summary_buckets_case_unit_idx ON review_summary_buckets (case_id, unit);

-- ---- Invalidation ---------------------------------------------------------
-- Statement-level triggers with transition tables: one small insert per
-- statement, not per row. An update counts only when a column the summary
-- reads changed (a stage change, say, does not).

CREATE FUNCTION review_summary_files_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO review_summary_changes (case_id) SELECT DISTINCT case_id FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO review_summary_changes (case_id) SELECT DISTINCT case_id FROM old_rows;
  ELSE
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT x.case_id
        FROM old_rows o JOIN new_rows n ON n.file_id = o.file_id
             CROSS JOIN LATERAL (VALUES (o.case_id), (n.case_id)) x (case_id)
       WHERE (o.case_id, o.evidence_id, o.sha256) IS DISTINCT FROM (n.case_id, n.evidence_id, n.sha256);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER review_summary_files_insert AFTER INSERT ON files
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_files_changed();
CREATE TRIGGER review_summary_files_update AFTER UPDATE ON files
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_files_changed();
CREATE TRIGGER review_summary_files_delete AFTER DELETE ON files
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_files_changed();

-- A content is shared by every case holding it: each of those cases changes.
CREATE FUNCTION review_summary_contents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f WHERE f.sha256 IN (SELECT sha256 FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f WHERE f.sha256 IN (SELECT sha256 FROM old_rows);
  ELSE
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f
       WHERE f.sha256 IN (SELECT o.sha256 FROM old_rows o JOIN new_rows n ON n.sha256 = o.sha256
                           WHERE (o.kind, o.gps_lat, o.gps_lon, o.taken_at_local_ts, o.taken_at_utc)
                                 IS DISTINCT FROM (n.kind, n.gps_lat, n.gps_lon, n.taken_at_local_ts, n.taken_at_utc)
                          UNION ALL
                          SELECT o.sha256 FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.sha256 = o.sha256));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER review_summary_contents_insert AFTER INSERT ON contents
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_contents_changed();
CREATE TRIGGER review_summary_contents_update AFTER UPDATE ON contents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_contents_changed();
CREATE TRIGGER review_summary_contents_delete AFTER DELETE ON contents
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_contents_changed();

-- Known-good hiding: a match added or withdrawn changes the cases holding that content.
CREATE FUNCTION review_summary_matches_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f WHERE f.sha256 IN (SELECT sha256 FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f WHERE f.sha256 IN (SELECT sha256 FROM old_rows);
  ELSE
    INSERT INTO review_summary_changes (case_id)
      SELECT DISTINCT f.case_id FROM files f WHERE f.sha256 IN (SELECT sha256 FROM old_rows UNION SELECT sha256 FROM new_rows);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER review_summary_matches_insert AFTER INSERT ON hash_set_matches
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_matches_changed();
CREATE TRIGGER review_summary_matches_update AFTER UPDATE ON hash_set_matches
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_matches_changed();
CREATE TRIGGER review_summary_matches_delete AFTER DELETE ON hash_set_matches
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_matches_changed();

-- A set activated, superseded, enabled, disabled or deleted may touch any
-- case: it bumps one version number, which every summary records and a
-- reader compares (a change row per case would miss a case whose first
-- summary is being made at that moment). Rare, so one row is no bottleneck;
-- a set's import progress (row counts, cursors) does not count.
CREATE TABLE review_summary_sets_version (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version  bigint  NOT NULL
);
INSERT INTO review_summary_sets_version (version) VALUES (0);

CREATE FUNCTION review_summary_sets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE review_summary_sets_version SET version = version + 1;
  ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.set_id = o.set_id
                 WHERE (o.kind, o.state, o.enabled) IS DISTINCT FROM (n.kind, n.state, n.enabled)) THEN
    UPDATE review_summary_sets_version SET version = version + 1;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION review_summary_sets_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE state = 'active') THEN
    UPDATE review_summary_sets_version SET version = version + 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER review_summary_sets_insert AFTER INSERT ON hash_sets
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_sets_added();
CREATE TRIGGER review_summary_sets_update AFTER UPDATE ON hash_sets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_sets_changed();
CREATE TRIGGER review_summary_sets_delete AFTER DELETE ON hash_sets
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_summary_sets_changed();

-- TRUNCATE has no rows to name: every summary goes.
CREATE FUNCTION review_summary_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM review_summary_state;
  RETURN NULL;
END $$;

CREATE TRIGGER review_summary_files_truncate AFTER TRUNCATE ON files FOR EACH STATEMENT EXECUTE FUNCTION review_summary_truncated();
CREATE TRIGGER review_summary_contents_truncate AFTER TRUNCATE ON contents FOR EACH STATEMENT EXECUTE FUNCTION review_summary_truncated();
CREATE TRIGGER review_summary_matches_truncate AFTER TRUNCATE ON hash_set_matches FOR EACH STATEMENT EXECUTE FUNCTION review_summary_truncated();
CREATE TRIGGER review_summary_sets_truncate AFTER TRUNCATE ON hash_sets FOR EACH STATEMENT EXECUTE FUNCTION review_summary_truncated();
