import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HttpRequest, InvocationContext, type HttpFunctionOptions, type HttpRequestInit, type HttpResponseInit } from '@azure/functions';
import { createLocalTokenVerifier } from '@exhibit/api';
import { loadConfig, type ExhibitConfig } from '@exhibit/core';
import { FUNCTIONS, REVIEW_APP_DIST } from '@exhibit/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain ES module script (packages/web/scripts), no types
import { buildIfStale } from '../../packages/web/scripts/build-if-stale.mjs';
import { lazyHost } from '../src/app-instance.js';
import { createFunctionsLogger } from '../src/invocation-log.js';
import { registerFunctions } from '../src/register.js';

/**
 * The review app as Azure serves it: the `site` function registered from the
 * runtime's table, called the way the Functions host calls it (a real
 * HttpRequest and InvocationContext from @azure/functions), over the real
 * build of packages/web. The host never builds the app behind /api here:
 * pages need only the configuration.
 */
const TENANT = '72f988bf-0000-4000-8000-00000000c0de';
const SPA_CLIENT_ID = 'b7c0ffee-0000-4000-8000-00000000051a';
const ORIGIN = 'https://func-exhibit-test.azurewebsites.net';

function siteFunction(config: ExhibitConfig): HttpFunctionOptions {
  const http = new Map<string, HttpFunctionOptions>();
  const host = lazyHost(
    createFunctionsLogger('silent'),
    () => Promise.reject(new Error('the site must not need the app (PostgreSQL, storage)')),
    () => config,
  );
  registerFunctions({ serviceBusQueue: () => undefined, timer: () => undefined, http: (name, options) => http.set(name, options) }, FUNCTIONS, host);
  const site = http.get('site');
  if (!site) throw new Error('no site function registered');
  return site;
}

/** A JSON POST as the Functions host hands it over: with its Content-Length. */
function jsonPost(url: string, headers: Record<string, string>, value: unknown): HttpRequestInit {
  const text = JSON.stringify(value);
  return { method: 'POST', url, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: { string: text } };
}

async function call(fn: HttpFunctionOptions, init: HttpRequestInit): Promise<HttpResponseInit & { headers: Record<string, string>; bytes: Buffer }> {
  const context = new InvocationContext({ invocationId: randomUUID(), functionName: 'site', logHandler: () => undefined });
  const response = (await fn.handler(new HttpRequest(init), context)) as HttpResponseInit;
  const body = response.body;
  let bytes = Buffer.alloc(0);
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
    bytes = Buffer.concat(chunks);
  } else if (typeof body === 'string') bytes = Buffer.from(body);
  else if (Buffer.isBuffer(body)) bytes = body;
  else if (body !== undefined && body !== null) throw new Error(`unexpected body ${typeof body}`);
  return { ...response, headers: (response.headers ?? {}) as Record<string, string>, bytes };
}

