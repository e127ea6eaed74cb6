import {
  ExhibitError,
  isRole,
  narrowerRole,
  type AccessStore,
  type AssignmentChange,
  type CaseAssignment,
  type CaseOverview,
  type DownloadTicket,
  type PendingAssignmentChange,
  type ResolvedAssignments,
  type Role,
  type UploadRegistration,
  type UserIdentity,
  type UserRef,
  userIdentity,
} from '@exhibit/core';
import type { SqlClient } from './sql-client.js';

interface AssignmentRow extends Record<string, unknown> {
  case_id: string;
  custody_pending?: boolean;
  user_name: string;
  role: Role | null;
  assigned_by: string;
  assigned_at: Date | string;
  user_key: string;
  object_id: string | null;
}

interface HistoryRow extends Record<string, unknown> {
  case_id: string;
  user_name: string;
  action: AssignmentChange['action'];
  role: Role | null;
  previous_role: Role | null;
  changed_by: string;
  changed_at: Date | string;
  object_id: string | null;
}

interface RegistrationRow extends Record<string, unknown> {
  blob_name: string;
  case_id: string;
  evidence_id: string;
  file_name: string;
  size: string | number;
  uploaded_by: string;
  uploaded_by_object_id: string | null;
  registered_at: Date | string;
}

const COLUMNS = 'case_id, user_name, role, assigned_by, assigned_at, user_key, object_id';

/**
 * The assignments that are the caller's (migration 0210; $N = name, $N+1 = object id or null):
 * bound to their object id, or unbound and named by their name (user_key folds UPNs' case). A
 * bound assignment never matches by name: its UPN may now be someone else's. An assignment made
 * by object id is bound from the start, so only a token carrying that oid matches it, never one
 * whose user name is that GUID.
 */
function mine(name: string, objectId: string): string {
  return `(object_id = ${objectId} OR (object_id IS NULL AND user_key = exhibit_user_key(${name})))`;
}

/** An Entra object id as supervisors type it: a GUID, hyphenated, no braces (folded to lower case). */
const OBJECT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A GUID in another spelling ({…}, no hyphens): refused as a name, else it would be a name no token carries and bind nobody, or the wrong one. */
const OTHER_GUID_RE = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;
/** A per-row column: whether the row's case has any history row pending custody (history's partial index). */
const CASE_CUSTODY_PENDING_COL = `EXISTS (SELECT 1 FROM case_assignment_history h WHERE h.custody_pending AND h.case_id = case_assignments.case_id) AS custody_pending`;

/** The assignment a supervisor names ($N): by name (case-folded for UPNs), or by the object id it is bound to. */
function named(name: string): string {
  return `(user_key = exhibit_user_key(${name}) OR object_id = lower(${name}))`;
}

/** Entra object ids are GUIDs, lower case in tokens; folded so a typed one compares equal. */
const objectIdOf = (who: UserIdentity): string | null => who.objectId?.toLowerCase() ?? null;
const REGISTRATION_COLUMNS = 'blob_name, case_id, evidence_id, file_name, size, uploaded_by, uploaded_by_object_id, registered_at';

/**
 * A case is new when nothing at all is known of it. `uploads` is the
 * pipeline's table (same database): a case whose evidence arrived by another
 * route (Storage Explorer, AzCopy) is not new, so nobody can claim evidence
 * someone else put there; an admin assigns it. Nor is a case that ever had an
 * assignment (its history stays): one emptied by unassignments or by 0210
 * keeping none of a person's rows would otherwise go to the first examiner who
 * uploads to it.
 */
const NEW_CASE_CONDITION = `
      NOT EXISTS (SELECT 1 FROM case_assignments WHERE case_id = $1)
  AND NOT EXISTS (SELECT 1 FROM case_claims WHERE case_id = $1)
  AND NOT EXISTS (SELECT 1 FROM upload_registrations WHERE case_id = $1)
  AND NOT EXISTS (SELECT 1 FROM uploads WHERE case_id = $1)
  AND NOT EXISTS (SELECT 1 FROM case_assignment_history WHERE case_id = $1)`;

