-- Who an assignment is for (docs/review-api.md, "Who is who").
--
-- Until now an assignment matched the token's user name exactly: an Entra
-- preferred_username (a UPN), which Microsoft documents as mutable and not for
-- authorisation, and compared case-sensitively although UPNs are not (an
-- unassignment typed 'alice@…' for 'Alice@…' removed nothing and said 204).
--
-- Now:
-- - user_key: the name as compared. E-mail-like names (UPNs) and GUIDs
--   (object ids typed as names) fold ASCII letters to lower case (UPNs are
--   ASCII); other names (local users) compare exactly, as before. One
--   assignment per (case, user_key).
-- - object_id: the Entra object id (oid) the assignment is bound to. An
--   assignment made by name is bound by the first Entra sign-in that matches
--   it by name; from then on it matches that oid only, whatever UPN the token
--   carries (a renamed user keeps access, a new holder of an old UPN gets
--   none). A supervisor may assign by oid (typed as the name): it binds only
--   that oid.

CREATE FUNCTION exhibit_user_key(name text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$
    SELECT CASE
      WHEN strpos(name, '@') > 0 OR name ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
        THEN lower(name COLLATE "C")
      ELSE name
    END
  $$;

-- History learns two actions: 'bound' (first sign-in tied the assignment to
-- object_id) and 'merged' (below).
ALTER TABLE case_assignment_history DROP CONSTRAINT case_assignment_history_action_check;
ALTER TABLE case_assignment_history
  ADD CONSTRAINT case_assignment_history_action_check
  CHECK (action IN ('assigned', 'role-changed', 'unassigned', 'bound', 'merged'));
ALTER TABLE case_assignment_history ADD COLUMN object_id text;

-- Assignments of one case whose names differ only in case are one person's:
-- keep the most recently made (the latest decision about them), record each
-- other as 'merged' into it (role = the role kept, previous_role = its own),
-- then delete it. History rows are never deleted, so what each name had and
-- when stays readable.
CREATE TEMPORARY TABLE assignment_merges ON COMMIT DROP AS
  SELECT case_id, user_name, role, kept_role, rank
    FROM (
      SELECT case_id, user_name, role,
             first_value(role) OVER w AS kept_role,
             row_number() OVER w AS rank
        FROM case_assignments
      WINDOW w AS (PARTITION BY case_id, exhibit_user_key(user_name)
                   ORDER BY assigned_at DESC, user_name COLLATE "C")
    ) ranked
   WHERE rank > 1;

INSERT INTO case_assignment_history (case_id, user_name, action, role, previous_role, changed_by)
  SELECT case_id, user_name, 'merged', kept_role, role, 'migration 0210'
    FROM assignment_merges
   ORDER BY case_id, user_name COLLATE "C";

DELETE FROM case_assignments a
  USING assignment_merges m
  WHERE a.case_id = m.case_id AND a.user_name = m.user_name;

ALTER TABLE case_assignments
  ADD COLUMN user_key text GENERATED ALWAYS AS (exhibit_user_key(user_name)) STORED;
ALTER TABLE case_assignments
  ADD COLUMN object_id text CHECK (object_id IS NULL OR length(object_id) BETWEEN 1 AND 64);

ALTER TABLE case_assignments DROP CONSTRAINT case_assignments_pkey;
ALTER TABLE case_assignments ADD PRIMARY KEY (case_id, user_key);
-- One bound assignment per person per case.
CREATE UNIQUE INDEX case_assignments_by_case_object ON case_assignments (case_id, object_id) WHERE object_id IS NOT NULL;

-- "My cases", by name and by object id.
DROP INDEX case_assignments_by_user;
CREATE INDEX case_assignments_by_user ON case_assignments (user_key, case_id);
CREATE INDEX case_assignments_by_object ON case_assignments (object_id, case_id) WHERE object_id IS NOT NULL;

-- A ticket carries its holder's object id, so each fetch checks the
-- assignment as the holder's token would; unassignment deletes the tickets
-- of the name (any case) and of the object id.
ALTER TABLE download_tickets ADD COLUMN object_id text;
DROP INDEX download_tickets_by_assignment;
CREATE INDEX download_tickets_by_assignment ON download_tickets (case_id, exhibit_user_key(user_name));
