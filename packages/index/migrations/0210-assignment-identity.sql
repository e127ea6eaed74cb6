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

-- Each change made here or at sign-in (bound, merged: no supervisor's
-- request carries it) waits in the history for its custody entry: a
-- migration cannot sign the custody log, so the application writes an
-- 'assignment-change' entry for each pending row (at start-up, and before a
-- request of the case is answered) and then clears the flag
-- (docs/review-api.md, "Who is who"). Supervisors' changes are recorded by
-- their request and never pending.
ALTER TABLE case_assignment_history ADD COLUMN custody_pending boolean NOT NULL DEFAULT false;
CREATE INDEX case_assignment_history_custody_pending ON case_assignment_history (case_id, change_id) WHERE custody_pending;

-- Assignments of one case whose names differ only in case are one person's.
-- Until now only the row whose spelling the token carried took effect, so
-- which one is kept must never give more than that one gave:
-- 1. the one whose exact name acted on the case (custody entries' actor):
--    the one that worked, so nothing changes for that person;
-- 2. else the narrowest: its role is within every other's. A role narrows
--    the token to it (NULL = all the token's roles, the widest); of two
--    roles one is within the other when every route allowing the first
--    allows the second (investigator within examiner and supervisor;
--    core's roleWithin, checked against the API's access rules);
-- 3. else (roles none of which is within the others, e.g. examiner and
--    supervisor) none: keeping either could widen; the supervisor assigns
--    again. Recorded as 'unassigned' by 'migration 0210'.
-- Each other row is recorded as 'merged' into the kept one (role = the role
-- kept, previous_role = its own), then deleted. History rows are never
-- deleted, so what each name had and when stays readable.
CREATE TEMPORARY TABLE assignment_groups ON COMMIT DROP AS
  SELECT a.case_id, a.user_name, a.role, a.assigned_at, exhibit_user_key(a.user_name) AS k,
         EXISTS (SELECT 1 FROM custody_entries c WHERE c.case_id = a.case_id AND c.actor = a.user_name) AS acted
    FROM case_assignments a
   WHERE (a.case_id, exhibit_user_key(a.user_name)) IN (
           SELECT case_id, exhibit_user_key(user_name) FROM case_assignments GROUP BY 1, 2 HAVING count(*) > 1);

CREATE TEMPORARY TABLE assignment_kept ON COMMIT DROP AS
  SELECT DISTINCT ON (g.case_id, g.k) g.case_id, g.k, g.user_name, g.role
    FROM (SELECT *, count(*) FILTER (WHERE acted) OVER (PARTITION BY case_id, k) AS acted_rows FROM assignment_groups) g
   WHERE (g.acted_rows = 1 AND g.acted)
      OR (g.acted_rows <> 1 AND NOT EXISTS (
            SELECT 1 FROM assignment_groups o
             WHERE o.case_id = g.case_id AND o.k = g.k
               -- NOT (g.role within o.role)
               AND NOT (o.role IS NULL OR (g.role IS NOT NULL AND (g.role = o.role OR (g.role = 'investigator' AND o.role IN ('examiner', 'supervisor')))))))
   ORDER BY g.case_id, g.k, g.assigned_at DESC, g.user_name COLLATE "C";

INSERT INTO case_assignment_history (case_id, user_name, action, role, previous_role, changed_by, custody_pending)
  SELECT g.case_id, g.user_name,
         CASE WHEN kept.user_name IS NULL THEN 'unassigned' ELSE 'merged' END,
         kept.role, g.role, 'migration 0210', true
    FROM assignment_groups g
    LEFT JOIN assignment_kept kept ON kept.case_id = g.case_id AND kept.k = g.k
   WHERE kept.user_name IS DISTINCT FROM g.user_name
   ORDER BY g.case_id, g.user_name COLLATE "C";

-- A group none of whose rows is kept loses its download links too (a link is re-checked against the assignment, but none should outlive it).
DELETE FROM download_tickets t
  USING assignment_groups g
  WHERE t.case_id = g.case_id AND exhibit_user_key(t.user_name) = g.k
    AND NOT EXISTS (SELECT 1 FROM assignment_kept kept WHERE kept.case_id = g.case_id AND kept.k = g.k);

DELETE FROM case_assignments a
  USING assignment_groups g
  WHERE a.case_id = g.case_id AND a.user_name = g.user_name
    AND NOT EXISTS (SELECT 1 FROM assignment_kept kept WHERE kept.case_id = g.case_id AND kept.user_name = g.user_name);

ALTER TABLE case_assignments
  ADD COLUMN user_key text GENERATED ALWAYS AS (exhibit_user_key(user_name)) STORED;
ALTER TABLE case_assignments
  ADD COLUMN object_id text CHECK (object_id IS NULL OR length(object_id) BETWEEN 1 AND 64);

-- An assignment made by object id (a GUID typed as the name) is that object
-- id's: bound now, so it matches only a token carrying that oid, never a
-- token whose user name is the GUID.
UPDATE case_assignments SET object_id = lower(user_name COLLATE "C")
  WHERE user_name ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
INSERT INTO case_assignment_history (case_id, user_name, action, role, previous_role, changed_by, object_id, custody_pending)
  SELECT case_id, user_name, 'bound', role, role, 'migration 0210', object_id, true
    FROM case_assignments WHERE object_id IS NOT NULL
   ORDER BY case_id, user_name COLLATE "C";

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

-- An upload registration is its registrant's by object id too: a renamed
-- uploader re-registering their own pending upload is the same person.
ALTER TABLE upload_registrations ADD COLUMN uploaded_by_object_id text
  CHECK (uploaded_by_object_id IS NULL OR length(uploaded_by_object_id) BETWEEN 1 AND 64);
DROP INDEX download_tickets_by_assignment;
CREATE INDEX download_tickets_by_assignment ON download_tickets (case_id, exhibit_user_key(user_name));
