-- Per-stage file counts per evidence item, kept in the writer's own
-- transaction, so that the status reads a handful of rows whatever the item's
-- size (issue 12). Until now evidence_status (0125) grouped every file of the
-- item by state: at 100,000 files on the server ~150-190 ms of the call, the
-- rest of it reading only rare rows.
--
-- The mechanism: append-only delta rows, written by statement-level triggers
-- on files, summed at read, and folded when an item has gathered more than a
-- few of them. Why not one counts row per (item, state) updated in place:
-- every transaction that moves a file of the item would then hold that row's
-- lock until it commits, so the concurrent analyse and index batches of one
-- item would queue behind each other on it, and two transactions that touch
-- the same states (or two items) in different orders would deadlock. An
-- INSERT takes no lock another INSERT waits for: writers never wait here.
-- (The index runs its writers under READ COMMITTED, set explicitly by the
-- server client and the migrations whatever the server's default; see the
-- fold below for what another isolation level would change.)
--
-- A delta row is (item, key, n): n files entered (n > 0) or left (n < 0) the
-- state `key` in one statement; a statement moving 500 files from described
-- to thumbnailed writes two rows. The key is what the status's per-stage
-- counts need from a file itself: whether it has content, its stage, where it
-- failed, and its unpack state. The sum of an item's rows in any snapshot is
-- exactly the files of that snapshot grouped by key, because each row commits
-- or rolls back with the change it counts: retries, redeliveries, rollbacks,
-- deletes, dead letters and the watchdog all change files by statements,
-- and every statement on files fires these triggers, whatever code runs it.
--
-- Not in the key: whether the file's content failed its metadata read. That
-- belongs to the content (shared by every file with the same bytes, in any
-- item) and changes in another statement than the file's own; a count kept per
-- file and per content by two triggers could miss a file and a content that
-- change together in two concurrent transactions (each trigger sees the other
-- uncommitted). The status instead reads those files at read time, as it
-- reads the failures list: from the failed contents
-- (contents_metadata_failed_idx, 0125) when they are fewer than a sixteenth
-- of the item's files, else from the item's files (see evidence_status below).
--
-- Folding: when an item has more than 64 rows (looked at on every statement
-- that writes rows, see below), the trigger replaces the item's
-- rows it can see by their sums (one per key),
-- under a try-lock per item (advisory key space 3; 2 is the completion lock
-- of 0003): a writer that does not get it just appends, so no writer ever
-- waits for a fold either. Rows of transactions not yet committed are not
-- seen by the fold and stay; the fold commits or rolls back with its writer.
-- The rows an item can have are therefore about 64, plus those of the
-- transactions in flight while a fold's writer runs. A fold runs only under READ COMMITTED: under
-- REPEATABLE READ or SERIALIZABLE, deleting rows that a writer committed
-- after this transaction's snapshot (another fold) would fail the writer's
-- own change with a serialisation error. A writer at such a level only
-- appends (exact still; the rows then grow until a READ COMMITTED writer
-- folds them).
CREATE TABLE evidence_file_counts (
  case_id       text    NOT NULL,
  evidence_id   text    NOT NULL,
  has_content   boolean NOT NULL,
  stage         text    NOT NULL,
  failure_stage text,
  unpack        text    NOT NULL,
  n             bigint  NOT NULL CHECK (n <> 0)
);
CREATE INDEX evidence_file_counts_item_idx ON evidence_file_counts (case_id, evidence_id);

