import {
  ExhibitError,
  type BlobProperties,
  errorMessage,
  invocationLogger,
  messageSchemas,
  PIPELINE_ACTOR,
  failed,
  type EvidenceRef,
  type QueueName,
  type StageOutcome,
} from '@exhibit/core';
import {
  hashStage,
  identifyStage,
  indexStage,
  ingestBlob,
  metadataStage,
  recordCompletionIfDone,
  recordDeadLetter,
  thumbnailStage,
  unpackStage,
  type IngestOutcome,
  type Stage,
  type StageContext,
} from '@exhibit/pipeline';
import type { ApiRequest, ApiResponse } from '@exhibit/api';
import type { App } from './app.js';
import { withDeadline } from './stage-deadline.js';
import type { BlobCreatedInput, DeadLetterInput, Invocation, QueueInput } from './function-table.types.js';

const STAGES: { [Q in QueueName]: Stage<never> } = {
  hash: hashStage,
  identify: identifyStage,
  unpack: unpackStage,
  metadata: metadataStage,
  thumbnail: thumbnailStage,
  index: indexStage,
};

export async function handleBlobCreated(app: App, input: BlobCreatedInput, inv: Invocation): Promise<IngestOutcome> {
  const logger = invocationLogger(inv.logger, { stage: 'ingest', invocationId: inv.invocationId });
  return ingestBlob(app.stageDeps, input, { logger, messageId: input.eventId ?? inv.invocationId, deliveryCount: 1, ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}) });
}

/**
 * One stage message: validate, run, record what matters. Returns the outcome;
 * throws only retryable faults, which the trigger turns into redelivery and,
 * in the end, dead-lettering.
 */
export async function handleQueueMessage(app: App, queue: QueueName, input: QueueInput, inv: Invocation): Promise<StageOutcome> {
  const parsed = messageSchemas[queue].safeParse(input.body);
  const baseLogger = invocationLogger(inv.logger, { stage: queue, messageId: input.messageId, invocationId: inv.invocationId });
  if (!parsed.success) {
    // Not retryable and names no file: log loudly and drop rather than poison the queue forever.
    baseLogger.error({ issues: parsed.error.issues.slice(0, 5) }, 'invalid message body');
    return failed('invalid-message', parsed.error.message.slice(0, 500));
  }
  const body = parsed.data;
  const logger = invocationLogger(baseLogger, { caseId: body.caseId, evidenceId: body.evidenceId, fileId: body.fileId });
  // Every invocation has a deadline (see withDeadline): no worker stays busy on one message for good.
  const limits = app.stageDeps.limits;
  const stage = STAGES[queue] as Stage<typeof body>;
  const outcome = await withDeadline(
    (abortSignal) => stage(app.stageDeps, body, { logger, messageId: input.messageId, deliveryCount: input.deliveryCount, abortSignal }),
    {
      ...(inv.abortSignal ? { outer: inv.abortSignal } : {}),
      deadlineMs: limits.stageDeadlineMs,
      graceMs: limits.stageDeadlineGraceMs,
      label: `${queue} stage`,
    },
  );
  const ctx: StageContext = {
    logger,
    messageId: input.messageId,
    deliveryCount: input.deliveryCount,
    ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}),
  };
  logger.debug({ outcome }, 'stage finished');
  if (outcome.status === 'failed') {
    await app.stageDeps.custody.record({
      caseId: body.caseId,
      evidenceId: body.evidenceId,
      action: 'stage-failed',
      actor: PIPELINE_ACTOR,
      subject: { fileId: body.fileId },
      details: { stage: queue, code: outcome.code, detail: outcome.detail },
      tools: [{ name: 'exhibit-pipeline', version: app.version }],
      eventKey: `failed:${queue}:${body.fileId}`,
    });
  }
  // A file can only end at index (which checks for itself), by failing, or an archive by finishing its unpack.
  if (queue === 'unpack' || outcome.status === 'failed') {
    await recordCompletionIfDone(app.stageDeps, body, ctx);
  }
  return outcome;
}

export async function handleDeadLetter(app: App, queue: QueueName, input: DeadLetterInput, inv: Invocation): Promise<void> {
  const logger = invocationLogger(inv.logger, { stage: `${queue}-dead-letter`, messageId: input.messageId, invocationId: inv.invocationId });
  const ctx: StageContext = { logger, messageId: input.messageId, deliveryCount: 0 };
  const ref: EvidenceRef | null = await recordDeadLetter(app.stageDeps, queue, input, ctx);
  if (ref) await recordCompletionIfDone(app.stageDeps, ref, ctx);
}

export async function handleHttp(app: App, request: ApiRequest, inv: Invocation): Promise<ApiResponse> {
  return app.api.handle(request, inv.abortSignal ? { abortSignal: inv.abortSignal } : {});
}

/**
 * Finds evidence blobs that were never ingested (a missed event, a crash
 * between receipt and queueing) and ingests them. Uploads received but not yet
 * hashed for longer than `resendPendingAfterMs` have their hash re-queued.
 */
export async function reconcile(
  app: App,
  inv: Invocation,
  options: {
    resendPendingAfterMs?: number;
    known?: Set<string>;
    /** How one blob is ingested; the local watcher passes the function table's blob-created handler. */
    ingest?: (blob: BlobProperties, inv: Invocation) => Promise<IngestOutcome>;
  } = {},
): Promise<{ listed: number; ingested: number; requeued: number }> {
  const logger = invocationLogger(inv.logger, { stage: 'reconcile', invocationId: inv.invocationId });
  const known = options.known ?? (await app.index.listUploadNames());
  let listed = 0;
  let ingested = 0;
  let requeued = 0;
  for await (const blob of app.blobs.list(app.config.containers.evidence, inv.abortSignal ? { abortSignal: inv.abortSignal } : {})) {
    listed += 1;
    let isNew = !known.has(blob.name);
    if (!isNew && options.resendPendingAfterMs !== undefined) {
      const upload = await app.index.getUpload(blob.name);
      isNew = upload !== null && upload.integrity === 'pending' && Date.now() - Date.parse(upload.receivedAt) >= options.resendPendingAfterMs;
      if (isNew) requeued += 1;
    }
    if (!isNew) continue;
    try {
      const outcome = options.ingest
        ? await options.ingest(blob, inv)
        : await ingestBlob(app.stageDeps, { container: blob.container, blobName: blob.name, properties: blob }, {
            logger,
            messageId: `reconcile:${blob.name}`,
            deliveryCount: 1,
            ...(inv.abortSignal ? { abortSignal: inv.abortSignal } : {}),
          });
      if (outcome.status === 'queued') ingested += 1;
      known.add(blob.name);
    } catch (err) {
      // One blob that cannot be ingested now must not stop the others; the next pass retries it.
      if (err instanceof ExhibitError && !err.retryable) known.add(blob.name);
      logger.warn({ blobName: blob.name, err: errorMessage(err) }, 'could not ingest blob; will retry');
    }
  }
  if (ingested > 0) logger.info({ listed, ingested, requeued }, 'reconciled evidence container');
  return { listed, ingested, requeued };
}
