import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

const run = promisify(execFile);

/**
 * A small OpenID Connect issuer with Microsoft Entra ID's URL layout under
 * its origin (`/<tenant>/v2.0/.well-known/openid-configuration`,
 * `/<tenant>/oauth2/v2.0/authorize` and `/token`, `/<tenant>/discovery/v2.0/keys`),
 * so MSAL in the browser and the API's token verifier talk to it exactly as
 * they talk to login.microsoftonline.com, given its origin as the authority host.
 *
 * It serves HTTPS (MSAL refuses an http authority) with a self-signed
 * certificate made by openssl for 127.0.0.1; whoever talks to it must trust
 * `certFile` (NODE_EXTRA_CA_CERTS for Node, an ignore-certificate option for
 * the test browser). The authorization code flow is the real one: /authorize
 * signs the user in at once (no page) and redirects back with a single-use
 * code bound to the PKCE challenge, the client and the redirect URI; /token
 * redeems it only with the code_verifier whose S256 hash is that challenge,
 * and returns RS256-signed v2.0 id and access tokens.
 */
export interface OidcUser {
  preferredUsername: string;
  name: string;
  oid: string;
  roles: string[];
}

export interface OidcIssuerOptions {
  tenantId: string;
  /** The SPA's client id: the only client /authorize and /token accept. */
  clientId: string;
  /** Redirect URIs registered for that client (exact match, as in Entra). */
  redirectUris: string[];
  /** The API's application id: `aud` of access tokens for its scope. */
  apiAudience: string;
  /** The API's scope prefix (`api://<app id>`): scopes under it get an access token for apiAudience. */
  apiScopePrefix: string;
  /** Who /authorize signs in. */
  user: OidcUser;
  /** Folder for the certificate and key. */
  dir: string;
}

export interface TokenExchange {
  /** What the browser sent (form fields), the code verifier included. */
  form: Record<string, string>;
  status: number;
  error?: string;
  accessToken?: string;
  idToken?: string;
}

export interface OidcIssuer {
  /** https://127.0.0.1:<port> */
  origin: string;
  certFile: string;
  cert: string;
  /** Every /authorize request's query, in order. */
  authorizations: Array<Record<string, string>>;
  /** Every /token request and its outcome, in order. */
  exchanges: TokenExchange[];
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string | undefined;
  scopes: string[];
  expiresAt: number;
}

const CODE_TTL_MS = 5 * 60_000;
const TOKEN_TTL_SEC = 3600;

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

