import { randomUUID } from 'node:crypto';
import { ExhibitError } from '@exhibit/core';
import type { Api, ApiDeps, ApiRequest, ApiResponse, Principal, RouteDef, RouteModule } from './api.types.js';
import { authorise } from './access-check.js';
import { recordAllPendingAssignmentChanges, recordPendingAssignmentChanges } from './access-events.js';
import { API_LIMITS } from './api-limits.js';
import { errorResponse, notFound, statusFor } from './http-errors.js';
import { redeemDownloadTicket } from './download-tickets.js';
import { readAuditOf } from './read-audit.js';
import { compilePattern, matchPattern, type CompiledPattern } from './path-pattern.js';
import { queryToObject, validationError } from './query-params.js';
import { ROUTE_TABLE } from './route-table.js';
import { openApiRoutes } from './routes/openapi.routes.js';

export const ANONYMOUS: Principal = Object.freeze({ user: 'anonymous', roles: [], authKind: 'anonymous' }) as Principal;

const BEARER_RE = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

interface CompiledRoute {
  route: RouteDef;
  compiled: CompiledPattern;
}

/**
 * The API without a transport: adapters turn HTTP into ApiRequest and back.
 * Order for every request: route → token (401) → path parameters (400) →
 * access (404/403, before any case data) → query and body (400) → handler.
 */
