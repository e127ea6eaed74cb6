-- PDQ perceptual hashes (docs/pdq.md), once per content like every analysis:
-- frame 0 for a picture, one row per sampled frame for a video. Stored as
-- bit(256), PostgreSQL's own type, so the hash needs no extension; Hamming
-- distance is bit_count(a # b) everywhere.
CREATE TABLE content_pdq (
  sha256  text NOT NULL REFERENCES contents (sha256) ON DELETE CASCADE,
  frame   integer NOT NULL DEFAULT 0 CHECK (frame >= 0),
  pdq     bit(256) NOT NULL,
  quality smallint NOT NULL CHECK (quality BETWEEN 0 AND 100),
  PRIMARY KEY (sha256, frame)
);

-- Where pgvector is available (PGlite bundles it; Azure Database for
-- PostgreSQL allows it once listed in azure.extensions), an HNSW index on the
-- Hamming distance makes similar-image search sublinear. Anywhere else, or if
-- creating it is refused, the table stays unindexed and search scans
-- (index-store.pdq.ts picks the query by whether this index exists).
DO $$
DECLARE
  vector_schema text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
      SELECT n.nspname INTO vector_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
       WHERE e.extname = 'vector';
      EXECUTE format('CREATE INDEX content_pdq_hnsw_idx ON content_pdq USING hnsw (pdq %I.bit_hamming_ops)', vector_schema);
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'no HNSW index for PDQ search (%): similar-image search will scan', SQLERRM;
    END;
  END IF;
END
$$;
