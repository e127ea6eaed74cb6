import { ExhibitError, isExhibitError } from '@exhibit/core';
import type { DeadlineWorkerPool } from '@exhibit/core/deadline-pool';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBlobSource, tarOf, zipOf } from '../../test/fixtures/archives/archive-fixtures.js';
import type { ArchiveReader } from './archive-reader.js';
import { createArchivePool } from './archive.pool.js';
import { openTarReader } from './tar.reader.js';
import { openZipReader } from './zip.reader.js';

/**
 * ZIP and TAR parsing runs in archive parser threads (archive.pool.ts), where
 * a deadline can stop it: a parser stuck on an archive, or a thread that dies
 * on one, fails that archive only ('parse-timeout', 'parse-crashed'), with
 * the same reason every run, and the event loop never waits for a parser.
 */

/** Threads running the real tasks plus a parser gone wrong at `hang-here` / `crash-here` (test-support). */
const misbehavingEntry = { url: new URL('./test-support/misbehaving-archive.worker.ts', import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') };

const LIMITS = { maxEntryNameBytes: 4096, maxCompressionRatio: 1000, compressionRatioMinBytes: 1 << 20 };

async function zipReader(zip: Buffer, pool: DeadlineWorkerPool, budgets: { archiveOpenTimeoutMs?: number; archiveParseStepMs?: number } = {}): Promise<ArchiveReader> {
  const { store, ref } = MemoryBlobSource.of('a.zip', zip);
  return openZipReader(store, ref, { size: zip.length, maxEntryNameBytes: 4096, pool, ...budgets });
}

async function tarReader(tar: Buffer, pool: DeadlineWorkerPool, archiveParseStepMs?: number): Promise<ArchiveReader> {
  const { store, ref } = MemoryBlobSource.of('a.tar', tar);
  return openTarReader(store, ref, { gzip: false, ...LIMITS, pool, ...(archiveParseStepMs !== undefined ? { archiveParseStepMs } : {}) });
}

/** Lists every entry (reading each file member); returns the names seen and how the listing ended. */
async function listAll(reader: ArchiveReader): Promise<{ names: string[]; error: ExhibitError | null }> {
  const names: string[] = [];
  try {
    for await (const entry of reader.entries()) {
      names.push(entry.recordedName);
      if (entry.kind === 'file') for await (const chunk of await entry.open()) void chunk;
    }
    return { names, error: null };
  } catch (err) {
    expect(err).toBeInstanceOf(ExhibitError);
    return { names, error: err as ExhibitError };
  } finally {
    await reader.close();
  }
}

const reason = (error: ExhibitError | null) => (error ? `${error.code}: ${error.message}` : null);

/** Counts turns of the main thread's event loop (a timer firing) while `work` runs. */
async function ticking<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number }> {
  let ticks = 0;
  const interval = setInterval(() => (ticks += 1), 1);
  try {
    return { result: await work(), ticks };
  } finally {
    clearInterval(interval);
  }
}

const file = (name: string) => ({ name, data: Buffer.from(`content of ${name}`) });

describe('archive parser threads: a parser that hangs or dies fails only its archive', { timeout: 120_000 }, () => {
  let pool: DeadlineWorkerPool;
  beforeAll(() => {
    pool = createArchivePool(1, misbehavingEntry);
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('ZIP: a parser stuck between two entries is stopped at the step budget (parse-timeout), the same reason every run; the entries before it were listed; the next archive reads', async () => {
    const zip = await zipOf([file('a.txt'), file('hang-here'), file('c.txt')]);
    const first = await listAll(await zipReader(zip, pool, { archiveParseStepMs: 2000 }));
    expect(first.names).toEqual(['a.txt']);
    expect(reason(first.error)).toBe('parse-timeout: zip reader (entries) did not finish within its 2000 ms budget and was stopped');
    const second = await listAll(await zipReader(zip, pool, { archiveParseStepMs: 2000 }));
    expect(second).toEqual(first);
    // The stuck thread was replaced; the next archive is read in full.
    expect(await listAll(await zipReader(await zipOf([file('x.txt'), file('y.txt')]), pool))).toEqual({ names: ['x.txt', 'y.txt'], error: null });
  });

  it('ZIP: a thread that dies after handing on entries fails the archive with parse-crashed at once (a fresh start would hand them on again)', async () => {
    const zip = await zipOf([file('a.txt'), file('b.txt'), file('crash-here'), file('d.txt')]);
    const started = pool.started;
    const first = await listAll(await zipReader(zip, pool));
    expect(first.names).toEqual(['a.txt', 'b.txt']);
    expect(reason(first.error)).toBe('parse-crashed: zip reader (entries) thread stopped unexpectedly on this file after handing on part of its results');
    // Not run again: one thread died, and the one started after it served the next archive.
    expect(await listAll(await zipReader(await zipOf([file('ok.txt')]), pool))).toEqual({ names: ['ok.txt'], error: null });
    expect(pool.started).toBe(started + 1);
    expect(reason((await listAll(await zipReader(zip, pool))).error)).toBe(reason(first.error));
  });

  it('ZIP: a thread that dies before handing anything on is retried once, then the archive is blamed', async () => {
    const first = await listAll(await zipReader(await zipOf([file('crash-here')]), pool));
    expect(first.names).toEqual([]);
    expect(reason(first.error)).toBe('parse-crashed: zip reader (entries) thread stopped unexpectedly on this file, twice');
  });

  it('TAR: a stuck parser is stopped (parse-timeout) and a dying thread blamed (parse-crashed), the same reasons every run', async () => {
    const hang = await tarOf([file('a.txt'), file('hang-here'), file('c.txt')]);
    const timeouts = [await listAll(await tarReader(hang, pool, 2000)), await listAll(await tarReader(hang, pool, 2000))];
    expect(timeouts[0]!.names).toEqual(['a.txt']);
    expect(reason(timeouts[0]!.error)).toBe('parse-timeout: tar reader did not finish within its 2000 ms budget and was stopped');
    expect(timeouts[1]).toEqual(timeouts[0]);

    const crash = await tarOf([file('a.txt'), file('crash-here')]);
    const crashes = [await listAll(await tarReader(crash, pool)), await listAll(await tarReader(crash, pool))];
    expect(crashes[0]!.names).toEqual(['a.txt']);
    expect(reason(crashes[0]!.error)).toBe('parse-crashed: tar reader thread stopped unexpectedly on this file after handing on part of its results');
    expect(crashes[1]).toEqual(crashes[0]);

    expect(await listAll(await tarReader(await tarOf([file('fine.txt')]), pool))).toEqual({ names: ['fine.txt'], error: null });
  });
});

describe('archive parser threads: a huge central directory', { timeout: 300_000 }, () => {
  const ENTRIES = 60_000;
  let zip: Buffer;
  let pool: DeadlineWorkerPool;
  beforeAll(async () => {
    zip = await zipOf(Array.from({ length: ENTRIES }, (_, i) => ({ name: `d${i}`, directory: true })));
    // The production worker (archive.worker.ts).
    pool = createArchivePool(1);
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
  });

  it('is surveyed and listed in the thread while the main thread\'s event loop keeps turning', async () => {
    const { result: reader, ticks: openTicks } = await ticking(() => zipReader(zip, pool));
    expect(reader.declaredEntries).toBe(ENTRIES);
    // The survey of 60,000 records ran in the thread: a 1-ms timer fired meanwhile (on the event loop it never did).
    expect(openTicks).toBeGreaterThan(0);
    const { result: listed, ticks: listTicks } = await ticking(() => listAll(reader));
    expect(listed.error).toBeNull();
    expect(listed.names).toHaveLength(ENTRIES);
    expect(listTicks).toBeGreaterThan(0);
  });

  it('regression: zip-60000-entry-central-directory-over-a-1-ms-budget — the survey is stopped with parse-timeout, the same reason every run', async () => {
    const errors: unknown[] = [];
    for (let run = 0; run < 2; run += 1) errors.push(await zipReader(zip, pool, { archiveOpenTimeoutMs: 1 }).catch((err: unknown) => err));
    expect(isExhibitError(errors[0], 'parse-timeout')).toBe(true);
    expect((errors[0] as Error).message).toBe('zip reader (end record and central directory) did not finish within its 1 ms budget and was stopped');
    expect((errors[1] as Error).message).toBe((errors[0] as Error).message);
    // With the budget of LIMITS the same archive opens: the budget, not the archive, stopped it.
    expect((await zipReader(zip, pool)).declaredEntries).toBe(ENTRIES);
  });
});
