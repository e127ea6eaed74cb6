import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { isExhibitError } from '@exhibit/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeicDecoderPool } from './heic.pool.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = readFileSync(path.join(here, 'two-tone-4032x3024.fixture.heic'));
const HEIC_DECODE = createRequire(import.meta.url).resolve('heic-decode');
const OPTIONS = { maxPixels: 268_402_689, timeoutMs: 60_000 };

let pool: HeicDecoderPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Waits until the pool's one thread is decoding, other than `previous`, and stops it from outside as a crash would. */
async function killDecodingThread(p: HeicDecoderPool, previous?: Worker): Promise<Worker> {
  let worker: Worker | undefined;
  await vi.waitFor(
    () => {
      worker = p.decodingWorkers()[0];
      expect(worker && worker !== previous).toBe(true);
    },
    { timeout: 15_000, interval: 5 },
  );
  await worker!.terminate();
  return worker!;
}

describe('HeicDecoderPool', () => {
  it('retries a file in a fresh thread when its thread dies once', async () => {
    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1 });
    const decoding = pool.decode(FIXTURE, OPTIONS);
    await killDecodingThread(pool);
    const raw = await decoding;
    expect([raw.width, raw.height]).toEqual([4032, 3024]);
  });

  it("blames the file with 'decode-failed' when the thread dies on it twice, and decodes the next file", async () => {
    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1 });
    const decoding = pool.decode(FIXTURE, OPTIONS).catch((err: unknown) => err);
    const first = await killDecodingThread(pool);
    await killDecodingThread(pool, first);
    const err = await decoding;
    expect(isExhibitError(err, 'decode-failed')).toBe(true);
    expect((err as Error).message).toMatch(/^HEIF decoder thread died on this file 2 times/);

    const next = await pool.decode(FIXTURE, OPTIONS);
    expect([next.width, next.height]).toEqual([4032, 3024]);
  });

  it('decodes queued files one after another when there are more files than threads', async () => {
    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1 });
    const results = await Promise.all([pool.decode(FIXTURE, OPTIONS), pool.decode(FIXTURE, OPTIONS), pool.decode(FIXTURE, OPTIONS)]);
    expect(results.map((r) => r.data.length)).toEqual([4032 * 3024 * 4, 4032 * 3024 * 4, 4032 * 3024 * 4]);
  });

  it('drops a queued file that is aborted before a thread takes it', async () => {
    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1 });
    const controller = new AbortController();
    const running = pool.decode(FIXTURE, OPTIONS);
    const queued = pool.decode(FIXTURE, { ...OPTIONS, abortSignal: controller.signal }).catch((err: unknown) => err);
    controller.abort();
    expect(isExhibitError(await queued, 'aborted')).toBe(true);
    expect((await running).width).toBe(4032);
  });

  it('keeps a thread for the next file, unless it decoded more than keepMaxPixels', async () => {
    const threadsOfTwoDecodes = async (p: HeicDecoderPool): Promise<Worker[]> => {
      const threads: Worker[] = [];
      for (let i = 0; i < 2; i++) {
        const decoding = p.decode(FIXTURE, OPTIONS);
        await vi.waitFor(() => expect(p.decodingWorkers()).toHaveLength(1), { timeout: 15_000, interval: 5 });
        threads.push(p.decodingWorkers()[0]!);
        await decoding;
      }
      return threads;
    };
    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1 });
    const [kept, keptAgain] = await threadsOfTwoDecodes(pool);
    expect(keptAgain).toBe(kept);
    await pool.close();

    pool = new HeicDecoderPool(HEIC_DECODE, { size: 1, keepMaxPixels: 4032 * 3024 - 1 });
    const [replaced, fresh] = await threadsOfTwoDecodes(pool);
    expect(fresh).not.toBe(replaced);
  });

  it("fails with 'tool-unavailable' (retryable) when heic-decode cannot be loaded", async () => {
    pool = new HeicDecoderPool(path.join(here, 'no-such-heic-decode.js'), { size: 1 });
    const err = await pool.decode(FIXTURE, OPTIONS).catch((e: unknown) => e);
    expect(isExhibitError(err, 'tool-unavailable')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
  });
});
