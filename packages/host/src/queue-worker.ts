import { randomUUID } from 'node:crypto';
import { errorMessage, ExhibitError, LIMITS, type BusReceiver, type Logger, type QueueName, type ReceivedMessage } from '@exhibit/core';

export interface QueueWorkerOptions {
  /** Messages of this queue processed at once. */
  concurrency: number;
  /** How long a received message stays invisible to others; renewed while work runs. */
  lockMs: number;
  /** Longest sleep when the queue is empty. */
  idlePollMs: number;
  maxDeliveryCount?: number;
  /** Back-off before redelivery of a failed attempt; defaults to retryDelayMs. */
  retryDelayMs?: (deliveryCount: number) => number;
}

export type MessageHandler = (message: ReceivedMessage, invocation: { invocationId: string; logger: Logger; abortSignal: AbortSignal }) => Promise<unknown>;

/** Back-off before the next attempt of a failing message: 1 s, 4 s, 9 s, … capped at 60 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(60_000, 1000 * deliveryCount * deliveryCount);
}

/**
 * The local stand-in for a Service Bus trigger: receives with a lock, renews
 * it while the handler runs, completes on return, abandons with back-off on a
 * throw, and dead-letters after maxDeliveryCount attempts, as the Functions host does.
 */
export class QueueWorker {
  private inFlight = 0;
  private stopped = false;
  private readonly running = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private idleMs = 25;
  private readonly abort = new AbortController();

  constructor(
    private readonly receiver: BusReceiver,
    private readonly queue: QueueName,
    private readonly handler: MessageHandler,
    private readonly logger: Logger,
    private readonly options: QueueWorkerOptions,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Messages were just sent to this queue: poll now rather than at the end of the idle back-off. */
  nudge(): void {
    this.idleMs = 25;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.wake = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const free = this.options.concurrency - this.inFlight;
      if (free <= 0) {
        await Promise.race(this.running);
        continue;
      }
      let messages: ReceivedMessage[] = [];
      try {
        messages = await this.receiver.receive(this.queue, { maxMessages: free, lockMs: this.options.lockMs });
      } catch (err) {
        this.logger.warn({ queue: this.queue, err: errorMessage(err) }, 'receive failed; backing off');
        await this.sleep(this.options.idlePollMs);
        continue;
      }
      if (messages.length === 0) {
        const sleepMs = this.idleMs;
        this.idleMs = Math.min(this.options.idlePollMs, this.idleMs * 2);
        await this.sleep(sleepMs);
        continue;
      }
      this.idleMs = 25;
      for (const message of messages) {
        const task = this.process(message).finally(() => {
          this.inFlight -= 1;
          this.running.delete(task);
        });
        this.inFlight += 1;
        this.running.add(task);
      }
    }
  }

  private async process(message: ReceivedMessage): Promise<void> {
    const invocationId = randomUUID();
    const logger = this.logger.child({ queue: this.queue, messageId: message.messageId, invocationId });
    const renew = setInterval(() => {
      message.renewLock().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'lock renewal failed'));
    }, Math.max(1000, Math.floor(this.options.lockMs / 3)));
    const startedAt = performance.now();
    try {
      const outcome = await this.handler(message, { invocationId, logger, abortSignal: this.abort.signal });
      await message.complete();
      // Per-message timing at debug: the benchmark reads it to report time per stage.
      logger.debug({ durationMs: Math.round(performance.now() - startedAt), status: (outcome as { status?: string } | undefined)?.status }, 'message processed');
    } catch (err) {
      const maxDeliveries = this.options.maxDeliveryCount ?? LIMITS.maxDeliveryCount;
      const code = err instanceof ExhibitError ? err.code : 'unexpected-error';
      if (this.stopped && this.abort.signal.aborted) {
        // Shutting down: leave the message locked; it becomes visible again when the lock expires.
        return;
      }
      try {
        if (message.deliveryCount >= maxDeliveries) {
          logger.error({ err, deliveryCount: message.deliveryCount }, 'giving up on message; dead-lettering');
          await message.deadLetter(code, `attempt ${message.deliveryCount}: ${errorMessage(err)}`);
        } else {
          logger.warn({ err: errorMessage(err), code, deliveryCount: message.deliveryCount }, 'attempt failed; will retry');
          await message.abandon({ retryAfterMs: (this.options.retryDelayMs ?? retryDelayMs)(message.deliveryCount) });
        }
      } catch (settleErr) {
        logger.warn({ err: errorMessage(settleErr) }, 'could not settle message; its lock will expire');
      }
    } finally {
      clearInterval(renew);
    }
  }

  /** Stops receiving and waits for work in progress, at most `graceMs`, then aborts it. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    const drained = Promise.allSettled([...this.running]);
    const timer = new Promise((r) => setTimeout(r, graceMs));
    await Promise.race([drained, timer]);
    this.abort.abort();
    await drained;
  }
}
