import os from 'node:os';
import { LIMITS } from '@exhibit/core';
import { DeadlineWorkerPool, workerEntryBeside, type WorkerEntry } from '@exhibit/core/deadline-pool';

/**
 * The process's disk parser threads (disk-image.worker.ts): every disk-image
 * container, volume system and file system is read there, on a deadline and
 * a heap limit (the media package's DeadlineWorkerPool), so a crafted image
 * that makes a reader loop or grow fails only itself.
 */

/** The disk parser thread's module, disk-image.worker.ts (dist/disk-image.worker.js in the Functions bundle). */
export function diskWorkerEntry(): WorkerEntry {
  return workerEntryBeside(import.meta.url, 'disk-image.worker');
}

export function createDiskPool(size: number = Math.min(LIMITS.diskParseThreads, Math.max(2, os.availableParallelism()))): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: diskWorkerEntry(),
    size,
    resourceLimits: { maxOldGenerationSizeMb: LIMITS.diskParseThreadHeapMb, maxYoungGenerationSizeMb: LIMITS.parseThreadYoungHeapMb, stackSizeMb: 4 },
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
