import { randomBytes } from 'node:crypto';
import type { MemberBytesKey } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { MemoryMemberBytesCache } from './member-bytes.memory.js';

const key = (over: Partial<MemberBytesKey> = {}, length = 1000): MemberBytesKey => ({
  container: 'evidence',
  name: 'case/ev/phone.zip',
  offset: 4096,
  length,
  sha256: 'a'.repeat(64),
  ...over,
});

function cache(options: { budgetBytes?: number; maxMemberBytes?: number; maxAgeMs?: number; takerIdleMs?: number; resumeAtBytes?: number } = {}) {
  let now = 1_000_000;
  const c = new MemoryMemberBytesCache({ maxMemberBytes: 4000, budgetBytes: 10_000, maxAgeMs: 60_000, takerIdleMs: 60_000, ...options, now: () => now });
  return { c, advance: (ms: number) => (now += ms) };
}

describe('MemoryMemberBytesCache', () => {
  it('gives the bytes back once under the exact key, then forgets them', () => {
    const { c } = cache();
    const bytes = randomBytes(1000);
    expect(c.offer(key(), bytes)).toBe(true);
    expect(c.take(key())).toBe(bytes);
    expect(c.take(key())).toBeNull();
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, offered: 1, refused: 0, heldBytes: 0, heldEntries: 0 });
  });

  it('never answers for another digest, offset, length, blob or container', () => {
    const { c } = cache();
    expect(c.offer(key(), randomBytes(1000))).toBe(true);
    // A different version of the bytes: the same span of a blob that changed.
    expect(c.take(key({ sha256: 'b'.repeat(64) }))).toBeNull();
    expect(c.take(key({ offset: 4097 }))).toBeNull();
    expect(c.take(key({}, 999))).toBeNull();
    expect(c.take(key({ name: 'case/ev/phone.zip ' }))).toBeNull();
    expect(c.take(key({ container: 'derived' }))).toBeNull();
    expect(c.stats()).toMatchObject({ hits: 0, misses: 5, heldEntries: 1 });
    // A digest differing only in case is the same digest (the index stores lowercase hex).
    expect(c.take(key({ sha256: 'A'.repeat(64) }))).not.toBeNull();
  });

  it('refuses bytes whose length is not the key\'s, and members over the size limit', () => {
    const { c } = cache({ maxMemberBytes: 1500 });
    expect(c.offer(key({}, 1000), randomBytes(999))).toBe(false);
    expect(c.offer(key({}, 1501), randomBytes(1501))).toBe(false);
    expect(c.offer(key({}, 1500), randomBytes(1500))).toBe(true);
    expect(c.stats()).toMatchObject({ offered: 3, refused: 2, heldBytes: 1500 });
  });

  it('keeps within its byte budget by refusing new offers, not by dropping live entries', () => {
    const { c } = cache({ budgetBytes: 3000 });
    const first = randomBytes(1000);
    expect(c.offer(key({ offset: 0 }), first)).toBe(true);
    expect(c.offer(key({ offset: 1000 }), randomBytes(1000))).toBe(true);
    expect(c.offer(key({ offset: 2000 }), randomBytes(1000))).toBe(true);
    expect(c.offer(key({ offset: 3000 }), randomBytes(1000))).toBe(false);
    expect(c.stats()).toMatchObject({ heldBytes: 3000, heldEntries: 3, refused: 1 });
    // The oldest is still there: it is the next one analyse asks for.
    expect(c.take(key({ offset: 0 }))).toBe(first);
    // Its room is free again.
    expect(c.offer(key({ offset: 3000 }), randomBytes(1000))).toBe(true);
    expect(c.stats().heldBytes).toBe(3000);
  });

  it('gives the room of entries nobody took back once they are older than maxAgeMs', () => {
    const { c, advance } = cache({ budgetBytes: 2000, maxAgeMs: 60_000 });
    expect(c.offer(key({ offset: 0 }), randomBytes(1000))).toBe(true);
    advance(30_000);
    expect(c.offer(key({ offset: 1000 }), randomBytes(1000))).toBe(true);
    advance(29_999);
    expect(c.offer(key({ offset: 2000 }), randomBytes(1000))).toBe(false);
    advance(1);
    // The first entry is now 60 s old: dropped; the second (30 s) stays.
    expect(c.offer(key({ offset: 2000 }), randomBytes(1000))).toBe(true);
    expect(c.take(key({ offset: 0 }))).toBeNull();
    expect(c.take(key({ offset: 1000 }))).not.toBeNull();
    expect(c.stats()).toMatchObject({ expired: 1, heldEntries: 1, heldBytes: 1000 });
  });

  it('counts an offer of bytes it already holds once in the budget', () => {
    const { c } = cache();
    const bytes = randomBytes(1000);
    expect(c.offer(key(), bytes)).toBe(true);
    expect(c.offer(key(), Buffer.from(bytes))).toBe(true);
    expect(c.stats()).toMatchObject({ heldBytes: 1000, heldEntries: 1 });
  });
});

