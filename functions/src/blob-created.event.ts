import type { BlobCreatedInput } from '@exhibit/runtime';
import { BLOB_CREATED_EVENT } from './settings.js';

/**
 * Reads a Storage BlobCreated event as Event Grid delivers it into Service
 * Bus: one event per message, in the Event Grid schema (eventType, data.url)
 * or the CloudEvents 1.0 schema (type, source). Only metadata: the blob's
 * bytes are streamed later by the handler through the BlobStore port.
 */
export type BlobEventResult =
  | { kind: 'blob-created'; input: BlobCreatedInput }
  | { kind: 'ignored'; reason: 'not-blob-created' | 'other-container' | 'malformed' | 'directory'; detail: string };

const SUBJECT_RE = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The blob name from data.url (percent-encoded), used only when the subject
 * lost characters: Event Grid has been seen to replace characters outside the
 * Basic Multilingual Plane in subjects with U+FFFD.
 */
function nameFromUrl(url: unknown, container: string): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const segments = new URL(url).pathname.split('/').slice(1);
    // Azure: /<container>/<name>; Azurite: /<account>/<container>/<name>.
    const at = segments[0] === container ? 0 : segments[1] === container ? 1 : -1;
    if (at < 0 || at + 1 >= segments.length) return undefined;
    return segments.slice(at + 1).map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

export function parseBlobCreatedEvent(message: unknown, expectedContainer: string): BlobEventResult {
  // Event Grid's webhook deliveries come as arrays; a Service Bus message carries one event, but be lenient.
  const event = asRecord(Array.isArray(message) && message.length === 1 ? message[0] : message);
  if (!event) return { kind: 'ignored', reason: 'malformed', detail: 'event is not an object' };
  const type = event.eventType ?? event.type;
  const id = typeof event.id === 'string' ? event.id : undefined;
  if (type !== BLOB_CREATED_EVENT) {
    return { kind: 'ignored', reason: 'not-blob-created', detail: `event type ${String(type).slice(0, 100)}` };
  }
  const subject = typeof event.subject === 'string' ? event.subject : '';
  const match = SUBJECT_RE.exec(subject);
  if (!match) return { kind: 'ignored', reason: 'malformed', detail: `subject ${subject.slice(0, 200)}` };
  const container = match[1]!;
  if (container !== expectedContainer) {
    return { kind: 'ignored', reason: 'other-container', detail: `container ${container.slice(0, 64)}` };
  }
  const data = asRecord(event.data) ?? {};
  // Hierarchical-namespace accounts also announce directories; they hold no evidence bytes.
  if (data.contentType === 'application/x-directory' || data.resourceType === 'directory') {
    return { kind: 'ignored', reason: 'directory', detail: subject.slice(0, 200) };
  }
  const fromSubject = match[2]!;
  const blobName = fromSubject.includes('\uFFFD') ? (nameFromUrl(data.url, container) ?? fromSubject) : fromSubject;
  const input: BlobCreatedInput = { container, blobName };
  if (id) input.eventId = id;
  return { kind: 'blob-created', input };
}
