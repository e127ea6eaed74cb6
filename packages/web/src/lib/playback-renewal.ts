/**
 * When the media player may ask for a new playback link on its own (screens/media-player.tsx).
 *
 * A player's fetch is refused once its link's ticket ends (about 10 minutes), and the player then
 * asks for a new link and resumes. Every new link is an API call and a custody entry, so the player
 * asks at most once per failure since it last could play (a second failure with nothing played in
 * between is a format it cannot play), and at most RENEWALS_PER_WINDOW times in any RENEWAL_WINDOW_MS
 * whatever it played in between: a file that plays a little and fails again must not get a new link
 * on every failure for as long as the page is open. Pure, with the time passed in, so it is tested
 * without a clock.
 */

/** New playback links the player may ask for on its own (a refused fetch) in any RENEWAL_WINDOW_MS. */
export const RENEWALS_PER_WINDOW = 3;
export const RENEWAL_WINDOW_MS = 60_000;

export interface RenewalState {
  /** New links asked for since the player last could play. */
  sinceCanPlay: number;
  /** When each new link within the window was asked for (ms). */
  renewedAtMs: readonly number[];
}

export const initialRenewalState = (): RenewalState => ({ sinceCanPlay: 0, renewedAtMs: [] });

/** The player could play (canplay): the next failure may ask for a new link again, within the window's cap. */
export const afterCanPlay = (state: RenewalState): RenewalState => ({ ...state, sinceCanPlay: 0 });

/** The user pressed Play: a fresh start for the per-failure rule; the window's cap still counts. */
export const afterUserStart = afterCanPlay;

/** Whether a failed fetch at `nowMs` may ask for a new link, and the state after the decision. */
export function decideRenewal(state: RenewalState, nowMs: number): { renew: boolean; next: RenewalState } {
  // A time after nowMs (the clock went back) stays recent: the cap errs towards fewer links.
  const recent = state.renewedAtMs.filter((t) => nowMs - t < RENEWAL_WINDOW_MS);
  if (state.sinceCanPlay >= 1 || recent.length >= RENEWALS_PER_WINDOW) return { renew: false, next: { ...state, renewedAtMs: recent } };
  return { renew: true, next: { sinceCanPlay: state.sinceCanPlay + 1, renewedAtMs: [...recent, nowMs] } };
}
