import { describe, expect, it } from 'vitest';
import { API_LIMITS } from './api-limits.js';
import { VerifiedSpans, type VerifiedSpanKey } from './verified-spans.js';

const key = (blobName: string, over: Partial<VerifiedSpanKey> = {}): VerifiedSpanKey => ({ caseId: 'CASE-A', evidenceId: 'ev-1', container: 'evidence', blobName, offset: 0, length: 100, sha256: 'a'.repeat(64), ...over });

describe('VerifiedSpans', () => {
  it('is keyed on the whole span and the SHA-256 it was checked against: another offset, length, hash, blob, case or evidence item finds nothing', () => {
    const spans = new VerifiedSpans({ now: () => 1000 });
    spans.remember(key('b'), { etag: '"e1"', verifiedAtMs: 1000, verificationId: 'v1' });
    expect(spans.lookup(key('b'))).toEqual({ etag: '"e1"', verifiedAtMs: 1000, verificationId: 'v1' });
    for (const other of [key('c'), key('b', { offset: 1 }), key('b', { length: 99 }), key('b', { sha256: 'b'.repeat(64) }), key('b', { container: 'derived' }), key('b', { caseId: 'CASE-B' }), key('b', { evidenceId: 'ev-2' })]) {
      expect(spans.lookup(other)).toBeUndefined();
    }
  });

  it('records nothing for an ETag that cannot condition a read (empty, weak)', () => {
    const spans = new VerifiedSpans({ now: () => 0 });
    spans.remember(key('b'), { etag: '', verifiedAtMs: 0, verificationId: 'v1' });
    spans.remember(key('c'), { etag: 'W/"e"', verifiedAtMs: 0, verificationId: 'v1' });
    expect(spans.size).toBe(0);
  });

  it('drops an entry at its TTL, and one the clock says is from the future', () => {
    let now = 10_000;
    const spans = new VerifiedSpans({ ttlMs: 100, now: () => now });
    spans.remember(key('b'), { etag: '"e"', verifiedAtMs: 10_000, verificationId: 'v1' });
    now = 10_099;
    expect(spans.lookup(key('b'))).toBeDefined();
    now = 10_100;
    expect(spans.lookup(key('b'))).toBeUndefined();
    expect(spans.size).toBe(0);
    spans.remember(key('c'), { etag: '"e"', verifiedAtMs: 20_000, verificationId: 'v1' });
    expect(spans.lookup(key('c'))).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used (a hit counts as a use)', () => {
    const spans = new VerifiedSpans({ maxEntries: 2, now: () => 0 });
    spans.remember(key('a'), { etag: '"e"', verifiedAtMs: 0, verificationId: 'v1' });
    spans.remember(key('b'), { etag: '"e"', verifiedAtMs: 0, verificationId: 'v1' });
    expect(spans.lookup(key('a'))).toBeDefined();
    spans.remember(key('c'), { etag: '"e"', verifiedAtMs: 0, verificationId: 'v1' });
    expect(spans.size).toBe(2);
    expect(spans.lookup(key('b'))).toBeUndefined();
    expect(spans.lookup(key('a'))).toBeDefined();
    expect(spans.lookup(key('c'))).toBeDefined();
  });

  it('forgets an entry a later read disagreed with', () => {
    const spans = new VerifiedSpans({ now: () => 0 });
    spans.remember(key('a'), { etag: '"e"', verifiedAtMs: 0, verificationId: 'v1' });
    spans.forget(key('a'));
    expect(spans.lookup(key('a'))).toBeUndefined();
  });

  it('defaults to the named limits', () => {
    expect(API_LIMITS.verifiedSpanTtlMs).toBeGreaterThan(0);
    const spans = new VerifiedSpans({ now: () => API_LIMITS.verifiedSpanTtlMs - 1 });
    spans.remember(key('a'), { etag: '"e"', verifiedAtMs: 0, verificationId: 'v1' });
    expect(spans.lookup(key('a'))).toBeDefined();
  });
});
