import { z } from 'zod';
import { ExhibitError, ROLES } from '@exhibit/core';
import { defineRoute, type RouteModule } from '../api.types.js';
import { ASSIGNMENT_ADMINS, ASSIGNMENT_MANAGERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { param } from '../query-params.js';
import { readAuditOf } from '../read-audit.js';
import { assignmentListSchema, assignResultSchema } from '../response-schemas.js';

const caseId = param.id('Case id');
const access = { roles: ASSIGNMENT_MANAGERS, caseScoped: true, anyCaseRoles: ASSIGNMENT_ADMINS } as const;

/**
 * Assignment changes are written to the index (assignment + history, one
 * transaction) and then to the custody log of every evidence item of the
 * case. A case without evidence yet has no custody log; its history table
 * still holds the change.
 */
export const assignmentsRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/assignments',
    operationId: 'listAssignments',
    summary: 'Who is assigned to the case',
    description: "Recorded as a 'read' (route listAssignments) in the custody log of every evidence item, rate-limited (see GET /cases).",
    access: { ...access, answersWithCustodyPending: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Assignments, by user', schema: assignmentListSchema } },
    async handler({ deps, principal, params, logger, abortSignal }) {
      const assignments = await deps.access.listAssignments(params.caseId);
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'listAssignments', details: { assignments: assignments.length } },
        { logger },
      );
      return { status: 200, body: { caseId: params.caseId, assignments } satisfies z.input<typeof assignmentListSchema> };
    },
  }),

  defineRoute({
    method: 'POST',
    path: '/cases/{caseId}/assignments',
    operationId: 'assignUser',
    summary: 'Assign a user to the case, optionally narrowed to one role',
    description:
      'Idempotent: assigning again with the same role changes nothing (200, changed=false). ' +
      'An object id is a hyphenated GUID (braced or unhyphenated: 400); an assignment made by object id is bound to it from the start. ' +
      '409 when the name given is that of an assignment already bound to an object id (the UPN may now be someone else\'s): the message names the object id; assign by object id instead.',
    access,
    params: z.strictObject({ caseId }),
    query: z.strictObject({}),
    body: z.strictObject({
      user: param.user('Local user name, Entra UPN (compared case-insensitively) or Entra object id; a name is bound to the object id of its first sign-in'),
      role: z.enum(ROLES).nullable().optional().describe('Role on this case; omit or null to use the roles in their token'),
    }),
    responses: {
      201: { description: 'Newly assigned', schema: assignResultSchema },
      200: { description: 'Role changed, or nothing to change', schema: assignResultSchema },
    },
    async handler({ deps, principal, params, body, abortSignal }) {
      const result = await deps.access.assign(params.caseId, body.user, { role: body.role ?? null, by: principal.user });
      if (result.changed) {
        await recordForCase(
          deps,
          principal,
          {
            caseId: params.caseId,
            action: 'assignment-change',
            details: {
              change: result.previous ? 'role-changed' : 'assigned',
              user: result.assignment.user,
              role: result.assignment.role,
              previousRole: result.previous?.role ?? null,
              // The account the assignment is bound to (assigned by object id, or a bound one's role changed by it).
              ...(result.assignment.objectId !== undefined ? { userObjectId: result.assignment.objectId } : {}),
            },
          },
        );
      }
      return {
        status: result.changed && !result.previous ? 201 : 200,
        body: { assignment: result.assignment, changed: result.changed } satisfies z.input<typeof assignResultSchema>,
      };
    },
  }),

  defineRoute({
    method: 'DELETE',
    path: '/cases/{caseId}/assignments/{user}',
    operationId: 'unassignUser',
    summary: 'Remove a user from the case',
    description:
      'The user is named as when assigning: by name (UPNs and GUIDs case-insensitively) or by the Entra object id the assignment is bound to. ' +
      'A name whose assignment is bound removes the assignment of the account it is bound to (whoever holds that UPN now holds nothing through it); ' +
      "the custody entry names that account's object id (userObjectId). " +
      '404 when no assignment of the case matches: nothing was removed (the name may be misspelt).',
    access,
    params: z.strictObject({ caseId, user: param.user('User name or Entra object id') }),
    query: z.strictObject({}),
    responses: { 204: { description: 'The assignment was removed' } },
    async handler({ deps, principal, params, abortSignal }) {
      const result = await deps.access.unassign(params.caseId, params.user, { by: principal.user });
      // Never 'done' for a removal that removed nothing: the supervisor would believe access was withdrawn.
      if (!result.changed || !result.previous) throw new ExhibitError('not-found', 'no assignment of this case matches that user; nothing changed');
      await recordForCase(deps, principal, {
        caseId: params.caseId,
        action: 'assignment-change',
        // The name as assigned (the request may differ in case, or give the object id), and the account
        // whose assignment it was: a bound name is removed from the person it was bound to, whoever holds
        // that UPN today (unassign-bound-name-removed-oid-unrecorded: custody named only the UPN, which may
        // be someone else's by now). Not 'objectId': that key is the actor's own (recordForCase).
        details: {
          change: 'unassigned',
          user: result.previous.user,
          role: null,
          previousRole: result.previous.role,
          ...(result.previous.objectId !== undefined ? { userObjectId: result.previous.objectId } : {}),
        },
      });
      return { status: 204 };
    },
  }),
];
