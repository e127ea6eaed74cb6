import { FILE_STAGES, FILE_STATES, hasReached, nameExtensions, STAGE_NAMES, STATE_AFTER, type EvidenceStatus, type FileFlag, type FileStage, type StageName, type UploadRecord } from '@exhibit/core';

/** The order a file moves through; 'failed' is outside it (terminal). The lifecycle's (core lifecycle.ts). */
export const FILE_STAGE_ORDER = FILE_STATES;

/** Pipeline order, used to place a failure: stages before it were passed, it and later ones cannot be. */
const STAGE_ORDER: readonly string[] = STAGE_NAMES;

type Counts = { done: number; failed: number; pending: number };
const zero = (): Counts => ({ done: 0, failed: 0, pending: 0 });

/** One group of files with the same state (from a GROUP BY). */
export interface FileStateGroup {
  hasContent: boolean;
  stage: FileStage;
  failureStage: StageName | null;
  unpack: 'n/a' | 'pending' | 'done' | 'failed';
  /** The content's metadata failed while the file went on (its thumbnail does not need it). */
  metadataFailed?: boolean;
  n: number;
}

export interface UploadState {
  integrity: UploadRecord['integrity'];
  /** The hash stage gave up on it (failUploadHash). */
  hashFailed: boolean;
  rootFailureStage: StageName | null;
}

/**
 * Per-stage counts. Definitions (each file lands in exactly one of done,
 * failed, pending for every file stage, so the three add up to the total):
 * - hash counts uploads: done once hashed (verified, mismatch or no
 *   reference); failed when the hash stage gave up on it or its root file
 *   failed at ingest or hash.
 * - identify, metadata, thumbnail, index count files. Entries without
 *   content (directories, links, ...) are done for all of them, as are files
 *   that reached the stage's file stage (a file created as 'indexed' because it
 *   will never be processed has passed everything). A failed file has passed
 *   the stages before its failure and counts as failed for that stage and
 *   every later one, because it will never reach them. A file that went on
 *   past a failed metadata read counts as failed for metadata only.
 * - unpack counts archives only (unpack state other than 'n/a').
 */
export function stageCounts(groups: FileStateGroup[], uploads: UploadState[]): EvidenceStatus['stages'] {
  const stages: EvidenceStatus['stages'] = {
    hash: zero(),
    identify: zero(),
    unpack: zero(),
    metadata: zero(),
    thumbnail: zero(),
    index: zero(),
  };
  for (const u of uploads) {
    if (u.integrity !== 'pending') stages.hash.done++;
    else if (u.hashFailed || u.rootFailureStage === 'ingest' || u.rootFailureStage === 'hash') stages.hash.failed++;
    else stages.hash.pending++;
  }
  for (const g of groups) {
    for (const name of ['identify', 'metadata', 'thumbnail', 'index'] as const) {
      const bucket = stages[name];
      if (!g.hasContent) bucket.done += g.n;
      else if (name === 'metadata' && g.metadataFailed && g.stage !== 'failed' && g.stage !== 'pending' && g.stage !== 'identified') {
        // Past metadata but without it: a failure of that stage, not a pass.
        bucket.failed += g.n;
      } else if (g.stage === 'failed') {
        const failedAt = STAGE_ORDER.indexOf(g.failureStage ?? 'ingest');
        if (failedAt > STAGE_ORDER.indexOf(name)) bucket.done += g.n;
        else bucket.failed += g.n;
      } else if (hasReached(g.stage, STATE_AFTER[name])) {
        bucket.done += g.n;
      } else bucket.pending += g.n;
    }
    if (g.unpack === 'done') stages.unpack.done += g.n;
    else if (g.unpack === 'failed') stages.unpack.failed += g.n;
    else if (g.unpack === 'pending') stages.unpack.pending += g.n;
  }
  return stages;
}

export function countByStage(groups: FileStateGroup[]): EvidenceStatus['files'] {
  const byStage = Object.fromEntries(FILE_STAGES.map((s) => [s, 0])) as Record<FileStage, number>;
  let total = 0;
  for (const g of groups) {
    byStage[g.stage] += g.n;
    total += g.n;
  }
  return { total, byStage };
}

