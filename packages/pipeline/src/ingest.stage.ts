import {
  isExhibitError,
  isValidId,
  LIMITS,
  parseEvidenceBlobName,
  PIPELINE_ACTOR,
  rootFileId,
  sameEtag,
  type BlobProperties,
  type HashMessage,
  type RejectedBlobReason,
} from '@exhibit/core';
import { acquisitionFromMetadata, withDeclaredHashes } from './acquisition.js';
import { extensionOf } from './archive/entry-name.js';
import type { StageContext, StageDeps } from './stage.js';

export type IngestOutcome =
  /** Recorded and not hashed yet: its hash is queued (by the stage runner, which sends `hash`). */
  | { status: 'queued'; blobName: string; fileId: string; hash: HashMessage }
  | {
      status: 'skipped';
      blobName: string;
      reason: 'already-ingested' | 'not-evidence-name' | 'not-found' | 'changed-after-ingest';
    };

/** Longest piece of a bad name quoted in a rejection's detail; the full name is in its own column. */
const MAX_QUOTED_SEGMENT_CHARS = 80;

const quote = (segment: string) => JSON.stringify(segment.length > MAX_QUOTED_SEGMENT_CHARS ? `${segment.slice(0, MAX_QUOTED_SEGMENT_CHARS)}…` : segment);

/** Says which part of `<caseId>/<evidenceId>/<file name>` a name gets wrong, for the operator who must rename it. */
export function describeBadEvidenceName(blobName: string): string {
  const [caseId = '', evidenceId, ...rest] = blobName.split('/');
  if (evidenceId === undefined) return 'at the container root: the name has no <caseId>/<evidenceId>/ prefix';
  if (caseId === '') return 'empty case id segment (the name starts with /)';
  if (!isValidId(caseId)) return `case id ${quote(caseId)} is not an id (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit, no ..)`;
  if (rest.length === 0) return 'only one folder level: the name needs <caseId>/<evidenceId>/<file name>';
  if (evidenceId === '') return 'empty evidence id segment (// after the case id)';
  if (!isValidId(evidenceId)) return `evidence id ${quote(evidenceId)} is not an id (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit, no ..)`;
  if (blobName.length > LIMITS.maxBlobNameChars) {
    return `the name is ${blobName.length.toLocaleString('en-US')} characters; evidence blob names are at most ${LIMITS.maxBlobNameChars.toLocaleString('en-US')} (Azure Storage's limit; only an emulator holds longer ones)`;
  }
  return 'empty file name (nothing after <caseId>/<evidenceId>/)';
}

async function propertiesOf(deps: StageDeps, input: { container: string; blobName: string; properties?: BlobProperties }, ctx: StageContext) {
  if (input.properties) return input.properties;
  try {
    return await deps.blobs.getProperties({ container: input.container, name: input.blobName }, { abortSignal: ctx.abortSignal });
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return null;
    throw err;
  }
}

/**
 * A blob that is not evidence names no case, so no custody log can hold it:
 * the index's rejected_blobs table does, and GET /admin/rejected-blobs shows
 * it. Recording is idempotent (a redelivery or the watcher's next pass only
 * counts), and a bad name is never thrown: retrying cannot fix it.
 */
async function recordRejection(
  deps: StageDeps,
  input: { container: string; blobName: string },
  props: BlobProperties,
  rejection: { reason: RejectedBlobReason; detail: string },
  ctx: StageContext,
): Promise<void> {
  const { created, record } = await deps.index.recordRejectedBlob({
    container: input.container,
    blobName: input.blobName,
    etag: props.etag,
    size: props.size,
    lastModified: props.lastModified.toISOString(),
    ...rejection,
  });
  ctx.logger.warn(
    {
      container: input.container,
      blobName: input.blobName,
      etag: props.etag,
      reason: rejection.reason,
      detail: rejection.detail,
      seenCount: record.seenCount,
      created,
    },
    'blob is not evidence: recorded as rejected, not ingested (see GET /admin/rejected-blobs)',
  );
}

/**
 * A new blob in the evidence container: record it once, say so in the custody
 * log, and say its hash is to be queued (the stage runner's runIngest sends it). Called by the blob-created trigger, the local
 * watcher and the reconciliation timer, so it must be safe to call repeatedly.
 * A blob that is not named as evidence is recorded as rejected instead.
 */
export async function ingestBlob(
  deps: StageDeps,
  input: { container: string; blobName: string; properties?: BlobProperties },
  ctx: StageContext,
): Promise<IngestOutcome> {
  const { blobName } = input;
  const parsed = parseEvidenceBlobName(blobName);
  if (!parsed || input.container !== deps.containers.evidence) {
    const rejection: { reason: RejectedBlobReason; detail: string } =
      input.container !== deps.containers.evidence
        ? { reason: 'not-evidence-container', detail: `offered for ingest from container ${quote(input.container)}, not the evidence container` }
        : { reason: 'not-evidence-name', detail: describeBadEvidenceName(blobName) };
    const props = await propertiesOf(deps, input, ctx);
    // Gone before we looked: nothing is left to record.
    if (!props) return { status: 'skipped', blobName, reason: 'not-found' };
    await recordRejection(deps, input, props, rejection, ctx);
    return { status: 'skipped', blobName, reason: 'not-evidence-name' };
  }
  const props = await propertiesOf(deps, input, ctx);
  if (!props) return { status: 'skipped', blobName, reason: 'not-found' };
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
    acquisition: withDeclaredHashes(acquisitionFromMetadata(props.metadata), await deps.index.getDeclaredSegment(blobName)),
  });

  if (!sameEtag(record.etag, props.etag)) {
    // Evidence must not change after receipt; a different ETag is a finding, never a reprocess.
    ctx.logger.error({ blobName, recordedEtag: record.etag, etag: props.etag }, 'evidence blob changed after it was received');
    // On the upload too, so status, API and CLI stop saying only "verified".
    await deps.index.recordEvidenceChanged(blobName, { etag: props.etag, size: props.size });
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
  // Recorded but not yet hashed (first time, or a crash before the send): the runner queues it. Hashing is idempotent.
  const hash: HashMessage = { caseId: parsed.caseId, evidenceId: parsed.evidenceId, blobName, fileId };
  ctx.logger.info({ blobName, size: props.size, created }, 'evidence received');
  return { status: 'queued', blobName, fileId, hash };
}
