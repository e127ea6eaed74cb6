import { ExhibitError } from '@exhibit/core';

export interface DeadlineOptions {
  /** What the invocation was given (shutdown); the deadline is added to it. */
  outer?: AbortSignal;
  deadlineMs: number;
  graceMs: number;
  /** For messages, e.g. `unpack stage`. */
  label: string;
}

/**
 * Runs `work` with a signal that aborts at the deadline (reason: an
 * ExhibitError 'timeout', so a stage can tell it from a shutdown). If the work
 * has not settled `graceMs` after that, the returned promise rejects with a
 * retryable 'timeout' anyway: whatever the work is stuck on, the invocation
 * ends, its message is released and its lock no longer renewed.
 */
export async function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, options: DeadlineOptions): Promise<T> {
  const deadline = new AbortController();
  const deadlineTimer = setTimeout(
    () => deadline.abort(new ExhibitError('timeout', `the ${options.label} ran past its deadline (${options.deadlineMs} ms)`)),
    options.deadlineMs,
  );
  const signal = options.outer ? AbortSignal.any([options.outer, deadline.signal]) : deadline.signal;
  let graceTimer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(signal),
      new Promise<never>((_, reject) => {
        graceTimer = setTimeout(
          () => reject(new ExhibitError('timeout', `the ${options.label} did not stop within ${options.graceMs} ms of its deadline; released`)),
          options.deadlineMs + options.graceMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(deadlineTimer);
    clearTimeout(graceTimer);
  }
}
