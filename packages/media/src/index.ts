import type { FileIdentifier, Logger, MetadataExtractor, Thumbnailer, ToolVersion } from '@exhibit/core';
import { FileTypeIdentifier } from './identify/file-type.identifier.js';
import { MediaMetadataExtractor } from './metadata/media-metadata.extractor.js';
import { MediaThumbnailer } from './thumbnail/media.thumbnailer.js';
import { MediaToolResolver, type MediaToolConfig } from './tools/ffmpeg-path.js';

export interface MediaTools {
  identifier: FileIdentifier;
  metadata: MetadataExtractor;
  thumbnailer: Thumbnailer;
  /** Every tool the adapters use, for the record; ffmpeg/ffprobe only if they resolve. */
  versions(): Promise<ToolVersion[]>;
}

/** The media adapters, sharing one ffmpeg/ffprobe resolution. `config` is `ExhibitConfig['media']`. */
export function createMediaTools(config: MediaToolConfig, options: { logger?: Logger } = {}): MediaTools {
  const resolver = new MediaToolResolver(config, options);
  const identifier = new FileTypeIdentifier();
  const metadata = new MediaMetadataExtractor(resolver, options);
  const thumbnailer = new MediaThumbnailer(resolver, options);
  return {
    identifier,
    metadata,
    thumbnailer,
    async versions() {
      const all = [...(await identifier.tools()), ...(await metadata.tools('image')), ...(await thumbnailer.tools('image'))];
      for (const name of ['ffprobe', 'ffmpeg'] as const) {
        try {
          all.push(await resolver.toolVersion(name));
        } catch {
          // Reported as missing by the stage that needs it ('tool-unavailable').
        }
      }
      const seen = new Set<string>();
      return all.filter((t) => (seen.has(t.name) ? false : (seen.add(t.name), true)));
    },
  };
}

export { FileTypeIdentifier } from './identify/file-type.identifier.js';
export { isExtensionMismatch, fittingExtensions, kindOf } from './identify/extensions.js';
export { MediaMetadataExtractor } from './metadata/media-metadata.extractor.js';
export { readImageMetadata, normaliseExif } from './metadata/exif.metadata.js';
export { probe, normaliseProbe, type ProbeResult } from './metadata/ffprobe.metadata.js';
export { exifRecordedTime, isoRecordedTime, parseOffsetMinutes } from './metadata/recorded-time.js';
export { parseIso6709 } from './metadata/iso6709.js';
export { toJsonSafe } from './metadata/json-safe.js';
export { MediaThumbnailer } from './thumbnail/media.thumbnailer.js';
export { MediaToolResolver, type MediaToolConfig, type MediaToolName, type ResolvedTool } from './tools/ffmpeg-path.js';
export { ALLOWED_PROTOCOLS, MEDIA_DEMUXERS } from './tools/ffmpeg-input.js';
export { MEDIA_LIMITS } from './media-limits.js';
export { pdqFromPixels, pdqDihedralFromPixels, PDQ_IMPLEMENTATION_VERSION, pdqDistance, pdqHexToBytes, isPdqHex, PDQ_SQUASH_EDGE_PX, PDQ_MIN_EDGE_PX, type PdqPixels, type PdqHash, type PdqDihedral } from './pdq/pdq.hasher.js';
export { pdqPixelsFromImage, pdqFromImage, pdqDihedralFromImage, pdqToolVersions, type PdqDecodeOptions } from './pdq/pdq.pixels.js';
export { compareEmbeddedPreview, PREVIEW_COMPARE_VERSION, PREVIEW_DIFFERS_CELL_DIFFERENCE, PREVIEW_COMPARE_EDGE_PX, PREVIEW_COMPARE_CELLS, PREVIEW_MIN_EDGE_PX, type PreviewComparison } from './preview/embedded-preview.compare.js';
