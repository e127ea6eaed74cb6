import { ExhibitError, isExhibitError, type BlobRef, type UploadRecord } from '@exhibit/core';
import type { StageDeps } from '../stage.js';

/** Who reads a declared later segment for its upload's hash: its first segment's unpack, or its own hash stage. */
export type SegmentHashReader = 'unpack' | 'hash';

/**
 * A segment's claim: who holds it, and since when its holder last moved:
 * storage's time of the claim's last write (its creation, or an unpack
 * delivery's touchSegmentHashClaim) when it was read, the host's time of the
 * create when this call created it (storage's lies within that create's round
 * trip).
 */
export interface SegmentHashClaim {
  reader: SegmentHashReader;
  movedAt: Date;
}

/** Where the claim is kept: a few bytes beside the segment's staging blobs (as an unpack's continuation point is). */
function claimRef(deps: Pick<StageDeps, 'containers'>, upload: UploadRecord): BlobRef {
  return { container: deps.containers.derived, name: `staging/${upload.rootFileId}/segment-hash-reader` };
}

/**
 * Claims the hash of a declared later segment (docs/disk-images.md, "Who
 * reads a segment for its hash") for `by`, and returns who holds it. The
 * claim is created once (`ifNotExists`: of two stages racing, exactly one
 * creates it) and its reader never changed: the first segment's unpack claims every
 * later segment it is to hash before its first read, the hash stage claims
 * one before every read of it for its hash. The loser never reads it for the
 * hash while the holder may: an unpack lists a segment the hash stage holds
 * by ranges only; a hash stage whose segment the unpack holds waits until
 * that unpack is over, or until the claim is older than
 * LIMITS.segmentHashClaimHoldMs (an unpack that claimed and then stalled): its
 * age counts from the unpack's last move (touchSegmentHashClaim), and an
 * unpack delivery reads it for its hash only when it ends before that age
 * could be reached (unpack.stage.ts claimLeavesDeliveryToUnpack).
 * The claim is read before any create: a create of a claim that exists is a
 * failed write (a 409 per pending segment per unpack delivery, per hash
 * re-check). The reader is kept in the blob's metadata (one properties read
 * gives it and the claim's age); anything but `unpack` counts as the hash
 * stage's (an unpack never reads for the hash what it did not claim, so the
 * segment is still hashed, by its hash stage).
 */
export async function claimSegmentHash(
  deps: Pick<StageDeps, 'blobs' | 'containers'>,
  upload: UploadRecord,
  by: SegmentHashReader,
  abortSignal?: AbortSignal,
): Promise<SegmentHashClaim> {
  const ref = claimRef(deps, upload);
  const signal = abortSignal ? { abortSignal } : {};
  const held = await heldClaim(deps, ref, signal);
  if (held) return held;
  const { created } = await deps.blobs.upload(ref, Buffer.from(by, 'utf8'), { contentType: 'text/plain', metadata: { reader: by }, ifNotExists: true, ...signal });
  if (created) return { reader: by, movedAt: new Date() };
  // Created by another stage between the read and the create: it holds the claim.
  const raced = await heldClaim(deps, ref, signal);
  if (raced) return raced;
  throw new ExhibitError('storage-unavailable', `the segment hash claim ${ref.name} exists to a create and not to a read`);
}

/**
 * Written again by an unpack delivery that holds the claim (read as `unpack`)
 * and may read the segment for its hash: at its start, and when it continues
 * in a new message, so the claim's age counts from the unpack's last move and
 * a moving unpack is never read beside. Only ever by a holder: a claim's
 * reader never changes, so the overwrite keeps `unpack`.
 */
export async function touchSegmentHashClaim(deps: Pick<StageDeps, 'blobs' | 'containers'>, upload: UploadRecord, abortSignal?: AbortSignal): Promise<void> {
  await deps.blobs.upload(claimRef(deps, upload), Buffer.from('unpack', 'utf8'), { contentType: 'text/plain', metadata: { reader: 'unpack' }, ...(abortSignal ? { abortSignal } : {}) });
}

/** The segment's claim as stored, or null when no stage claimed it yet; nothing is created. */
export async function segmentHashClaim(
  deps: Pick<StageDeps, 'blobs' | 'containers'>,
  upload: UploadRecord,
  abortSignal?: AbortSignal,
): Promise<SegmentHashClaim | null> {
  return heldClaim(deps, claimRef(deps, upload), abortSignal ? { abortSignal } : {});
}

/** The claim as stored, or null when there is none yet. */
async function heldClaim(deps: Pick<StageDeps, 'blobs'>, ref: BlobRef, signal: { abortSignal?: AbortSignal }): Promise<SegmentHashClaim | null> {
  try {
    const properties = await deps.blobs.getProperties(ref, signal);
    return { reader: properties.metadata['reader'] === 'unpack' ? 'unpack' : 'hash', movedAt: properties.lastModified };
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return null;
    throw err;
  }
}
