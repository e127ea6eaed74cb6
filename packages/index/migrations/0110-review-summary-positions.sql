-- Deep jumps without paying the offset (issue 13): a sparse "position index"
-- of the whole-case view in the review summary (migration 0060), and make /
-- model facet counts for prefix searches (docs/review-api.md, "Jumps and
-- facets").
--
-- review_summary_positions: for the case's files as the gallery shows them
-- unfiltered (known-good hidden, index-store.search.ts buildFilter of the case
-- alone), per sort and direction, the sort key and fileId of every Kth row in
-- that order (ordinal K-1, 2K-1, ...; K in review_summary_sorts.every) and of
-- the last row that has a value. A page at offset N then starts after the
-- nearest stored row before N and skips fewer than K rows by OFFSET, instead
-- of reading all N. Written in the refresh's snapshot by the same order
-- expressions as search, and read only under the summary's exactness rule
-- (fresh in the reader's own snapshot), so the page is the offset page itself.
CREATE TABLE review_summary_positions (
  case_id    text    NOT NULL,
  sort       text    NOT NULL,
  descending boolean NOT NULL,
  -- 0-based position in that order.
  ordinal    bigint  NOT NULL CHECK (ordinal >= 0),
  -- The sort key as text (index-store.search.ts keyText); null: a file without a value.
  k          text,
  file_id    text    NOT NULL,
  PRIMARY KEY (case_id, sort, descending, ordinal)
);

-- Per sort: how many rows the view has, and how many have a value (they come
-- first either way; the rest by fileId), so a skip that crosses from the
-- valued rows into the empty ones is split exactly between the two.
CREATE TABLE review_summary_sorts (
  case_id text    NOT NULL,
  sort    text    NOT NULL,
  every   integer NOT NULL CHECK (every > 0),
  total   bigint  NOT NULL CHECK (total >= 0),
  valued  bigint  NOT NULL CHECK (valued >= 0 AND valued <= total),
  PRIMARY KEY (case_id, sort)
);

-- Make and model prefix counts: files per (evidence item, kind, has a
-- position, hidden, lower(make), lower(model)), so "make=canon" is counted
-- from these rows by the same LIKE as search applies to lower(c.make). Kept
-- only while the case has at most REVIEW_SUMMARY.maxFacetGroups such groups
-- (hostile evidence can give every file its own make):
-- review_summary_state.facets says whether they were kept; when not, the
-- files are counted up to the cap as before.
CREATE TABLE review_summary_facets (
  case_id         text    NOT NULL,
  evidence_id     text    NOT NULL,
  kind            text,
  has_gps         boolean NOT NULL,
  hidden          boolean NOT NULL,
  make            text,
  model           text,
  files           integer NOT NULL CHECK (files > 0),
  duplicate_files integer NOT NULL CHECK (duplicate_files >= 0),
  first_files     integer NOT NULL CHECK (first_files >= 0)
);
CREATE INDEX review_summary_facets_case_idx ON review_summary_facets (case_id);

ALTER TABLE review_summary_state ADD COLUMN facets boolean NOT NULL DEFAULT false;

-- The summary now also depends on the sort columns (path, name, size,
-- recording time; a content's type) and on make and model: a change to any of
-- them must mark the case changed, or a stored position or facet count could
-- outlive its data. Same triggers as 0060, longer column lists.
CREATE OR REPLACE FUNCTION review_summary_files_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
       WHERE (o.case_id, o.evidence_id, o.sha256, o.path, o.name, o.size, o.created_at)
             IS DISTINCT FROM (n.case_id, n.evidence_id, n.sha256, n.path, n.name, n.size, n.created_at);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION review_summary_contents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
                           WHERE (o.kind, o.gps_lat, o.gps_lon, o.taken_at_local_ts, o.taken_at_utc, o.mime, o.make, o.model)
                                 IS DISTINCT FROM (n.kind, n.gps_lat, n.gps_lon, n.taken_at_local_ts, n.taken_at_utc, n.mime, n.make, n.model)
                          UNION ALL
                          SELECT o.sha256 FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.sha256 = o.sha256));
  END IF;
  RETURN NULL;
END $$;

-- Every summary is remade on its case's next quiet read, with positions and facets.
DELETE FROM review_summary_state;
