import { API_LIMITS } from './api-limits.js';

/**
 * A request's Range (RFC 9110 §14) against a file of `sizeBytes`, for GET
 * …/content. Only what a media player or a resuming download needs is
 * honoured: one byte range. Everything else is answered with the whole file,
 * which RFC 9110 allows a server to do for any Range it does not want to serve:
 *
 * - several ranges (`bytes=0-1,5-6`): a multipart/byteranges body would be one
 *   more format for clients to parse and for us to get wrong; players never ask for it;
 * - a malformed header, another unit, `last < first`, or one longer than
 *   API_LIMITS.maxRangeHeaderChars (the header is the caller's, hostile input);
 * - an empty file (no byte range of it exists to name in Content-Range);
 * - an If-Range that does not match: the ETag compared strongly (a weak tag
 *   never matches), and a date never (the route sends no Last-Modified), so a
 *   client resuming a file that changed gets it all again rather than a splice.
 *
 * A syntactically good single range that starts at or past the end (or a
 * suffix of 0 bytes) is unsatisfiable: 416 with `Content-Range: bytes *\/size`.
 * A range reaching past the end is cut to it, as the RFC says.
 */
export type RangeDecision =
  | { kind: 'whole'; reason: 'no-range' | 'ignored' | 'if-range-mismatch' }
  /** Inclusive byte positions within the file, first <= last < size. */
  | { kind: 'part'; first: number; last: number }
  | { kind: 'unsatisfiable' };

/**
 * A position's value. Leading zeros are allowed (RFC 9110 has 1*DIGIT) and say
 * nothing, so they go before the length is weighed; what is left too long to
 * be a safe integer counts as "more than any file": it only ever means past the end.
 */
function count(digits: string): number {
  const significant = digits.replace(/^0+(?=\d)/, '');
  return significant.length > 15 ? Infinity : Number(significant);
}

const SPEC_RE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i;

export function decideRange(
  request: { range: string | undefined; ifRange: string | undefined },
  sizeBytes: number,
  etag: string | null,
): RangeDecision {
  const header = request.range;
  if (header === undefined || header === '') return { kind: 'whole', reason: 'no-range' };
  // If-Range first (RFC 9110 §13.2.2): when it fails the Range is ignored, whatever the Range says.
  if (request.ifRange !== undefined && !ifRangeHolds(request.ifRange.trim(), etag)) return { kind: 'whole', reason: 'if-range-mismatch' };
  if (header.length > API_LIMITS.maxRangeHeaderChars || sizeBytes === 0) return { kind: 'whole', reason: 'ignored' };
  // A comma means a list: several ranges (or an empty element), never served as one part.
  const m = SPEC_RE.exec(header);
  if (!m) return { kind: 'whole', reason: 'ignored' };
  const [, firstDigits = '', lastDigits = ''] = m;
  if (firstDigits === '') {
    // `bytes=-n`: the last n bytes; `bytes=-` is malformed.
    if (lastDigits === '') return { kind: 'whole', reason: 'ignored' };
    const suffix = count(lastDigits);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', first: Math.max(0, sizeBytes - suffix), last: sizeBytes - 1 };
  }
  const first = count(firstDigits);
  const last = lastDigits === '' ? Infinity : count(lastDigits);
  if (last < first) return { kind: 'whole', reason: 'ignored' };
  if (first >= sizeBytes) return { kind: 'unsatisfiable' };
  return { kind: 'part', first, last: Math.min(last, sizeBytes - 1) };
}

function ifRangeHolds(value: string, etag: string | null): boolean {
  // Only a strong entity tag can match; anything else (a weak tag, an HTTP date) is a mismatch.
  return etag !== null && value.startsWith('"') && value === etag;
}

/** The ETag of a file's bytes: its recorded SHA-256, a strong validator (same tag only for the same bytes). */
export function etagOf(sha256: string): string {
  return `"${sha256}"`;
}
