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
  limits: Pick<Limits, 'memberCacheMaxWaitPerUnpackMs'>;
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
 * - An attempt told no deadline (a caller other than the stage runner): at
 *   most LIMITS.memberCacheMaxWaitPerUnpackMs over all its waits, as before.
 */
export function roomWaitAllowanceMs(options: Pick<MemberRoomWaitOptions, 'continueAt' | 'waitedMs' | 'limits'>, now = Date.now()): number {
  if (options.continueAt !== null) return Math.max(0, options.continueAt - now);
  return Math.max(0, options.limits.memberCacheMaxWaitPerUnpackMs - options.waitedMs);
}

/** Waits for room for `length` bytes within roomWaitAllowanceMs; how the wait ended. */
export function waitForMemberRoom(cache: MemberBytesCache, length: number, options: MemberRoomWaitOptions): Promise<RoomWait> {
  return cache.waitForRoom(length, {
    maxWaitMs: roomWaitAllowanceMs(options),
    beforeWait: options.beforeWait,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
}
