import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LIMITS, type RoomWait } from '@exhibit/core';
import { MemoryMemberBytesCache } from '@exhibit/storage';
import { roomWaitAllowanceMs, waitForMemberRoom } from '../src/archive/member-room.wait.js';
import { ContinuePoint, imageEndPastHalf, singleReadProgressOf } from '../src/unpack.stage.js';

/**
 * The unpack's waits for room in the member-bytes cache (issue 15), on a fake
 * clock: a listing that offers members as an unpack attempt does
 * (UnpackRun.offerMemberBytes: wait when full, then offer; stop to continue at
 * the continue point once it recorded a member), against an analyse that
 * takes the oldest entry at a fixed pace. The real limits: takerIdleMs 15 s,
 * the old per-attempt allowance 5 min.
 */
const SIZE = 100;
const BUDGET = 10 * SIZE;
const MIN = 60_000;
const keyOf = (i: number) => ({ container: 'derived', name: 'image', offset: i * SIZE, length: SIZE, sha256: 'a'.repeat(64) });

let cache: MemoryMemberBytesCache;
/** Offered and not yet taken, oldest first: what analyse takes next. */
let queued: number[];

beforeEach(() => {
  vi.useFakeTimers();
  cache = new MemoryMemberBytesCache({ maxMemberBytes: SIZE, budgetBytes: BUDGET, maxAgeMs: 24 * 60 * MIN, takerIdleMs: LIMITS.memberCacheTakerIdleMs });
  queued = [];
});

afterEach(() => {
  vi.useRealTimers();
});

/** Analyse: one take every `everyMs`, `takes` of them (or for good), stopping when nothing is queued. */
function taker(everyMs: number, takes = Number.POSITIVE_INFINITY) {
  let taken = 0;
  let lastTakeAt: number | null = null;
  const timer = setInterval(() => {
    const i = queued.shift();
    if (i === undefined) return;
    expect(cache.take(keyOf(i))).not.toBeNull();
    lastTakeAt = Date.now();
    if (++taken >= takes) clearInterval(timer);
  }, everyMs);
  return {
    stop: () => clearInterval(timer),
    get lastTakeAt() {
      return lastTakeAt;
    },
  };
}

interface AttemptResult {
  /** Stopped at its continue point (false: the listing ended). */
  continued: boolean;
  recorded: number;
  outcomes: RoomWait[];
  waitedMs: number;
  endedAt: number;
}

/**
 * One unpack attempt over members [progress.next, total): each member takes
 * 50 ms to list; before its offer, a wait when the cache is full.
 */
async function attempt(progress: { next: number }, total: number, continueAt: number | null, waitedBeforeMs = 0): Promise<AttemptResult> {
  let recorded = 0;
  let waitedMs = 0;
  const outcomes: RoomWait[] = [];
  while (progress.next < total) {
    // ContinuePoint.due(): only once this attempt recorded a member.
    if (continueAt !== null && recorded > 0 && Date.now() >= continueAt) return { continued: true, recorded, outcomes, waitedMs, endedAt: Date.now() };
    await new Promise((r) => setTimeout(r, 50));
    const i = progress.next;
    if (!cache.hasRoom(SIZE)) {
      const from = Date.now();
      outcomes.push(await waitForMemberRoom(cache, SIZE, { continueAt, waitedMs, waitedBeforeMs, limits: LIMITS, beforeWait: async () => undefined }));
      waitedMs += Date.now() - from;
    }
    if (cache.offer(keyOf(i), Buffer.alloc(SIZE))) queued.push(i);
    progress.next += 1;
    recorded += 1;
  }
  return { continued: false, recorded, outcomes, waitedMs, endedAt: Date.now() };
}

