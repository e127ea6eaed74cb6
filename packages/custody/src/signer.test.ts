import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, chmod, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdFor, SignatureVerifier, publicKeyOf, type Signer } from './signer.js';
import { createLocalSigner, LOCAL_KEY_FILE } from './signer.local.js';
import { keyVaultPublicKeys, keyVaultSigner, type KeyVaultSigningClient } from './signer.key-vault.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'exhibit-signer-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Stands in for Key Vault's CryptographyClient: signs the digest it is given
 * (no second hash, as Key Vault does) with a local P-256 key.
 */
function localKeyVault(): { key: { id: string; key: { kty: string; crv: string; x: Uint8Array; y: Uint8Array } }; client: KeyVaultSigningClient; calls: string[] } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JsonWebKey & { d: string; x: string; y: string };
  const d = Buffer.from(jwk.d, 'base64url');
  const calls: string[] = [];
  return {
    key: {
      id: 'https://vault.example/keys/custody/0123456789abcdef',
      key: { kty: 'EC', crv: 'P-256', x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') },
    },
    calls,
    client: {
      async sign(algorithm, digest) {
        calls.push(algorithm);
        expect(digest.length).toBe(32);
        return { result: p256.sign(digest, d, { prehash: false }), keyID: 'https://vault.example/keys/custody/0123456789abcdef' };
      },
    },
  };
}

const contracts: Array<[string, () => Promise<Signer>]> = [
  ['local Ed25519', () => createLocalSigner(path.join(tmp, `keys-${Math.random().toString(36).slice(2)}`))],
  ['Key Vault ES256', async () => keyVaultSigner(localKeyVault())],
];