const FLAG_DETAIL: Record<FileFlag, string> = {
  'ext-mismatch': 'the name’s extension does not match the content',
  'path-traversal': 'the archive path climbs out of the archive (..)',
  'absolute-path': 'the archive path is absolute',
  'odd-name': 'the name holds control or unusual characters',
  'duplicate-name': 'another member of the archive has the same name',
  link: 'a link; its target is recorded, not followed',
  device: 'a device or special file; no content',
  encrypted: 'encrypted; the content could not be read',
  'limit-exceeded': 'a safety limit stopped processing',
  'hash-mismatch': 'computed hashes differ from the declared ones',
  'exif-preview-thumbnail': 'the thumbnail comes from the embedded EXIF preview, which may differ from the image',
  'not-unpacked-depth': 'an archive nested too deeply to unpack',
  'metadata-partial': 'the metadata could be read only in part',
  'text-escaped': 'a text field held unprintable bytes, shown escaped',
  'size-mismatch': 'the size EXIF declares differs from the image’s real size',
  'taken-at-conflict': 'the file records different capture times (EXIF, XMP or IPTC; a video’s XMP and its QuickTime time)',
  'gps-null-island': 'GPS position recorded as 0,0; not used as a location',
  'gps-out-of-range': 'GPS position out of range; not used as a location',
  'gps-void': 'GPS position recorded as a void measurement (GPSStatus V); not used as a location',
  'header-mismatch': 'the member’s local header disagrees with the archive’s central directory (name, sizes, method or flags); read as the central directory records it',
  'archive-prefix': 'bytes precede the archive’s first member (a self-extractor stub, or hidden data)',
  'zip-offsets-shifted': 'the archive’s offsets do not count the bytes in front of it (a stub prepended without adjusting them, or another ZIP); every offset was read shifted by their length, as unzip does',
  'archive-trailing-data': 'bytes follow the archive’s end record (appended data or another archive)',
  'end-record-in-comment': 'the archive’s comment holds a second end record, which hides its members from common tools; read by the real one',
  'zip-chain': 'several ZIPs laid end to end in one file; each one’s members are listed, those of the ZIPs other than the one its end describes under zip-chain-<n>/',
  'zip-chain-incomplete': 'a ZIP of such a chain could not be listed to its end (its directory is damaged); its members before the damage, and all the others’, are listed; or the search for such a chain did not finish (out of parser time), and only the archive’s own members are listed',
  'overlapping-entries': 'archive entries share or overlap their bytes (a crafted decompression bomb); nothing was extracted',
  deleted: 'a deleted file-system entry (its directory entry, MFT record or inode is free)',
  recovered: 'deleted, with its data read back as far as the file system still describes it; the clusters may since have been reused',
  'image-hash-mismatch': 'the acquisition hash stored in the disk image differs from the hash of the media data read',
  'image-media-damaged': 'the disk image’s media fails a checksum its acquisition wrote (a damaged or altered chunk), or part of it is lost (a segment cut short or missing): it is not as acquired, and any acquisition hash stored in the image cannot be verified',
  'gzip-unverified': 'the gzip member holding this member’s bytes was not checked against its CRC-32/size trailer: reading stopped (truncated, a limit or the deadline) before it',
  // Content findings carry their own recorded detail; these are the fallbacks.
  unidentified: 'no known file signature',
  'trailing-data': 'data after the end of the image',
  'embedded-archive': 'an archive is embedded in the file',
  'partially-decoded': 'the image could be decoded only in part',
  'no-content': 'the decoded image is one flat colour',
  'orientation-conflict': 'HEIF transforms and EXIF orientation disagree',
  'preview-differs': 'the embedded EXIF preview differs from the image (it may have been edited after the preview was made)',
};

export function flagDetail(
  flag: string,
  context: { extension: string | null; detectedExt: string | null; mime: string | null; metadataFindings?: unknown; fileName?: string | null },
): string {
  if (flag === 'ext-mismatch' && context.detectedExt) {
    // The extension the mismatch was judged on (nameExtensions: 'holiday.jpg.1' is a .jpg), not the last dot's.
    const extension = context.fileName ? (nameExtensions(context.fileName, context.detectedExt)[0] ?? null) : context.extension;
    const named = extension ? `.${extension}` : 'no extension';
    return `named with ${named}, but the content is .${context.detectedExt}${context.mime ? ` (${context.mime})` : ''}`;
  }
  // Metadata findings carry their own detail (which tags, which values) in the content's metadata.
  if (Array.isArray(context.metadataFindings)) {
    const details = context.metadataFindings
      .filter((f): f is { flag: string; detail: string } => typeof f === 'object' && f !== null && (f as { flag?: unknown }).flag === flag && typeof (f as { detail?: unknown }).detail === 'string')
      .map((f) => f.detail);
    if (details.length > 0) return details.join('; ');
  }
  return FLAG_DETAIL[flag as FileFlag] ?? flag;
}