/** Runs `work` with the fake clock moved on by `ms` (in small steps, so every timer due fires in order). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let done = false;
  void work.finally(() => (done = true));
  for (let t = 0; t < ms && !done; t += 1_000) await vi.advanceTimersByTimeAsync(1_000);
  expect(done).toBe(true);
  return work;
}

describe('unpack waits for member-cache room while analyse takes, up to its continue point', () => {
  it('regression: unpack-cache-wait-capped-while-analyse-takes — a taker that keeps taking: the unpack waits past the old 5-min allowance and every member is cached', async () => {
    const startedAt = Date.now();
    const analyse = taker(10_000);
    // 100 members, room for 10, a take every 10 s: about 15 minutes at analyse's pace, inside the continue point (23 min).
    const result = await within(30 * MIN, attempt({ next: 0 }, 100, startedAt + 23 * MIN));
    analyse.stop();

    expect(result.continued).toBe(false);
    expect(result.waitedMs).toBeGreaterThan(LIMITS.memberCacheMaxWaitPerUnpackMs);
    expect(new Set(result.outcomes)).toEqual(new Set(['room']));
    expect(cache.stats()).toMatchObject({ offered: 100, refused: 0, waitsGivenUp: 0, waitsCut: 0 });
    expect(cache.stats().waitedMs).toBe(result.waitedMs);
  });

  it('a taker that stops: the wait gives up after the idle bound (15 s), later waits at once, and the listing goes on without caching', async () => {
    const startedAt = Date.now();
    const analyse = taker(10_000, 20);
    const result = await within(10 * MIN, attempt({ next: 0 }, 100, startedAt + 23 * MIN));
    analyse.stop();

    expect(result.continued).toBe(false);
    expect(result.outcomes.at(-1)).toBe('no-taker');
    expect(result.outcomes.filter((o) => o === 'no-taker').length).toBeGreaterThan(1);
    // One wait gave up (idle bound after the last take); every later one at once, without waiting.
    const stats = cache.stats();
    expect(stats).toMatchObject({ waitsGivenUp: 1, waitsCut: 0 });
    expect(stats.refused).toBe(100 - 10 - 20);
    const gaveUpAt = analyse.lastTakeAt! + LIMITS.memberCacheTakerIdleMs;
    expect(result.endedAt).toBeGreaterThanOrEqual(gaveUpAt);
    // The rest of the listing ran on at once (70 members × 50 ms), not to the continue point.
    expect(result.endedAt).toBeLessThan(gaveUpAt + 10_000);
  });

  it('the continue point comes during a wait: the attempt stops there and continues; the continuation waits on at analyse\'s pace', async () => {
    const analyse = taker(10_000);
    const progress = { next: 0 };
    // 250 members at a take every 10 s: about 40 minutes, more than one attempt's 23.
    const firstStart = Date.now();
    const first = await within(30 * MIN, attempt(progress, 250, firstStart + 23 * MIN));
    expect(first.continued).toBe(true);
    expect(first.endedAt).toBe(firstStart + 23 * MIN);
    // Only the wait the continue point cut short ended without room: that one member is cached only if a take made room for it.
    expect(first.outcomes.at(-1)).toBe('timeout');
    expect(first.outcomes.slice(0, -1).every((o) => o === 'room')).toBe(true);
    expect(first.waitedMs).toBeGreaterThan(LIMITS.memberCacheMaxWaitPerUnpackMs);
    expect(cache.stats()).toMatchObject({ waitsGivenUp: 1, waitsCut: 1 });
    expect(cache.stats().refused).toBeLessThanOrEqual(1);

    // The continuation, a new message with its own deadline, starts waiting again where the first stopped.
    const secondStart = Date.now();
    const second = await within(30 * MIN, attempt(progress, 250, secondStart + 23 * MIN));
    analyse.stop();
    expect(second.continued).toBe(false);
    expect(second.recorded).toBeGreaterThan(0);
    expect(new Set(second.outcomes)).toEqual(new Set(['room']));
    expect(first.recorded + second.recorded).toBe(250);
    expect(cache.stats()).toMatchObject({ offered: 250, waitsGivenUp: 1, waitsCut: 1 });
    expect(cache.stats().refused).toBeLessThanOrEqual(1);
  });

  it('a continuation past its continue point before any member does not wait at all; the member is recorded uncached, so it continues having made progress', async () => {
    for (let i = 0; i < 10; i++) expect(cache.offer(keyOf(i), Buffer.alloc(SIZE))).toBe(true);
    const at = Date.now();
    expect(roomWaitAllowanceMs({ continueAt: at, waitedMs: 0, limits: LIMITS })).toBe(0);
    expect(await waitForMemberRoom(cache, SIZE, { continueAt: at - 1, waitedMs: 0, limits: LIMITS, beforeWait: async () => undefined })).toBe('timeout');
    expect(cache.stats()).toMatchObject({ waits: 0 });
    // The attempt's own rule (ContinuePoint.due) continues only once it recorded a member: this one, uncached.
    const result = await within(MIN, attempt({ next: 10 }, 20, at));
    expect(result).toMatchObject({ continued: true, recorded: 1 });
  });

  it('regression: image-paced-to-continue-point-read-twice — an attempt holding the upload\'s single read waits only as long as leaves its listing (and as long again for its end) inside the attempt, so it does not continue and read the upload again', async () => {
    // 200 members of 1.8 s of listing work each (6 minutes in all, as the 1 GiB image's listing); analyse takes one every
    // 10 s (33 minutes in all, more than the attempt's 23). Paced to the continue point, the attempt would continue
    // mid-listing and the next one read the upload from its start again.
    const startedAt = Date.now();
    const continueAt = startedAt + 23 * MIN;
    const deadlineAt = startedAt + 25 * MIN;
    const analyse = taker(10_000);
    let recorded = 0;
    let waitedMs = 0;
    let continued = false;
    const outcomes: RoomWait[] = [];
    const listing = (async () => {
      for (let i = 0; i < 200; i++) {
        if (recorded > 0 && Date.now() >= continueAt) {
          continued = true;
          return;
        }
        await new Promise((r) => setTimeout(r, 1_800));
        if (!cache.hasRoom(SIZE)) {
          const from = Date.now();
          const singleRead = { workingMs: Date.now() - startedAt - waitedMs, progress: i / 200, deadlineAt };
          outcomes.push(await waitForMemberRoom(cache, SIZE, { continueAt, waitedMs, limits: LIMITS, singleRead, beforeWait: async () => undefined }));
          waitedMs += Date.now() - from;
        }
        if (cache.offer(keyOf(i), Buffer.alloc(SIZE))) queued.push(i);
        recorded += 1;
      }
    })();
    await within(30 * MIN, listing);
    analyse.stop();
    const endedAt = Date.now();

    expect(continued).toBe(false);
    const workingMs = endedAt - startedAt - waitedMs;
    // The image's end stays in this attempt: its work so far is less than the time left (ContinuePoint.pastHalf).
    expect(deadlineAt - endedAt).toBeGreaterThan(workingMs);
    // Still far more waiting than the old fixed allowance: most members cached.
    expect(waitedMs).toBeGreaterThan(LIMITS.memberCacheMaxWaitPerUnpackMs);
    expect(cache.stats().refused).toBeLessThan(100);
    expect(outcomes).toContain('room');
  });

  it('a single read unmeasured (a split set\'s later segments) keeps the old allowance; one not started yet allows no wait', () => {
    const now = Date.now();
    const five = LIMITS.memberCacheMaxWaitPerUnpackMs;
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 1_000, limits: LIMITS, singleRead: 'unmeasured' }, now)).toBe(five - 1_000);
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 0, limits: LIMITS, singleRead: { workingMs: 5_000, progress: 0, deadlineAt: now + 22 * MIN } }, now)).toBe(0);
    // Half read in 2 min of work: 2 min to go; the deadline 22 min away must keep, after the listing, its 4 min of work: 22 - 2 - 2 × 2 = 16 min.
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 0, limits: LIMITS, singleRead: { workingMs: 2 * MIN, progress: 0.5, deadlineAt: now + 22 * MIN } }, now)).toBe(16 * MIN);
    // Three quarters read in 9 min: 3 to go. The listing would end by the continue point after 20 - 3 = 17 min of waits,
    // but its 12 min of work must still fit after it before the deadline: 22 - 9 - 2 × 3 = 7 min, the smaller.
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 0, limits: LIMITS, singleRead: { workingMs: 9 * MIN, progress: 0.75, deadlineAt: now + 22 * MIN } }, now)).toBe(7 * MIN);
    // Little work, a far deadline: the continue point less the listing's last half minute is the bound.
    expect(roomWaitAllowanceMs({ continueAt: now + 60 * MIN, waitedMs: 0, limits: LIMITS, singleRead: { workingMs: 0.5 * MIN, progress: 0.5, deadlineAt: now + 120 * MIN } }, now)).toBe(59.5 * MIN);
  });

  it('regression: resumed-pass-shut-off-member-cache-waits — a pass that saves its hash state when its attempt continues (resumed or not) puts no single-read bound on the waits: only the continue point', () => {
    // The second attempt of a 4 GiB image: its pass resumed at 2 GiB, 0.4 GiB read since, 100 s of work. Its bytes read
    // (counted from the saved offset) over the size said 10%, so the bound estimated 900 s of listing left and allowed
    // no wait at all; every member went uncached and analyse read each again. Continuing costs it no second read.
    const GiB = 1024 ** 3;
    const now = Date.now();
    const deadlineAt = now + LIMITS.stageDeadlineMs - 100_000;
    const continueAt = deadlineAt - LIMITS.unpackContinueMarginMs;
    const saving = { savesOnContinue: true, source: { counts: { passBytes: 0.4 * GiB } } };
    // As UnpackRun hands it to waitForMemberRoom.
    const allowance = (progress: ReturnType<typeof singleReadProgressOf>) =>
      roomWaitAllowanceMs(
        { continueAt, waitedMs: 0, waitedBeforeMs: 0, limits: LIMITS, singleRead: typeof progress === 'function' ? { workingMs: 100_000, progress: progress(), deadlineAt } : progress },
        now,
      );
    expect(singleReadProgressOf(saving, false, 4 * GiB)).toBeNull();
    expect(allowance(singleReadProgressOf(saving, false, 4 * GiB))).toBe(continueAt - now);
    // A pass that does not save (below LIMITS.singleReadResumableMinBytes, or past maxHashRestarts) starts at byte 0:
    // its bytes read are its position, and a continuation would read the upload again, so the bound stands.
    const dropped = { savesOnContinue: false, source: { counts: { passBytes: 2.4 * GiB } } };
    const progress = singleReadProgressOf(dropped, false, 4 * GiB);
    expect(typeof progress === 'function' ? progress() : progress).toBeCloseTo(0.6);
    expect(allowance(progress)).toBeGreaterThan(0);
    expect(allowance(progress)).toBeLessThan(continueAt - now);
    // A split set's later segments still re-read on a continuation: unmeasured, whatever the pass does.
    expect(singleReadProgressOf(saving, true, 4 * GiB)).toBe('unmeasured');
    expect(singleReadProgressOf(null, false, 0)).toBeNull();
  });

  it('regression: image-end-continued-for-cache-waits — whether a disk image\'s end is left to a continuation counts the attempt\'s work, not its waits for cache room', () => {
    const startedAt = Date.now();
    const point = new ContinuePoint(startedAt + 23 * MIN, null, startedAt + 25 * MIN);
    try {
      // 16 minutes in: 9 left to the deadline. Of the 16, 10 were waits (analyse's pace): 6 of work, less than the 9 left.
      vi.setSystemTime(startedAt + 16 * MIN);
      expect(point.pastHalf(10 * MIN)).toBe(false);
      // The same time all work: past half, the end goes to a continuation as before.
      expect(point.pastHalf(0)).toBe(true);
      expect(point.pastHalf()).toBe(true);
    } finally {
      point.close();
    }
  });

  it('regression: image-end-left-two-minutes-after-cache-waits — an attempt holding no single read (an image hashed resumably, a nested image) waits up to its continue point, so its image end is judged on wall-clock time', () => {
    const startedAt = Date.now();
    const point = new ContinuePoint(startedAt + 23 * MIN, null, startedAt + 25 * MIN);
    try {
      // The listing ended just before the continue point, 21 of its 22.9 minutes waits: 126 s left to the deadline for
      // the image's end (its EWF stored-hash check may read media the listing did not). On working time (1.9 min of
      // work, less than the 2.1 left) it would stay here and run into the deadline; it goes to a continuation.
      vi.setSystemTime(startedAt + 22.9 * MIN);
      expect(imageEndPastHalf(point, null, 21 * MIN)).toBe(true);
      // A split set's later segments (unmeasured, the fixed allowance): as before too.
      expect(imageEndPastHalf(point, 'unmeasured', 21 * MIN)).toBe(true);
      // Holding a measured single read (its waits bounded to leave the end as long as its work): working time.
      vi.setSystemTime(startedAt + 16 * MIN);
      expect(imageEndPastHalf(point, () => 0.9, 10 * MIN)).toBe(false);
      expect(imageEndPastHalf(point, null, 10 * MIN)).toBe(true);
    } finally {
      point.close();
    }
  });

  it('regression: cache-wait-overruns-continue-point-by-flush — the members\' flush before a wait counts inside its allowance: the wait ends at the continue point, not the flush\'s duration after it', async () => {
    // Takes never come but the idle bound is far: only the allowance ends the wait.
    const slow = new MemoryMemberBytesCache({ maxMemberBytes: SIZE, budgetBytes: BUDGET, maxAgeMs: 24 * 60 * MIN, takerIdleMs: 60 * MIN });
    for (let i = 0; i < 10; i++) expect(slow.offer(keyOf(i), Buffer.alloc(SIZE))).toBe(true);
    const startedAt = Date.now();
    const continueAt = startedAt + 3 * MIN;
    const flush = () => new Promise<void>((r) => setTimeout(r, MIN));
    const wait = waitForMemberRoom(slow, SIZE, { continueAt, waitedMs: 0, limits: LIMITS, beforeWait: flush });
    expect(await within(10 * MIN, wait)).toBe('timeout');
    expect(Date.now()).toBe(continueAt);
  });

  it('regression: unpack-paced-for-days-by-slow-analyse — once an unpack\'s attempts together waited memberCacheMaxWaitPerItemMs, each attempt is back to the 5-min allowance, so a slow analyse cannot pace it through continuation after continuation', async () => {
    // 1,500 members, a take every 14 s: at analyse's pace 5.8 hours, 16 attempts of 23 minutes. Bounded: the first 2 hours
    // paced (about 6 attempts), then one attempt waits its 5 minutes and lists the rest without caching it.
    const analyse = taker(14_000);
    const progress = { next: 0 };
    let waitedBeforeMs = 0;
    let attempts = 0;
    for (;;) {
      attempts += 1;
      const result = await within(30 * MIN, attempt(progress, 1_500, Date.now() + 23 * MIN, waitedBeforeMs));
      waitedBeforeMs += result.waitedMs;
      if (!result.continued) break;
      expect(attempts).toBeLessThan(30);
    }
    analyse.stop();
    expect(progress.next).toBe(1_500);
    // Measured: 6 attempts, 120.2 minutes of waits (without the bound: 16 attempts, 347 minutes).
    expect(attempts).toBeLessThanOrEqual(7);
    expect(waitedBeforeMs).toBeLessThanOrEqual(LIMITS.memberCacheMaxWaitPerItemMs + LIMITS.memberCacheMaxWaitPerUnpackMs);
    // The allowance itself: with the item's waits spent, the 5-min cap (less this attempt's waits), not the continue point.
    const now = Date.now();
    const five = LIMITS.memberCacheMaxWaitPerUnpackMs;
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 0, waitedBeforeMs: LIMITS.memberCacheMaxWaitPerItemMs, limits: LIMITS }, now)).toBe(five);
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 1_000, waitedBeforeMs: LIMITS.memberCacheMaxWaitPerItemMs - 1_000, limits: LIMITS }, now)).toBe(five - 1_000);
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 0, waitedBeforeMs: LIMITS.memberCacheMaxWaitPerItemMs - 1, limits: LIMITS }, now)).toBe(20 * MIN);
  }, 120_000);

  it('without a deadline from the runner (no continue point), the old bound stands: 5 minutes of waits per attempt', () => {
    const five = LIMITS.memberCacheMaxWaitPerUnpackMs;
    expect(roomWaitAllowanceMs({ continueAt: null, waitedMs: 0, limits: LIMITS })).toBe(five);
    expect(roomWaitAllowanceMs({ continueAt: null, waitedMs: five - 1_000, limits: LIMITS })).toBe(1_000);
    expect(roomWaitAllowanceMs({ continueAt: null, waitedMs: five + 1_000, limits: LIMITS })).toBe(0);
    // With one, however long it has waited already: up to the continue point.
    const now = Date.now();
    expect(roomWaitAllowanceMs({ continueAt: now + 20 * MIN, waitedMs: 10 * five, limits: LIMITS }, now)).toBe(20 * MIN);
  });
});
