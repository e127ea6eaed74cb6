import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { parseTrustedKeys } from './key-registry.js';
import { SignatureVerifier, sameKey, type PublicKeyRecord } from './signer.js';

/**
 * The pinned custody trust set of a local deployment: `<dataDir>/trust/custody-keys.json`.
 * It lives in the data folder, outside the custody container, so someone who
 * can write beside the logs cannot make a key trusted. It is created once,
 * with the local signer's public key; any later key is added only by an
 * explicit `exhibit custody trust add`.
 */
export const TRUST_FILE = path.join('trust', 'custody-keys.json');

export interface TrustedKeysDocument {
  format: 'exhibit-custody-trusted-keys/1';
  keys: Array<PublicKeyRecord & { addedAt: string }>;
}

export function trustFileOf(dataDir: string): string {
  return path.join(dataDir, TRUST_FILE);
}

/** The pinned keys, or null when the file does not exist. Throws invalid-config for a damaged file. */
export async function readTrustedKeys(file: string): Promise<PublicKeyRecord[] | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ExhibitError('invalid-config', `cannot read the pinned custody keys ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return checkedKeys(parseTrustedKeys(JSON.parse(text)), file);
  } catch (err) {
    throw new ExhibitError('invalid-config', `${file} is not a custody key set: ${(err as Error).message}`, { cause: err });
  }
}

/** Keys whose id is not their thumbprint, or malformed, are refused outright: a trust set is never partly valid. */
function checkedKeys(keys: PublicKeyRecord[], where: string): PublicKeyRecord[] {
  const verifier = new SignatureVerifier(keys);
  const bad = verifier.rejected[0];
  if (bad) throw new ExhibitError('invalid-config', `${where}: key ${bad.keyId}: ${bad.reason}`);
  return verifier.records();
}

async function writeNew(file: string, doc: TrustedKeysDocument, options: { replace: boolean }): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(doc, null, 2) + '\n', 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (options.replace) {
    await rename(temp, file);
    return true;
  }
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp);
  }
}

/**
 * At start-up: pins the signer's key on first use; afterwards the signer's key
 * must already be pinned. A changed signing key stops the host rather than
 * being trusted silently (the old key stays pinned, so old entries verify).
 */
export async function pinSignerKey(file: string, key: PublicKeyRecord, options: { now?: () => Date } = {}): Promise<PublicKeyRecord[]> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readTrustedKeys(file);
    if (current) {
      if (current.some((k) => sameKey(k, key))) return current;
      throw new ExhibitError(
        'invalid-config',
        `the custody signing key ${key.keyId} is not in the pinned trust set ${file}; if the key was replaced on purpose, ` +
          'export its public key and add it with `exhibit custody trust add <keys.json>` (docs/operations.md, "Custody keys")',
      );
    }
    const addedAt = (options.now?.() ?? new Date()).toISOString();
    if (await writeNew(file, { format: 'exhibit-custody-trusted-keys/1', keys: [{ ...key, addedAt }] }, { replace: false })) return [key];
  }
  throw new ExhibitError('invalid-config', `could not pin the custody signing key in ${file}`);
}

/** Adds keys to the pinned set (the explicit action of an operator). Returns the ids that were new. */
export async function addTrustedKeys(file: string, keys: PublicKeyRecord[], options: { now?: () => Date } = {}): Promise<string[]> {
  const incoming = checkedKeys(keys, 'keys to add');
  const current = (await readTrustedKeys(file)) ?? [];
  const addedAt = (options.now?.() ?? new Date()).toISOString();
  const added: string[] = [];
  for (const k of incoming) {
    const existing = current.find((c) => c.keyId === k.keyId);
    if (existing && !sameKey(existing, k)) throw new ExhibitError('conflict', `${file} already lists ${k.keyId} with a different public key`);
    if (!existing) added.push(k.keyId);
  }
  if (added.length === 0) return [];
  const raw = JSON.parse(await readFile(file, 'utf8').catch(() => '{"keys":[]}')) as { keys?: TrustedKeysDocument['keys'] };
  const keep = (raw.keys ?? []).filter((k) => current.some((c) => c.keyId === k.keyId));
  const doc: TrustedKeysDocument = {
    format: 'exhibit-custody-trusted-keys/1',
    keys: [...keep, ...incoming.filter((k) => added.includes(k.keyId)).map((k) => ({ ...k, addedAt }))],
  };
  await writeNew(file, doc, { replace: true });
  return added;
}

/** A public-key bundle for offline verifiers: the same shape `--keys` and `trust add` read. */
export function publicKeyBundle(keys: PublicKeyRecord[], now: Date = new Date()): TrustedKeysDocument {
  return { format: 'exhibit-custody-trusted-keys/1', keys: keys.map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKeyJwk: k.publicKeyJwk, addedAt: now.toISOString() })) };
}
