import { ExhibitError, type BudgetCounter, type EvidenceRef, type IndexStore, type Limits } from '@exhibit/core';

export type BudgetMaxima = Record<BudgetCounter, number>;

const clamp = (value: number, floor: number, ceiling: number) => Math.min(ceiling, Math.max(floor, Math.floor(value)));

/**
 * The evidence item's budget: LIMITS.expansionBudgetFactor × its uploaded
 * size, between each counter's floor and ceiling. Bytes expanded and written
 * scale with bytes of evidence; entries with KiB of evidence; unpack time
 * (milliseconds) with MiB of evidence. The unpack-time maximum does not
 * grow with the entries: what each entry's own work is granted beyond it
 * (LIMITS.budgetUnpackMsPerEntry, UnpackClock.grant) is never charged to it.
 */
export function budgetMaxima(evidenceBytes: number, limits: Limits): BudgetMaxima {
  const k = limits.expansionBudgetFactor;
  return {
    expandedBytes: clamp(k * evidenceBytes, limits.minBudgetExpandedBytes, limits.maxBudgetExpandedBytes),
    writtenBytes: clamp(k * evidenceBytes, limits.minBudgetWrittenBytes, limits.maxBudgetWrittenBytes),
    entries: clamp((k * evidenceBytes) / 1024, limits.minBudgetEntries, limits.maxBudgetEntries),
    unpackMs: clamp((k * evidenceBytes) / (1024 * 1024), limits.minBudgetUnpackMs, limits.maxBudgetUnpackMs),
  };
}

/**
 * The unpack-time budget as a stop names it: the size-based maximum and the per-entry grace, both fixed for the item,
 * so one file stopped by it fails with the same reason every run (how much was granted varies with timing: logged only).
 */
export function describeUnpackMsBudget(maximumMs: number, limits: Pick<Limits, 'budgetUnpackMsPerEntry'>): string {
  return `${maximumMs} ms, not counting up to ${limits.budgetUnpackMsPerEntry} ms of each entry's own work`;
}

/** How much of a counter one claim asks for beyond what is needed now, to keep round trips rare. */
const SLICE: BudgetMaxima = { expandedBytes: 16 * 1024 * 1024, writtenBytes: 16 * 1024 * 1024, entries: 256, unpackMs: 0 };

/** The budget ran out: unpacking stops with reason 'budget-exceeded'; what was extracted stays. */
export function budgetExceeded(message: string): ExhibitError {
  return new ExhibitError('limit-exceeded', message, { details: { scope: 'archive', reason: 'budget-exceeded' } });
}

/**
 * One unpack's view of the evidence item's budget. Allowance is claimed from
 * the index in slices before it is used (so the shared total can never pass
 * its maximum, however many nested unpacks run at once) and what is left is
 * released at the end.
 */
export class EvidenceBudget {
  private readonly held: BudgetMaxima = { expandedBytes: 0, writtenBytes: 0, entries: 0, unpackMs: 0 };

  constructor(
    private readonly index: IndexStore,
    private readonly ref: EvidenceRef,
    readonly maxima: BudgetMaxima,
    /** Already used when this unpack began. */
    readonly usedAtStart: BudgetMaxima,
    private readonly limits: Pick<Limits, 'budgetUnpackMsPerEntry'>,
  ) {}

  static async open(index: IndexStore, ref: EvidenceRef, limits: Limits): Promise<EvidenceBudget> {
    const usage = await index.budgetUsage(ref);
    return new EvidenceBudget(index, { caseId: ref.caseId, evidenceId: ref.evidenceId }, budgetMaxima(usage.evidenceBytes, limits), usage.used, limits);
  }

  /** The unpack-time budget as a stop names it (describeUnpackMsBudget). */
  describeUnpackMs(): string {
    return describeUnpackMsBudget(this.maxima.unpackMs, this.limits);
  }

  /** Takes `amount` of a counter or throws budgetExceeded (having taken nothing more). */
  async take(counter: BudgetCounter, amount: number): Promise<void> {
    if (amount <= 0) return;
    if (this.held[counter] < amount) {
      const want = amount - this.held[counter] + SLICE[counter];
      this.held[counter] += await this.index.claimBudget(this.ref, counter, want, this.maxima[counter]);
    }
    if (this.held[counter] < amount) {
      throw budgetExceeded(`the evidence item's ${DESCRIBE[counter]} budget (${this.maxima[counter]}) is used up`);
    }
    this.held[counter] -= amount;
  }

  /**
   * What a take of `counter` would have thrown, when the counter was used up already as this unpack began (else null):
   * the same wording, for a stop this unpack meets without taking (a walk over members earlier attempts recorded).
   */
  usedUpAtStart(counter: Exclude<BudgetCounter, 'unpackMs'>): string | null {
    return this.usedAtStart[counter] >= this.maxima[counter] ? `the evidence item's ${DESCRIBE[counter]} budget (${this.maxima[counter]}) is used up` : null;
  }

  /**
   * Milliseconds of unpack time left to the evidence item when this unpack began: the size-based maximum less the time
   * charged so far, which counts only time not granted to entries (UnpackClock.grantedMs), so nothing granted carries over.
   */
  remainingMsAtStart(): number {
    return Math.max(0, this.maxima.unpackMs - this.usedAtStart.unpackMs);
  }

  /** Returns unused allowance; best effort (a lost release only leaves the budget smaller). */
  async release(): Promise<void> {
    for (const counter of Object.keys(this.held) as BudgetCounter[]) {
      const amount = this.held[counter];
      this.held[counter] = 0;
      if (amount > 0) await this.index.releaseBudget(this.ref, counter, amount);
    }
  }
}

const DESCRIBE: Record<BudgetCounter, string> = {
  expandedBytes: 'expanded-bytes',
  writtenBytes: 'derived-bytes-written',
  entries: 'entries',
  unpackMs: 'unpack-time (ms)',
};
