import { ExhibitError, isExhibitError, LIMITS, type FileIdentifier, type Identification, type ToolVersion } from '@exhibit/core';
import { packageVersion } from '../package-version.js';
import { fileTypeSandboxed } from '../sandbox/parse.pool.js';
import { isExtensionMismatch, kindOf } from './extensions.js';

/**
 * Identifies content by its signature with file-type. Only the head bytes are
 * looked at (LIMITS.identifyHeadBytes), so formats recognised further into a
 * file (or plain text) come out as unknown: mime null, kind 'other'.
 */
export class FileTypeIdentifier implements FileIdentifier {
  async tools(): Promise<ToolVersion[]> {
    return [{ name: 'file-type', version: packageVersion('file-type') }];
  }

  async identify(head: Buffer, options: { abortSignal?: AbortSignal } = {}): Promise<Identification> {
    const bytes = head.subarray(0, LIMITS.identifyHeadBytes);
    // In a parser thread with a time budget ('parse-timeout', 'parse-crashed'); a truncated structure there is "unknown".
    let result;
    try {
      result = await fileTypeSandboxed(bytes, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    } catch (err) {
      if (isExhibitError(err, 'aborted')) throw new ExhibitError('aborted', 'identification aborted', { cause: err });
      throw err;
    }
    if (!result) return { mime: null, detectedExt: null, kind: 'other' };
    return { mime: result.mime, detectedExt: result.ext, kind: kindOf(result.ext, result.mime) };
  }

  extensionMismatch(fileName: string, identification: Identification): boolean {
    return isExtensionMismatch(fileName, identification.detectedExt);
  }
}
