import { generateKeyPairSync, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { ExhibitError } from '@exhibit/core';

/** Ed25519 key for local tokens, PKCS#8 PEM, owner-only. */
export const LOCAL_KEY_FILE = 'api-token-ed25519.pem';
/** The public half as a JWK, for anyone who wants to verify local tokens offline. */
export const LOCAL_PUBLIC_JWK_FILE = 'api-token-ed25519.public.jwk.json';

export interface LocalSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public JWK with `kid` (RFC 7638 thumbprint), `alg` and `use`. */
  publicJwk: JWK;
  kid: string;
}

const loaded = new Map<string, Promise<LocalSigningKey>>();

/**
 * Loads the local signing key, creating it on first use. Creation is atomic
 * (write a private temp file, then hard-link it into place), so two processes
 * starting together end up with the same key rather than one overwriting the
 * other's.
 */
export function loadLocalSigningKey(keyDir: string): Promise<LocalSigningKey> {
  const dir = path.resolve(keyDir);
  let pending = loaded.get(dir);
  if (!pending) {
    pending = loadOrCreate(dir);
    loaded.set(dir, pending);
    pending.catch(() => loaded.delete(dir));
  }
  return pending;
}

async function loadOrCreate(dir: string): Promise<LocalSigningKey> {
  const file = path.join(dir, LOCAL_KEY_FILE);
  let pem = await readPrivatePem(file);
  if (pem === null) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    try {
      await link(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw translateFsError(err, file);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    pem = await readPrivatePem(file);
    if (pem === null) throw new ExhibitError('invalid-config', `local token key vanished while being created: ${file}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ExhibitError('invalid-config', `local token key is not a valid PEM private key: ${file}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ExhibitError('invalid-config', `local token key must be Ed25519, found ${privateKey.asymmetricKeyType}: ${file}`);
  }
  const publicKey = createPublicKey(privateKey);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const publicJwk: JWK = { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
  await writePublicJwk(path.join(dir, LOCAL_PUBLIC_JWK_FILE), publicJwk);
  return { privateKey, publicKey, publicJwk, kid };
}

async function readPrivatePem(file: string): Promise<string | null> {
  try {
    if (process.platform !== 'win32') {
      const s = await stat(file);
      if ((s.mode & 0o077) !== 0) {
        throw new ExhibitError('invalid-config', `local token key ${file} is readable by others; run chmod 600 on it`);
      }
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw translateFsError(err, file);
  }
}

async function writePublicJwk(file: string, jwk: JWK): Promise<void> {
  const text = `${JSON.stringify(jwk, null, 2)}\n`;
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing === text) return;
  await writeFile(file, text, { mode: 0o644 });
  await chmod(file, 0o644);
}

function translateFsError(err: unknown, file: string): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError('invalid-config', `cannot use local token key ${file}: ${(err as Error).message}`, { cause: err });
}
