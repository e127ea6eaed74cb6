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

  it('extend() adds to the allowance while running and while stopped, and revives nothing once aborted', async () => {
    const clock = new UnpackClock(1000, () => new Error('budget'));
    vi.advanceTimersByTime(600);
    // An entry recorded while running: 400 ms were left, now 650.
    clock.extend(250);
    vi.advanceTimersByTime(649);
    expect(clock.signal.aborted).toBe(false);
    await clock.off(async () => {
      // Extended during a wait: counted once the clock runs again.
      clock.extend(100);
      await vi.advanceTimersByTimeAsync(2000);
    });
    vi.advanceTimersByTime(100);
    expect(clock.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(clock.signal.aborted).toBe(true);
    expect(clock.chargedMs()).toBe(1350);
    clock.extend(10_000);
    expect(clock.signal.aborted).toBe(true);
    clock.close();
  });
});