function toRegistration(row: RegistrationRow): UploadRegistration {
  return {
    blobName: row.blob_name,
    caseId: row.case_id,
    evidenceId: row.evidence_id,
    fileName: row.file_name,
    size: Number(row.size),
    uploadedBy: row.uploaded_by,
    ...(row.uploaded_by_object_id !== null ? { uploadedByObjectId: row.uploaded_by_object_id } : {}),
    registeredAt: iso(row.registered_at),
  };
}

const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();

function toChange(r: HistoryRow): AssignmentChange {
  const change: AssignmentChange = {
    caseId: r.case_id,
    user: r.user_name,
    action: r.action,
    role: r.role,
    previousRole: r.previous_role,
    changedBy: r.changed_by,
    changedAt: iso(r.changed_at),
  };
  if (r.object_id !== null) change.objectId = r.object_id;
  return change;
}

function toAssignment(row: AssignmentRow): CaseAssignment {
  const a: CaseAssignment = { caseId: row.case_id, user: row.user_name, role: row.role, assignedBy: row.assigned_by, assignedAt: iso(row.assigned_at) };
  if (row.object_id !== null) a.objectId = row.object_id;
  return a;
}

/**
 * Case assignments in PostgreSQL. Each change and its history row are one
 * transaction; the row lock on the assignment serialises concurrent changes
 * to the same (case, user) so the history reads in the order things happened.
 */
export class PostgresAccessStore implements AccessStore {
  constructor(private readonly sql: SqlClient) {}

  async assign(caseId: string, user: string, change: { role?: Role | null; by: string }) {
    const role = change.role ?? null;
    const byObjectId = OBJECT_ID_RE.test(user);
    if (!byObjectId && OTHER_GUID_RE.test(user)) {
      throw new ExhibitError('invalid-argument', 'an Entra object id is written as a hyphenated GUID without braces (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)');
    }
    // Assigned by object id: bound to it from the start (see mine).
    const objectId = byObjectId ? user.toLowerCase() : null;
    return this.sql.transaction(async (tx) => {
      let previous = await this.lockedAssignment(tx, caseId, user);
      if (!previous) {
        // A concurrent first assignment makes this insert wait and do nothing;
        // the row is then read (and locked) as the previous state.
        const inserted = await tx.query<AssignmentRow>(
          `INSERT INTO case_assignments (case_id, user_name, role, assigned_by, object_id)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING
           RETURNING ${COLUMNS}`,
          [caseId, user, role, change.by, objectId],
        );
        if (inserted.rows[0]) {
          await this.addHistory(tx, caseId, user, 'assigned', role, null, change.by, objectId ?? undefined);
          return { changed: true, assignment: toAssignment(inserted.rows[0]), previous: null };
        }
        previous = await this.lockedAssignment(tx, caseId, user);
        if (!previous) throw new ExhibitError('conflict', 'assignment changed concurrently; try again');
      }
      // Unchanged, whoever holds it: a repeated assignment stays idempotent after the first sign-in.
      if (previous.role === role) return { changed: false, assignment: previous, previous };
      // A name whose assignment is bound may now be someone else's (a reused UPN): changing its role
      // by name would change the old holder's while the supervisor means the new one.
      if (!byObjectId && previous.objectId !== undefined) {
        throw new ExhibitError(
          'conflict',
          `'${previous.user}' on this case is bound to Entra object id ${previous.objectId}; assign by object id (that one to change their role, or the new holder's)`,
        );
      }
      // The stored name stays: 'ALICE@…' typed for an assignment of 'alice@…' changes its role, not whom it names.
      const { rows } = await tx.query<AssignmentRow>(
        `UPDATE case_assignments SET role = $3, assigned_by = $4, assigned_at = now()
          WHERE case_id = $1 AND user_name = $2
          RETURNING ${COLUMNS}`,
        [caseId, previous.user, role, change.by],
      );
      await this.addHistory(tx, caseId, previous.user, 'role-changed', role, previous.role, change.by, previous.objectId);
      return { changed: true, assignment: toAssignment(rows[0]!), previous };
    });
  }

