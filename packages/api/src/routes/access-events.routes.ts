import { z } from 'zod';
import { defineRoute, type RouteModule } from '../api.types.js';
import { ACCESS_AUDITORS } from '../access-policy.js';
import { API_LIMITS } from '../api-limits.js';
import { param } from '../query-params.js';
import { readAuditOf } from '../read-audit.js';
import { reviewOf } from '../review-deps.js';
import { accessEventListSchema } from '../response-schemas.js';

const caseId = param.id('Case id');

/** What people did with the case's data (the pipeline's own entries are in the custody report). */
export const ACCESS_ACTIONS = ['search', 'view', 'thumbnail-view', 'download', 'export', 'read', 'bookmark', 'verify', 'assignment-change', 'upload'] as const;

export const accessEventsRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/access-events',
    operationId: 'listAccessEvents',
    summary: 'Who viewed, downloaded, exported, searched or tagged what on this case, newest first, filterable by user and by file',
    description:
      'Read from the index copy of the custody logs (verification reads the logs themselves). A case-wide action (search, export, ' +
      "assignment change) is written to every evidence item's log and so appears once per evidence item. `byActor` counts every matching " +
      "entry per user and action. Recorded as a 'read' (route listAccessEvents), rate-limited.",
    access: { roles: ACCESS_AUDITORS, caseScoped: true, answersWithCustodyPending: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({
      user: param.user('Only this actor: a name (UPNs in any letter case) or an Entra object id (every name it had)').optional(),
      fileId: param.fileId().optional(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in lower-case hex').optional().describe('Only entries about this content'),
      action: z
        .string()
        .max(256)
        .transform((v) => v.split(','))
        .pipe(z.array(z.enum(ACCESS_ACTIONS)).min(1))
        .optional()
        .describe(`Comma-separated actions (default all of ${ACCESS_ACTIONS.join(', ')})`),
      from: param.time('At or after (ISO 8601; without an offset read as UTC)').optional(),
      to: param.time('At or before').optional(),
      limit: param.int('Page size, default 50', 1, API_LIMITS.maxPageSize).optional(),
      offset: param.int('Items to skip', 0, API_LIMITS.maxOffset).optional(),
    }),
    responses: { 200: { description: 'One page of entries, with counts per user and action', schema: accessEventListSchema } },
    async handler({ deps, principal, params, query, logger, abortSignal }) {
      const { limit = API_LIMITS.defaultPageSize, offset = 0 } = query;
      // Without an offset a bound is UTC, never the server's zone; a bare date is the whole day.
      const asUtc = (t: string, end: boolean) =>
        !t.includes('T') ? `${t}T${end ? '23:59:59.999' : '00:00:00'}Z` : /(?:[zZ]|[+-]\d{2}:\d{2})$/.test(t) ? t : `${t}Z`;
      const result = await reviewOf(deps).accessEvents({
        caseId: params.caseId,
        actions: query.action ?? [...ACCESS_ACTIONS],
        ...(query.user ? { user: query.user } : {}),
        ...(query.fileId ? { fileId: query.fileId } : {}),
        ...(query.sha256 ? { sha256: query.sha256 } : {}),
        ...(query.from ? { from: asUtc(query.from, false) } : {}),
        ...(query.to ? { to: asUtc(query.to, true) } : {}),
        limit,
        offset,
      });
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'listAccessEvents', details: { user: query.user ?? null, fileId: query.fileId ?? null, total: result.total } },
        { logger },
      );
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: { ...result, limit, offset } satisfies z.input<typeof accessEventListSchema> };
    },
  }),
];
