import type { MemberBytesCache, MemberBytesCacheStats, MemberBytesKey, RoomWait, RoomWaitOptions } from '@exhibit/core';

export interface MemoryMemberBytesCacheOptions {
  /** An offer larger than this is refused. */
  maxMemberBytes: number;
  /** Bytes held at once, all entries together. */
  budgetBytes: number;
  /** An entry older than this is dropped when its room is needed. */
  maxAgeMs: number;
  /**
   * A wait for room gives up when no entry was taken for this long (counted
   * from the later of the last take and the wait's start): analyse is not
   * consuming in this process (another instance analyses, or it stalled).
   */
  takerIdleMs: number;
  /**
   * A waiter is woken only once the cache holds at most this many bytes
   * (default half the budget): unpack then offers a run of members before it
   * waits again, instead of one member per take (each wait flushes a batch).
   */
  resumeAtBytes?: number;
  /** For tests: the clock. */
  now?: () => number;
}

/**
 * The in-process MemberBytesCache: a map under the exact key, a byte budget,
 * and no eviction of live entries. When the budget is full a new offer is
 * refused rather than an older entry dropped, because analyse takes members in
 * the order unpack offered them: the oldest entries are the next to be used,
 * and dropping them for newer ones would make every entry miss while unpack
 * runs ahead. Entries nobody takes (their file was analysed by another
 * instance, found already done, or never sent) give their room back once
 * older than maxAgeMs.
 *
 * Back-pressure (waitForRoom): when full, unpack may wait for analyse's takes
 * instead of having its offer refused, but only while takes keep coming
 * (takerIdleMs); a wait that sees none gives up, and so does every later one
 * until an entry is taken again, so a process whose analyse is elsewhere or
 * stalled loses at most one idle limit per stall, never a member.
 */
export class MemoryMemberBytesCache implements MemberBytesCache {
  private readonly entries = new Map<string, { bytes: Buffer; at: number }>();
  private held = 0;
  private readonly counts = { hits: 0, misses: 0, offered: 0, refused: 0, expired: 0, waits: 0, waitsWithRoom: 0, waitsGivenUp: 0, waitsCut: 0, waitedMs: 0 };
  private readonly now: () => number;
  private readonly waiters: Waiter[] = [];
  /** When an entry was last taken (a hit: room given back); null before the first. */
  private lastTakeAt: number | null = null;
  /** A wait gave up for want of a taker and no entry was taken since: later waits give up at once. */
  private noTaker = false;

