-- Archives whose unpack stopped before migration 0011 have their reason only
-- in the custody log: the 'unpacked' entry's details.stoppedBy {code, detail},
-- or a 'stage-failed' entry of the unpack dead-letter. Copy it onto the
-- archive so the status lists it like any other stop. The reason is the one
-- the recorded code implies (older code did not tell a truncated archive from
-- a corrupt one: both were 'corrupt-file', read here as 'corrupt').
--
-- On a new database custody_entries does not exist yet (migration 0200 comes
-- later) and there is nothing to copy.
DO $$
BEGIN
  IF to_regclass('custody_entries') IS NULL THEN
    RETURN;
  END IF;
  EXECUTE $sql$
    UPDATE files f
       SET unpack_failure_code = c.details -> 'stoppedBy' ->> 'code',
           unpack_failure_reason = CASE c.details -> 'stoppedBy' ->> 'code'
                                     WHEN 'encrypted' THEN 'encrypted'
                                     WHEN 'unsupported-format' THEN 'unsupported'
                                     WHEN 'limit-exceeded' THEN 'limit-exceeded'
                                     ELSE 'corrupt' END,
           unpack_failure_detail = left(COALESCE(c.details -> 'stoppedBy' ->> 'detail', ''), 2000),
           unpack_members_recorded = COALESCE(f.member_count, 0)
      FROM custody_entries c
     WHERE f.unpack = 'failed' AND f.unpack_failure_code IS NULL
       AND c.case_id = f.case_id AND c.evidence_id = f.evidence_id
       AND c.event_key = 'unpacked:' || f.file_id
       AND c.details -> 'stoppedBy' ->> 'code' IS NOT NULL
  $sql$;
  EXECUTE $sql$
    UPDATE files f
       SET unpack_failure_code = 'dead-lettered',
           unpack_failure_reason = 'dead-lettered',
           unpack_failure_detail = left(COALESCE(c.details ->> 'reason', '') || ': ' || COALESCE(c.details ->> 'description', ''), 2000),
           unpack_members_recorded = COALESCE(f.member_count, 0)
      FROM custody_entries c
     WHERE f.unpack = 'failed' AND f.unpack_failure_code IS NULL
       AND c.case_id = f.case_id AND c.evidence_id = f.evidence_id
       AND c.event_key = 'dead-letter:unpack:' || f.file_id
  $sql$;
END
$$;
