import { ExhibitError, isDiskImageMime, type BlobStore, type ContentSource } from '@exhibit/core';
import { openDiskImageReader } from '../disk/disk-image.reader.js';
import { findImageSegments, type ReceivedEtag } from '../disk/image-segments.js';
import type { ArchiveFormat, ArchiveReader } from './archive-reader.js';
import { isTarHeader } from './tar-header.js';
import { openTarReader } from './tar.reader.js';
import { openZipReader } from './zip.reader.js';


/** Bytes needed to recognise every format we read (one tar header block). */
export const ARCHIVE_SNIFF_BYTES = 512;

/**
 * The container format, from the content first and the identified MIME type
 * second (a ZIP may carry a prefix, e.g. a self-extractor, so its first bytes
 * are not "PK"). Gzip is assumed to hold a tar; the tar reader reports
 * 'unsupported-format' if it does not.
 */
export function detectArchiveFormat(head: Uint8Array, mime: string | null): Exclude<ArchiveFormat, 'disk-image'> | null {
  const b = head;
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5 || b[2] === 7) && (b[3] === 4 || b[3] === 6 || b[3] === 8)) return 'zip';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tar.gz';
  if (isTarHeader(b)) return 'tar';
  switch (mime) {
    case 'application/zip':
    case 'application/x-zip-compressed':
      return 'zip';
    case 'application/x-tar':
      return 'tar';
    case 'application/gzip':
    case 'application/x-gzip':
      return 'tar.gz';
    default:
      return null;
  }
}

export interface OpenArchiveOptions {
  /** MIME type from identification; a hint when the content is not recognised. */
  mime: string | null;
  /** The archive's own size; required when `source` is a span of a larger blob (it has an offset). */
  size?: number;
  /** From LIMITS / StageDeps.limits. */
  limits: {
    maxEntryNameBytes: number;
    maxCompressionRatio: number;
    compressionRatioMinBytes: number;
    /** Holes one GNU sparse TAR member may expand to (LIMITS by default). */
    maxSparseHoleBytes?: number;
    maxArchiveEntries?: number;
    /** Disk-image parser thread budgets (LIMITS by default). */
    diskOpenTimeoutMs?: number;
    diskParseStepMs?: number;
    /** ZIP and TAR parser thread budgets (LIMITS by default). */
    archiveOpenTimeoutMs?: number;
    archiveParseStepMs?: number;
    /** A ZIP's whole chain search (LIMITS by default). */
    zipChainSearchTimeoutMs?: number;
  };
  abortSignal?: AbortSignal;
  /** A split disk image's segments are pinned to the ETags they were received with (the index's upload records). */
  receivedEtag?: ReceivedEtag;
  /** A split image declared with a manifest: its segments' blob names in order (the first is `source`'s). */
  declaredSegments?: string[];
  /** A disk image: false leaves the EWF stored-hash check's media wholly to after the listing (disk-image.reader.ts). */
  hashMediaInListing?: boolean;
  /** A disk image: media of at least this many bytes is not fed to the stored-hash check in the listing either (its check is resumable). */
  hashMediaInListingBelowBytes?: number;
  /** Whether an earlier attempt recorded this entry index's member: a ZIP's chain search that does not finish fails retryably when one of the chain's was (zip.reader.ts). */
  isRecorded?: (entryIndex: number) => Promise<boolean>;
}

/**
 * Opens the archive at `source` (a blob, or a span of one) for reading. Throws ExhibitError
 * 'unsupported-format' when it is no format we read, 'corrupt-file' when its
 * structure is unreadable, or a retryable storage fault.
 */
export async function openArchive(blobs: BlobStore, source: ContentSource, options: OpenArchiveOptions): Promise<ArchiveReader> {
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  const blob = { container: source.container, name: source.name };
  const properties = await blobs.getProperties(blob, signal);
  const offset = source.offset ?? 0;
  // A span must lie inside its blob; the index says where, storage says how big the blob is.
  const size = source.offset === undefined ? properties.size : options.size;
  if (size === undefined || !Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > properties.size) {
    throw new ExhibitError('invalid-argument', `archive span ${offset}+${String(size)} does not fit in ${blob.container}/${blob.name} (${properties.size} bytes)`);
  }
  // Identification named it a disk image from its content (an EWF or VHD signature, a partition table, a boot sector).
  if (isDiskImageMime(options.mime)) {
    // A first segment (card.E01, disk.001) whose siblings are in the evidence item: one image over all of them.
    const moreSegments =
      source.offset === undefined
        ? await findImageSegments(blobs, properties, {
            ...signal,
            ...(options.receivedEtag ? { receivedEtag: options.receivedEtag } : {}),
            ...(options.declaredSegments ? { declared: options.declaredSegments } : {}),
          })
        : null;
    return openDiskImageReader(blobs, blob, properties.size, {
      ...(moreSegments ? { moreSegments } : {}),
      ...(source.offset !== undefined ? { offset } : {}),
      size,
      etag: properties.etag,
      maxEntryNameBytes: options.limits.maxEntryNameBytes,
      ...(options.limits.diskOpenTimeoutMs !== undefined ? { diskOpenTimeoutMs: options.limits.diskOpenTimeoutMs } : {}),
      ...(options.limits.diskParseStepMs !== undefined ? { diskParseStepMs: options.limits.diskParseStepMs } : {}),
      ...(options.hashMediaInListing === false ? { hashMediaInListing: false } : {}),
      ...(options.hashMediaInListingBelowBytes !== undefined ? { hashMediaInListingBelowBytes: options.hashMediaInListingBelowBytes } : {}),
      ...signal,
    });
  }
  const head = await blobs.readRange(blob, offset, Math.min(ARCHIVE_SNIFF_BYTES, size), { ifMatch: properties.etag, ...signal });
  const format = detectArchiveFormat(head, options.mime);
  const common = {
    etag: properties.etag,
    maxEntryNameBytes: options.limits.maxEntryNameBytes,
    ...(options.limits.archiveParseStepMs !== undefined ? { archiveParseStepMs: options.limits.archiveParseStepMs } : {}),
    ...signal,
  };
  switch (format) {
    case 'zip':
      return openZipReader(blobs, blob, {
        size,
        ...(source.offset !== undefined ? { offset } : {}),
        ...(options.limits.maxArchiveEntries !== undefined ? { maxEntries: options.limits.maxArchiveEntries } : {}),
        ...(options.limits.archiveOpenTimeoutMs !== undefined ? { archiveOpenTimeoutMs: options.limits.archiveOpenTimeoutMs } : {}),
        ...(options.limits.zipChainSearchTimeoutMs !== undefined ? { zipChainSearchTimeoutMs: options.limits.zipChainSearchTimeoutMs } : {}),
        ...(options.isRecorded ? { isRecorded: options.isRecorded } : {}),
        ...common,
      });
    case 'tar':
    case 'tar.gz':
      return openTarReader(blobs, blob, {
        ...(source.offset !== undefined ? { span: { offset, size } } : {}),
        gzip: format === 'tar.gz',
        maxCompressionRatio: options.limits.maxCompressionRatio,
        compressionRatioMinBytes: options.limits.compressionRatioMinBytes,
        ...(options.limits.maxSparseHoleBytes !== undefined ? { maxSparseHoleBytes: options.limits.maxSparseHoleBytes } : {}),
        ...common,
      });
    case null:
      throw new ExhibitError('unsupported-format', `not a ZIP, TAR or TAR.GZ archive (type ${options.mime ?? 'unknown'})`);
  }
}
