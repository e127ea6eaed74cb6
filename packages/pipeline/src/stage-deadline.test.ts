import { describe, expect, it } from 'vitest';
import { ExhibitError } from '@exhibit/core';
import { withDeadline } from './stage-deadline.js';

describe('withDeadline', () => {
  it('passes the result through and clears its timers', async () => {
    await expect(withDeadline(async () => 'ok', { deadlineMs: 10_000, graceMs: 10_000, label: 'test' })).resolves.toBe('ok');
  });

  it('aborts the work at the deadline with a timeout reason the work can tell from a shutdown', async () => {
    const result = await withDeadline(
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener('abort', () => resolve(signal.reason instanceof ExhibitError ? signal.reason.code : 'other'));
        }),
      { deadlineMs: 20, graceMs: 10_000, label: 'test' },
    );
    expect(result).toBe('timeout');
  });

  it('work that ignores its signal is released after the grace period with a retryable timeout', async () => {
    const never = new Promise<never>(() => undefined);
    const err = await withDeadline(() => never, { deadlineMs: 10, graceMs: 10, label: 'unpack stage' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExhibitError);
    expect((err as ExhibitError).code).toBe('timeout');
    expect((err as ExhibitError).retryable).toBe(true);
  });

  it('a shutdown still reaches the work through the combined signal', async () => {
    const shutdown = new AbortController();
    const running = withDeadline(
      (signal) => new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason instanceof ExhibitError))),
      { outer: shutdown.signal, deadlineMs: 10_000, graceMs: 10_000, label: 'test' },
    );
    shutdown.abort();
    expect(await running).toBe(false);
  });
});
