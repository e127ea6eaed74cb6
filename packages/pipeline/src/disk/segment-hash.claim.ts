import type { BlobRef, UploadRecord } from '@exhibit/core';
import type { StageDeps } from '../stage.js';

/** Who reads a declared later segment for its upload's hash: its first segment's unpack, or its own hash stage. */
export type SegmentHashReader = 'unpack' | 'hash';

/** Where the claim is kept: a few bytes beside the segment's staging blobs (as an unpack's continuation point is). */
function claimRef(deps: Pick<StageDeps, 'containers'>, upload: UploadRecord): BlobRef {
  return { container: deps.containers.derived, name: `staging/${upload.rootFileId}/segment-hash-reader` };
}

/**
 * Claims the hash of a declared later segment (docs/disk-images.md, "Split
 * sets") for `by`, and returns who holds it. The claim is created once
 * (`ifNotExists`: of two stages racing, exactly one creates it) and never
 * changed, so a segment is read for its hash by one stage only, whatever the
 * timing: the first segment's unpack claims every later segment it is to hash
 * before its first read, the hash stage claims one before hashing it while that
 * unpack may still run (its wait ran out, or the first is not coming). The
 * loser never reads it for the hash: an unpack lists a segment the hash stage
 * holds by ranges only; a hash stage whose segment the unpack holds waits
 * until that unpack is over (done, failed, dead-lettered), then hashes what it
 * left. Content other than a reader's name (never written by us) counts as
 * the hash stage's (an unpack never reads for the hash what it did not claim,
 * so the segment is still hashed, by its hash stage).
 */
export async function claimSegmentHash(
  deps: Pick<StageDeps, 'blobs' | 'containers'>,
  upload: UploadRecord,
  by: SegmentHashReader,
  abortSignal?: AbortSignal,
): Promise<SegmentHashReader> {
  const ref = claimRef(deps, upload);
  const signal = abortSignal ? { abortSignal } : {};
  const { created } = await deps.blobs.upload(ref, Buffer.from(by, 'utf8'), { contentType: 'text/plain', ifNotExists: true, ...signal });
  if (created) return by;
  const held = (await deps.blobs.readRange(ref, 0, 16, signal)).toString('utf8');
  return held === 'unpack' ? 'unpack' : 'hash';
}
