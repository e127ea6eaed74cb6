import { describe, expect, it } from 'vitest';
import { afterCanPlay, decideRenewal, initialRenewalState, RENEWAL_WINDOW_MS, RENEWALS_PER_WINDOW, type RenewalState } from './playback-renewal';

/** A failure at `atMs`, the state carried on; `played` first if the player could play since the last one. */
function fail(state: RenewalState, atMs: number, played = true): { renew: boolean; next: RenewalState } {
  return decideRenewal(played ? afterCanPlay(state) : state, atMs);
}

describe('playback-renewal-cap-untested: the player asks for at most 3 new links a minute', () => {
  it('renews once per failure after playing, at most RENEWALS_PER_WINDOW in any RENEWAL_WINDOW_MS, and again once the window has passed', () => {
    expect(RENEWALS_PER_WINDOW).toBe(3);
    let state = initialRenewalState();
    const t0 = 1_000_000;
    const renewed: boolean[] = [];
    // A file that plays a little and fails again, every 10 s.
    for (let k = 0; k < 5; k++) {
      const d = fail(state, t0 + k * 10_000);
      renewed.push(d.renew);
      state = d.next;
    }
    expect(renewed).toEqual([true, true, true, false, false]);
    // The first renewal leaves the window at t0 + RENEWAL_WINDOW_MS: one more is allowed, then the cap holds again.
    const later = fail(state, t0 + RENEWAL_WINDOW_MS);
    expect(later.renew).toBe(true);
    expect(fail(later.next, t0 + RENEWAL_WINDOW_MS + 1).renew).toBe(false);
  });

  it('does not renew twice without playing in between (a format it cannot play)', () => {
    const first = decideRenewal(initialRenewalState(), 0);
    expect(first.renew).toBe(true);
    expect(decideRenewal(first.next, 30_000).renew).toBe(false);
    expect(decideRenewal(afterCanPlay(first.next), 30_000).renew).toBe(true);
  });

  it('a clock that went back does not free the window (a renewal "from the future" still counts as recent)', () => {
    let state = initialRenewalState();
    for (const t of [100_000, 100_001, 100_002]) state = fail(state, t).next;
    expect(fail(state, 50_000).renew).toBe(false);
  });
});
