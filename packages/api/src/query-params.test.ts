import { describe, expect, it } from 'vitest';
import { ExhibitError } from '@exhibit/core';
import { queryToObject, validationError } from './query-params.js';
import { searchQuerySchema } from './routes/files.routes.js';

function parse(qs: string) {
  const result = searchQuerySchema.safeParse(queryToObject(new URLSearchParams(qs)));
  if (result.success) return { ok: true as const, value: result.data };
  const err = validationError('query', result.error);
  return { ok: false as const, message: err.message, details: err.details };
}

describe('search query parsing', () => {
  it('parses every parameter into its type', () => {
    const r = parse(
      'evidenceId=EX01&kind=image&mime=image/jpeg&takenFrom=2024-01-31&takenTo=2024-02-01T10:00:00%2B02:00&make=Apple&model=iPhone%2014' +
        '&hasGps=true&bbox=-43.3,-23.1,-43.1,-22.8&hash=ABCDEF0123456789ABCDEF0123456789&path=DCIM&extMismatch=false&stage=indexed' +
        '&sort=takenAt&order=desc&limit=500&offset=0',
    );
    expect(r).toEqual({
      ok: true,
      value: {
        evidenceId: 'EX01',
        kind: 'image',
        mime: 'image/jpeg',
        takenFrom: '2024-01-31',
        takenTo: '2024-02-01T10:00:00+02:00',
        make: 'Apple',
        model: 'iPhone 14',
        hasGps: true,
        bbox: [-43.3, -23.1, -43.1, -22.8],
        hash: 'abcdef0123456789abcdef0123456789',
        path: 'DCIM',
        extMismatch: false,
        stage: 'indexed',
        sort: 'takenAt',
        order: 'desc',
        limit: 500,
        offset: 0,
      },
    });
  });

  it('rejects unknown parameters and names all of them', () => {
    const r = parse('kind=image&colour=red&sortBy=path');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.details).toEqual({ unknown: ['colour', 'sortBy'] });
      expect(r.message).toContain('unknown query parameters: colour, sortBy');
    }
  });

  it('rejects repeated parameters instead of picking one', () => {
    expect(() => queryToObject(new URLSearchParams('kind=image&kind=video'))).toThrow(ExhibitError);
    expect(() => queryToObject(new URLSearchParams('kind=image&kind=video'))).toThrow(/kind/);
  });

  it('bounds sizes and counts', () => {
    expect(() => queryToObject(new URLSearchParams(`path=${'a'.repeat(1025)}`))).toThrow(/longer than/);
    expect(() => queryToObject(new URLSearchParams(Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&')))).toThrow(/at most/);
    expect(parse('limit=501').ok).toBe(false);
    expect(parse('limit=0').ok).toBe(false);
    expect(parse('limit=-1').ok).toBe(false);
    expect(parse('limit=1e2').ok).toBe(false);
    expect(parse('limit=').ok).toBe(false);
    expect(parse('offset=1000001').ok).toBe(false);
  });

  it('is strict about booleans, enums, hashes and ids', () => {
    for (const bad of ['hasGps=yes', 'hasGps=1', 'kind=picture', 'sort=size;drop', 'order=up', 'hash=abc', 'hash=' + 'g'.repeat(64), 'evidenceId=../x', 'evidenceId=.hidden', 'mime=image', 'stage=done']) {
      expect(parse(bad).ok, bad).toBe(false);
    }
    expect(parse('hash=' + 'A'.repeat(40))).toEqual({ ok: true, value: { hash: 'a'.repeat(40) } });
    // A prefix of 8 or more hex digits (the 12 the CLI prints); shorter or longer than a SHA-256 is refused.
    expect(parse('hash=ECFC0bd08302')).toEqual({ ok: true, value: { hash: 'ecfc0bd08302' } });
    expect(parse('hash=ecfc0bd0')).toEqual({ ok: true, value: { hash: 'ecfc0bd0' } });
    for (const bad of ['hash=ecfc0bd', 'hash=' + 'a'.repeat(65), 'hash=ecfc0bd0830z']) expect(parse(bad).ok, bad).toBe(false);
  });

  it('checks the calendar, not just the shape, of times', () => {
    expect(parse('takenFrom=2024-02-29').ok).toBe(true);
    expect(parse('takenFrom=2023-02-29').ok).toBe(false);
    expect(parse('takenFrom=2024-02-30T10:00').ok).toBe(false);
    expect(parse('takenFrom=2024-13-01').ok).toBe(false);
    expect(parse('takenFrom=2024-01-01T24:00').ok).toBe(false);
    expect(parse('takenFrom=2024-01-01T10:00:00Z').ok).toBe(true);
    expect(parse('takenFrom=2024-01-01T10:00:00.123-05:30').ok).toBe(true);
    expect(parse('takenFrom=yesterday').ok).toBe(false);
  });

  it('refuses boxes outside the globe or inside out', () => {
    expect(parse('bbox=-181,0,0,1').ok).toBe(false);
    expect(parse('bbox=0,-91,1,1').ok).toBe(false);
    expect(parse('bbox=10,0,5,1').ok).toBe(false);
    expect(parse('bbox=1,2,3').ok).toBe(false);
    expect(parse('bbox=1,2,3,4,5').ok).toBe(false);
    expect(parse('bbox=-180,-90,180,90').ok).toBe(true);
  });

  it('takes a box as JavaScript prints numbers, unrounded (a map cluster sent back selects exactly its files)', () => {
    // Positions whose shortest exact text has more than 12 decimals, or an exponent.
    const edges = [45.464199999999998, 9.186600000000001, 0.1 + 0.2, 1.2345678901234567e-7, -3.4e-9];
    const box = [edges[2]!, edges[3]!, edges[1]!, edges[0]!];
    const parsed = parse(`bbox=${box.map(String).join(',')}`);
    expect(parsed).toMatchObject({ ok: true, value: { bbox: box } });
    expect(parse(`bbox=${edges[4]},0,1,1`)).toMatchObject({ ok: true, value: { bbox: [edges[4], 0, 1, 1] } });
    expect(parse('bbox=1e3,0,1,1').ok).toBe(false);
    expect(parse('bbox=1.5e+2,0,1,1').ok).toBe(false);
    expect(parse(`bbox=0.${'1'.repeat(24)},0,1,1`).ok).toBe(false);
  });
});
