import type { Bus, BusReceiver, QueueName, ReceivedMessage } from '@exhibit/core';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The behaviour every bus must show, whatever carries the messages. Each test
 * gets a fresh bus (the factory picks a fresh queue prefix), so tests never
 * see each other's messages.
 */
export interface BusContractOptions {
  /** Lock requested on receive; short so lock-expiry tests finish quickly. */
  lockMs?: number;
  /**
   * How long an unsettled message stays locked. Storage Queues honour lockMs;
   * Service Bus uses the queue's lock duration, which the caller states here.
   */
  lockExpiryMs?: number;
  /** Upper bound for waiting on a message that should arrive (not an assertion on speed). */
  patienceMs?: number;
}

type TestBus = Bus & BusReceiver;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function busContract(name: string, makeBus: () => Promise<TestBus>, options: BusContractOptions = {}): void {
  const lockMs = options.lockMs ?? 2_000;
  const lockExpiryMs = options.lockExpiryMs ?? lockMs;
  const patienceMs = options.patienceMs ?? Math.max(20_000, lockExpiryMs * 3);
  const queue: QueueName = 'analyse';

  describe(`bus contract: ${name}`, () => {
    const open: TestBus[] = [];

    async function freshBus(): Promise<TestBus> {
      const bus = await makeBus();
      open.push(bus);
      await bus.ensureQueues();
      return bus;
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((bus) => bus.close()));
    });

    /** Receives until `count` messages arrived or patience runs out; leaves them unsettled. */
    async function receiveAtLeast(bus: TestBus, q: QueueName, count: number, lock = lockMs): Promise<ReceivedMessage[]> {
      const got: ReceivedMessage[] = [];
      const deadline = Date.now() + patienceMs;
      while (got.length < count && Date.now() < deadline) {
        const batch = await bus.receive(q, { maxMessages: Math.min(32, count - got.length), lockMs: lock, waitMs: 500 });
        got.push(...batch);
        if (batch.length === 0) await sleep(200);
      }
      return got;
    }

    /** A few polls that must come back empty. */
    async function expectEmpty(bus: TestBus, q: QueueName): Promise<void> {
      for (let i = 0; i < 3; i++) {
        const batch = await bus.receive(q, { maxMessages: 32, lockMs, waitMs: 300 });
        expect(batch.map((m) => m.messageId)).toEqual([]);
        await sleep(100);
      }
    }

    it('round-trips body, messageId and correlationId', async () => {
      const bus = await freshBus();
      const body = { caseId: 'case-1', evidenceId: 'ev-1', fileId: 'f0123', nested: { n: 3, list: ['a', 'é'] } };
      await bus.send(queue, [{ body, messageId: 'identify:f0123', correlationId: 'case-1/ev-1' }]);

      const [message, ...rest] = await receiveAtLeast(bus, queue, 1);
      expect(rest).toEqual([]);
      expect(message).toBeDefined();
      expect(message!.body).toEqual(body);
      expect(message!.messageId).toBe('identify:f0123');
      expect(message!.correlationId).toBe('case-1/ev-1');
      expect(message!.deliveryCount).toBe(1);
      await message!.complete();
    });

    it('complete removes the message for good', async () => {
      const bus = await freshBus();
      await bus.send(queue, [{ body: { n: 1 }, messageId: 'm-complete' }]);
      const [message] = await receiveAtLeast(bus, queue, 1);
      await message!.complete();
      // Past the lock expiry an unsettled message would be back; a completed one is not.
      await sleep(lockExpiryMs + 500);
      await expectEmpty(bus, queue);
    });

    it('abandon makes the message available again with deliveryCount + 1', async () => {
      const bus = await freshBus();
      await bus.send(queue, [{ body: { n: 2 }, messageId: 'm-abandon' }]);
      const [first] = await receiveAtLeast(bus, queue, 1, 60_000);
      expect(first!.deliveryCount).toBe(1);
      await first!.abandon();

      const [second] = await receiveAtLeast(bus, queue, 1);
      expect(second).toBeDefined();
      expect(second!.messageId).toBe('m-abandon');
      expect(second!.body).toEqual({ n: 2 });
      expect(second!.deliveryCount).toBe(2);
      await second!.complete();
    });

    it('an expired lock redelivers the message', async () => {
      const bus = await freshBus();
      await bus.send(queue, [{ body: { n: 3 }, messageId: 'm-lock' }]);
      const [first] = await receiveAtLeast(bus, queue, 1);
      expect(first!.deliveryCount).toBe(1);
      // Not settled, not renewed: the worker "crashed".

      const [again] = await receiveAtLeast(bus, queue, 1);
      expect(again).toBeDefined();
      expect(again!.messageId).toBe('m-lock');
      expect(again!.deliveryCount).toBe(2);
      await again!.complete();
    });

    it('renewLock keeps the message hidden while work goes on', async () => {
      const bus = await freshBus();
      await bus.send(queue, [{ body: { n: 4 }, messageId: 'm-renew' }]);
      const [held] = await receiveAtLeast(bus, queue, 1);
      // Renew after most of the lock has passed; polls after the original expiry must find nothing.
      await sleep(lockExpiryMs * 0.6);
      await held!.renewLock();
      await sleep(lockExpiryMs * 0.6);
      await expectEmpty(bus, queue);
      await held!.complete();
    });

    it('dead-letter moves the message with its reason and description', async () => {
      const bus = await freshBus();
      await bus.send(queue, [{ body: { n: 5 }, messageId: 'm-dead' }]);
      const [message] = await receiveAtLeast(bus, queue, 1);
      await message!.deadLetter('corrupt-file', 'zip central directory truncated at offset 1234');

      const deadline = Date.now() + patienceMs;
      let dead = await bus.receiveDeadLettered(queue, { maxMessages: 10 });
      while (dead.length === 0 && Date.now() < deadline) {
        await sleep(200);
        dead = await bus.receiveDeadLettered(queue, { maxMessages: 10 });
      }
      expect(dead).toHaveLength(1);
      expect(dead[0]!.messageId).toBe('m-dead');
      expect(dead[0]!.body).toEqual({ n: 5 });
      expect(dead[0]!.reason).toBe('corrupt-file');
      expect(dead[0]!.description).toBe('zip central directory truncated at offset 1234');
      await dead[0]!.complete();

      await sleep(lockExpiryMs + 500);
      await expectEmpty(bus, queue);
    });

    it('loses no message under concurrent receivers', async () => {
      const bus = await freshBus();
      const ids = Array.from({ length: 40 }, (_, i) => `m-conc-${i}`);
      await bus.send(queue, ids.map((messageId, i) => ({ body: { i }, messageId })));

      const seen = new Set<string>();
      const deadline = Date.now() + patienceMs;
      const worker = async () => {
        while (seen.size < ids.length && Date.now() < deadline) {
          const batch = await bus.receive(queue, { maxMessages: 5, lockMs: 30_000, waitMs: 300 });
          if (batch.length === 0) await sleep(100);
          for (const m of batch) {
            seen.add(m.messageId);
            await m.complete();
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      expect([...seen].sort()).toEqual([...ids].sort());
    });

    it('sends a batch in one call', async () => {
      const bus = await freshBus();
      const messages = Array.from({ length: 60 }, (_, i) => ({ body: { i, pad: 'x'.repeat(500) }, messageId: `m-batch-${i}` }));
      await bus.send('unpack', messages);
      const got = await receiveAtLeast(bus, 'unpack', messages.length, 60_000);
      expect(got.map((m) => m.messageId).sort()).toEqual(messages.map((m) => m.messageId).sort());
      for (const m of got) expect(m.body).toEqual(messages.find((x) => x.messageId === m.messageId)!.body);
      await Promise.all(got.map((m) => m.complete()));
    });

    it('holds back a message scheduled for later', async () => {
      const bus = await freshBus();
      await bus.send(queue, [
        { body: { later: true }, messageId: 'm-later', scheduledAt: new Date(Date.now() + 3_600_000) },
        { body: { now: true }, messageId: 'm-now' },
      ]);
      const [now] = await receiveAtLeast(bus, queue, 1);
      expect(now!.messageId).toBe('m-now');
      await now!.complete();
      await expectEmpty(bus, queue);
    });

    it('keeps queues apart', async () => {
      const bus = await freshBus();
      await bus.send('unpack', [{ body: { q: 'unpack' }, messageId: 'm-apart' }]);
      await expectEmpty(bus, 'index');
      const [m] = await receiveAtLeast(bus, 'unpack', 1);
      expect(m!.body).toEqual({ q: 'unpack' });
      await m!.complete();
    });
  });
}
