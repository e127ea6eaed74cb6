import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, rootFileId } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { createApp, reconcile, type App } from '../src/index.js';

/**
 * Regression `reconcile-offers-again-an-upload-whose-unpack-is-live`: an
 * uploaded archive hashed in its unpack's read stays integrity `pending`
 * until that unpack ends, and the reconcile timer offered every pending
 * upload again (`resendPendingAfterMs`). Each offer's hash message went to the
 * unpack again, and that delivery, finding the live attempt's stage lease,
 * sent copies of itself until the unpack ended: harmless under the lease, but
 * a chain of copies beside the live work for every pass. The pass now picks
 * its candidates with the leases in one query: a live unpack or hash lease
 * on the upload's root keeps it back; an expired one (its holder died) does
 * not. Azurite + PGlite, through the runtime's own reconcile.
 */
const logger = pino({ level: 'silent' });
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger });

async function zipOf(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime: new Date(Date.UTC(2025, 0, 1)) });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('reconcile and live stage leases (Azurite + PGlite)', () => {
  let dataDir: string;
  let app: App;
  const caseId = `RL${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-reconcile-lease-'));
    const config = loadConfig(
      { EXHIBIT_STORAGE_CONNECTION_STRING: inject('storageConnectionString'), EXHIBIT_DATA_DIR: dataDir, EXHIBIT_INGEST_SAMPLES: 'false', EXHIBIT_LOG_LEVEL: 'silent' },
      { cwd: dataDir },
    );
    app = await createApp(config, { logger, queuePrefix: `rl${randomBytes(3).toString('hex')}-` });
    await app.ensureInfrastructure();
  });

  afterAll(async () => {
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * The hash messages queued for `blobName`, taken off the queue with every
   * other one. The evidence container is shared with the other test files
   * (one Azurite per run), so a pass also receives and offers their uploads:
   * the pass's own counts are not this upload's, only its hash messages are.
   */
  async function hashMessagesFor(blobName: string): Promise<number> {
    let count = 0;
    for (;;) {
      const batch = await app.bus.receive('hash', { maxMessages: 32, lockMs: 60_000 });
      if (batch.length === 0) return count;
      for (const m of batch) {
        if ((m.body as { blobName?: string }).blobName === blobName) count += 1;
        await m.complete();
      }
    }
  }

  it('reconcile-offers-again-an-upload-whose-unpack-is-live', async () => {
    const blobName = `${caseId}/E1/photos.zip`;
    const writer = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    await writer.upload({ container: app.config.containers.evidence, name: blobName }, await zipOf([{ name: 'a.txt', data: Buffer.from('alpha') }]), {
      contentType: 'application/zip',
    });
    // Received and its hash queued; the hash is left to the unpack's read, so the upload stays pending.
    await reconcile(app, inv());
    expect(await hashMessagesFor(blobName)).toBe(1);
    expect((await app.index.getUpload(blobName))?.integrity).toBe('pending');
    const subjectId = rootFileId(blobName);

    // Its unpack runs: a live lease on the archive. The pass does not offer it again.
    const unpack = { queue: 'unpack', subjectId, holder: 'running-unpack' };
    expect(await app.index.acquireStageLease({ ...unpack, messageId: `unpack:${subjectId}` }, 10 * 60_000)).toMatchObject({ acquired: true });
    await reconcile(app, inv(), { resendPendingAfterMs: 0 });
    expect(await hashMessagesFor(blobName)).toBe(0);
    await app.index.releaseStageLease(unpack);

    // A resumable hash of it runs: the same.
    const hash = { queue: 'hash', subjectId, holder: 'running-hash' };
    expect(await app.index.acquireStageLease({ ...hash, messageId: `hash:${subjectId}` }, 10 * 60_000)).toMatchObject({ acquired: true });
    await reconcile(app, inv(), { resendPendingAfterMs: 0 });
    expect(await hashMessagesFor(blobName)).toBe(0);
    await app.index.releaseStageLease(hash);

    // The unpack's holder died: its lease expired (taken for 0 ms). Offered again, as before the lease.
    const dead = { queue: 'unpack', subjectId, holder: 'dead-unpack' };
    expect(await app.index.acquireStageLease({ ...dead, messageId: `unpack:${subjectId}` }, 0)).toMatchObject({ acquired: true });
    await reconcile(app, inv(), { resendPendingAfterMs: 0 });
    expect(await hashMessagesFor(blobName)).toBe(1);

    // Not yet old enough: not offered (received just now, an hour asked for).
    await reconcile(app, inv(), { resendPendingAfterMs: 3_600_000 });
    expect(await hashMessagesFor(blobName)).toBe(0);
  });
});
