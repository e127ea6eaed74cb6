import { ExhibitError, LIMITS } from '@exhibit/core';

/**
 * What travels on a Storage Queue. Service Bus has message properties for
 * these fields; a Storage Queue only carries text, so they ride in the body.
 */
export interface Envelope {
  v: 1;
  messageId: string;
  correlationId?: string;
  body: unknown;
  deadLetter?: { reason: string; description: string; deliveryCount: number };
}

export function encodeEnvelope(envelope: Envelope): string {
  const json = JSON.stringify(envelope);
  if (Buffer.byteLength(json) > LIMITS.maxMessageBytes) {
    throw new ExhibitError('invalid-message', `message ${envelope.messageId} is ${Buffer.byteLength(json)} bytes, over ${LIMITS.maxMessageBytes}`);
  }
  return Buffer.from(json, 'utf8').toString('base64');
}

/** A message that cannot be decoded is still delivered, as a body the stage will reject, so it reaches the poison queue. */
export function decodeEnvelope(text: string, fallbackId: string): Envelope {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    if (parsed && typeof parsed === 'object' && (parsed as Envelope).v === 1 && typeof (parsed as Envelope).messageId === 'string') {
      return parsed as Envelope;
    }
  } catch {
    // fall through
  }
  return { v: 1, messageId: fallbackId, body: { undecodable: text.slice(0, 200) } };
}