  async unassign(caseId: string, user: string, change: { by: string }) {
    return this.sql.transaction(async (tx) => {
      const previous = await this.lockedAssignment(tx, caseId, user);
      if (!previous) return { changed: false, previous: null };
      await tx.query('DELETE FROM case_assignments WHERE case_id = $1 AND user_name = $2', [caseId, previous.user]);
      // Their download links die with the assignment, and stay dead if they are assigned again:
      // the name's (any letter case) and, once bound, the object id's (a renamed holder's links too).
      await tx.query(
        `DELETE FROM download_tickets
          WHERE case_id = $1 AND (exhibit_user_key(user_name) = exhibit_user_key($2) OR object_id = $3)`,
        [caseId, previous.user, previous.objectId ?? null],
      );
      await this.addHistory(tx, caseId, previous.user, 'unassigned', null, previous.role, change.by, previous.objectId);
      return { changed: true, previous };
    });
  }

  async isAssigned(caseId: string, user: UserRef): Promise<boolean> {
    return (await this.getAssignment(caseId, user)) !== null;
  }

  async getAssignment(caseId: string, user: UserRef): Promise<CaseAssignment | null> {
    return (await this.resolveAssignment(caseId, user)).assignments;
  }

  async casesFor(user: UserRef): Promise<CaseAssignment[]> {
    return (await this.resolveCases(user)).assignments;
  }

  async resolveAssignment(caseId: string, user: UserRef): Promise<ResolvedAssignments<CaseAssignment | null>> {
    const who = userIdentity(user);
    const { rows } = await this.sql.query<AssignmentRow>(
      `SELECT ${COLUMNS}, ${CASE_CUSTODY_PENDING_COL} FROM case_assignments
        WHERE case_id = $1 AND ${mine('$2', '$3')}
        ORDER BY object_id IS NULL, user_name COLLATE "C"`,
      [caseId, who.name, objectIdOf(who)],
    );
    if (rows.length === 0) return { assignments: null, custodyPending: false };
    const settled = await this.settle(rows, who);
    return { assignments: settled.assignment, custodyPending: settled.changed || rows.some((r) => r.custody_pending === true) };
  }

  async resolveCases(user: UserRef): Promise<ResolvedAssignments<CaseAssignment[]>> {
    const who = userIdentity(user);
    const { rows } = await this.sql.query<AssignmentRow>(
      `SELECT ${COLUMNS}, ${CASE_CUSTODY_PENDING_COL} FROM case_assignments
        WHERE ${mine('$1', '$2')}
        ORDER BY case_id COLLATE "C", object_id IS NULL, user_name COLLATE "C"`,
      [who.name, objectIdOf(who)],
    );
    const out: CaseAssignment[] = [];
    let custodyPending = rows.some((r) => r.custody_pending === true);
    for (let i = 0; i < rows.length; ) {
      let j = i + 1;
      while (j < rows.length && rows[j]!.case_id === rows[i]!.case_id) j++;
      const settled = await this.settle(rows.slice(i, j), who);
      if (settled.assignment) out.push(settled.assignment);
      custodyPending ||= settled.changed;
      i = j;
    }
    return { assignments: out, custodyPending };
  }

  async pendingAssignmentCustody(options: { caseIds?: readonly string[]; limit: number }): Promise<PendingAssignmentChange[]> {
    const { rows } = await this.sql.query<HistoryRow & { change_id: string | number }>(
      `SELECT change_id, case_id, user_name, action, role, previous_role, changed_by, changed_at, object_id
         FROM case_assignment_history
        WHERE custody_pending AND ($1::text[] IS NULL OR case_id = ANY($1::text[]))
        ORDER BY change_id
        LIMIT $2`,
      [options.caseIds ? [...options.caseIds] : null, options.limit],
    );
    return rows.map((r) => ({ ...toChange(r), changeId: String(r.change_id) }));
  }

