import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLocalSigner } from './signer.local.js';
import { publicKeyOf } from './signer.js';
import { addTrustedKeys, pinSignerKey, readTrustedKeys, trustFileOf } from './trust-store.js';

describe('pinned custody trust set', () => {
  it('pins the first key, refuses a changed signing key, and trusts a new key only when added explicitly', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-trust-'));
    const file = trustFileOf(dir);
    const first = publicKeyOf(await createLocalSigner(path.join(dir, 'k1')));
    const second = publicKeyOf(await createLocalSigner(path.join(dir, 'k2')));
    expect(await readTrustedKeys(file)).toBeNull();
    expect((await pinSignerKey(file, first)).map((k) => k.keyId)).toEqual([first.keyId]);
    expect((await pinSignerKey(file, first)).map((k) => k.keyId)).toEqual([first.keyId]);
    await expect(pinSignerKey(file, second)).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringMatching(/not in the pinned trust set.*custody trust add/) });
    expect(await addTrustedKeys(file, [second])).toEqual([second.keyId]);
    expect(await addTrustedKeys(file, [second])).toEqual([]);
    expect((await pinSignerKey(file, second)).map((k) => k.keyId).sort()).toEqual([first.keyId, second.keyId].sort());
  });

  it('refuses a key whose id is not its thumbprint, and a damaged file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-trust-'));
    const file = trustFileOf(dir);
    const a = publicKeyOf(await createLocalSigner(path.join(dir, 'a')));
    const b = publicKeyOf(await createLocalSigner(path.join(dir, 'b')));
    await pinSignerKey(file, a);
    await expect(addTrustedKeys(file, [{ ...b, keyId: a.keyId }])).rejects.toMatchObject({ code: 'invalid-config' });
    await writeFile(file, (await readFile(file, 'utf8')).replace(a.publicKeyJwk.x!, b.publicKeyJwk.x!));
    await expect(readTrustedKeys(file)).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringMatching(/thumbprint/) });
  });
});
