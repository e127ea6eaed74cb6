import {
  failed,
  invocationLogger,
  messageIdFor,
  messageSchemas,
  PIPELINE_ACTOR,
  QUEUE_STEPS,
  type BlobProperties,
  type Bus,
  type EvidenceRef,
  type FileMessage,
  type HashMessage,
  type Logger,
  type QueueName,
  type StageName,
  type StageOutcome,
} from '@exhibit/core';
import { analyseStage } from './analyse.stage.js';
import { recordCompletionIfDone } from './completion.js';
import { recordDeadLetter } from './dead-letter.js';
import { hashStage } from './hash.stage.js';
import { indexStage } from './index.stage.js';
import { ingestBlob, type IngestOutcome } from './ingest.stage.js';
import type { Stage, StageContext, StageDeps, StageResult } from './stage.js';
import { withDeadline } from './stage-deadline.js';
import { FIRST_QUEUE, STAGE_GRAPH } from './stage-graph.js';
import { unpackStage } from './unpack.stage.js';

/**
 * The stage runner: the one place that receives stage work, runs the stage
 * under its deadline, and sends what follows by the stage graph
 * (stage-graph.ts). It owns everything between two stages: validating the
 * message, routing (also after a redelivery found the work already done, since
 * the crash may have come before the send), the custody entry of a failure,
 * the evidence item's completion, and dead letters. The Azure functions and
 * the local host call it through the runtime's function table.
 */

/** What the runner needs besides the stages' ports: the bus it sends with. */
export interface RunnerDeps extends StageDeps {
  bus: Bus;
}

/** The stage each queue runs. */
export const STAGES: { readonly [Q in QueueName]: Stage<never> } = {
  hash: hashStage,
  analyse: analyseStage,
  unpack: unpackStage,
  index: indexStage,
};

/** Per invocation, from the trigger: ids for logs, cancellation. */
export interface Invocation {
  invocationId: string;
  logger: Logger;
  abortSignal?: AbortSignal;
}

export interface QueueInput {
  body: unknown;
  messageId: string;
  deliveryCount: number;
  correlationId?: string;
}

export interface DeadLetterInput {
  body: unknown;
  messageId: string;
  reason: string;
  description: string;
}

/** Sends units of work to a queue. Message ids are deterministic, so Service Bus drops repeats. */
export async function sendWork(
  deps: Pick<RunnerDeps, 'bus'>,
  queue: QueueName,
  bodies: Array<FileMessage | HashMessage>,
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  if (bodies.length === 0) return;
  await deps.bus.send(
    queue,
    bodies.map((body) => ({ body, messageId: messageIdFor(queue, body.fileId), correlationId: `${body.caseId}/${body.evidenceId}` })),
    options,
  );
}

/**
 * A blob-created event (or the watcher, or reconciliation): ingest records
 * it, the runner queues its first stage.
 */
export async function runIngest(
  deps: RunnerDeps,
  input: { container: string; blobName: string; properties?: BlobProperties },
  ctx: StageContext,
): Promise<IngestOutcome> {
  const outcome = await ingestBlob(deps, input, ctx);
  if (outcome.status === 'queued') await sendWork(deps, FIRST_QUEUE, [outcome.hash], ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {});
  return outcome;
}

/**
 * One stage message: validate, run under the deadline, route, record what
 * matters. Returns the outcome; throws only retryable faults, which the
 * trigger turns into redelivery and, in the end, dead-lettering.
 */
