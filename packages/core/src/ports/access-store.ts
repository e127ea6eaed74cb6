/**
 * Who may see which case. The API reads it before touching any case data;
 * the index package stores it (table case_assignments + history).
 */
export const ROLES = ['examiner', 'investigator', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Whether an assignment's role `a` gives no more than `b` (null: the token's roles, the widest). A
 * role is within another when every API route allowing the first allows the second: investigators
 * only read, tag and export, which examiners and supervisors may too. Examiners (uploads) and
 * supervisors (assignments, access events), and admins (operations, no tags), are each allowed
 * something the others are not. The API's tests check this against its access rules.
 */
export function roleWithin(a: Role | null, b: Role | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  return a === b || (a === 'investigator' && (b === 'examiner' || b === 'supervisor'));
}

/**
 * The role to keep when two assignments of one person meet (a merge): the narrower, so the merge
 * never gives more than either gave; undefined when neither is within the other (keeping either
 * could widen, so a supervisor must decide).
 */
export function narrowerRole(a: Role | null, b: Role | null): Role | null | undefined {
  if (roleWithin(a, b)) return a;
  if (roleWithin(b, a)) return b;
  return undefined;
}

/**
 * Who is asking, as the access store matches them to assignments. `name` is
 * what people read and type (a local user name, an Entra UPN); `objectId` is
 * Entra's immutable object id (`oid`), present for Entra tokens only. A bare
 * string is a name without an object id (local tokens, supervisors' input).
 *
 * Matching (docs/review-api.md, "Who is who"): an assignment bound to an
 * object id matches that object id only, whatever name the token carries; an
 * unbound one matches by name, case-insensitively for e-mail-like names
 * (UPNs) and GUIDs, exactly otherwise; the first Entra sign-in that matches
 * an unbound assignment by name binds it to the signer's object id.
 */
export interface UserIdentity {
  name: string;
  objectId?: string;
}

export type UserRef = string | UserIdentity;

export function userIdentity(user: UserRef): UserIdentity {
  return typeof user === 'string' ? { name: user } : user;
}

export interface CaseAssignment {
  caseId: string;
  /** The name the assignment was made for (as first typed; later assignments differing only in case reuse it). */
  user: string;
  /** The Entra object id the assignment is bound to; absent until its user first signs in (or for local users). */
  objectId?: string;
  /**
   * When set, the user acts on this case with this role only (it narrows the
   * roles in their token, it never adds one). Null: the token's roles apply.
   */
  role: Role | null;
  assignedBy: string;
  assignedAt: string;
}

export interface AssignmentChange {
  caseId: string;
  user: string;
  /**
   * 'bound': the first Entra sign-in matching by name tied the assignment to
   * `objectId`. 'merged': this name's assignment was folded into another of
   * the same person on the case (`role` is the one kept, `previousRole` this
   * name's): by migration 0210 for names differing only in letter case, or at
   * sign-in for a name that matched an Entra caller already holding a bound
   * assignment of the case. A merge keeps the narrower role (see
   * narrowerRole), never the wider. Changes nobody's request made (bound,
   * merged, and migration 0210's) get their custody entry from the API
   * afterwards (see AccessStore.pendingAssignmentCustody).
   */
  action: 'assigned' | 'role-changed' | 'unassigned' | 'bound' | 'merged';
  objectId?: string;
  role: Role | null;
  previousRole: Role | null;
  changedBy: string;
  changedAt: string;
}

/** A change that still needs its 'assignment-change' custody entry (history's change id, for the entry's event key). */
export interface PendingAssignmentChange extends AssignmentChange {
  changeId: string;
}

/** The caller's assignments as matched (and bound or merged), and whether changes of those cases wait for custody. */
export interface ResolvedAssignments<T> {
  assignments: T;
  /** Some change of these cases has no custody entry yet: the API writes them before answering. */
  custodyPending: boolean;
}

/** An upload announced through the API by an authenticated user before its bytes were sent. */
export interface UploadRegistration {
  blobName: string;
  caseId: string;
  evidenceId: string;
  fileName: string;
  size: number;
  /** From the caller's token, never from blob metadata. */
  uploadedBy: string;
  /** The registrant's Entra object id (Entra tokens): who they are after a rename too. */
  uploadedByObjectId?: string;
  registeredAt: string;
}

/** A case as an admin sees it: whether anyone is assigned, and who opened it. */
export interface CaseOverview {
  caseId: string;
  assignees: number;
  claimedBy: string | null;
}

/**
 * A download link's ticket, as stored: only the SHA-256 of the secret part
 * of the link. It names one file of one case for one user until it expires;
 * the API checks the user's assignment again whenever it is used.
 */
/** The route a ticket is redeemed on: …/content (download) or …/playback; never the other. */
export type TicketPurpose = 'download' | 'playback';

export interface DownloadTicket {
  ticketSha256: string;
  /** Which route redeems it (migration 0235; rows from before it are 'download'). */
  purpose: TicketPurpose;
  user: string;
  /** The holder's Entra object id, so the assignment check on each fetch matches as for their token. */
  objectId?: string;
  caseId: string;
  fileId: string;
  roles: Role[];
  issuedAt: string;
  expiresAt: string;
}

