-- Download tickets: what GET …/files/{fileId}/download hands out instead of a
-- storage SAS. The URL points at the API (GET …/content?ticket=…), which looks
-- the ticket up here and checks the holder's assignment again on every fetch,
-- so unassigning a user revokes their links at once (the unassignment also
-- deletes their tickets for the case, in its own transaction, so assigning
-- them again does not bring old links back).
--
-- Only the SHA-256 of a ticket is stored: whoever reads this table cannot use
-- a link from it. Rows are tiny and short-lived; expired ones are deleted when
-- new tickets are issued.
CREATE TABLE download_tickets (
  ticket_sha256 text        PRIMARY KEY CHECK (ticket_sha256 ~ '^[0-9a-f]{64}$'),
  user_name     text        NOT NULL CHECK (length(user_name) BETWEEN 1 AND 256),
  case_id       text        NOT NULL CHECK (length(case_id) BETWEEN 1 AND 64),
  file_id       text        NOT NULL CHECK (length(file_id) BETWEEN 1 AND 64),
  -- The roles the holder downloaded with when it was issued (never more than their token's).
  roles         text[]      NOT NULL,
  issued_at     timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL CHECK (expires_at > issued_at)
);

-- Unassignment deletes a user's tickets for the case.
CREATE INDEX download_tickets_by_assignment ON download_tickets (case_id, user_name);
CREATE INDEX download_tickets_by_expiry ON download_tickets (expires_at);
