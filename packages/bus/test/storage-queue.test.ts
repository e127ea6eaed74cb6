import { describe, expect, inject, it } from 'vitest';
import { createStorageQueueBus } from '../src/index.js';

describe('StorageQueueBus specifics', () => {
  const bus = createStorageQueueBus({ connectionString: inject('storageConnectionString'), queuePrefix: `sq${Date.now().toString(36)}-` });

  it('round-trips our message id and body, and dead-letters into the poison queue with the reason', async () => {
    await bus.ensureQueues();
    await bus.send('hash', [{ body: { caseId: 'C1' }, messageId: 'hash:f1', correlationId: 'E1' }]);
    const [m] = await bus.receive('hash', { maxMessages: 5, lockMs: 30_000 });
    expect(m?.messageId).toBe('hash:f1');
    expect(m?.correlationId).toBe('E1');
    expect(m?.body).toEqual({ caseId: 'C1' });
    expect(m?.deliveryCount).toBe(1);
    await m!.deadLetter('max-delivery', 'failed 5 times: boom');
    expect(await bus.receive('hash', { maxMessages: 5, lockMs: 1000 })).toHaveLength(0);
    const [d] = await bus.receiveDeadLettered('hash', { maxMessages: 5 });
    expect(d).toMatchObject({ messageId: 'hash:f1', reason: 'max-delivery', description: 'failed 5 times: boom', body: { caseId: 'C1' } });
    await d!.complete();
    expect((await bus.depth('hash')).poison).toBe(0);
  });

  // A renewal fired while the one before was still in flight (a slow Azurite under load): both named the same pop receipt,
  // the second failed ("The specified pop receipt did not match") and, its lock lapsing, the message was delivered twice.
  it('renewals-overlap-and-lose-the-lock', async () => {
    await bus.ensureQueues();
    await bus.send('unpack', [{ body: { n: 1 }, messageId: 'unpack:overlap' }]);
    const [m] = await bus.receive('unpack', { maxMessages: 1, lockMs: 30_000 });
    const renewals = await Promise.allSettled([m!.renewLock(), m!.renewLock(), m!.renewLock()]);
    expect(renewals.map((r) => (r.status === 'rejected' ? String(r.reason) : 'renewed'))).toEqual(['renewed', 'renewed', 'renewed']);
    // The lock still holds with the receipt the renewals left: a renewal and the complete succeed on it.
    await m!.renewLock();
    await m!.complete();
    expect((await bus.depth('unpack')).active).toBe(0);
  });

  // A complete sent while a renewal was in flight named the receipt the renewal was replacing: it failed, and the
  // message, its work done, came back when its lock expired.
  it('complete-racing-a-renewal-fails-and-the-finished-message-comes-back', async () => {
    await bus.ensureQueues();
    await bus.send('hash', [{ body: { n: 2 }, messageId: 'hash:race' }]);
    const [m] = await bus.receive('hash', { maxMessages: 1, lockMs: 30_000 });
    const [renewed, completed] = await Promise.allSettled([m!.renewLock(), m!.complete()]);
    expect(renewed.status === 'rejected' ? String(renewed.reason) : 'renewed').toBe('renewed');
    expect(completed.status === 'rejected' ? String(completed.reason) : 'completed').toBe('completed');
    // Settled: a renewal that fires after the complete sends nothing (the message is gone; it would fail).
    await m!.renewLock();
    expect((await bus.depth('hash')).active).toBe(0);
  });

  it('refuses a message over the size limit instead of truncating it', async () => {
    await expect(bus.send('index', [{ body: { big: 'x'.repeat(60_000) }, messageId: 'big' }])).rejects.toThrow(/over/);
  });
});
