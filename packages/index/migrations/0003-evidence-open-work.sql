-- Whether an evidence item still has work: an upload not yet hashed (nor
-- given up on), an upload whose root file is not recorded, a file short of
-- 'indexed' or 'failed', or an archive still being unpacked. The probes use
-- uploads_unhashed_idx, files_open_idx and files_unpack_open_idx.
--
-- Completion is recorded by whichever finisher sees no work left. A finisher
-- that probes in the statement that makes its own last move (markIndexed)
-- reads before that move commits, so two such finishers running side by side
-- could each see the other still open and neither record completion. Hence:
-- every probe first takes a lock per evidence item, held to the end of its
-- transaction, and then reads with a fresh snapshot (this function is
-- VOLATILE, so each query in it gets one). Of two racing finishers the later
-- prober waits for the earlier to commit and sees its move.
--
-- p_finishing_file_id is the caller's own file, moved to 'indexed' in the same
-- statement: not counted as open whether or not that move is visible here.
CREATE FUNCTION evidence_open_work(p_case_id text, p_evidence_id text, p_finishing_file_id text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  -- Two-key advisory locks are a key space of their own; 2 names this use of it.
  PERFORM pg_advisory_xact_lock(2, hashtext(p_case_id || '/' || p_evidence_id));
  RETURN EXISTS (SELECT 1 FROM uploads
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id
                    AND integrity = 'pending' AND hash_failure_code IS NULL)
      OR EXISTS (SELECT 1 FROM files
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id
                    AND stage NOT IN ('indexed', 'failed')
                    AND file_id IS DISTINCT FROM p_finishing_file_id)
      OR EXISTS (SELECT 1 FROM files
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id AND unpack = 'pending')
      OR EXISTS (SELECT 1 FROM uploads u
                  WHERE u.case_id = p_case_id AND u.evidence_id = p_evidence_id
                    AND NOT EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id));
END
$$;
