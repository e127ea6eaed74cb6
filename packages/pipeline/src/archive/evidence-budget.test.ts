import { describe, expect, it } from 'vitest';
import { LIMITS } from '@exhibit/core';
import { budgetMaxima, unpackMsMaximum } from './evidence-budget.js';

describe('the evidence item\'s unpack-time maximum', () => {
  const limits = LIMITS;

  it('is the size-based time with no entry recorded, and grows by budgetUnpackMsPerEntry per entry', () => {
    const sizeBased = budgetMaxima(4 * 1024 ** 3, limits).unpackMs;
    expect(sizeBased).toBe(limits.minBudgetUnpackMs);
    expect(unpackMsMaximum(sizeBased, 0, limits)).toBe(sizeBased);
    // bench:disk's 4 GiB image with 20,000 files: the floor (30 min) + 20,000 × 250 ms (~83 min), where it needed ~16-30 min.
    expect(unpackMsMaximum(sizeBased, 20_000, limits)).toBe(limits.minBudgetUnpackMs + 20_000 * limits.budgetUnpackMsPerEntry);
  });

  it('never passes maxBudgetUnpackMs, nor drops below the size-based time', () => {
    expect(unpackMsMaximum(limits.minBudgetUnpackMs, limits.maxBudgetEntries, limits)).toBe(limits.maxBudgetUnpackMs);
    expect(unpackMsMaximum(limits.minBudgetUnpackMs, -5, limits)).toBe(limits.minBudgetUnpackMs);
  });
});
