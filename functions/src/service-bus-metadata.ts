import type { TriggerMetadata } from '@azure/functions';

/**
 * What the Service Bus trigger tells us about a message. The Node library
 * camel-cases metadata keys (MessageId → messageId), nested ones included,
 * so application properties such as DeadLetterReason arrive as deadLetterReason.
 */
export interface ServiceBusMessageInfo {
  messageId: string;
  deliveryCount: number;
  correlationId?: string;
  deadLetterReason?: string;
  deadLetterDescription?: string;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function prop(props: Record<string, unknown>, name: string): string | undefined {
  return str(props[name]) ?? str(props[name.charAt(0).toUpperCase() + name.slice(1)]);
}

export function serviceBusMessageInfo(metadata: TriggerMetadata | undefined, fallbackId: string): ServiceBusMessageInfo {
  const m = metadata ?? {};
  const props = (m.applicationProperties ?? m.userProperties ?? {}) as Record<string, unknown>;
  const count = Number(m.deliveryCount);
  const info: ServiceBusMessageInfo = {
    messageId: str(m.messageId) ?? fallbackId,
    deliveryCount: Number.isInteger(count) && count > 0 ? count : 1,
  };
  const correlationId = str(m.correlationId);
  if (correlationId) info.correlationId = correlationId;
  const reason = prop(props, 'deadLetterReason') ?? str(m.deadLetterReason);
  const description = prop(props, 'deadLetterErrorDescription') ?? str(m.deadLetterErrorDescription);
  if (reason) info.deadLetterReason = reason;
  if (description) info.deadLetterDescription = description;
  return info;
}

/**
 * The trigger hands over JSON bodies parsed, text as a string, anything else
 * as bytes. Text that is not JSON stays text: the handler's schema rejects it
 * as an outcome, so it is completed rather than retried into the dead letters.
 */
export function messageBody(message: unknown): unknown {
  if (Buffer.isBuffer(message)) message = message.toString('utf8');
  if (typeof message === 'string') {
    try {
      return JSON.parse(message) as unknown;
    } catch {
      return message;
    }
  }
  return message;
}
