import { fileURLToPath } from 'node:url';
import { createStaticSite, issueLocalToken, siteSecurityHeaders, type ApiResponse, type SiteHandler, type SiteRequest } from '@exhibit/api';
import { ExhibitError, ROLES, type ExhibitConfig, type Role } from '@exhibit/core';
import { z } from 'zod';
import type { Invocation } from './function-table.types.js';

/**
 * Where `npm run build` (packages/web) writes the review app. In the Functions
 * bundle this URL is rewritten to the copy under assets/ (functions/scripts/build.mjs),
 * so both hosts serve the same build from the same code.
 */
export const REVIEW_APP_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Local demo users assigned to the bundled sample case (never to any other case). */
export const DEMO_USERS: ReadonlyArray<readonly [string, Role]> = [
  ['alice', 'investigator'],
  ['erin', 'examiner'],
  ['sam', 'supervisor'],
];

/** A browser session is a working day; the CLI's default is longer because it is stored in a file the user owns. */
const BROWSER_TOKEN_TTL_MS = 8 * 60 * 60 * 1000;

const signInBody = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, 'letters, digits and . _ @ - only'),
  role: z.enum(ROLES),
});

/** What the app needs to know before anyone signs in (served as /app-config.json). */
export type ReviewAppConfig =
  | { auth: { kind: 'local'; users: Array<{ user: string; role: Role }>; roles: readonly Role[] } }
  | {
      auth: {
        kind: 'entra';
        tenantId: string;
        clientId: string;
        scopes: string[];
        /** `${authorityHost}/${tenantId}`: where MSAL signs in. */
        authority: string;
        /**
         * Hosts MSAL is to trust without asking login.microsoftonline.com's instance discovery:
         * empty for Microsoft's own clouds (MSAL knows them), the authority's host otherwise.
         */
        knownAuthorities: string[];
      };
    };

/** Authority hosts MSAL carries metadata for; any other needs `knownAuthorities`. */
const MICROSOFT_AUTHORITY_HOSTS = new Set(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net']);

export function reviewAppConfig(config: ExhibitConfig): ReviewAppConfig {
  if (config.auth.kind === 'entra') {
    const { tenantId, audience, authorityHost } = config.auth;
    const web = config.auth.web ?? { clientId: audience.replace(/^api:\/\//, ''), scope: `${audience.startsWith('api://') ? audience : `api://${audience}`}/access_as_user` };
    const host = new URL(authorityHost).host;
    return {
      auth: {
        kind: 'entra',
        tenantId,
        clientId: web.clientId,
        scopes: [web.scope],
        authority: `${authorityHost}/${tenantId}`,
        knownAuthorities: MICROSOFT_AUTHORITY_HOSTS.has(host) ? [] : [host],
      },
    };
  }
  return { auth: { kind: 'local', users: DEMO_USERS.map(([user, role]) => ({ user, role })), roles: ROLES } };
}

/**
 * The headers of every page of the app on this deployment: its CSP lets the
 * page talk to the Entra authority (MSAL fetches its metadata and redeems the
 * code there), and to nothing else but itself.
 */
export function reviewAppSecurityHeaders(config: ExhibitConfig): Record<string, string> {
  return siteSecurityHeaders({ connectSrc: config.auth.kind === 'entra' ? [config.auth.authorityHost] : [] });
}

/**
 * The review app as both hosts serve it beside /api (the local host on its
 * node:http server, Azure through the `site` HTTP function): the built files,
 * /app-config.json, and — on the local stack only — POST /auth/local/token,
 * the browser's `exhibit login`: the same local key signs the same tokens.
 * Anyone who can reach the local host can sign in as anyone, exactly as
 * anyone who can run the CLI on this machine can; with Entra ID configured
 * the route does not exist. It answers only a same-origin request addressed
 * to a loopback name, so another web page (or a DNS-rebound name) cannot mint
 * a token through the user's browser.
 */
export function createReviewAppSite(config: ExhibitConfig, options: { distDir?: string } = {}): SiteHandler {
  const headers = reviewAppSecurityHeaders(config);
  const files = createStaticSite({ rootDir: options.distDir ?? REVIEW_APP_DIST, headers });
  const appConfig = reviewAppConfig(config);

  return async (req) => {
    if (req.path === '/app-config.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed('GET, HEAD');
      return { status: 200, headers: { ...headers, 'cache-control': 'no-cache' }, body: appConfig };
    }
    if (req.path === '/auth/local/token') {
      if (config.auth.kind !== 'local') return files(req);
      if (req.method !== 'POST') return methodNotAllowed('POST');
      if (!isLoopbackHost(req.headers.host) || !sameOrigin(req.headers.origin, req.headers.host)) {
        return { status: 403, body: { error: { code: 'forbidden', message: 'local sign-in is only for pages served by this host on a loopback address' } } };
      }
      const parsed = signInBody.safeParse(req.body);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        return { status: 400, body: { error: { code: 'invalid-argument', message } } };
      }
      try {
        const issued = await issueLocalToken({ user: parsed.data.user, roles: [parsed.data.role], ttlMs: BROWSER_TOKEN_TTL_MS }, { keyDir: config.auth.keyDir });
        return { status: 200, headers: { 'cache-control': 'no-store' }, body: issued };
      } catch (err) {
        if (err instanceof ExhibitError && err.code === 'invalid-argument') return { status: 400, body: { error: { code: err.code, message: err.message } } };
        throw err;
      }
    }
    return files(req);
  };
}

const sites = new WeakMap<ExhibitConfig, SiteHandler>();

/** The `site` function of the table: one site per configuration, built on its first request. */
export function handleSite(config: ExhibitConfig, req: SiteRequest, _inv?: Invocation): Promise<ApiResponse> {
  let site = sites.get(config);
  if (!site) {
    site = createReviewAppSite(config);
    sites.set(config, site);
  }
  return site(req);
}

function methodNotAllowed(allow: string): ApiResponse {
  return { status: 405, headers: { allow }, body: { error: { code: 'method-not-allowed', message: `use ${allow}` } } };
}

const LOOPBACK_HOST_RE = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(?::\d{1,5})?$/i;

export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST_RE.test(host);
}

/** A browser sends Origin on every POST; a request without one is not from a page (curl), and allowed like the CLI. */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  return host !== undefined && origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
