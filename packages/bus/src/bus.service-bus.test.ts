import { ServiceBusError, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { ExhibitError, LIMITS, isRetryable } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import {
  SB_PROPS,
  createServiceBusBus,
  decodeBody,
  encodedBodyBytes,
  fromServiceBusMessage,
  toServiceBusMessage,
  translateServiceBusError,
} from './bus.service-bus.js';

/** A received message as the SDK hands it over; only the fields the adapter reads are meaningful. */
function received(fields: Partial<ServiceBusReceivedMessage>): ServiceBusReceivedMessage {
  return { body: null, deliveryCount: 1, state: 'active', ...fields } as ServiceBusReceivedMessage;
}

/** A body whose JSON encoding is exactly `bytes` long. */
function bodyOfBytes(bytes: number): { pad: string } {
  const overhead = encodedBodyBytes({ pad: '' });
  return { pad: 'x'.repeat(bytes - overhead) };
}

describe('toServiceBusMessage', () => {
  it('carries messageId, correlationId and the schedule for duplicate detection and delayed delivery', () => {
    const at = new Date('2030-01-02T03:04:05Z');
    const out = toServiceBusMessage({ body: { fileId: 'f1' }, messageId: 'hash:f1', correlationId: 'case-1/ev-1', scheduledAt: at });
    expect(out.messageId).toBe('hash:f1');
    expect(out.correlationId).toBe('case-1/ev-1');
    expect(out.scheduledEnqueueTimeUtc).toEqual(at);
    expect(out.contentType).toBe('application/json');
    expect(out.body).toEqual({ fileId: 'f1' });
  });

  it('leaves optional fields unset rather than sending empty values', () => {
    const out = toServiceBusMessage({ body: { a: 1 }, messageId: 'identify:f2' });
    expect('correlationId' in out).toBe(false);
    expect('scheduledEnqueueTimeUtc' in out).toBe(false);
  });

  it('accepts a body at the size limit and rejects one byte more', () => {
    const atLimit = bodyOfBytes(LIMITS.maxMessageBytes);
    expect(encodedBodyBytes(atLimit)).toBe(LIMITS.maxMessageBytes);
    expect(() => toServiceBusMessage({ body: atLimit, messageId: 'm' })).not.toThrow();

    const over = bodyOfBytes(LIMITS.maxMessageBytes + 1);
    let error: unknown;
    try {
      toServiceBusMessage({ body: over, messageId: 'm' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ExhibitError);
    expect((error as ExhibitError).code).toBe('invalid-message');
    expect((error as ExhibitError).details).toMatchObject({ bytes: LIMITS.maxMessageBytes + 1 });
  });

  it('counts bytes, not characters, so multi-byte names cannot slip past the limit', () => {
    const name = 'é'.repeat(LIMITS.maxMessageBytes / 2);
    expect(() => toServiceBusMessage({ body: { name }, messageId: 'm' })).toThrow(/over the/);
  });

  it('rejects message ids Service Bus would refuse', () => {
    expect(() => toServiceBusMessage({ body: {}, messageId: '' })).toThrow(ExhibitError);
    expect(() => toServiceBusMessage({ body: {}, messageId: 'x'.repeat(129) })).toThrow(ExhibitError);
  });
});

describe('fromServiceBusMessage', () => {
  it('maps the SDK fields onto the port', () => {
    const enqueued = new Date('2030-01-01T00:00:00Z');
    const out = fromServiceBusMessage(
      received({ body: { fileId: 'f1' }, messageId: 'hash:f1', deliveryCount: 2, correlationId: 'c', enqueuedTimeUtc: enqueued }),
    );
    expect(out).toEqual({ messageId: 'hash:f1', body: { fileId: 'f1' }, deliveryCount: 2, correlationId: 'c', enqueuedAt: enqueued });
  });

  it('decodes JSON bytes from producers that send raw data (Event Grid, the portal)', () => {
    const out = fromServiceBusMessage(received({ body: Buffer.from('{"id":"evt-1"}'), messageId: 'x' }));
    expect(out.body).toEqual({ id: 'evt-1' });
  });

  it('keeps the logical id and counts earlier deliveries of a delayed retry', () => {
    const out = fromServiceBusMessage(
      received({
        body: {},
        messageId: 'hash:f1#d3',
        deliveryCount: 1,
        applicationProperties: { [SB_PROPS.messageId]: 'hash:f1', [SB_PROPS.priorDeliveries]: 3 },
      }),
    );
    expect(out.messageId).toBe('hash:f1');
    expect(out.deliveryCount).toBe(4);
  });
});

describe('decodeBody', () => {
  it('returns text that is not JSON unchanged', () => {
    expect(decodeBody('not json')).toBe('not json');
    expect(decodeBody(new Uint8Array(Buffer.from('plain')))).toBe('plain');
  });
});

describe('translateServiceBusError', () => {
  it('turns transient Service Bus faults into retryable bus-unavailable, keeping the cause', () => {
    for (const code of ['ServiceBusy', 'ServiceTimeout', 'ServiceCommunicationProblem', 'UnauthorizedAccess', 'QuotaExceeded'] as const) {
      const cause = new ServiceBusError(`boom ${code}`, code);
      const err = translateServiceBusError(cause, 'send', 'hash');
      expect(err.code).toBe('bus-unavailable');
      expect(err.retryable).toBe(true);
      expect(err.cause).toBe(cause);
      expect(err.details).toMatchObject({ serviceBusCode: code, queue: 'hash' });
    }
  });

  it('maps permanent faults to non-retryable codes', () => {
    expect(translateServiceBusError(new ServiceBusError('big', 'MessageSizeExceeded'), 'send').code).toBe('invalid-message');
    expect(translateServiceBusError(new ServiceBusError('gone', 'MessagingEntityNotFound'), 'send').code).toBe('invalid-config');
    const lost = translateServiceBusError(new ServiceBusError('lock', 'MessageLockLost'), 'complete');
    expect(lost.code).toBe('conflict');
    expect(isRetryable(lost)).toBe(false);
  });

  it('treats unknown errors as unavailable and passes ExhibitErrors through', () => {
    expect(translateServiceBusError(new Error('socket hang up'), 'receive').code).toBe('bus-unavailable');
    const own = new ExhibitError('invalid-message', 'x');
    expect(translateServiceBusError(own, 'send')).toBe(own);
    const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(translateServiceBusError(abort, 'receive').code).toBe('aborted');
  });
});

describe('ServiceBusBus', () => {
  it('refuses an oversized message before any network call', async () => {
    // No namespace is reachable here: the size check must fail first and synchronously with our error.
    const bus = createServiceBusBus({ connectionString: 'Endpoint=sb://exhibit-test.invalid/;SharedAccessKeyName=k;SharedAccessKey=a2V5' });
    try {
      await expect(bus.send('hash', [{ body: bodyOfBytes(LIMITS.maxMessageBytes + 10), messageId: 'm' }])).rejects.toMatchObject({
        code: 'invalid-message',
      });
    } finally {
      await bus.close();
    }
  });

  it('does nothing for an empty send', async () => {
    const bus = createServiceBusBus({ connectionString: 'Endpoint=sb://exhibit-test.invalid/;SharedAccessKeyName=k;SharedAccessKey=a2V5' });
    try {
      await expect(bus.send('hash', [])).resolves.toBeUndefined();
    } finally {
      await bus.close();
    }
  });
});
