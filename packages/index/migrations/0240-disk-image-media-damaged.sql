-- The status (0130) with, for each disk image, whether its file carries the
-- image-media-damaged flag (the media fails a checksum its acquisition wrote,
-- or part of it is lost; disk-image.record.ts). The review app shows it with
-- the image's integrity. Read here, in the same statement and snapshot as the
-- image's row, not from the findings: those stop at 1,000 rows, so an item
-- with more findings could drop the flag and show damaged media as sound.
-- Only the diskImages part changes; the rest is 0130's function as it was.
CREATE OR REPLACE FUNCTION evidence_status(p_case_id text, p_evidence_id text)
RETURNS json
LANGUAGE plpgsql STABLE
-- The planner's estimates for the parts add up past jit_above_cost (100,000)
-- while the call runs in tens of milliseconds: on the server at 100,000
-- files, JIT compiled 215 functions in 680 ms (load 10) for a body that ran
-- in 280 ms. PGlite has no JIT; the setting is harmless there.
SET jit = off
AS $$
DECLARE
  -- How many rare contents (failed metadata, failed analysis, findings) are
  -- few enough to look up the item's files of each by its sha256
  -- (files_case_sha256_idx) rather than read every file of the item and
  -- join: a sixteenth of the item's files (an index probe costs about ten to
  -- thirty sequentially read rows). The rare contents are those of the whole
  -- index, not of the item, so which way is cheaper depends on both; each
  -- count stops at the limit, and the query reads whichever side is smaller.
  probe_limit bigint := (SELECT COALESCE(sum(n), 0) FROM evidence_file_counts
                          WHERE case_id = p_case_id AND evidence_id = p_evidence_id) / 16 + 1;
  probe_metadata boolean := (SELECT count(*) < probe_limit FROM (SELECT 1 FROM contents WHERE metadata_status = 'failed' LIMIT probe_limit) x);
  probe_failed boolean := (SELECT count(*) < probe_limit FROM (SELECT 1 FROM contents WHERE failure_code IS NOT NULL LIMIT probe_limit) x);
  probe_findings boolean := (SELECT count(*) < probe_limit FROM (SELECT 1 FROM contents WHERE findings <> '[]'::jsonb LIMIT probe_limit) x);
