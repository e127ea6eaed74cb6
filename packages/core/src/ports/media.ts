import type { ContentFinding, FileKind, MediaMetadata, PdqFrameHash, ToolVersion } from '../domain.js';

/**
 * Random access to one stored file. Media adapters read through this (ranged
 * reads, or a short-lived URL for ffprobe/ffmpeg) so nothing is copied locally.
 */
export interface RandomAccessSource {
  /** The occurrence's file name, for messages and extension checks only. */
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Buffer>;
  /** Short-lived read-only URL for external tools; never logged. */
  url(): Promise<string>;
  /**
   * Set when url() serves a larger blob that holds this content: the content
   * is `size` bytes from this offset (a member stored uncompressed in an
   * archive). Tools must read only that span.
   */
  readonly urlOffset?: number;
}

export interface Identification {
  mime: string | null;
  detectedExt: string | null;
  kind: FileKind;
}

/** An identification with what was noticed on the way (unidentified and why, polyglots). */
export interface IdentificationResult extends Identification {
  findings: ContentFinding[];
}

export interface FileIdentifier {
  tools(): Promise<ToolVersion[]>;
  /**
   * Type from the content signature. Reads are bounded: the first
   * LIMITS.identifyHeadBytes, the last LIMITS.identifyTailBytes, and what a
   * format's own header points at (a TIFF's first directory), nothing else.
   */
  identify(source: RandomAccessSource, options?: { abortSignal?: AbortSignal }): Promise<IdentificationResult>;
  /** True when the name's extension does not fit the detected type. */
  extensionMismatch(fileName: string, identification: Identification): boolean;
  /**
   * For a name the detected type alone fits but the content's structure may contradict (an MP4 under
   * .m4a: the tracks say whether it holds video): true when it does, read from the bytes now (no stored
   * verdict, so a content identified before reads the same). False when it cannot tell. Bounded reads,
   * in a parser thread under its deadline.
   */
  extensionContradicted?(fileName: string, identification: Identification, source: RandomAccessSource, options?: { abortSignal?: AbortSignal }): Promise<boolean>;
}

/**
 * Errors: ExhibitError 'corrupt-file' | 'unsupported-format' | 'limit-exceeded' | 'tool-failed'
 * (properties of the file), or the retryable 'timeout' | 'tool-unavailable' | 'storage-unavailable'.
 */
export interface MetadataExtractor {
  tools(kind: 'image' | 'video' | 'audio'): Promise<ToolVersion[]>;
  image(source: RandomAccessSource, options?: { mime?: string | null; abortSignal?: AbortSignal }): Promise<MediaMetadata>;
  video(source: RandomAccessSource, options?: { abortSignal?: AbortSignal }): Promise<MediaMetadata>;
  /**
   * Duration, codecs and the first audio stream's sample rate and channels (a voice memo, a 3GP or MP3 recording).
   * Null when no allowed reader reads the type identification named (`detectedExt`: MIDI, tracker modules):
   * not applicable, no failure, as nothing was wrong with the file.
   */
  audio(source: RandomAccessSource, options?: { detectedExt?: string | null; abortSignal?: AbortSignal }): Promise<MediaMetadata | null>;
}

export interface Thumbnail {
  jpeg: Buffer;
  width: number;
  height: number;
  from: 'image' | 'exif-preview' | 'contact-sheet';
  /** What decoding noticed about the content (partially decoded, no content, orientation conflict). */
  findings?: ContentFinding[];
  /**
   * PDQ hashes of the content (docs/pdq.md), from the same bytes: one (frame 0)
   * for an image whose pixels decode the way Meta's reference reads them; absent
   * when they do not (then `pdqFailure` says why). Never computed from the thumbnail.
   */
  pdq?: PdqFrameHash[];
  pdqFailure?: string;
  /**
   * The image's embedded EXIF preview (IFD1 JPEG), its bytes exactly as the
   * file stores them, when it has one that decodes as a JPEG: stored beside
   * the thumbnail so a `preview-differs` finding can be looked at (both
   * pictures). Width and height as stored (before any EXIF orientation).
   */
  embeddedPreview?: { jpeg: Buffer; width: number; height: number };
  /**
   * Tools that made this thumbnail beyond those `tools(kind)` lists (ffmpeg for
   * the first frame of a HEIF image sequence with no still image): recorded with it.
   */
  tools?: ToolVersion[];
}

/**
 * Errors: ExhibitError 'decode-failed' | 'unsupported-format' | 'corrupt-file' | 'limit-exceeded' |
 * 'tool-failed' (properties of the file), or the retryable 'timeout' | 'tool-unavailable' | 'storage-unavailable'.
 */
export interface Thumbnailer {
  tools(kind: 'image' | 'video'): Promise<ToolVersion[]>;
  /** Name of the output recipe (edge size, format); part of the derived blob name. */
  readonly recipe: string;
  image(source: RandomAccessSource, options?: { mime?: string | null; abortSignal?: AbortSignal }): Promise<Thumbnail>;
  /**
   * A contact sheet, its frames planned on `videoStream` (else on `durationSec`), both as
   * MetadataExtractor.video recorded them; when `videoStream` is missing or `durationSec` is
   * missing or not positive, the file is probed and the probe's values replace both.
   */
  video(source: RandomAccessSource, options: { durationSec?: number; videoStream?: MediaMetadata['videoStream']; abortSignal?: AbortSignal }): Promise<Thumbnail>;
}
