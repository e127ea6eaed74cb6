import {
  isExhibitError,
  messageIdFor,
  parseEvidenceBlobName,
  PIPELINE_ACTOR,
  rootFileId,
  type BlobProperties,
  type HashMessage,
} from '@exhibit/core';
import { acquisitionFromMetadata } from './acquisition.js';
import { extensionOf } from './archive/entry-name.js';
import type { StageContext, StageDeps } from './stage.js';

export type IngestOutcome =
  | { status: 'queued'; blobName: string; fileId: string }
  | {
      status: 'skipped';
      blobName: string;
      reason: 'already-ingested' | 'not-evidence-name' | 'not-found' | 'changed-after-ingest';
    };

/**
 * A new blob in the evidence container: record it once, say so in the custody
 * log, and queue its hash. Called by the blob-created trigger, the local
 * watcher and the reconciliation timer, so it must be safe to call repeatedly.
 */
export async function ingestBlob(
  deps: StageDeps,
  input: { container: string; blobName: string; properties?: BlobProperties },
  ctx: StageContext,
): Promise<IngestOutcome> {
  const { blobName } = input;
  const parsed = parseEvidenceBlobName(blobName);
  if (!parsed || input.container !== deps.containers.evidence) {
    ctx.logger.warn({ blobName }, 'blob name is not <caseId>/<evidenceId>/<file name>; not ingested');
    return { status: 'skipped', blobName, reason: 'not-evidence-name' };
  }
  let props = input.properties;
  if (!props) {
    try {
      props = await deps.blobs.getProperties({ container: input.container, name: blobName }, { abortSignal: ctx.abortSignal });
    } catch (err) {
      if (isExhibitError(err, 'not-found')) return { status: 'skipped', blobName, reason: 'not-found' };
      throw err;
    }
  }
  const fileId = rootFileId(blobName);
  const { created, record } = await deps.index.recordUpload({
    caseId: parsed.caseId,
    evidenceId: parsed.evidenceId,
    blobName,
    fileName: parsed.fileName,
    rootFileId: fileId,
    size: props.size,
    etag: props.etag,
    versionId: props.versionId ?? null,
    contentType: props.contentType ?? null,
    lastModified: props.lastModified.toISOString(),
    acquisition: acquisitionFromMetadata(props.metadata),
  });

  if (record.etag !== props.etag) {
    // Evidence must not change after receipt; a different ETag is a finding, never a reprocess.
    ctx.logger.error({ blobName, recordedEtag: record.etag, etag: props.etag }, 'evidence blob changed after it was received');
    await deps.custody.record({
      caseId: parsed.caseId,
      evidenceId: parsed.evidenceId,
      action: 'evidence-changed',
      actor: PIPELINE_ACTOR,
      subject: { blobName, fileId },
      details: { recordedEtag: record.etag, etag: props.etag, size: props.size, recordedSize: record.size },
      eventKey: `evidence-changed:${blobName}:${props.etag}`,
    });
    return { status: 'skipped', blobName, reason: 'changed-after-ingest' };
  }

  const baseName = parsed.fileName.slice(parsed.fileName.lastIndexOf('/') + 1);
  await deps.index.insertFiles([
    {
      fileId,
      caseId: parsed.caseId,
      evidenceId: parsed.evidenceId,
      parentId: null,
      entryIndex: null,
      depth: 0,
      path: parsed.fileName,
      recordedName: parsed.fileName,
      name: baseName,
      extension: extensionOf(baseName),
      entryKind: 'file',
      size: props.size,
      sha256: null,
      source: { container: input.container, name: blobName },
      archiveTimes: {},
      flags: [],
      stage: 'pending',
      failure: null,
    },
  ]);
  await deps.custody.record({
    caseId: parsed.caseId,
    evidenceId: parsed.evidenceId,
    action: 'received',
    actor: PIPELINE_ACTOR,
    subject: { blobName, fileId },
    details: {
      size: record.size,
      etag: record.etag,
      versionId: record.versionId,
      contentType: record.contentType,
      lastModified: record.lastModified,
      acquisition: record.acquisition,
    },
    eventKey: `received:${blobName}:${record.etag}`,
  });

  if (!created && record.integrity !== 'pending') {
    return { status: 'skipped', blobName, reason: 'already-ingested' };
  }
  // Recorded but not yet hashed (first time, or a crash before the send): queue it. Hashing is idempotent.
  const message: HashMessage = { caseId: parsed.caseId, evidenceId: parsed.evidenceId, blobName, fileId };
  await deps.bus.send(
    'hash',
    [{ body: message, messageId: messageIdFor('hash', fileId), correlationId: `${parsed.caseId}/${parsed.evidenceId}` }],
    { abortSignal: ctx.abortSignal },
  );
  ctx.logger.info({ blobName, size: props.size, created }, 'evidence received');
  return { status: 'queued', blobName, fileId };
}
