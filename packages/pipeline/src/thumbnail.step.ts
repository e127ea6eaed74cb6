import { createHash } from 'node:crypto';
import {
  derivedNames,
  done,
  ExhibitError,
  failed,
  skipped,
  type BlobRef,
  type ContentFinding,
  type FileFailure,
  type FileFlag,
  type PdqFrameHash,
  type RandomAccessSource,
  type StageOutcome,
  type ToolVersion,
} from '@exhibit/core';
import { analyse, isPast, type LoadedFile } from './file-stage.js';
import type { StageContext, StageDeps } from './stage.js';
import type { StepWrites } from './step-writes.js';

/**
 * Thumbnails for images (EXIF preview when the image itself cannot be
 * decoded) and contact sheets for videos, stored content-addressed in the
 * derived container with the source SHA-256 and tool versions on the blob.
 * The result and the occurrence's move (or failure) go into `writes` (the analyse stage's one write). Runs in the
 * analyse stage on the bytes identify and metadata already read (`input`).
 *
 * An image's PDQ hash comes with its thumbnail (the thumbnailer hashes the
 * same bytes, no second read), a video's with its contact sheet (one per
 * frame, from the same ffmpeg run); they are recorded with the thumbnail
 * (docs/pdq.md).
 */
export async function thumbnailStep(
  deps: StageDeps,
  loaded: LoadedFile,
  input: RandomAccessSource,
  ctx: StageContext,
  writes: StepWrites,
): Promise<{ outcome: StageOutcome; loaded: LoadedFile }> {
  const { file, content } = loaded;
  const kind = content.kind;
  if (isPast(file, 'thumbnailed')) {
    // A redelivery, or the watchdog re-driving a thumbnail whose blob is gone (storage lost its
    // latest writes in a crash): the index says done, so the blob must exist; make it again if not.
    if (content.thumbnailStatus === 'done' && content.thumbnail && (kind === 'image' || kind === 'video')) {
      if (!(await deps.blobs.exists(content.thumbnail, { abortSignal: ctx.abortSignal }))) {
        ctx.logger.warn({ blob: content.thumbnail.name }, 'thumbnail recorded as done is missing from storage; making it again');
        // Under the name the index records (a later recipe would name it differently).
        const made = await makeThumbnail(deps, loaded, input, kind, ctx, content.thumbnail);
        if (!made.ok) {
          // The same bytes and tools made it before; failing now is a fault to retry, not a finding.
          throw new ExhibitError('tool-unavailable', `could not make the missing thumbnail again: ${made.failure.detail}`);
        }
      }
    }
    return { outcome: skipped('already-done'), loaded };
  }
  // The analyse stage runs this step for images and videos only.
  if (kind !== 'image' && kind !== 'video') return { outcome: skipped('not-applicable'), loaded };

  let reused = true;
  let from = content.thumbnailSource;
  if (content.thumbnailStatus === 'pending') {
    reused = false;
    const made = await makeThumbnail(deps, loaded, input, kind, ctx);
    if (!made.ok) {
      writes.thumbnail({ status: 'failed', blob: null, source: null, failure: made.failure, tools: made.tools });
      writes.fail(made.failure);
      return { outcome: failed(made.failure.code, made.failure.detail), loaded: { ...loaded, file: { ...file, stage: 'failed', failure: made.failure } } };
    }
    from = made.from;
    if (!made.pdq && made.pdqFailure) ctx.logger.info({ reason: made.pdqFailure }, `no PDQ hash for this ${kind}`);
    const flags: FileFlag[] = made.from === 'exif-preview' ? ['exif-preview-thumbnail'] : [];
    if (made.findings.length > 0) ctx.logger.info({ findings: made.findings.map((f) => f.flag) }, 'thumbnail findings');
    // The PDQ hashes ride in the thumbnail's write, which moves the file on: one statement, so a crash
    // leaves both or neither (pdq-written-in-its-own-transaction-before-thumbnail).
    writes.thumbnail({
      status: 'done',
      blob: made.ref,
      source: made.from,
      preview: made.preview ?? null,
      findings: made.findings,
      tools: made.tools,
      ...(made.pdq ? { pdq: made.pdq } : {}),
    });
    writes.move('thumbnailed', { flags });
  } else if (content.thumbnailStatus === 'failed') {
    const failure = content.failure ?? { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'no thumbnail could be made' };
    writes.fail(failure);
    return { outcome: failed(failure.code, failure.detail), loaded: { ...loaded, file: { ...file, stage: 'failed', failure } } };
  } else {
    const flags: FileFlag[] = content.thumbnailSource === 'exif-preview' ? ['exif-preview-thumbnail'] : [];
    writes.move('thumbnailed', { flags });
  }
  return { outcome: reused ? skipped('already-analysed') : done({ from }), loaded: { ...loaded, file: { ...file, stage: 'thumbnailed' } } };
}

