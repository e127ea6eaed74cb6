import {
  ExhibitError,
  sameEtag,
  type BlobProperties,
  errorMessage,
  invocationLogger,
  parseEvidenceBlobName,
  PIPELINE_ACTOR,
  QUEUES,
  type QueueName,
  type StageOutcome,
} from '@exhibit/core';
import { runDeadLetter, runIngest, runMessage, STAGE_GRAPH, type IngestOutcome } from '@exhibit/pipeline';
import type { ApiRequest, ApiResponse } from '@exhibit/api';
import type { App } from './app.js';
import type { BlobCreatedInput, DeadLetterInput, Invocation, QueueInput } from './function-table.types.js';

/*
 * The function table's handlers: each hands its trigger's input to the stage
 * runner (@exhibit/pipeline, stage-runner.ts), which owns the flow between stages.
 */

export async function handleBlobCreated(app: App, input: BlobCreatedInput, inv: Invocation): Promise<IngestOutcome> {
  const logger = invocationLogger(inv.logger, { stage: 'ingest', invocationId: inv.invocationId });
  return runIngest(app.stageDeps, input, { logger, messageId: input.eventId ?? inv.invocationId, deliveryCount: 1, ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}) });
}

/** One stage message; throws only retryable faults, which the trigger turns into redelivery and, in the end, dead-lettering. */
export function handleQueueMessage(app: App, queue: QueueName, input: QueueInput, inv: Invocation): Promise<StageOutcome> {
  return runMessage(app.stageDeps, queue, input, inv);
}

export function handleDeadLetter(app: App, queue: QueueName, input: DeadLetterInput, inv: Invocation): Promise<void> {
  return runDeadLetter(app.stageDeps, queue, input, inv);
}

export async function handleHttp(app: App, request: ApiRequest, inv: Invocation): Promise<ApiResponse> {
  return app.api.handle(request, inv.abortSignal ? { abortSignal: inv.abortSignal } : {});
}

/** The queues whose work on an item runs under its stage lease (unpack, hash): the stage graph says which. */
const LEASED_QUEUES: readonly QueueName[] = QUEUES.filter((q) => STAGE_GRAPH[q].leased);

/**
 * Finds evidence blobs that were never ingested (a missed event, a crash
 * between receipt and queueing) and ingests them. Uploads received but not yet
 * hashed for longer than `resendPendingAfterMs` have their hash re-queued, unless their unpack or hash runs now.
 * A received blob listed with another ETag was overwritten: it is offered to
 * ingest again, which records `evidence-changed` (custody and the upload)
 * rather than reprocessing it. In Azure, Event Grid's blob-created event for
 * the overwrite does the same; locally this pass is the watcher.
 */
export async function reconcile(
  app: App,
  inv: Invocation,
  options: {
    resendPendingAfterMs?: number;
    /** Blob name → the ETag it was received (or last seen changed) with, kept between passes. */
    known?: Map<string, string>;
    /** How one blob is ingested; the local watcher passes the function table's blob-created handler. */
    ingest?: (blob: BlobProperties, inv: Invocation) => Promise<IngestOutcome>;
  } = {},
): Promise<{ listed: number; ingested: number; requeued: number; changed: number }> {
  const logger = invocationLogger(inv.logger, { stage: 'reconcile', invocationId: inv.invocationId });
  const known = options.known ?? (await app.index.listUploadEtags());
  // Pending uploads to offer again, picked in one query: old enough, and no unpack or hash of theirs running now (a live
  // stage lease). One hashed in its unpack's read stays pending for the whole unpack; offered beside it, its hash message
  // sent the unpack its message again, which deferred to the live attempt and re-sent itself until the unpack ended.
  const resend =
    options.resendPendingAfterMs === undefined
      ? new Set<string>()
      : await app.index.listUploadsToOfferAgain({ pendingForMs: options.resendPendingAfterMs, unlessLeasedOn: LEASED_QUEUES });
  let listed = 0;
  let ingested = 0;
  let requeued = 0;
  let changed = 0;
  const seen = new Set<string>();
  for await (const blob of app.blobs.list(app.config.containers.evidence, inv.abortSignal ? { abortSignal: inv.abortSignal } : {})) {
    listed += 1;
    seen.add(blob.name);
    const knownEtag = known.get(blob.name);
    let offer = knownEtag === undefined;
    const isChanged = knownEtag !== undefined && !sameEtag(knownEtag, blob.etag);
    if (isChanged) {
      offer = true;
      changed += 1;
    }
    if (!offer && resend.has(blob.name)) {
      offer = true;
      requeued += 1;
    }
    if (!offer) continue;
    try {
      const outcome = options.ingest
        ? await options.ingest(blob, inv)
        : await runIngest(app.stageDeps, { container: blob.container, blobName: blob.name, properties: blob }, {
            logger,
            messageId: `reconcile:${blob.name}`,
            deliveryCount: 1,
            ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}),
          });
      if (outcome.status === 'queued') ingested += 1;
      // A changed blob is remembered with the ETag now seen, so it is reported once per change.
      known.set(blob.name, blob.etag);
    } catch (err) {
      // One blob that cannot be ingested now must not stop the others; the next pass retries it.
      if (err instanceof ExhibitError && !err.retryable) known.set(blob.name, blob.etag);
      logger.warn({ blobName: blob.name, err: errorMessage(err) }, 'could not ingest blob; will retry');
    }
  }
  // A complete listing that no longer has a received blob: the evidence is gone. Only
  // after the loop ran to the end (an aborted or failed listing proves nothing).
  for (const [blobName, etag] of known) {
    if (seen.has(blobName) || etag === '') continue;
    const parsed = parseEvidenceBlobName(blobName);
    if (!parsed) continue;
    changed += 1;
    logger.error({ blobName, recordedEtag: etag }, 'evidence blob is gone from storage');
    await app.index.recordEvidenceChanged(blobName, { etag: '', size: null });
    await app.stageDeps.custody.record({
      caseId: parsed.caseId,
      evidenceId: parsed.evidenceId,
      action: 'evidence-changed',
      actor: PIPELINE_ACTOR,
      subject: { blobName },
      details: { recordedEtag: etag, etag: null, detail: 'the evidence blob is no longer in storage' },
      eventKey: `evidence-changed:${blobName}:gone`,
    });
    known.set(blobName, '');
  }
  if (ingested > 0 || changed > 0) logger.info({ listed, ingested, requeued, changed }, 'reconciled evidence container');
  return { listed, ingested, requeued, changed };
}
