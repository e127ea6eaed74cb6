import { z } from 'zod';
import { defineRoute, type RouteModule } from '../api.types.js';
import { OPERATIONS_ADMINS } from '../access-policy.js';
import { API_LIMITS } from '../api-limits.js';
import { param } from '../query-params.js';
import { rejectedBlobListSchema } from '../response-schemas.js';

/**
 * What the system holds outside any case. Not case-scoped: a rejected blob
 * names no case, so there is no assignment to check and no custody log to
 * write to; only admins see these.
 */
export const adminRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/admin/rejected-blobs',
    operationId: 'listRejectedBlobs',
    summary: 'Blobs in the evidence container that were not taken in as evidence, newest first',
    description:
      'A blob whose name is not `<caseId>/<evidenceId>/<file name>` (e.g. dropped at the container root) is never processed; it is recorded ' +
      'here with the reason, once per ETag, and counted each time it is seen again. To take it in, copy it to a proper evidence name ' +
      '(see docs/operations.md).',
    access: { roles: OPERATIONS_ADMINS, caseScoped: false },
    params: z.strictObject({}),
    query: z.strictObject({
      limit: param.int('Page size, default 50', 1, API_LIMITS.maxPageSize).optional(),
      offset: param.int('Items to skip', 0, API_LIMITS.maxOffset).optional(),
    }),
    responses: { 200: { description: 'One page of rejected blobs with the total', schema: rejectedBlobListSchema } },
    async handler({ deps, query }) {
      const { limit = API_LIMITS.defaultPageSize, offset = 0 } = query;
      const page = await deps.index.listRejectedBlobs({ limit, offset });
      return { status: 200, body: { total: page.total, limit, offset, items: page.items } satisfies z.input<typeof rejectedBlobListSchema> };
    },
  }),
];
