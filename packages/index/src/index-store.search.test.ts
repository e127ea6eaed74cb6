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
    for (const sql of [built.countSql, built.pageSql]) {
      expect(sql).not.toContain('DROP TABLE');
      expect(sql).not.toContain('2023');
      expect(sql).not.toContain('aaaa');
    }
    expect(built.params).toContain(hostile);
    expect(built.params).toContain('a'.repeat(64));
    expect(built.pageParams.slice(-2)).toEqual([50, 0]);
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
    expect(buildSearch({ caseId: 'c', limit: 9999, offset: 10 }).pageParams.slice(-2)).toEqual([500, 10]);
    expect(() => buildSearch({ caseId: 'c', sort: 'evil' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', order: 'sideways' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', limit: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
