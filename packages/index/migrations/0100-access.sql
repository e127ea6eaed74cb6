-- Who may see which case. The API reads case_assignments before it touches
-- any case data; case_assignment_history keeps every change, written in the
-- same transaction as the change itself, so the history cannot miss one.

CREATE TABLE case_assignments (
  case_id     text        NOT NULL CHECK (length(case_id) BETWEEN 1 AND 64),
  -- As it appears in tokens: a local user name or Entra preferred_username / oid.
  user_name   text        NOT NULL CHECK (length(user_name) BETWEEN 1 AND 256),
  -- Narrows the user to this role on this case; NULL = the roles in their token.
  role        text        CHECK (role IN ('examiner', 'investigator', 'supervisor', 'admin')),
  assigned_by text        NOT NULL,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_id, user_name)
);

-- "My cases": every request to /cases and /me looks a user up.
CREATE INDEX case_assignments_by_user ON case_assignments (user_name, case_id);

CREATE TABLE case_assignment_history (
  change_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id       text        NOT NULL,
  user_name     text        NOT NULL,
  action        text        NOT NULL CHECK (action IN ('assigned', 'role-changed', 'unassigned')),
  role          text        CHECK (role IN ('examiner', 'investigator', 'supervisor', 'admin')),
  previous_role text        CHECK (previous_role IN ('examiner', 'investigator', 'supervisor', 'admin')),
  changed_by    text        NOT NULL,
  changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX case_assignment_history_by_case ON case_assignment_history (case_id, change_id);
