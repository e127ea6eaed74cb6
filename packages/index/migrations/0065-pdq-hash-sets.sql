-- PDQ hash lists as hash sets (docs/known-files.md, "PDQ hash lists").
--
-- A PDQ list is a set like any other (name, kind, version, one partition of
-- hash_set_hashes), but its rows carry a PDQ hash instead of digests, and a
-- content matches it when one of its PDQ hashes (content_pdq, migration 0025:
-- frame 0 of a picture, every contact-sheet frame of a video) is within the
-- set's max_distance bits of a listed hash.
ALTER TABLE hash_sets DROP CONSTRAINT hash_sets_format_check;
ALTER TABLE hash_sets ADD CONSTRAINT hash_sets_format_check
  CHECK (format IN ('nsrl-rds-v3', 'vics-json', 'icse-csv', 'hashdeep', 'hashkeeper', 'checksum-list', 'hash-list', 'pdq-list'));
-- Bits of 256 within which a content's PDQ matches a listed hash (PDQ lists only; exact sets have none).
ALTER TABLE hash_sets ADD COLUMN max_distance smallint CHECK (max_distance BETWEEN 0 AND 256);
ALTER TABLE hash_sets ADD CONSTRAINT hash_sets_max_distance_pdq_only CHECK ((format = 'pdq-list') = (max_distance IS NOT NULL));

-- The listed PDQ hash and the quality the list states for it (the reference tool prints one).
-- A row's label (the list's third field) is kept in extra as {"label": ...}, as data.
ALTER TABLE hash_set_hashes ADD COLUMN pdq bit(256);
ALTER TABLE hash_set_hashes ADD COLUMN pdq_quality smallint CHECK (pdq_quality BETWEEN 0 AND 100);
ALTER TABLE hash_set_hashes DROP CONSTRAINT hash_set_hashes_check;
ALTER TABLE hash_set_hashes ADD CONSTRAINT hash_set_hashes_check
  CHECK (md5 IS NOT NULL OR sha1 IS NOT NULL OR sha256 IS NOT NULL OR pdq IS NOT NULL);

-- A PDQ match records how far apart the two hashes were, which of the
-- content's frames matched (0 for a picture) and which listed hash it matched.
ALTER TABLE hash_set_matches DROP CONSTRAINT hash_set_matches_matched_on_check;
ALTER TABLE hash_set_matches ADD CONSTRAINT hash_set_matches_matched_on_check
  CHECK (matched_on IN ('sha256', 'sha1', 'md5', 'pdq'));
ALTER TABLE hash_set_matches ADD COLUMN pdq_distance smallint CHECK (pdq_distance BETWEEN 0 AND 256);
ALTER TABLE hash_set_matches ADD COLUMN pdq_frame integer CHECK (pdq_frame >= 0);
ALTER TABLE hash_set_matches ADD COLUMN pdq_listed bit(256);
ALTER TABLE hash_set_matches ADD COLUMN pdq_label text;
ALTER TABLE hash_set_matches ADD CONSTRAINT hash_set_matches_pdq_fields
  CHECK ((matched_on = 'pdq') = (pdq_distance IS NOT NULL AND pdq_frame IS NOT NULL AND pdq_listed IS NOT NULL));

-- A build interrupted before this migration has its table loaded but not yet
-- attached (state 'loading'): it did not get the new columns and check from the
-- parent, and the resumed import copies into them and attaches the table (which
-- needs the same check under the same name). Give it both.
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN
    SELECT c.relname FROM hash_sets s JOIN pg_class c ON c.relname = 'hash_set_hashes_' || s.set_id
     WHERE s.state = 'loading' AND NOT c.relispartition
  LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS pdq bit(256), ADD COLUMN IF NOT EXISTS pdq_quality smallint', t);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT hash_set_hashes_pdq_quality_check CHECK (pdq_quality BETWEEN 0 AND 100)', t);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS hash_set_hashes_check', t);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT hash_set_hashes_check CHECK (md5 IS NOT NULL OR sha1 IS NOT NULL OR sha256 IS NOT NULL OR pdq IS NOT NULL)', t);
  END LOOP;
END
$$;
