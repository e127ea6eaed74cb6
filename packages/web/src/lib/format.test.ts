import { describe, expect, it } from 'vitest';
import { caseWideSubject } from './format';

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
