import { ExhibitError, type Logger, type MediaMetadata, type MetadataExtractor, type RandomAccessSource, type ToolVersion } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { packageVersion } from '../package-version.js';
import { audioReadable } from '../tools/ffmpeg-input.js';
import type { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { readImageMetadata } from './exif.metadata.js';
import { isQuickTime, normaliseProbe, probe, probeAudio, withVideoXmp } from './ffprobe.metadata.js';
import { id3FramesSandboxed, videoXmpSandboxed } from '../sandbox/parse.pool.js';

/** Images through exifr (ranged reads), videos and audio through ffprobe (the source's URL). */
export class MediaMetadataExtractor implements MetadataExtractor {
  private readonly logger: Logger | undefined;

  constructor(
    private readonly resolver: MediaToolResolver,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  async tools(kind: 'image' | 'video' | 'audio'): Promise<ToolVersion[]> {
    if (kind === 'image') return [{ name: 'exifr', version: packageVersion('exifr') }];
    return [await this.resolver.toolVersion('ffprobe')];
  }

  async image(source: RandomAccessSource, options: { mime?: string | null; abortSignal?: AbortSignal } = {}): Promise<MediaMetadata> {
    const metadata = await readImageMetadata(source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    this.logger?.debug({ name: source.name, hasGps: metadata.gps !== undefined, hasTime: metadata.takenAt !== undefined }, 'image metadata read');
    return metadata;
  }

  async video(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<MediaMetadata> {
    const ffprobe = await this.resolver.resolve('ffprobe');
    const result = await probe(ffprobe, source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    // A QuickTime/MP4 file's XMP packets, read structure-aware in a parser thread under its deadline (video-xmp.reader.ts).
    const metadata = isQuickTime(result)
      ? withVideoXmp(normaliseProbe(result), await videoXmpSandboxed(source, options.abortSignal ? { abortSignal: options.abortSignal } : {}))
      : normaliseProbe(result);
    this.logger?.debug({ name: source.name, durationSec: metadata.durationSec, codecs: metadata.codecs }, 'video metadata read');
    return metadata;
  }

  /**
   * The same ffprobe read as a video's: the container's duration and tags, and the audio stream. Null, and
   * no tool run, for a type no allowed demuxer reads (MIDI, tracker modules: AUDIO_READABLE_EXTS).
   */
  async audio(source: RandomAccessSource, options: { detectedExt?: string | null; abortSignal?: AbortSignal } = {}): Promise<MediaMetadata | null> {
    if (!audioReadable(options.detectedExt)) return null;
    // In a parser thread under its deadline (id3-frame-count-on-main-thread): the walk parses headers the evidence states.
    const frames = await id3FramesSandboxed(source, MEDIA_LIMITS.maxId3Frames, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    if (frames > MEDIA_LIMITS.maxId3Frames) {
      throw new ExhibitError('limit-exceeded', `more than ${MEDIA_LIMITS.maxId3Frames} ID3v2 frames (MEDIA_LIMITS.maxId3Frames): not probed`);
    }
    const ffprobe = await this.resolver.resolve('ffprobe');
    const { result, durationGuessed } = await probeAudio(ffprobe, source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    const metadata = normaliseProbe(result, { durationGuessed });
    this.logger?.debug({ name: source.name, durationSec: metadata.durationSec, codecs: metadata.codecs, audio: metadata.audioStream }, 'audio metadata read');
    return metadata;
  }
}
