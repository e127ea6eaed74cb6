import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ExhibitError, isExhibitError } from '../errors.js';
import { DeadlineWorkerPool, type DeadlinePoolOptions } from './deadline-pool.js';

/** Threads running misbehaving parsers (test-support/test-tasks.worker.ts); stock exifr's loop is tested in packages/media (sandbox/stock-exifr.deadline.test.ts). */
function testPool(options: Partial<DeadlinePoolOptions> = {}): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: { url: new URL('./test-support/test-tasks.worker.ts', import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') },
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

describe('DeadlineWorkerPool', () => {
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

  it('stops the thread of a task that asks to recycle it, and keeps it otherwise', async () => {
    pool = testPool();
    const recycleThread = (value: unknown) => value === 'large';
    await pool.run('echo', 'small', { label: 'decoder', timeoutMs: 30_000, recycleThread });
    await pool.run('echo', 'small', { label: 'decoder', timeoutMs: 30_000, recycleThread });
    expect(pool.started).toBe(1);
    await pool.run('echo', 'large', { label: 'decoder', timeoutMs: 30_000, recycleThread });
    await pool.run('echo', 'small', { label: 'decoder', timeoutMs: 30_000, recycleThread });
    expect(pool.started).toBe(2);
  });

  it("fails with the task's own errors in place of 'parse-timeout' and 'parse-crashed', the same every run", async () => {
    pool = testPool({ resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
    const reasons: string[] = [];
    for (let run = 0; run < 2; run++) {
      const stuck = await pool
        .run('loop', null, { label: 'decoder', timeoutMs: 500, timeoutError: () => new ExhibitError('limit-exceeded', 'took longer than 500 ms') })
        .catch((e: unknown) => e);
      const crashed = await pool
        .run('exhaust-heap', null, { label: 'decoder', timeoutMs: 60_000, crashError: (cause) => new ExhibitError('decode-failed', `died twice (${cause})`) })
        .catch((e: unknown) => e);
      reasons.push(`${(stuck as ExhibitError).code}: ${(stuck as Error).message} / ${(crashed as ExhibitError).code}: ${(crashed as Error).message}`);
    }
    expect(reasons).toEqual(['limit-exceeded: took longer than 500 ms / decode-failed: died twice (ran out of its 32 MiB heap)', reasons[0]]);
  });

  it('tells a caller how much parser time a task took, waits for serve excluded, a task out of time its whole budget', async () => {
    pool = testPool();
    const used: number[] = [];
    await pool.run('read-ranges', { ranges: [{ offset: 0, length: 4 }] }, {
      label: 'parser',
      timeoutMs: 30_000,
      usedMs: (ms) => used.push(ms),
      serve: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const bytes = new ArrayBuffer((request as { length: number }).length);
        return { value: bytes, transfer: [bytes] };
      },
    });
    expect(used).toHaveLength(1);
    expect(used[0]).toBeGreaterThanOrEqual(0);
    expect(used[0]).toBeLessThan(1500);
    await pool.run('loop', null, { label: 'parser', timeoutMs: 300, usedMs: (ms) => used.push(ms) }).catch(() => undefined);
    expect(used).toHaveLength(2);
    expect(used[1]).toBeGreaterThanOrEqual(290);
  });

  // A task whose thread died ran again with its whole budget: a ZIP chain search's window, whose budget is a share of
  // the search's, could take twice its share (a death, then a full re-run), past the search's budget. With
  // budgetSpansRuns a re-run gets what is left (zip-chain-search-budget-reset-by-thread-death).
  it('zip-chain-search-budget-reset-by-thread-death: a task with budgetSpansRuns re-runs on what its budget has left', async () => {
    const run = async (budgetSpansRuns: boolean) => {
      pool = testPool();
      let deaths = 0;
      const used: number[] = [];
      // Each run computes 700 ms, then reads: the first read kills its thread, as a crash would.
      const outcome = await pool
        .run<number>('spin-then-read', { spinMs: 700 }, {
          label: 'parser',
          timeoutMs: 1000,
          budgetSpansRuns,
          usedMs: (ms) => used.push(ms),
          serve: async () => {
            if (deaths++ === 0) await pool!.busyWorkers()[0]!.terminate();
            const bytes = new ArrayBuffer(4);
            return { value: bytes, transfer: [bytes] };
          },
        })
        .catch((err: unknown) => err);
      await pool.close();
      pool = undefined;
      return { outcome, used };
    };
    // A fresh budget: the re-run's 700 ms fit, some 1,400 ms in all.
    const fresh = await run(false);
    expect(fresh.outcome).toBe(4);
    expect(fresh.used[0]).toBeGreaterThan(1000);
    // What was left (some 300 ms): the re-run is out of time, never more than the task's 1,000 ms in all.
    const spanning = await run(true);
    expect(isExhibitError(spanning.outcome, 'parse-timeout')).toBe(true);
    expect(spanning.used[0]).toBeGreaterThanOrEqual(990);
    expect(spanning.used[0]).toBeLessThan(1300);
  });

  it('gives every thread the workerData it was created with, and tells which threads a task went to before they start', async () => {
    pool = testPool({ workerData: { heicDecodePath: '/somewhere/heic-decode' } });
    const running = pool.run('worker-data', null, { label: 'decoder', timeoutMs: 30_000 });
    expect(pool.assignedWorkers()).toHaveLength(1);
    await expect(running).resolves.toEqual({ heicDecodePath: '/somewhere/heic-decode' });
    expect(pool.assignedWorkers()).toHaveLength(0);
  });
});
