-- An evidence item's status in one call of one plpgsql function, whose plan
-- the session keeps.
--
-- The status route (`exhibit status`, the review app's live progress, the
-- benches' completion polling) read nine parts in a REPEATABLE READ
-- transaction: BEGIN, SET TRANSACTION, nine queries, COMMIT. On PGlite each
-- statement is a round trip through the database on the host's one
-- JavaScript thread, every result row becomes an object there, and planning
-- the parts cost more than running them (6.8 ms of CPU per call planned
-- every time against 1.6 ms with a kept plan, 100 files). A plpgsql function
-- keeps the plans of its statements for the session (a pool connection on
-- the server), and its one RETURN is one statement: one snapshot for all the
-- parts (a STABLE function reads with its caller's), so a status that says
-- complete counted the same files it found settled, as the transaction did.
--
-- Each part is the rows of one query as a json array, in that query's order
-- (an aggregate over a sorted subquery takes its rows in that order), with
-- the columns the row mappers read (index-store.rows.ts toUpload,
-- index-store.disk-images.ts toDiskImage, hash-set-store.ts toMatch and
-- MATCH_OUT, index-store.segment-manifests.ts): evidence-status-function.test.ts
-- holds each part to the port's own getters.

-- Completeness per evidence item, in one place for the status and the
-- evidence list: every upload hashed and its root file recorded, and no file
-- still waiting for a stage or an unpack. A view, so that a filter on the
-- case and item reaches the uploads' index through the GROUP BY.
CREATE VIEW evidence_summary AS
  SELECT u.case_id, u.evidence_id,
         count(*)::int AS uploads,
         (SELECT count(*) FROM files f WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id)::int AS files,
         bool_and(u.integrity <> 'pending' OR u.hash_failure_code IS NOT NULL) AS hashed,
         bool_and(EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id)) AS roots_recorded,
         NOT EXISTS (SELECT 1 FROM files f
                      WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id
                        AND f.stage NOT IN ('indexed', 'failed'))
         AND NOT EXISTS (SELECT 1 FROM files f
                          WHERE f.case_id = u.case_id AND f.evidence_id = u.evidence_id
                            AND f.unpack = 'pending') AS settled
    FROM uploads u
   GROUP BY u.case_id, u.evidence_id;

-- The status lists the rare rows of an item (failed files and contents,
-- flags, findings, failed metadata) among all of its files: without these
-- partial indexes each list read every file of the item, and at 100,000 files
-- on the server the whole status took 1.0-2.6 s (load 13); with them
-- ~210 ms, the same answer. Each holds only the rows its predicate names, so a
-- file or content that never fails or is never flagged costs it nothing
-- (files_unpack_failed_idx, migration 0011, already serves unpack stops).
CREATE INDEX files_failed_idx ON files (case_id, evidence_id) WHERE stage = 'failed';
CREATE INDEX files_flagged_idx ON files (case_id, evidence_id) WHERE flags <> '{}';
CREATE INDEX contents_failed_idx ON contents (sha256) WHERE failure_code IS NOT NULL;
CREATE INDEX contents_findings_idx ON contents (sha256) WHERE findings <> '[]'::jsonb;
CREATE INDEX contents_metadata_failed_idx ON contents (sha256) WHERE metadata_status = 'failed';

CREATE FUNCTION evidence_status(p_case_id text, p_evidence_id text)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
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

    -- Files by state, for the per-stage counts (index-store.status.ts stageCounts).
    'groups', (SELECT json_agg(p) FROM (
                 SELECT f.entry_kind = 'file' AS has_content, f.stage, f.failure_stage, f.unpack,
                        mf.sha256 IS NOT NULL AS metadata_failed, count(*)::int AS n
                   FROM files f
                   -- Only the contents whose metadata failed (contents_metadata_failed_idx), hashed
                   -- once, instead of every file's content looked up.
                   LEFT JOIN (SELECT sha256 FROM contents WHERE metadata_status = 'failed') mf ON mf.sha256 = f.sha256
                  WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id
                  GROUP BY 1, 2, 3, 4, 5) p),

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
                       FROM files f JOIN contents c ON c.sha256 = f.sha256
                      WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.stage <> 'failed' AND c.failure_code IS NOT NULL
                   ) x ORDER BY x.path COLLATE "C", x.file_id LIMIT 1000) p),

    -- The occurrence's own flags, then the findings about its bytes (with
    -- their recorded detail); at most 1000.
    'flagged', (SELECT json_agg(p) FROM (
                  SELECT * FROM (
                    SELECT f.file_id, f.path, flag, f.extension, c.detected_ext, c.mime,
                           c.metadata -> 'findings' AS metadata_findings, NULL::text AS detail
                      FROM files f CROSS JOIN LATERAL unnest(f.flags) AS flag
                      LEFT JOIN contents c ON c.sha256 = f.sha256
                     -- An empty array unnests to nothing: the same rows, from files_flagged_idx.
                     WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND f.flags <> '{}'
                    UNION ALL
                    SELECT f.file_id, f.path, cf.value->>'flag', f.extension, c.detected_ext, c.mime, NULL::jsonb, cf.value->>'detail'
                      FROM files f JOIN contents c ON c.sha256 = f.sha256
                      CROSS JOIN LATERAL jsonb_array_elements(c.findings) AS cf
                     WHERE f.case_id = p_case_id AND f.evidence_id = p_evidence_id AND c.findings <> '[]'::jsonb
                  ) x ORDER BY x.path COLLATE "C", x.file_id, x.flag COLLATE "C", x.detail COLLATE "C" LIMIT 1000) p),

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

    -- The item's disk images (migration 0030) with their paths.
    'diskImages', (SELECT json_agg(p) FROM (
                     SELECT d.file_id, d.case_id, d.evidence_id, d.format, d.media_bytes, d.segment_count, d.volumes,
                            d.volume_problems, d.ewf_header, d.stored_hashes, d.computed_hashes, d.integrity, d.mismatches,
                            d.integrity_detail, d.segments, f.path
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
