import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ApiResponse } from './api.types.js';

/** What the HTTP server hands a request outside /api. */
export interface SiteRequest {
  method: string;
  /** The URL path, still percent-encoded. */
  path: string;
  headers: Record<string, string | undefined>;
  /** The JSON body when one was sent (POST), else undefined. */
  body?: unknown;
}

/** Answers requests outside /api: the review app, and whatever else the host mounts beside it. */
export type SiteHandler = (req: SiteRequest) => Promise<ApiResponse>;

/**
 * Content types of what `vite build` writes. Anything else is served as bytes
 * (with nosniff, so a browser never guesses a script out of it).
 */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Vite names what it emits under assets/ after a hash of the content: such a name never changes meaning. */
const HASHED_ASSET_RE = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const MAX_PATH_CHARS = 1024;

/**
 * Security headers of every page and asset of the app: nothing from another
 * origin (no CDN, fonts or tiles), no framing, no referrer. `connectSrc` adds
 * the sign-in authority when Entra ID is configured.
 */
export function siteSecurityHeaders(options: { connectSrc?: readonly string[] } = {}): Record<string, string> {
  const connect = ["'self'", ...(options.connectSrc ?? [])].join(' ');
  return {
    'content-security-policy':
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; ` +
      `connect-src ${connect}; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/**
 * Serves a built single-page app from `rootDir`: files by their extension's
 * content type, hashed assets cached for a year as immutable, everything else
 * revalidated; a path that names no file and has no extension gets index.html
 * (the app routes it in the browser). Only GET and HEAD; nothing outside
 * `rootDir` is reachable, whatever the path says (dot segments, encoded
 * slashes, symbolic links).
 */
export function createStaticSite(options: { rootDir: string; headers?: Record<string, string> }): SiteHandler {
  const extra = options.headers ?? siteSecurityHeaders();
  let rootReal: Promise<string> | undefined;

  return async (req) => {
    const method = req.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return { status: 405, headers: { allow: 'GET, HEAD' }, body: { error: { code: 'method-not-allowed', message: 'use GET, HEAD' } } };
    }
    const rel = safeRelativePath(req.path);
    if (rel === null) return notFoundResponse();
    rootReal ??= realpath(options.rootDir);
    const root = await rootReal.catch(() => null);
    if (root === null) {
      return { status: 503, body: { error: { code: 'tool-unavailable', message: 'the review app is not built: run `npm run build`' } } };
    }

    const found = await fileWithin(root, rel);
    if (found) return fileResponse(found, rel, method, extra);
    // A missing file with an extension (a stale asset name, a typo) is a 404, not the app:
    // an HTML page answering for a script would only fail later and more confusingly.
    if (path.posix.extname(rel) !== '') return notFoundResponse();
    const index = await fileWithin(root, '/index.html');
    if (!index) return notFoundResponse();
    return fileResponse(index, '/index.html', method, extra);
  };
}

/** The decoded path, or null when it could point outside the root or is not a plain path. */
export function safeRelativePath(rawPath: string): string | null {
  if (rawPath.length > MAX_PATH_CHARS || !rawPath.startsWith('/')) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  // Dot files (.env, .git) are never part of a build.
  if (segments.some((s) => s.startsWith('.'))) return null;
  const normal = path.posix.normalize(decoded);
  return normal === '/' ? '/index.html' : normal;
}

async function fileWithin(root: string, rel: string): Promise<{ full: string; size: number; mtime: Date } | null> {
  const candidate = path.join(root, rel);
  try {
    const real = await realpath(candidate);
    if (real !== root && !real.startsWith(root + path.sep)) return null;
    const info = await stat(real);
    if (!info.isFile()) return null;
    return { full: real, size: info.size, mtime: info.mtime };
  } catch {
    return null;
  }
}

function fileResponse(file: { full: string; size: number; mtime: Date }, rel: string, method: string, extra: Record<string, string>): ApiResponse {
  const type = CONTENT_TYPES[path.posix.extname(rel).toLowerCase()] ?? 'application/octet-stream';
  const headers: Record<string, string> = {
    ...extra,
    'content-type': type,
    'content-length': String(file.size),
    'last-modified': file.mtime.toUTCString(),
    'cache-control': HASHED_ASSET_RE.test(rel) ? IMMUTABLE : 'no-cache',
  };
  // HEAD: the headers only (the server sends no body for it and keeps this Content-Length).
  return method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: createReadStream(file.full) };
}

function notFoundResponse(): ApiResponse {
  return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from('not found\n') };
}
