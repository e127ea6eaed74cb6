import { describe, expect, it } from 'vitest';
import { LIMITS } from '@exhibit/core';
import { budgetMaxima, describeUnpackMsBudget } from './evidence-budget.js';

describe('the evidence item\'s unpack-time budget', () => {
  const limits = LIMITS;

  it('is the size-based time, between its floor and ceiling, whatever the entries (their grace is granted by the run\'s clock, never added to it)', () => {
    expect(budgetMaxima(4 * 1024 ** 3, limits).unpackMs).toBe(limits.minBudgetUnpackMs);
    // 50 ms per MiB: 64 GiB of evidence has ~55 min.
    expect(budgetMaxima(64 * 1024 ** 3, limits).unpackMs).toBe(64 * 1024 * limits.expansionBudgetFactor);
    expect(budgetMaxima(2 * 1024 ** 4, limits).unpackMs).toBe(limits.maxBudgetUnpackMs);
  });

  it('is named in a stop by fixed figures only, so one file fails with the same reason every run', () => {
    expect(describeUnpackMsBudget(budgetMaxima(4 * 1024 ** 3, limits).unpackMs, limits)).toBe('1800000 ms, not counting up to 250 ms of each entry\'s own work');
  });
});
