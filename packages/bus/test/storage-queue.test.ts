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

  it('refuses a message over the size limit instead of truncating it', async () => {
    await expect(bus.send('index', [{ body: { big: 'x'.repeat(60_000) }, messageId: 'big' }])).rejects.toThrow(/over/);
  });
});
