import {
  ExhibitError,
  isExhibitError,
  isRetryable,
  LIMITS,
  PIPELINE_ACTOR,
  type BlobStore,
  type CustodyRecorder,
  type IndexStore,
  type Logger,
  type PdqFrameHash,
  type Thumbnail,
  type Thumbnailer,
} from '@exhibit/core';
import { blobSource } from './file-source.js';
import { knownFileMatchEntry } from './known-files.js';

/**
 * The PDQ backfill (docs/pdq.md, "Backfill"): contents thumbnailed before PDQ
 * existed get their PDQ hashes. Never from the stored thumbnail (its pixels
 * are resized, turned upright and recompressed: a hash of them would not match
 * partner agencies'), so each content's original bytes are read again and
 * decoded the reference's way, through the same thumbnailer the pipeline uses
 * (a picture: one full read and two decodes; a video: the contact sheet's
 * ffmpeg run again). The thumbnail it makes is discarded: the stored one stands.
 *
 * Idempotent and resumable: a content is tried once (its hashes, or why there
 * are none, are recorded with the attempt in one transaction), in SHA-256
 * order; a stopped run leaves the rest as candidates for the next. Each file
 * of a content gets a `pdq-backfill` custody entry (event key per file, written
 * before the attempt is recorded, so a repeat adds none), and the content is
 * matched against the enabled PDQ lists as the index stage would have.
 */
export interface PdqBackfillDeps {
  index: IndexStore;
  blobs: BlobStore;
  thumbnailer: Thumbnailer;
  custody: CustodyRecorder;
  pipelineVersion: string;
  logger: Logger;
}

export interface PdqBackfillProgress {
  tried: number;
  hashed: number;
  failed: number;
  /** Candidates when the run started. */
  total: number;
}

/** Contents read per query of the work list. */
const BACKFILL_BATCH = 100;
/** Custody entries per content at most (one per file; a content in more files than this is logged). */
const BACKFILL_FILES_PER_CONTENT = 10_000;

export async function runPdqBackfill(
  deps: PdqBackfillDeps,
  options: { abortSignal?: AbortSignal; onProgress?: (p: PdqBackfillProgress) => void; maxContents?: number } = {},
): Promise<PdqBackfillProgress> {
  const progress: PdqBackfillProgress = { tried: 0, hashed: 0, failed: 0, total: await deps.index.pdqBackfillPending() };
  options.onProgress?.({ ...progress });
  let after: string | null = null;
  for (;;) {
    const batch = await deps.index.pdqBackfillCandidates({ after, limit: BACKFILL_BATCH });
    if (batch.length === 0) break;
    for (const sha256 of batch) {
      if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'PDQ backfill stopped; run it again to carry on');
      if (options.maxContents !== undefined && progress.tried >= options.maxContents) return progress;
      const result = await backfillOne(deps, sha256, options.abortSignal);
      progress.tried += 1;
      if ('pdq' in result) progress.hashed += 1;
      else progress.failed += 1;
      options.onProgress?.({ ...progress });
    }
    after = batch[batch.length - 1] ?? null;
  }
  return progress;
}

async function backfillOne(deps: PdqBackfillDeps, sha256: string, abortSignal: AbortSignal | undefined): Promise<{ pdq: PdqFrameHash[] } | { failure: string }> {
  const content = await deps.index.getContent(sha256);
  if (!content || (content.kind !== 'image' && content.kind !== 'video')) {
    const failure = 'not a picture or a video in the index';
    await deps.index.recordPdqBackfill(sha256, { failure });
    return { failure };
  }
  const kind = content.kind;
  const result = await hashContent(deps, content, kind, abortSignal);
  const tools = [...(await deps.thumbnailer.tools(kind)), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
  const files = await deps.index.filesOfContent(sha256, BACKFILL_FILES_PER_CONTENT);
  if (files.length === BACKFILL_FILES_PER_CONTENT) deps.logger.warn({ sha256 }, `content in more than ${BACKFILL_FILES_PER_CONTENT} files: custody entries for the first only`);
  for (const f of files) {
    await deps.custody.record(
      {
        caseId: f.caseId,
        evidenceId: f.evidenceId,
        action: 'pdq-backfill',
        actor: PIPELINE_ACTOR,
        subject: { fileId: f.fileId, sha256 },
        details: {
          // What was read: the original bytes, never the stored thumbnail.
          read: 'original',
          sizeBytes: content.size,
          ...('pdq' in result ? { pdq: result.pdq } : { failure: result.failure }),
        },
        tools,
        eventKey: `pdq-backfill:${f.fileId}`,
      },
      abortSignal ? { abortSignal } : undefined,
    );
  }
  await deps.index.recordPdqBackfill(sha256, result);
  if ('pdq' in result && result.pdq.length > 0 && files.length > 0) {
    // As the index stage does: the new hashes are matched against the enabled PDQ lists.
    const byFile = await deps.index.matchFilesAgainstHashSets(files.map((f) => f.fileId));
    for (const f of files) {
      for (const m of byFile.get(f.fileId) ?? []) if (m.kind !== 'known-good') await deps.custody.record(knownFileMatchEntry(f, m, deps.pipelineVersion));
    }
  }
  return result;
}

/** The content's PDQ hashes from its original bytes, under the stage deadline; a file that fails gets its reason. */
async function hashContent(
  deps: PdqBackfillDeps,
  content: NonNullable<Awaited<ReturnType<IndexStore['getContent']>>>,
  kind: 'image' | 'video',
  abortSignal: AbortSignal | undefined,
): Promise<{ pdq: PdqFrameHash[] } | { failure: string }> {
  const deadline = AbortSignal.timeout(LIMITS.stageDeadlineMs);
  const signal = abortSignal ? AbortSignal.any([abortSignal, deadline]) : deadline;
  const source = blobSource(deps.blobs, content.source, content.sha256, content.size);
  let thumb: Thumbnail;
  try {
    thumb = kind === 'image'
      ? await deps.thumbnailer.image(source, { mime: content.mime, abortSignal: signal })
      : await deps.thumbnailer.video(source, {
          ...(content.metadata?.durationSec !== undefined ? { durationSec: content.metadata.durationSec } : {}),
          ...(content.metadata?.videoStream ? { videoStream: content.metadata.videoStream } : {}),
          abortSignal: signal,
        });
  } catch (err) {
    // Stopped by the caller, or storage unavailable: nothing is recorded, the next run tries again.
    if (abortSignal?.aborted || isRetryable(err)) throw err;
    // Out of time says how busy this host was, not what the file is: nothing is recorded (no custody either), the next run tries again.
    if (deadline.aborted) throw new ExhibitError('timeout', `PDQ backfill of ${content.sha256}: not hashed within the stage deadline (${LIMITS.stageDeadlineMs} ms); run it again`, { cause: err });
    if (isExhibitError(err)) return { failure: `${err.code}: ${err.message}` };
    throw err;
  }
  if (thumb.pdq && thumb.pdq.length > 0) return { pdq: thumb.pdq };
  return { failure: thumb.pdqFailure ?? 'no PDQ hash' };
}
