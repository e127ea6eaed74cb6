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

  it('picks the digest column by length', () => {
    expect(buildSearch({ caseId: 'c', hash: 'a'.repeat(32) }).countSql).toContain('c.md5 =');
    expect(buildSearch({ caseId: 'c', hash: 'a'.repeat(40) }).countSql).toContain('c.sha1 =');
    expect(buildSearch({ caseId: 'c', hash: 'a'.repeat(64) }).countSql).toContain('f.sha256 =');
  });

  it('clamps the page size and rejects unknown sorts and orders', () => {
    expect(buildSearch({ caseId: 'c', limit: 9999, offset: 10 }).pageParams.slice(-2)).toEqual([500, 10]);
    expect(() => buildSearch({ caseId: 'c', sort: 'evil' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', order: 'sideways' as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => buildSearch({ caseId: 'c', limit: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