BEGIN
  -- A STABLE function reads with its caller's snapshot: these choices and
  -- the parts below see the same rows.
  RETURN json_build_object(
    'summary', (SELECT json_agg(p) FROM evidence_summary p
                 WHERE p.case_id = p_case_id AND p.evidence_id = p_evidence_id),

    'uploads', (SELECT json_agg(p) FROM (
                  SELECT u.blob_name, u.case_id, u.evidence_id, u.file_name, u.root_file_id, u.size, u.etag, u.version_id,
                         u.content_type, u.last_modified, u.received_at, u.acquisition, u.md5, u.sha1, u.sha256, u.integrity,
                         u.mismatches, u.hashed_at, u.changed_etag, u.changed_size, u.changed_first_seen_at, u.changed_last_seen_at,
                         u.hash_failure_code, r.failure_stage AS root_failure_stage, r.path AS root_path, r.flags AS root_flags
                    FROM uploads u LEFT JOIN files r ON r.file_id = u.root_file_id
                   WHERE u.case_id = p_case_id AND u.evidence_id = p_evidence_id
                   ORDER BY u.blob_name COLLATE "C") p),

    -- Files by state, for the per-stage counts (index-store.status.ts stageCounts):
    -- the item's count rows summed by key, of which the files whose content's
    -- metadata failed (read here, from the rare failed contents) are taken out
    -- and given as groups of their own; the same groups 0125 read by grouping
    -- every file.
    'groups', (SELECT json_agg(p) FROM (
                 WITH counted AS (
                        SELECT k.has_content, k.stage, k.failure_stage, k.unpack, sum(k.n)::int AS n
                          FROM evidence_file_counts k
                         WHERE k.case_id = p_case_id AND k.evidence_id = p_evidence_id
                         GROUP BY 1, 2, 3, 4 HAVING sum(k.n) <> 0),
                      metadata_failed AS (
                        SELECT f.has_content, f.stage, f.failure_stage, f.unpack, count(*)::int AS n FROM (
                          -- Few such contents: each one's files of the item, by index
                          -- (OFFSET 0 keeps the lookup a lookup, not a join the planner may
                          -- turn into a scan of the item).
                          SELECT f.* FROM contents c CROSS JOIN LATERAL (
                                   SELECT f.entry_kind = 'file' AS has_content, f.stage, f.failure_stage, f.unpack FROM files f
                                    WHERE f.case_id = p_case_id AND f.sha256 = c.sha256 AND f.evidence_id = p_evidence_id OFFSET 0) f
                           WHERE probe_metadata AND c.metadata_status = 'failed'
                          UNION ALL
                          -- Many: the item's files joined to them (0125's way).
                          SELECT f.entry_kind = 'file', f.stage, f.failure_stage, f.unpack
                            FROM files f JOIN contents c ON c.sha256 = f.sha256
                           WHERE NOT probe_metadata AND c.metadata_status = 'failed'
                             AND f.case_id = p_case_id AND f.evidence_id = p_evidence_id) f
                         GROUP BY 1, 2, 3, 4)
                 SELECT k.has_content, k.stage, k.failure_stage, k.unpack, false AS metadata_failed, k.n - COALESCE(m.n, 0) AS n
                   FROM counted k
                   LEFT JOIN metadata_failed m
                     ON (m.has_content, m.stage, m.failure_stage, m.unpack) IS NOT DISTINCT FROM (k.has_content, k.stage, k.failure_stage, k.unpack)
                  WHERE k.n - COALESCE(m.n, 0) <> 0
                 UNION ALL
                 SELECT m.has_content, m.stage, m.failure_stage, m.unpack, true, m.n FROM metadata_failed m) p),

    -- A file's own failure, or (while the file itself carries on) a failed
    -- analysis of its content; at most 1000 (the full list is a search away).
    'failures', (SELECT json_agg(p) FROM (
                   SELECT * FROM (
                     SELECT f.file_id, f.path, f.failure_stage AS stage, f.failure_code AS code, f.failure_detail AS detail,
                            NULL::text AS reason, NULL::integer AS recorded, NULL::bigint AS declared
                       FROM files f WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.stage = 'failed'
                     UNION ALL
                     -- An archive whose unpack stopped (the archive's own file carries on): why, and how far it got.
                     -- A stop from before migration 0011 that 0012 found no custody record for still shows,
                     -- without a reason (none is known), so it cannot hide behind 'complete'.
                     SELECT f.file_id, f.path, 'unpack', COALESCE(f.unpack_failure_code, 'corrupt-file'),
                            COALESCE(f.unpack_failure_detail, 'unpack stopped before its reason was kept in the index; see the custody log'),
                            f.unpack_failure_reason, COALESCE(f.unpack_members_recorded, f.member_count, 0), f.unpack_members_declared
                       FROM files f WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.unpack = 'failed'
                     UNION ALL
                     SELECT f.file_id, f.path, c.failure_stage, c.failure_code, c.failure_detail, NULL, NULL, NULL
                       FROM contents c CROSS JOIN LATERAL (
                              SELECT f.file_id, f.path FROM files f
                               WHERE f.case_id = p_case_id AND f.sha256 = c.sha256 AND f.evidence_id = p_evidence_id
                                 AND f.stage <> 'failed' OFFSET 0) f
                      WHERE probe_failed AND c.failure_code IS NOT NULL
                     UNION ALL
                     SELECT f.file_id, f.path, c.failure_stage, c.failure_code, c.failure_detail, NULL, NULL, NULL
                       FROM files f JOIN contents c ON c.sha256 = f.sha256
                      WHERE NOT probe_failed
                        AND f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.stage <> 'failed' AND c.failure_code IS NOT NULL
                   ) x ORDER BY x.path COLLATE "C", x.file_id, x.stage COLLATE "C", x.code COLLATE "C" LIMIT 1000) p),

    -- The occurrence's own flags, then the findings about its bytes (with
    -- their recorded detail); at most 1000.
    'flagged', (SELECT json_agg(p) FROM (
                  SELECT * FROM (
                    SELECT f.file_id, f.path, flag, f.extension, c.detected_ext, c.mime,
                           c.metadata -> 'findings' AS metadata_findings, NULL::text AS detail
                      FROM files f CROSS JOIN LATERAL unnest(f.flags) AS flag
                      -- Each flagged file's content by its key: a join here hashed every
                      -- content of the index (100,000 read for 2,700 flagged files).
                      LEFT JOIN LATERAL (SELECT c.detected_ext, c.mime, c.metadata FROM contents c
                                          WHERE c.sha256 = f.sha256 OFFSET 0) c ON true
                     -- An empty array unnests to nothing: the same rows, from files_flagged_idx.
                     WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.flags <> '{}'
                    UNION ALL
                    SELECT f.file_id, f.path, cf.value->>'flag', f.extension, c.detected_ext, c.mime, NULL::jsonb, cf.value->>'detail'
                      FROM contents c CROSS JOIN LATERAL (
                             SELECT f.file_id, f.path, f.extension FROM files f
                              WHERE f.case_id = p_case_id AND f.sha256 = c.sha256 AND f.evidence_id = p_evidence_id OFFSET 0) f
                      CROSS JOIN LATERAL jsonb_array_elements(c.findings) AS cf
                     WHERE probe_findings AND c.findings <> '[]'::jsonb
                    UNION ALL
                    SELECT f.file_id, f.path, cf.value->>'flag', f.extension, c.detected_ext, c.mime, NULL::jsonb, cf.value->>'detail'
                      FROM files f JOIN contents c ON c.sha256 = f.sha256
                      CROSS JOIN LATERAL jsonb_array_elements(c.findings) AS cf
                     WHERE NOT probe_findings AND f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND c.findings <> '[]'::jsonb
                  ) x ORDER BY x.path COLLATE "C", x.file_id, x.flag COLLATE "C", x.detail COLLATE "C", x.metadata_findings::text COLLATE "C" LIMIT 1000) p),

    -- Known-bad and notable matches (migration 0020) are findings; known-good
    -- ones are only counted. The columns of MATCH_OUT.
    'known', (SELECT json_agg(p) FROM (
                SELECT f.file_id, f.path, m.sha256, m.set_id, m.matched_on, m.category, s.name, s.version, s.kind,
                       s.category_names ->> m.category::text AS category_name,
                       m.pdq_distance, m.pdq_frame, m.pdq_listed::text AS pdq_listed_bits, m.pdq_label, s.max_distance,
                       (SELECT cp.time_ms FROM content_pdq cp WHERE cp.sha256 = m.sha256 AND cp.frame = m.pdq_frame) AS pdq_time_ms
                  FROM files f JOIN hash_set_matches m ON m.sha256 = f.sha256
                  JOIN hash_sets s ON s.set_id = m.set_id AND s.enabled AND s.state = 'active' AND s.kind <> 'known-good'
                 WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id
                 ORDER BY f.path COLLATE "C", f.file_id, s.name COLLATE "C" LIMIT 1000) p),

    'knownCounts', (SELECT json_agg(p) FROM (
                      SELECT count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'known-bad')::int AS known_bad,
                             count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'notable')::int AS notable,
                             count(DISTINCT f.file_id) FILTER (WHERE s.kind = 'known-good')::int AS known_good
                        FROM files f JOIN hash_set_matches m ON m.sha256 = f.sha256
                        JOIN hash_sets s ON s.set_id = m.set_id AND s.enabled AND s.state = 'active'
                       WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id) p),

    -- The item's disk images (migration 0030) with their paths and whether the media is damaged (0240).
    'diskImages', (SELECT json_agg(p) FROM (
                     SELECT d.file_id, d.case_id, d.evidence_id, d.format, d.media_bytes, d.segment_count, d.volumes,
                            d.volume_problems, d.ewf_header, d.stored_hashes, d.computed_hashes, d.integrity, d.mismatches,
                            d.integrity_detail, d.segments, f.path,
                            'image-media-damaged' = ANY(f.flags) AS media_damaged
                       FROM disk_images d JOIN files f ON f.file_id = d.file_id
                      WHERE d.case_id = p_case_id AND d.evidence_id = p_evidence_id
                      ORDER BY f.path COLLATE "C", d.file_id) p),

    -- Split images' declared segment sets (migration 0095).
    'manifests', (SELECT json_agg(p) FROM (
                    SELECT blob_name, first_blob_name, case_id, evidence_id, position, file_name, size, md5, sha1, sha256,
                           declared_by, declared_at
                      FROM image_segment_manifests
                     WHERE case_id = p_case_id AND evidence_id = p_evidence_id
                     ORDER BY first_blob_name COLLATE "C", position) p)
  );
END
$$;
