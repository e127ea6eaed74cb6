import { isExhibitError, LIMITS, type ContentFinding, type Logger, type MediaMetadata, type RandomAccessSource, type Thumbnail, type Thumbnailer, type ToolVersion } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { normaliseProbe, probe } from '../metadata/ffprobe.metadata.js';
import { packageVersion } from '../package-version.js';
import { pdqFromImage, pdqToolVersions } from '../pdq/pdq.pixels.js';
import { compareEmbeddedPreview, PREVIEW_COMPARE_VERSION, PREVIEW_DIFFERS_CELL_DIFFERENCE } from '../preview/embedded-preview.compare.js';
import { readWhole } from '../read-source.js';
import { heifStillItemSandboxed } from '../sandbox/parse.pool.js';
import { toolInput } from '../tools/ffmpeg-input.js';
import type { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { ToolSlots } from '../tools/tool-slots.js';
import { contactSheet, planFrameTimes, type FramePlan } from './contact-sheet.js';
import { heicDecoderVersions } from './heic.decoder.js';
import { imageThumbnail, type ThumbnailSettings } from './image.thumbnail.js';
import { configureSharp, sharpVersions } from './sharp.setup.js';

/**
 * Thumbnails with sharp (images), libheif via heic-decode (HEIC) and ffmpeg
 * (video contact sheets). Output is deterministic: the same input and tool
 * versions give the same bytes, named by `recipe`.
 */
/**
 * The image's PDQ hash from the same bytes (no second read). It takes a second
 * decode: the thumbnail's pixels are resized, turned upright and flattened,
 * and a hash of them would not match the reference's (docs/pdq.md). A file the
 * reference's way of decoding refuses (damaged, unusual sample types) gets no
 * hash, with the reason; the thumbnail stands.
 */
async function imagePdq(bytes: Buffer, maxPixels: number, options: { mime?: string | null; abortSignal?: AbortSignal }): Promise<Pick<Thumbnail, 'pdq' | 'pdqFailure'>> {
  try {
    const { hash, quality } = await pdqFromImage(bytes, {
      maxPixels,
      mime: options.mime ?? null,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    return { pdq: [{ frame: 0, hash, quality }] };
  } catch (err) {
    if (isExhibitError(err, 'decode-failed') || isExhibitError(err, 'unsupported-format') || isExhibitError(err, 'limit-exceeded')) {
      return { pdqFailure: `${err.code}: ${err.message}` };
    }
    throw err;
  }
}

/** The formats whose embedded EXIF preview (IFD1) the edited-image hint compares: cameras write one into JPEG and HEIC. */
const PREVIEW_HINT_MIMES = new Set(['image/jpeg', 'image/heic', 'image/heif']);

/**
 * The edited-image hint (docs/pdq.md): a `preview-differs` finding when the
 * file's embedded EXIF preview no longer shows the picture. Compared against
 * the thumbnail just made (the main image already decoded and turned upright),
 * so the picture is not decoded again; the preview is extracted in the parser
 * thread, from the bytes already read. A preview that cannot be extracted in
 * time gives no finding (logged): the thumbnail stands, and the hint is a hint.
 */
async function previewHint(
  bytes: Buffer,
  upright: Buffer,
  maxPixels: number,
  options: { mime?: string | null; abortSignal?: AbortSignal },
  logger: Logger | undefined,
): Promise<{ findings: ContentFinding[]; preview?: NonNullable<Thumbnail['embeddedPreview']> }> {
  if (!options.mime || !PREVIEW_HINT_MIMES.has(options.mime)) return { findings: [] };
  try {
    const comparison = await compareEmbeddedPreview(bytes, upright, { maxPixels, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
    if (!comparison) return { findings: [] };
    // The preview is kept whenever there is one (JPEG), so a reviewer can look at it with or without a finding.
    const preview = comparison.jpeg ? { preview: { jpeg: comparison.jpeg, width: comparison.preview.width, height: comparison.preview.height } } : {};
    return { findings: comparison.differs ? [{ flag: 'preview-differs', detail: comparison.detail }] : [], ...preview };
  } catch (err) {
    if (isExhibitError(err, 'parse-timeout') || isExhibitError(err, 'parse-crashed')) {
      logger?.warn({ reason: err.code }, 'embedded preview not compared');
      return { findings: [] };
    }
    throw err;
  }
}

/** The comparator's version, recorded with an image thumbnail (its finding comes with it). */
function previewCompareVersion(): ToolVersion {
  return { name: 'exhibit-preview-compare', version: `${PREVIEW_COMPARE_VERSION} (worst cell >= ${PREVIEW_DIFFERS_CELL_DIFFERENCE}/255)` };
}

/** pdqToolVersions without the decoders the image tools already list. */
function pdqOwnVersions(): ToolVersion[] {
  return pdqToolVersions().filter((t) => t.name === 'exhibit-pdq');
}

/** HEIF image sequences: one with no still image is thumbnailed from its track's first frame. */
const HEIF_SEQUENCE_MIMES = new Set(['image/heic-sequence', 'image/heif-sequence']);

/** Process-wide: every thumbnailer in the process shares the memory it bounds. */
const contactSheetSlots = new ToolSlots(MEDIA_LIMITS.maxConcurrentContactSheets);

export class MediaThumbnailer implements Thumbnailer {
  readonly recipe: string;
  private readonly settings: ThumbnailSettings;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly resolver: MediaToolResolver,
    options: { logger?: Logger; edgePx?: number; quality?: number } = {},
  ) {
    configureSharp();
    this.logger = options.logger;
    this.settings = {
      edgePx: options.edgePx ?? LIMITS.thumbnailEdgePx,
      quality: options.quality ?? MEDIA_LIMITS.thumbnailJpegQuality,
      maxPixels: LIMITS.maxImagePixels,
    };
    this.recipe = `t${this.settings.edgePx}q${this.settings.quality}`;
  }

  async tools(kind: 'image' | 'video'): Promise<ToolVersion[]> {
    // An image's thumbnail comes with its PDQ hash: the hasher's version is part of the record.
    if (kind === 'image') return [...sharpVersions(), ...heicDecoderVersions(), { name: 'exifr', version: packageVersion('exifr') }, ...pdqOwnVersions(), previewCompareVersion()];
    // A contact sheet comes with a PDQ hash per frame, from the same ffmpeg run (docs/pdq.md, "Videos").
    return [...sharpVersions(), await this.resolver.toolVersion('ffmpeg'), ...pdqOwnVersions()];
  }

  async image(source: RandomAccessSource, options: { mime?: string | null; abortSignal?: AbortSignal } = {}): Promise<Thumbnail> {
    const bytes = await readWhole(source, {
      maxBytes: MEDIA_LIMITS.maxImageSourceBytes,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    let thumbnail: Thumbnail;
    try {
      thumbnail = await imageThumbnail(bytes, this.settings, options.mime, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    } catch (err) {
      // Only a sequence with no still image at all: a still that fails to decode is the file's failure.
      // The box walk runs in a parser thread, as every reader of evidence bytes.
      const sequenceOnly =
        HEIF_SEQUENCE_MIMES.has(options.mime ?? '') &&
        isExhibitError(err, 'decode-failed') &&
        !(await heifStillItemSandboxed(bytes, options.abortSignal ? { abortSignal: options.abortSignal } : {}));
      const frame = sequenceOnly ? await this.sequenceFrame(source, options) : null;
      if (!frame) throw err;
      this.logger?.debug({ name: source.name, width: frame.width, height: frame.height }, 'HEIF sequence thumbnail made from its first frame');
      return frame;
    }
    this.logger?.debug({ name: source.name, from: thumbnail.from, width: thumbnail.width, height: thumbnail.height }, 'image thumbnail made');
    if (thumbnail.from !== 'image') return { ...thumbnail, pdqFailure: 'the image itself could not be decoded (thumbnail from its EXIF preview)' };
    const hint = await previewHint(bytes, thumbnail.jpeg, this.settings.maxPixels, options, this.logger);
    const findings = [...(thumbnail.findings ?? []), ...hint.findings];
    return {
      ...thumbnail,
      ...(findings.length > 0 ? { findings } : {}),
      ...(hint.preview ? { embeddedPreview: hint.preview } : {}),
      ...(await imagePdq(bytes, this.settings.maxPixels, options)),
    };
  }

  /**
   * The first frame of a HEIF image sequence (`msf1`) that holds no still image, only its
   * track (libheif-js decodes still items alone: "HEIF image not found"), taken by ffmpeg,
   * which reads the track as a video. Its `tools` name the ffmpeg that made it (the tools of
   * an image thumbnail do not). Null when ffmpeg gives no frame or finds the data unreadable:
   * the decoder's failure then stands. A time-out, a missing ffmpeg and transport trouble
   * are retryable and thrown: they say nothing about the file.
   */
  private async sequenceFrame(source: RandomAccessSource, options: { abortSignal?: AbortSignal }): Promise<Thumbnail | null> {
    const abort = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    const release = await contactSheetSlots.acquire(abort);
    try {
      const ffmpeg = await this.resolver.resolve('ffmpeg');
      const sheet = await contactSheet(ffmpeg, await toolInput(source), [0], {
        frames: 1,
        columns: 1,
        tileEdgePx: this.settings.edgePx,
        quality: this.settings.quality,
        timeoutMs: LIMITS.mediaToolTimeoutMs,
        ...abort,
      });
      return { ...sheet, from: 'contact-sheet', tools: [await this.resolver.toolVersion('ffmpeg')] };
    } catch (err) {
      if (options.abortSignal?.aborted || !isExhibitError(err) || err.retryable) throw err;
      return null;
    } finally {
      release();
    }
  }

  async video(source: RandomAccessSource, options: { durationSec?: number; videoStream?: MediaMetadata['videoStream']; abortSignal?: AbortSignal }): Promise<Thumbnail> {
    const abort = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    // The wait for a slot is not charged to the tool timeout: it says nothing about this file.
    const release = await contactSheetSlots.acquire(abort);
    try {
      const plan: FramePlan = {
        ...(options.durationSec !== undefined ? { durationSec: options.durationSec } : {}),
        ...(options.videoStream ? { videoStream: options.videoStream } : {}),
      };
      return await this.contactSheet(source, plan, abort);
    } finally {
      release();
    }
  }

  private async contactSheet(source: RandomAccessSource, known: FramePlan, abort: { abortSignal?: AbortSignal }): Promise<Thumbnail> {
    const started = Date.now();
    const ffmpeg = await this.resolver.resolve('ffmpeg');
    let plan = known;
    // No video stream recorded (metadata from before it was, or none at all): probed, so the
    // frames are not planned on the file's duration alone (see planFrameTimes).
    if (plan.videoStream === undefined || plan.durationSec === undefined || !(plan.durationSec > 0)) {
      const probed = normaliseProbe(await probe(await this.resolver.resolve('ffprobe'), source, abort));
      plan = {
        ...(probed.durationSec !== undefined ? { durationSec: probed.durationSec } : {}),
        ...(probed.videoStream ? { videoStream: probed.videoStream } : {}),
      };
    }
    const times = planFrameTimes(plan, LIMITS.contactSheetFrames);
    const sheet = await contactSheet(ffmpeg, await toolInput(source), times, {
      // A plan of one frame is the stream's first.
      firstFrameSec: planFrameTimes(plan, 1)[0] ?? 0,
      frames: LIMITS.contactSheetFrames,
      columns: MEDIA_LIMITS.contactSheetColumns,
      tileEdgePx: this.settings.edgePx,
      quality: this.settings.quality,
      timeoutMs: Math.max(1, LIMITS.mediaToolTimeoutMs - (Date.now() - started)),
      ...abort,
    });
    this.logger?.debug({ name: source.name, width: sheet.width, height: sheet.height, pdqFrames: sheet.pdq?.length ?? 0 }, 'video contact sheet made');
    return { ...sheet, from: 'contact-sheet' };
  }
}
