import { z } from 'zod';
import { defineRoute, type RouteModule } from '../api.types.js';
import { ANY_ROLE } from '../access-policy.js';
import { assignmentsOf } from '../access-events.js';
import { meSchema } from '../response-schemas.js';

export const meRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/me',
    operationId: 'getMe',
    summary: 'Who the token says you are, your roles and your cases',
    access: { roles: ANY_ROLE, caseScoped: false },
    params: z.strictObject({}),
    query: z.strictObject({}),
    responses: { 200: { description: 'The caller', schema: meSchema } },
    async handler({ deps, principal }) {
      const assignments = await assignmentsOf(deps, principal);
      const body: z.input<typeof meSchema> = {
        user: principal.user,
        roles: principal.roles,
        authKind: principal.authKind === 'entra' ? 'entra' : 'local',
        cases: assignments.map((a) => a.caseId),
      };
      if (principal.expiresAt) body.expiresAt = principal.expiresAt;
      return { status: 200, body };
    },
  }),
];
