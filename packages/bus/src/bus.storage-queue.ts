import type { TokenCredential } from '@azure/core-auth';
import { QueueServiceClient, RestError, type QueueClient } from '@azure/storage-queue';
import {
  ExhibitError,
  QUEUES,
  redactSecrets,
  type Bus,
  type BusReceiver,
  type DeadLetteredMessage,
  type OutgoingMessage,
  type QueueName,
  type ReceivedMessage,
} from '@exhibit/core';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';

export type StorageQueueBusOptions = (
  | { connectionString: string }
  | { queueUrl: string; credential: TokenCredential }
) & {
  /** Prefix for queue names, so tests can run side by side on one Azurite. */
  queuePrefix?: string;
};

/** Storage Queues cap visibility at 7 days and a receive at 32 messages. */
const MAX_VISIBILITY_S = 7 * 24 * 3600;
const MAX_RECEIVE = 32;

function translate(err: unknown, what: string): ExhibitError {
  if (err instanceof ExhibitError) return err;
  const status = err instanceof RestError ? err.statusCode : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  if (status === 404) return new ExhibitError('not-found', redactSecrets(`${what}: ${detail}`), { cause: err });
  return new ExhibitError('bus-unavailable', redactSecrets(`${what}: ${detail}`), { cause: err });
}

/**
 * The updates of one received message, one at a time. Every update of a
 * Storage Queue message (a renewal, an abandon, the delete) must name the pop
 * receipt the last update returned, and each gives a new one. Two in flight at
 * once name the same receipt and the second fails ("The specified pop receipt
 * did not match"): a renewal that fired while the one before still ran (a slow
 * Azurite under load) lost the lock, and the message was delivered a second
 * time beside the first; a complete racing a renewal failed, and the finished
 * message came back. So a renewal asked for while one is in flight joins it,
 * a settle (complete, abandon, dead-letter) waits for the update in flight and
 * uses the receipt it returned, and after a settle no renewal is sent.
 */
class MessageUpdates {
  private tail: Promise<unknown> = Promise.resolve();
  private renewing: Promise<void> | null = null;
  private settled = false;

  constructor(private popReceipt: string) {}

  private next(update: (popReceipt: string) => Promise<string>): Promise<void> {
    const run = this.tail.then(async () => {
      this.popReceipt = await update(this.popReceipt);
    });
    // The next update waits for this one however it ends; its own failure is its caller's.
    this.tail = run.catch(() => undefined);
    return run;
  }

  renew(update: (popReceipt: string) => Promise<string>): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.renewing ??= this.next(update).finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  settle(update: (popReceipt: string) => Promise<string>): Promise<void> {
    this.settled = true;
    return this.next(update);
  }
}

/**
 * The local bus: Azure Storage Queues (Azurite locally). A queue per stage and
 * a `<queue>-poison` queue standing in for Service Bus dead-lettering.
 */
export class StorageQueueBus implements Bus, BusReceiver {
  private readonly service: QueueServiceClient;
  private readonly prefix: string;
  private readonly sentListeners: Array<(queue: QueueName) => void> = [];

  constructor(options: StorageQueueBusOptions) {
    this.service =
      'connectionString' in options
        ? QueueServiceClient.fromConnectionString(options.connectionString)
        : new QueueServiceClient(options.queueUrl, options.credential);
    this.prefix = options.queuePrefix ?? '';
  }

  queueName(queue: QueueName): string {
    return `${this.prefix}${queue}`;
  }

  poisonName(queue: QueueName): string {
    return `${this.prefix}${queue}-poison`;
  }

  private client(name: string): QueueClient {
    return this.service.getQueueClient(name);
  }

  onSent(listener: (queue: QueueName) => void): void {
    this.sentListeners.push(listener);
  }

  async ensureQueues(): Promise<void> {
    for (const q of QUEUES) {
      try {
        await this.client(this.queueName(q)).createIfNotExists();
        await this.client(this.poisonName(q)).createIfNotExists();
      } catch (err) {
        throw translate(err, `create queue ${q}`);
      }
    }
  }

  async send(queue: QueueName, messages: OutgoingMessage[], options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    const client = this.client(this.queueName(queue));
    // Storage Queues have no batch send; a few in flight keeps fan-out (unpack) quick.
    const inFlight = 8;
    for (let i = 0; i < messages.length; i += inFlight) {
      await Promise.all(
        messages.slice(i, i + inFlight).map(async (m) => {
          const text = encodeEnvelope({
            v: 1,
            messageId: m.messageId,
            ...(m.correlationId ? { correlationId: m.correlationId } : {}),
            body: m.body,
          });
          const delayS = m.scheduledAt ? Math.min(MAX_VISIBILITY_S, Math.max(0, Math.ceil((m.scheduledAt.getTime() - Date.now()) / 1000))) : 0;
          try {
            // TTL -1: evidence work must never silently expire off a queue.
            await client.sendMessage(text, { messageTimeToLive: -1, visibilityTimeout: delayS, abortSignal: options.abortSignal });
          } catch (err) {
            throw translate(err, `send to ${queue}`);
          }
        }),
      );
    }
    if (messages.length > 0) for (const listener of this.sentListeners) listener(queue);
  }

