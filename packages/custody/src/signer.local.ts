import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { keyIdFor, publicJwk, type Signer } from './signer.js';

export const LOCAL_KEY_FILE = 'custody-ed25519.pem';

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function readKey(file: string): Promise<KeyObject> {
  const info = await stat(file);
  // Like ssh: a signing key others can read is not a signing key we trust.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new ExhibitError('invalid-config', `custody signing key ${file} is accessible by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const pem = await readFile(file, 'utf8');
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ExhibitError('invalid-config', `custody signing key ${file} is ${String(key.asymmetricKeyType)}, expected ed25519`);
  }
  return key;
}

/**
 * Writes the key to a temporary file and links it into place: the link fails
 * if a key already exists, so concurrent first starts agree on one key and
 * nobody ever reads a half-written file.
 */
async function createKey(file: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(pem, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp);
  }
}

/**
 * Ed25519 signer with its private key in `<keyDir>/custody-ed25519.pem`
 * (mode 0600), created on first use. The key id is the RFC 7638 thumbprint,
 * so an id cannot be re-used for a different key unnoticed.
 */
export async function createLocalSigner(keyDir: string): Promise<Signer> {
  const file = path.join(keyDir, LOCAL_KEY_FILE);
  try {
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    if (!(await exists(file))) await createKey(file);
    const privateKey = await readKey(file);
    const jwk = publicJwk(createPublicKey(privateKey).export({ format: 'jwk' }));
    const keyId = keyIdFor('Ed25519', jwk);
    return {
      keyId,
      algorithm: 'Ed25519',
      publicKeyJwk: jwk,
      async sign(bytes: Uint8Array): Promise<Uint8Array> {
        return cryptoSign(null, bytes, privateKey);
      },
    };
  } catch (err) {
    if (err instanceof ExhibitError) throw err;
    throw new ExhibitError('invalid-config', `cannot use custody signing key ${file}: ${(err as Error).message}`, { cause: err });
  }
}

