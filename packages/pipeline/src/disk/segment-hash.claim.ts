import { ExhibitError, isExhibitError, type BlobRef, type UploadRecord } from '@exhibit/core';
import type { StageDeps } from '../stage.js';

/** Who reads a declared later segment for its upload's hash: its first segment's unpack, or its own hash stage. */
export type SegmentHashReader = 'unpack' | 'hash';

/** A segment's claim: who holds it, and since when (storage's time of the claim's creation). */
export interface SegmentHashClaim {
  reader: SegmentHashReader;
  claimedAt: Date;
}

/** Where the claim is kept: a few bytes beside the segment's staging blobs (as an unpack's continuation point is). */
function claimRef(deps: Pick<StageDeps, 'containers'>, upload: UploadRecord): BlobRef {
  return { container: deps.containers.derived, name: `staging/${upload.rootFileId}/segment-hash-reader` };
}

/**
 * Claims the hash of a declared later segment (docs/disk-images.md, "Who
 * reads a segment for its hash") for `by`, and returns who holds it. The
 * claim is created once (`ifNotExists`: of two stages racing, exactly one
 * creates it) and never changed: the first segment's unpack claims every
 * later segment it is to hash before its first read, the hash stage claims
 * one before every read of it for its hash. The loser never reads it for the
 * hash while the holder may: an unpack lists a segment the hash stage holds
 * by ranges only; a hash stage whose segment the unpack holds waits until
 * that unpack is over, or until the claim is older than
 * LIMITS.segmentHashClaimHoldMs (an unpack that claimed and then stalled).
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
  if (created) return { reader: by, claimedAt: new Date() };
  // Created by another stage between the read and the create: it holds the claim.
  const raced = await heldClaim(deps, ref, signal);
  if (raced) return raced;
  throw new ExhibitError('storage-unavailable', `the segment hash claim ${ref.name} exists to a create and not to a read`);
}

/** The claim as stored, or null when there is none yet. */
async function heldClaim(deps: Pick<StageDeps, 'blobs'>, ref: BlobRef, signal: { abortSignal?: AbortSignal }): Promise<SegmentHashClaim | null> {
  try {
    const properties = await deps.blobs.getProperties(ref, signal);
    return { reader: properties.metadata['reader'] === 'unpack' ? 'unpack' : 'hash', claimedAt: properties.createdOn ?? properties.lastModified };
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return null;
    throw err;
  }
}
