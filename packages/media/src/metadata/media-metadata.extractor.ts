import { isExhibitError, type Logger, type MediaMetadata, type MetadataExtractor, type RandomAccessSource, type ToolVersion } from '@exhibit/core';
import { packageVersion } from '../package-version.js';
import type { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { readImageMetadata } from './exif.metadata.js';
import { normaliseProbe, probe } from './ffprobe.metadata.js';
import { HEADER_DIMENSION_BYTES, headerDimensions } from './header-dimensions.js';

/** Images through exifr (ranged reads; GIF/WebP/BMP dimensions from the header), videos through ffprobe (the source's URL). */
export class MediaMetadataExtractor implements MetadataExtractor {
  private readonly logger: Logger | undefined;

  constructor(
    private readonly resolver: MediaToolResolver,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  async tools(kind: 'image' | 'video'): Promise<ToolVersion[]> {
    if (kind === 'image') return [{ name: 'exifr', version: packageVersion('exifr') }];
    return [await this.resolver.toolVersion('ffprobe')];
  }

  async image(source: RandomAccessSource, options: { mime?: string | null; abortSignal?: AbortSignal } = {}): Promise<MediaMetadata> {
    const abort = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    let metadata: MediaMetadata;
    try {
      metadata = await readImageMetadata(source, abort);
    } catch (err) {
      // exifr reads no GIF, WebP or BMP: their dimensions come from the header, with the reason on record.
      if (!isExhibitError(err, 'unsupported-format')) throw err;
      const header = headerDimensions(await source.read(0, Math.min(HEADER_DIMENSION_BYTES, source.size), abort));
      if (!header) throw err;
      metadata = {
        width: header.width,
        height: header.height,
        raw: { _notes: [`no EXIF, XMP or IPTC reader for ${header.format.toUpperCase()}; dimensions from the ${header.format.toUpperCase()} header`] },
      };
    }
    this.logger?.debug({ name: source.name, hasGps: metadata.gps !== undefined, hasTime: metadata.takenAt !== undefined }, 'image metadata read');
    return metadata;
  }

  async video(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<MediaMetadata> {
    const ffprobe = await this.resolver.resolve('ffprobe');
    const result = await probe(ffprobe, source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    const metadata = normaliseProbe(result);
    this.logger?.debug({ name: source.name, durationSec: metadata.durationSec, codecs: metadata.codecs }, 'video metadata read');
    return metadata;
  }
}
