import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import {
  isServiceBusError,
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
} from '@azure/service-bus';
import {
  ExhibitError,
  LIMITS,
  MAX_MESSAGE_ID_CHARS,
  QUEUES,
  type Bus,
  type BusReceiver,
  type DeadLetteredMessage,
  type OutgoingMessage,
  type QueueName,
  type ReceivedMessage,
} from '@exhibit/core';

/**
 * Service Bus adapter for Bus and BusReceiver. In Azure the Functions host
 * receives and settles stage messages itself; this receiver serves the local
 * host in service-bus mode, operators' dead-letter tooling and the contract
 * suite. Queues are created by infra/ (Bicep); `manageQueues` only exists for
 * throw-away test namespaces.
 */
export type ServiceBusTarget =
  | { connectionString: string }
  | { namespace: string; credential?: TokenCredential };

export interface ServiceBusBusOptions {
  /** Prefix for entity names so tests can share a namespace, e.g. `t1234-`. */
  queuePrefix?: string;
  /** Create missing queues with ServiceBusAdministrationClient (needs Manage rights). */
  manageQueues?: boolean;
  /** How long an unsettled lock lasts when ensureQueues creates a queue. */
  lockDurationMs?: number;
  maxMessageBytes?: number;
  maxDeliveryCount?: number;
}

/** Application properties the adapter owns; nothing else reads or writes them. */
export const SB_PROPS = {
  /** The logical message id when the Service Bus messageId carries a retry suffix. */
  messageId: 'exhibit-message-id',
  /** Deliveries that happened before a delayed retry re-sent the message. */
  priorDeliveries: 'exhibit-prior-deliveries',
} as const;

/**
 * How long Service Bus remembers a message id to drop a resend of it (ISO 8601,
 * as infra/modules/service-bus.bicep's queueProperties declares: the two must
 * agree, test/consistency/queues.test.ts). Continuations' deterministic keys
 * rely on it: a watchdog re-drive (stall time 30 min) or a redelivered attempt
 * that sends the same continuation again is dropped only inside this window.
 */
export const SB_DUPLICATE_DETECTION_WINDOW = 'PT1H';

const DEFAULT_WAIT_MS = 1_000;
const DEAD_LETTER_WAIT_MS = 1_000;

export function entityName(prefix: string, queue: QueueName): string {
  return `${prefix}${queue}`;
}

/** Serialises and size-checks a body; the SDK sends objects as JSON in a data section. */
export function encodedBodyBytes(body: unknown): number {
  const json = JSON.stringify(body ?? null);
  return Buffer.byteLength(json, 'utf8');
}

export function toServiceBusMessage(
  message: OutgoingMessage,
  options: { maxMessageBytes?: number } = {},
): ServiceBusMessage {
  const maxBytes = options.maxMessageBytes ?? LIMITS.maxMessageBytes;
  const bytes = encodedBodyBytes(message.body);
  if (bytes > maxBytes) {
    throw new ExhibitError('invalid-message', `message ${message.messageId} is ${bytes} bytes, over the ${maxBytes}-byte limit`, {
      details: { messageId: message.messageId, bytes, maxBytes },
    });
  }
  if (message.messageId.length === 0 || message.messageId.length > MAX_MESSAGE_ID_CHARS) {
    // Service Bus rejects message ids over 128 characters; duplicate detection relies on them.
    throw new ExhibitError('invalid-message', `message id must be 1 to ${MAX_MESSAGE_ID_CHARS} characters: ${message.messageId.slice(0, 40)}…`);
  }
  const out: ServiceBusMessage = {
    body: message.body ?? null,
    contentType: 'application/json',
    messageId: message.messageId,
  };
  if (message.correlationId !== undefined) out.correlationId = message.correlationId;
  if (message.scheduledAt !== undefined) out.scheduledEnqueueTimeUtc = message.scheduledAt;
  return out;
}

