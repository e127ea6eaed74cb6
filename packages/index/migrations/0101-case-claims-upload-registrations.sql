-- Who opened a case, and who uploaded what, as the API's tokens say.
--
-- case_claims: a case is claimed once, by the first examiner who registers an
-- upload to a case nobody is assigned to and nothing was received for. The
-- primary key is what makes "first" well defined: two examiners racing for the
-- same new case both try the insert, one wins, the other gets nothing. A
-- claimed case is never claimable again, even if every assignment is later
-- removed (then only an admin can assign it).
CREATE TABLE case_claims (
  case_id    text        PRIMARY KEY CHECK (length(case_id) BETWEEN 1 AND 64),
  claimed_by text        NOT NULL CHECK (length(claimed_by) BETWEEN 1 AND 256),
  claimed_at timestamptz NOT NULL DEFAULT now()
);

-- upload_registrations: the authenticated user who announced an upload of an
-- evidence blob through the API before sending its bytes. The uploader is
-- taken from the token, never from blob metadata (which any writer can set).
CREATE TABLE upload_registrations (
  blob_name     text        PRIMARY KEY CHECK (length(blob_name) BETWEEN 1 AND 1024),
  case_id       text        NOT NULL,
  evidence_id   text        NOT NULL,
  file_name     text        NOT NULL,
  size          bigint      NOT NULL CHECK (size >= 0),
  uploaded_by   text        NOT NULL CHECK (length(uploaded_by) BETWEEN 1 AND 256),
  registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX upload_registrations_by_case ON upload_registrations (case_id, evidence_id);
