import { z } from 'zod';
import { ExhibitError, isExhibitError, type AppendLog } from '@exhibit/core';
import { casePrefix, keysDocumentName } from './segment-names.js';
import { sameKey, type PublicKeyRecord } from './signer.js';

/**
 * `<caseId>/keys.json` in the custody container lists the public keys that
 * sign the case's entries, so the logs can be verified offline. The custody
 * container is WORM (blobs may be created, never replaced), so keys.json is
 * written once, with the first key; a key added later (rotation) gets its own
 * write-once `<caseId>/keys/<key id>.json`. Readers merge both.
 */
export interface KeysDocument {
  format: 'exhibit-custody-keys/1';
  caseId: string;
  keys: Array<PublicKeyRecord & { addedAt: string }>;
}

const keyRecordSchema = z.object({
  keyId: z.string().min(1).max(256),
  algorithm: z.enum(['Ed25519', 'ES256']),
  publicKeyJwk: z.record(z.string(), z.unknown()),
  addedAt: z.string().max(64),
});

const keysSchema = z.object({
  format: z.literal('exhibit-custody-keys/1'),
  caseId: z.string(),
  keys: z.array(keyRecordSchema).max(1000),
});

const MAX_ADDED_KEYS = 1000;

export function addedKeyDocumentName(caseId: string, keyId: string): string {
  return `${casePrefix(caseId)}keys/${keyId.replace(/[^A-Za-z0-9_-]/g, '_')}.json`;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
}

/** Every published key of the case: keys.json and the keys added after it. */
export async function readKeysDocument(
  log: AppendLog,
  caseId: string,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ document: KeysDocument; problems: string[] } | null> {
  const main = await log.getDocument(keysDocumentName(caseId), options);
  const problems: string[] = [];
  const keys: KeysDocument['keys'] = [];
  if (main) {
    const parsed = keysSchema.safeParse(parseJson(main.bytes));
    if (parsed.success && parsed.data.caseId === caseId) keys.push(...(parsed.data.keys as KeysDocument['keys']));
    else problems.push(`${keysDocumentName(caseId)} is not a custody keys document`);
  }
  let added = 0;
  for await (const item of log.list(`${casePrefix(caseId)}keys/`, options)) {
    if (!item.name.endsWith('.json')) continue;
    if (++added > MAX_ADDED_KEYS) break;
    const doc = await log.getDocument(item.name, options);
    if (!doc) continue;
    const parsed = keyRecordSchema.safeParse(parseJson(doc.bytes));
    if (parsed.success && item.name === addedKeyDocumentName(caseId, parsed.data.keyId)) keys.push(parsed.data as KeysDocument['keys'][number]);
    else problems.push(`${item.name} is not a custody key record`);
  }
  if (!main && keys.length === 0 && problems.length === 0) return null;
  return { document: { format: 'exhibit-custody-keys/1', caseId, keys }, problems };
}

async function createOnce(log: AppendLog, name: string, value: unknown, options: { abortSignal?: AbortSignal }): Promise<boolean> {
  try {
    await log.putDocument(name, Buffer.from(JSON.stringify(value, null, 2) + '\n'), {
      ifNoneMatch: '*',
      contentType: 'application/json',
      abortSignal: options.abortSignal,
    });
    return true;
  } catch (err) {
    if (isExhibitError(err, 'precondition-failed')) return false;
    throw err;
  }
}

/** Publishes the key for the case unless it is published already. Safe to race. */
export async function registerKey(log: AppendLog, caseId: string, key: PublicKeyRecord, options: { abortSignal?: AbortSignal; now?: () => Date } = {}): Promise<void> {
  const addedAt = (options.now?.() ?? new Date()).toISOString();
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readKeysDocument(log, caseId, options);
    const existing = current?.document.keys.find((k) => k.keyId === key.keyId);
    if (existing) {
      if (!sameKey(existing, key)) {
        throw new ExhibitError('conflict', `the published keys of case ${caseId} list ${key.keyId} with a different public key`);
      }
      return;
    }
    const record = { ...key, addedAt };
    const created = current
      ? await createOnce(log, addedKeyDocumentName(caseId, key.keyId), record, options)
      : await createOnce(log, keysDocumentName(caseId), { format: 'exhibit-custody-keys/1', caseId, keys: [record] } satisfies KeysDocument, options);
    if (created) return;
  }
  throw new ExhibitError('storage-unavailable', `could not publish custody key ${key.keyId} for case ${caseId}`);
}

/**
 * Keys handed to a verifier out of band: a keys.json, or a JSON array of
 * { keyId, algorithm, publicKeyJwk }. Throws invalid-argument for anything else.
 */
export function parseTrustedKeys(value: unknown): PublicKeyRecord[] {
  const list = Array.isArray(value) ? value : (value as { keys?: unknown } | null)?.keys;
  const parsed = z.array(keyRecordSchema.partial({ addedAt: true })).min(1).max(MAX_ADDED_KEYS).safeParse(list);
  if (!parsed.success) throw new ExhibitError('invalid-argument', 'not a list of custody public keys (expected keys.json or [{ keyId, algorithm, publicKeyJwk }])');
  return parsed.data.map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKeyJwk: k.publicKeyJwk as PublicKeyRecord['publicKeyJwk'] }));
}
