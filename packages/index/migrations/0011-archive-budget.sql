-- Why an archive's unpack stopped, on the archive itself: before this, a
-- stopped unpack left only unpack = 'failed' and its reason in the custody
-- log, so the status said "failures: []". The archive's own file carries on
-- (it is still identified and indexed); these columns are its unpack's verdict.
--   unpack_failure_reason: ArchiveStopReason (packages/core/src/domain.ts)
--   unpack_members_recorded: members kept before the stop
--   unpack_members_declared: entries the archive declares (ZIP), NULL if unknown (TAR)
ALTER TABLE files
  ADD COLUMN unpack_failure_code     text,
  ADD COLUMN unpack_failure_reason   text CHECK (unpack_failure_reason IN (
      'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
      'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered')),
  ADD COLUMN unpack_failure_detail   text,
  ADD COLUMN unpack_members_recorded integer CHECK (unpack_members_recorded >= 0),
  ADD COLUMN unpack_members_declared bigint CHECK (unpack_members_declared >= 0),
  ADD CONSTRAINT files_unpack_failure_chk CHECK (
      (unpack_failure_code IS NULL) = (unpack_failure_reason IS NULL)
  AND (unpack_failure_code IS NULL) = (unpack_failure_detail IS NULL)
  AND (unpack_failure_code IS NULL OR unpack = 'failed'));

-- The status lists stopped archives; few per evidence item.
CREATE INDEX files_unpack_failed_idx ON files (case_id, evidence_id) WHERE unpack = 'failed';

-- The expansion budget of an evidence item, shared by every archive in it at
-- every nesting depth (nested archives are unpacked by separate messages, so
-- the count must live here). Unpacks claim allowance in slices before they
-- expand, write or record that much (a conditional UPDATE: never past the
-- maximum, whatever runs at the same time) and give back what they did not use.
-- A crash loses its unused slice: the budget then errs on the side of less.
CREATE TABLE evidence_budgets (
  case_id        text   NOT NULL,
  evidence_id    text   NOT NULL,
  expanded_bytes bigint NOT NULL DEFAULT 0 CHECK (expanded_bytes >= 0),
  written_bytes  bigint NOT NULL DEFAULT 0 CHECK (written_bytes >= 0),
  entries        bigint NOT NULL DEFAULT 0 CHECK (entries >= 0),
  unpack_ms      bigint NOT NULL DEFAULT 0 CHECK (unpack_ms >= 0),
  PRIMARY KEY (case_id, evidence_id)
);
