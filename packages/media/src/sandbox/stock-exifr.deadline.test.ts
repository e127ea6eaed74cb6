import { isExhibitError, type ExhibitError } from '@exhibit/core';
import { DeadlineWorkerPool } from '@exhibit/core/deadline-pool';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { heicZeroLengthBoxAfterFtyp } from '../test-support/hostile.builders.js';

/**
 * The deadline pool (packages/core/src/threads/) against the parser that made
 * it necessary: stock exifr 7.1.3 on the whole file, as the host once ran it
 * on its main thread (test-support/stock-parsers.worker.ts).
 */
function testPool(): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: { url: new URL('../test-support/stock-parsers.worker.ts', import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') },
    size: 1,
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    startTimeoutMs: 60_000,
  });
}

let pool: DeadlineWorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Counts event-loop turns of the main thread while `work` runs. */
async function ticking<T>(work: () => Promise<T>): Promise<{ result: T | Error; ticks: number }> {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 5);
  try {
    return { result: await work().catch((err: unknown) => err as Error), ticks };
  } finally {
    clearInterval(interval);
  }
}

const bytesOf = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

describe('DeadlineWorkerPool with stock exifr', () => {
  it('regression: heic-zero-length-box-after-ftyp-hangs-event-loop — the loop holds only its thread, which is stopped at the budget; the main thread keeps running and serves the next file', async () => {
    pool = testPool();
    const file = heicZeroLengthBoxAfterFtyp();
    expect(file.length).toBe(80);
    const { result, ticks } = await ticking(() =>
      pool!.run('stock-exifr-orientation', { bytes: bytesOf(file) }, { label: 'EXIF preview parser', timeoutMs: 1000 }),
    );
    expect(isExhibitError(result, 'parse-timeout')).toBe(true);
    expect((result as Error).message).toBe('EXIF preview parser did not finish within its 1000 ms budget and was stopped');
    // The budget's timer is a main-thread timer set after the interval's: it fired, so the loop was free, and the interval ran first.
    expect(ticks).toBeGreaterThan(0);

    // The next file gets a fresh thread.
    await expect(pool.run('echo', 'next file', { label: 'parser', timeoutMs: 30_000 })).resolves.toBe('next file');
    expect(pool.started).toBe(2);
  });

  it('records the same reason for the same file on every run', async () => {
    pool = testPool();
    const file = bytesOf(heicZeroLengthBoxAfterFtyp());
    const reasons: string[] = [];
    for (let run = 0; run < 2; run++) {
      const err = await pool.run('stock-exifr-orientation', { bytes: file }, { label: 'EXIF preview parser', timeoutMs: 500 }).catch((e: unknown) => e);
      expect(isExhibitError(err)).toBe(true);
      reasons.push(`${(err as ExhibitError).code}: ${(err as ExhibitError).message}`);
    }
    expect(reasons[0]).toBe(reasons[1]);
  });

  it("stops a looping parser on abort with 'aborted'", async () => {
    pool = testPool();
    const controller = new AbortController();
    const running = pool
      .run('stock-exifr-orientation', { bytes: bytesOf(heicZeroLengthBoxAfterFtyp()) }, { label: 'parser', timeoutMs: 60_000, abortSignal: controller.signal })
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(pool!.busyWorkers()).toHaveLength(1), { timeout: 60_000, interval: 10 });
    controller.abort();
    expect(isExhibitError(await running, 'aborted')).toBe(true);
    await expect(pool.run('echo', 2, { label: 'parser', timeoutMs: 30_000 })).resolves.toBe(2);
  });
});
