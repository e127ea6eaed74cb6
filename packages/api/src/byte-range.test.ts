import { describe, expect, it } from 'vitest';
import { API_LIMITS } from './api-limits.js';
import { decideRange, etagOf } from './byte-range.js';

const etag = etagOf('ab'.repeat(32));
const decide = (range: string | undefined, size = 1000, ifRange?: string) => decideRange({ range, ifRange }, size, etag);

describe('decideRange', () => {
  it('serves one range in each of its three forms, cut to the end of the file', () => {
    expect(decide('bytes=0-99')).toEqual({ kind: 'part', first: 0, last: 99 });
    expect(decide('bytes=500-')).toEqual({ kind: 'part', first: 500, last: 999 });
    expect(decide('bytes=-100')).toEqual({ kind: 'part', first: 900, last: 999 });
    expect(decide('bytes=990-5000')).toEqual({ kind: 'part', first: 990, last: 999 });
    expect(decide('bytes=-5000')).toEqual({ kind: 'part', first: 0, last: 999 });
    expect(decide('bytes=999-999')).toEqual({ kind: 'part', first: 999, last: 999 });
    // The unit is case-insensitive; whitespace around the range is allowed.
    expect(decide('Bytes= 10-19 ')).toEqual({ kind: 'part', first: 10, last: 19 });
    // Positions too long for a safe integer only ever mean "past the end".
    expect(decide('bytes=0-99999999999999999999999')).toEqual({ kind: 'part', first: 0, last: 999 });
    expect(decide('bytes=-99999999999999999999999')).toEqual({ kind: 'part', first: 0, last: 999 });
  });

  it('range-leading-zeros-read-as-past-the-end: reads a position with leading zeros as its value, however many', () => {
    const zeros = '0'.repeat(40);
    expect(decide(`bytes=${zeros}1-`)).toEqual({ kind: 'part', first: 1, last: 999 });
    expect(decide(`bytes=${zeros}1-${zeros}5`)).toEqual({ kind: 'part', first: 1, last: 5 });
    expect(decide(`bytes=1-${zeros}5`)).toEqual({ kind: 'part', first: 1, last: 5 });
    expect(decide(`bytes=-${zeros}5`)).toEqual({ kind: 'part', first: 995, last: 999 });
    expect(decide(`bytes=${zeros}-${zeros}`)).toEqual({ kind: 'part', first: 0, last: 0 });
    expect(decide(`bytes=-${zeros}`)).toEqual({ kind: 'unsatisfiable' });
    expect(decide(`bytes=${zeros}1000-`)).toEqual({ kind: 'unsatisfiable' });
    // Leading zeros in front of a number too long for a safe integer still leave it past the end.
    expect(decide(`bytes=${zeros}99999999999999999999999-`)).toEqual({ kind: 'unsatisfiable' });
    expect(decide(`bytes=5-${zeros}3`)).toEqual({ kind: 'whole', reason: 'ignored' });
  });

  it('is unsatisfiable for a start at or past the end and for an empty suffix', () => {
    expect(decide('bytes=1000-')).toEqual({ kind: 'unsatisfiable' });
    expect(decide('bytes=1000-2000')).toEqual({ kind: 'unsatisfiable' });
    expect(decide('bytes=99999999999999999999999-')).toEqual({ kind: 'unsatisfiable' });
    expect(decide('bytes=-0')).toEqual({ kind: 'unsatisfiable' });
  });

  it('sends the whole file for several ranges, anything malformed, another unit, and an empty file', () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=0-1, 5-6', 'bytes=0-1,', 'bytes=5-1', 'bytes=-', 'bytes=a-b', 'bytes 0-1', 'items=0-1', 'bytes=0x10-', 'bytes=-1-2', `bytes=0-${'9'.repeat(API_LIMITS.maxRangeHeaderChars)}`]) {
      expect(decide(range), range).toEqual({ kind: 'whole', reason: 'ignored' });
    }
    expect(decide('bytes=0-0', 0)).toEqual({ kind: 'whole', reason: 'ignored' });
    expect(decide(undefined)).toEqual({ kind: 'whole', reason: 'no-range' });
    expect(decide('')).toEqual({ kind: 'whole', reason: 'no-range' });
  });

  it('honours If-Range only with the same strong ETag; a weak tag, another tag or a date sends the whole file', () => {
    expect(decide('bytes=0-9', 1000, etag)).toEqual({ kind: 'part', first: 0, last: 9 });
    expect(decide('bytes=0-9', 1000, `W/${etag}`)).toEqual({ kind: 'whole', reason: 'if-range-mismatch' });
    expect(decide('bytes=0-9', 1000, etagOf('cd'.repeat(32)))).toEqual({ kind: 'whole', reason: 'if-range-mismatch' });
    expect(decide('bytes=0-9', 1000, 'Mon, 07 Dec 2026 12:00:00 GMT')).toEqual({ kind: 'whole', reason: 'if-range-mismatch' });
    // If-Range is weighed before the range: a mismatch with an unsatisfiable range is the whole file, not a 416.
    expect(decide('bytes=5000-', 1000, '"other"')).toEqual({ kind: 'whole', reason: 'if-range-mismatch' });
    // Without an ETag nothing matches.
    expect(decideRange({ range: 'bytes=0-9', ifRange: etag }, 1000, null)).toEqual({ kind: 'whole', reason: 'if-range-mismatch' });
  });
});
