import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isExhibitError, type ExhibitError } from '@exhibit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { HeicDecoderPool } from './heic.pool.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = readFileSync(path.join(here, 'two-tone-4032x3024.fixture.heic'));
const HEIC_DECODE = createRequire(import.meta.url).resolve('heic-decode');
const MAX_PIXELS = 268_402_689;
/** Room for a real decode on a loaded machine; the stuck file spends all of it. */
const TIMEOUT_MS = 5_000;

/** Decoder threads that misbehave on trigger bytes (test-support/misbehaving-heic.worker.ts) and decode real files as production does. */
function misbehavingPool(size: number): HeicDecoderPool {
  return new HeicDecoderPool(HEIC_DECODE, {
    size,
    entry: { url: new URL('../test-support/misbehaving-heic.worker.ts', import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') },
  });
}

let pool: HeicDecoderPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const reason = (err: unknown) => `${(err as ExhibitError).code}: ${(err as Error).message}`;

describe('HEIC decoder threads on the deadline pool', () => {
  it("a stuck decode fails only its file with 'limit-exceeded', the same reason on every run, while another file decodes beside it", async () => {
    pool = misbehavingPool(2);
    const stuck = Buffer.from('hang, as libheif on a crafted structure');
    const reasons: string[] = [];
    for (let run = 0; run < 2; run++) {
      const [failed, decoded] = await Promise.all([
        pool.decode(stuck, { maxPixels: MAX_PIXELS, timeoutMs: TIMEOUT_MS }).catch((err: unknown) => err),
        pool.decode(FIXTURE, { maxPixels: MAX_PIXELS, timeoutMs: 60_000 }),
      ]);
      expect(isExhibitError(failed, 'limit-exceeded')).toBe(true);
      reasons.push(reason(failed));
      expect([decoded.width, decoded.height]).toEqual([4032, 3024]);
    }
    expect(reasons).toEqual([`limit-exceeded: HEIF decoding took longer than ${TIMEOUT_MS} ms and was stopped`, reasons[0]]);
  });

  it("a decode that kills its thread fails only its file with 'decode-failed', the same reason on every run, and the next file decodes", async () => {
    pool = misbehavingPool(1);
    const crash = Buffer.from('crash, as libheif aborting');
    const reasons: string[] = [];
    for (let run = 0; run < 2; run++) {
      const err = await pool.decode(crash, { maxPixels: MAX_PIXELS, timeoutMs: 60_000 }).catch((e: unknown) => e);
      expect(isExhibitError(err, 'decode-failed')).toBe(true);
      reasons.push(reason(err));
      const next = await pool.decode(FIXTURE, { maxPixels: MAX_PIXELS, timeoutMs: 60_000 });
      expect([next.width, next.height]).toEqual([4032, 3024]);
    }
    expect(reasons).toEqual(['decode-failed: HEIF decoder thread died on this file 2 times (stopped unexpectedly)', reasons[0]]);
  });
});
