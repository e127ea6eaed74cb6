import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, openSqlClient } from '../src/index.js';
import { hashesOf, newUpload } from './fixtures.js';
import { allTargets } from './targets.js';

/**
 * Migration 0230: the stage lease of one queue's work on one item. Taken when
 * there is none, when the one there expired (a crashed holder's) or by its own
 * holder again; else the live holder is answered, with the time it has left on
 * the database's clock. Renewed and released only by its holder; whether one
 * is live is read without taking it (stageLeaseHeld).
 */
describe.each(allTargets())('migration 0230 on $name', (target) => {
  afterAll(() => target.dispose());

  it('stage-lease-taken-once-renewed-released-and-taken-over-when-expired', async () => {
    const sql = await openSqlClient(await target.create());
    const index = createPostgresIndex(sql);
    try {
      await index.migrate();
      const a = { queue: 'unpack', subjectId: 'f1', holder: 'inv-a' };
      const b = { ...a, holder: 'inv-b' };
      const minute = 60_000;

      expect(await index.acquireStageLease({ ...a, messageId: 'unpack:f1' }, minute)).toMatchObject({ acquired: true });
      const held = await index.acquireStageLease({ ...b, messageId: 'unpack:f1' }, minute);
      expect(held).toMatchObject({ acquired: false, holder: 'inv-a', messageId: 'unpack:f1' });
      expect(held.expiresInMs).toBeGreaterThan(0);
      expect(held.expiresInMs).toBeLessThanOrEqual(minute);
      // Read-only: whether some holder's lease is live (the hash stage asks it before sending an unpack its message again).
      expect(await index.stageLeaseHeld({ queue: 'unpack', subjectId: 'f1' })).toBe(true);
      expect(await index.stageLeaseHeld({ queue: 'hash', subjectId: 'f1' })).toBe(false);
      expect(await index.stageLeaseHeld({ queue: 'unpack', subjectId: 'f3' })).toBe(false);
      // Its own holder takes it again; another queue's work on the same item, or the same queue's on another item, is apart.
      expect(await index.acquireStageLease({ ...a, messageId: 'unpack:f1' }, minute)).toMatchObject({ acquired: true });
      expect(await index.acquireStageLease({ ...b, queue: 'hash', messageId: 'hash:f1' }, minute)).toMatchObject({ acquired: true });
      expect(await index.acquireStageLease({ ...b, subjectId: 'f2', messageId: 'unpack:f2' }, minute)).toMatchObject({ acquired: true });

      // Only the holder renews or releases it.
      expect(await index.renewStageLease(b, minute)).toBe(false);
      expect(await index.renewStageLease(a, minute)).toBe(true);
      await index.releaseStageLease(b);
      expect(await index.acquireStageLease({ ...b, messageId: 'unpack:f1' }, minute)).toMatchObject({ acquired: false, holder: 'inv-a' });
      await index.releaseStageLease(a);
      expect(await index.acquireStageLease({ ...b, messageId: 'unpack:f1' }, minute)).toMatchObject({ acquired: true });

      // A holder that stopped renewing (crashed) is taken over once its lease has expired; it cannot renew it back.
      expect(await index.renewStageLease(b, 1)).toBe(true);
      await sleep(50);
      // An expired lease (a dead holder's) is not live.
      expect(await index.stageLeaseHeld({ queue: 'unpack', subjectId: 'f1' })).toBe(false);
      expect(await index.acquireStageLease({ ...a, messageId: 'unpack:f1:held-00000000-1' }, minute)).toMatchObject({ acquired: true });
      expect(await index.renewStageLease(b, minute)).toBe(false);
      await index.releaseStageLease(b);
      expect(await index.acquireStageLease({ queue: 'unpack', subjectId: 'f1', holder: 'inv-c', messageId: 'unpack:f1' }, minute)).toMatchObject({
        acquired: false,
        holder: 'inv-a',
        messageId: 'unpack:f1:held-00000000-1',
      });
      // The local host starting on its own index, where every holder is dead, clears them all.
      expect(await index.clearStageLeases()).toBe(3);
      expect(await index.acquireStageLease({ queue: 'unpack', subjectId: 'f1', holder: 'inv-c', messageId: 'unpack:f1' }, minute)).toMatchObject({ acquired: true });
    } finally {
      await index.close();
    }
  });
  // The reconcile pass's resend candidates, picked with the leases in one statement (runtime reconcile-live-lease test).
  it('reconcile-offers-again-an-upload-whose-unpack-is-live (the candidates query)', async () => {
    const sql = await openSqlClient(await target.create());
    const index = createPostgresIndex(sql);
    try {
      await index.migrate();
      const [pending, leased, hashing, died, hashed] = ['pending.zip', 'leased.zip', 'hashing.bin', 'died.zip', 'hashed.zip'].map((n) => newUpload('C1', 'E1', n));
      for (const u of [pending!, leased!, hashing!, died!, hashed!]) await index.recordUpload(u);
      await index.recordUploadHashes(hashed!.blobName, hashesOf('hashed.zip'), 'verified', []);
      const queues = ['unpack', 'hash'];
      await index.acquireStageLease({ queue: 'unpack', subjectId: leased!.rootFileId, holder: 'live', messageId: 'm' }, 60_000);
      await index.acquireStageLease({ queue: 'hash', subjectId: hashing!.rootFileId, holder: 'live', messageId: 'm' }, 60_000);
      await index.acquireStageLease({ queue: 'unpack', subjectId: died!.rootFileId, holder: 'dead', messageId: 'm' }, 0);
      // A lease of a queue not asked about keeps nothing back.
      await index.acquireStageLease({ queue: 'analyse', subjectId: pending!.rootFileId, holder: 'live', messageId: 'm' }, 60_000);
      expect([...(await index.listUploadsToOfferAgain({ pendingForMs: 0, unlessLeasedOn: queues }))].sort()).toEqual([died!.blobName, pending!.blobName].sort());
      // Received just now: not pending for an hour yet.
      expect(await index.listUploadsToOfferAgain({ pendingForMs: 3_600_000, unlessLeasedOn: queues })).toEqual(new Set());
      // Asked about no queue, every pending upload is a candidate, as before the lease.
      expect((await index.listUploadsToOfferAgain({ pendingForMs: 0, unlessLeasedOn: [] })).size).toBe(4);
    } finally {
      await index.close();
    }
  });

  // Many sessions take over a crashed holder's expired lease at once. The losers' read half sees its statement's
  // snapshot, in which the crashed holder's expired row may still stand: it must not be answered as the live holder
  // (a copy would be scheduled after a lease that is gone, naming a delivery that is dead). Only a server runs the
  // sessions side by side; PGlite runs them one after another and checks the same answers.
  it('expired-lease-takeover-race-names-dead-holder', async () => {
    const cfg = await target.create();
    const first = createPostgresIndex(await openSqlClient(cfg));
    await first.migrate();
    const clients = cfg.kind === 'pglite' ? [first] : [first, ...(await Promise.all(Array.from({ length: 5 }, async () => createPostgresIndex(await openSqlClient(cfg)))))];
    try {
      for (let round = 0; round < 20; round++) {
        const subjectId = `race-${round}`;
        await first.acquireStageLease({ queue: 'unpack', subjectId, holder: 'crashed', messageId: 'mc' }, 1);
        await sleep(5);
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) => clients[i % clients.length]!.acquireStageLease({ queue: 'unpack', subjectId, holder: `h${i}`, messageId: `m${i}` }, 60_000)),
        );
        expect(answers.filter((a) => a.acquired)).toHaveLength(1);
        expect(answers.filter((a) => !a.acquired && (a.holder === 'crashed' || a.expiresInMs === 0))).toEqual([]);
      }
    } finally {
      for (const c of clients) await c.close();
    }
  });
});