  async receive(
    queue: QueueName,
    options: { maxMessages: number; lockMs: number; waitMs?: number; abortSignal?: AbortSignal },
  ): Promise<ReceivedMessage[]> {
    const name = this.queueName(queue);
    const client = this.client(name);
    const lockS = Math.min(MAX_VISIBILITY_S, Math.max(1, Math.ceil(options.lockMs / 1000)));
    let items;
    try {
      items = (
        await client.receiveMessages({
          numberOfMessages: Math.min(MAX_RECEIVE, Math.max(1, options.maxMessages)),
          visibilityTimeout: lockS,
          abortSignal: options.abortSignal,
        })
      ).receivedMessageItems;
    } catch (err) {
      throw translate(err, `receive from ${queue}`);
    }
    return items.map((item) => {
      const envelope = decodeEnvelope(item.messageText, item.messageId);
      const poison = this.client(this.poisonName(queue));
      const updates = new MessageUpdates(item.popReceipt);
      const message: ReceivedMessage = {
        messageId: envelope.messageId,
        body: envelope.body,
        deliveryCount: item.dequeueCount,
        ...(envelope.correlationId ? { correlationId: envelope.correlationId } : {}),
        enqueuedAt: item.insertedOn,
        complete: () =>
          updates.settle(async (popReceipt) => {
            try {
              await client.deleteMessage(item.messageId, popReceipt);
            } catch (err) {
              throw translate(err, `complete ${envelope.messageId}`);
            }
            return popReceipt;
          }),
        abandon: (opts = {}) =>
          updates.settle(async (popReceipt) => {
            const delayS = Math.min(MAX_VISIBILITY_S, Math.max(0, Math.ceil((opts.retryAfterMs ?? 0) / 1000)));
            try {
              const r = await client.updateMessage(item.messageId, popReceipt, undefined, delayS);
              return r.popReceipt ?? popReceipt;
            } catch (err) {
              throw translate(err, `abandon ${envelope.messageId}`);
            }
          }),
        renewLock: () =>
          updates.renew(async (popReceipt) => {
            try {
              const r = await client.updateMessage(item.messageId, popReceipt, undefined, lockS);
              return r.popReceipt ?? popReceipt;
            } catch (err) {
              throw translate(err, `renew lock of ${envelope.messageId}`);
            }
          }),
        deadLetter: (reason, description) =>
          updates.settle(async (popReceipt) => {
            try {
              // Poison copy first, then delete: a crash between the two redelivers, never loses.
              await poison.sendMessage(
                encodeEnvelope({
                  ...envelope,
                  deadLetter: { reason: reason.slice(0, 200), description: description.slice(0, 2000), deliveryCount: item.dequeueCount },
                }),
                { messageTimeToLive: -1 },
              );
              await client.deleteMessage(item.messageId, popReceipt);
            } catch (err) {
              throw translate(err, `dead-letter ${envelope.messageId}`);
            }
            return popReceipt;
          }),
      };
      return message;
    });
  }

  async receiveDeadLettered(
    queue: QueueName,
    options: { maxMessages: number; abortSignal?: AbortSignal },
  ): Promise<DeadLetteredMessage[]> {
    const client = this.client(this.poisonName(queue));
    let items;
    try {
      items = (
        await client.receiveMessages({
          numberOfMessages: Math.min(MAX_RECEIVE, Math.max(1, options.maxMessages)),
          visibilityTimeout: 300,
          abortSignal: options.abortSignal,
        })
      ).receivedMessageItems;
    } catch (err) {
      throw translate(err, `receive dead letters of ${queue}`);
    }
    return items.map((item) => {
      const envelope = decodeEnvelope(item.messageText, item.messageId);
      return {
        messageId: envelope.messageId,
        body: envelope.body,
        reason: envelope.deadLetter?.reason ?? 'unknown',
        description: envelope.deadLetter?.description ?? '',
        complete: async () => {
          try {
            await client.deleteMessage(item.messageId, item.popReceipt);
          } catch (err) {
            throw translate(err, `complete dead letter ${envelope.messageId}`);
          }
        },
      };
    });
  }

  /** Approximate depth per queue, for status and for tests that wait for quiet. */
  async depth(queue: QueueName): Promise<{ active: number; poison: number }> {
    try {
      const [a, p] = await Promise.all([
        this.client(this.queueName(queue)).getProperties(),
        this.client(this.poisonName(queue)).getProperties(),
      ]);
      return { active: a.approximateMessagesCount ?? 0, poison: p.approximateMessagesCount ?? 0 };
    } catch (err) {
      throw translate(err, `depth of ${queue}`);
    }
  }

  async close(): Promise<void> {
    // HTTP clients hold no connections that need closing.
  }
}

export function createStorageQueueBus(options: StorageQueueBusOptions): StorageQueueBus {
  return new StorageQueueBus(options);
}
