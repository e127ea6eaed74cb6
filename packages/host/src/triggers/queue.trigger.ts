import type { QueueName } from '@exhibit/core';
import { QueueWorker } from '../queue-worker.js';
import type { LocalDef, LocalServing } from './local-trigger.js';

/**
 * Per-queue concurrency on the local stack. I/O-bound stages run wide; hashing
 * and unpacking (one long read each) stay near the core count. Analyse runs
 * twice the base: a message analyses its files one after another, and each
 * file waits on its parser-thread calls, libvips and three index writes (the
 * index process serves one statement at a time), so at the base four messages
 * kept two cores about half busy; eight finished bench:disk's 0.25 GiB image
 * in 66.9 s against 97.9 s at the same CPU and host peak (docs/benchmarks.md,
 * "Analyse concurrency").
 */
export function localConcurrency(queue: QueueName, base: number): number {
  switch (queue) {
    case 'hash':
    case 'unpack':
      return Math.max(1, Math.ceil(base / 2));
    default:
      // analyse among them (see above)
      return base * 2;
  }
}

/** A stage queue: the local stand-in for the Service Bus trigger (receive, lock, complete, abandon, dead-letter). */
export function serveQueue(fn: LocalDef<'queue'>, s: LocalServing): QueueWorker {
  const queue = fn.trigger.queue;
  const worker = new QueueWorker(
    s.app.bus,
    queue,
    (message, inv) =>
      fn.handler(s.app, { body: message.body, messageId: message.messageId, deliveryCount: message.deliveryCount, ...(message.correlationId ? { correlationId: message.correlationId } : {}) }, inv),
    s.logger.child({ function: fn.name }),
    { concurrency: localConcurrency(queue, s.config.worker.concurrency), lockMs: s.lockMs, idlePollMs: s.config.worker.pollIntervalMs },
  );
  worker.start();
  s.stoppers.push(() => worker.stop());
  return worker;
}
