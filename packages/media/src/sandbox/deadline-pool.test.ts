import type { Worker } from 'node:worker_threads';
import { ExhibitError, isExhibitError } from '@exhibit/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { heicZeroLengthBoxAfterFtyp } from '../test-support/hostile.builders.js';
import { DeadlineWorkerPool, type DeadlinePoolOptions } from './deadline-pool.js';

/** Threads running stock exifr and misbehaving parsers (test-support/stock-parsers.worker.ts). */
function testPool(options: Partial<DeadlinePoolOptions> = {}): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: { url: new URL('../test-support/stock-parsers.worker.ts', import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') },
    size: 1,
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    startTimeoutMs: 60_000,
    ...options,
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

describe('DeadlineWorkerPool', () => {
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

  it("blames the file with 'parse-crashed' when its thread runs out of heap twice, and serves the next task", async () => {
    pool = testPool({ resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
    const err = await pool.run('exhaust-heap', null, { label: 'image metadata parser', timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'parse-crashed')).toBe(true);
    expect((err as Error).message).toBe('image metadata parser thread ran out of its 32 MiB heap on this file, twice');
    expect(pool.started).toBe(2);
    await expect(pool.run('echo', 1, { label: 'parser', timeoutMs: 30_000 })).resolves.toBe(1);
  });

  it('retries a task in a fresh thread when its thread dies once', async () => {
    pool = testPool();
    let served = 0;
    let first: Worker | undefined;
    const running = pool.run<number>(
      'read-ranges',
      { ranges: [{ offset: 0, length: 10 }] },
      {
        label: 'parser',
        timeoutMs: 30_000,
        // The first request arrives from the first thread: stop that thread from outside, as a crash would.
        serve: async () => {
          if (served++ === 0) {
            first = pool!.busyWorkers()[0];
            await first!.terminate();
          }
          const bytes = new ArrayBuffer(10);
          return { value: bytes, transfer: [bytes] };
        },
      },
    );
    await expect(running).resolves.toBe(10);
    expect(first).toBeDefined();
    expect(served).toBe(2);
  });

  it("does not charge the worker's budget for the main thread's reads", async () => {
    pool = testPool();
    const total = await pool.run<number>(
      'read-ranges',
      { ranges: [{ offset: 0, length: 4 }, { offset: 4, length: 4 }] },
      {
        label: 'parser',
        timeoutMs: 1000,
        // Each read takes longer than the whole budget: storage is slow, the file is not to blame.
        serve: async (request) => {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          const bytes = new ArrayBuffer((request as { length: number }).length);
          return { value: bytes, transfer: [bytes] };
        },
      },
    );
    expect(total).toBe(8);
  });

  it('keeps the clock stopped while any of several requests in flight waits for the main thread', async () => {
    pool = testPool();
    let served = 0;
    const total = await pool.run<number>(
      'read-ranges-together',
      { ranges: [{ offset: 0, length: 4 }, { offset: 4, length: 4 }] },
      {
        label: 'parser',
        timeoutMs: 1000,
        // The first answer comes at once, the second after longer than the whole budget: still storage's time, not the file's.
        serve: async (request) => {
          if (served++ > 0) await new Promise((resolve) => setTimeout(resolve, 1500));
          const bytes = new ArrayBuffer((request as { length: number }).length);
          return { value: bytes, transfer: [bytes] };
        },
      },
    );
    expect(total).toBe(8);
  });

  it('hands a typed failure back with its code, message and details', async () => {
    pool = testPool();
    const err = await pool.run('typed-failure', null, { label: 'parser', timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'corrupt-file')).toBe(true);
    expect(err).toMatchObject({ message: 'entries overlap', details: { reason: 'overlapping-entries', membersDeclared: 3, findings: ['archive-prefix'] } });
  });

  it("ends a task with the main thread's read error (retryable) and replaces the thread that waited for it", async () => {
    pool = testPool();
    const err = await pool
      .run('read-ranges', { ranges: [{ offset: 0, length: 4 }] }, {
        label: 'parser',
        timeoutMs: 30_000,
        serve: async () => {
          throw new ExhibitError('storage-unavailable', 'blob read failed');
        },
      })
      .catch((e: unknown) => e);
    expect(isExhibitError(err, 'storage-unavailable')).toBe(true);
    await expect(pool.run('echo', 'after', { label: 'parser', timeoutMs: 30_000 })).resolves.toBe('after');
    expect(pool.started).toBe(2);
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
