import { type FileIdentifier, type Identification, type IdentificationResult, type RandomAccessSource, type ToolVersion } from '@exhibit/core';
import { packageVersion } from '../package-version.js';
import { identifySandboxed } from '../sandbox/parse.pool.js';
import { isExtensionMismatch } from './extensions.js';

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
}

