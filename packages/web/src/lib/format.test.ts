import { describe, expect, it } from 'vitest';
import { caseWideSubject, visibleControls } from './format';

describe('custody entry subjects', () => {
  // Regression: a similar search recorded once for a whole case (in its first item's log) read as
  // about that evidence item ("EX01 … the evidence item").
  it('search-recorded-for-case-shown-as-first-item', () => {
    expect(caseWideSubject('search', { filesShown: 0, evidenceSearched: 2, recordedFor: 'case' }, 'R2-B')).toBe(
      "the case R2-B (2 evidence items), recorded once in this item's log",
    );
    expect(caseWideSubject('search', { filesShown: 1, evidenceSearched: 2 }, 'R2-B')).toBeUndefined();
    // recordedFor names other things on other actions (an assignment change's sign-in).
    expect(caseWideSubject('assignment-change', { recordedFor: 'case' }, 'R2-B')).toBeUndefined();
  });
});

describe('text read from evidence', () => {
  it('shows bidi and control characters as \\uXXXX, as the CLI prints them', () => {
    expect(visibleControls('exhibit-\u202e10E.exe')).toBe('exhibit-\\u202e10E.exe');
    for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069', '\u2028', '\u2029', '\x00', '\x1b', '\n', '\x7f', '\x9b']) {
      expect(visibleControls(`a${c}b`), JSON.stringify(c)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
    }
    // Letters of any script, marks and a zero-width joiner inside an emoji stay as they are.
    expect(visibleControls('Données/שלום/写真/👩\u200d💻.jpg')).toBe('Données/שלום/写真/👩\u200d💻.jpg');
  });
});
