-- Evidence of any name Azure Storage allows can be received (regressions
-- long-unicode-blob-name-not-recorded, long-unicode-rejected-blob-not-recorded).
-- A blob name is up to 1,024 characters (LIMITS.maxBlobNameChars), up to
-- 3,072 bytes of UTF-8; a b-tree refuses an index row over 2,704 bytes
-- (8,191 after compression, and random CJK does not compress). uploads and
-- rejected_blobs were keyed by the name itself, so a long non-ASCII name was
-- refused at receipt ("index row size 2720 exceeds btree version 4 maximum
-- 2704 for index uploads_pkey" at 900 characters) and the blob was retried
-- by every reconcile pass, never recorded.
--
-- They are keyed by the SHA-256 of the name's UTF-8 bytes instead: 32 bytes
-- in every index row, whatever the name. The name itself is stored whole, as
-- before; lookups compare the digest (indexed) and then the name (exact), so
-- nothing matches on a digest alone. Uniqueness is the digest's: two names
-- only collide if SHA-256 does.

-- SHA-256 of a text's UTF-8 bytes (the database encoding is UTF-8). decode(…,
-- 'escape') reads every byte as itself except a backslash, which it reads as
-- the start of an escape: doubling backslashes first makes it the identity.
-- convert_to(x, 'UTF8') would say it more plainly but is only STABLE, and a
-- generated column or index needs an IMMUTABLE expression; every function
-- here is. E'' strings so the body means the same whatever
-- standard_conforming_strings says.
CREATE FUNCTION utf8_sha256(value text) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN pg_catalog.sha256(pg_catalog.decode(pg_catalog.replace(value, E'\\', E'\\\\'), 'escape'));

-- uploads: one row per evidence blob. Small (one row per uploaded file), so
-- the rewrite that adding a stored column makes is quick.
ALTER TABLE uploads ADD COLUMN blob_name_sha256 bytea GENERATED ALWAYS AS (utf8_sha256(blob_name)) STORED;
ALTER TABLE uploads DROP CONSTRAINT uploads_pkey;
ALTER TABLE uploads ADD CONSTRAINT uploads_pkey PRIMARY KEY (blob_name_sha256);

-- rejected_blobs: a blob that is not evidence can have any name at all
-- (dropped at the container root, longer than Azure allows in an emulator).
ALTER TABLE rejected_blobs ADD COLUMN blob_name_sha256 bytea GENERATED ALWAYS AS (utf8_sha256(blob_name)) STORED;
ALTER TABLE rejected_blobs DROP CONSTRAINT rejected_blobs_pkey;
ALTER TABLE rejected_blobs ADD CONSTRAINT rejected_blobs_pkey PRIMARY KEY (container, blob_name_sha256, etag);
