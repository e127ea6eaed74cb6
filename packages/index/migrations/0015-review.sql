-- The browser review app (issue 13): tags with notes on files, and the
-- indexes its aggregates (map, timeline), duplicate grouping and exports use.

-- A tag (bookmark) on one occurrence, with a free-text note, shared by
-- everyone on the case. Every add, change and remove is also written to the
-- custody log of the file's evidence item (action 'bookmark'); this table is
-- the current state, custody is the history.
CREATE TABLE file_tags (
  tag_id      text        PRIMARY KEY CHECK (tag_id ~ '^[0-9a-f-]{36}$'),
  case_id     text        NOT NULL,
  file_id     text        NOT NULL REFERENCES files (file_id),
  tag         text        NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
  note        text        NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text        NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (file, tag); a tag search and the per-tag counts of a case.
CREATE UNIQUE INDEX file_tags_file_tag_idx ON file_tags (case_id, file_id, tag);
CREATE INDEX file_tags_case_tag_idx ON file_tags (case_id, tag);

-- Duplicates of a case (same content at more than one place) and the join to
-- contents from a case's files, without reading the files' rows.
CREATE INDEX files_case_sha256_idx ON files (case_id, sha256, file_id);

-- The timeline's axis: capture time as recorded, whatever the offset (the
-- existing index covers only files without one).
CREATE INDEX contents_taken_local_all_idx ON contents (taken_at_local_ts) WHERE taken_at_local_ts IS NOT NULL;

-- Sorting a case by when its files were recorded.
CREATE INDEX files_case_created_idx ON files (case_id, created_at, file_id);
