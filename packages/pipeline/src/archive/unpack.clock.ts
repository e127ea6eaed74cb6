/**
 * The evidence item's unpack time as one unpack run spends it: aborts
 * `signal` once the time the item had left when the run began is used, and
 * stands still while the run waits for room in the member-bytes cache
 * (issue 12's back-pressure). Such a wait is analyse's pace, not unpacking:
 * charged to the item's budget, it could stop a large archive that would
 * otherwise have been unpacked in full.
 */
export class UnpackClock {
  private readonly controller = new AbortController();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private leftMs: number;
  private runningSince: number;
  private stoppedMs = 0;
  private stoppedAt = 0;
  private closed = false;
  /** False while off(): the allowance is not being spent. */
  private running = true;
  /** Milliseconds granted so far (grant), and the running time at the last grant. */
  private granted = 0;
  private grantedAt = 0;

  constructor(
    allowanceMs: number,
    private readonly reason: () => Error,
  ) {
    this.leftMs = allowanceMs;
    this.runningSince = this.startedAt;
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Runs `wait` with the clock stopped; the time it takes is neither charged nor counted against the allowance. */
  async off<T>(wait: () => Promise<T>): Promise<T> {
    this.pause();
    try {
      return await wait();
    } finally {
      this.resume();
    }
  }

  /** Within `off`: runs `work` (unpacking's own, such as a flush) with the clock running again. */
  async on<T>(work: () => Promise<T>): Promise<T> {
    this.resume();
    try {
      return await work();
    } finally {
      this.pause();
    }
  }

  /** Milliseconds charged to the item: the run's wall time less the time the clock stood still. */
  chargedMs(): number {
    return Date.now() - this.startedAt - this.stoppedMs;
  }

  /** Milliseconds the clock stood still. */
  get offMs(): number {
    return this.stoppedMs;
  }

  /**
   * An entry is taken (a member about to be recorded): its own work is granted, the allowance extended by the clock's
   * running time since the previous entry was taken (since the clock started, for the first), at most `capMs`
   * (LIMITS.budgetUnpackMsPerEntry). Time actually spent, never a fixed amount per entry: cheap entries add almost
   * nothing, so no grace is saved up for slow ones later (200 empty members did not buy 8 members 3 s each; regression
   * entry-grace-saved-up-for-slow-members), and work beyond `capMs` between two entries is charged. Nothing once the
   * clock has aborted or closed (a run stopped for its budget is not revived). Returns the milliseconds granted.
   */
  grant(capMs: number): number {
    if (this.closed || this.controller.signal.aborted) return 0;
    const running = this.runningMs();
    const granted = Math.max(0, Math.min(capMs, running - this.grantedAt));
    this.grantedAt = running;
    if (granted === 0) return 0;
    this.granted += granted;
    if (this.running) {
      clearTimeout(this.timer);
      const now = Date.now();
      this.leftMs -= now - this.runningSince;
      this.runningSince = now;
      this.leftMs += granted;
      this.arm();
    } else {
      this.leftMs += granted;
    }
    return granted;
  }

  /** Milliseconds granted to entries' own work (grant): not charged to the item, only the rest of chargedMs() is. */
  grantedMs(): number {
    return this.granted;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Milliseconds the clock has run (chargedMs, less any stop still under way). */
  private runningMs(): number {
    return (this.running ? Date.now() : this.stoppedAt) - this.startedAt - this.stoppedMs;
  }

  private pause(): void {
    clearTimeout(this.timer);
    this.running = false;
    this.stoppedAt = Date.now();
    this.leftMs -= this.stoppedAt - this.runningSince;
  }

  private resume(): void {
    const now = Date.now();
    this.stoppedMs += now - this.stoppedAt;
    this.runningSince = now;
    this.running = true;
    this.arm();
  }

  private arm(): void {
    if (this.closed || this.controller.signal.aborted) return;
    this.timer = setTimeout(() => this.controller.abort(this.reason()), Math.max(0, this.leftMs));
  }
}