describe('MemoryMemberBytesCache back-pressure (waitForRoom)', () => {
  /** Three entries of 1000 bytes in a budget of 3000: full. */
  function full(options: { takerIdleMs?: number; resumeAtBytes?: number } = {}) {
    const { c } = cache({ budgetBytes: 3000, takerIdleMs: 60_000, ...options });
    for (const offset of [0, 1000, 2000]) expect(c.offer(key({ offset }), randomBytes(1000))).toBe(true);
    return c;
  }

  it('answers at once when there is room, or when the bytes could never fit', async () => {
    const { c } = cache({ budgetBytes: 3000, maxMemberBytes: 2000 });
    let flushed = 0;
    const beforeWait = async () => void (flushed += 1);
    expect(c.hasRoom(1000)).toBe(true);
    expect(await c.waitForRoom(1000, { maxWaitMs: 60_000, beforeWait })).toBe('room');
    expect(await c.waitForRoom(2001, { maxWaitMs: 60_000, beforeWait })).toBe('too-large');
    expect(flushed).toBe(0);
    expect(c.stats()).toMatchObject({ waits: 0 });
  });

  it('waits while entries are taken, and resumes once the cache is down to half its budget', async () => {
    const c = full();
    let flushed = 0;
    expect(c.hasRoom(1000)).toBe(false);
    let ended: string | null = null;
    const waiting = c.waitForRoom(1000, { maxWaitMs: 60_000, beforeWait: async () => void (flushed += 1) }).then((how) => (ended = how));
    await new Promise((r) => setImmediate(r));
    // The members held were handed on before the wait (else nobody could take them).
    expect(flushed).toBe(1);
    expect(c.take(key({ offset: 0 }))).not.toBeNull();
    await new Promise((r) => setImmediate(r));
    // Room for one, but 2000 bytes held is above half the budget: a wait per take would flush a batch per member.
    expect(ended).toBeNull();
    expect(c.take(key({ offset: 1000 }))).not.toBeNull();
    expect(await waiting).toBe('room');
    expect(c.offer(key({ offset: 3000 }), randomBytes(1000))).toBe(true);
    expect(c.stats()).toMatchObject({ waits: 1, waitsWithRoom: 1, waitsGivenUp: 0, refused: 0 });
  });

  it('gives up when nobody takes an entry within the idle limit, then at once until one is taken', async () => {
    const c = full({ takerIdleMs: 20 });
    let flushed = 0;
    const beforeWait = async () => void (flushed += 1);
    expect(await c.waitForRoom(1000, { maxWaitMs: 60_000, beforeWait })).toBe('no-taker');
    expect(flushed).toBe(1);
    // Nobody consumes here (another instance analyses): no more waiting, no more flushing.
    expect(await c.waitForRoom(1000, { maxWaitMs: 60_000, beforeWait })).toBe('no-taker');
    expect(flushed).toBe(1);
    expect(c.offer(key({ offset: 3000 }), randomBytes(1000))).toBe(false);
    // A take shows analyse consuming again: the next wait waits (and ends with room on the next take).
    expect(c.take(key({ offset: 0 }))).not.toBeNull();
    expect(c.offer(key({ offset: 3000 }), randomBytes(1000))).toBe(true);
    const waiting = c.waitForRoom(1000, { maxWaitMs: 60_000, beforeWait });
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(2);
    expect(c.take(key({ offset: 1000 }))).not.toBeNull();
    expect(c.take(key({ offset: 2000 }))).not.toBeNull();
    expect(await waiting).toBe('room');
    // Given up for want of a taker, not cut by the caller.
    expect(c.stats()).toMatchObject({ waits: 2, waitsWithRoom: 1, waitsGivenUp: 1, waitsCut: 0 });
  });

  it('ends a wait at the caller\'s limit or signal, and never waits with no time left', async () => {
    const c = full();
    expect(await c.waitForRoom(1000, { maxWaitMs: 0 })).toBe('timeout');
    expect(await c.waitForRoom(1000, { maxWaitMs: 10 })).toBe('timeout');
    const stop = new AbortController();
    const waiting = c.waitForRoom(1000, { maxWaitMs: 60_000, abortSignal: stop.signal });
    stop.abort();
    expect(await waiting).toBe('aborted');
    expect(await c.waitForRoom(1000, { maxWaitMs: 60_000, abortSignal: stop.signal })).toBe('aborted');
    // A timeout or an abort says nothing about analyse: later waits still wait.
    expect(c.stats()).toMatchObject({ waits: 2, waitsGivenUp: 2, waitsCut: 2, heldEntries: 3 });
  });

  it('wakes several waiters in order, counting the offers of those already woken', async () => {
    const c = full({ resumeAtBytes: 3000 });
    const ended: string[] = [];
    const first = c.waitForRoom(1000, { maxWaitMs: 60_000 }).then((how) => ended.push(`first ${how}`));
    const second = c.waitForRoom(1000, { maxWaitMs: 60_000 }).then((how) => ended.push(`second ${how}`));
    c.take(key({ offset: 0 }));
    await first;
    await new Promise((r) => setImmediate(r));
    // One take's room is the first waiter's: the second is not woken into a refusal.
    expect(ended).toEqual(['first room']);
    c.take(key({ offset: 1000 }));
    await second;
    expect(ended).toEqual(['first room', 'second room']);
  });
});
