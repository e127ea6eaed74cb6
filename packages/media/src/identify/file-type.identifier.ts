import {
  ExhibitError,
  isExhibitError,
  LIMITS,
  type ContentFinding,
  type FileIdentifier,
  type Identification,
  type IdentificationResult,
  type RandomAccessSource,
  type ToolVersion,
} from '@exhibit/core';
import { packageVersion } from '../package-version.js';
import { fileTypeSandboxed } from '../sandbox/parse.pool.js';
import { isExtensionMismatch, kindOf } from './extensions.js';
import { heifFromBrands } from './heif-brands.js';
import { embeddedArchiveFinding, isZipBased, zipDirectoryAtEnd } from './polyglot.js';
import { plainText } from './text-sniff.js';
import { identifyTiff } from './tiff-header.js';

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

  async identify(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<IdentificationResult> {
    const read = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    const head = await source.read(0, Math.min(LIMITS.identifyHeadBytes, source.size), read);
    let found = await fileTypeOf(head, options.abortSignal);
    // file-type calls any ISO-BMFF with an unknown major brand an MP4 video; a camera HEIF may be one.
    const heif = found === null || found.ext === 'mp4' ? heifFromBrands(head) : null;
    if (heif) found = heif;
    if (found === null) found = await identifyTiff(source, head, read);
    if (found === null) found = plainText(head);

    const findings: ContentFinding[] = [];
    if (!isZipBased(found?.ext ?? null, found?.mime ?? null) && source.size >= 22) {
      const tailOffset = Math.max(0, source.size - LIMITS.identifyTailBytes);
      const tail = head.length === source.size ? head.subarray(tailOffset) : await source.read(tailOffset, source.size - tailOffset, read);
      const zip = zipDirectoryAtEnd(tail, tailOffset, source.size);
      if (zip) {
        findings.push(embeddedArchiveFinding(zip, found?.ext ?? null));
        // Nothing else known about the bytes, and a whole ZIP ends them after a prefix (a
        // self-extractor, a carved or disguised archive): it is a ZIP, and is unpacked as one.
        if (!found && zip.archiveStart !== null && zip.archiveStart > 0) found = { ext: 'zip', mime: 'application/zip' };
      }
    }
    if (!found) findings.unshift(unidentified(source.size, head.length));
    const identification: Identification = found
      ? { mime: found.mime, detectedExt: found.ext, kind: kindOf(found.ext, found.mime) }
      : { mime: null, detectedExt: null, kind: 'other' };
    return { ...identification, findings };
  }

  extensionMismatch(fileName: string, identification: Identification): boolean {
    return isExtensionMismatch(fileName, identification.detectedExt);
  }
}

/** file-type on the head, in a parser thread with a time budget ('parse-timeout', 'parse-crashed'); a truncated structure there is "unknown". */
async function fileTypeOf(head: Buffer, abortSignal: AbortSignal | undefined): Promise<{ ext: string; mime: string } | null> {
  try {
    return await fileTypeSandboxed(head, abortSignal ? { abortSignal } : {});
  } catch (err) {
    if (isExhibitError(err, 'aborted')) throw new ExhibitError('aborted', 'identification aborted', { cause: err });
    throw err;
  }
}

function unidentified(size: number, headBytes: number): ContentFinding {
  if (size === 0) return { flag: 'unidentified', detail: 'empty file (0 bytes)' };
  const looked = headBytes === size ? `in all ${size} bytes` : `in the first ${headBytes} bytes`;
  return { flag: 'unidentified', detail: `no known file signature ${looked} (nor a TIFF header, a HEIF brand or plain text)` };
}
