import { MEDIA_LIMITS } from '../media-limits.js';
import { escapeForDump } from './recorded-text.js';

/** How byte arrays appear in the raw dump. */
export interface BytesValue {
  type: 'bytes';
  length: number;
  /** Present only for arrays up to MEDIA_LIMITS.maxRawBytesInline bytes. */
  base64?: string;
}

const MAX_DEPTH = 8;
const MAX_ARRAY_ITEMS = 512;
const MAX_KEYS = 1024;

/**
 * A JSON-safe copy of tool output for MediaMetadata.raw: byte arrays become
 * {type:'bytes'} (base64 only when short), strings are capped, Maps become
 * objects, non-finite numbers and bigints become strings, functions vanish.
 * If the result is still larger than `maxBytes` of JSON, the largest values are
 * replaced by {omitted: <their JSON size>} until it fits, and `_truncated` is set.
 */
export function toJsonSafe(value: Record<string, unknown>, maxBytes: number = MEDIA_LIMITS.maxRawMetadataBytes): Record<string, unknown> {
  const out = sanitize(value, 0);
  const root: Record<string, unknown> = isPlainRecord(out) ? out : {};
  return fitToSize(root, maxBytes);
}

function sanitize(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return capString(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value instanceof Uint8Array) return bytes(value);
  if (value instanceof ArrayBuffer) return bytes(new Uint8Array(value));
  if (ArrayBuffer.isView(value)) return bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ARRAY_ITEMS).map((v) => sanitize(v, depth + 1) ?? null);
    if (value.length > MAX_ARRAY_ITEMS) items.push(`[${value.length - MAX_ARRAY_ITEMS} more items]`);
    return items;
  }
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries.slice(0, MAX_KEYS)) {
    const clean = sanitize(v, depth + 1);
    if (clean !== undefined) setOwn(out, capString(String(k)), clean);
  }
  return out;
}

/** Defines an own property even for keys like `__proto__` read from a file. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function capString(s: string): string {
  // Control characters survive JSON but break some viewers, and PostgreSQL's jsonb
  // refuses NUL and lone surrogates (invalid bytes kept by decodeRecordedText):
  // all are shown as \xNN, never dropped; tabs and newlines stay.
  const cleaned = escapeForDump(s);
  return cleaned.length > MEDIA_LIMITS.maxRawStringChars
    ? `${cleaned.slice(0, MEDIA_LIMITS.maxRawStringChars)}…[${cleaned.length - MEDIA_LIMITS.maxRawStringChars} more chars]`
    : cleaned;
}

function bytes(u8: Uint8Array): BytesValue {
  if (u8.byteLength <= MEDIA_LIMITS.maxRawBytesInline) {
    return { type: 'bytes', length: u8.byteLength, base64: Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64') };
  }
  return { type: 'bytes', length: u8.byteLength };
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonSize(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? 'null');
}

function fitToSize(root: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  if (jsonSize(root) <= maxBytes) return root;
  // Leaves and small groups two levels deep: [container, key, size].
  const candidates: Array<[Record<string, unknown>, string, number]> = [];
  for (const [k, v] of Object.entries(root)) {
    if (isPlainRecord(v)) for (const [k2, v2] of Object.entries(v)) candidates.push([v, k2, jsonSize(v2)]);
    else candidates.push([root, k, jsonSize(v)]);
  }
  candidates.sort((a, b) => b[2] - a[2]);
  setOwn(root, '_truncated', true);
  let size = jsonSize(root);
  for (const [container, key, bytesUsed] of candidates) {
    if (size <= maxBytes) break;
    const marker = { omitted: bytesUsed };
    setOwn(container, key, marker);
    size += jsonSize(marker) - bytesUsed;
  }
  if (size > maxBytes) return { _truncated: true, omitted: size };
  return root;
}
