import { randomBytes } from 'node:crypto';
import { errorMessage, invocationLogger, isExhibitError, isRetryable, type BlobRef, type BlobStore, type QueueName } from '@exhibit/core';
import { queuesAwaited, recordCompletionIfDone, recordDeadLetter, redrive, sendWork, type StageContext } from '@exhibit/pipeline';
import { createWatchdogStore, type StalledFile } from '@exhibit/index';
import type { App } from './app.js';
import type { Invocation } from './function-table.types.js';

export interface WatchdogOptions {
  /** No progress for this long (the file, and its evidence item as a whole) is a stall. */
  stallMs: number;
  /** Re-drives without progress before the work is failed as `stuck`. */
  maxRedrives: number;
  /** Stalled files handled per pass. */
  batch?: number;
  /** Thumbnails recorded as done whose blob is checked per pass. */
  thumbnailSample?: number;
}

export interface WatchdogResult {
  stalled: number;
  redriven: number;
  stuck: number;
  thumbnailsChecked: number;
  thumbnailsMissing: number;
}

/**
 * Where the thumbnail check goes on from. Per process: in Azure a new instance
 * starts at a random point instead, so passes sample the whole table over time.
 */
let thumbnailCursor: string | undefined;

/** The queues a stalled file is waiting on: what its state says comes next (the stage graph decides). */
export function queuesFor(file: StalledFile): QueueName[] {
  return queuesAwaited({ stage: file.stage, unpack: file.unpack, hashPending: file.upload?.hashPending ?? false, hashMoving: file.upload?.hashMoving ?? false });
}

/**
 * The watchdog: no work may wait for good. Work lost with a crash of storage
 * (its last queue messages, its last blob writes) or held by a stage that
 * never returns is found here, by age: a file (or an archive's unpack) that
 * has not moved for `stallMs`, in an evidence item where nothing has moved
 * for as long (so a long queue is not mistaken for a stall). Its stage
 * message is sent again (every stage is idempotent) and the re-drive counted;
 * after `maxRedrives` re-drives without a move it is failed with code
 * `stuck` and the stage it waited on, visible in status, API and CLI, and
 * recorded in custody, so the evidence item can complete.
 *
 * It also checks, a bounded sample per pass, that thumbnails the index
 * records as made exist in storage; one that does not is re-driven through
 * its analyse, whose thumbnail step makes it again.
 */
