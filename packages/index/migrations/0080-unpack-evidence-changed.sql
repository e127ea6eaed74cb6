-- An uploaded archive is hashed and unpacked in one read of its blob (issue 12).
-- When that read finds the blob changed or gone (its ETag no longer matches),
-- the unpack stops there with its own reason, beside the upload's
-- evidence-changed failure: the members recorded before it stay.
ALTER TABLE files DROP CONSTRAINT IF EXISTS files_unpack_failure_reason_check;
ALTER TABLE files ADD CONSTRAINT files_unpack_failure_reason_check CHECK (unpack_failure_reason IN (
    'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
    'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered', 'stuck', 'evidence-changed'));
