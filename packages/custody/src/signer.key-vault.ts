import { createHash, createPublicKey, verify as cryptoVerify, type JsonWebKey } from 'node:crypto';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { keyIdFor, publicJwk, type PublicKeyRecord, type Signer } from './signer.js';

type TokenCredential = ConstructorParameters<typeof KeyClient>[1];

/** The part of the SDK's CryptographyClient we use; tests hand in a local P-256 key behind it. */
export interface KeyVaultSigningClient {
  sign(algorithm: 'ES256', digest: Uint8Array, options?: { abortSignal?: AbortSignal }): Promise<{ result: Uint8Array; keyID?: string }>;
}

/** The public part of a Key Vault key, as KeyClient.getKey returns it. */
export interface KeyVaultPublicKey {
  id?: string;
  key?: { kty?: string; crv?: string; x?: Uint8Array; y?: Uint8Array };
}

function translateKeyVaultError(err: unknown, what: string): ExhibitError {
  if (err instanceof ExhibitError) return err;
  const status = (err as { statusCode?: number } | null)?.statusCode;
  const message = `${what}: ${errorMessage(err)}`;
  if (err instanceof Error && err.name === 'AbortError') return new ExhibitError('aborted', message, { cause: err });
  if (status === 401 || status === 403) return new ExhibitError('forbidden', message, { cause: err });
  if (status === 404 || status === 400) return new ExhibitError('invalid-config', message, { cause: err });
  // Throttling, outages, network: a later attempt may succeed.
  return new ExhibitError('tool-unavailable', message, { cause: err });
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/**
 * ES256 signer over a Key Vault key (P-256). Key Vault signs a SHA-256 digest
 * we compute; the private key never leaves the vault. Each signature is
 * checked against the public key before use, so a misconfigured key id can
 * never put unverifiable entries into a custody log.
 */
export function keyVaultSigner(options: { key: KeyVaultPublicKey; client: KeyVaultSigningClient }): Signer {
  const material = options.key.key;
  if (!material || (material.kty !== 'EC' && material.kty !== 'EC-HSM') || material.crv !== 'P-256' || !material.x || !material.y) {
    throw new ExhibitError('invalid-config', `Key Vault key ${options.key.id ?? '(no id)'} is not a P-256 EC key; custody signing needs ES256`);
  }
  const jwk: JsonWebKey = publicJwk({ kty: 'EC', crv: 'P-256', x: b64url(material.x), y: b64url(material.y) });
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const vaultKeyId = options.key.id;
  return {
    keyId: keyIdFor('ES256', jwk),
    algorithm: 'ES256',
    publicKeyJwk: jwk,
    // 15-50 ms a signature: the writer keeps groups small (CUSTODY_LIMITS.maxRemoteGroupEntries).
    remote: true,
    async sign(bytes: Uint8Array, signOptions: { abortSignal?: AbortSignal } = {}): Promise<Uint8Array> {
      const digest = createHash('sha256').update(bytes).digest();
      let result: Uint8Array;
      try {
        ({ result } = await options.client.sign('ES256', digest, { abortSignal: signOptions.abortSignal }));
      } catch (err) {
        throw translateKeyVaultError(err, `sign with Key Vault key ${vaultKeyId ?? ''}`.trim());
      }
      if (result.length !== 64 || !cryptoVerify('sha256', bytes, { key: publicKey, dsaEncoding: 'ieee-p1363' }, result)) {
        throw new ExhibitError('tool-failed', `Key Vault key ${vaultKeyId ?? ''} returned a signature that does not verify with its public key`);
      }
      return result;
    },
  };
}

/**
 * Looks the key up once (pinned to its current version, so every entry names
 * the exact key that signed it) and signs remotely with it.
 */
export async function createKeyVaultSigner(options: {
  vaultUrl: string;
  keyName: string;
  keyVersion?: string;
  credential: TokenCredential;
}): Promise<Signer> {
  let key;
  try {
    key = await new KeyClient(options.vaultUrl, options.credential).getKey(
      options.keyName,
      options.keyVersion ? { version: options.keyVersion } : {},
    );
  } catch (err) {
    throw translateKeyVaultError(err, `get Key Vault key ${options.keyName}`);
  }
  if (!key.id) throw new ExhibitError('invalid-config', `Key Vault key ${options.keyName} has no id`);
  const client = new CryptographyClient(key.id, options.credential);
  return keyVaultSigner({ key, client });
}

/** The part of the SDK's KeyClient that lists a key's versions; tests hand in their own. */
export interface KeyVaultVersionsClient {
  listPropertiesOfKeyVersions(name: string, options?: { abortSignal?: AbortSignal }): AsyncIterable<{ version?: string; enabled?: boolean }>;
  getKey(name: string, options?: { version?: string; abortSignal?: AbortSignal }): Promise<KeyVaultPublicKey>;
}

/**
 * The trusted keys in Azure: the public keys of every version of the custody
 * Key Vault key. Key Vault, not the custody container, is the registry, so a
 * key written beside the logs is never among them. Disabled versions stay
 * trusted (they may have signed); a version whose material is not P-256 is
 * skipped (it could never have signed an entry).
 */
export async function keyVaultPublicKeys(client: KeyVaultVersionsClient, keyName: string, options: { abortSignal?: AbortSignal } = {}): Promise<PublicKeyRecord[]> {
  const out: PublicKeyRecord[] = [];
  try {
    for await (const version of client.listPropertiesOfKeyVersions(keyName, options)) {
      if (!version.version) continue;
      const key = await client.getKey(keyName, { version: version.version, ...options });
      const m = key.key;
      if (!m || (m.kty !== 'EC' && m.kty !== 'EC-HSM') || m.crv !== 'P-256' || !m.x || !m.y) continue;
      const jwk: JsonWebKey = publicJwk({ kty: 'EC', crv: 'P-256', x: b64url(m.x), y: b64url(m.y) });
      out.push({ keyId: keyIdFor('ES256', jwk), algorithm: 'ES256', publicKeyJwk: jwk });
    }
  } catch (err) {
    throw translateKeyVaultError(err, `list versions of Key Vault key ${keyName}`);
  }
  if (out.length === 0) throw new ExhibitError('invalid-config', `Key Vault key ${keyName} has no P-256 version to trust`);
  return out;
}

export function listKeyVaultPublicKeys(options: { vaultUrl: string; keyName: string; credential: TokenCredential; abortSignal?: AbortSignal }): Promise<PublicKeyRecord[]> {
  return keyVaultPublicKeys(new KeyClient(options.vaultUrl, options.credential), options.keyName, options.abortSignal ? { abortSignal: options.abortSignal } : {});
}