export async function watchdog(app: App, inv: Invocation, options: WatchdogOptions): Promise<WatchdogResult> {
  const logger = invocationLogger(inv.logger, { stage: 'watchdog', invocationId: inv.invocationId });
  const store = createWatchdogStore(app.sql);
  const deps = app.stageDeps;
  const ctx: StageContext = { logger, messageId: `watchdog:${inv.invocationId}`, deliveryCount: 0, ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}) };
  const result: WatchdogResult = { stalled: 0, redriven: 0, stuck: 0, thumbnailsChecked: 0, thumbnailsMissing: 0 };

  const stalled = await store.listStalledFiles({ stallMs: options.stallMs, limit: options.batch ?? 200 });
  result.stalled = stalled.length;
  const redriven: string[] = [];
  for (const file of stalled) {
    const queues = queuesFor(file);
    const ref = { caseId: file.caseId, evidenceId: file.evidenceId, fileId: file.fileId };
    try {
      if (file.redrives >= options.maxRedrives) {
        const description = `no progress since ${file.movedAt} (stage ${file.stage}${file.unpack === 'pending' ? ', unpack pending' : ''}) after ${file.redrives} re-drive${file.redrives === 1 ? '' : 's'} ${Math.round(options.stallMs / 1000)} s apart`;
        for (const queue of queues.length > 0 ? queues : (['index'] as QueueName[])) {
          const body = queue === 'hash' && file.upload ? { ...ref, blobName: file.upload.blobName } : ref;
          await recordDeadLetter(deps, queue, { body, messageId: `watchdog:${file.fileId}`, reason: 'stuck', description }, ctx, { code: 'stuck' });
        }
        // A pass may complete many evidence items: their summaries are left to the reads, not a refresh budget each.
        await recordCompletionIfDone(deps, ref, ctx, { reviewSummary: false });
        result.stuck += 1;
        logger.error({ fileId: file.fileId, caseId: file.caseId, evidenceId: file.evidenceId, queues, redrives: file.redrives }, 'work stuck; failed it with code stuck');
        continue;
      }
      // Named by the re-drive it will be counted as and the file's last move: a pass that repeats this one (cut short, or
      // its count lost) sends the same ids, dropped as repeats; the next re-drive, or one after a move, sends new ones.
      await redrive(deps, { ...ref, ...(file.upload ? { blobName: file.upload.blobName } : {}) }, queues, {
        count: file.redrives + 1,
        movedAtMs: Date.parse(file.movedAt),
      });
      redriven.push(file.fileId);
      logger.warn({ fileId: file.fileId, caseId: file.caseId, evidenceId: file.evidenceId, stage: file.stage, unpack: file.unpack, queues, since: file.updatedAt, redrive: file.redrives + 1 }, 'work stalled; re-sent its stage message');
    } catch (err) {
      // Storage or bus down: the next pass tries again; nothing is counted.
      logger.warn({ fileId: file.fileId, err: errorMessage(err) }, 'could not re-drive stalled work; next pass retries');
    }
  }
  await store.markRedriven(redriven);
  result.redriven = redriven.length;

  const sample = options.thumbnailSample ?? 100;
  if (sample > 0) {
    const after = thumbnailCursor ?? randomBytes(32).toString('hex');
    let page = await store.listDoneThumbnails({ after, limit: sample });
    if (page.length < sample && after !== '') page = [...page, ...(await store.listDoneThumbnails({ after: '', limit: sample - page.length }))];
    const seen = new Set<string>();
    for (const thumb of page) {
      if (seen.has(thumb.sha256)) continue;
      seen.add(thumb.sha256);
      result.thumbnailsChecked += 1;
      thumbnailCursor = thumb.sha256;
      const state = await derivedBlobState(deps.blobs, thumb.blob);
      if (state === 'readable') continue;
      result.thumbnailsMissing += 1;
      if (!thumb.file) continue;
      // A record without its data is removed (a derived blob, made again from the evidence), so analyse sees it missing.
      if (state === 'unreadable') await deps.blobs.delete(thumb.blob);
      logger.warn({ sha256: thumb.sha256, blob: thumb.blob.name, fileId: thumb.file.fileId, state }, 'thumbnail recorded as done is missing or unreadable; re-driving its analyse');
      // analyse finds the file past its thumbnail and makes the missing blob again (thumbnail.step.ts).
      await sendWork(deps, 'analyse', [thumb.file]);
    }
    if (page.length < sample) thumbnailCursor = '';
  }
  if (result.stalled > 0 || result.thumbnailsMissing > 0) logger.info({ ...result }, 'watchdog pass');
  return result;
}

/**
 * Whether a derived blob the index records can be read: 'missing' when storage
 * says it is not there, 'unreadable' when it is listed but its first bytes
 * cannot be read while storage answers (Azurite killed mid-write can keep a
 * blob's record without its data). Storage that does not answer throws.
 */
export async function derivedBlobState(blobs: BlobStore, ref: BlobRef, abortSignal?: AbortSignal): Promise<'readable' | 'missing' | 'unreadable'> {
  const signal = abortSignal ? { abortSignal } : {};
  try {
    await blobs.readRange(ref, 0, 2, signal);
    return 'readable';
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return 'missing';
    if (!isRetryable(err)) throw err;
    // Listed, yet its bytes cannot be read: lost data. If storage is down, this throws as well.
    return (await blobs.exists(ref, signal)) ? 'unreadable' : 'missing';
  }
}
