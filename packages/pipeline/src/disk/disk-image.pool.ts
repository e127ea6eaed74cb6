import os from 'node:os';
import { LIMITS } from '@exhibit/core';
import { DeadlineWorkerPool, type WorkerEntry } from '@exhibit/media/deadline-pool';

/**
 * The process's disk parser threads (disk-image.worker.ts): every disk-image
 * container, volume system and file system is read there, on a deadline and
 * a heap limit (the media package's DeadlineWorkerPool), so a crafted image
 * that makes a reader loop or grow fails only itself.
 */

// Kept in variables: functions/scripts/build.mjs rewrites a URL built from a
// relative literal and import.meta.url into a copied asset, and neither file is one.
const WORKER_TS = './disk-image.worker.ts';
const WORKER_JS = './disk-image.worker.js';

/**
 * From TypeScript sources (tsx, vitest) the worker is the .ts file beside this
 * one, run through tsx's loader; in the Functions bundle build.mjs emits it as
 * its own entry, disk-image.worker.js, beside main.js.
 */
export function diskWorkerEntry(): WorkerEntry {
  if (import.meta.url.endsWith('.ts')) {
    return { url: new URL(WORKER_TS, import.meta.url), tsxApi: import.meta.resolve('tsx/esm/api') };
  }
  return { url: new URL(WORKER_JS, import.meta.url) };
}

export function createDiskPool(size: number = Math.min(LIMITS.diskParseThreads, Math.max(2, os.availableParallelism()))): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: diskWorkerEntry(),
    size,
    resourceLimits: { maxOldGenerationSizeMb: LIMITS.diskParseThreadHeapMb, stackSizeMb: 4 },
    startTimeoutMs: 60_000,
  });
}

let shared: DeadlineWorkerPool | undefined;

/** The shared disk parser threads, started on first use (idle threads are unref'd). */
export function diskPool(): DeadlineWorkerPool {
  shared ??= createDiskPool();
  return shared;
}

/** Stops the shared disk parser threads (tests). */
export async function closeDiskPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  if (pool) await pool.close();
}
