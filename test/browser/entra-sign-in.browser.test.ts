import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeBrowserAndHost, findChromium, openGuardedBrowser, seriousA11yViolations, type GuardedBrowser } from '../support/browser.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import { guid, startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.js';

/**
 * Sign-in through Entra ID as deployed (MSAL, authorization code + PKCE, full
 * page redirect), with a local OpenID Connect issuer in Entra's layout standing
 * in for login.microsoftonline.com: the local host runs with
 * EXHIBIT_ENTRA_AUTHORITY_HOST pointing at it, so the API verifies the issuer's
 * RS256 tokens against its key set (trusting its certificate through
 * NODE_EXTRA_CA_CERTS), and the review app gets it as its authority from
 * /app-config.json. Nothing here is stubbed: MSAL builds the request, the
 * issuer checks the PKCE verifier, the API checks the token.
 */
const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('browser tests skipped: chromium not found (Debian package chromium; .ci/run installs it)');

const USER = 'ines@contoso.example';

/** An HTTPS request to the issuer from Node, trusting its self-signed certificate only. */
function issuerRequest(issuer: OidcIssuer, url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
    const req = httpsRequest(
      url,
      {
        method: init.method ?? 'GET',
        ca: issuer.cert,
        headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(!CHROMIUM)('Entra ID sign-in in Chromium: MSAL auth code + PKCE against a local OpenID Connect issuer', () => {
  let dir: string;
  let issuer: OidcIssuer;
  let h: HostProcessEnv;
  let host: HostProcess;
  let chrome: GuardedBrowser;
  let page: Page;
  let appUrl: string;
  const tenantId = guid();
  const apiAppId = guid();
  const spaClientId = guid();
  const oid = guid();
  const requests: Array<{ url: string; authorization?: string }> = [];
  const navigations: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-entra-'));
    h = await allocateHostEnv({ EXHIBIT_INGEST_SAMPLES: 'false' });
    appUrl = h.apiUrl.replace(/\/api$/, '/');
    issuer = await startOidcIssuer({
      tenantId,
      clientId: spaClientId,
      redirectUris: [appUrl],
      apiAudience: apiAppId,
      apiScopePrefix: `api://${apiAppId}`,
      // 'Reader' is not an Exhibit role: the app and the API both ignore it.
      user: { preferredUsername: USER, name: 'Ines Investigator', oid, roles: ['supervisor', 'investigator', 'Reader'] },
      dir,
    });
    Object.assign(h.env, {
      EXHIBIT_ENTRA_TENANT_ID: tenantId,
      EXHIBIT_ENTRA_AUDIENCE: apiAppId,
      EXHIBIT_ENTRA_SPA_CLIENT_ID: spaClientId,
      EXHIBIT_ENTRA_AUTHORITY_HOST: issuer.origin,
      // The API fetches the issuer's key set over HTTPS: trust its certificate, as a deployment trusts Microsoft's.
      NODE_EXTRA_CA_CERTS: issuer.certFile,
    });
    host = await startHostProcess(h);
    chrome = await openGuardedBrowser(CHROMIUM!, { ignoreHTTPSErrors: true });
    page = chrome.page;
    page.on('request', (r) => {
      const authorization = r.headers().authorization;
      requests.push({ url: r.url(), ...(authorization ? { authorization } : {}) });
    });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
  });

  afterAll(async () => {
    await closeBrowserAndHost(chrome, host);
    await issuer?.close();
    if (h) await removeHostEnv(h);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('tells the app to sign in at the configured authority, and offers no local sign-in', async () => {
    const config = (await (await fetch(`${appUrl}app-config.json`)).json()) as { auth: Record<string, unknown> };
    expect(config.auth).toEqual({
      kind: 'entra',
      tenantId,
      clientId: spaClientId,
      scopes: [`api://${apiAppId}/access_as_user`],
      authority: `${issuer.origin}/${tenantId}`,
      knownAuthorities: [new URL(issuer.origin).host],
    });
    const local = await fetch(`${appUrl}auth/local/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', role: 'admin' }) });
    expect(local.status).toBe(405);

    await page.goto(appUrl);
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).waitFor();
    expect(await page.locator('button[data-user]').count()).toBe(0);
    expect(await page.locator('select, input').count()).toBe(0);
    expect(await seriousA11yViolations(page)).toEqual([]);
  });

  it('signs in through the redirect flow with PKCE and lands signed in with the roles from the token', async () => {
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await page.getByRole('heading', { name: 'Your cases' }).waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId('signed-in-as').textContent()).toBe(`${USER} (supervisor, investigator)`);

    // MSAL asked for a code with an S256 challenge, for the API's scope, to come back to the app.
    expect(issuer.authorizations).toHaveLength(1);
    const asked = issuer.authorizations[0]!;
    expect(asked).toMatchObject({ client_id: spaClientId, response_type: 'code', code_challenge_method: 'S256', redirect_uri: appUrl });
    expect(asked.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.scope!.split(' ')).toContain(`api://${apiAppId}/access_as_user`);
    // ... and redeemed it once, with the verifier the issuer checked against that challenge.
    const redeemed = issuer.exchanges.filter((e) => e.status === 200);
    expect(redeemed).toHaveLength(1);
    const exchange = redeemed[0]!;
    expect(createHash('sha256').update(exchange.form.code_verifier!).digest('base64url')).toBe(asked.code_challenge);
    const accessToken = exchange.accessToken!;

    // The app calls the API with exactly that token, and the API took it (the cases screen loaded from /me).
    const apiCalls = requests.filter((r) => r.url.startsWith(`${appUrl}api/`));
    expect(apiCalls.length).toBeGreaterThan(0);
    for (const call of apiCalls) expect(call.authorization).toBe(`Bearer ${accessToken}`);
    const me = await fetch(`${h.apiUrl}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: USER, roles: ['supervisor', 'investigator'] });
  });

  it('keeps the tokens out of every URL and out of localStorage', async () => {
    const exchange = issuer.exchanges.find((e) => e.status === 200)!;
    const secrets = [exchange.accessToken!, exchange.idToken!];
    // The address bar after the round trip: no code, no state, no token.
    expect(page.url()).toBe(`${appUrl}cases`);
    for (const url of [...navigations, ...requests.map((r) => r.url)]) {
      for (const secret of secrets) expect(url.includes(secret), url).toBe(false);
      // No implicit-flow answer either (MSAL's `claims` request parameter names id_token as JSON; that is not a token).
      expect(url).not.toMatch(/[?#&](access_token|id_token)=/);
    }
    const local = await page.evaluate(() => {
      const s = (globalThis as any).localStorage;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) out.push(`${s.key(i)}=${s.getItem(s.key(i))}`);
      return out;
    });
    for (const entry of local) {
      for (const secret of secrets) expect(entry.includes(secret), `localStorage ${entry.slice(0, 80)}`).toBe(false);
      // Not even part of a JWT (MSAL's cache entries hold tokens whole).
      expect(entry).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    }
    // Where it is: this tab's sessionStorage, gone with the tab.
    const session = await page.evaluate(() => JSON.stringify({ ...(globalThis as any).sessionStorage }));
    expect(session).toContain(exchange.accessToken!);
    expect(chrome.offHost).toEqual([]);
  });

  it('stays signed in on reload (same tab), and a new tab starts signed out', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Your cases' }).waitFor();
    expect(issuer.authorizations).toHaveLength(1);
    const other = await chrome.context.newPage();
    try {
      await other.goto(appUrl);
      await other.getByRole('button', { name: 'Sign in with Microsoft' }).waitFor();
    } finally {
      await other.close();
    }
  });

  it('the issuer refuses a code redeemed with the wrong PKCE verifier, and a code used twice', async () => {
    // The browser's success above means something only if the issuer really checks: show it does.
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorizeUrl = new URL(`${issuer.origin}/${tenantId}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({ client_id: spaClientId, redirect_uri: appUrl, response_type: 'code', scope: `openid api://${apiAppId}/access_as_user`, code_challenge: challenge, code_challenge_method: 'S256', state: 's1' })) {
      authorizeUrl.searchParams.set(k, v);
    }
    const codeFor = async () => {
      const r = await issuerRequest(issuer, authorizeUrl.href);
      expect(r.status).toBe(302);
      return new URLSearchParams(new URL(r.location!).hash.slice(1)).get('code')!;
    };
    const redeem = (code: string, codeVerifier: string) =>
      issuerRequest(issuer, `${issuer.origin}/${tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        form: { grant_type: 'authorization_code', client_id: spaClientId, redirect_uri: appUrl, code, code_verifier: codeVerifier },
      });
    const code = await codeFor();
    const wrong = await redeem(code, randomBytes(32).toString('base64url'));
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body)).toMatchObject({ error: 'invalid_grant' });
    expect((await redeem(code, verifier)).status).toBe(400);
    const fresh = await codeFor();
    const right = await redeem(fresh, verifier);
    expect(right.status).toBe(200);
    expect((await redeem(fresh, verifier)).status).toBe(400);
    // A redirect URI the client did not register gets no code at all.
    authorizeUrl.searchParams.set('redirect_uri', 'http://127.0.0.1:1/');
    expect((await issuerRequest(issuer, authorizeUrl.href)).status).toBe(400);
  });
});
