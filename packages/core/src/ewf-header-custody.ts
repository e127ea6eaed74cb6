import { createHash } from 'node:crypto';
import { LIMITS } from './limits.js';

/**
 * An EWF acquisition header as parsed (pipeline's EwfHeader, disk_images.ewf_header): named
 * fields (strings), the two dates (RecordedTime objects) and `values`, every key/value pair stored.
 */
export type RecordedEwfHeader = object;

/** How `headerSha256` is computed, recorded beside it so the entry says how to check it. */
export const EWF_HEADER_DIGEST_CONSTRUCTION =
  'sha256 of the UTF-8 of RFC 8785 JSON of the header as parsed and as the index keeps it (disk_images.ewf_header; U+0000 as U+2400) (docs/disk-images.md, "Acquisition header in custody")';

/** A header field in `headerExcerpt`: its first characters, whether it was cut, and its whole length when it was. */
export interface EwfHeaderFieldExcerpt {
  value: string;
  truncated: boolean;
  /** Code points of the whole value, when cut. */
  chars?: number;
}

/** What a custody entry records of a header over its budget. */
export interface EwfHeaderDigest {
  headerExcerpt: Record<string, unknown> & { values: Record<string, EwfHeaderFieldExcerpt>; valuesOmitted: number };
  headerSha256: string;
  headerDigest: string;
}

/** PostgreSQL text and jsonb cannot hold U+0000; the index stores it as U+2400, and the digest is of what it keeps. */
const indexText = (s: string) => (s.includes('\0') ? s.replaceAll('\0', '\u2400') : s);

function canonical(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(indexText(value));
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [indexText(k), v] as const)
    // RFC 8785 orders keys by their UTF-16 code units, which is how JS compares strings.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/**
 * The canonical serialisation of a parsed header (docs/disk-images.md, "Acquisition header in
 * custody"): RFC 8785 JSON (keys sorted by UTF-16 code units, no whitespace, strings and integers
 * as JSON.stringify writes them) with U+0000 written as U+2400, as the index stores it.
 */
export function ewfHeaderCanonicalJson(header: RecordedEwfHeader): string {
  return canonical(header);
}

export function ewfHeaderSha256(header: RecordedEwfHeader): string {
  return createHash('sha256').update(ewfHeaderCanonicalJson(header), 'utf8').digest('hex');
}

/** The first `maxChars` code points of `text` (a surrogate pair is never split), and its length in code points when cut. */
function cut(text: string, maxChars: number): EwfHeaderFieldExcerpt {
  let units = 0;
  let chars = 0;
  for (const ch of text) {
    if (chars === maxChars) break;
    units += ch.length;
    chars += 1;
  }
  if (units === text.length) return { value: text, truncated: false };
  let total = chars;
  for (let i = units; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i += 1;
    total += 1;
  }
  return { value: text.slice(0, units), truncated: true, chars: total };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

function excerpt(header: RecordedEwfHeader, fieldChars: number, budgetBytes: number): EwfHeaderDigest['headerExcerpt'] {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(header) as Array<[string, unknown]>) {
    if (key === 'values' || value === undefined) continue;
    // The dates are parsed from digits (RecordedTime: a few short strings), never cut.
    out[key] = typeof value === 'string' ? cut(value, fieldChars) : value;
  }
  const values: Record<string, EwfHeaderFieldExcerpt> = {};
  const pairs = Object.entries((header as { values?: Record<string, string> }).values ?? {});
  // The raw pairs in stored order while they fit (a hostile header may hold any number of keys, of
  // any length); the rest counted in valuesOmitted. Sizes are added up, not re-measured per pair.
  let size = bytes({ ...out, values: {}, valuesOmitted: pairs.length });
  let kept = 0;
  for (const [key, value] of pairs) {
    if (key.length > fieldChars) break;
    const field = cut(value, fieldChars);
    size += bytes(key) + 1 + bytes(field) + (kept > 0 ? 1 : 0);
    if (size > budgetBytes) break;
    values[key] = field;
    kept += 1;
  }
  return { ...out, values, valuesOmitted: pairs.length - kept };
}

/**
 * What the `image-hash-*` custody entry records of an EWF image's acquisition header: the header
 * whole while its JSON is within `budgetBytes` (LIMITS.maxCustodyEwfHeaderBytes), as before; past
 * it (ewfacquire writes a notes field of any length, and a hostile image any header up to the
 * parser's 1 MiB) `headerExcerpt`, every field cut to `fieldChars` code points (fewer when escaped
 * or wide characters would pass the budget) with `truncated` per field, and `headerSha256` of the
 * whole header, which the index keeps (disk_images.ewf_header). `header` is then absent, so a cut
 * value is never read as the whole one.
 */
export function custodyEwfHeader(
  header: RecordedEwfHeader,
  budgetBytes: number = LIMITS.maxCustodyEwfHeaderBytes,
  fieldChars: number = LIMITS.maxCustodyEwfHeaderFieldChars,
): { header: RecordedEwfHeader } | EwfHeaderDigest {
  if (bytes(header) <= budgetBytes) return { header };
  const digest = { headerSha256: ewfHeaderSha256(header), headerDigest: EWF_HEADER_DIGEST_CONSTRUCTION };
  for (let chars = fieldChars; ; chars = Math.floor(chars / 2)) {
    const headerExcerpt = excerpt(header, chars, budgetBytes);
    if (bytes(headerExcerpt) <= budgetBytes || chars === 0) return { headerExcerpt, ...digest };
  }
}