export interface AccessStore {
  /** Creates or updates the assignment; `changed` is false when it was already exactly so. */
  assign(
    caseId: string,
    user: string,
    change: { role?: Role | null; by: string },
  ): Promise<{ changed: boolean; assignment: CaseAssignment; previous: CaseAssignment | null }>;
  /**
   * Removes the assignment `user` names: its name (case-insensitively for
   * UPNs) or the object id it is bound to. `changed` is false when there was none.
   */
  unassign(caseId: string, user: string, change: { by: string }): Promise<{ changed: boolean; previous: CaseAssignment | null }>;
  isAssigned(caseId: string, user: UserRef): Promise<boolean>;
  /** The caller's assignment (see UserIdentity for matching); binds an unbound one to an Entra caller's object id. */
  getAssignment(caseId: string, user: UserRef): Promise<CaseAssignment | null>;
  /** The user's assignments, ordered by case id (matched and bound as getAssignment). */
  casesFor(user: UserRef): Promise<CaseAssignment[]>;
  /** getAssignment, and whether changes of the case (a bind or merge just made) wait for their custody entries. */
  resolveAssignment(caseId: string, user: UserRef): Promise<ResolvedAssignments<CaseAssignment | null>>;
  /** casesFor, and whether changes of those cases wait for their custody entries. */
  resolveCases(user: UserRef): Promise<ResolvedAssignments<CaseAssignment[]>>;
  /**
   * Changes recorded in the history without a custody entry yet (sign-in binds and merges,
   * migration 0210's merges), oldest first, of these cases or of any.
   */
  pendingAssignmentCustody(options: { caseIds?: readonly string[]; limit: number }): Promise<PendingAssignmentChange[]>;
  /**
   * Cases migration 0210 left without any assignment (it kept none of a person's case-variant rows)
   * and nobody has assigned since, ordered by case id: a supervisor must assign them again.
   */
  casesEmptiedByMigration(): Promise<string[]>;
  /**
   * How many changes of the case still wait for their custody entry: a custody report or
   * verification answered while some do says so (their entries are not in the logs yet).
   */
  countPendingAssignmentCustody(caseId: string): Promise<number>;
  /** Cases with changes pending custody, ordered by case id (binary), after `afterCaseId`: the start-up pass pages through them. */
  casesWithPendingAssignmentCustody(options: { afterCaseId?: string; limit: number }): Promise<string[]>;
  /** Their custody entries are written: no longer pending. */
  assignmentCustodyRecorded(changeIds: readonly string[]): Promise<void>;
  /** The case's assignments, ordered by user. */
  listAssignments(caseId: string): Promise<CaseAssignment[]>;
  /** Every change ever made to the case's assignments, oldest first. */
  assignmentHistory(caseId: string): Promise<AssignmentChange[]>;
  /**
   * True when nobody is or ever was assigned to the case (its assignment history
   * is empty), nobody ever claimed it and no evidence of it was received: a case
   * that does not exist yet.
   */
  isNewCase(caseId: string): Promise<boolean>;
  /**
   * Atomically: if the case is new (see isNewCase), record `user` as its
   * claimant and assign them with `role` (history included). False when the
   * case was not new, e.g. another user claimed it first.
   */
  claimNewCase(caseId: string, user: UserRef, role: Role): Promise<boolean>;
  /**
   * Records who announced the upload of a blob; the first registration of a
   * blob name stands (created=false returns the stored one, whoever asked).
   */
  registerUpload(registration: Omit<UploadRegistration, 'registeredAt'>): Promise<{ created: boolean; registration: UploadRegistration }>;
  getUploadRegistration(blobName: string): Promise<UploadRegistration | null>;
  /**
   * Binds a registration made without an object id (before migration 0210, or by a local token)
   * to `objectId`, as assignments bind: only when the first account the case's assignment of the
   * registrant's name was bound (or merged) to is that object id, by the history (that person,
   * renamed, or on the case by object id since; never a later holder of the name), and it still
   * holds an assignment of the case.
   * Returns the registration as it is afterwards (bound to this or another object id, or still
   * unbound when the condition failed); null when there is none.
   */
  bindUploadRegistration(blobName: string, objectId: string): Promise<UploadRegistration | null>;
  /** The registrations of these blobs, by blob name (an unregistered blob is absent): one read for a status's uploads. */
  getUploadRegistrations(blobNames: readonly string[]): Promise<Map<string, UploadRegistration>>;
  /**
   * Every case the system knows of (assigned, claimed, registered or with
   * evidence received), ordered by case id, with its number of assignees.
   */
  listAllCases(): Promise<CaseOverview[]>;
  /**
   * Stores a new ticket while its user is assigned to its case, and deletes tickets that expired
   * before `ticket.issuedAt`. False, nothing stored, when the user is not assigned (any more): the
   * check holds the assignment row until the ticket is in, so an unassignment (which deletes the
   * user's tickets) lands either before it (no ticket) or after it (ticket deleted), never between.
   */
  issueDownloadTicket(ticket: DownloadTicket): Promise<boolean>;
  /** The ticket with this hash, expired or not; null when unknown or deleted (unassign deletes the user's tickets for the case). */
  getDownloadTicket(ticketSha256: string): Promise<DownloadTicket | null>;
}
