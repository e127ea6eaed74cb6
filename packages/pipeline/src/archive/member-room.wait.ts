import type { Limits, MemberBytesCache, RoomWait } from '@exhibit/core';

export interface MemberRoomWaitOptions {
  /**
   * When this unpack attempt stops to continue in a new message (epoch ms: the
   * runner's deadline less LIMITS.unpackContinueMarginMs); null when the runner
   * told it no deadline, so it cannot continue.
   */
  continueAt: number | null;
  /** What this attempt has waited for room so far, all its waits together (ms). */
  waitedMs: number;
  /** What the earlier attempts of this unpack (the continuations before this one) waited, all together (ms). */
  waitedBeforeMs?: number;
  limits: Pick<Limits, 'memberCacheMaxWaitPerUnpackMs' | 'memberCacheMaxWaitPerItemMs'>;
  /**
   * The attempt holds a single read of its upload (the upload's hash in the
   * unpack's read, below LIMITS.singleReadResumableMinBytes or past
   * maxHashRestarts, or a split set's later segments'), which a continuation
   * drops: the next attempt reads the upload from its start again. Then its
   * working time so far (its time less its waits) and how far the read has
   * got (0-1); 'unmeasured' when it cannot tell. Null: nothing is lost by
   * continuing (no single read, or one that saves its hash states when its
   * attempt continues: unpack.stage.ts singleReadProgressOf).
   */
  singleRead?: { workingMs: number; progress: number; deadlineAt: number } | 'unmeasured' | null;
  /** Hands the members recorded so far to analyse, before the wait (RoomWaitOptions.beforeWait). */
  beforeWait: () => Promise<void>;
  abortSignal?: AbortSignal;
}

/**
 * How long one of an unpack attempt's waits for room in the member-bytes
 * cache may last, past the cache's own bound (no take for
 * LIMITS.memberCacheTakerIdleMs ends it, and every later wait at once until a
 * take: an analyse that is not moving is never waited on).
 *
 * - An attempt that can continue (the runner told its deadline): up to its
 *   continue point, however long it has waited already. While analyse keeps
 *   taking, the listing thus goes at analyse's pace for the whole attempt, and
 *   the next attempt (`unpack-continue:<n>`) waits on where this one stopped:
 *   no member is recorded without its bytes cached merely because a fixed
 *   allowance ran out (issue 15: 14,469 of 20,064 analyses at 4 GiB read their
 *   member again). The continue point, not an allowance, keeps the stage inside
 *   its deadline: the wait ends there (the attempt's signal when it has
 *   recorded a member, this bound when it has not: the member is then recorded
 *   uncached, so the attempt has progress and continues; one that records
 *   nothing never does).
 * - An attempt that holds a single read of its upload which a continuation
 *   drops (hashed in the unpack's read on node:crypto's threads: below
 *   LIMITS.singleReadResumableMinBytes, or past LIMITS.maxHashRestarts starts
 *   over; the next attempt reads the upload from offset 0 again): only
 *   as long as leaves the listing time to end before the continue point and,
 *   after it, its end as long again as all its work before the deadline (a
 *   1 GiB image paced to the continue point continued for its end and read
 *   the image twice: 1.99 × the image). Unmeasured (a split set's later segments,
 *   with or without the first segment's upload pass, which measures that segment
 *   alone): the old allowance. (A 4 GiB image held to this bound was allowed
 *   about 220 s of waits, less than the old 300 s.) A pass that
 *   saves its hash states when its attempt continues (an upload of at least
 *   singleReadResumableMinBytes, hashed with hash-wasm) loses nothing by
 *   continuing: it is told as no single read (null), bounded by the continue
 *   point alone (regression resumed-pass-shut-off-member-cache-waits: a
 *   resumed pass's bytes read, counted from its saved offset, read as barely
 *   started and allowed no wait).
 * - An attempt told no deadline (a caller other than the stage runner): at
 *   most LIMITS.memberCacheMaxWaitPerUnpackMs over all its waits, as before.
 *   So, too, every attempt once the unpack's attempts together have waited
 *   LIMITS.memberCacheMaxWaitPerItemMs (the waits are off the item's
 *   unpack-time budget: a slow analyse must not pace an unpack for days).
 */
export function roomWaitAllowanceMs(
  options: Pick<MemberRoomWaitOptions, 'continueAt' | 'waitedMs' | 'waitedBeforeMs' | 'limits' | 'singleRead'>,
  now = Date.now(),
): number {
  const single = options.singleRead ?? null;
  const itemSpent = (options.waitedBeforeMs ?? 0) + options.waitedMs >= options.limits.memberCacheMaxWaitPerItemMs;
  if (options.continueAt === null || single === 'unmeasured' || itemSpent) return Math.max(0, options.limits.memberCacheMaxWaitPerUnpackMs - options.waitedMs);
  const untilContinue = Math.max(0, options.continueAt - now);
  if (single === null) return untilContinue;
  // A continuation would cost a whole second read of the upload, more than the members' second reads a wait saves: wait
  // only as long as leaves this attempt the listing's remaining work (estimated from the work so far and how far the read
  // has got) before its continue point, and, after the listing, as long again as all its work before its deadline
  // (ContinuePoint.pastHalf, on working time, must not send the image's end to a continuation either).
  if (!(single.progress > 0)) return 0;
  const progress = Math.min(1, single.progress);
  const remainingMs = (single.workingMs * (1 - progress)) / progress;
  const listingEnds = untilContinue - remainingMs;
  const endStays = single.deadlineAt - now - single.workingMs - 2 * remainingMs;
  return Math.max(0, Math.min(listingEnds, endStays));
}

/** Waits for room for `length` bytes within roomWaitAllowanceMs; how the wait ended. */
export function waitForMemberRoom(cache: MemberBytesCache, length: number, options: MemberRoomWaitOptions): Promise<RoomWait> {
  const now = Date.now();
  const maxWaitMs = roomWaitAllowanceMs(options, now);
  return cache.waitForRoom(length, {
    maxWaitMs,
    // From now, not from after beforeWait: the flush's time is inside the allowance, so the wait never overruns the
    // single-read bound or the continue point by it.
    endsAt: now + maxWaitMs,
    beforeWait: options.beforeWait,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
}
