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
   * Adds `ms` to the allowance (the item's maximum grew: an entry recorded adds LIMITS.budgetUnpackMsPerEntry), running
   * or stopped. Nothing once the clock has aborted or closed: a run already stopped for its budget is not revived.
   */
  extend(ms: number): void {
    if (ms <= 0 || this.closed || this.controller.signal.aborted) return;
    if (this.running) {
      clearTimeout(this.timer);
      const now = Date.now();
      this.leftMs -= now - this.runningSince;
      this.runningSince = now;
      this.leftMs += ms;
      this.arm();
    } else {
      this.leftMs += ms;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
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
