import { LIMITS, type ContentFinding, type Identification, type IdentificationResult, type RandomAccessSource } from '@exhibit/core';
import { kindOf } from './extensions.js';
import { diskImageOf } from './disk-image-sniff.js';
import { ftypBrands, heifFromBrands } from './heif-brands.js';
import { quickTimeWithoutFtyp, trackHandlers } from './iso-bmff-tracks.js';
import { embeddedArchiveFinding, isZipBased, zipDirectoryAtEnd } from './polyglot.js';
import { plainText } from './text-sniff.js';
import { identifyTiff } from './tiff-header.js';

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
  let found = await fileTypeOf(head);
  // file-type calls any ISO-BMFF with an unknown major brand an MP4 video; a camera HEIF may be one.
  const heif = found === null || found.ext === 'mp4' ? heifFromBrands(head) : null;
  if (heif) found = heif;
  if (found?.ext === 'mp4' && (await audioOnlyMp4(source, head))) found = { ext: 'm4a', mime: 'audio/x-m4a' };
  if (found === null) found = await quickTimeWithoutFtyp(source, head);
  if (found === null) found = await identifyTiff(source, head);
  if (found === null) found = await diskImageOf(source, head);
  if (found === null) found = plainText(head);

  const findings: ContentFinding[] = [];
  if (!isZipBased(found?.ext ?? null, found?.mime ?? null) && source.size >= 22) {
    const tailOffset = Math.max(0, source.size - LIMITS.identifyTailBytes);
    const tail = head.length === source.size ? head.subarray(tailOffset) : await source.read(tailOffset, source.size - tailOffset);
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

/**
 * An MP4 with sound tracks and no video track, under a generic ISO brand
 * (`isom`, `iso2`..., `dash`): what Android's recorder and many voice and
 * call recorders write as `.m4a`, where iTunes writes an `M4A ` brand.
 * file-type goes by the brand alone and calls it an MP4 video; the file then
 * failed at its contact sheet ("no video frame") and a `.m4a` name was a
 * mismatch. The rule is exiftool's (QuickTime.pm: FileType MP4 with an
 * `iso*`/`dash` major brand, a `soun` handler and no `vide` one is M4A).
 * Unknown tracks (no readable `moov`, a cut file) leave it an MP4.
 */
async function audioOnlyMp4(source: RandomAccessSource, head: Buffer): Promise<boolean> {
  const brands = ftypBrands(head);
  if (!brands || !/^(iso|dash)/.test(brands.major)) return false;
  const handlers = await trackHandlers(source, { untilVideo: true });
  return handlers !== null && handlers.has('soun') && !handlers.has('vide');
}

function unidentified(size: number, headBytes: number): ContentFinding {
  if (size === 0) return { flag: 'unidentified', detail: 'empty file (0 bytes)' };
  const looked = headBytes === size ? `in all ${size} bytes` : `in the first ${headBytes} bytes`;
  return { flag: 'unidentified', detail: `no known file signature ${looked} (nor a TIFF header, a HEIF brand or plain text)` };
}
