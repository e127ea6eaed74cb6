import type { HttpFunctionOptions, HttpRequest, InvocationContext } from '@azure/functions';
import { errorResponse, type SiteRequest } from '@exhibit/api';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { headersOf, readJsonBody, requestIdFor, withRequestId } from './http.trigger.js';
import { runInvocation } from './invocation-log.js';

type SiteDef = Extract<FunctionDef, { trigger: { kind: 'site' } }>;

export async function toSiteRequest(request: HttpRequest): Promise<SiteRequest> {
  // The path still percent-encoded, as the local server hands it over: the site decodes and checks it itself.
  const out: SiteRequest = { method: request.method.toUpperCase(), path: new URL(request.url).pathname, headers: headersOf(request) };
  const body = request.method.toUpperCase() === 'POST' ? await readJsonBody(request) : undefined;
  if (body !== undefined) out.body = body;
  return out;
}

/**
 * The review app from the Function app itself, same origin as /api: the
 * catch-all route below the API's literal `api/` route. It needs only the
 * configuration, so a page loads (and can say what is wrong) even when the
 * app behind /api cannot start, e.g. while PostgreSQL is unreachable.
 */
export function siteTrigger(def: SiteDef, host: FunctionsHost): HttpFunctionOptions {
  return {
    route: def.trigger.route,
    methods: [...def.trigger.methods],
    // Files anyone may fetch; /app-config.json holds no secret (tenant, public client id, scope).
    authLevel: 'anonymous',
    handler: (request: HttpRequest, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const requestId = requestIdFor(request, context.invocationId);
        try {
          return withRequestId(await def.handler(host.getConfig(), await toSiteRequest(request), inv), requestId);
        } catch (err) {
          inv.logger.error({ err }, 'site request failed');
          return withRequestId(errorResponse(err), requestId);
        }
      }),
  };
}