  async countPendingAssignmentCustody(caseId: string): Promise<number> {
    const { rows } = await this.sql.query<{ n: string | number }>(
      'SELECT count(*) AS n FROM case_assignment_history WHERE custody_pending AND case_id = $1',
      [caseId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async casesWithPendingAssignmentCustody(options: { afterCaseId?: string; limit: number }): Promise<string[]> {
    const { rows } = await this.sql.query<{ case_id: string }>(
      `SELECT DISTINCT case_id COLLATE "C" AS case_id FROM case_assignment_history
        WHERE custody_pending AND ($1::text IS NULL OR case_id COLLATE "C" > $1::text COLLATE "C")
        ORDER BY 1
        LIMIT $2`,
      [options.afterCaseId ?? null, options.limit],
    );
    return rows.map((r) => r.case_id);
  }

  async casesEmptiedByMigration(): Promise<string[]> {
    const { rows } = await this.sql.query<{ case_id: string }>(
      `SELECT DISTINCT h.case_id COLLATE "C" AS case_id FROM case_assignment_history h
        WHERE h.changed_by = 'migration 0210' AND h.action = 'unassigned'
          AND NOT EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = h.case_id)
          AND NOT EXISTS (SELECT 1 FROM case_assignment_history later
                           WHERE later.case_id = h.case_id AND later.change_id > h.change_id AND later.changed_by <> 'migration 0210')
        ORDER BY 1`,
    );
    return rows.map((r) => r.case_id);
  }

  async assignmentCustodyRecorded(changeIds: readonly string[]): Promise<void> {
    if (changeIds.length === 0) return;
    await this.sql.query('UPDATE case_assignment_history SET custody_pending = false WHERE change_id = ANY($1::bigint[])', [[...changeIds]]);
  }

  /**
   * The caller's assignment of one case from the rows that match them (bound first). For an Entra
   * caller, what still matches by name is theirs now: the first such row is bound to their object
   * id, and one left beside a bound row (assigned again under a new UPN after a rename, or both by
   * UPN and by object id) is merged into it when one role is within the other (narrowerRole), so
   * no unbound row of theirs waits for the next holder of that name. When neither is (narrowerRole
   * undefined) nothing is merged: the unbound row stays, matchable by that name, until a supervisor
   * acts. `changed`: this request or a concurrent one changed the rows; the caller re-checks
   * pending custody of the case.
   */
  private async settle(rows: AssignmentRow[], who: UserIdentity): Promise<{ assignment: CaseAssignment | null; changed: boolean }> {
    if (who.objectId === undefined) return { assignment: toAssignment(rows[0]!), changed: false };
    let changed = false;
    let held: CaseAssignment | null;
    if (rows[0]!.object_id !== null) held = toAssignment(rows[0]!);
    else {
      const bound = await this.bind(rows[0]!, who);
      held = bound.assignment;
      changed ||= bound.changed;
    }
    for (const dup of rows.slice(1)) {
      if (!held?.objectId || dup.object_id !== null) break;
      const merged = await this.merge(held, dup, who);
      held = merged.assignment;
      changed ||= merged.changed;
    }
    return { assignment: held, changed };
  }

  async listAssignments(caseId: string): Promise<CaseAssignment[]> {
    const { rows } = await this.sql.query<AssignmentRow>(
      `SELECT ${COLUMNS} FROM case_assignments WHERE case_id = $1 ORDER BY user_name COLLATE "C"`,
      [caseId],
    );
    return rows.map(toAssignment);
  }

  async assignmentHistory(caseId: string): Promise<AssignmentChange[]> {
    const { rows } = await this.sql.query<HistoryRow>(
      `SELECT case_id, user_name, action, role, previous_role, changed_by, changed_at, object_id
         FROM case_assignment_history WHERE case_id = $1 ORDER BY change_id`,
      [caseId],
    );
    return rows.map(toChange);
  }

  async isNewCase(caseId: string): Promise<boolean> {
    const { rows } = await this.sql.query<{ fresh: boolean }>(`SELECT (${NEW_CASE_CONDITION}) AS fresh`, [caseId]);
    return rows[0]?.fresh === true;
  }

  async claimNewCase(caseId: string, claimant: UserRef, role: Role): Promise<boolean> {
    const who = userIdentity(claimant);
    const user = who.name;
    return this.sql.transaction(async (tx) => {
      // The claim's primary key serialises racing claimants: the loser's insert
      // waits for the winner's commit, then conflicts and inserts nothing.
      const { rows } = await tx.query<{ case_id: string }>(
        `INSERT INTO case_claims (case_id, claimed_by)
         SELECT $1, $2 WHERE ${NEW_CASE_CONDITION}
         ON CONFLICT (case_id) DO NOTHING
         RETURNING case_id`,
        [caseId, user],
      );
      if (!rows[0]) return false;
      await tx.query(
        // Bound from the start: the claimant signed in, so their object id is known.
        `INSERT INTO case_assignments (case_id, user_name, role, assigned_by, object_id) VALUES ($1, $2, $3, $2, $4)`,
        [caseId, user, role, objectIdOf(who)],
      );
      await this.addHistory(tx, caseId, user, 'assigned', role, null, user, objectIdOf(who) ?? undefined);
      return true;
    });
  }

  async registerUpload(r: Omit<UploadRegistration, 'registeredAt'>): Promise<{ created: boolean; registration: UploadRegistration }> {
    const inserted = await this.sql.query<RegistrationRow>(
      `INSERT INTO upload_registrations (blob_name, case_id, evidence_id, file_name, size, uploaded_by, uploaded_by_object_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (blob_name) DO NOTHING
       RETURNING ${REGISTRATION_COLUMNS}`,
      [r.blobName, r.caseId, r.evidenceId, r.fileName, r.size, r.uploadedBy, r.uploadedByObjectId?.toLowerCase() ?? null],
    );
    if (inserted.rows[0]) return { created: true, registration: toRegistration(inserted.rows[0]) };
    const existing = await this.getUploadRegistration(r.blobName);
    if (!existing) throw new ExhibitError('conflict', 'upload registration changed concurrently; try again');
    return { created: false, registration: existing };
  }

  async getUploadRegistration(blobName: string): Promise<UploadRegistration | null> {
    const { rows } = await this.sql.query<RegistrationRow>(
      `SELECT ${REGISTRATION_COLUMNS} FROM upload_registrations WHERE blob_name = $1`,
      [blobName],
    );
    return rows[0] ? toRegistration(rows[0]) : null;
  }

  async bindUploadRegistration(blobName: string, objectId: string): Promise<UploadRegistration | null> {
    // The registrant's name is tied to an account by the case's assignment of that name, bound at
    // its first sign-in ("Who is who"); the registration follows that binding, never the name alone.
    // The binding is read from the history, not only from the assignment as it is now:
    // pre-0210-registrant-assigned-by-oid-409-on-own-upload: the registrant also (or instead) on the
    // case by object id had his name's assignment merged into that one at his sign-in, or bound and
    // then removed by a supervisor who assigned him by object id, and no assignment of the name was
    // left to bind through. The FIRST account the name was bound or merged to on the case is the one:
    // pre-0210-registration-bound-to-later-holder-of-reassigned-name: a name unassigned, given again
    // and bound by a new holder of the UPN must not hand him the old holder's registration. (An
    // assignment bound with no 'bound' or 'merged' history row is read as it is now; a GUID name
    // migration 0210 bound is not one: the migration wrote its 'bound' row, with the object id.)
    // The account must still hold an assignment of the case.
    const { rows } = await this.sql.query<RegistrationRow>(
      `UPDATE upload_registrations r SET uploaded_by_object_id = $2
        WHERE r.blob_name = $1 AND r.uploaded_by_object_id IS NULL
          AND EXISTS (SELECT 1 FROM case_assignments held WHERE held.case_id = r.case_id AND held.object_id = $2)
          AND $2 = COALESCE(
                (SELECT h.object_id FROM case_assignment_history h
                  WHERE h.case_id = r.case_id AND h.action IN ('bound', 'merged') AND h.object_id IS NOT NULL
                    AND exhibit_user_key(h.user_name) = exhibit_user_key(r.uploaded_by)
                  ORDER BY h.change_id LIMIT 1),
                (SELECT a.object_id FROM case_assignments a
                  WHERE a.case_id = r.case_id AND a.user_key = exhibit_user_key(r.uploaded_by)))
        RETURNING ${REGISTRATION_COLUMNS}`,
      [blobName, objectId.toLowerCase()],
    );
    return rows[0] ? toRegistration(rows[0]) : this.getUploadRegistration(blobName);
  }

  async getUploadRegistrations(blobNames: readonly string[]): Promise<Map<string, UploadRegistration>> {
    if (blobNames.length === 0) return new Map();
    const { rows } = await this.sql.query<RegistrationRow>(
      `SELECT ${REGISTRATION_COLUMNS} FROM upload_registrations WHERE blob_name = ANY($1::text[])`,
      [[...blobNames]],
    );
    return new Map(rows.map((r) => [r.blob_name, toRegistration(r)]));
  }

  async listAllCases(): Promise<CaseOverview[]> {
    const { rows } = await this.sql.query<{ case_id: string; assignees: string | number; claimed_by: string | null }>(
      `WITH known AS (
         SELECT case_id FROM case_assignments
         UNION SELECT case_id FROM case_claims
         UNION SELECT case_id FROM upload_registrations
         UNION SELECT case_id FROM uploads
       )
       SELECT k.case_id,
              (SELECT count(*) FROM case_assignments a WHERE a.case_id = k.case_id) AS assignees,
              c.claimed_by
         FROM known k LEFT JOIN case_claims c ON c.case_id = k.case_id
        ORDER BY k.case_id COLLATE "C"`,
    );
    return rows.map((r) => ({ caseId: r.case_id, assignees: Number(r.assignees), claimedBy: r.claimed_by }));
  }

  async issueDownloadTicket(t: DownloadTicket): Promise<boolean> {
    await this.sql.query('DELETE FROM download_tickets WHERE expires_at < $1', [t.issuedAt]);
    return this.sql.transaction(async (tx) => {
      // FOR SHARE waits for an unassignment holding the row (FOR UPDATE) and then finds it gone;
      // one that comes later waits for this insert and deletes the ticket with the assignment.
      const who = { name: t.user, ...(t.objectId !== undefined ? { objectId: t.objectId } : {}) };
      const { rows } = await tx.query(`SELECT 1 FROM case_assignments WHERE case_id = $1 AND ${mine('$2', '$3')} FOR SHARE`, [
        t.caseId,
        who.name,
        objectIdOf(who),
      ]);
      if (rows.length === 0) return false;
      await tx.query(
        `INSERT INTO download_tickets (ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at, object_id, purpose)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [t.ticketSha256, t.user, t.caseId, t.fileId, t.roles, t.issuedAt, t.expiresAt, objectIdOf(who), t.purpose],
      );
      return true;
    });
  }

  async getDownloadTicket(ticketSha256: string): Promise<DownloadTicket | null> {
    const { rows } = await this.sql.query<{
      ticket_sha256: string;
      user_name: string;
      case_id: string;
      file_id: string;
      roles: Role[];
      issued_at: Date | string;
      expires_at: Date | string;
      object_id: string | null;
      purpose: string;
    }>(
      `SELECT ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at, object_id, purpose FROM download_tickets WHERE ticket_sha256 = $1`,
      [ticketSha256],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      ...(r.object_id !== null ? { objectId: r.object_id } : {}),
      ticketSha256: r.ticket_sha256,
      // The column's CHECK allows only these two.
      purpose: r.purpose === 'playback' ? 'playback' : 'download',
      user: r.user_name,
      caseId: r.case_id,
      fileId: r.file_id,
      roles: r.roles.filter(isRole),
      issuedAt: iso(r.issued_at),
      expiresAt: iso(r.expires_at),
    };
  }

  /** The assignment a supervisor's `user` names (see named), locked. A name and a bound object id may both match: the name's wins. */
  private async lockedAssignment(tx: SqlClient, caseId: string, user: string): Promise<CaseAssignment | null> {
    const { rows } = await tx.query<AssignmentRow>(
      `SELECT ${COLUMNS} FROM case_assignments WHERE case_id = $1 AND ${named('$2')}
        ORDER BY user_key = exhibit_user_key($2) DESC
        LIMIT 1
        FOR UPDATE`,
      [caseId, user],
    );
    return rows[0] ? toAssignment(rows[0]) : null;
  }

  /**
   * First Entra sign-in that matched an unbound assignment by name: from now on it is this
   * object id's only. Recorded in the history. Another tab's request may have bound it in the
   * meantime (to this object id: the row is then as wanted) or this object id may already hold a
   * bound assignment of the case under an earlier name (that one serves; this one stays unbound).
   * Null when someone else's sign-in bound it first: two holders of one UPN, and it is not ours.
   */
  private async bind(row: AssignmentRow, who: UserIdentity): Promise<{ assignment: CaseAssignment | null; changed: boolean }> {
    const objectId = objectIdOf(who)!;
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<AssignmentRow>(
        `UPDATE case_assignments SET object_id = $3
          WHERE case_id = $1 AND user_name = $2 AND object_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM case_assignments b WHERE b.case_id = $1 AND b.object_id = $3)
          RETURNING ${COLUMNS}`,
        [row.case_id, row.user_name, objectId],
      );
      if (!rows[0]) {
        const { rows: now } = await tx.query<AssignmentRow>(
          `SELECT ${COLUMNS} FROM case_assignments WHERE case_id = $1 AND ${mine('$2', '$3')} ORDER BY object_id IS NULL LIMIT 1`,
          [row.case_id, who.name, objectId],
        );
        // Someone else's request changed the row first (committed: we waited on its lock). Its
        // 'bound' history row may still await its custody entry, and our first read predates it:
        // report a change so the caller re-reads pending custody and waits for it (the writer
        // finds nothing if that request already wrote it).
        return { assignment: now[0] && now[0].object_id === objectId ? toAssignment(now[0]) : null, changed: true };
      }
      await this.addHistory(tx, row.case_id, row.user_name, 'bound', row.role, row.role, who.name, objectId, true);
      return { assignment: toAssignment(rows[0]), changed: true };
    });
  }

  /**
   * Folds an unbound assignment matched by the caller's name into their bound one (see settle),
   * keeping the narrower role (narrowerRole): the merge never gives the caller more than either
   * assignment gave (a supervisor's "mallory@… with the token's roles" does not widen the bound
   * "investigator" of whoever now signs in as mallory@…). When neither role is within the other
   * nothing is merged: the bound one serves and both stay for a supervisor to decide. 'merged'
   * (and 'role-changed' when the bound one narrows) history rows, pending custody. Re-read under
   * lock: if either changed meanwhile, nothing is done.
   */
  private async merge(held: CaseAssignment, dup: AssignmentRow, who: UserIdentity): Promise<{ assignment: CaseAssignment; changed: boolean }> {
    const objectId = held.objectId!;
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<AssignmentRow>(
        `SELECT ${COLUMNS} FROM case_assignments WHERE case_id = $1 AND user_name = ANY($2::text[]) ORDER BY user_name COLLATE "C" FOR UPDATE`,
        [held.caseId, [held.user, dup.user_name]],
      );
      const bound = rows.find((r) => r.user_name === held.user && r.object_id === objectId);
      const other = rows.find((r) => r.user_name === dup.user_name && r.object_id === null);
      // Changed by another request meanwhile (as in bind): its pending history must be written before we answer.
      if (!bound) return { assignment: held, changed: true };
      if (!other) return { assignment: toAssignment(bound), changed: true };
      const role = narrowerRole(bound.role, other.role);
      if (role === undefined) return { assignment: toAssignment(bound), changed: false };
      let kept = bound;
      if (role !== bound.role) {
        const { rows: updated } = await tx.query<AssignmentRow>(
          `UPDATE case_assignments SET role = $3, assigned_by = $4, assigned_at = $5
            WHERE case_id = $1 AND user_name = $2
            RETURNING ${COLUMNS}`,
          [bound.case_id, bound.user_name, role, other.assigned_by, other.assigned_at],
        );
        kept = updated[0]!;
        await this.addHistory(tx, bound.case_id, bound.user_name, 'role-changed', role, bound.role, who.name, objectId, true);
      }
      await tx.query('DELETE FROM case_assignments WHERE case_id = $1 AND user_name = $2', [other.case_id, other.user_name]);
      await this.addHistory(tx, other.case_id, other.user_name, 'merged', kept.role, other.role, who.name, objectId, true);
      return { assignment: toAssignment(kept), changed: true };
    });
  }

  private async addHistory(
    tx: SqlClient,
    caseId: string,
    user: string,
    action: AssignmentChange['action'],
    role: Role | null,
    previousRole: Role | null,
    by: string,
    objectId?: string,
    /** Made by no supervisor's request (a sign-in's bind or merge): the API writes its custody entry later. */
    custodyPending = false,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO case_assignment_history (case_id, user_name, action, role, previous_role, changed_by, object_id, custody_pending)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [caseId, user, action, role, previousRole, by, objectId ?? null, custodyPending],
    );
  }
}

export function createPostgresAccessStore(sql: SqlClient): AccessStore {
  return new PostgresAccessStore(sql);
}
