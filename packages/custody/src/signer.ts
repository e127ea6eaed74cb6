import { createHash, createPublicKey, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ExhibitError } from '@exhibit/core';
import { canonicalJson } from './canonical-json.js';

/** Ed25519 for local keys; ES256 (P-256, SHA-256) for Key Vault, which has no Ed25519. */
export type SignatureAlgorithm = 'Ed25519' | 'ES256';

/** A public key as published in keys.json and in each segment's first entry. */
export interface PublicKeyRecord {
  keyId: string;
  algorithm: SignatureAlgorithm;
  publicKeyJwk: JsonWebKey;
}

/**
 * Signs custody entries. `sign` receives the canonical bytes of an entry
 * without its signature and returns the raw signature (Ed25519: 64 bytes;
 * ES256: r||s, 64 bytes, as in JWS).
 */
export interface Signer {
  readonly keyId: string;
  readonly algorithm: SignatureAlgorithm;
  readonly publicKeyJwk: JsonWebKey;
  /**
   * A round trip per signature (Key Vault): the custody writer then keeps its groups small
   * (CUSTODY_LIMITS.maxRemoteGroupEntries, maxGroupSigningMs). Local signing takes microseconds.
   */
  readonly remote?: boolean;
  sign(bytes: Uint8Array, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array>;
}

export function publicKeyOf(signer: Signer): PublicKeyRecord {
  return { keyId: signer.keyId, algorithm: signer.algorithm, publicKeyJwk: signer.publicKeyJwk };
}

/** Only the members RFC 7638 hashes; private members never leave this function. */
function requiredMembers(jwk: JsonWebKey): Record<string, unknown> {
  if (jwk.kty === 'OKP') return { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  if (jwk.kty === 'EC') return { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  throw new ExhibitError('invalid-argument', `unsupported key type ${String(jwk.kty)}`);
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url); JCS output is exactly the form the RFC hashes. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  return createHash('sha256').update(canonicalJson(requiredMembers(jwk)), 'utf8').digest('base64url');
}

/**
 * Key ids are derived from the key itself ('ed25519:<thumbprint>',
 * 'es256:<thumbprint>'): a published record cannot pair a known id with a
 * substituted key without the verifier noticing.
 */
export function keyIdFor(algorithm: SignatureAlgorithm, jwk: JsonWebKey): string {
  return `${algorithm.toLowerCase()}:${jwkThumbprint(jwk)}`;
}

/** The public half only, in a fixed member set, so records compare and hash stably. */
export function publicJwk(jwk: JsonWebKey): JsonWebKey {
  return requiredMembers(jwk) as JsonWebKey;
}

export function sameKey(a: PublicKeyRecord, b: PublicKeyRecord): boolean {
  return a.keyId === b.keyId && a.algorithm === b.algorithm && canonicalJson(publicJwk(a.publicKeyJwk)) === canonicalJson(publicJwk(b.publicKeyJwk));
}

function expectedShape(algorithm: SignatureAlgorithm, jwk: JsonWebKey): boolean {
  if (algorithm === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return jwk.kty === 'EC' && jwk.crv === 'P-256';
}

/**
 * Verifies signatures with a fixed set of trusted public keys. Key objects
 * are built once per key, since a long log is verified entry by entry.
 */
export class SignatureVerifier {
  private readonly keys = new Map<string, { record: PublicKeyRecord; key: KeyObject }>();
  /** Published records that were not usable, with why; entries under them report unknown-key. */
  readonly rejected: Array<{ keyId: string; reason: string }> = [];

  constructor(records: Iterable<PublicKeyRecord>) {
    for (const record of records) {
      if (this.keys.has(record.keyId)) continue;
      if (!expectedShape(record.algorithm, record.publicKeyJwk)) {
        this.rejected.push({ keyId: record.keyId, reason: `not a ${record.algorithm} public key` });
        continue;
      }
      try {
        if (keyIdFor(record.algorithm, record.publicKeyJwk) !== record.keyId) {
          this.rejected.push({ keyId: record.keyId, reason: 'key id does not match the key (thumbprint differs)' });
          continue;
        }
        const key = createPublicKey({ key: publicJwk(record.publicKeyJwk), format: 'jwk' });
        this.keys.set(record.keyId, { record: { ...record, publicKeyJwk: publicJwk(record.publicKeyJwk) }, key });
      } catch {
        this.rejected.push({ keyId: record.keyId, reason: 'malformed public key' });
      }
    }
  }

  records(): PublicKeyRecord[] {
    return [...this.keys.values()].map((k) => k.record);
  }

  get(keyId: string): PublicKeyRecord | undefined {
    return this.keys.get(keyId)?.record;
  }

  verify(keyId: string, algorithm: SignatureAlgorithm, bytes: Uint8Array, signature: Uint8Array): boolean {
    const entry = this.keys.get(keyId);
    if (!entry || entry.record.algorithm !== algorithm) return false;
    try {
      if (algorithm === 'Ed25519') return cryptoVerify(null, bytes, entry.key, signature);
      return cryptoVerify('sha256', bytes, { key: entry.key, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  }
}
