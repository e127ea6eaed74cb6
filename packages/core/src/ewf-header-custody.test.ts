import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { custodyEwfHeader, ewfHeaderCanonicalJson, type EwfHeaderDigest } from './ewf-header-custody.js';
import { LIMITS } from './limits.js';

const header = (notes: string, extra: Record<string, string> = {}) => ({
  caseNumber: 'CASE-15',
  examiner: 'Examiner Jones',
  notes,
  acquisitionDate: { local: '2026-12-05T04:41:42', offsetMinutes: 0, utc: '2026-12-05T04:41:42Z', source: 'ewf-header:m' },
  values: { c: 'CASE-15', e: 'Examiner Jones', t: notes, m: '1796445702', ...extra },
});
const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

describe('custodyEwfHeader', () => {
  it('keeps a header within the budget whole, as the entry always recorded it', () => {
    const h = header('SD card from the camera bag');
    expect(custodyEwfHeader(h)).toEqual({ header: h });
  });

  it('past the budget: each field cut with truncated per field, the SHA-256 of the whole header, no `header`', () => {
    const notes = 'n'.repeat(100_000);
    const h = header(notes);
    const out = custodyEwfHeader(h) as EwfHeaderDigest;
    expect(out).not.toHaveProperty('header');
    expect(out.headerSha256).toBe(createHash('sha256').update(ewfHeaderCanonicalJson(h), 'utf8').digest('hex'));
    expect(out.headerDigest).toContain('RFC 8785');
    expect(out.headerExcerpt).toMatchObject({
      caseNumber: { value: 'CASE-15', truncated: false },
      notes: { value: 'n'.repeat(LIMITS.maxCustodyEwfHeaderFieldChars), truncated: true, chars: 100_000 },
      acquisitionDate: h.acquisitionDate,
      values: { c: { value: 'CASE-15', truncated: false }, t: { value: 'n'.repeat(LIMITS.maxCustodyEwfHeaderFieldChars), truncated: true, chars: 100_000 } },
      valuesOmitted: 0,
    });
    expect(size(out.headerExcerpt)).toBeLessThanOrEqual(LIMITS.maxCustodyEwfHeaderBytes);
  });

  it('the canonical JSON is RFC 8785 for this shape: keys sorted, no whitespace, U+0000 as the index keeps it', () => {
    expect(ewfHeaderCanonicalJson({ notes: 'a\0"写', caseNumber: 'c', acquisitionDate: { utc: null, local: 'x', offsetMinutes: 0 }, values: { t: 'a\0', c: 'c' } })).toBe(
      '{"acquisitionDate":{"local":"x","offsetMinutes":0,"utc":null},"caseNumber":"c","notes":"a\u2400\\"写","values":{"c":"c","t":"a\u2400"}}',
    );
  });

  it('never splits a surrogate pair and counts code points', () => {
    const notes = '😀'.repeat(20_000);
    const out = custodyEwfHeader(header(notes)) as EwfHeaderDigest;
    const cut = out.headerExcerpt['notes'] as { value: string; chars: number };
    expect(cut.chars).toBe(20_000);
    expect(cut.value).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    expect([...cut.value].every((c) => c === '😀')).toBe(true);
  });

  it('hostile headers: control characters (6 bytes each escaped), many keys, long keys: fewer characters and pairs, never over the budget', () => {
    const controls = header('\u0001'.repeat(50_000), Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, '\u0002'.repeat(2_000)])));
    const out = custodyEwfHeader({ ...controls, description: '\u0003'.repeat(50_000), operatingSystem: '\u0004'.repeat(50_000) }) as EwfHeaderDigest;
    expect(size(out.headerExcerpt)).toBeLessThanOrEqual(LIMITS.maxCustodyEwfHeaderBytes);
    expect(out.headerExcerpt.valuesOmitted).toBeGreaterThan(390);
    expect(out.headerExcerpt['notes']).toMatchObject({ truncated: true, chars: 50_000 });
    const longKey = custodyEwfHeader(header('x', { ['k'.repeat(100_000)]: 'v' })) as EwfHeaderDigest;
    expect(Object.keys(longKey.headerExcerpt.values)).toEqual(['c', 'e', 't', 'm']);
    expect(longKey.headerExcerpt.valuesOmitted).toBe(1);
    expect(size(longKey.headerExcerpt)).toBeLessThanOrEqual(LIMITS.maxCustodyEwfHeaderBytes);
  });
});
