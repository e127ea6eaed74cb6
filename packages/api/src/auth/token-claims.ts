import { errors, type JWTPayload } from 'jose';
import { ExhibitError, isRole, type Role } from '@exhibit/core';
import { z } from 'zod';
import { API_LIMITS } from '../api-limits.js';

const claimsSchema = z.object({
  sub: z.string().min(1).max(API_LIMITS.maxUserChars).optional(),
  exp: z.number(),
  roles: z.array(z.string().max(256)).max(256).optional(),
  preferred_username: z.string().min(1).max(API_LIMITS.maxUserChars).optional(),
  oid: z.string().min(1).max(64).optional(),
  tid: z.string().min(1).max(64).optional(),
});

export interface PrincipalClaims {
  sub: string | undefined;
  /** Known roles only; app roles this API does not define are dropped. */
  roles: Role[];
  expiresAt: string;
  preferredUsername: string | undefined;
  oid: string | undefined;
  tid: string | undefined;
}

/** Reads the claims we use, after the signature and standard claims were checked. */
export function principalClaims(payload: JWTPayload): PrincipalClaims {
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) {
    throw new ExhibitError('unauthenticated', `token claims malformed: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  }
  const c = parsed.data;
  return {
    sub: c.sub,
    roles: [...new Set((c.roles ?? []).filter(isRole))],
    expiresAt: new Date(c.exp * 1000).toISOString(),
    preferredUsername: c.preferred_username,
    oid: c.oid,
    tid: c.tid,
  };
}

/**
 * Bad tokens are 'unauthenticated' with a short reason; a key set that cannot
 * be fetched is retryable (503), not the caller's fault.
 */
export function translateJoseError(err: unknown): ExhibitError {
  if (err instanceof ExhibitError) return err;
  if (err instanceof errors.JWKSTimeout) {
    return new ExhibitError('timeout', 'identity provider keys did not arrive in time', { cause: err });
  }
  if (err instanceof errors.JWTExpired) return new ExhibitError('unauthenticated', 'token expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new ExhibitError('unauthenticated', `token claim '${err.claim}' rejected (${err.reason})`, { cause: err });
  }
  if (err instanceof errors.JWKSNoMatchingKey) return new ExhibitError('unauthenticated', 'token signed by an unknown key', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed) return new ExhibitError('unauthenticated', 'token signature invalid', { cause: err });
  if (err instanceof errors.JOSEAlgNotAllowed) return new ExhibitError('unauthenticated', 'token algorithm not allowed', { cause: err });
  if (err instanceof errors.JOSEError && err.code !== 'ERR_JOSE_GENERIC' && !(err instanceof errors.JWKSInvalid)) {
    return new ExhibitError('unauthenticated', 'token malformed', { cause: err });
  }
  // Generic JOSE errors come from fetching the key set (non-200, bad JSON), others from the network.
  return new ExhibitError('timeout', 'identity provider keys unavailable', { cause: err });
}
