import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { ExhibitError, ROLES, type Role } from '@exhibit/core';
import { z } from 'zod';
import { API_LIMITS } from '../api-limits.js';
import type { Principal, TokenVerifier } from '../api.types.js';
import { param } from '../query-params.js';
import { loadLocalSigningKey } from './local-key.js';
import { principalClaims, translateJoseError } from './token-claims.js';

export const LOCAL_TOKEN_ISSUER = 'urn:exhibit:local';
export const LOCAL_TOKEN_AUDIENCE = 'urn:exhibit:api';

const issueRequest = z.strictObject({
  user: param.user('User name'),
  roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
  ttlMs: z.number().int().min(1000).max(API_LIMITS.maxTokenTtlMs).optional(),
});

export interface IssuedToken {
  token: string;
  user: string;
  roles: Role[];
  expiresAt: string;
}

/**
 * Signs a local token (EdDSA/Ed25519) for the local stack only; in Azure,
 * tokens come from Entra ID. The key lives in `keyDir` (config.auth.keyDir)
 * and is created on first use.
 */
export async function issueLocalToken(
  request: { user: string; roles: Role[]; ttlMs?: number },
  options: { keyDir: string; now?: Date },
): Promise<IssuedToken> {
  const parsed = issueRequest.safeParse(request);
  if (!parsed.success) {
    throw new ExhibitError('invalid-argument', `cannot issue token: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const { user, ttlMs = API_LIMITS.defaultTokenTtlMs } = parsed.data;
  const roles = [...new Set(parsed.data.roles)];
  const key = await loadLocalSigningKey(options.keyDir);
  const nowMs = (options.now ?? new Date()).getTime();
  const iat = Math.floor(nowMs / 1000);
  const exp = Math.floor((nowMs + ttlMs) / 1000);
  const token = await new SignJWT({ roles })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
    .setIssuer(LOCAL_TOKEN_ISSUER)
    .setAudience(LOCAL_TOKEN_AUDIENCE)
    .setSubject(user)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { token, user, roles, expiresAt: new Date(exp * 1000).toISOString() };
}

/** Verifies local tokens: signature by the local key, issuer, audience, times, and the claims' shapes. */
export function createLocalTokenVerifier(options: { keyDir: string; clockToleranceSec?: number; now?: () => Date }): TokenVerifier {
  return {
    async verify(token: string): Promise<Principal> {
      if (token.length > API_LIMITS.maxTokenBytes) throw new ExhibitError('unauthenticated', 'token too long');
      const key = await loadLocalSigningKey(options.keyDir);
      try {
        const { payload } = await jwtVerify(token, key.publicKey, {
          issuer: LOCAL_TOKEN_ISSUER,
          audience: LOCAL_TOKEN_AUDIENCE,
          algorithms: ['EdDSA'],
          typ: 'JWT',
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: options.clockToleranceSec ?? API_LIMITS.tokenClockToleranceSec,
          maxTokenAge: `${Math.floor(API_LIMITS.maxTokenTtlMs / 1000)}s`,
          ...(options.now ? { currentDate: options.now() } : {}),
        });
        const claims = principalClaims(payload);
        if (!claims.sub) throw new ExhibitError('unauthenticated', 'token has no subject');
        return { user: claims.sub, roles: claims.roles, authKind: 'local', expiresAt: claims.expiresAt };
      } catch (err) {
        throw translateJoseError(err);
      }
    },
  };
}
