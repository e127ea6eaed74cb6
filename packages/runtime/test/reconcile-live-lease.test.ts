import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootFileId } from '@exhibit/core';
import { reconcile, type App } from '../src/index.js';
import { inv, openAppFixture, zipOf, type AppFixture } from './app-fixture.js';

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
describe('reconcile and live stage leases (Azurite + PGlite)', () => {
  let fixture: AppFixture;
  let app: App;
  const caseId = `RL${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    fixture = await openAppFixture('rl');
    app = fixture.app;
  });

  afterAll(async () => {
    await fixture?.close();
  });

  /** The hash messages queued for `blobName`, taken off the queue with every other one. */
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
    await fixture.upload(blobName, await zipOf([{ name: 'a.txt', data: Buffer.from('alpha') }]), { contentType: 'application/zip' });
    // Received and its hash queued; the hash is left to the unpack's read, so the upload stays pending. The container
    // is this file's own: the pass lists this upload and nothing else.
    expect(await reconcile(app, inv())).toMatchObject({ listed: 1, ingested: 1, requeued: 0 });
    expect(await hashMessagesFor(blobName)).toBe(1);
    expect((await app.index.getUpload(blobName))?.integrity).toBe('pending');
    const subjectId = rootFileId(blobName);

    // Its unpack runs: a live lease on the archive. The pass does not offer it again.
    const unpack = { queue: 'unpack', subjectId, holder: 'running-unpack' };
    expect(await app.index.acquireStageLease({ ...unpack, messageId: `unpack:${subjectId}` }, 10 * 60_000)).toMatchObject({ acquired: true });
    expect(await reconcile(app, inv(), { resendPendingAfterMs: 0 })).toMatchObject({ listed: 1, requeued: 0 });
    expect(await hashMessagesFor(blobName)).toBe(0);
    await app.index.releaseStageLease(unpack);

    // A resumable hash of it runs: the same.
    const hash = { queue: 'hash', subjectId, holder: 'running-hash' };
    expect(await app.index.acquireStageLease({ ...hash, messageId: `hash:${subjectId}` }, 10 * 60_000)).toMatchObject({ acquired: true });
    expect(await reconcile(app, inv(), { resendPendingAfterMs: 0 })).toMatchObject({ listed: 1, requeued: 0 });
    expect(await hashMessagesFor(blobName)).toBe(0);
    await app.index.releaseStageLease(hash);

    // The unpack's holder died: its lease expired (taken for 0 ms). Offered again, as before the lease.
    const dead = { queue: 'unpack', subjectId, holder: 'dead-unpack' };
    expect(await app.index.acquireStageLease({ ...dead, messageId: `unpack:${subjectId}` }, 0)).toMatchObject({ acquired: true });
    expect(await reconcile(app, inv(), { resendPendingAfterMs: 0 })).toMatchObject({ listed: 1, requeued: 1 });
    expect(await hashMessagesFor(blobName)).toBe(1);

    // Not yet old enough: not offered (received just now, an hour asked for).
    expect(await reconcile(app, inv(), { resendPendingAfterMs: 3_600_000 })).toMatchObject({ listed: 1, requeued: 0 });
    expect(await hashMessagesFor(blobName)).toBe(0);
  });
});
