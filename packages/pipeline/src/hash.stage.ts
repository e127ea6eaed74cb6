import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  ExhibitError,
  failed,
  isExhibitError,
  PIPELINE_ACTOR,
  skipped,
  done,
  type AcquisitionInfo,
  type Hashes,
  type HashMessage,
  type IntegrityVerdict,
} from '@exhibit/core';
import { HashingTransform } from './multi-hash.js';
import { only, type Stage, type StageResult } from './stage.js';

export function compareHashes(computed: Hashes, declared: AcquisitionInfo): { integrity: IntegrityVerdict; mismatches: string[] } {
  const mismatches: string[] = [];
  let compared = 0;
  for (const alg of ['md5', 'sha1', 'sha256'] as const) {
    const want = declared[alg];
    if (want === undefined) continue;
    compared += 1;
    if (want !== computed[alg]) mismatches.push(alg);
  }
  if (compared === 0) return { integrity: 'no-reference', mismatches };
  return { integrity: mismatches.length === 0 ? 'verified' : 'mismatch', mismatches };
}

/**
 * MD5, SHA-1 and SHA-256 of an uploaded evidence blob in one streaming read
 * from storage, pinned to the ETag seen at receipt, then compared with the
 * acquisition hashes. A mismatch is recorded loudly; processing continues.
 */
export const hashStage: Stage<HashMessage> = async (deps, message, ctx) => {
  const upload = await deps.index.getUpload(message.blobName);
  if (!upload) return only(skipped('unknown-subject'));
  // The root file goes on to be analysed; what it is is not known yet.
  const forward: StageResult['forward'] = { file: { caseId: upload.caseId, evidenceId: upload.evidenceId, fileId: upload.rootFileId }, facts: { kind: null, unpack: 'n/a' } };
  if (upload.integrity !== 'pending') {
    // Done before; a redelivery may mean the crash came before the next send, so it is routed again (analyse is idempotent).
    return upload.integrity !== 'failed' ? { outcome: skipped('already-done'), forward } : only(skipped('already-done'));
  }
  const ref = { container: deps.containers.evidence, name: upload.blobName };
  const hashing = new HashingTransform();
  try {
    const body = await deps.blobs.openRead(ref, { ifMatch: upload.etag, abortSignal: ctx.abortSignal });
    await pipeline(body, hashing, new Writable({ write: (_c, _e, cb) => cb() }), { signal: ctx.abortSignal });
  } catch (err) {
    hashing.hasher.dispose();
    if (isExhibitError(err, 'precondition-failed') || isExhibitError(err, 'not-found')) {
      const detail = `evidence blob changed or disappeared after receipt (recorded ETag ${upload.etag})`;
      await deps.index.failUploadHash(upload.blobName, { stage: 'hash', code: 'evidence-changed', detail });
      await deps.index.failFile(upload.rootFileId, { stage: 'hash', code: 'evidence-changed', detail });
      await deps.custody.record({
        caseId: upload.caseId,
        evidenceId: upload.evidenceId,
        action: 'evidence-changed',
        actor: PIPELINE_ACTOR,
        subject: { blobName: upload.blobName, fileId: upload.rootFileId },
        details: { recordedEtag: upload.etag, detail },
        eventKey: `evidence-changed:${upload.blobName}:hash`,
      });
      return only(failed('evidence-changed', detail));
    }
    throw err;
  }
  const hashes = await hashing.hasher.digest();
  if (hashing.hasher.bytes !== upload.size) {
    // Storage returned a different length than it reported: retry rather than record a wrong hash.
    throw new ExhibitError('storage-unavailable', `read ${hashing.hasher.bytes} bytes of ${upload.blobName}, expected ${upload.size}`);
  }
  const { integrity, mismatches } = compareHashes(hashes, upload.acquisition);
  await deps.index.ensureContent({ ...hashes, size: upload.size, source: ref });
  await deps.index.advanceFile(upload.rootFileId, 'pending', { sha256: hashes.sha256, size: upload.size });
  await deps.index.recordUploadHashes(upload.blobName, hashes, integrity, mismatches);

  const tools = [
    { name: 'exhibit-pipeline', version: deps.pipelineVersion },
    { name: 'node:crypto/openssl', version: process.versions.openssl ?? 'unknown' },
  ];
  if (integrity === 'mismatch') {
    ctx.logger.error({ blobName: upload.blobName, mismatches, computed: hashes, declared: upload.acquisition }, 'ACQUISITION HASH MISMATCH');
  }
  await deps.custody.record({
    caseId: upload.caseId,
    evidenceId: upload.evidenceId,
    action: integrity === 'mismatch' ? 'integrity-mismatch' : 'integrity-verified',
    actor: PIPELINE_ACTOR,
    subject: { blobName: upload.blobName, fileId: upload.rootFileId, sha256: hashes.sha256 },
    details: { integrity, mismatches, computed: hashes, declared: upload.acquisition, size: upload.size, etag: upload.etag, versionId: upload.versionId },
    tools,
    eventKey: `hash:${upload.blobName}:${upload.etag}`,
  });
  return { outcome: done({ integrity, mismatches, sha256: hashes.sha256, bytes: upload.size }), forward };
};
