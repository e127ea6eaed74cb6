import { createHash } from 'node:crypto';
import { ExhibitError, type SearchAfter, type SearchQuery } from '@exhibit/core';

/**
 * The opaque `cursor` of a search page (keyset paging): where the next page
 * starts (the last row's sort value and fileId), bound to the query it came
 * from. A sort value longer than CURSOR_KEY_MAX_BYTES (a long member path:
 * hostile evidence nests long names) is left out: the position is then the
 * row, whose value the index reads back by fileId (SearchAfter), so every
 * cursor stays under API_LIMITS.maxCursorChars whatever the evidence.
 * base64url of JSON: the position, a digest of the query (case,
 * filter, sort, order; not the page size) and a checksum over both, so a
 * cursor that was altered or cut ('tampered'), or handed to another query
 * or case ('other-query'), is refused with a typed reason instead of
 * answering a page of something else. The checksum is no
 * secret: a cursor someone writes by hand can only name a position in the
 * same query's order of the same case (access is checked as for any search),
 * and the page is then exactly the rows after that position.
 */
export const SEARCH_CURSOR_VERSION = 1;

/**
 * Longest sort value carried in a cursor (UTF-8 bytes of its JSON): every
 * path of ordinary evidence fits, so its position survives anything; a
 * longer one is named by its row only.
 */
export const CURSOR_KEY_MAX_BYTES = 512;

/** Why a cursor was refused (the 400's details.cursor). */
export type CursorProblem = 'malformed' | 'tampered' | 'other-query' | 'unsupported-version' | 'with-offset' | 'position-gone';

/** A fileId as the index gives it (the API's fileId parameter form). */
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

interface CursorBody {
  v: number;
  /** The sort value; absent: the row's own (read back by fileId). */
  k?: string | null;
  f: string;
  /** Digest of the query. */
  q: string;
  /** Checksum of v, k (or [] without it), f, q. */
  c: string;
}

function refuse(problem: CursorProblem, message: string): ExhibitError {
  return new ExhibitError('invalid-argument', `cursor: ${message}`, { details: { cursor: problem } });
}

/** The query a cursor belongs to: everything but the page size and the position itself, keys sorted. */
function queryIdentity(q: SearchQuery): string {
  const { limit: _limit, offset: _offset, after: _after, countCap: _countCap, ...rest } = q;
  const ordered = Object.fromEntries(
    Object.entries({ sort: 'path', order: 'asc', ...rest })
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify(ordered);
}

const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22);

/** What the checksum covers of the key: `[]` for "the row's own", so it never equals a carried key or null. */
const keyPart = (key: string | null | undefined) => (key === undefined ? [] : key);

export function encodeSearchCursor(q: SearchQuery, after: SearchAfter): string {
  const v = SEARCH_CURSOR_VERSION;
  const qd = digest(queryIdentity(q));
  const carried = after.key !== undefined && Buffer.byteLength(JSON.stringify(after.key), 'utf8') <= CURSOR_KEY_MAX_BYTES;
  const key = carried ? after.key : undefined;
  const c = digest([v, keyPart(key), after.fileId, qd]);
  const body: CursorBody = key === undefined ? { v, f: after.fileId, q: qd, c } : { v, k: key, f: after.fileId, q: qd, c };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The position a cursor names for this query; a typed 400 for anything else. */
export function decodeSearchCursor(q: SearchQuery, cursor: string): SearchAfter {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse('malformed', 'not a cursor this API gave');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse('malformed', 'not a cursor this API gave');
  }
  const b = body as Partial<CursorBody> | null;
  if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.keys(b).length !== ('k' in b ? 5 : 4)) throw refuse('malformed', 'not a cursor this API gave');
  if (b.v !== SEARCH_CURSOR_VERSION) throw refuse('unsupported-version', 'made by another version of the API: start again from the first page');
  if (!(b.k === undefined || b.k === null || typeof b.k === 'string') || typeof b.f !== 'string' || !FILE_ID.test(b.f) || typeof b.q !== 'string' || typeof b.c !== 'string') {
    throw refuse('malformed', 'not a cursor this API gave');
  }
  if (b.c !== digest([b.v, keyPart(b.k), b.f, b.q])) throw refuse('tampered', 'altered after this API gave it: start again from the first page');
  if (b.q !== digest(queryIdentity(q))) throw refuse('other-query', 'made for another search (case, filter, sort or order): start again from the first page');
  return b.k === undefined ? { fileId: b.f } : { key: b.k, fileId: b.f };
}