  constructor(private readonly options: MemoryMemberBytesCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  offer(key: MemberBytesKey, bytes: Buffer): boolean {
    this.counts.offered += 1;
    if (bytes.length !== key.length || bytes.length > this.options.maxMemberBytes || bytes.length > this.options.budgetBytes) {
      this.counts.refused += 1;
      return false;
    }
    const k = keyText(key);
    if (this.entries.has(k)) return true; // the same bytes (same digest), offered again by a redelivered unpack
    if (this.held + bytes.length > this.options.budgetBytes) this.expire();
    if (this.held + bytes.length > this.options.budgetBytes) {
      this.counts.refused += 1;
      return false;
    }
    this.entries.set(k, { bytes, at: this.now() });
    this.held += bytes.length;
    return true;
  }

  take(key: MemberBytesKey): Buffer | null {
    const k = keyText(key);
    const entry = this.entries.get(k);
    if (!entry) {
      this.counts.misses += 1;
      return null;
    }
    this.entries.delete(k);
    this.held -= entry.bytes.length;
    this.counts.hits += 1;
    this.lastTakeAt = Date.now();
    this.noTaker = false;
    this.wake();
    return entry.bytes;
  }

  hasRoom(length: number): boolean {
    return this.fits(length) && this.held + length <= this.options.budgetBytes;
  }

  async waitForRoom(length: number, options: RoomWaitOptions): Promise<RoomWait> {
    const early = this.settledWithoutWaiting(length, options);
    if (early) return early;
    if (options.beforeWait) {
      await options.beforeWait();
      const after = this.settledWithoutWaiting(length, options);
      if (after) return after;
    }
    this.counts.waits += 1;
    return new Promise<RoomWait>((resolve) => {
      const startedAt = Date.now();
      const waiter: Waiter = { length, end: () => undefined };
      const signal = options.abortSignal;
      const onAbort = () => waiter.end('aborted');
      let idleTimer: NodeJS.Timeout | undefined;
      const limitTimer = setTimeout(() => waiter.end('timeout'), Math.min(options.maxWaitMs, options.endsAt === undefined ? Number.POSITIVE_INFINITY : options.endsAt - startedAt));
      // Re-armed from the last take: gives up only after takerIdleMs with none.
      const armIdle = () => {
        const since = Math.max(startedAt, this.lastTakeAt ?? 0);
        const left = since + this.options.takerIdleMs - Date.now();
        if (left > 0) {
          idleTimer = setTimeout(armIdle, left);
          return;
        }
        this.noTaker = true;
        waiter.end('no-taker');
      };
      armIdle();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.end = (how) => {
        waiter.end = () => undefined;
        clearTimeout(limitTimer);
        clearTimeout(idleTimer);
        signal?.removeEventListener('abort', onAbort);
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        this.counts.waitedMs += Date.now() - startedAt;
        if (how === 'room') this.counts.waitsWithRoom += 1;
        else this.counts.waitsGivenUp += 1;
        if (how === 'timeout' || how === 'aborted') this.counts.waitsCut += 1;
        resolve(how);
      };
      this.waiters.push(waiter);
    });
  }

  stats(): MemberBytesCacheStats {
    return { ...this.counts, heldBytes: this.held, heldEntries: this.entries.size };
  }

  /** How a wait ends before it begins: room already, or no use waiting; null to wait. */
  private settledWithoutWaiting(length: number, options: RoomWaitOptions): RoomWait | null {
    if (!this.fits(length)) return 'too-large';
    if (this.held + length > this.options.budgetBytes) this.expire();
    if (this.held + length <= this.options.budgetBytes) return 'room';
    if (options.abortSignal?.aborted) return 'aborted';
    if (this.noTaker) return 'no-taker';
    if (options.maxWaitMs <= 0 || (options.endsAt !== undefined && options.endsAt <= Date.now())) return 'timeout';
    return null;
  }

  private fits(length: number): boolean {
    return length <= this.options.maxMemberBytes && length <= this.options.budgetBytes;
  }

  /**
   * After a take: wakes waiters in order while, counting those already woken
   * (their offers follow), the cache is down to resumeAtBytes and the next fits.
   */
  private wake(): void {
    if (this.waiters.length === 0) return;
    // Entries of members analysed elsewhere would otherwise hold the room a waiter needs until the next offer.
    this.expire();
    const resumeAt = this.options.resumeAtBytes ?? Math.floor(this.options.budgetBytes / 2);
    let projected = this.held;
    while (this.waiters.length > 0) {
      const next = this.waiters[0]!;
      if (projected > resumeAt || projected + next.length > this.options.budgetBytes) return;
      projected += next.length;
      next.end('room');
    }
  }

  /** Drops entries older than maxAgeMs (the map keeps insertion order: oldest first). */
  private expire(): void {
    const cutoff = this.now() - this.options.maxAgeMs;
    for (const [k, entry] of this.entries) {
      if (entry.at > cutoff) break;
      this.entries.delete(k);
      this.held -= entry.bytes.length;
      this.counts.expired += 1;
    }
  }
}

interface Waiter {
  length: number;
  end(how: RoomWait): void;
}

/** The JSON of every part of the key: exact and unambiguous whatever the names hold. */
function keyText(key: MemberBytesKey): string {
  return JSON.stringify([key.container, key.name, key.offset, key.length, key.sha256.toLowerCase()]);
}
