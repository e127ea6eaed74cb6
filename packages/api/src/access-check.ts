import { ExhibitError, type AccessStore, type Role, type UserIdentity } from '@exhibit/core';
import type { AccessRule, CaseAccess, Principal } from './api.types.js';
import { notFound } from './http-errors.js';

/**
 * Who the caller is for assignments: their name, and for Entra tokens the
 * immutable object id, which is what a bound assignment matches (a UPN may be
 * renamed or reused; docs/review-api.md, "Who is who").
 */
export function identityOf(principal: Principal): UserIdentity {
  return principal.objectId !== undefined ? { name: principal.user, objectId: principal.objectId } : { name: principal.user };
}

/**
 * Decides whether the caller may use a route, before any case data is read.
 *
 * - Global routes: a role in `rule.roles`, else 403 (nothing case-specific is revealed).
 * - Case routes: no assignment (and no `anyCaseRoles` role) → 404, the same
 *   answer as for a case that does not exist. Assigned but without a
 *   permitted role → 403: the caller already knows the case.
 * - An assignment with a role narrows the caller to that role on that case.
 * - `newCaseRoles`: without an assignment, such a caller passes only while the
 *   case is new; 404 otherwise, exactly as for an unassigned caller.
 */
export async function authorise(
  rule: Exclude<AccessRule, 'public'>,
  principal: Principal,
  caseId: string | undefined,
  access: AccessStore,
  /** Writes the custody entries of assignment changes of the case not yet recorded (a bind or merge at this sign-in). */
  recordPending?: (caseIds: string[]) => Promise<unknown>,
): Promise<CaseAccess | null> {
  if (!rule.caseScoped) {
    if (!hasAny(principal.roles, rule.roles)) throw forbidden();
    return null;
  }
  if (caseId === undefined) throw new Error('case-scoped route without a caseId parameter');
  const resolved = await access.resolveAssignment(caseId, identityOf(principal));
  const assignment = resolved.assignments;
  // Before anything of the case is answered, as every custody entry of a request.
  if (resolved.custodyPending && recordPending) await recordPending([caseId]);
  const unassignedRoles = principal.roles.filter((r) => rule.anyCaseRoles?.includes(r));
  if (!assignment && unassignedRoles.length === 0) {
    // A case nobody knows yet reveals nothing: the caller may open it.
    const newCaseRoles = principal.roles.filter((r) => rule.newCaseRoles?.includes(r) && rule.roles.includes(r));
    if (newCaseRoles.length > 0 && (await access.isNewCase(caseId))) return { caseId, assignment: null, roles: newCaseRoles, newCase: true };
    throw notFound();
  }
  const assignedRoles = assignment ? principal.roles.filter((r) => assignment.role === null || r === assignment.role) : [];
  const roles = [...new Set([...assignedRoles, ...unassignedRoles])];
  if (!hasAny(roles, rule.roles)) throw forbidden();
  return { caseId, assignment, roles };
}

function hasAny(have: readonly Role[], allowed: readonly Role[]): boolean {
  return have.some((r) => allowed.includes(r));
}

function forbidden(): ExhibitError {
  return new ExhibitError('forbidden', 'your role does not allow this');
}
