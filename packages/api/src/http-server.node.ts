import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExhibitError, isExhibitError, type Logger } from '@exhibit/core';
import type { Api, ApiRequest, ApiResponse } from './api.types.js';
import { API_LIMITS } from './api-limits.js';
import { errorResponse, NOT_FOUND_BODY } from './http-errors.js';
import type { SiteHandler } from './static-site.node.js';

export interface HttpServerHandle {
  /** e.g. 'http://127.0.0.1:7071/api' */
  url: string;
  port: number;
  close(): Promise<void>;
}

const PREFIX = '/api';
/** A Host header that is only a host name or address and a port. */
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Serves the API over node:http under '/api' (the local host's stand-in for
 * the Azure Functions HTTP trigger). Port 0 picks a free port.
 */
export async function startHttpServer(
  api: Pick<Api, 'routes' | 'handle'>,
  options: {
    host: string;
    port: number;
    logger: Logger;
    maxBodyBytes?: number;
    /** Answers everything outside /api (the review app); without it such paths are 404. */
    site?: SiteHandler;
  },
): Promise<HttpServerHandle> {
  const logger = options.logger.child({ component: 'http' });
  const maxBodyBytes = options.maxBodyBytes ?? API_LIMITS.maxBodyBytes;

  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      // A body cut short on purpose (an export whose caller lost access, logged by the route) is no fault.
      if (res.headersSent && isExhibitError(err, 'aborted')) logger.info({ err: { code: err.code, message: err.message } }, 'response cut short');
      else logger.error({ err }, 'response failed');
      if (!res.headersSent) send(res, errorResponse(err)).catch(() => res.destroy());
      else res.destroy();
    });
  });
  server.requestTimeout = 5 * 60_000;
  server.headersTimeout = 30_000;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incomingId = header(req, 'x-request-id');
    const requestId = incomingId && REQUEST_ID_RE.test(incomingId) ? incomingId : randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`) && options.site) {
      let siteBody: unknown;
      try {
        siteBody = await readJsonBody(req, maxBodyBytes);
      } catch (err) {
        await send(res, withRequestId(errorResponse(err), requestId));
        return;
      }
      const headers = flatHeaders(req);
      const response = await options.site({ method: req.method ?? 'GET', path: url.pathname, headers, ...(siteBody === undefined ? {} : { body: siteBody }) });
      if (response.status >= 400) logger.info({ requestId, method: req.method, status: response.status }, 'site request failed');
      await send(res, withRequestId(response, requestId));
      return;
    }
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) {
      logger.info({ requestId, method: req.method, status: 404 }, 'request outside /api');
      await send(res, { status: 404, headers: { 'x-request-id': requestId }, body: NOT_FOUND_BODY });
      return;
    }
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    let body: unknown;
    try {
      body = await readJsonBody(req, maxBodyBytes);
    } catch (err) {
      await send(res, withRequestId(errorResponse(err), requestId));
      return;
    }

    const headers = flatHeaders(req);
    const apiRequest: ApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname.slice(PREFIX.length) || '/',
      query: url.searchParams,
      headers,
      requestId,
    };
    // Links the API hands back (download links) point where this caller reached it.
    const host = header(req, 'host');
    if (host && HOST_RE.test(host)) apiRequest.baseUrl = `http://${host}${PREFIX}`;
    if (body !== undefined) apiRequest.body = body;
    const response = await api.handle(apiRequest, { abortSignal: abort.signal });
    await send(res, response);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ host: address.address, port: address.port }, 'API listening');
  return {
    url: `http://${host}:${address.port}${PREFIX}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function withRequestId(response: ApiResponse, requestId: string): ApiResponse {
  return { ...response, headers: { ...response.headers, 'x-request-id': requestId } };
}

/** JSON bodies only, bounded; an empty body is no body. */
async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new ExhibitError('limit-exceeded', `request body larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      req.resume();
      throw new ExhibitError('limit-exceeded', `request body larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  if (total === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new ExhibitError('invalid-argument', 'request body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new ExhibitError('invalid-argument', 'request body is not valid JSON', { cause: err });
  }
}

async function send(res: ServerResponse, response: ApiResponse): Promise<void> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff', ...response.headers };
  const { body } = response;
  if (body instanceof Readable) {
    res.writeHead(response.status, headers);
    await pipeline(body, res);
    return;
  }
  let bytes: Buffer | undefined;
  if (Buffer.isBuffer(body)) {
    bytes = body;
  } else if (body !== undefined && response.status !== 204) {
    bytes = Buffer.from(JSON.stringify(body), 'utf8');
    headers['content-type'] = 'application/json; charset=utf-8';
  }
  if (bytes) headers['content-length'] = String(bytes.length);
  res.writeHead(response.status, headers);
  res.end(bytes);
}
