import { ExhibitError } from '@exhibit/core';
import { CliError } from '../cli-error.js';
import { cliCommand } from '../cli-hint.js';

export const API_CLIENT_LIMITS = {
  /** Longest wait for one response, headers and body. */
  requestTimeoutMs: 30_000,
  /** Largest response body read (search pages and thumbnails are far smaller). */
  maxResponseBytes: 64 * 1024 * 1024,
} as const;

export type QueryValues = Record<string, string | number | boolean | undefined>;

export interface ApiClient {
  readonly baseUrl: string;
  getJson<T>(path: string, options?: { query?: QueryValues; abortSignal?: AbortSignal }): Promise<T>;
  getBytes(path: string, options?: { abortSignal?: AbortSignal }): Promise<{ bytes: Buffer; contentType: string | null }>;
  /** POST/DELETE with an optional JSON body; resolves with the status and the parsed body (undefined for 204). */
  send<T>(method: 'POST' | 'DELETE', path: string, options?: { body?: unknown; abortSignal?: AbortSignal }): Promise<{ status: number; body: T }>;
  /**
   * A response whose body is left unread, for the caller to stream (file
   * contents can be far larger than any JSON body). No overall timeout: the
   * caller's signal stops it.
   */
  openStream(path: string, options?: { query?: QueryValues; abortSignal?: AbortSignal }): Promise<Response>;
}

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:7071/api */
  baseUrl: string;
  /** Bearer token; without it the API answers 401 and the error explains how to log in. */
  token: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Builds `/cases/C1/files` from raw segments, escaping each one. */
export function apiPath(...segments: string[]): string {
  return '/' + segments.map((s) => encodeURIComponent(s)).join('/');
}

const START_HINT = 'is the local host running? start it with npm start';

/** A small fetch-based client for the Exhibit HTTP API; errors become ExhibitError / CliError with readable messages. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? API_CLIENT_LIMITS.requestTimeoutMs;

  async function request(
    path: string,
    query: QueryValues | undefined,
    accept: string,
    abortSignal: AbortSignal | undefined,
    init: { method?: string; body?: unknown; noTimeout?: boolean } = {},
  ): Promise<Response> {
    const url = new URL(baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(timeoutMs);
    const signals = [...(abortSignal ? [abortSignal] : []), ...(init.noTimeout ? [] : [timeout])];
    const signal = signals.length === 1 ? signals[0] : signals.length > 1 ? AbortSignal.any(signals) : undefined;
    let res: Response;
    try {
      res = await doFetch(url, {
        headers,
        ...(signal ? { signal } : {}),
        ...(init.method ? { method: init.method } : {}),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    } catch (err) {
      throw fetchFailure(err, baseUrl, timeout.aborted, timeoutMs);
    }
    if (!res.ok) throw await httpFailure(res, path);
    return res;
  }

  return {
    baseUrl,
    async getJson<T>(path: string, opts: { query?: QueryValues; abortSignal?: AbortSignal } = {}): Promise<T> {
      const res = await request(path, opts.query, 'application/json', opts.abortSignal);
      const text = (await readLimited(res)).toString('utf8');
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new CliError('api-error', `the API answered ${path} with something that is not JSON`, undefined, { cause: err });
      }
    },
    async getBytes(path: string, opts: { abortSignal?: AbortSignal } = {}) {
      const res = await request(path, undefined, '*/*', opts.abortSignal);
      return { bytes: await readLimited(res), contentType: res.headers.get('content-type') };
    },
    async send<T>(method: 'POST' | 'DELETE', path: string, opts: { body?: unknown; abortSignal?: AbortSignal } = {}) {
      const res = await request(path, undefined, 'application/json', opts.abortSignal, { method, body: opts.body });
      if (res.status === 204) return { status: res.status, body: undefined as T };
      const text = (await readLimited(res)).toString('utf8');
      try {
        return { status: res.status, body: JSON.parse(text) as T };
      } catch (err) {
        throw new CliError('api-error', `the API answered ${path} with something that is not JSON`, undefined, { cause: err });
      }
    },
    async openStream(path: string, opts: { query?: QueryValues; abortSignal?: AbortSignal } = {}) {
      return request(path, opts.query, 'application/octet-stream', opts.abortSignal, { noTimeout: true });
    },
  };
}

async function readLimited(res: Response): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > API_CLIENT_LIMITS.maxResponseBytes) throw tooLarge();
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > API_CLIENT_LIMITS.maxResponseBytes) throw tooLarge();
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function tooLarge(): ExhibitError {
  return new ExhibitError('limit-exceeded', `the API response is larger than ${API_CLIENT_LIMITS.maxResponseBytes} bytes`);
}

function fetchFailure(err: unknown, baseUrl: string, timedOut: boolean, timeoutMs: number): Error {
  if (timedOut) return new ExhibitError('timeout', `the API at ${baseUrl} did not answer within ${timeoutMs} ms`, { cause: err });
  if (err instanceof Error && err.name === 'AbortError') return new ExhibitError('aborted', 'interrupted', { cause: err });
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  const code = cause?.code ?? (err as { code?: string }).code;
  const why = code ? ` (${code})` : '';
  return new CliError('api-unreachable', `cannot reach the Exhibit API at ${baseUrl}${why}: ${START_HINT}`, undefined, { cause: err });
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: Record<string, unknown> };
}

async function httpFailure(res: Response, path: string): Promise<Error> {
  let body: ErrorBody = {};
  try {
    const text = (await readLimited(res)).toString('utf8');
    body = JSON.parse(text) as ErrorBody;
  } catch {
    // Not our JSON error body (e.g. a proxy page): the status line says enough.
  }
  const message = typeof body.error?.message === 'string' ? body.error.message : res.statusText;
  const details = body.error?.details;
  // Stored bytes that no longer hash as recorded: an integrity finding (exit 3), not a transport error.
  if (body.error?.code === 'hash-mismatch') return new ExhibitError('hash-mismatch', `the API refused to serve ${path}: ${message}`, details ? { details } : {});
  switch (res.status) {
    case 400:
      return new ExhibitError('invalid-argument', `the API rejected the request: ${message}`, details ? { details } : {});
    case 401:
      return new ExhibitError(
        'unauthenticated',
        `not signed in, or the token has expired: run ${cliCommand('login --user NAME --role ROLE')} (local stack) or set EXHIBIT_TOKEN`,
      );
    case 403:
      return new ExhibitError('forbidden', `not allowed: ${message}`);
    case 404:
      // The API answers 404 alike for "missing" and "not assigned to this case" on purpose.
      return new ExhibitError('not-found', `not found: ${path} (it does not exist, or you are not assigned to this case)`);
    case 409:
      return new ExhibitError('conflict', message, details ? { details } : {});
    case 503:
      return new CliError('api-error', `the API is temporarily unavailable (${message}); try again shortly`);
    default:
      return new CliError('api-error', `the API answered ${res.status} for ${path}: ${message}`);
  }
}
