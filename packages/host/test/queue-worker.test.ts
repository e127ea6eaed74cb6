import { describe, expect, inject, it } from 'vitest';
import { createRootLogger, ExhibitError } from '@exhibit/core';
import { createStorageQueueBus } from '@exhibit/bus';
import { QueueWorker, retryDelayMs } from '../src/queue-worker.js';

const logger = createRootLogger({ level: 'silent' });

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('QueueWorker on Storage Queues (the local stand-in for the Functions trigger)', () => {
  it('completes a handled message exactly once', async () => {
    const bus = createStorageQueueBus({ connectionString: inject('storageConnectionString'), queuePrefix: `qw${Date.now().toString(36)}a-` });
    await bus.ensureQueues();
    const seen: string[] = [];
    const worker = new QueueWorker(bus, 'index', async (m) => void seen.push(m.messageId), logger, { concurrency: 2, lockMs: 5000, idlePollMs: 50 });
    worker.start();
    await bus.send('index', [{ body: { n: 1 }, messageId: 'index:a' }, { body: { n: 2 }, messageId: 'index:b' }]);
    await until(async () => (seen.length === 2 ? true : undefined));
    await worker.stop();
    expect(seen.sort()).toEqual(['index:a', 'index:b']);
    expect(await bus.depth('index')).toEqual({ active: 0, poison: 0 });
  });

  it('retries a failing message, then dead-letters it with the last error as the reason', async () => {
    const bus = createStorageQueueBus({ connectionString: inject('storageConnectionString'), queuePrefix: `qw${Date.now().toString(36)}b-` });
    await bus.ensureQueues();
    let attempts = 0;
    const worker = new QueueWorker(
      bus,
      'analyse',
      async () => {
        attempts += 1;
        throw new ExhibitError('tool-unavailable', `ffmpeg went away (attempt ${attempts})`);
      },
      logger,
      { concurrency: 1, lockMs: 5000, idlePollMs: 50, maxDeliveryCount: 3, retryDelayMs: () => 0 },
    );
    worker.start();
    await bus.send('analyse', [{ body: { caseId: 'C', evidenceId: 'E', fileId: 'f1' }, messageId: 'analyse:f1' }]);
    const [dead] = await until(async () => {
      const got = await bus.receiveDeadLettered('analyse', { maxMessages: 1 });
      return got.length > 0 ? got : undefined;
    });
    await worker.stop();
    expect(attempts).toBe(3);
    expect(dead).toMatchObject({ messageId: 'analyse:f1', reason: 'tool-unavailable', body: { fileId: 'f1' } });
    expect(dead!.description).toContain('attempt 3: ffmpeg went away (attempt 3)');
    await dead!.complete();
  });

  it('backs off more with each attempt, within a minute', () => {
    expect([1, 2, 3, 10].map(retryDelayMs)).toEqual([1000, 4000, 9000, 60_000]);
  });
});
