import { done, failed, skipped, type FileFlag, type FileMessage, type MediaMetadata } from '@exhibit/core';
import { blobSource } from './file-source.js';
import { analyse, isPast, loadFile } from './file-stage.js';
import { sendFile } from './messaging.js';
import type { Stage } from './stage.js';

/**
 * EXIF/GPS/XMP/IPTC for images, ffprobe for videos. Analysed once per
 * SHA-256: a second occurrence of the same bytes reuses the first result.
 * The result and the occurrence's move are one write. A failure is recorded
 * on the content and the file still goes on to its thumbnail.
 */
export const metadataStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const loaded = await loadFile(deps, message);
  if (loaded === 'missing') return skipped('unknown-subject');
  if (loaded === 'failed') return skipped('already-done');
  const { file, content, source } = loaded;
  if (isPast(file, 'described')) {
    await sendFile(deps, 'thumbnail', message, { abortSignal: ctx.abortSignal });
    return skipped('already-done');
  }
  const kind = content.kind;
  if (kind !== 'image' && kind !== 'video') {
    await deps.index.advanceFile(file.fileId, 'described');
    await sendFile(deps, 'index', message, { abortSignal: ctx.abortSignal });
    return skipped('not-applicable');
  }

  let reused = true;
  if (content.metadataStatus === 'pending') {
    reused = false;
    const input = blobSource(deps.blobs, source, file.name, content.size);
    const result = await analyse('metadata', ctx, () =>
      kind === 'image'
        ? deps.metadata.image(input, { mime: content.mime, abortSignal: ctx.abortSignal })
        : deps.metadata.video(input, { abortSignal: ctx.abortSignal }),
    );
    const tools = [...(await deps.metadata.tools(kind)), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    if (!result.ok) {
      // Recorded on the content (status, API and CLI list it) while the file goes on: a
      // thumbnail does not need the metadata, so one failing must not cost the other.
      const failure = { stage: 'metadata' as const, code: result.error.code, detail: result.error.message };
      await deps.index.setMetadata(content.sha256, { status: 'failed', metadata: null, failure, tools }, { fileId: file.fileId, to: 'described' });
      await sendFile(deps, 'thumbnail', message, { abortSignal: ctx.abortSignal });
      return failed(failure.code, failure.detail);
    }
    await deps.index.setMetadata(content.sha256, { status: 'done', metadata: result.value, tools }, { fileId: file.fileId, to: 'described', flags: metadataFlags(result.value) });
  } else {
    // Another occurrence of the same bytes: the same findings.
    await deps.index.advanceFile(file.fileId, 'described', { flags: metadataFlags(content.metadata) });
  }
  await sendFile(deps, 'thumbnail', message, { abortSignal: ctx.abortSignal });
  return reused ? skipped('already-analysed') : done({ kind });
};

/** Findings about the metadata (partial read, escaped text, size, time, GPS) become the occurrence's flags. */
function metadataFlags(metadata: MediaMetadata | null): FileFlag[] {
  return [...new Set((metadata?.findings ?? []).map((f) => f.flag))];
}
