import os from 'node:os';
import { LIMITS } from '@exhibit/core';
import { DeadlineWorkerPool, workerEntryBeside, type WorkerEntry } from '@exhibit/core/deadline-pool';

/**
 * The process's archive parser threads (archive.worker.ts): every ZIP, TAR
 * and TAR.GZ is listed and its members decoded there, on a deadline and a
 * heap limit (the media package's DeadlineWorkerPool), so an archive that
 * makes yauzl, tar-stream or zlib loop or grow fails only itself.
 */

/** The archive parser thread's module, archive.worker.ts (dist/archive.worker.js in the Functions bundle). */
export function archiveWorkerEntry(): WorkerEntry {
  return workerEntryBeside(import.meta.url, 'archive.worker');
}

export function createArchivePool(
  size: number = Math.min(LIMITS.archiveParseThreads, Math.max(2, os.availableParallelism())),
  entry: WorkerEntry = archiveWorkerEntry(),
): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry,
    size,
    resourceLimits: { maxOldGenerationSizeMb: LIMITS.archiveParseThreadHeapMb, maxYoungGenerationSizeMb: LIMITS.parseThreadYoungHeapMb, stackSizeMb: 4 },
    startTimeoutMs: 60_000,
  });
}

let shared: DeadlineWorkerPool | undefined;

/** The shared archive parser threads, started on first use (idle threads are unref'd). */
export function archivePool(): DeadlineWorkerPool {
  shared ??= createArchivePool();
  return shared;
}

/** Stops the shared archive parser threads (tests). */
export async function closeArchivePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  if (pool) await pool.close();
}
