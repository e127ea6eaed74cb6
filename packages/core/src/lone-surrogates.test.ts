import { describe, expect, it } from 'vitest';
import { escapeLoneSurrogates, hasLoneSurrogate } from './lone-surrogates.js';

describe('escapeLoneSurrogates', () => {
  it('leaves well-formed text (pairs included) as it is', () => {
    for (const s of ['', 'plain', 'naïve 名前', 'emoji \ud83d\ude00 end', '\\u{d800} already escaped']) {
      expect(hasLoneSurrogate(s)).toBe(false);
      expect(escapeLoneSurrogates(s)).toBe(s);
    }
  });

  it('writes a lone high or low surrogate as a visible escape, wherever it is', () => {
    expect(escapeLoneSurrogates('NOTE-\ud800Y')).toBe('NOTE-\\u{d800}Y');
    expect(escapeLoneSurrogates('\udc00start')).toBe('\\u{dc00}start');
    expect(escapeLoneSurrogates('end\udbff')).toBe('end\\u{dbff}');
    expect(escapeLoneSurrogates('\udfff\ud800')).toBe('\\u{dfff}\\u{d800}');
  });

  it('keeps a pair next to a lone surrogate', () => {
    // High, then a real pair: only the first is lone.
    expect(escapeLoneSurrogates('\ud800\ud83d\ude00')).toBe('\\u{d800}\ud83d\ude00');
    // A real pair, then a lone low surrogate.
    expect(escapeLoneSurrogates('\ud83d\ude00\ude00')).toBe('\ud83d\ude00\\u{de00}');
  });

  it('gives well-formed text whose UTF-8 round trip keeps it (nothing becomes U+FFFD)', () => {
    const out = escapeLoneSurrogates('a\ud800b\udc01c');
    expect(hasLoneSurrogate(out)).toBe(false);
    expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
    expect(out).not.toContain('\ufffd');
  });

  it('is idempotent, so applying it at the decoder and again at the index does not double-escape', () => {
    const once = escapeLoneSurrogates('x\ud800y');
    expect(escapeLoneSurrogates(once)).toBe(once);
  });

  it('answers the same on repeated calls (no regex state carried between them)', () => {
    expect([1, 2, 3].map(() => hasLoneSurrogate('ab\ud800'))).toEqual([true, true, true]);
  });
});
