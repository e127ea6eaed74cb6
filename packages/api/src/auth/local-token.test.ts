import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT, importJWK, jwtVerify, decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { LOCAL_KEY_FILE, LOCAL_PUBLIC_JWK_FILE, loadLocalSigningKey } from './local-key.js';
import { createLocalTokenVerifier, issueLocalToken, LOCAL_TOKEN_AUDIENCE, LOCAL_TOKEN_ISSUER } from './local-token.js';

let keyDir: string;

beforeEach(async () => {
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-keys-'));
});
afterEach(async () => {
  await rm(keyDir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isExhibitError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Signs with the real local key but lets the test choose the claims. */
async function signWithLocalKey(claims: { iss?: string; aud?: string; sub?: string; roles?: unknown; iat?: number; exp?: number }) {
  const key = await loadLocalSigningKey(keyDir);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ roles: claims.roles ?? ['examiner'] })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
    .setIssuer(claims.iss ?? LOCAL_TOKEN_ISSUER)
    .setAudience(claims.aud ?? LOCAL_TOKEN_AUDIENCE)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 600);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  return jwt.sign(key.privateKey);
}

describe('local tokens', () => {
  it('issues a token that verifies to the same user and roles', async () => {
    const issued = await issueLocalToken({ user: 'alice', roles: ['examiner', 'supervisor', 'examiner'], ttlMs: 60_000 }, { keyDir });
    expect(issued.roles).toEqual(['examiner', 'supervisor']);
    const principal = await createLocalTokenVerifier({ keyDir }).verify(issued.token);
    expect(principal).toMatchObject({ user: 'alice', roles: ['examiner', 'supervisor'], authKind: 'local', expiresAt: issued.expiresAt });
    const claims = decodeJwt(issued.token);
    expect(claims.exp! - claims.iat!).toBe(60);
    expect(typeof claims.jti).toBe('string');
  });

  it('keeps the key owner-only and publishes the public half as a JWK that verifies tokens', async () => {
    const issued = await issueLocalToken({ user: 'alice', roles: ['examiner'] }, { keyDir });
    const keyStat = await stat(path.join(keyDir, LOCAL_KEY_FILE));
    expect(keyStat.mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(await readFile(path.join(keyDir, LOCAL_PUBLIC_JWK_FILE), 'utf8')) as Record<string, string>;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk.d).toBeUndefined();
    const { payload, protectedHeader } = await jwtVerify(issued.token, await importJWK(jwk, 'EdDSA'));
    expect(payload.sub).toBe('alice');
    expect(protectedHeader.kid).toBe(jwk.kid);
  });

  it('creates one key when several callers start at once', async () => {
    // Symlinks give distinct paths to one folder, defeating the in-process
    // cache the way separate processes would.
    const links = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(async (i) => {
        const link = path.join(os.tmpdir(), `exhibit-keys-link-${process.pid}-${Date.now()}-${i}`);
        await symlink(keyDir, link);
        return link;
      }),
    );
    try {
      const keys = await Promise.all(links.map((d) => loadLocalSigningKey(d)));
      expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
      expect((await readdir(keyDir)).sort()).toEqual([LOCAL_KEY_FILE, LOCAL_PUBLIC_JWK_FILE].sort());
    } finally {
      await Promise.all(links.map((l) => unlink(l)));
    }
  });

  it('refuses a key file that others can read', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const file = path.join(keyDir, LOCAL_KEY_FILE);
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await chmod(file, 0o644);
    const err = await rejection(issueLocalToken({ user: 'alice', roles: ['examiner'] }, { keyDir }));
    expect(err.code).toBe('invalid-config');
    expect(err.message).toMatch(/chmod 600/);
  });

  it('rejects an expired token', async () => {
    const issued = await issueLocalToken({ user: 'alice', roles: ['examiner'], ttlMs: 60_000 }, { keyDir, now: new Date(Date.now() - 3_600_000) });
    const err = await rejection(createLocalTokenVerifier({ keyDir }).verify(issued.token));
    expect(err).toEqual({ code: 'unauthenticated', message: 'token expired' });
  });

  it('rejects a token for another audience or from another issuer', async () => {
    const verifier = createLocalTokenVerifier({ keyDir });
    const wrongAud = await rejection(verifier.verify(await signWithLocalKey({ sub: 'alice', aud: 'urn:someone-else' })));
    expect(wrongAud.code).toBe('unauthenticated');
    expect(wrongAud.message).toMatch(/'aud'/);
    const wrongIss = await rejection(verifier.verify(await signWithLocalKey({ sub: 'alice', iss: 'urn:evil' })));
    expect(wrongIss.code).toBe('unauthenticated');
    expect(wrongIss.message).toMatch(/'iss'/);
  });

  it('rejects a token signed by another key', async () => {
    const otherDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-keys-other-'));
    try {
      const foreign = await issueLocalToken({ user: 'mallory', roles: ['admin'] }, { keyDir: otherDir });
      await loadLocalSigningKey(keyDir);
      const err = await rejection(createLocalTokenVerifier({ keyDir }).verify(foreign.token));
      expect(err).toEqual({ code: 'unauthenticated', message: 'token signature invalid' });
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it("rejects alg 'none'", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsecured = new UnsecuredJWT({ roles: ['admin'] })
      .setIssuer(LOCAL_TOKEN_ISSUER)
      .setAudience(LOCAL_TOKEN_AUDIENCE)
      .setSubject('mallory')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .encode();
    const err = await rejection(createLocalTokenVerifier({ keyDir }).verify(unsecured));
    expect(err.code).toBe('unauthenticated');
  });

  it('rejects a tampered payload', async () => {
    const issued = await issueLocalToken({ user: 'alice', roles: ['investigator'] }, { keyDir });
    const [header, payload, signature] = issued.token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims.roles = ['admin'];
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    const err = await rejection(createLocalTokenVerifier({ keyDir }).verify(forged));
    expect(err).toEqual({ code: 'unauthenticated', message: 'token signature invalid' });
  });

  it('rejects a token without a subject and garbage', async () => {
    const verifier = createLocalTokenVerifier({ keyDir });
    expect((await rejection(verifier.verify(await signWithLocalKey({})))).code).toBe('unauthenticated');
    expect((await rejection(verifier.verify('not.a.token'))).code).toBe('unauthenticated');
    expect((await rejection(verifier.verify('x'.repeat(20_000)))).message).toBe('token too long');
  });

  it('drops roles it does not know instead of trusting them', async () => {
    const token = await signWithLocalKey({ sub: 'alice', roles: ['investigator', 'root', 'Admin'] });
    const principal = await createLocalTokenVerifier({ keyDir }).verify(token);
    expect(principal.roles).toEqual(['investigator']);
  });

  it('refuses to issue for unknown roles, no roles, odd names or too long a lifetime', async () => {
    const issue = (request: Parameters<typeof issueLocalToken>[0]) => rejection(issueLocalToken(request, { keyDir }));
    expect((await issue({ user: 'alice', roles: ['root' as never] })).code).toBe('invalid-argument');
    expect((await issue({ user: 'alice', roles: [] })).code).toBe('invalid-argument');
    expect((await issue({ user: ' alice', roles: ['examiner'] })).code).toBe('invalid-argument');
    expect((await issue({ user: 'al\u0000ice', roles: ['examiner'] })).code).toBe('invalid-argument');
    expect((await issue({ user: 'alice', roles: ['examiner'], ttlMs: 7 * 24 * 3_600_000 })).code).toBe('invalid-argument');
  });
});
