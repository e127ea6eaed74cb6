import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isExhibitError } from '@exhibit/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeHeic } from './heic.decoder.js';
import { closeHeicDecoderPool, heicDecoderPool } from './heic.pool.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');

/**
 * 4032x3024 (an iPhone's 12 MP), left half rgb(200,30,30), right half
 * rgb(30,30,200); `heif-enc -q 10` (libheif 1.15.1, x265 3.5) of a PNG made by
 * sharp. Committed because CI has no HEVC encoder; flat colour keeps it at 3 KB
 * while the decode still does the work of a full-size photo.
 */
const FIXTURE = readFileSync(path.join(here, 'two-tone-4032x3024.fixture.heic'));
const WIDTH = 4032;
const HEIGHT = 3024;
const MAX_PIXELS = 268_402_689;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

function pixel(data: Buffer, x: number, y: number): number[] {
  const i = (y * WIDTH + x) * 4;
  return [...data.subarray(i, i + 4)];
}

afterAll(() => closeHeicDecoderPool());

describe('decodeHeic', () => {
  it('decodes the first image to upright RGBA of the full size', async () => {
    const raw = await decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS });
    expect([raw.width, raw.height]).toEqual([WIDTH, HEIGHT]);
    expect(raw.data.length).toBe(WIDTH * HEIGHT * 4);
    for (const [x, y] of [[10, 10], [WIDTH / 4, HEIGHT / 2], [WIDTH / 2 - 20, HEIGHT - 10]] as const) {
      const [r, g, b, a] = pixel(raw.data, x, y);
      expect([Math.abs(r! - 200) < 12, Math.abs(g! - 30) < 12, Math.abs(b! - 30) < 12, a]).toEqual([true, true, true, 255]);
    }
    for (const [x, y] of [[WIDTH - 10, 10], [(WIDTH * 3) / 4, HEIGHT / 2], [WIDTH / 2 + 20, HEIGHT - 10]] as const) {
      const [r, g, b, a] = pixel(raw.data, x, y);
      expect([Math.abs(r! - 30) < 12, Math.abs(g! - 30) < 12, Math.abs(b! - 200) < 12, a]).toEqual([true, true, true, 255]);
    }
    // The caller's bytes are not moved to the thread: the thumbnail falls back on them.
    expect(FIXTURE.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it("fails with 'limit-exceeded' when the container's dimensions exceed maxPixels", async () => {
    const err = await failure(decodeHeic(FIXTURE, { maxPixels: WIDTH * HEIGHT - 1 }));
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect((err as Error).message).toBe(`HEIF image is ${WIDTH}x${HEIGHT} pixels, more than the ${WIDTH * HEIGHT - 1} allowed`);
  });

  it("fails with 'decode-failed' for an unreadable container and for missing image data", async () => {
    const garbage = Buffer.concat([FIXTURE.subarray(0, 32), Buffer.alloc(2000, 0x5a)]);
    const unreadable = await failure(decodeHeic(garbage, { maxPixels: MAX_PIXELS }));
    expect(isExhibitError(unreadable, 'decode-failed')).toBe(true);
    expect((unreadable as Error).message).toMatch(/^HEIF container unreadable: /);

    const truncated = await failure(decodeHeic(FIXTURE.subarray(0, 400), { maxPixels: MAX_PIXELS }));
    expect(isExhibitError(truncated, 'decode-failed')).toBe(true);
    expect((truncated as Error).message).toMatch(/^HEIF image data could not be decoded: /);
  });

  it('decodes two files at once on two threads', async () => {
    const threads = Math.min(2, os.availableParallelism());
    const both = Promise.all([decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS }), decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS })]);
    // Asserted on the assignment, not by polling for both decodes at once: under load the
    // first decode could finish before the second thread had loaded (a flaky failure once).
    const busy = heicDecoderPool().busyWorkers();
    expect(busy).toHaveLength(threads);
    expect(new Set(busy).size).toBe(threads);
    const [a, b] = await both;
    expect(a.data.equals(b.data)).toBe(true);
  });

  it('leaves the event loop free while it decodes', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      await decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS });
    } finally {
      clearInterval(ticker);
    }
    // On the main thread the decode is one synchronous block of a few hundred ms: at most one tick.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('rejects at once when aborted mid-decode, and the pool decodes again afterwards', async () => {
    const controller = new AbortController();
    const decoding = decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS, abortSignal: controller.signal }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(heicDecoderPool().decodingWorkers()).toHaveLength(1), { timeout: 15_000, interval: 5 });
    controller.abort();
    // Settled before the next turn of the event loop: nothing waits for libheif to finish.
    const settled = await Promise.race([decoding, new Promise((resolve) => setImmediate(() => resolve('still running')))]);
    expect(isExhibitError(settled, 'aborted')).toBe(true);
    expect(heicDecoderPool().decodingWorkers()).toHaveLength(0);

    const again = await decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS });
    expect([again.width, again.height]).toEqual([WIDTH, HEIGHT]);
  });

  it('does not start when already aborted', async () => {
    const err = await failure(decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS, abortSignal: AbortSignal.abort() }));
    expect(isExhibitError(err, 'aborted')).toBe(true);
  });

  it("stops a decode that exceeds its timeout with 'limit-exceeded', and the pool decodes again afterwards", async () => {
    const err = await failure(decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS, timeoutMs: 1 }));
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect((err as Error).message).toBe('HEIF decoding took longer than 1 ms and was stopped');

    const again = await decodeHeic(FIXTURE, { maxPixels: MAX_PIXELS });
    expect([again.width, again.height]).toEqual([WIDTH, HEIGHT]);
  });

  it('neither keeps a process alive when idle nor lets it exit while decoding', async () => {
    // A fresh process whose only pending work is the decode: it must print the
    // result (the busy thread kept it alive) and then exit by itself (the idle
    // thread did not). A hang is cut by the timeout and fails the test.
    const script = [
      `import { readFileSync } from 'node:fs';`,
      `import { decodeHeic } from ${JSON.stringify(path.join(here, 'heic.decoder.ts'))};`,
      `decodeHeic(readFileSync(${JSON.stringify(path.join(here, 'two-tone-4032x3024.fixture.heic'))}), { maxPixels: ${MAX_PIXELS} })`,
      `  .then((raw) => console.log('decoded', raw.width, raw.height));`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      timeout: 15_000,
    });
    expect(stdout.trim()).toBe(`decoded ${WIDTH} ${HEIGHT}`);
  });
});
