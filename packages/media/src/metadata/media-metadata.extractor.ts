import { ExhibitError, isExhibitError, type Logger, type MediaMetadata, type MetadataExtractor, type RandomAccessSource, type ToolVersion } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { packageVersion } from '../package-version.js';
import { audioReadable } from '../tools/ffmpeg-input.js';
import type { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { readImageMetadata } from './exif.metadata.js';
import { isQuickTime, normaliseProbe, probe, probeAudio, withVideoXmp } from './ffprobe.metadata.js';
import { id3FramesSandboxed, videoXmpSandboxed, type SandboxOptions } from '../sandbox/parse.pool.js';
import type { VideoXmpRead } from './video-xmp.reader.js';

/** Images through exifr (ranged reads), videos and audio through ffprobe (the source's URL). */
export class MediaMetadataExtractor implements MetadataExtractor {
  private readonly logger: Logger | undefined;
  private readonly xmpParse: Pick<SandboxOptions, 'timeoutMs' | 'pool'>;

  constructor(
    private readonly resolver: MediaToolResolver,
    /** `xmpParse`: another parser-thread budget or pool for a video's XMP read (tests). */
    options: { logger?: Logger; xmpParse?: Pick<SandboxOptions, 'timeoutMs' | 'pool'> } = {},
  ) {
    this.logger = options.logger;
    this.xmpParse = options.xmpParse ?? {};
  }

  async tools(kind: 'image' | 'video' | 'audio'): Promise<ToolVersion[]> {
    if (kind === 'image') return [{ name: 'exifr', version: packageVersion('exifr') }];
    // A video's XMP dates are read by sax (video-xmp.reader.ts): recorded beside ffprobe, so a result can be reproduced.
    if (kind === 'video') return [await this.resolver.toolVersion('ffprobe'), { name: 'sax', version: packageVersion('sax') }];
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
    const metadata = isQuickTime(result) ? withVideoXmp(normaliseProbe(result), await this.videoXmp(source, options)) : normaliseProbe(result);
    this.logger?.debug({ name: source.name, durationSec: metadata.durationSec, codecs: metadata.codecs }, 'video metadata read');
    return metadata;
  }

  /**
   * A video's XMP dates. A packet whose reading ran out of the parser thread's time or memory costs its
   * XMP dates alone (a note, `metadata-partial`), not the container's metadata ffprobe read: the XMP
   * dates rank last and are absent rather than the whole file's metadata failed. Other faults (a read
   * that failed, an abort) are thrown as they are.
   */
  private async videoXmp(source: RandomAccessSource, options: { abortSignal?: AbortSignal }): Promise<VideoXmpRead> {
    try {
      return await videoXmpSandboxed(source, { ...this.xmpParse, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
    } catch (err) {
      if (isExhibitError(err) && (err.code === 'parse-timeout' || err.code === 'parse-crashed')) {
        return { dates: [], notes: [`XMP: not read (${err.code}: ${err.message}); no XMP date read`] };
      }
      throw err;
    }
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