export function createApi(deps: ApiDeps, options: { modules?: readonly RouteModule[] } = {}): Api {
  const modules = options.modules ?? ROUTE_TABLE;
  const routes: RouteDef[] = [];
  routes.push(...openApiRoutes(() => routes), ...modules.flat());
  const compiled = routes.map((route) => ({ route, compiled: compilePattern(route.path) }));
  checkRouteTable(compiled);

  async function dispatch(req: ApiRequest, requestId: string, abortSignal: AbortSignal | undefined, matched: { route?: RouteDef }): Promise<{ response: ApiResponse; route?: RouteDef; principal?: Principal }> {
    if (req.path.length > API_LIMITS.maxPathChars) throw new ExhibitError('invalid-argument', 'path too long');
    const method = req.method.toUpperCase();
    const matches = compiled.flatMap((c) => {
      const params = matchPattern(c.compiled, req.path);
      return params ? [{ ...c, params }] : [];
    });
    if (matches.length === 0) throw notFound();
    const match = matches.find((m) => m.route.method === method);
    if (!match) {
      const allow = [...new Set(matches.map((m) => m.route.method))].join(', ');
      // The path is known though the method is not: its routes' errorHeaders (…/playback's nosniff and CORP) hold here too.
      const errorHeaders = Object.assign({}, ...matches.map((m) => m.route.errorHeaders ?? {})) as Record<string, string>;
      return {
        response: {
          status: 405,
          headers: { ...errorHeaders, allow },
          body: { error: { code: 'method-not-allowed', message: `use ${allow}` } },
        },
      };
    }
    const { route } = match;
    // Known from here on, so an error answer (a refused ticket included) carries the route's errorHeaders.
    matched.route = route;

    // A download link carries a ticket instead of a token; a token, when sent, wins.
    const ticketPurpose = route.acceptsDownloadTicket;
    const ticket = ticketPurpose !== undefined && !req.headers.authorization ? req.query.get('ticket') : null;
    const tokenPrincipal = route.access === 'public' ? ANONYMOUS : ticket === null ? await authenticate(req.headers.authorization, abortSignal) : null;

    const params = route.params.safeParse(match.params);
    if (!params.success) throw validationError('path', params.error);
    const caseId = (params.data as { caseId?: string }).caseId;
    // Bound to the file it was issued for; then checked against the assignment like any caller.
    const principal =
      tokenPrincipal ??
      (await redeemDownloadTicket(deps, ticket ?? '', { ...(params.data as { caseId?: string; fileId?: string }), purpose: ticketPurpose ?? 'download' }));

    const recordPending = (ids: string[]) => recordPendingAssignmentChanges(deps, ids);
    const diagnostic = route.access !== 'public' && route.access.caseScoped && route.access.answersWithCustodyPending === true;
    const caseAccess =
      route.access === 'public'
        ? null
        : await authorise(
            route.access,
            principal,
            caseId,
            deps.access,
            diagnostic
              ? (ids) =>
                  recordPending(ids).catch((err: unknown) => {
                    deps.logger.error(
                      { err, caseIds: ids, operationId: route.operationId, user: principal.user },
                      'custody entries of assignment changes NOT written; answering this supervisor/audit route anyway, every data route of the case fails until they are',
                    );
                  })
              : recordPending,
          );

    const query = route.query.safeParse(queryToObject(req.query));
    if (!query.success) throw validationError('query', query.error);

    let body: unknown;
    if (route.body) {
      const parsed = route.body.safeParse(req.body);
      if (!parsed.success) throw validationError('body', parsed.error);
      body = parsed.data;
    } else if (req.body !== undefined) {
      throw new ExhibitError('invalid-argument', 'this route takes no request body');
    }

    const logger = deps.logger.child({ requestId, operationId: route.operationId, user: principal.user });
    const response = await route.handler({
      deps,
      principal,
      params: params.data,
      query: query.data,
      body,
      caseAccess,
      requestId,
      logger,
      ...(abortSignal ? { abortSignal } : {}),
      ...(req.baseUrl ? { baseUrl: req.baseUrl } : {}),
      requestHeaders: req.headers,
    });
    return { response, route, principal };
  }

  async function authenticate(header: string | undefined, abortSignal: AbortSignal | undefined): Promise<Principal> {
    if (!header) throw new ExhibitError('unauthenticated', 'a bearer token is required');
    if (header.length > API_LIMITS.maxTokenBytes + 7) throw new ExhibitError('unauthenticated', 'token too long');
    const m = BEARER_RE.exec(header);
    if (!m?.[1]) throw new ExhibitError('unauthenticated', 'expected Authorization: Bearer <token>');
    return deps.tokens.verify(m[1], abortSignal ? { abortSignal } : {});
  }

  return {
    routes,
    flush: () => readAuditOf(deps).flush(),
    recordPendingAssignmentChanges: (options) => recordAllPendingAssignmentChanges(deps, options),
    async handle(req, handleOptions = {}) {
      const requestId = req.requestId ?? randomUUID();
      let response: ApiResponse;
      let route: RouteDef | undefined;
      let user: string | undefined;
      const matched: { route?: RouteDef } = {};
      try {
        const result = await dispatch(req, requestId, handleOptions.abortSignal, matched);
        response = result.response;
        route = result.route;
        user = result.principal?.user;
      } catch (err) {
        response = errorResponse(err);
        const errorHeaders = matched.route?.errorHeaders;
        if (errorHeaders) response = { ...response, headers: { ...errorHeaders, ...response.headers } };
        const status = statusFor(err);
        if (status >= 500) deps.logger.error({ err, requestId, method: req.method, path: req.path }, 'request failed');
      }
      deps.logger.info(
        { requestId, method: req.method, path: req.path, route: route?.operationId, user, status: response.status },
        'api request',
      );
      return { ...response, headers: { ...response.headers, 'x-request-id': requestId } };
    },
  };
}

/** Programming errors in the table fail at start-up, not on the first request. */
function checkRouteTable(routes: CompiledRoute[]): void {
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (const { route, compiled } of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) throw new Error(`route defined twice: ${key}`);
    if (ids.has(route.operationId)) throw new Error(`operationId used twice: ${route.operationId}`);
    seen.add(key);
    ids.add(route.operationId);
    if (route.access === undefined) throw new Error(`route has no access rule: ${key}`);
    const shapeKeys = Object.keys(route.params.shape).sort();
    if (shapeKeys.join(',') !== [...compiled.paramNames].sort().join(',')) {
      throw new Error(`params schema of ${key} must have exactly: ${compiled.paramNames.join(', ') || '(none)'}`);
    }
    if (route.access !== 'public' && route.access.caseScoped && !compiled.paramNames.includes('caseId')) {
      throw new Error(`case-scoped route without {caseId}: ${key}`);
    }
  }
}
