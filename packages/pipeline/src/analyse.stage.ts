import { done, skipped, type FileMessage, type StageName, type StageOutcome } from '@exhibit/core';
import { blobSource } from './file-source.js';
import { isPast, loadFile, type LoadedFile } from './file-stage.js';
import { identifyStep } from './identify.step.js';
import { metadataStep } from './metadata.step.js';
import { ReadOnceSource } from './read-once-source.js';
import { only, type Stage, type StageContext, type StageDeps, type StageResult } from './stage.js';
import { describes, isMedia } from './stage-graph.js';
import { StepWrites } from './step-writes.js';
import { thumbnailStep } from './thumbnail.step.js';

/**
 * Everything about one file's bytes, from one read of them: identify, then,
 * for images and videos, metadata and thumbnail, for audio its metadata
 * (the kind's steps: stage-graph.ts), in one message. The file is
 * loaded from the index once, and the steps' results with the occurrence's
 * move are written once, in one statement, when they are over (StepWrites:
 * a photo's three writes were most of the index's work per file). A crash
 * before that write is resumed at identify; a retryable fault of a step
 * first writes what the steps before it found, so its retry resumes there.
 * A message delivered again (its last attempt may have died in a step)
 * writes after each step, as every attempt did before: a file that kills
 * its process in its thumbnail step is then resumed there, and dead-lettered
 * in that step, not in identify. A failure keeps the step's own name and
 * reason (status, API and CLI show them as before).
 *
 * The bytes come through a ReadOnceSource: identify's head and tail reads are
 * kept, an image is then fetched whole (only the ranges not read yet), and
 * the metadata parser and the thumbnailer read that memory. The parsers
 * themselves still run in the media adapters' deadline-killable workers.
 */
export const analyseStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const first = await loadFile(deps, message, ctx);
  if (first === 'missing') return only(skipped('unknown-subject'));
  if (first === 'failed') return only(skipped('already-done'));
  let loaded: LoadedFile = first;
  const cached = takeMemberBytes(deps, loaded);
  const input = new ReadOnceSource(blobSource(deps.blobs, loaded.source, loaded.file.name, loaded.content.size), {
    maxWholeBytes: deps.limits.analyseWholeReadBytes,
    whole: cached,
  });
  const steps: Partial<Record<StageName, StageOutcome>> = {};
  const writes = new StepWrites(loaded.content.sha256, loaded.file.fileId);
  // Delivered again: the last attempt may have died in a step (the process, not a fault the stage saw), so each
  // step's result is kept as it comes, and a next death resumes after it (and is dead-lettered in its own step).
  const afterStep = ctx.deliveryCount > 1 ? () => writes.flush(deps.index) : async () => {};

  try {
    const identified = await identifyStep(deps, loaded, input, ctx, writes);
    steps.identify = identified.outcome;
    loaded = identified.loaded;
    await afterStep();
    if (loaded.file.stage !== 'failed' && describes(loaded.content.kind)) {
      // Images are read whole once for metadata and thumbnail; a video's or audio file's tools read it by URL.
      if (loaded.content.kind === 'image' && needsBytes(loaded)) await input.loadWhole({ ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}) });
      const described = await metadataStep(deps, loaded, input, ctx, writes);
      steps.metadata = described.outcome;
      loaded = described.loaded;
      await afterStep();
      // Audio has no picture: its chain goes from its metadata to the index (stage-graph.ts, ANALYSE_STEPS).
      if (isMedia(loaded.content.kind)) {
        const thumbnailed = await thumbnailStep(deps, loaded, input, ctx, writes);
        steps.thumbnail = thumbnailed.outcome;
        loaded = thumbnailed.loaded;
      }
    }
  } catch (err) {
    await keepEarlierSteps(deps, writes, ctx);
    throw err;
  }
  await writes.flush(deps.index);
  if (input.fetches > 0 || deps.memberBytes) {
    // Only members are offered to the cache (by their unpack): an upload is never a miss.
    const memberCache = deps.memberBytes && loaded.file.parentId !== null ? { memberCache: cached ? 'hit' : 'miss' } : {};
    ctx.logger.debug({ bytesFetched: input.bytesFetched, fetches: input.fetches, size: input.size, ...memberCache }, 'analysed from one read');
  }

  const outcome = overall(steps, loaded);
  if (loaded.file.stage === 'failed') return { outcome, steps };
  return {
    outcome,
    steps,
    forward: { file: message, facts: { kind: loaded.content.kind, unpack: loaded.file.unpack } },
  };
};

/**
 * A step threw a retryable fault (storage, a tool, the deadline): what the
 * steps before it found is written, so the retry does not do them again (as
 * when each step wrote its own). A failure of this write is logged, not
 * thrown: the fault the stage throws is the step's, and the retry redoes the
 * steps whose results were not written.
 */
async function keepEarlierSteps(deps: StageDeps, writes: StepWrites, ctx: StageContext): Promise<void> {
  try {
    await writes.flush(deps.index);
  } catch (err) {
    ctx.logger.warn({ err: (err as Error).message }, 'results of the steps before a fault not written; the retry does them again');
  }
}

/**
 * The file's bytes from the member-bytes cache, when this process's unpack just
 * read them (taken out: an entry serves one analyse). Asked under this
 * occurrence's own span (where unpack read it; a duplicate's content names the
 * first occurrence's) and the SHA-256 the index records, so they are the
 * file's bytes or nothing. Taken even when no step will need them (content
 * already analysed for another occurrence), to give their room back.
 */
function takeMemberBytes(deps: StageDeps, loaded: LoadedFile): Buffer | null {
  if (!deps.memberBytes || !loaded.file.source || loaded.file.parentId === null) return null;
  const { container, name, offset } = loaded.file.source;
  return deps.memberBytes.take({ container, name, offset: offset ?? 0, length: loaded.content.size, sha256: loaded.content.sha256 });
}

/** Whether metadata or thumbnail will read the bytes (not when both were analysed for another occurrence). */
function needsBytes(loaded: LoadedFile): boolean {
  if (isPast(loaded.file, 'thumbnailed')) return false;
  return loaded.content.metadataStatus === 'pending' || loaded.content.thumbnailStatus === 'pending';
}

/**
 * One outcome for the message: the failure that ended the file's chain, else
 * 'done' when any step did work (a metadata failure is work done: the file
 * goes on), else the last step's skip (already-done on a redelivery).
 */
function overall(steps: Partial<Record<StageName, StageOutcome>>, loaded: LoadedFile): StageOutcome {
  const ran = (['identify', 'metadata', 'thumbnail'] as const).map((s) => steps[s]).filter((o): o is StageOutcome => o !== undefined);
  if (loaded.file.stage === 'failed') {
    const failure = ran.find((o) => o.status === 'failed' && o.code === loaded.file.failure?.code) ?? ran.findLast((o) => o.status === 'failed');
    if (failure) return failure;
  }
  if (ran.some((o) => o.status === 'done' || o.status === 'failed')) {
    const summary: Record<string, unknown> = {};
    for (const [step, o] of Object.entries(steps)) summary[step] = o.status === 'done' ? (o.summary ?? 'done') : o.status === 'skipped' ? o.reason : o.code;
    return done(summary);
  }
  return ran.at(-1) ?? skipped('already-done');
}

