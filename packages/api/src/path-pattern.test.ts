import { describe, expect, it } from 'vitest';
import { compilePattern, matchPattern } from './path-pattern.js';

describe('route patterns', () => {
  const p = compilePattern('/cases/{caseId}/assignments/{user}');

  it('matches and decodes each segment once', () => {
    expect(matchPattern(p, '/cases/C1/assignments/alice%40example.org')).toEqual({ caseId: 'C1', user: 'alice@example.org' });
    expect(matchPattern(p, '/cases/C1/assignments/a%252F')).toEqual({ caseId: 'C1', user: 'a%2F' });
  });

  it('keeps an encoded slash inside its segment', () => {
    expect(matchPattern(p, '/cases/C1/assignments/a%2Fb')).toEqual({ caseId: 'C1', user: 'a/b' });
    expect(matchPattern(p, '/cases/C1/assignments/a/b')).toBeNull();
  });

  it('accepts one trailing slash, nothing else loose', () => {
    expect(matchPattern(p, '/cases/C1/assignments/bob/')).toEqual({ caseId: 'C1', user: 'bob' });
    expect(matchPattern(p, '/cases//assignments/bob')).toBeNull();
    expect(matchPattern(p, '/cases/C1/Assignments/bob')).toBeNull();
    expect(matchPattern(p, 'cases/C1/assignments/bob')).toBeNull();
    expect(matchPattern(p, '/cases/C1/assignments/%E0%A4%A')).toBeNull();
  });

  it('refuses malformed patterns', () => {
    expect(() => compilePattern('/cases/{caseId}/x/{caseId}')).toThrow(/repeated/);
    expect(() => compilePattern('/cases/{case-id}')).toThrow(/bad route pattern/);
    expect(() => compilePattern('cases')).toThrow(/start with/);
  });

  it('has a root pattern that matches only the root', () => {
    const root = compilePattern('/');
    expect(matchPattern(root, '/')).toEqual({});
    expect(matchPattern(root, '/cases')).toBeNull();
    expect(matchPattern(root, '')).toBeNull();
  });
});