describe('the review app from the Function app (site function, Entra ID configured)', () => {
  let dataDir: string;
  let entra: ExhibitConfig;
  let site: HttpFunctionOptions;

  beforeAll(async () => {
    buildIfStale();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-site-fn-'));
    entra = loadConfig(
      { EXHIBIT_DATA_DIR: dataDir, EXHIBIT_ENTRA_TENANT_ID: TENANT, EXHIBIT_ENTRA_AUDIENCE: 'api://exhibit-test', EXHIBIT_ENTRA_SPA_CLIENT_ID: SPA_CLIENT_ID },
      { cwd: dataDir },
    );
    site = siteFunction(entra);
  }, 120_000);

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('is registered on the catch-all route, anonymous, for GET, HEAD and POST', () => {
    expect(site.route).toBe('{*path}');
    expect(site.authLevel).toBe('anonymous');
    expect([...(site.methods ?? [])].sort()).toEqual(['GET', 'HEAD', 'POST']);
  });

  it('serves index.html at / and for the app\'s own addresses, revalidated every time, with the CSP', async () => {
    const index = await call(site, { method: 'GET', url: `${ORIGIN}/` });
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.bytes.toString('utf8')).toBe(await readFile(path.join(REVIEW_APP_DIST, 'index.html'), 'utf8'));
    const csp = index.headers['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    // The page may talk to itself and to the Entra authority, nothing else.
    expect(csp).toContain("connect-src 'self' https://login.microsoftonline.com;");
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.headers['referrer-policy']).toBe('no-referrer');
    expect(index.headers['x-request-id']).toBeTruthy();

    const deep = await call(site, { method: 'GET', url: `${ORIGIN}/cases/CASE-001/gallery?kind=image` });
    expect(deep.status).toBe(200);
    expect(deep.bytes.equals(index.bytes)).toBe(true);

    const head = await call(site, { method: 'HEAD', url: `${ORIGIN}/` });
    expect(head.status).toBe(200);
    expect(head.bytes.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(index.bytes.length));
  });

  it('serves hashed assets as immutable, with their content type and bytes', async () => {
    const html = (await call(site, { method: 'GET', url: `${ORIGIN}/` })).bytes.toString('utf8');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    const js = await call(site, { method: 'GET', url: `${ORIGIN}${script}` });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.bytes.equals(await readFile(path.join(REVIEW_APP_DIST, script!)))).toBe(true);
    const css = await call(site, { method: 'GET', url: `${ORIGIN}${style}` });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    // A stale asset name is a 404, never index.html standing in for a script; nothing outside the build.
    expect((await call(site, { method: 'GET', url: `${ORIGIN}/assets/index-00000000.js` })).status).toBe(404);
    expect((await call(site, { method: 'GET', url: `${ORIGIN}/..%2f..%2fpackage.json` })).status).toBe(404);
    expect((await call(site, { method: 'GET', url: `${ORIGIN}/%2e%2e/%2e%2e/host.json` })).status).toBe(404);
  });

  it('tells the app to sign in with Entra ID, and has no local sign-in', async () => {
    const res = await call(site, { method: 'GET', url: `${ORIGIN}/app-config.json` });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(JSON.parse(res.bytes.toString('utf8'))).toEqual({
      auth: {
        kind: 'entra',
        tenantId: TENANT,
        clientId: SPA_CLIENT_ID,
        scopes: ['api://exhibit-test/access_as_user'],
        authority: `https://login.microsoftonline.com/${TENANT}`,
        knownAuthorities: [],
      },
    });

    const local = await call(site, jsonPost(`${ORIGIN}/auth/local/token`, { host: '127.0.0.1:7071', origin: 'http://127.0.0.1:7071' }, { user: 'alice', role: 'admin' }));
    expect(local.status).toBe(405);
    expect(local.bytes.toString('utf8')).not.toContain('token');
  });

  it('offers local sign-in only on a deployment without Entra ID (the same handler, local configuration)', async () => {
    const localConfig = loadConfig({ EXHIBIT_DATA_DIR: dataDir }, { cwd: dataDir });
    const localSite = siteFunction(localConfig);
    const appConfig = JSON.parse((await call(localSite, { method: 'GET', url: 'http://127.0.0.1:7071/app-config.json' })).bytes.toString('utf8')) as { auth: { kind: string } };
    expect(appConfig.auth.kind).toBe('local');
    const signedIn = await call(localSite, jsonPost('http://127.0.0.1:7071/auth/local/token', { host: '127.0.0.1:7071', origin: 'http://127.0.0.1:7071' }, { user: 'alice', role: 'investigator' }));
    expect(signedIn.status).toBe(200);
    const { token } = JSON.parse(signedIn.bytes.toString('utf8')) as { token: string };
    expect(await createLocalTokenVerifier({ keyDir: path.join(dataDir, 'keys') }).verify(token)).toMatchObject({ user: 'alice', roles: ['investigator'] });
    // Never for a page on another name, such as the Function app's own host name.
    const remote = await call(localSite, jsonPost(`${ORIGIN}/auth/local/token`, { host: new URL(ORIGIN).host, origin: ORIGIN }, { user: 'alice', role: 'admin' }));
    expect(remote.status).toBe(403);
  });

  it('answers 500 (the reason goes to the log, not to the caller) when the settings are invalid', async () => {
    const http = new Map<string, HttpFunctionOptions>();
    const broken = lazyHost(
      createFunctionsLogger('silent'),
      () => Promise.reject(new Error('unused')),
      () => loadConfig({ EXHIBIT_ENTRA_TENANT_ID: TENANT }),
    );
    registerFunctions({ serviceBusQueue: () => undefined, timer: () => undefined, http: (name, options) => http.set(name, options) }, FUNCTIONS, broken);
    const res = await call(http.get('site')!, { method: 'GET', url: `${ORIGIN}/` });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.bytes.toString('utf8'))).toMatchObject({ error: { code: 'internal' } });
    expect(res.bytes.toString('utf8')).not.toContain('EXHIBIT_ENTRA');
  });
});