export async function startOidcIssuer(options: OidcIssuerOptions): Promise<OidcIssuer> {
  const keyFile = path.join(options.dir, 'issuer-key.pem');
  const certFile = path.join(options.dir, 'issuer-cert.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ]);
  const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);

  const pair = await generateKeyPair('RS256', { extractable: true });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, use: 'sig', alg: 'RS256' };
  const signingKey: CryptoKey = pair.privateKey;

  const codes = new Map<string, PendingCode>();
  const authorizations: Array<Record<string, string>> = [];
  const exchanges: TokenExchange[] = [];
  const tenant = options.tenantId;
  let origin = '';
  const issuer = () => `${origin}/${tenant}/v2.0`;
  // What Entra returns as client_info: the user's object id and home tenant, base64url JSON.
  const clientInfo = b64url(JSON.stringify({ uid: options.user.oid, utid: tenant }));

  const sign = (claims: Record<string, unknown>, audience: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ver: '2.0', tid: tenant, oid: options.user.oid, preferred_username: options.user.preferredUsername, name: options.user.name, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
      .setIssuer(issuer())
      .setAudience(audience)
      .setSubject(createHash('sha256').update(`${options.user.oid}:${audience}`).digest('base64url'))
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + TOKEN_TTL_SEC)
      .sign(signingKey);
  };

  const cors = (req: IncomingMessage, res: ServerResponse) => {
    // The SPA calls the metadata and token endpoints from its own origin, as with Entra.
    if (req.headers.origin) {
      res.setHeader('access-control-allow-origin', req.headers.origin);
      res.setHeader('vary', 'origin');
    }
  };
  const json = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown) => {
    cors(req, res);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const oauthError = (req: IncomingMessage, res: ServerResponse, error: string, description: string) => json(req, res, 400, { error, error_description: description });

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const exchange: TokenExchange = { form, status: 400 };
    exchanges.push(exchange);
    const fail = (error: string, description: string) => {
      exchange.error = `${error}: ${description}`;
      oauthError(req, res, error, description);
    };
    if (form.grant_type !== 'authorization_code') return fail('unsupported_grant_type', `grant_type ${form.grant_type ?? '(none)'}`);
    const pending = form.code ? codes.get(form.code) : undefined;
    // Single use, whatever happens next.
    if (form.code) codes.delete(form.code);
    if (!pending || pending.expiresAt < Date.now()) return fail('invalid_grant', 'unknown, used or expired code');
    if (form.client_id !== pending.clientId) return fail('invalid_client', 'code was issued to another client');
    if (form.redirect_uri !== pending.redirectUri) return fail('invalid_grant', 'redirect_uri differs from the authorization request');
    if (!form.code_verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(form.code_verifier)) return fail('invalid_grant', 'code_verifier missing or malformed');
    if (b64url(createHash('sha256').update(form.code_verifier).digest()) !== pending.challenge) return fail('invalid_grant', 'PKCE verification failed: code_verifier does not match code_challenge');

    const apiScopes = pending.scopes.filter((s) => s.startsWith(`${options.apiScopePrefix}/`));
    const accessToken = await sign(
      { azp: pending.clientId, scp: apiScopes.map((s) => s.slice(options.apiScopePrefix.length + 1)).join(' '), roles: options.user.roles },
      options.apiAudience,
    );
    const idToken = await sign({ ...(pending.nonce ? { nonce: pending.nonce } : {}) }, pending.clientId);
    exchange.status = 200;
    exchange.accessToken = accessToken;
    exchange.idToken = idToken;
    json(req, res, 200, {
      token_type: 'Bearer',
      scope: apiScopes.join(' '),
      expires_in: TOKEN_TTL_SEC,
      ext_expires_in: TOKEN_TTL_SEC,
      access_token: accessToken,
      id_token: idToken,
      client_info: clientInfo,
    });
  }

  function authorize(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const q = Object.fromEntries(url.searchParams);
    authorizations.push(q);
    // Errors before the redirect URI is known to be the client's are shown here, never sent anywhere.
    if (q.client_id !== options.clientId || !q.redirect_uri || !options.redirectUris.includes(q.redirect_uri)) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('unknown client or unregistered redirect URI');
      return;
    }
    const back = new URL(q.redirect_uri);
    const params = new URLSearchParams();
    if (q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.code_challenge) {
      params.set('error', 'invalid_request');
      params.set('error_description', 'authorization code with PKCE (S256) only');
    } else {
      const code = b64url(randomBytes(32));
      codes.set(code, {
        clientId: q.client_id,
        redirectUri: q.redirect_uri,
        challenge: q.code_challenge,
        nonce: q.nonce,
        scopes: (q.scope ?? '').split(' ').filter(Boolean),
        expiresAt: Date.now() + CODE_TTL_MS,
      });
      params.set('code', code);
      params.set('client_info', clientInfo);
    }
    if (q.state) params.set('state', q.state);
    // MSAL asks for the fragment (kept out of server logs and Referer); query when asked.
    if (q.response_mode === 'query') back.search = params.toString();
    else back.hash = params.toString();
    res.writeHead(302, { location: back.toString(), 'cache-control': 'no-store' });
    res.end();
  }

  const server: Server = createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url ?? '/', origin || 'https://127.0.0.1');
    const p = url.pathname;
    if (req.method === 'OPTIONS') {
      cors(req, res);
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (req.method === 'GET' && p === `/${tenant}/v2.0/.well-known/openid-configuration`) {
      json(req, res, 200, {
        issuer: issuer(),
        authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
        end_session_endpoint: `${origin}/${tenant}/oauth2/v2.0/logout`,
        jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        token_endpoint_auth_methods_supported: ['none'],
      });
      return;
    }
    if (req.method === 'GET' && p === `/${tenant}/discovery/v2.0/keys`) {
      json(req, res, 200, { keys: [publicJwk] });
      return;
    }
    if (req.method === 'GET' && p === `/${tenant}/oauth2/v2.0/authorize`) {
      authorize(url, req, res);
      return;
    }
    if (req.method === 'POST' && p === `/${tenant}/oauth2/v2.0/token`) {
      token(req, res).catch((err: unknown) => oauthError(req, res, 'server_error', String(err)));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    certFile,
    cert,
    authorizations,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A random GUID, the shape of Entra's tenant and client ids. */
export const guid = (): string => randomUUID();
