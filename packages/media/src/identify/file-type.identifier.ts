import { FileTypeParser } from 'file-type';
import { ExhibitError, LIMITS, type FileIdentifier, type Identification, type ToolVersion } from '@exhibit/core';
import { packageVersion } from '../package-version.js';
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
    const parser = options.abortSignal ? new FileTypeParser({ signal: options.abortSignal }) : new FileTypeParser();
    let result;
    try {
      result = await parser.fromBuffer(bytes);
    } catch (err) {
      if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'identification aborted', { cause: err });
      // file-type only throws on reads past the end of a truncated structure; that is "unknown".
      result = undefined;
    }
    if (!result) return { mime: null, detectedExt: null, kind: 'other' };
    return { mime: result.mime, detectedExt: result.ext, kind: kindOf(result.ext, result.mime) };
  }

  extensionMismatch(fileName: string, identification: Identification): boolean {
    return isExtensionMismatch(fileName, identification.detectedExt);
  }
}
