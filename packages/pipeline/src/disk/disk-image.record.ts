import { custodyEwfHeader, custodySegmentList, errorMessage, isExhibitError, PIPELINE_ACTOR, type DiskImageRecord, type FileRecord, type IntegrityVerdict, type Logger } from '@exhibit/core';
import type { StageDeps } from '../stage.js';
import { HASH_WASM_VERSION } from '../resumable-hash.js';
import type { DiskImageReader } from './disk-image.reader.js';
import { incompleteMediaDetail, storedHashesCheckable, storesHashes } from './disk-image.tasks.js';
import { MEDIA_CHUNK_DAMAGED } from './ewf-image.container.js';
import type { StoredHashCheck } from './open-disk-image.js';

/**
 * What unpack records about a disk image once its files are listed
 * (migration 0030, docs/disk-images.md): container, volumes and, for EWF, the
 * acquisition header and the check examiners rely on (`ewfverify`): the
 * MD5/SHA-1 stored in the image against a hash of the media data read through
 * it. The check is a custody entry (image-hash-verified / image-hash-mismatch)
 * like the acquisition-hash check of an upload, and a mismatch is a finding
 * on the image file; a media that cannot be read whole is recorded as
 * 'failed' with the reason. Media that fails the checksums its acquisition
 * wrote (an EWF chunk's Adler-32, a chunk that does not inflate) is damaged or
 * altered evidence, as much an integrity problem as a mismatch: its check is
 * the custody entry image-media-damaged (stored hashes, the reason) and the
 * finding of the same name. So is a split raw set whose piece before the last
 * lost its tail (checkSplitRawSizes): no stored hashes, but media not as
 * acquired, recorded 'failed' with the range lost, flagged and in custody the
 * same way. Idempotent: a redelivery recomputes the same facts, the
 * custody key dedupes the entry and the row is replaced with the same values.
 */
/** The check ended on media failing the checksums its acquisition wrote (an EWF chunk), not on another corrupt-file error. */
export function isMediaDamage(err: unknown): boolean {
  return isExhibitError(err) && err.code === 'corrupt-file' && err.details?.['reason'] === MEDIA_CHUNK_DAMAGED;
}

