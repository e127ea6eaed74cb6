import { done, failed, skipped, type FileFlag, type MediaMetadata, type RandomAccessSource, type StageOutcome } from '@exhibit/core';
import { analyse, isPast, type LoadedFile } from './file-stage.js';
import type { StageContext, StageDeps } from './stage.js';
import type { StepWrites } from './step-writes.js';
import { isMedia } from './stage-graph.js';

/**
 * EXIF/GPS/XMP/IPTC for images, ffprobe for videos and audio. Analysed once per
 * SHA-256: a second occurrence of the same bytes reuses the first result.
 * The result and the occurrence's move go into `writes` (the analyse stage's one write). A failure is recorded
 * on the content and the file still goes on to its thumbnail. Runs in the
 * analyse stage on the bytes identify already read (`input`).
 */
export async function metadataStep(
  deps: StageDeps,
  loaded: LoadedFile,
  input: RandomAccessSource,
  ctx: StageContext,
  writes: StepWrites,
): Promise<{ outcome: StageOutcome; loaded: LoadedFile }> {
  const { file, content } = loaded;
  if (isPast(file, 'described')) return { outcome: skipped('already-done'), loaded };
  const kind = content.kind;
  // The analyse stage runs this step for images, videos and audio only (stage-graph.ts, ANALYSE_STEPS).
  if (kind !== 'image' && kind !== 'video' && kind !== 'audio') return { outcome: skipped('not-applicable'), loaded };

  if (content.metadataStatus === 'pending') {
    const result = await analyse('metadata', ctx, () =>
      kind === 'image'
        ? deps.metadata.image(input, { mime: content.mime, abortSignal: ctx.abortSignal })
        : kind === 'video'
          ? deps.metadata.video(input, { abortSignal: ctx.abortSignal })
          : deps.metadata.audio(input, { detectedExt: content.detectedExt, abortSignal: ctx.abortSignal }),
    );
    const tools = [...(await deps.metadata.tools(kind)), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    // Audio has no thumbnail step (stage-graph.ts): its thumbnail is 'n/a' with this write, not pending forever.
    const noThumbnail = !isMedia(kind);
    const thumbnailStatus = noThumbnail && content.thumbnailStatus === 'pending' ? ('n/a' as const) : content.thumbnailStatus;
    if (!result.ok) {
      // Recorded on the content (status, API and CLI list it) while the file goes on: a
      // thumbnail does not need the metadata, so one failing must not cost the other.
      const failure = { stage: 'metadata' as const, code: result.error.code, detail: result.error.message };
      writes.metadata({ status: 'failed', metadata: null, failure, tools, noThumbnail });
      writes.move('described');
      return {
        outcome: failed(failure.code, failure.detail),
        loaded: { ...loaded, file: { ...file, stage: 'described' }, content: { ...content, metadataStatus: 'failed', metadata: null, failure: content.failure ?? failure, thumbnailStatus } },
      };
    }
    if (result.value === null) {
      // No allowed reader for the format (MIDI, a tracker module): not applicable, and no failure (the
      // file is not corrupt; failures are counted in status and custody, and shared by every case holding it).
      writes.metadata({ status: 'n/a', metadata: null, tools, noThumbnail });
      writes.move('described');
      return {
        outcome: skipped('no-reader'),
        loaded: { ...loaded, file: { ...file, stage: 'described' }, content: { ...content, metadataStatus: 'n/a', metadata: null, thumbnailStatus } },
      };
    }
    writes.metadata({ status: 'done', metadata: result.value, tools, noThumbnail });
    writes.move('described', { flags: metadataFlags(result.value) });
    return {
      outcome: done({ kind }),
      loaded: { ...loaded, file: withFlags({ ...file, stage: 'described' }, metadataFlags(result.value)), content: { ...content, metadataStatus: 'done', metadata: result.value, thumbnailStatus } },
    };
  }
  // Another occurrence of the same bytes: the same findings.
  writes.move('described', { flags: metadataFlags(content.metadata) });
  return { outcome: skipped('already-analysed'), loaded: { ...loaded, file: withFlags({ ...file, stage: 'described' }, metadataFlags(content.metadata)) } };
}

function withFlags<T extends { flags: FileFlag[] }>(file: T, flags: FileFlag[]): T {
  return { ...file, flags: [...new Set([...file.flags, ...flags])] };
}

/** Findings about the metadata (partial read, escaped text, size, time, GPS) become the occurrence's flags. */
function metadataFlags(metadata: MediaMetadata | null): FileFlag[] {
  return [...new Set((metadata?.findings ?? []).map((f) => f.flag))];
}
