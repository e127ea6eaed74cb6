import type { QueueName } from '../lifecycle.js';

/** The stage queues are part of the lifecycle (lifecycle.ts). */
export { QUEUES, type QueueName } from '../lifecycle.js';

export interface OutgoingMessage {
  body: unknown;
  /** Deterministic per unit of work so Service Bus duplicate detection can drop repeats. */
  messageId: string;
  correlationId?: string;
  /** Deliver no earlier than this. */
  scheduledAt?: Date;
}

export interface Bus {
  send(queue: QueueName, messages: OutgoingMessage[], options?: { abortSignal?: AbortSignal }): Promise<void>;
}

export interface ReceivedMessage {
  messageId: string;
  body: unknown;
  /** 1 on first delivery. */
  deliveryCount: number;
  correlationId?: string;
  enqueuedAt?: Date;
  complete(): Promise<void>;
  /** Make the message visible again (optionally after a delay) for another attempt. */
  abandon(options?: { retryAfterMs?: number }): Promise<void>;
  /** Move to the dead-letter (poison) queue with a reason. */
  deadLetter(reason: string, description: string): Promise<void>;
  /** Keep the lease while long work runs. */
  renewLock(): Promise<void>;
}

export interface DeadLetteredMessage {
  messageId: string;
  body: unknown;
  reason: string;
  description: string;
  complete(): Promise<void>;
}

/** The receiving side; the local host polls it, Azure Functions triggers replace it. */
export interface BusReceiver {
  receive(
    queue: QueueName,
    options: { maxMessages: number; lockMs: number; waitMs?: number; abortSignal?: AbortSignal },
  ): Promise<ReceivedMessage[]>;
  receiveDeadLettered(
    queue: QueueName,
    options: { maxMessages: number; abortSignal?: AbortSignal },
  ): Promise<DeadLetteredMessage[]>;
  ensureQueues(): Promise<void>;
  close(): Promise<void>;
  /**
   * Calls `listener` after this process sent messages to a queue, so a local
   * poller can receive them now instead of after its idle back-off. Optional:
   * Service Bus receivers are pushed their messages and need no hint.
   */
  onSent?(listener: (queue: QueueName) => void): void;
}
