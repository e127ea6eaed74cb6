import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { Readable } from 'node:stream';
import { API_LIMITS, errorResponse, type ApiRequest, type ApiResponse } from '@exhibit/api';
import { ExhibitError } from '@exhibit/core';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { runInvocation } from './invocation-log.js';

type HttpDef = Extract<FunctionDef, { trigger: { kind: 'http' } }>;

/** A caller's x-request-id is kept when it is safe to log, as the local adapter does. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdFor(request: HttpRequest, invocationId: string): string {
  const incoming = request.headers.get('x-request-id');
  return incoming && REQUEST_ID_RE.test(incoming) ? incoming : invocationId;
}

/** The API's own prefix; ApiRequest.path is what follows it. host.json sets routePrefix to '' so the route carries it. */
const API_PREFIX = '/api';

/** Reads a JSON request body, refusing more than API_LIMITS.maxBodyBytes without buffering the rest. */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (!request.body || (declared === 0 && !request.headers.has('transfer-encoding'))) return undefined;
  if (declared > API_LIMITS.maxBodyBytes) {
    throw new ExhibitError('limit-exceeded', `request body over ${API_LIMITS.maxBodyBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > API_LIMITS.maxBodyBytes) {
      await reader.cancel();
      throw new ExhibitError('limit-exceeded', `request body over ${API_LIMITS.maxBodyBytes} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  if (total === 0) return undefined;
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ExhibitError('invalid-argument', 'request bodies must be application/json');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ExhibitError('invalid-argument', 'request body is not valid JSON');
  }
}

/** Request headers by lower-case name, as both HTTP adapters hand them over. */
export function headersOf(request: HttpRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return headers;
}

export async function toApiRequest(request: HttpRequest, requestId: string): Promise<ApiRequest> {
  const url = new URL(request.url);
  const path = url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`) ? url.pathname.slice(API_PREFIX.length) || '/' : url.pathname;
  const headers = headersOf(request);
  // Download links the API hands back point at the app as the caller reached it.
  const out: ApiRequest = { method: request.method.toUpperCase(), path, query: url.searchParams, headers, requestId, baseUrl: `${url.origin}${API_PREFIX}` };
  const body = await readJsonBody(request);
  if (body !== undefined) out.body = body;
  return out;
}

/**
 * Same wire behaviour as the local node:http adapter: buffers and streams pass
 * through untouched (downloads stream from Blob Storage), anything else is JSON.
 */
export function toHttpResponse(response: ApiResponse): HttpResponseInit {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff', ...response.headers };
  const out: HttpResponseInit = { status: response.status, headers };
  const body = response.body;
  if (body instanceof Readable || Buffer.isBuffer(body)) {
    out.body = body;
  } else if (body !== undefined && response.status !== 204) {
    headers['content-type'] = 'application/json; charset=utf-8';
    out.body = JSON.stringify(body);
  }
  return out;
}

/** The answer with the request id every HTTP answer carries. */
export function withRequestId(response: ApiResponse, requestId: string): HttpResponseInit {
  return toHttpResponse({ ...response, headers: { ...response.headers, 'x-request-id': requestId } });
}

export function httpTrigger(def: HttpDef, host: FunctionsHost): HttpFunctionOptions {
  return {
    route: def.trigger.route,
    methods: [...def.trigger.methods],
    // The API authenticates every request itself (Entra bearer tokens); function keys would add nothing.
    authLevel: 'anonymous',
    handler: (request: HttpRequest, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const requestId = requestIdFor(request, context.invocationId);
        let apiRequest: ApiRequest;
        try {
          apiRequest = await toApiRequest(request, requestId);
        } catch (err) {
          return withRequestId(errorResponse(err), requestId);
        }
        const app = await host.getApp();
        return toHttpResponse(await def.handler(app, apiRequest, inv));
      }),
  };
}
