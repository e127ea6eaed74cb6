import { derivedNames, done, failed, skipped, type FileFlag, type FileMessage } from '@exhibit/core';
import { blobSource } from './file-source.js';
import { analyse, isPast, loadFile } from './file-stage.js';
import { sendFile } from './messaging.js';
import type { Stage } from './stage.js';

/**
 * Thumbnails for images (EXIF preview when the image itself cannot be
 * decoded) and contact sheets for videos, stored content-addressed in the
 * derived container with the source SHA-256 and tool versions on the blob.
 * The result and the occurrence's move (or failure) are one write.
 */
export const thumbnailStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const loaded = await loadFile(deps, message);
  if (loaded === 'missing') return skipped('unknown-subject');
  if (loaded === 'failed') return skipped('already-done');
  const { file, content, source } = loaded;
  if (isPast(file, 'thumbnailed')) {
    await sendFile(deps, 'index', message, { abortSignal: ctx.abortSignal });
    return skipped('already-done');
  }
  const kind = content.kind;
  if (kind !== 'image' && kind !== 'video') {
    await deps.index.advanceFile(file.fileId, 'thumbnailed');
    await sendFile(deps, 'index', message, { abortSignal: ctx.abortSignal });
    return skipped('not-applicable');
  }

  let reused = true;
  let from = content.thumbnailSource;
  if (content.thumbnailStatus === 'pending') {
    reused = false;
    const input = blobSource(deps.blobs, source, file.name, content.size);
    const result = await analyse('thumbnail', ctx, () =>
      kind === 'image'
        ? deps.thumbnailer.image(input, { mime: content.mime, abortSignal: ctx.abortSignal })
        : deps.thumbnailer.video(input, {
            ...(content.metadata?.durationSec !== undefined ? { durationSec: content.metadata.durationSec } : {}),
            abortSignal: ctx.abortSignal,
          }),
    );
    const tools = [...(await deps.thumbnailer.tools(kind)), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    if (!result.ok) {
      const failure = { stage: 'thumbnail' as const, code: result.error.code, detail: result.error.message };
      await deps.index.setThumbnail(content.sha256, { status: 'failed', blob: null, source: null, failure, tools }, { fileId: file.fileId, failure });
      return failed(failure.code, failure.detail);
    }
    const thumb = result.value;
    const ref = { container: deps.containers.derived, name: derivedNames.thumbnail(content.sha256, deps.thumbnailer.recipe) };
    await deps.blobs.upload(ref, thumb.jpeg, {
      contentType: 'image/jpeg',
      ifNotExists: true,
      abortSignal: ctx.abortSignal,
      metadata: {
        source_sha256: content.sha256,
        derived_from: thumb.from,
        tools: tools.map((t) => `${t.name}@${t.version}`).join(',').replace(/[^\x20-\x7e]/g, '?').slice(0, 1024),
      },
    });
    from = thumb.from;
    const flags: FileFlag[] = thumb.from === 'exif-preview' ? ['exif-preview-thumbnail'] : [];
    const findings = thumb.findings ?? [];
    if (findings.length > 0) ctx.logger.info({ findings: findings.map((f) => f.flag) }, 'thumbnail findings');
    await deps.index.setThumbnail(content.sha256, { status: 'done', blob: ref, source: thumb.from, findings, tools }, { fileId: file.fileId, to: 'thumbnailed', flags });
  } else if (content.thumbnailStatus === 'failed') {
    const failure = content.failure ?? { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'no thumbnail could be made' };
    await deps.index.failFile(file.fileId, failure);
    return failed(failure.code, failure.detail);
  } else {
    const flags: FileFlag[] = content.thumbnailSource === 'exif-preview' ? ['exif-preview-thumbnail'] : [];
    await deps.index.advanceFile(file.fileId, 'thumbnailed', { flags });
  }
  await sendFile(deps, 'index', message, { abortSignal: ctx.abortSignal });
  return reused ? skipped('already-analysed') : done({ from });
};