export async function recordDiskImage(
  deps: StageDeps,
  parent: FileRecord,
  reader: DiskImageReader,
  options: {
    abortSignal?: AbortSignal;
    logger: Logger;
    /** The check, when taken elsewhere (resumable-image-check.ts, over several attempts); reader.verify() otherwise. */
    check?: () => Promise<StoredHashCheck>;
    /** The check was hashed with hash-wasm (resumable), not node:crypto: named in custody's tools. */
    resumable?: boolean;
  },
): Promise<DiskImageRecord> {
  const { image } = reader;
  const ewf = image.ewf;
  let integrity: IntegrityVerdict = 'no-reference';
  let mismatches: string[] = [];
  let computed: DiskImageRecord['computedHashes'] = null;
  let detail: string | null = null;
  /**
   * The media is not what was acquired, as the image itself shows: a chunk failing its acquisition checksums
   * (corrupt-file), or a segment cut short or missing. Not a stop of the check itself.
   */
  let mediaDamaged = false;
  const incomplete = image.incomplete ?? ewf?.incomplete;
  if (incomplete?.length) {
    // A segment cut short or missing (EWF), a split raw piece whose tail was lost: the media cannot be read whole, and the
    // stored hashes (EWF) are of media not all here, so no check is possible (not verified, not a mismatch), whether or
    // not the lost part held them.
    integrity = 'failed';
    mediaDamaged = true;
    detail = incompleteMediaDetail(incomplete, { storedHashes: storesHashes(ewf) });
  } else if (storedHashesCheckable(ewf)) {
    try {
      const check = options.check ? await options.check() : await reader.verify(options.abortSignal ? { abortSignal: options.abortSignal } : {});
      computed = { md5: check.computed.md5, sha1: check.computed.sha1, sha256: check.computed.sha256 };
      mismatches = [...(check.md5Matches === false ? ['md5'] : []), ...(check.sha1Matches === false ? ['sha1'] : [])];
      integrity = mismatches.length > 0 ? 'mismatch' : 'verified';
    } catch (err) {
      // The media cannot be read whole, so nothing is verified; only a chunk failing its checksum or inflate (typed
      // MEDIA_CHUNK_DAMAGED where it is raised) is damaged media, not the check's own inconsistency or a segment error.
      if (!isExhibitError(err) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
      integrity = 'failed';
      mediaDamaged = isMediaDamage(err);
      // Worded by what ended it: the resumable check (disk/resumable-image-check.ts) also ends on saved progress it could
      // not use and on a segment blob that changed, neither of which is media that could not be read.
      detail =
        err.code === 'hash-state-unusable'
          ? `the stored-hash check was given up (hash-state-unusable): ${errorMessage(err)}`
          : err.code === 'evidence-changed'
            ? `the stored-hash check was stopped (evidence-changed): ${errorMessage(err)}`
            : `the media could not be read whole to check the stored hashes: ${errorMessage(err)}`;
    }
  }
  const record: DiskImageRecord = {
    fileId: parent.fileId,
    caseId: parent.caseId,
    evidenceId: parent.evidenceId,
    format: image.format,
    mediaBytes: image.mediaBytes,
    segmentCount: image.segmentCount,
    segments: reader.segmentBlobs,
    volumes: reader.volumes(),
    volumeProblems: image.volumeProblems,
    ewfHeader: ewf ? { ...ewf.header } : null,
    storedHashes: ewf ? { ...ewf.storedHashes } : null,
    computedHashes: computed,
    integrity,
    mismatches,
    integrityDetail: detail,
  };
  // A check stopped for another reason (a segment blob that changed: evidence-changed, recorded as such; saved progress
  // it could not use: hash-state-unusable) says nothing about the media and is recorded with the image only.
  // Media lost from a split raw set is damaged media as an EWF's is: flagged and in custody, with no stored hashes to name.
  if (mediaDamaged || (ewf && (integrity === 'verified' || integrity === 'mismatch'))) {
    if (integrity === 'mismatch') {
      options.logger.error({ fileId: parent.fileId, stored: ewf?.storedHashes, computed, mismatches }, 'DISK IMAGE STORED HASH MISMATCH');
      await deps.index.addFlags(parent.fileId, ['image-hash-mismatch']);
    }
    if (mediaDamaged) {
      // Not a mismatch (no hash of the whole media was computed to differ), but the acquisition's own checksums say the
      // media is no longer what was acquired: the examiner must see it as they see a mismatch.
      options.logger.error({ fileId: parent.fileId, stored: ewf?.storedHashes ?? null, detail }, 'DISK IMAGE MEDIA DAMAGED');
      await deps.index.addFlags(parent.fileId, ['image-media-damaged']);
    }
    await deps.custody.record({
      caseId: parent.caseId,
      evidenceId: parent.evidenceId,
      action: mediaDamaged ? 'image-media-damaged' : integrity === 'mismatch' ? 'image-hash-mismatch' : 'image-hash-verified',
      actor: PIPELINE_ACTOR,
      subject: { fileId: parent.fileId, ...(parent.sha256 ? { sha256: parent.sha256 } : {}) },
      details: {
        format: image.format,
        integrity,
        mismatches,
        stored: ewf ? ewf.storedHashes : null,
        computed,
        mediaBytes: image.mediaBytes,
        // The hash covers the media joined from these blobs, in this order (their digest past LIMITS.maxCustodySegmentListBytes).
        ...custodySegmentList(reader.segmentBlobs, deps.limits.maxCustodySegmentListBytes),
        // Whole within LIMITS.maxCustodyEwfHeaderBytes; past it each field cut (`truncated` per field) and the
        // SHA-256 of the whole header, which the index keeps: a long notes field made the entry over 64 KiB.
        ...(ewf ? custodyEwfHeader(ewf.header, deps.limits.maxCustodyEwfHeaderBytes, deps.limits.maxCustodyEwfHeaderFieldChars) : {}),
        ...(detail ? { detail } : {}),
      },
      tools: [
        { name: 'exhibit-pipeline', version: deps.pipelineVersion },
        options.resumable ? { name: 'hash-wasm', version: HASH_WASM_VERSION } : { name: 'node:crypto/openssl', version: process.versions.openssl ?? 'unknown' },
      ],
      eventKey: `image-hash:${parent.fileId}`,
    });
  }
  await deps.index.recordDiskImage(record);
  return record;
}
