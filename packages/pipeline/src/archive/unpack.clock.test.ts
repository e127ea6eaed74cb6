import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnpackClock } from './unpack.clock.js';

describe('UnpackClock: the item\'s unpack time, standing still while unpack waits for the member-bytes cache', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts once the allowance is spent, charging the whole run', () => {
    const clock = new UnpackClock(1000, () => new Error('budget'));
    vi.advanceTimersByTime(999);
    expect(clock.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.signal.aborted).toBe(true);
    expect((clock.signal.reason as Error).message).toBe('budget');
    expect(clock.chargedMs()).toBe(1000);
    clock.close();
  });

  it('neither charges nor counts against the allowance the time spent in off(), except the work run on() within it', async () => {
    const clock = new UnpackClock(1000, () => new Error('budget'));
    vi.advanceTimersByTime(400);
    await clock.off(async () => {
      // A long wait for room: the allowance does not run out during it.
      await vi.advanceTimersByTimeAsync(5000);
      expect(clock.signal.aborted).toBe(false);
      // The flush before the wait is unpacking's own work: charged.
      await clock.on(async () => {
        await vi.advanceTimersByTimeAsync(100);
      });
    });
    expect(clock.offMs).toBe(5000);
    expect(clock.chargedMs()).toBe(500);
    vi.advanceTimersByTime(499);
    expect(clock.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.signal.aborted).toBe(true);
    clock.close();
  });

  it('grant() extends the allowance by the running time since the previous grant, at most the cap, and counts it granted', async () => {
    const clock = new UnpackClock(1000, () => new Error('budget'));
    vi.advanceTimersByTime(600);
    // The first entry: 600 ms since the clock started, capped at 250; 400 ms were left, now 650.
    expect(clock.grant(250)).toBe(250);
    vi.advanceTimersByTime(100);
    // An entry 100 ms after the one before: its 100 ms granted, 650 - 100 + 100 = 650 left.
    expect(clock.grant(250)).toBe(100);
    await clock.off(async () => {
      // A wait is not running time: nothing granted for it.
      await vi.advanceTimersByTimeAsync(5000);
      expect(clock.grant(250)).toBe(0);
    });
    vi.advanceTimersByTime(649);
    expect(clock.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.signal.aborted).toBe(true);
    expect(clock.chargedMs()).toBe(1350);
    expect(clock.grantedMs()).toBe(350);
    // Aborted: nothing granted, the run is not revived.
    vi.advanceTimersByTime(200);
    expect(clock.grant(250)).toBe(0);
    expect(clock.grantedMs()).toBe(350);
    clock.close();
  });

  it('grant() saves nothing up: cheap entries add only their own time, and a slow stretch after them gets one cap', () => {
    const clock = new UnpackClock(1000, () => new Error('budget'));
    // 200 entries taken at once (empty members) add nothing.
    for (let i = 0; i < 200; i += 1) clock.grant(250);
    expect(clock.grantedMs()).toBe(0);
    // Then slow work before the next entry: nothing saved up covers it, the 1000 ms allowance runs out at 1000 ms.
    vi.advanceTimersByTime(999);
    expect(clock.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.signal.aborted).toBe(true);
    expect(clock.grant(250)).toBe(0);
    clock.close();
  });
});
