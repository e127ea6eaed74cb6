import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { createEntraTokenVerifier } from './entra-token.js';
import { createTokenVerifier } from './token-verifier.js';

/**
 * Entra ID validation against a key set served by a local HTTP server: the
 * same code path as the tenant's discovery keys, without the network.
 */
const TENANT = '11111111-2222-3333-4444-555555555555';
const AUDIENCE = 'api://exhibit-test';
const ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;

let server: Server;
let jwksUrl: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksRequests = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };
  server = createServer((req, res) => {
    jwksRequests += 1;
    if (req.url === '/keys') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    } else {
      res.writeHead(500);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function token(
  claims: Record<string, unknown>,
  options: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; expInSec?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tid: TENANT, ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? 'test-key-1' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + (options.expInSec ?? 600))
    .sign(options.key ?? signingKey);
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isExhibitError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('Entra ID tokens', () => {
  const verifier = () => createEntraTokenVerifier({ tenantId: TENANT, audience: AUDIENCE }, { jwksUrl });

  it('accepts a tenant token: user from preferred_username, known app roles only', async () => {
    const principal = await verifier().verify(
      await token({ preferred_username: 'alice@contoso.example', oid: 'oid-alice', roles: ['examiner', 'Reader', 'supervisor'] }),
    );
    expect(principal).toMatchObject({ user: 'alice@contoso.example', objectId: 'oid-alice', roles: ['examiner', 'supervisor'], authKind: 'entra' });
  });

  it('falls back to oid when there is no user name (app-only tokens)', async () => {
    const principal = await verifier().verify(await token({ oid: 'oid-service', roles: ['investigator'] }));
    expect(principal.user).toBe('oid-service');
  });

  it('is reached through createTokenVerifier for entra config', async () => {
    const v = createTokenVerifier({ kind: 'entra', tenantId: TENANT, audience: AUDIENCE, authorityHost: 'https://login.microsoftonline.com' }, { jwksUrl });
    expect((await v.verify(await token({ oid: 'x', roles: [] }))).roles).toEqual([]);
  });

  it('takes the issuer from the configured authority host (national clouds)', async () => {
    const v = createEntraTokenVerifier({ tenantId: TENANT, audience: AUDIENCE, authorityHost: 'https://login.microsoftonline.us' }, { jwksUrl });
    const us = await v.verify(await token({ oid: 'x' }, { iss: `https://login.microsoftonline.us/${TENANT}/v2.0` }));
    expect(us.user).toBe('x');
    const global = await rejection(v.verify(await token({ oid: 'x' })));
    expect(global.message).toMatch(/'iss'/);
  });

  it('rejects another issuer, audience or tenant', async () => {
    const v = verifier();
    const otherIssuer = await rejection(v.verify(await token({ oid: 'x' }, { iss: 'https://login.microsoftonline.com/other/v2.0' })));
    expect(otherIssuer.code).toBe('unauthenticated');
    expect(otherIssuer.message).toMatch(/'iss'/);
    const otherAudience = await rejection(v.verify(await token({ oid: 'x' }, { aud: 'api://someone-else' })));
    expect(otherAudience.message).toMatch(/'aud'/);
    const otherTenant = await rejection(v.verify(await token({ oid: 'x', tid: '99999999-2222-3333-4444-555555555555' })));
    expect(otherTenant).toEqual({ code: 'unauthenticated', message: 'token is for another tenant' });
  });

  it('rejects an expired token, an unknown key and a forged signature', async () => {
    const v = verifier();
    expect(await rejection(v.verify(await token({ oid: 'x' }, { expInSec: -600 })))).toEqual({ code: 'unauthenticated', message: 'token expired' });
    expect(await rejection(v.verify(await token({ oid: 'x' }, { kid: 'not-in-set', key: strangerKey })))).toEqual({
      code: 'unauthenticated',
      message: 'token signed by an unknown key',
    });
    expect(await rejection(v.verify(await token({ oid: 'x' }, { key: strangerKey })))).toEqual({
      code: 'unauthenticated',
      message: 'token signature invalid',
    });
  });

  it('rejects a symmetric token made with the public key as secret (algorithm confusion)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const hs = await new SignJWT({ oid: 'x', tid: TENANT })
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode('a-shared-secret-of-sufficient-length!!'));
    expect((await rejection(verifier().verify(hs))).code).toBe('unauthenticated');
  });

  it('rejects a token that names no user', async () => {
    expect(await rejection(verifier().verify(await token({ roles: ['examiner'] })))).toEqual({
      code: 'unauthenticated',
      message: 'token names no user (no oid)',
    });
  });

  it('entra-preferred-username-without-oid-rejected: a name alone is not an identity', async () => {
    // preferred_username is mutable (a renamed or reused UPN): it never decides access on its own.
    expect(await rejection(verifier().verify(await token({ preferred_username: 'alice@contoso.example', roles: ['examiner'] })))).toEqual({
      code: 'unauthenticated',
      message: 'token names no user (no oid)',
    });
  });

  it('reports an unreachable key set as retryable, not as a bad token', async () => {
    const before = jwksRequests;
    const broken = createEntraTokenVerifier({ tenantId: TENANT, audience: AUDIENCE }, { jwksUrl: jwksUrl.replace('/keys', '/broken') });
    const err = await rejection(broken.verify(await token({ oid: 'x' })));
    expect(err.code).toBe('timeout');
    expect(jwksRequests).toBeGreaterThan(before);
    const closedPort = createServer();
    await new Promise<void>((resolve) => closedPort.listen(0, '127.0.0.1', resolve));
    const port = (closedPort.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closedPort.close(() => resolve()));
    const refused = createEntraTokenVerifier({ tenantId: TENANT, audience: AUDIENCE }, { jwksUrl: `http://127.0.0.1:${port}/keys` });
    expect((await rejection(refused.verify(await token({ oid: 'x' })))).code).toBe('timeout');
  });

  it('refuses a tenant id that would change the key set URL', () => {
    expect(() => createEntraTokenVerifier({ tenantId: 'evil/../x', audience: AUDIENCE })).toThrow(/tenant id/);
  });
});