type Made =
  | {
      ok: true;
      ref: BlobRef;
      from: 'image' | 'exif-preview' | 'contact-sheet';
      findings: ContentFinding[];
      tools: ToolVersion[];
      pdq?: PdqFrameHash[];
      pdqFailure?: string;
      /** The stored embedded EXIF preview (images that have one). */
      preview?: BlobRef;
    }
  | { ok: false; failure: FileFailure; tools: ToolVersion[] };

/** Makes the thumbnail (or contact sheet) and stores it under its content-addressed name. */
async function makeThumbnail(deps: StageDeps, loaded: LoadedFile, input: RandomAccessSource, kind: 'image' | 'video', ctx: StageContext, at?: BlobRef): Promise<Made> {
  const { content } = loaded;
  const result = await analyse('thumbnail', ctx, () =>
    kind === 'image'
      ? deps.thumbnailer.image(input, { mime: content.mime, abortSignal: ctx.abortSignal })
      : deps.thumbnailer.video(input, {
          ...(content.metadata?.durationSec !== undefined ? { durationSec: content.metadata.durationSec } : {}),
          ...(content.metadata?.videoStream ? { videoStream: content.metadata.videoStream } : {}),
          abortSignal: ctx.abortSignal,
        }),
  );
  const madeBy = result.ok ? (result.value.tools ?? []) : [];
  const tools = [...(await deps.thumbnailer.tools(kind)), ...madeBy, { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
  if (!result.ok) return { ok: false, failure: { stage: 'thumbnail', code: result.error.code, detail: result.error.message }, tools };
  const thumb = result.value;
  const ref = at ?? { container: deps.containers.derived, name: derivedNames.thumbnail(content.sha256, deps.thumbnailer.recipe) };
  const toolsText = tools.map((t) => `${t.name}@${t.version}`).join(',').replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
  // The embedded preview first: the thumbnail's record, written after both, names it. Its bytes are the
  // file's own (a copy, not a rendering), so its name needs no recipe; ifNotExists keeps the first copy.
  let preview: BlobRef | undefined;
  if (thumb.embeddedPreview) {
    preview = { container: deps.containers.derived, name: derivedNames.embeddedPreview(content.sha256) };
    await deps.blobs.upload(preview, thumb.embeddedPreview.jpeg, {
      contentType: 'image/jpeg',
      ifNotExists: true,
      abortSignal: ctx.abortSignal,
      metadata: {
        source_sha256: content.sha256,
        derived_from: 'exif-ifd1-preview',
        preview_sha256: createHash('sha256').update(thumb.embeddedPreview.jpeg).digest('hex'),
        tools: toolsText,
      },
    });
  }
  await deps.blobs.upload(ref, thumb.jpeg, {
    contentType: 'image/jpeg',
    ifNotExists: true,
    abortSignal: ctx.abortSignal,
    metadata: {
      source_sha256: content.sha256,
      derived_from: thumb.from,
      tools: toolsText,
    },
  });
  return {
    ok: true,
    ref,
    from: thumb.from,
    findings: thumb.findings ?? [],
    tools,
    ...(thumb.pdq ? { pdq: thumb.pdq } : {}),
    ...(thumb.pdqFailure ? { pdqFailure: thumb.pdqFailure } : {}),
    ...(preview ? { preview } : {}),
  };
}
