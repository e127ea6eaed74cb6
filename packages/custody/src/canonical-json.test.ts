import { describe, expect, it } from 'vitest';
import { canonicalJson, toPlainJson } from './canonical-json.js';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units at every depth and drops whitespace', () => {
    const text = canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, '\u20ac': 1, '\r': 2 });
    expect(text).toBe('{"\\r":2,"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1,"\u20ac":1}');
  });

  it('formats numbers as ECMAScript does (RFC 8785 section 3.2.2.3 examples)', () => {
    expect(canonicalJson([1e21, 1e-7, 0.000001, -0, 333333333.3333333, 4.5])).toBe('[1e+21,1e-7,0.000001,0,333333333.3333333,4.5]');
  });

  it('gives the same bytes whatever the insertion order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2] })).toBe(canonicalJson({ y: [1, 2], x: 1 }));
  });

  it('rejects values JSON cannot carry', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/cannot be canonicalised/);
    expect(() => canonicalJson({ s: 'lone \ud800 surrogate' })).toThrow(/cannot be canonicalised/);
    expect(() => canonicalJson(undefined)).toThrow(/no JSON representation/);
  });
});

describe('toPlainJson', () => {
  it('turns dates into ISO strings and drops undefined members', () => {
    const out = toPlainJson({ at: new Date('2024-01-02T03:04:05.006Z'), gone: undefined, kept: 0 });
    expect(out).toEqual({ at: '2024-01-02T03:04:05.006Z', kept: 0 });
    expect(Object.keys(out)).not.toContain('gone');
  });

  it('rejects bigint and cycles', () => {
    expect(() => toPlainJson({ n: 1n })).toThrow(/not JSON/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toPlainJson(cyclic)).toThrow(/not JSON/);
  });
});
