import { getSession, setSession } from './session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Same origin as the app: the host serves both. */
export const API_BASE = '/api';

async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const session = getSession();
  const headers = new Headers(init.headers);
  if (session) headers.set('authorization', `Bearer ${session.token}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(`${API_BASE}${path}`, { ...init, headers, credentials: 'omit', cache: init.cache ?? 'default' });
  if (!res.ok) {
    let code = 'http-' + res.status;
    let message = res.statusText;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not JSON
    }
    // An expired or revoked token: back to sign-in rather than a screen of errors.
    if (res.status === 401) setSession(null);
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function apiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await send(path, signal ? { signal } : {});
  return (await res.json()) as T;
}

export async function apiSend<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T | null> {
  const res = await send(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? (JSON.parse(text) as T) : null;
}

export async function apiBlob(path: string, signal?: AbortSignal): Promise<{ blob: Blob; headers: Headers }> {
  const res = await send(path, signal ? { signal } : {});
  return { blob: await res.blob(), headers: res.headers };
}

/** Saves bytes the API gave as a file (reports, exports): no token ever goes into a link. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}
