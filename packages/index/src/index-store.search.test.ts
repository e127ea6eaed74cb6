import { describe, expect, it } from 'vitest';
import { buildSearch, escapeLike } from './index-store.search.js';

describe('escapeLike', () => {
  it('escapes the LIKE wildcards and the escape character itself', () => {
    expect(escapeLike('100%_a\\b')).toBe('100\\%\\_a\\\\b');
    expect(escapeLike('plain')).toBe('plain');
  });
});

describe('buildSearch', () => {
  const hostile = "x'); DROP TABLE files; --";

  it('binds every value and never writes one into the SQL text', () => {
    const built = buildSearch({
      caseId: hostile,
      evidenceId: hostile,
      mime: hostile,
      make: hostile,
      model: hostile,
      pathText: hostile,
      takenFrom: '2023-01-01T00:00:00Z',
      takenTo: '2023-12-31',
      bbox: [-1, -2, 3, 4],
      hash: 'A'.repeat(64),
      stage: 'indexed',
    });
    for (const sql of [built.countSql, built.boundedCountSql, ...built.segments.map((x) => x.sql)]) {
      expect(sql).not.toContain('DROP TABLE');
      expect(sql).not.toContain('2023');
      expect(sql).not.toContain('aaaa');
    }
    expect(built.params).toContain(hostile);
    expect(built.params).toContain('a'.repeat(64));
    expect(built.limit).toBe(50);
    expect(built.segments[0]!.params).toEqual(built.params);
  });

  it('matches a whole digest exactly and a prefix of 8 or more hex digits by an index range on each digest column', () => {
    expect(buildSearch({ caseId: 'c', hash: 'a'.repeat(64) }).countSql).toContain('f.sha256 = $2');
    const md5 = buildSearch({ caseId: 'c', hash: 'a'.repeat(32) });
    expect(md5.countSql).toContain('md5 = $2');
    expect(md5.countSql).not.toContain('sha1 = ');
    expect(buildSearch({ caseId: 'c', hash: 'a'.repeat(40) }).countSql).toContain('sha1 = $2');
    const prefix = buildSearch({ caseId: 'c', hash: 'AB12cd34EF' });
    expect(prefix.params).toEqual(['c', 'ab12cd34ef', 'ab12cd34efg', 10]);
    for (const col of ['f2.sha256', 'md5', 'sha1']) expect(prefix.countSql).toContain(`(${col} >= $2 AND ${col} < $3 AND left(${col}, $4::int) = $2)`);
    // Longer than a SHA-1: only a SHA-256 can start with it.
    const long = buildSearch({ caseId: 'c', hash: 'b'.repeat(41) });
    expect(long.countSql).toContain('(f.sha256 >= $2 AND f.sha256 < $3');
    expect(long.countSql).not.toMatch(/md5|sha1/);
  });

  it.each([['abc1234'], ['a'.repeat(65)], ['0123456z'], ['12345678 9'], ['']])('refuses the hash %j', (hash) => {
    expect(() => buildSearch({ caseId: 'c', hash })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('clamps the page size and rejects unknown sorts and orders', () => {
    const clamped = buildSearch({ caseId: 'c', limit: 9999, offset: 10 });
    expect(clamped.limit).toBe(500);
    expect(clamped.segments[0]!.params.at(-1)).toBe(10);
    expect(() => buildSearch({ caseId: 'c', sort: 'evil' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', order: 'sideways' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', limit: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('pages after a row by a bound row comparison, then (a sort with empty values) those, never with an offset', () => {
    const path = buildSearch({ caseId: 'c', after: { key: 'A', fileId: 'f1' } });
    expect(path.segments).toHaveLength(1);
    // The indexed prefix first (migration 0091), bounding the index range, then the whole path.
    expect(path.segments[0]!.sql).toMatch(/left\(lower\(f\.path\), 512\) COLLATE "C" >= left\(lower\(\$\d+::text\), 512\) COLLATE "C"/);
    expect(path.segments[0]!.sql).toMatch(
      /\(left\(lower\(f\.path\), 512\) COLLATE "C", lower\(f\.path\) COLLATE "C", f\.path COLLATE "C", f\.file_id\) > \(left\(lower\(\$\d+::text\), 512\) COLLATE "C", lower\(\$\d+::text\) COLLATE "C", \$\d+::text COLLATE "C", \$\d+\)/,
    );
    expect(path.segments[0]!.sql).toMatch(/ORDER BY left\(lower\(f\.path\), 512\) COLLATE "C" ASC, lower\(f\.path\) COLLATE "C" ASC, f\.path COLLATE "C" ASC, f\.file_id ASC/);
    expect(path.segments[0]!.params.slice(-2)).toEqual(['A', 'f1']);
    const taken = buildSearch({ caseId: 'c', sort: 'takenAt', order: 'desc', after: { key: '2023-01-02 03:04:05.000006 AD', fileId: 'f1' } });
    expect(taken.segments).toHaveLength(2);
    expect(taken.segments[0]!.sql).toMatch(/\) < \(\$\d+::timestamp, \$\d+\)/);
    expect(taken.segments[1]!.sql).toContain('IS NULL');
    // After a row without a value: only the rows without one, by fileId.
    const empty = buildSearch({ caseId: 'c', sort: 'size', after: { key: null, fileId: 'f1' } });
    expect(empty.segments).toHaveLength(1);
    expect(empty.segments[0]!.sql).toContain('f.file_id > $');
    expect(() => buildSearch({ caseId: 'c', offset: 5, after: { key: 'a', fileId: 'f' } })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it.each([
    ['a key that is no text', 'path', { key: 5, fileId: 'f' }],
    ['an empty value on a sort without them', 'path', { key: null, fileId: 'f' }],
    ['a size that is no integer', 'size', { key: '1; DROP', fileId: 'f' }],
    ['a time that is no real date', 'takenAt', { key: '2023-02-30 00:00:00.000000 AD', fileId: 'f' }],
    ['a time in another form', 'added', { key: '2023-01-01T00:00:00Z', fileId: 'f' }],
    ['no fileId', 'path', { key: 'a', fileId: '' }],
  ] as const)('refuses an after with %s', (_what, sort, after) => {
    expect(() => buildSearch({ caseId: 'c', sort, after: after as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
