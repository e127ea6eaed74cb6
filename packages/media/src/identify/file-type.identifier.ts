import { type FileIdentifier, type Identification, type IdentificationResult, type RandomAccessSource, type ToolVersion } from '@exhibit/core';
import { packageVersion } from '../package-version.js';
import { identifySandboxed, videoTrackSandboxed } from '../sandbox/parse.pool.js';
import { isExtensionMismatch, soundNameOfMovie } from './extensions.js';

/**
 * Identifies content by its signature with file-type, over bounded reads of
 * the source: the head (LIMITS.identifyHeadBytes), then what file-type could
 * not reach, by the format's own header (a TIFF's first directory, HEIF
 * brands file-type does not weigh), then the tail (LIMITS.identifyTailBytes)
 * for a ZIP appended to the file. What is still unknown is 'unidentified',
 * a finding with the reason, never a silent mime null.
 */
export class FileTypeIdentifier implements FileIdentifier {
  async tools(): Promise<ToolVersion[]> {
    return [{ name: 'file-type', version: packageVersion('file-type') }];
  }

  /**
   * Runs in a parser thread (identifySandboxed, identify-source.ts): file-type and every
   * check after it walk structures read from the file, so none of them runs on the event loop.
   */
  async identify(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<IdentificationResult> {
    return identifySandboxed(source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  }

  extensionMismatch(fileName: string, identification: Identification): boolean {
    return isExtensionMismatch(fileName, identification.detectedExt);
  }

  /**
   * An MP4 under a sound-only name (.m4a) whose tracks hold video (m4a-holding-video-not-flagged-ext-mismatch):
   * mp4 fits .m4a in extensionMismatch, as a stored mp4 may be a voice note (stale-content-m4a-false-ext-mismatch)
   * and a recording cut before its moov keeps the brand's mp4; the tracks, walked here from the bytes (not a
   * stored verdict), tell which. No moov, or one that cannot be walked: false, no flag.
   */
  async extensionContradicted(fileName: string, identification: Identification, source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    if (!soundNameOfMovie(fileName, identification.detectedExt)) return false;
    return videoTrackSandboxed(source, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  }
}

