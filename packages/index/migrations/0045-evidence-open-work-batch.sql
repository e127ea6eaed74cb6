-- evidence_open_work (0003) for a batch of files indexed in one statement
-- (IndexStore.markIndexedBatch): the same lock, the same fresh snapshot and
-- the same probes, with every file of the batch counted as done, since the
-- statement's own moves are not visible to the probe inside it. The one-file
-- form now calls this one, so the probes are defined once.
CREATE FUNCTION evidence_open_work_except(p_case_id text, p_evidence_id text, p_finishing_file_ids text[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(2, hashtext(p_case_id || '/' || p_evidence_id));
  RETURN EXISTS (SELECT 1 FROM uploads
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id
                    AND integrity = 'pending' AND hash_failure_code IS NULL)
      OR EXISTS (SELECT 1 FROM files
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id
                    AND stage NOT IN ('indexed', 'failed')
                    AND NOT (file_id = ANY (p_finishing_file_ids)))
      OR EXISTS (SELECT 1 FROM files
                  WHERE case_id = p_case_id AND evidence_id = p_evidence_id AND unpack = 'pending')
      OR EXISTS (SELECT 1 FROM uploads u
                  WHERE u.case_id = p_case_id AND u.evidence_id = p_evidence_id
                    AND NOT EXISTS (SELECT 1 FROM files r WHERE r.file_id = u.root_file_id));
END
$$;

CREATE OR REPLACE FUNCTION evidence_open_work(p_case_id text, p_evidence_id text, p_finishing_file_id text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  RETURN evidence_open_work_except(
    p_case_id, p_evidence_id,
    CASE WHEN p_finishing_file_id IS NULL THEN '{}'::text[] ELSE ARRAY[p_finishing_file_id] END);
END
$$;
