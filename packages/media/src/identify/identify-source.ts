import { LIMITS, type ContentFinding, type Identification, type IdentificationResult, type RandomAccessSource } from '@exhibit/core';
import { kindOf } from './extensions.js';
import { diskImageOf } from './disk-image-sniff.js';
import { heifFromBrands } from './heif-brands.js';
import { quickTimeWithoutFtyp, typeByTracks, type TrackedType } from './iso-bmff-tracks.js';
import { moreSignatures, pdfAfterPrefix } from './more-signatures.js';
import { embeddedArchiveFinding, isZipBased, zipDirectoryAtEnd, zipDirectoryBeforeTrailingBytes } from './polyglot.js';
import { plainText } from './text-sniff.js';
import { identifyTiff } from './tiff-header.js';
import { zipDocumentFromDirectory } from './zip-directory-type.js';
import { confirmedByStructure } from './weak-signatures.js';

/**
 * The identification itself, over bounded reads of `source`: the head
 * (LIMITS.identifyHeadBytes) to file-type (`fileTypeOf`), then the format's own
 * header where file-type could not reach, then the tail for an appended ZIP.
 * Called in the parser thread (parse.worker.ts), with the source served range
 * by range from the main thread.
 */
export async function identifyFromSource(
  source: RandomAccessSource,
  fileTypeOf: (head: Buffer) => Promise<{ ext: string; mime: string } | null>,
): Promise<IdentificationResult> {
  const head = await source.read(0, Math.min(LIMITS.identifyHeadBytes, source.size));
  let found: TrackedType | null = await fileTypeOf(head);
  // A type file-type takes from a few bytes stands only with the structure that follows; a binary type never
  // for a head that is plain text, unless the format may be text (weak-signatures.ts).
  if (found !== null && !(await confirmedByStructure(found, head, source))) found = null;
  // A document whose naming member ([Content_Types].xml, META-INF/MANIFEST.MF, classes.dex) lies past the head is a plain ZIP to file-type.
  if (found?.ext === 'zip') found = (await zipDocumentFromDirectory(source, head, fileTypeOf)) ?? found;
  // file-type calls any ISO-BMFF with an unknown major brand an MP4 video; a camera HEIF may be one.
  const heif = found === null || found.ext === 'mp4' ? heifFromBrands(head) : null;
  if (heif) found = heif;
  if (found === null) found = await moreSignatures(source, head);
  if (found === null) found = await quickTimeWithoutFtyp(source, head);
  // A brand is a hint: a movie brand is given to sound alone too (voice memos, 3GP audio); the tracks' handlers decide.
  if (found !== null) found = (await typeByTracks(source, head, found)) ?? found;
  if (found === null) found = await identifyTiff(source, head);
  if (found === null) found = await diskImageOf(source, head);
  if (found === null) found = await pdfAfterPrefix(source, head);
  if (found === null) found = plainText(head);

  const findings: ContentFinding[] = [];
  if (!isZipBased(found?.ext ?? null, found?.mime ?? null) && source.size >= 22) {
    const tailOffset = Math.max(0, source.size - LIMITS.identifyTailBytes);
    const tail = head.length === source.size ? head.subarray(tailOffset) : await source.read(tailOffset, source.size - tailOffset);
    // A record that ends the file first; only without one, a record with bytes after it (a self-extractor then signed).
    const atEnd = zipDirectoryAtEnd(tail, tailOffset, source.size);
    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      if (offset >= tailOffset && offset + length <= source.size) return tail.subarray(offset - tailOffset, offset - tailOffset + length);
      if (offset + length <= head.length) return head.subarray(offset, offset + length);
      return source.read(offset, Math.max(0, Math.min(length, source.size - offset)));
    };
    const zip = atEnd ?? (await zipDirectoryBeforeTrailingBytes(tail, tailOffset, source.size, readAt));
    if (zip) {
      findings.push(embeddedArchiveFinding(zip, found?.ext ?? null));
      // Nothing else known about the bytes, and a whole ZIP ends them after a prefix (a self-extractor, a carved or
      // disguised archive): it is a ZIP, and is unpacked as one. Not a ZIP that bytes follow: a cpio, a package
      // format, any container may end in a ZIP and bytes of its own, and its members are not the file's
      // (cpio-ending-in-zip-identified-as-zip): that stays the finding alone.
      if (atEnd && !found && zip.archiveStart !== null && zip.archiveStart > 0) found = { ext: 'zip', mime: 'application/zip' };
    }
  }
  if (!found) findings.unshift(unidentified(source.size, head.length));
  const identification: Identification = found
    ? { mime: found.mime, detectedExt: found.ext, kind: found.kind ?? kindOf(found.ext, found.mime) }
    : { mime: null, detectedExt: null, kind: 'other' };
  return { ...identification, findings };
}

function unidentified(size: number, headBytes: number): ContentFinding {
  if (size === 0) return { flag: 'unidentified', detail: 'empty file (0 bytes)' };
  const looked = headBytes === size ? `in all ${size} bytes` : `in the first ${headBytes} bytes`;
  return { flag: 'unidentified', detail: `no known file signature ${looked} (nor a TIFF header, a HEIF brand or plain text)` };
}
