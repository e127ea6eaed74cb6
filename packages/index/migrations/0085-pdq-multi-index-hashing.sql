-- Exact similar-image search by multi-index hashing (docs/pdq.md, "Similar-image
-- search"), on any PostgreSQL, with no extension.
--
-- A PDQ hash is cut into 16 chunks of 16 bits. Two hashes within 31 bits of
-- each other differ by at most 1 bit in at least one chunk (pigeonhole: 16
-- chunks each 2 or more bits apart are at least 32 bits apart). So the hashes
-- within 31 bits of a query are among those sharing a chunk with one of the
-- query's chunks or one of their 16 one-bit neighbours (16 x 17 = 272 keys);
-- the distance of each candidate is then computed exactly with bit_count.
-- Nothing is approximate: the index only narrows which rows are compared.
--
-- pdq_mih_chunks is the hash's 16 keys, chunk number in the high bits
-- (chunk_no * 65536 + chunk value), so one GIN index over the array serves
-- all chunks, and the database keeps it up to date on every insert (no
-- chunk rows to write from the application). 16x16 was chosen by
-- measurement over 8x32 and 32x8 (docs/benchmarks.md).
CREATE FUNCTION pdq_mih_chunks(pdq bit(256)) RETURNS integer[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY[
  0 | substring(pdq from 1 for 16)::integer, 65536 | substring(pdq from 17 for 16)::integer, 131072 | substring(pdq from 33 for 16)::integer, 196608 | substring(pdq from 49 for 16)::integer,
  262144 | substring(pdq from 65 for 16)::integer, 327680 | substring(pdq from 81 for 16)::integer, 393216 | substring(pdq from 97 for 16)::integer, 458752 | substring(pdq from 113 for 16)::integer,
  524288 | substring(pdq from 129 for 16)::integer, 589824 | substring(pdq from 145 for 16)::integer, 655360 | substring(pdq from 161 for 16)::integer, 720896 | substring(pdq from 177 for 16)::integer,
  786432 | substring(pdq from 193 for 16)::integer, 851968 | substring(pdq from 209 for 16)::integer, 917504 | substring(pdq from 225 for 16)::integer, 983040 | substring(pdq from 241 for 16)::integer
];

-- The keys to look up for a query: each chunk key XOR each mask (the low 16
-- bits; 0 and the 16 single bits for chunks within 1 bit).
CREATE FUNCTION pdq_mih_probe(pdq bit(256), masks integer[]) RETURNS integer[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT array_agg(k # m) FROM unnest(pdq_mih_chunks(pdq)) AS k, unnest(masks) AS m);

-- Contents' PDQ hashes (frame 0 of a picture, contact-sheet frames of a
-- video). Building it is the backfill of the hashes already stored.
CREATE INDEX content_pdq_mih_idx ON content_pdq USING gin (pdq_mih_chunks(pdq));

-- The HNSW index (migration 0025, where pgvector was) is no longer used:
-- it was approximate (it could miss a near hash) and slow to build and to
-- keep up to date. The vector extension itself stays (dropping it is not
-- this migration's business).
DROP INDEX IF EXISTS content_pdq_hnsw_idx;

-- Every PDQ list loaded so far (any state: a resumed import finds its index
-- there and builds it with IF NOT EXISTS otherwise) gets the same index on its
-- partition, and loses its HNSW index.
DO $$
DECLARE
  part record;
BEGIN
  FOR part IN
    SELECT format('CREATE INDEX IF NOT EXISTS %I ON %I USING gin (pdq_mih_chunks(pdq))', c.relname || '_pdq_mih_idx', c.relname) AS build,
           format('DROP INDEX IF EXISTS %I', c.relname || '_pdq_hnsw_idx') AS drop_hnsw
      FROM hash_sets s JOIN pg_class c ON c.relname = 'hash_set_hashes_' || s.set_id
     WHERE s.format = 'pdq-list' AND c.relkind = 'r'
  LOOP
    EXECUTE part.build;
    EXECUTE part.drop_hnsw;
  END LOOP;
END
$$;