CREATE FUNCTION evidence_file_counts_fold(p_case_id text, p_evidence_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RETURN;
  END IF;
  IF (SELECT count(*) FROM (SELECT 1 FROM evidence_file_counts
                             WHERE case_id = p_case_id AND evidence_id = p_evidence_id LIMIT 65) x) > 64
     AND pg_try_advisory_xact_lock(3, hashtext(p_case_id || '/' || p_evidence_id)) THEN
    WITH gone AS (
      DELETE FROM evidence_file_counts WHERE case_id = p_case_id AND evidence_id = p_evidence_id
      RETURNING has_content, stage, failure_stage, unpack, n)
    INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
    SELECT p_case_id, p_evidence_id, has_content, stage, failure_stage, unpack, sum(n)
      FROM gone GROUP BY has_content, stage, failure_stage, unpack HAVING sum(n) <> 0;
  END IF;
END $$;

CREATE FUNCTION evidence_file_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  -- The items this statement wrote rows for, as (case, item) pairs.
  items text[];
  item text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH added AS (
      INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
      SELECT case_id, evidence_id, entry_kind = 'file', stage, failure_stage, unpack, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6
      RETURNING case_id, evidence_id)
    SELECT array_agg(DISTINCT ARRAY[case_id, evidence_id]) INTO items FROM added;
  ELSIF TG_OP = 'DELETE' THEN
    WITH added AS (
      INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
      SELECT case_id, evidence_id, entry_kind = 'file', stage, failure_stage, unpack, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6
      RETURNING case_id, evidence_id)
    SELECT array_agg(DISTINCT ARRAY[case_id, evidence_id]) INTO items FROM added;
  ELSE
    -- The old rows out, the new rows in; a key whose files only changed in
    -- other columns (flags, metadata links, updated_at) sums to nothing and
    -- writes nothing. No join on file_id: a row is counted by its values alone.
    WITH added AS (
      INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
      SELECT case_id, evidence_id, has_content, stage, failure_stage, unpack, sum(n)
        FROM (SELECT case_id, evidence_id, entry_kind = 'file' AS has_content, stage, failure_stage, unpack, -1 AS n FROM old_rows
              UNION ALL
              SELECT case_id, evidence_id, entry_kind = 'file', stage, failure_stage, unpack, 1 FROM new_rows) d
       GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0
      RETURNING case_id, evidence_id)
    SELECT array_agg(DISTINCT ARRAY[case_id, evidence_id]) INTO items FROM added;
  END IF;
  -- Whether to fold is asked on every statement that wrote rows: a look is an
  -- index range scan of at most 65 rows (~0.1-0.3 ms on PGlite). Asking on
  -- every eighth statement of a shared sequence saved that but let an item
  -- never fold when statements of two items took strict turns (one always
  -- got the odd numbers); at random it would bound the rows only in
  -- expectation.
  IF items IS NOT NULL THEN
    FOREACH item SLICE 1 IN ARRAY items LOOP
      PERFORM evidence_file_counts_fold(item[1], item[2]);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER evidence_file_counts_insert AFTER INSERT ON files
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION evidence_file_counts_changed();
CREATE TRIGGER evidence_file_counts_update AFTER UPDATE ON files
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION evidence_file_counts_changed();
CREATE TRIGGER evidence_file_counts_delete AFTER DELETE ON files
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION evidence_file_counts_changed();

-- TRUNCATE names no rows: no files, no counts.
CREATE FUNCTION evidence_file_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM evidence_file_counts;
  RETURN NULL;
END $$;
CREATE TRIGGER evidence_file_counts_truncate AFTER TRUNCATE ON files
  FOR EACH STATEMENT EXECUTE FUNCTION evidence_file_counts_truncated();

-- The files already there, one row per item and key. No move can fall
-- between this read and the triggers, even with stages running: each
-- migration is one READ COMMITTED transaction (migrate.ts through the
-- index client, which sets the level), so this statement takes its own
-- snapshot; and CREATE TRIGGER above took a
-- lock on files that every writer's ROW EXCLUSIVE lock waits for until this
-- transaction commits; it was granted only after the writers before it had
-- committed, and this statement's snapshot, taken after that, sees them.
INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
SELECT case_id, evidence_id, entry_kind = 'file', stage, failure_stage, unpack, count(*)
  FROM files GROUP BY 1, 2, 3, 4, 5, 6;

-- Completeness per item (0125's view) from the counts: the number of files
-- and "no file still waiting for a stage or an unpack" are sums of a few
-- rows instead of a count and two probes over the item's files. The same
-- columns, so the evidence list (listEvidence) reads it unchanged.
CREATE OR REPLACE VIEW evidence_summary AS
  SELECT u.case_id, u.evidence_id,
         count(*)::int AS uploads,
         COALESCE((SELECT sum(k.n) FROM evidence_file_counts k
                    WHERE k.case_id = u.case_id AND k.evidence_id = u.evidence_id), 0)::int AS files,
         bool_and(u.integrity <> 'pending' OR u.hash_failure_code IS NOT NULL) AS hashed,
         bool_and(EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id)) AS roots_recorded,
         NOT EXISTS (SELECT 1 FROM evidence_file_counts k
                      WHERE k.case_id = u.case_id AND k.evidence_id = u.evidence_id
                        AND (k.stage NOT IN ('indexed', 'failed') OR k.unpack = 'pending')
                      GROUP BY k.stage, k.unpack HAVING sum(k.n) > 0) AS settled
    FROM uploads u
   GROUP BY u.case_id, u.evidence_id;

-- The status (0125) with its files by state read from the counts, and the
-- parts that join the item's files to rare contents (failed metadata, failed
-- analysis, findings) reading from whichever side is smaller: at 100,000
-- files of one item on the server those joins read every file of the item
-- (the planner's choice when the item is most of the table), 35-210 ms each
-- at load 10, against 35 ms looked up from ~1,900 rare contents. So the call
-- reads rows in proportion to the item's rare rows and the index's rare
-- contents, whichever is fewer, not to the item's files (docs/benchmarks.md,
-- "The evidence status in constant time").
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
