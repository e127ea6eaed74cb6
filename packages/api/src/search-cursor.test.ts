import { describe, expect, it } from 'vitest';
import type { SearchQuery } from '@exhibit/core';
import { API_LIMITS } from './api-limits.js';
import { CURSOR_KEY_MAX_BYTES, decodeSearchCursor, encodeSearchCursor } from './search-cursor.js';

const q: SearchQuery = { caseId: 'CASE-1', sort: 'path', order: 'desc', limit: 50 };
const FILE_ID = 'f'.repeat(128);
const bodyOf = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
const forged = (cursor: string, change: (b: Record<string, unknown>) => void) => {
  const body = bodyOf(cursor);
  change(body);
  return Buffer.from(JSON.stringify(body)).toString('base64url');
};
const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { details?: { cursor?: string } }).details?.cursor;
  }
  return 'accepted';
};

describe('search cursor', () => {
  // Regression long-member-path-cursor-refused: the cursor carried the whole path (base64 of it: ~4/3 its UTF-8 size).
  it.each([
    ['a 12 KB path', `zip!/${'a/'.repeat(3000)}inner.zip!/${'b'.repeat(6000)}`],
    ['a 20 KB path', 'x/'.repeat(10_000)],
    ['a CJK path', `写真/${'名'.repeat(3000)}.jpg`],
    ['control characters (6 bytes each in JSON)', '\u0001'.repeat(CURSOR_KEY_MAX_BYTES)],
  ])('long-member-path-cursor-refused: %s gives a cursor under the limit that names the row', (_what, key) => {
    const cursor = encodeSearchCursor(q, { key, fileId: FILE_ID });
    expect(cursor.length).toBeLessThanOrEqual(API_LIMITS.maxCursorChars);
    expect(decodeSearchCursor(q, cursor)).toEqual({ fileId: FILE_ID });
  });

  it('carries a sort value up to the budget, and the largest cursor fits the limit', () => {
    const key = 'é'.repeat((CURSOR_KEY_MAX_BYTES - 2) / 2);
    const cursor = encodeSearchCursor(q, { key, fileId: FILE_ID });
    expect(decodeSearchCursor(q, cursor)).toEqual({ key, fileId: FILE_ID });
    expect(cursor.length).toBeLessThanOrEqual(API_LIMITS.maxCursorChars);
    expect(decodeSearchCursor(q, encodeSearchCursor(q, { key: null, fileId: 'a1' }))).toEqual({ key: null, fileId: 'a1' });
  });

  it('keeps a cursor that names its row bound to its query and checked', () => {
    const byRow = encodeSearchCursor(q, { key: 'x'.repeat(4096), fileId: 'a1' });
    const carried = encodeSearchCursor(q, { key: 'x', fileId: 'a1' });
    expect(reason(() => decodeSearchCursor({ ...q, order: 'asc' }, byRow))).toBe('other-query');
    expect(reason(() => decodeSearchCursor(q, forged(byRow, (b) => (b['k'] = null))))).toBe('tampered');
    expect(reason(() => decodeSearchCursor(q, forged(byRow, (b) => (b['f'] = 'a2'))))).toBe('tampered');
    expect(reason(() => decodeSearchCursor(q, forged(carried, (b) => delete b['k'])))).toBe('tampered');
    expect(reason(() => decodeSearchCursor(q, forged(byRow, (b) => (b['f'] = '../x'))))).toBe('malformed');
    expect(reason(() => decodeSearchCursor(q, forged(byRow, (b) => (b['z'] = 1))))).toBe('malformed');
  });
});
