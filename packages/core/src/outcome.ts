import type { ExhibitErrorCode } from './errors.js';

/**
 * What a stage returns. Stages throw only retryable faults; everything that is
 * a property of the evidence (corrupt, encrypted, over a limit) is an outcome.
 */
export type StageOutcome =
  | { status: 'done'; summary?: Record<string, unknown> }
  | { status: 'skipped'; reason: SkipReason }
  | { status: 'failed'; code: ExhibitErrorCode; detail: string };

export type SkipReason =
  | 'already-done'
  | 'already-analysed'
  | 'not-applicable'
  /** The step applies to the kind, but no allowed tool reads this format (MIDI, tracker modules): nothing was wrong with the file. */
  | 'no-reader'
  | 'superseded'
  /** Not yet: the work waits for something else to arrive and runs again later (a split image's first segment, its set). */
  | 'waiting'
  /**
   * Another delivery holds the item's stage lease (this one is a twin: a continuation sent again, e.g. by the
   * reconcile timer's resend, or a redelivery after a lost lock, while the live attempt still runs): this one did no
   * work and sent a scheduled copy of itself for when that lease expires.
   */
  | 'held-by-another-delivery'
  | 'unknown-subject';

export const done = (summary?: Record<string, unknown>): StageOutcome =>
  summary === undefined ? { status: 'done' } : { status: 'done', summary };
export const skipped = (reason: SkipReason): StageOutcome => ({ status: 'skipped', reason });
export const failed = (code: ExhibitErrorCode, detail: string): StageOutcome => ({
  status: 'failed',
  code,
  detail,
});
