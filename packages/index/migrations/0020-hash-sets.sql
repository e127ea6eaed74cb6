-- Hash sets (docs/known-files.md): lists of known files an examiner imports
-- (NSRL, Project VIC / CAID, ICSE, checksum lists) and the contents that
-- match them.
--
-- A set is built under its own id and becomes visible only when its state is
-- 'active': a new version of a set name is loaded and matched while the old
-- one stays in force, then one transaction swaps them (the old one becomes
-- 'superseded' and its hashes are dropped).
CREATE TABLE hash_sets (
  set_id           bigserial PRIMARY KEY,
  name             text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}$'),
  -- As the examiner named it (--version), else as the source states it.
  version          text,
  kind             text NOT NULL CHECK (kind IN ('known-good', 'known-bad', 'notable')),
  format           text NOT NULL
                   CHECK (format IN ('nsrl-rds-v3', 'vics-json', 'icse-csv', 'hashdeep', 'hashkeeper', 'checksum-list', 'hash-list')),
  -- What the file itself declares (VICS OData model, NSRL VERSION row).
  source_version   text,
  -- Category number -> name, per set: {"1": "Category A", ...}.
  category_names   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(category_names) = 'object'),
  source_file_name text NOT NULL,
  source_sha256    text NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
  source_size      bigint NOT NULL CHECK (source_size >= 0),
  -- Rows loaded so far (the resume point while loading), then the set's size.
  row_count        bigint NOT NULL DEFAULT 0 CHECK (row_count >= 0),
  -- Malformed rows left out under --skip-bad-rows (0 otherwise: a file with errors is refused).
  rejected_rows    bigint NOT NULL DEFAULT 0 CHECK (rejected_rows >= 0),
  imported_by      text NOT NULL,
  imported_at      timestamptz NOT NULL DEFAULT now(),
  activated_at     timestamptz,
  state            text NOT NULL DEFAULT 'loading' CHECK (state IN ('loading', 'matching', 'active', 'superseded')),
  enabled          boolean NOT NULL DEFAULT true,
  -- The re-match job's resume point: contents up to this SHA-256 are matched against the set.
  match_cursor     text CHECK (match_cursor ~ '^[0-9a-f]{64}$'),
  match_done       boolean NOT NULL DEFAULT false,
  CHECK ((state = 'active') = (activated_at IS NOT NULL) OR state = 'superseded')
);

-- One set in force per name, and one build per name at a time (a second import resumes it).
CREATE UNIQUE INDEX hash_sets_active_name_idx ON hash_sets (name) WHERE state = 'active';
CREATE UNIQUE INDEX hash_sets_building_name_idx ON hash_sets (name) WHERE state IN ('loading', 'matching');

-- The hashes, one partition per set (hash_set_hashes_<set_id>): a set is
-- loaded into its own table without the parent's locks, indexed once at the
-- end, attached in the switch transaction and dropped whole on removal.
-- Digests are bytea (half the size of hex text, so smaller indexes).
CREATE TABLE hash_set_hashes (
  set_id   bigint NOT NULL,
  md5      bytea CHECK (length(md5) = 16),
  sha1     bytea CHECK (length(sha1) = 20),
  sha256   bytea CHECK (length(sha256) = 32),
  category smallint,
  size     bigint CHECK (size >= 0),
  -- VICS fields kept as data (Series, VictimIdentified, Tags, PhotoDNA).
  extra    jsonb,
  CHECK (md5 IS NOT NULL OR sha1 IS NOT NULL OR sha256 IS NOT NULL)
) PARTITION BY LIST (set_id);

CREATE INDEX hash_set_hashes_md5_idx ON hash_set_hashes (md5) WHERE md5 IS NOT NULL;
CREATE INDEX hash_set_hashes_sha1_idx ON hash_set_hashes (sha1) WHERE sha1 IS NOT NULL;
CREATE INDEX hash_set_hashes_sha256_idx ON hash_set_hashes (sha256) WHERE sha256 IS NOT NULL;

-- A content that matches a set: per content (the same bytes match wherever
-- they occur), with the strongest digest that matched and the set's category.
CREATE TABLE hash_set_matches (
  sha256     text NOT NULL REFERENCES contents (sha256),
  set_id     bigint NOT NULL REFERENCES hash_sets (set_id) ON DELETE CASCADE,
  matched_on text NOT NULL CHECK (matched_on IN ('sha256', 'sha1', 'md5')),
  category   smallint,
  matched_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sha256, set_id)
);
CREATE INDEX hash_set_matches_set_idx ON hash_set_matches (set_id);
