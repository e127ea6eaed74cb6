import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, openSqlClient } from '../src/index.js';
import { allTargets } from './targets.js';

/**
 * Migration 0230: the stage lease of one queue's work on one item. Taken when
 * there is none, when the one there expired (a crashed holder's) or by its own
 * holder again; else the live holder is answered, with the time it has left on
 * the database's clock. Renewed and released only by its holder.
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
});
