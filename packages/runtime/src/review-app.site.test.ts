import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalTokenVerifier } from '@exhibit/api';
import { loadConfig } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReviewAppSite, isLoopbackHost, sameOrigin } from './review-app.site.js';

describe('review app site (both hosts)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-review-site-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('signs in locally with a token the API accepts, for the user and role asked', async () => {
    const config = loadConfig({ EXHIBIT_DATA_DIR: dataDir });
    const site = createReviewAppSite(config, { distDir: path.join(dataDir, 'none') });
    const r = await site({ method: 'POST', path: '/auth/local/token', headers: { host: '127.0.0.1:7071', origin: 'http://127.0.0.1:7071' }, body: { user: 'alice', role: 'investigator' } });
    expect(r.status).toBe(200);
    expect(r.headers?.['cache-control']).toBe('no-store');
    const { token } = r.body as { token: string };
    const principal = await createLocalTokenVerifier({ keyDir: path.join(dataDir, 'keys') }).verify(token);
    expect(principal).toMatchObject({ user: 'alice', roles: ['investigator'], authKind: 'local' });

    const config1 = (await site({ method: 'GET', path: '/app-config.json', headers: {} })).body as { auth: { kind: string; users: Array<{ user: string }> } };
    expect(config1.auth.kind).toBe('local');
    expect(config1.auth.users.map((u) => u.user)).toEqual(['alice', 'erin', 'sam']);
  });

  it('refuses another origin, a non-loopback name (DNS rebinding) and bad input', async () => {
    const site = createReviewAppSite(loadConfig({ EXHIBIT_DATA_DIR: dataDir }), { distDir: path.join(dataDir, 'none') });
    const ask = (headers: Record<string, string>, body: unknown = { user: 'alice', role: 'admin' }) => site({ method: 'POST', path: '/auth/local/token', headers, body });
    expect((await ask({ host: '127.0.0.1:7071', origin: 'http://evil.example' })).status).toBe(403);
    expect((await ask({ host: 'rebound.example:7071', origin: 'http://rebound.example:7071' })).status).toBe(403);
    expect((await ask({ host: '127.0.0.1:7071' }, { user: 'a b', role: 'admin' })).status).toBe(400);
    expect((await ask({ host: '127.0.0.1:7071' }, { user: 'alice', role: 'root' })).status).toBe(400);
    expect((await site({ method: 'GET', path: '/auth/local/token', headers: { host: '127.0.0.1' } })).status).toBe(405);
    expect(isLoopbackHost('localhost:7071')).toBe(true);
    expect(isLoopbackHost('[::1]:7071')).toBe(true);
    expect(isLoopbackHost('10.0.0.1:7071')).toBe(false);
    expect(sameOrigin('http://127.0.0.1:7071', '127.0.0.1:7071')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:7072', '127.0.0.1:7071')).toBe(false);
  });

  it('has no local sign-in with Entra ID, and tells the app how to reach Entra', async () => {
    const config = loadConfig({ EXHIBIT_DATA_DIR: dataDir, EXHIBIT_ENTRA_TENANT_ID: '00000000-0000-0000-0000-000000000001', EXHIBIT_ENTRA_AUDIENCE: 'api://exhibit-prod' });
    const site = createReviewAppSite(config, { distDir: path.join(dataDir, 'none') });
    const token = await site({ method: 'POST', path: '/auth/local/token', headers: { host: '127.0.0.1:7071' }, body: { user: 'alice', role: 'admin' } });
    expect(token.status).not.toBe(200);
    const app = await site({ method: 'GET', path: '/app-config.json', headers: {} });
    expect(app.body).toEqual({
      auth: {
        kind: 'entra',
        tenantId: '00000000-0000-0000-0000-000000000001',
        clientId: 'exhibit-prod',
        scopes: ['api://exhibit-prod/access_as_user'],
        authority: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001',
        knownAuthorities: [],
      },
    });
    expect(app.headers?.['content-security-policy']).toContain('connect-src \'self\' https://login.microsoftonline.com;');
  });

  it('follows the configured authority host: a national cloud MSAL knows, any other host named as known', async () => {
    const tenant = '00000000-0000-0000-0000-000000000001';
    const at = async (host: string) => {
      const config = loadConfig({ EXHIBIT_DATA_DIR: dataDir, EXHIBIT_ENTRA_TENANT_ID: tenant, EXHIBIT_ENTRA_AUDIENCE: 'api://exhibit-prod', EXHIBIT_ENTRA_AUTHORITY_HOST: host });
      const r = await createReviewAppSite(config, { distDir: path.join(dataDir, 'none') })({ method: 'GET', path: '/app-config.json', headers: {} });
      return { auth: (r.body as { auth: { authority: string; knownAuthorities: string[] } }).auth, csp: r.headers?.['content-security-policy'] ?? '' };
    };
    const us = await at('https://login.microsoftonline.us/');
    expect(us.auth).toMatchObject({ authority: `https://login.microsoftonline.us/${tenant}`, knownAuthorities: [] });
    expect(us.csp).toContain("connect-src 'self' https://login.microsoftonline.us;");
    const test = await at('https://127.0.0.1:8443');
    expect(test.auth).toMatchObject({ authority: `https://127.0.0.1:8443/${tenant}`, knownAuthorities: ['127.0.0.1:8443'] });
    expect(() => loadConfig({ EXHIBIT_ENTRA_TENANT_ID: tenant, EXHIBIT_ENTRA_AUDIENCE: 'x', EXHIBIT_ENTRA_AUTHORITY_HOST: 'http://login.example' })).toThrow(/https origin/);
    expect(() => loadConfig({ EXHIBIT_ENTRA_TENANT_ID: tenant, EXHIBIT_ENTRA_AUDIENCE: 'x', EXHIBIT_ENTRA_AUTHORITY_HOST: 'https://login.example/tenant' })).toThrow(/https origin/);
  });
});