export async function runMessage(deps: RunnerDeps, queue: QueueName, input: QueueInput, inv: Invocation): Promise<StageOutcome> {
  const node = STAGE_GRAPH[queue];
  const parsed = messageSchemas[queue].safeParse(input.body);
  const baseLogger = invocationLogger(inv.logger, { stage: queue, messageId: input.messageId, invocationId: inv.invocationId });
  if (!parsed.success) {
    // Not retryable and names no file: log loudly and drop rather than poison the queue forever.
    baseLogger.error({ issues: parsed.error.issues.slice(0, 5) }, 'invalid message body');
    return failed('invalid-message', parsed.error.message.slice(0, 500));
  }
  const body = parsed.data;
  const logger = invocationLogger(baseLogger, { caseId: body.caseId, evidenceId: body.evidenceId, fileId: body.fileId });
  const signal = inv.abortSignal ? { abortSignal: inv.abortSignal } : {};
  const ctx: StageContext = { logger, messageId: input.messageId, deliveryCount: input.deliveryCount, ...signal };
  const members = node.members;
  const stage = STAGES[queue] as Stage<typeof body>;
  // Every invocation has a deadline (see withDeadline): no worker stays busy on one message for good.
  const result: StageResult = await withDeadline(
    (abortSignal) =>
      stage(deps, body, {
        ...ctx,
        abortSignal,
        ...(members ? { handOff: (files: FileMessage[], options?: { abortSignal?: AbortSignal }) => sendWork(deps, members, files, options) } : {}),
      }),
    {
      ...(inv.abortSignal ? { outer: inv.abortSignal } : {}),
      deadlineMs: deps.limits.stageDeadlineMs,
      graceMs: deps.limits.stageDeadlineGraceMs,
      label: `${queue} stage`,
    },
  );
  const { outcome } = result;
  logger.debug({ outcome }, 'stage finished');

  if (result.forward) {
    for (const next of node.next(result.forward.facts)) await sendWork(deps, next, [result.forward.file], signal);
  }
  for (const [step, stepOutcome] of stepOutcomes(queue, result)) {
    if (stepOutcome.status !== 'failed') continue;
    await deps.custody.record({
      caseId: body.caseId,
      evidenceId: body.evidenceId,
      action: 'stage-failed',
      actor: PIPELINE_ACTOR,
      subject: { fileId: body.fileId },
      details: { stage: step, code: stepOutcome.code, detail: stepOutcome.detail },
      tools: [{ name: 'exhibit-pipeline', version: deps.pipelineVersion }],
      eventKey: `failed:${step}:${body.fileId}`,
    });
  }
  // A file ends at index (which reports it), by failing, or an archive by finishing its unpack.
  if (outcome.status === 'failed' || node.completes === 'always' || (node.completes === 'reported' && result.settles)) {
    await recordCompletionIfDone(deps, body, ctx, result.settles?.noOpenWork ? { noOpenWork: true } : {});
  }
  return outcome;
}

/** The outcome of each step the message ran, named as failures are (identify, metadata, thumbnail, ...). */
function stepOutcomes(queue: QueueName, result: StageResult): Array<[StageName, StageOutcome]> {
  if (result.steps) return Object.entries(result.steps) as Array<[StageName, StageOutcome]>;
  return [[QUEUE_STEPS[queue][0], result.outcome]];
}

/** A message the bus gave up on: its file is failed with the reason, and the evidence item may be complete. */
export async function runDeadLetter(deps: RunnerDeps, queue: QueueName, input: DeadLetterInput, inv: Invocation): Promise<void> {
  const logger = invocationLogger(inv.logger, { stage: `${queue}-dead-letter`, messageId: input.messageId, invocationId: inv.invocationId });
  const ctx: StageContext = { logger, messageId: input.messageId, deliveryCount: 0 };
  const ref: EvidenceRef | null = await recordDeadLetter(deps, queue, input, ctx);
  if (ref) await recordCompletionIfDone(deps, ref, ctx);
}

/** Sends a stalled file's work again (the watchdog): the queues it waits on, by the graph. */
export async function redrive(
  deps: RunnerDeps,
  file: FileMessage & { blobName?: string },
  queues: QueueName[],
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  const ref: FileMessage = { caseId: file.caseId, evidenceId: file.evidenceId, fileId: file.fileId };
  for (const queue of queues) {
    if (STAGE_GRAPH[queue].body === 'upload') {
      if (file.blobName) await sendWork(deps, queue, [{ ...ref, blobName: file.blobName }], options);
    } else {
      await sendWork(deps, queue, [ref], options);
    }
  }
}
