-- What the checkpoint writer last put in the checkpoint store for each
-- evidence item's custody log, so a run finds the heads that moved without
-- reading the store. The store (an immutable append blob per case in Azure,
-- an append-only file locally) is the record; this is only a bookmark.

CREATE TABLE custody_checkpoints (
  case_id     text        NOT NULL,
  evidence_id text        NOT NULL,
  last_seq    bigint      NOT NULL CHECK (last_seq >= 0),
  head_hash   text        NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
  time        timestamptz NOT NULL,
  PRIMARY KEY (case_id, evidence_id)
);
