-- ETags in one form: the quoted HTTP form ("0x8DC…"). A container listing
-- gives the same tag unquoted, and both spellings were stored as they came:
-- the watcher (properties, quoted) and reconciliation (listing, unquoted)
-- each recorded a rejected blob, so every such blob was listed twice.
-- The code now stores canonicalEtag() only (packages/core/src/etag.ts);
-- this rewrites what was stored before, merging the duplicate rows.

-- Rejected blobs: one row per (container, blob_name, quoted etag). The
-- merged row keeps the earliest sighting's reason and detail (first record
-- wins, as for a single row), the whole span of sightings and their sum.
CREATE TEMP TABLE rejected_blobs_merged AS
SELECT container,
       blob_name,
       '"' || btrim(etag, '"') || '"'                                            AS etag,
       (array_agg(size          ORDER BY first_seen_at, etag COLLATE "C"))[1]    AS size,
       (array_agg(last_modified ORDER BY first_seen_at, etag COLLATE "C"))[1]    AS last_modified,
       (array_agg(reason        ORDER BY first_seen_at, etag COLLATE "C"))[1]    AS reason,
       (array_agg(detail        ORDER BY first_seen_at, etag COLLATE "C"))[1]    AS detail,
       min(first_seen_at)                                                        AS first_seen_at,
       max(last_seen_at)                                                         AS last_seen_at,
       sum(seen_count)::integer                                                  AS seen_count
  FROM rejected_blobs
 WHERE etag NOT LIKE 'W/%'
 GROUP BY container, blob_name, '"' || btrim(etag, '"') || '"';

DELETE FROM rejected_blobs WHERE etag NOT LIKE 'W/%';

INSERT INTO rejected_blobs (container, blob_name, etag, size, last_modified, reason, detail, first_seen_at, last_seen_at, seen_count)
SELECT container, blob_name, etag, size, last_modified, reason, detail, first_seen_at, last_seen_at, seen_count
  FROM rejected_blobs_merged;

DROP TABLE rejected_blobs_merged;

-- Uploads: one row per blob already, so only the spelling changes.
UPDATE uploads
   SET etag = '"' || btrim(etag, '"') || '"'
 WHERE etag <> '' AND etag NOT LIKE 'W/%' AND etag NOT LIKE '"%"';