describe.each(contracts)('Signer contract: %s', (_name, make) => {
  it('signs so that the published public key verifies, and nothing else does', async () => {
    const signer = await make();
    const verifier = new SignatureVerifier([publicKeyOf(signer)]);
    const bytes = Buffer.from('{"seq":1,"action":"received"}');
    const signature = await signer.sign(bytes);
    expect(signature.length).toBe(64);
    expect(verifier.verify(signer.keyId, signer.algorithm, bytes, signature)).toBe(true);
    expect(verifier.verify(signer.keyId, signer.algorithm, Buffer.from('{"seq":2,"action":"received"}'), signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[10] = flipped[10]! ^ 1;
    expect(verifier.verify(signer.keyId, signer.algorithm, bytes, flipped)).toBe(false);
  });

  it('derives its key id from the public key and publishes only public members', async () => {
    const signer = await make();
    expect(signer.keyId).toBe(keyIdFor(signer.algorithm, signer.publicKeyJwk));
    expect(Object.keys(signer.publicKeyJwk).sort()).toEqual(signer.algorithm === 'Ed25519' ? ['crv', 'kty', 'x'] : ['crv', 'kty', 'x', 'y']);
  });

  it('is not verified by another signer of the same kind', async () => {
    const a = await make();
    const b = await make();
    expect(a.keyId).not.toBe(b.keyId);
    const bytes = Buffer.from('entry');
    const verifier = new SignatureVerifier([publicKeyOf(b)]);
    expect(verifier.verify(a.keyId, a.algorithm, bytes, await a.sign(bytes))).toBe(false);
  });
});

describe('SignatureVerifier', () => {
  it('rejects a published record whose key id belongs to another key', async () => {
    const real = await createLocalSigner(path.join(tmp, 'real'));
    const other = await createLocalSigner(path.join(tmp, 'other'));
    const forged = { keyId: real.keyId, algorithm: real.algorithm, publicKeyJwk: other.publicKeyJwk };
    const verifier = new SignatureVerifier([forged]);
    expect(verifier.get(real.keyId)).toBeUndefined();
    expect(verifier.rejected[0]?.reason).toMatch(/thumbprint/);
    const bytes = Buffer.from('x');
    expect(verifier.verify(real.keyId, 'Ed25519', bytes, await other.sign(bytes))).toBe(false);
  });
});

describe('createLocalSigner', () => {
  it('creates the key once with mode 0600 and reuses it', async () => {
    const dir = path.join(tmp, 'reuse');
    const [a, b] = await Promise.all([createLocalSigner(dir), createLocalSigner(dir)]);
    expect(a.keyId).toBe(b.keyId);
    const info = await stat(path.join(dir, LOCAL_KEY_FILE));
    expect(info.mode & 0o777).toBe(0o600);
    const again = await createLocalSigner(dir);
    expect(again.keyId).toBe(a.keyId);
    expect(await readFile(path.join(dir, LOCAL_KEY_FILE), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('refuses a key file others can read', async () => {
    const dir = path.join(tmp, 'loose');
    await createLocalSigner(dir);
    await chmod(path.join(dir, LOCAL_KEY_FILE), 0o644);
    await expect(createLocalSigner(dir)).rejects.toMatchObject({ code: 'invalid-config' });
  });

  it('refuses a key of the wrong type', async () => {
    const dir = path.join(tmp, 'wrong-type');
    await mkdir(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(path.join(dir, LOCAL_KEY_FILE), privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    await expect(createLocalSigner(dir)).rejects.toMatchObject({ code: 'invalid-config' });
  });
});

describe('keyVaultSigner', () => {
  it('asks Key Vault for ES256 over a SHA-256 digest', async () => {
    const kv = localKeyVault();
    await keyVaultSigner(kv).sign(Buffer.from('abc'));
    expect(kv.calls).toEqual(['ES256']);
  });

  it('says it is remote, so the custody writer keeps its groups small (a round trip a signature)', () => {
    expect(keyVaultSigner(localKeyVault()).remote).toBe(true);
  });

  it('refuses a signature that does not verify (wrong key behind the client)', async () => {
    const kv = localKeyVault();
    const other = localKeyVault();
    const signer = keyVaultSigner({ key: kv.key, client: other.client });
    await expect(signer.sign(Buffer.from('abc'))).rejects.toMatchObject({ code: 'tool-failed' });
  });

  it('refuses a key that is not P-256', () => {
    const kv = localKeyVault();
    expect(() => keyVaultSigner({ key: { id: 'k', key: { ...kv.key.key, crv: 'P-384' } }, client: kv.client })).toThrow(/P-256/);
  });

  it('turns Key Vault faults into typed errors', async () => {
    const kv = localKeyVault();
    const failing: KeyVaultSigningClient = {
      async sign() {
        throw Object.assign(new Error('throttled'), { statusCode: 429 });
      },
    };
    await expect(keyVaultSigner({ key: kv.key, client: failing }).sign(Buffer.from('a'))).rejects.toMatchObject({ code: 'tool-unavailable' });
  });
});

describe('keyVaultPublicKeys (the trusted keys in Azure)', () => {
  it("lists every version's public key, each verifying what that version signed", async () => {
    const v1 = localKeyVault();
    const v2 = localKeyVault();
    const versions: Record<string, ReturnType<typeof localKeyVault>> = { a: v1, b: v2 };
    const client = {
      async *listPropertiesOfKeyVersions() {
        yield { version: 'a' };
        yield { version: 'b', enabled: false };
        yield {};
      },
      getKey: async (_name: string, o?: { version?: string }) => versions[o!.version!]!.key,
    };
    const keys = await keyVaultPublicKeys(client, 'custody-signing');
    const signers = [keyVaultSigner(v1), keyVaultSigner(v2)];
    expect(keys.map((k) => k.keyId)).toEqual(signers.map((s) => s.keyId));
    expect(keys.map((k) => k.algorithm)).toEqual(['ES256', 'ES256']);
  });

  it('refuses a key with no P-256 version, and translates SDK errors', async () => {
    const none = { async *listPropertiesOfKeyVersions() { yield { version: 'x' }; }, getKey: async () => ({ id: 'x', key: { kty: 'RSA' } }) };
    await expect(keyVaultPublicKeys(none, 'k')).rejects.toMatchObject({ code: 'invalid-config' });
    const denied = {
      // eslint-disable-next-line require-yield
      async *listPropertiesOfKeyVersions(): AsyncGenerator<{ version?: string }> {
        throw Object.assign(new Error('Forbidden'), { statusCode: 403 });
      },
      getKey: async () => ({}),
    };
    await expect(keyVaultPublicKeys(denied, 'k')).rejects.toMatchObject({ code: 'forbidden' });
  });
});
