import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ExhibitError } from '@exhibit/core';
import { API_LIMITS } from '../api-limits.js';
import type { Principal, TokenVerifier } from '../api.types.js';
import { principalClaims, translateJoseError } from './token-claims.js';

export interface EntraVerifierOptions {
  /** Key set URL; defaults to the tenant's. Tests point it at a local server. */
  jwksUrl?: string | URL;
  clockToleranceSec?: number;
  /** Longest wait for the key set. */
  jwksTimeoutMs?: number;
  now?: () => Date;
}

const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;

/**
 * Verifies Entra ID v2 access tokens for this API: RS256 signature by a key
 * in the tenant's key set, issuer of the tenant (the tenant id must be the
 * GUID, as it appears in `iss`), audience = the API's application id or URI,
 * times. Roles come from the `roles` claim (app roles). Who the caller is
 * for access is `oid`, the immutable object id (required): Microsoft documents
 * `preferred_username` as mutable and not for authorisation. The name shown
 * and written to custody is `preferred_username`, else `oid` (app-only tokens
 * have no user name); assignments made by name are bound to the oid of their
 * first sign-in (docs/review-api.md, "Who is who").
 */
export function createEntraTokenVerifier(
  config: { tenantId: string; audience: string; authorityHost?: string },
  options: EntraVerifierOptions = {},
): TokenVerifier {
  if (!TENANT_RE.test(config.tenantId)) throw new ExhibitError('invalid-config', 'Entra tenant id is not a tenant id');
  // Entra's layout under its authority host (a national cloud's, or a test issuer's).
  const authority = `${config.authorityHost ?? DEFAULT_AUTHORITY_HOST}/${config.tenantId}`;
  const issuer = `${authority}/v2.0`;
  const jwksUrl = new URL(options.jwksUrl ?? `${authority}/discovery/v2.0/keys`);
  const jwks = createRemoteJWKSet(jwksUrl, {
    timeoutDuration: options.jwksTimeoutMs ?? 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  return {
    async verify(token: string): Promise<Principal> {
      if (token.length > API_LIMITS.maxTokenBytes) throw new ExhibitError('unauthenticated', 'token too long');
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer,
          audience: config.audience,
          algorithms: ['RS256'],
          requiredClaims: ['exp', 'iat'],
          clockTolerance: options.clockToleranceSec ?? API_LIMITS.tokenClockToleranceSec,
          ...(options.now ? { currentDate: options.now() } : {}),
        });
        const claims = principalClaims(payload);
        if (claims.tid !== undefined && claims.tid.toLowerCase() !== config.tenantId.toLowerCase()) {
          throw new ExhibitError('unauthenticated', 'token is for another tenant');
        }
        if (!claims.oid) throw new ExhibitError('unauthenticated', 'token names no user (no oid)');
        const user = claims.preferredUsername ?? claims.oid;
        return { user, objectId: claims.oid.toLowerCase(), roles: claims.roles, authKind: 'entra', expiresAt: claims.expiresAt };
      } catch (err) {
        throw translateJoseError(err);
      }
    },
  };
}