/** Reads the fields our port exposes from a received Service Bus message. */
export function fromServiceBusMessage(message: ServiceBusReceivedMessage): {
  messageId: string;
  body: unknown;
  deliveryCount: number;
  correlationId?: string;
  enqueuedAt?: Date;
} {
  const props = message.applicationProperties ?? {};
  const logicalId = props[SB_PROPS.messageId];
  const prior = props[SB_PROPS.priorDeliveries];
  const messageId = typeof logicalId === 'string' ? logicalId : String(message.messageId ?? '');
  const deliveryCount = (typeof prior === 'number' ? prior : 0) + (message.deliveryCount ?? 1);
  const out: ReturnType<typeof fromServiceBusMessage> = { messageId, body: decodeBody(message.body), deliveryCount };
  if (typeof message.correlationId === 'string') out.correlationId = message.correlationId;
  if (message.enqueuedTimeUtc) out.enqueuedAt = message.enqueuedTimeUtc;
  return out;
}

/** Bodies sent by other producers (Event Grid, the portal) may arrive as bytes or text. */
export function decodeBody(body: unknown): unknown {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) body = Buffer.from(body).toString('utf8');
  if (typeof body === 'string') {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  return body;
}

/** SDK errors become ExhibitError; everything transient is 'bus-unavailable' so the caller retries. */
export function translateServiceBusError(err: unknown, operation: string, queue?: string): ExhibitError {
  if (err instanceof ExhibitError) return err;
  const where = queue ? `${operation} on ${queue}` : operation;
  if (err instanceof Error && err.name === 'AbortError') {
    return new ExhibitError('aborted', `${where} aborted`, { cause: err });
  }
  if (isServiceBusError(err)) {
    const details = { serviceBusCode: err.code, retryable: err.retryable, queue };
    switch (err.code) {
      case 'MessageSizeExceeded':
        return new ExhibitError('invalid-message', `${where}: message too large`, { cause: err, details });
      case 'MessagingEntityNotFound':
      case 'MessagingEntityDisabled':
        return new ExhibitError('invalid-config', `${where}: queue missing or disabled (provisioned by infra/)`, { cause: err, details });
      case 'MessageLockLost':
      case 'MessageNotFound':
        // The lease is gone; Service Bus redelivers the message, so settling again is pointless.
        return new ExhibitError('conflict', `${where}: message lock lost`, { cause: err, details });
      default:
        // UnauthorizedAccess included: fresh role assignments take minutes to propagate.
        return new ExhibitError('bus-unavailable', `${where}: ${err.code}: ${err.message}`, { cause: err, details });
    }
  }
  return new ExhibitError('bus-unavailable', `${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

async function guard<T>(operation: string, queue: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateServiceBusError(err, operation, queue);
  }
}

export class ServiceBusBus implements Bus, BusReceiver {
  readonly #client: ServiceBusClient;
  readonly #admin: ServiceBusAdministrationClient | undefined;
  readonly #prefix: string;
  readonly #options: Required<Pick<ServiceBusBusOptions, 'maxMessageBytes' | 'maxDeliveryCount' | 'lockDurationMs'>>;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #receivers = new Map<string, ServiceBusReceiver>();

  constructor(target: ServiceBusTarget, options: ServiceBusBusOptions = {}) {
    this.#prefix = options.queuePrefix ?? '';
    this.#options = {
      maxMessageBytes: options.maxMessageBytes ?? LIMITS.maxMessageBytes,
      maxDeliveryCount: options.maxDeliveryCount ?? LIMITS.maxDeliveryCount,
      lockDurationMs: options.lockDurationMs ?? 5 * 60_000,
    };
    if ('connectionString' in target) {
      this.#client = new ServiceBusClient(target.connectionString);
      this.#admin = options.manageQueues ? new ServiceBusAdministrationClient(target.connectionString) : undefined;
    } else {
      const credential = target.credential ?? new DefaultAzureCredential();
      this.#client = new ServiceBusClient(target.namespace, credential);
      this.#admin = options.manageQueues ? new ServiceBusAdministrationClient(target.namespace, credential) : undefined;
    }
  }

  #sender(queue: QueueName): ServiceBusSender {
    const name = entityName(this.#prefix, queue);
    let sender = this.#senders.get(name);
    if (!sender) {
      sender = this.#client.createSender(name);
      this.#senders.set(name, sender);
    }
    return sender;
  }

  #receiver(queue: QueueName, deadLetter: boolean): ServiceBusReceiver {
    const name = entityName(this.#prefix, queue);
    const key = deadLetter ? `${name}/$deadletterqueue` : name;
    let receiver = this.#receivers.get(key);
    if (!receiver) {
      receiver = this.#client.createReceiver(
        name,
        deadLetter ? { receiveMode: 'peekLock', subQueueType: 'deadLetter' } : { receiveMode: 'peekLock' },
      );
      this.#receivers.set(key, receiver);
    }
    return receiver;
  }

  async send(queue: QueueName, messages: OutgoingMessage[], options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    if (messages.length === 0) return;
    const mapped = messages.map((m) => toServiceBusMessage(m, { maxMessageBytes: this.#options.maxMessageBytes }));
    await this.#sendMapped(queue, mapped, options.abortSignal);
  }

  async #sendMapped(queue: QueueName, mapped: ServiceBusMessage[], abortSignal: AbortSignal | undefined): Promise<void> {
    const sender = this.#sender(queue);
    const name = entityName(this.#prefix, queue);
    const opts = abortSignal ? { abortSignal } : {};
    await guard('send', name, async () => {
      // Batches respect the namespace's frame size; a large fan-out becomes several batches.
      let batch = await sender.createMessageBatch(opts);
      for (const message of mapped) {
        if (batch.tryAddMessage(message)) continue;
        if (batch.count === 0) {
          throw new ExhibitError('invalid-message', `message ${String(message.messageId)} does not fit in an empty batch`);
        }
        await sender.sendMessages(batch, opts);
        batch = await sender.createMessageBatch(opts);
        if (!batch.tryAddMessage(message)) {
          throw new ExhibitError('invalid-message', `message ${String(message.messageId)} does not fit in an empty batch`);
        }
      }
      if (batch.count > 0) await sender.sendMessages(batch, opts);
    });
  }

  async receive(
    queue: QueueName,
    options: { maxMessages: number; lockMs: number; waitMs?: number; abortSignal?: AbortSignal },
  ): Promise<ReceivedMessage[]> {
    // lockMs is not used: the lock duration is a property of the queue (set in infra/), not of a receive call.
    const receiver = this.#receiver(queue, false);
    const name = entityName(this.#prefix, queue);
    const received = await guard('receive', name, () =>
      receiver.receiveMessages(options.maxMessages, {
        maxWaitTimeInMs: options.waitMs ?? DEFAULT_WAIT_MS,
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      }),
    );
    return received.map((m) => this.#wrap(queue, receiver, m));
  }

  #wrap(queue: QueueName, receiver: ServiceBusReceiver, raw: ServiceBusReceivedMessage): ReceivedMessage {
    const name = entityName(this.#prefix, queue);
    const fields = fromServiceBusMessage(raw);
    return {
      ...fields,
      complete: () => guard('complete', name, () => receiver.completeMessage(raw)),
      abandon: (opts = {}) => this.#abandon(queue, receiver, raw, fields, opts.retryAfterMs),
      deadLetter: (reason, description) =>
        guard('dead-letter', name, () =>
          receiver.deadLetterMessage(raw, { deadLetterReason: reason, deadLetterErrorDescription: description }),
        ),
      renewLock: async () => {
        await guard('renew-lock', name, () => receiver.renewMessageLock(raw));
      },
    };
  }

  /**
   * Service Bus has no delayed abandon. A delayed retry sends a scheduled copy
   * first and completes the original second, so a crash in between duplicates
   * (harmless: stages are idempotent) rather than loses the message. The copy
   * gets a distinct broker messageId so duplicate detection does not drop it.
   */
  async #abandon(
    queue: QueueName,
    receiver: ServiceBusReceiver,
    raw: ServiceBusReceivedMessage,
    fields: ReturnType<typeof fromServiceBusMessage>,
    retryAfterMs: number | undefined,
  ): Promise<void> {
    const name = entityName(this.#prefix, queue);
    if (!retryAfterMs || retryAfterMs <= 0) {
      await guard('abandon', name, () => receiver.abandonMessage(raw));
      return;
    }
    if (fields.deliveryCount >= this.#options.maxDeliveryCount) {
      await guard('dead-letter', name, () =>
        receiver.deadLetterMessage(raw, {
          deadLetterReason: 'MaxDeliveryCountExceeded',
          deadLetterErrorDescription: `abandoned after ${fields.deliveryCount} deliveries`,
        }),
      );
      return;
    }
    const copy: ServiceBusMessage = {
      body: fields.body,
      contentType: 'application/json',
      messageId: `${fields.messageId}#d${fields.deliveryCount}`.slice(0, 128),
      scheduledEnqueueTimeUtc: new Date(Date.now() + retryAfterMs),
      applicationProperties: {
        [SB_PROPS.messageId]: fields.messageId,
        [SB_PROPS.priorDeliveries]: fields.deliveryCount,
      },
    };
    if (fields.correlationId !== undefined) copy.correlationId = fields.correlationId;
    await this.#sendMapped(queue, [copy], undefined);
    await guard('complete', name, () => receiver.completeMessage(raw));
  }

  async receiveDeadLettered(
    queue: QueueName,
    options: { maxMessages: number; abortSignal?: AbortSignal },
  ): Promise<DeadLetteredMessage[]> {
    const receiver = this.#receiver(queue, true);
    const name = `${entityName(this.#prefix, queue)}/$deadletterqueue`;
    const received = await guard('receive-dead-lettered', name, () =>
      receiver.receiveMessages(options.maxMessages, {
        maxWaitTimeInMs: DEAD_LETTER_WAIT_MS,
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      }),
    );
    return received.map((raw) => {
      const fields = fromServiceBusMessage(raw);
      return {
        messageId: fields.messageId,
        body: fields.body,
        reason: raw.deadLetterReason ?? '',
        description: raw.deadLetterErrorDescription ?? '',
        complete: () => guard('complete', name, () => receiver.completeMessage(raw)),
      };
    });
  }

  async ensureQueues(): Promise<void> {
    const admin = this.#admin;
    if (!admin) return;
    for (const queue of QUEUES) {
      const name = entityName(this.#prefix, queue);
      await guard('ensure-queue', name, async () => {
        if (await admin.queueExists(name)) return;
        try {
          await admin.createQueue(name, {
            maxDeliveryCount: this.#options.maxDeliveryCount,
            deadLetteringOnMessageExpiration: true,
            requiresDuplicateDetection: true,
            duplicateDetectionHistoryTimeWindow: SB_DUPLICATE_DETECTION_WINDOW,
            lockDuration: `PT${Math.min(300, Math.max(5, Math.round(this.#options.lockDurationMs / 1000)))}S`,
          });
        } catch (err) {
          if (isServiceBusError(err) && err.code === 'MessagingEntityAlreadyExists') return;
          throw err;
        }
      });
    }
  }

  /** Deletes the prefixed queues; for test namespaces only. */
  async deleteQueues(): Promise<void> {
    const admin = this.#admin;
    if (!admin) throw new ExhibitError('invalid-argument', 'deleteQueues needs manageQueues: true');
    for (const queue of QUEUES) {
      const name = entityName(this.#prefix, queue);
      await guard('delete-queue', name, async () => {
        if (await admin.queueExists(name)) await admin.deleteQueue(name);
      });
    }
  }

  async close(): Promise<void> {
    const closers = [...this.#receivers.values(), ...this.#senders.values()].map((c) => c.close().catch(() => undefined));
    await Promise.all(closers);
    this.#receivers.clear();
    this.#senders.clear();
    await this.#client.close();
  }
}

export function createServiceBusBus(target: ServiceBusTarget, options: ServiceBusBusOptions = {}): ServiceBusBus {
  return new ServiceBusBus(target, options);
}
