/**
 * Exactly which bytes an entry holds: `length` bytes of blob `container/name`
 * from `offset`, whose SHA-256 is `sha256`. The unpack stage computed that
 * digest from these very bytes as it read them, and the analyse stage asks
 * with the digest the index records for the file's content, so an entry can
 * only ever answer for the bytes the index says the file has. The digest is
 * the blob's version here (an ETag would name the blob's state, the digest
 * names the bytes themselves, and analyse knows it without asking storage).
 */
export interface MemberBytesKey {
  container: string;
  name: string;
  offset: number;
  length: number;
  sha256: string;
}

export interface MemberBytesCacheStats {
  /** Entries taken by analyse (each saved one read of the member from storage). */
  hits: number;
  /** Takes that found nothing (never offered, refused, expired, or taken already). */
  misses: number;
  offered: number;
  /** Offers turned away: too large, or no room in the budget. */
  refused: number;
  /** Entries dropped unused because they grew too old (their file was analysed elsewhere, or not at all). */
  expired: number;
  heldBytes: number;
  heldEntries: number;
  /** waitForRoom calls that had to wait (back-pressure), and how they ended. */
  waits: number;
  /** Waits that ended with room. */
  waitsWithRoom: number;
  /** Waits that gave up: nobody took an entry within the idle limit (or since the last give-up), or the caller's limit ran out. */
  waitsGivenUp: number;
  /**
   * Of waitsGivenUp, those the caller ended while entries were still being
   * taken: its time limit (an unpack's continue point, its single-read bound,
   * or the 5-min allowance) or its signal (the continue point's, the
   * runtime's deadline or shutdown); the rest gave up for want of a taker.
   */
  waitsCut: number;
  /** Milliseconds spent waiting, all waits together. */
  waitedMs: number;
}

/**
 * How a wait for room ended: `room` (offer now: it fits), `no-taker` (no
 * entry was taken within the cache's idle limit, or none since the last wait
 * gave up: analyse is not consuming here, so the member is simply not
 * cached), `timeout` (the caller's own limit), `aborted` (its signal), or
 * `too-large` (the bytes could never fit).
 */
export type RoomWait = 'room' | 'no-taker' | 'timeout' | 'aborted' | 'too-large';

export interface RoomWaitOptions {
  /** The longest this wait may take. */
  maxWaitMs: number;
  /**
   * When the wait ends at the latest (epoch ms), however long `beforeWait`
   * took: the caller's bound (a continue point) is a time, and maxWaitMs,
   * counted from after beforeWait, would overrun it by the flush's duration.
   */
  endsAt?: number;
  abortSignal?: AbortSignal;
  /**
   * Called once, only when the cache is about to wait (not when there is room
   * or no use waiting): unpack hands the members it holds to analyse here, so
   * that analyse can take the entries that fill the cache. Its throw is the
   * wait's throw.
   */
  beforeWait?: () => Promise<void>;
}

/**
 * Bytes of archive members that the unpack stage has just read, kept for the
 * analyse stage of the same process so that it need not read them from
 * storage again (issue 12). An optimisation only: a miss reads storage, so
 * correctness never depends on it (several instances in Azure each have
 * their own, or none). Bounded by the adapter's byte budget; when it is full,
 * unpack may wait for analyse to take entries (waitForRoom), so that it runs
 * at analyse's pace instead of having its offers refused.
 */
export interface MemberBytesCache {
  /** Offers a member's bytes; false when refused. The cache keeps `bytes` as given: the caller must not change them. */
  offer(key: MemberBytesKey, bytes: Buffer): boolean;
  /** The bytes under exactly this key, removed from the cache; null when absent. */
  take(key: MemberBytesKey): Buffer | null;
  /** Whether an offer of `length` bytes would be taken now, without waiting. */
  hasRoom(length: number): boolean;
  /**
   * Back-pressure: waits until an offer of `length` bytes would be taken,
   * but only while this process's analyse is taking entries (each take
   * that frees room wakes the waiters; none within the adapter's idle limit
   * ends the wait with `no-taker`). Throws only what `beforeWait` throws, and
   * never waits longer than `maxWaitMs`, so unpack can neither deadlock nor
   * stall on it.
   */
  waitForRoom(length: number, options: RoomWaitOptions): Promise<RoomWait>;
  stats(): MemberBytesCacheStats;
}
