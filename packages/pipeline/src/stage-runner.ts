import {
  batchMessageIdFor,
  done,
  errorMessage,
  failed,
  fileBatchMessage,
  filesOf,
  heldCopyMark,
  invocationLogger,
  LIMITS,
  messageIdFor,
  messageSchemas,
  PIPELINE_ACTOR,
  QUEUE_STEPS,
  skipped,
  type BlobProperties,
  type Bus,
  type ContentRecord,
  type EvidenceRef,
  type FileMessage,
  type FileRecord,
  type FileWorkMessage,
  type HashMessage,
  type HeldCopyMark,
  type Logger,
  type OutgoingMessage,
  type QueueName,
  type StageName,
  type StageOutcome,
} from '@exhibit/core';
import { analyseStage } from './analyse.stage.js';
import { recordCompletionIfDone } from './completion.js';
import { recordDeadLetter } from './dead-letter.js';
import { hashStage } from './hash.stage.js';
import { indexBatchStage, indexStage } from './index.stage.js';
import { ingestBlob, type IngestOutcome } from './ingest.stage.js';
import { redriveKey, type HandOffFile, type Stage, type StageContext, type StageDeps, type StageResult } from './stage.js';
import { withDeadline } from './stage-deadline.js';
import { heldCopyId, legacyHeldCopy, takeStageLease, type HeldStageLease } from './stage-lease.js';
import { FIRST_QUEUE, STAGE_GRAPH } from './stage-graph.js';
import { AFTER_UNPACK_KEY, rootLeftToAnalyse, unpackStage, uploadLeftToHash } from './unpack.stage.js';

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

/**
 * Files split off a batch after a throw are sent again this long after: a
 * retry with a pause, as the trigger's abandon gives a single file's message.
 */
export const SPLIT_RETRY_DELAY_MS = 1000;

/**
 * Sends units of work to a queue. Message ids are deterministic, so Service
 * Bus drops repeats. A queue that carries files (stage-graph.ts) gets them in
 * batch messages of one evidence item each, bounded by LIMITS.batchMaxFiles
 * and, where the stage reads the files, by LIMITS.batchMaxBytes; `alone`
 * sends every file in its own message (a split).
 */
export async function sendWork(
  deps: Pick<RunnerDeps, 'bus'>,
  queue: QueueName,
  bodies: Array<HandOffFile | HashMessage>,
  options: { abortSignal?: AbortSignal; alone?: boolean; delayMs?: number; messageKey?: string } = {},
): Promise<void> {
  if (bodies.length === 0) return;
  const node = STAGE_GRAPH[queue];
  const messages: OutgoingMessage[] =
    node.body === 'files' && !options.alone
      ? batchesOf(bodies as HandOffFile[], { maxFiles: LIMITS.batchMaxFiles, maxBytes: node.batchBytes ? LIMITS.batchMaxBytes : Infinity }).map((batch) =>
          // The key (a watchdog re-drive's) names every batch, or its work would be dropped as a repeat of the first send.
          batchMessage(queue, batch, options.messageKey, options.delayMs),
        )
      : bodies.map((b) => batchMessage(queue, [b], options.messageKey, options.delayMs));
  await deps.bus.send(queue, messages, options.abortSignal ? { abortSignal: options.abortSignal } : {});
}

/** One message: a single file (or upload) as before batches, else a batch naming its files. */
function batchMessage(queue: QueueName, files: Array<HandOffFile | HashMessage>, messageKey?: string, delayMs?: number): OutgoingMessage {
  const first = files[0]!;
  if (files.length === 1) {
    const body: FileMessage | HashMessage =
      'blobName' in first
        ? { caseId: first.caseId, evidenceId: first.evidenceId, blobName: first.blobName, fileId: first.fileId }
        : { caseId: first.caseId, evidenceId: first.evidenceId, fileId: first.fileId };
    // A second message for the same work on purpose (messageKey) must not be dropped as a repeat of the first.
    return workMessage(first, body, messageIdFor(queue, messageKey ? `${first.fileId}:${messageKey}` : first.fileId), delayMs);
  }
  const fileIds = files.map((f) => f.fileId);
  const batchId = batchMessageIdFor(queue, fileIds);
  return workMessage(first, { caseId: first.caseId, evidenceId: first.evidenceId, fileIds }, messageKey ? `${batchId}:${messageKey}` : batchId, delayMs);
}

/** A message of an evidence item's work: correlated to its item, and scheduled `delayMs` from now when given. */
function workMessage(item: EvidenceRef, body: unknown, messageId: string, delayMs?: number): OutgoingMessage {
  return {
    body,
    messageId,
    correlationId: `${item.caseId}/${item.evidenceId}`,
    ...(delayMs ? { scheduledAt: new Date(Date.now() + delayMs) } : {}),
  };
}

/**
 * Groups files into batches: by evidence item (in the order they came), then
 * in order up to `maxFiles` and `maxBytes` (a file of unknown size counts 0;
 * a file over `maxBytes` goes alone). The same files in the same order give
 * the same batches, so the same message ids.
 */
export function batchesOf(files: HandOffFile[], limits: { maxFiles: number; maxBytes: number }): HandOffFile[][] {
  const groups = new Map<string, HandOffFile[]>();
  const seen = new Set<string>();
  for (const f of files) {
    const key = `${f.caseId}\0${f.evidenceId}`;
    if (seen.has(`${key}\0${f.fileId}`)) continue;
    seen.add(`${key}\0${f.fileId}`);
    const group = groups.get(key) ?? [];
    group.push(f);
    groups.set(key, group);
  }
  const batches: HandOffFile[][] = [];
  for (const group of groups.values()) {
    let batch: HandOffFile[] = [];
    let bytes = 0;
    for (const f of group) {
      const size = Math.max(0, f.bytes ?? 0);
      if (batch.length > 0 && (batch.length >= limits.maxFiles || bytes + size > limits.maxBytes)) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(f);
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
  }
  return batches;
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
  if (node.body === 'files') return runFiles(deps, queue, filesOf(parsed.data as FileWorkMessage), input, inv, baseLogger);
  // The schema strips a held copy's mark (deferToHolder) from the body: read apart, never seen by the stage.
  const rawMark = (input.body as { held?: unknown }).held;
  const markParsed = rawMark === undefined ? null : heldCopyMark.safeParse(rawMark);
  if (markParsed && !markParsed.success) {
    baseLogger.error({ issues: markParsed.error.issues.slice(0, 5) }, 'invalid held-copy mark');
    return failed('invalid-message', `held-copy mark: ${markParsed.error.message}`.slice(0, 500));
  }
  const mark = markParsed?.data ?? null;
  // A copy the previous version sent (named by its id, no mark), in flight at an upgrade: the stage gets its original id too.
  const legacy = mark ? null : legacyHeldCopy(input.messageId);
  const body = parsed.data as FileMessage | HashMessage;
  const logger = invocationLogger(baseLogger, { caseId: body.caseId, evidenceId: body.evidenceId, fileId: body.fileId });
  const signal = inv.abortSignal ? { abortSignal: inv.abortSignal } : {};
  // Deliveries of the message, its copies' included: what the bus would count had the work stayed in one message.
  const deliveries = (mark?.priorDeliveries ?? 0) + input.deliveryCount;
  if (mark && deliveries > deps.limits.maxDeliveryCount) {
    // Each copy starts at delivery 1 on the bus, which so never dead-letters a stage that hangs or fails on every run
    // while its copies defer to the lease it leaves behind: the chain is given up on here, as the bus would have.
    const description = `delivered ${deliveries - 1} times (across ${mark.generation} held cop${mark.generation === 1 ? 'y' : 'ies'} of ${mark.of}), at most ${deps.limits.maxDeliveryCount}: every run failed or was cut off`;
    logger.error({ deliveries: deliveries - 1, generation: mark.generation, of: mark.of }, 'held copy past the delivery limit; dead-lettering its work');
    await runDeadLetter(deps, queue, { body, messageId: mark.of, reason: HELD_CHAIN_DEAD_LETTER_REASON, description }, inv);
    return failed('dead-lettered', description);
  }
  // A held copy is the original message to the stage: the keys the stage reads from the id are the original's, and its
  // delivery count is the one the message would have had without the deferrals, which ran nothing (`deliveries`). So a
  // copy whose every earlier delivery deferred is a first delivery, as a re-drive's is that runs at once: a hash re-drive
  // names itself in its continuation only on its first delivery, and its copy counted as a later one sent the dead
  // chain's plain key, dropped as a repeat (regression held-copy-of-a-hash-redrive-continues-under-the-plain-key). A copy
  // of the previous version (no mark) carries no count: a later delivery, as then.
  const copyOf = mark ?? legacy;
  const deliveryCount = mark ? deliveries : legacy ? Math.max(input.deliveryCount, legacy.generation + 1) : input.deliveryCount;
  const ctx: StageContext = { logger, messageId: copyOf?.of ?? input.messageId, deliveryCount, ...signal };
  const members = node.members;
  const stage = STAGES[queue] as Stage<typeof body>;
  let lease: HeldStageLease | null = null;
  if (node.leased) {
    const key = { queue, subjectId: body.fileId, holder: inv.invocationId, messageId: input.messageId };
    const took = await takeStageLease(deps.index, key, deps.limits.stageLeaseMs, logger);
    if ('heldBy' in took) {
      const next: HeldCopyMark = { of: ctx.messageId, generation: (copyOf?.generation ?? 0) + 1, priorDeliveries: deliveries - 1 };
      return deferToHolder(deps, queue, body, next, took.heldBy, logger, signal);
    }
    lease = took.held;
  }
  // Every invocation has a deadline (see withDeadline): no worker stays busy on one message for good.
  // The stage is told when it falls, so a long unpack can stop short of it and continue (`again`).
  const deadlineAt = Date.now() + deps.limits.stageDeadlineMs;
  let result: StageResult;
  // The stage's own promise, apart from withDeadline's: at deadline + grace the runner stops waiting for it, but it
  // has not stopped (it ignored its abort).
  let running: Promise<StageResult> | undefined;
  let stageSettled = false;
  try {
    result = await withDeadline(
      (abortSignal) => {
        running = stage(deps, body, {
          ...ctx,
          abortSignal,
          deadlineAt,
          ...(members ? { handOff: (files: FileMessage[], options?: { abortSignal?: AbortSignal }) => sendWork(deps, members, files, options) } : {}),
        });
        running.then(
          () => (stageSettled = true),
          () => (stageSettled = true),
        );
        return running;
      },
      {
        ...(inv.abortSignal ? { outer: inv.abortSignal } : {}),
        deadlineMs: deps.limits.stageDeadlineMs,
        graceMs: deps.limits.stageDeadlineGraceMs,
        label: `${queue} stage`,
      },
    );
  } finally {
    // Released before the routing: the stage's continuation (`again`), sent next, must find the item free, not wait
    // for this lease to expire.
    if (lease) {
      if (stageSettled || !running) await lease.release();
      else holdLeaseWhileStageRuns(lease, running, deps.limits.stageDeadlineMs, logger);
    }
  }
  const { outcome } = result;
  logger.debug({ outcome }, 'stage finished');

  if (result.forward) {
    const key = result.forward.messageKey ? { messageKey: result.forward.messageKey } : {};
    for (const next of node.next(result.forward.facts)) await sendWork(deps, next, [result.forward.file], { ...signal, ...key });
  }
  if (result.again) await sendWork(deps, queue, [body], { ...signal, delayMs: result.again.afterMs, messageKey: result.again.messageKey });
  await recordStepFailures(deps, queue, body, result);
  // A file ends at index (which reports it), by failing, or an archive by finishing its unpack.
  if (outcome.status === 'failed' || node.completes === 'always' || (node.completes === 'reported' && result.settles)) {
    await recordCompletionIfDone(deps, body, ctx, result.settles?.noOpenWork ? { noOpenWork: true } : {});
  }
  return outcome;
}

/**
 * The runner stopped waiting for a stage at its deadline + grace, but the stage
 * still runs (it ignored its abort). Releasing its lease now would let a
 * redelivery of its message, due as soon as this invocation ends, take the item
 * and run beside it: the double work the lease is there to stop. Letting it
 * lapse has the same effect a lease's length later. So the lease stays renewed
 * until the stage settles, then is released; the invocation does not wait for
 * that. A stage that never settles would hold its item for good, so the
 * renewal ends `capMs` after (one more stage deadline: as long again as the
 * stage was given) and the lease lapses; should the stage wake after that, its
 * writes are guarded as any late delivery's are.
 */
function holdLeaseWhileStageRuns(lease: HeldStageLease, running: Promise<unknown>, capMs: number, logger: Logger): void {
  logger.warn({ capMs }, 'stage did not stop within its grace: its lease stays renewed until it settles, so no redelivery runs beside it');
  const cap = setTimeout(() => {
    logger.warn({ capMs }, 'stage still running long past its deadline: its lease is left to lapse');
    lease.abandon();
  }, capMs);
  cap.unref();
  void running
    .then(
      () => undefined,
      () => undefined,
    )
    .then(async () => {
      clearTimeout(cap);
      await lease.release();
    });
}

/** A held copy is delivered this long after the holder's lease expires, so it finds it expired rather than just live. */
export const HELD_COPY_MARGIN_MS = 1000;

/**
 * A delivery that found another delivery's live stage lease on its item (a
 * continuation sent again, or a message whose lock was lost, delivered again
 * while the first delivery still runs; or another message for the same item)
 * does no work: it sends a copy of
 * itself, the same body, scheduled for when that lease expires, and completes.
 * The holder normally finishes the work, and the copy, run as any redelivery
 * is, finds it done or continued and skips or sends the latest continuation
 * again; should the holder have died, the copy takes the expired lease over and
 * does the work. The outcome is a skip: no failure, no custody entry. The
 * copy carries its mark (core's heldCopyMark): the original id, which the
 * stage is given, and the deliveries before it, so the failed runs of a chain
 * of copies count toward the delivery limit as one message's would (a stage
 * that hangs on every run would otherwise never be dead-lettered: each copy
 * starts at delivery 1, and the delivery that meets the hung run's lease
 * completes as this skip).
 */
async function deferToHolder(
  deps: RunnerDeps,
  queue: QueueName,
  body: FileMessage | HashMessage,
  mark: HeldCopyMark,
  heldBy: { holder: string; messageId: string; expiresInMs: number },
  logger: Logger,
  signal: { abortSignal?: AbortSignal },
): Promise<StageOutcome> {
  const copyId = heldCopyId(mark.of, heldBy.holder, mark.generation);
  const afterMs = heldBy.expiresInMs + HELD_COPY_MARGIN_MS;
  await deps.bus.send(queue, [workMessage(body, { ...body, held: mark }, copyId, afterMs)], signal);
  logger.info({ holder: heldBy.holder, holderMessageId: heldBy.messageId, copyId, mark, afterMs }, 'another delivery holds this item: no work done, a copy sent for when its lease expires');
  return skipped('held-by-another-delivery');
}

/**
 * The reason a chain of held copies is dead-lettered with when it passes the delivery limit: Service Bus's own for a
 * message delivered too often, so status, API and CLI read the same whichever gave up.
 */
export const HELD_CHAIN_DEAD_LETTER_REASON = 'MaxDeliveryCountExceeded';

/** A failed step's custody entry, once per file and step (the event key). */
async function recordStepFailures(deps: RunnerDeps, queue: QueueName, file: FileMessage, result: StageResult): Promise<void> {
  for (const [step, stepOutcome] of stepOutcomes(queue, result)) {
    if (stepOutcome.status !== 'failed') continue;
    await deps.custody.record({
      caseId: file.caseId,
      evidenceId: file.evidenceId,
      action: 'stage-failed',
      actor: PIPELINE_ACTOR,
      subject: { fileId: file.fileId },
      details: { stage: step, code: stepOutcome.code, detail: stepOutcome.detail },
      tools: [{ name: 'exhibit-pipeline', version: deps.pipelineVersion }],
      eventKey: `failed:${step}:${file.fileId}`,
    });
  }
}

/**
 * A message of a queue that carries files: one file, or a batch of one
 * evidence item's files, run one after another under one stage deadline.
 *
 * A file fails alone. A file whose stage throws (a retryable fault) is split
 * off: sent again in a message of its own, after a pause, while its siblings'
 * results stand and are routed; only a message of a single file throws, so
 * redelivery and dead-lettering stay per file, as before batches. A batch
 * delivered again (its last attempt was cut off: a crash of the process,
 * perhaps by one of its files, the deadline, a shutdown) runs only the files
 * its record says are over (they skip, cheaply, and are routed again, as any
 * already-done redelivery is) and splits every other file off into its own
 * message, so a file that kills its process can only take itself down.
 */
async function runFiles(deps: RunnerDeps, queue: QueueName, files: FileMessage[], input: QueueInput, inv: Invocation, baseLogger: Logger): Promise<StageOutcome> {
  const node = STAGE_GRAPH[queue];
  const ref: EvidenceRef = { caseId: files[0]!.caseId, evidenceId: files[0]!.evidenceId };
  const batch = files.length > 1;
  const logger = batch ? invocationLogger(baseLogger, ref).child({ files: files.length }) : invocationLogger(baseLogger, { ...ref, fileId: files[0]!.fileId });
  const signal = inv.abortSignal ? { abortSignal: inv.abortSignal } : {};
  const ctx: StageContext = { logger, messageId: input.messageId, deliveryCount: input.deliveryCount, ...signal };

  let run = files;
  const splitOff: FileMessage[] = [];
  let preloaded: Map<string, { file: FileRecord; content: ContentRecord | null }> | undefined;
  if (batch && input.deliveryCount > 1) {
    preloaded = await deps.index.getFilesWithContent(files.map((f) => f.fileId));
    run = [];
    for (const f of files) {
      const loaded = preloaded.get(f.fileId);
      // Not found: the stage says so (unknown-subject) at no cost.
      if (!loaded || node.done?.(loaded.file, loaded.content)) run.push(f);
      else splitOff.push(f);
    }
    logger.warn({ deliveryCount: input.deliveryCount, finished: run.length, splitOff: splitOff.length }, 'batch delivered again: routing its finished files, splitting off the rest');
    // Sent before anything else: a crash from here on redelivers the batch, which splits again (same ids).
    await sendWork(deps, queue, splitOff, { ...signal, alone: true });
  }

  const results = new Map<string, StageResult>();
  const thrown = new Map<string, unknown>();
  await withDeadline(
    async (abortSignal) => {
      const runCtx: StageContext = { ...ctx, abortSignal };
      if (run.length === 0) return;
      if (queue === 'index') {
        // One statement for the hash-set matches and one for the moves, for the whole batch.
        try {
          for (const [id, r] of await indexBatchStage(deps, ref, run, runCtx)) results.set(id, r);
        } catch (err) {
          if (abortSignal.aborted || !batch) throw err;
          for (const f of run) thrown.set(f.fileId, err);
        }
        return;
      }
      // The files' records in one read (analyse loads each through loadFile, which takes them from here).
      preloaded ??= await deps.index.getFilesWithContent(run.map((f) => f.fileId));
      const stage = STAGES[queue] as Stage<FileMessage>;
      const analysed = new Set<string>();
      for (const [i, f] of run.entries()) {
        const fileLogger = batch ? invocationLogger(logger, { fileId: f.fileId }) : logger;
        // The same bytes twice in one batch: read the second again, so it reuses what the first recorded.
        const sha256 = preloaded.get(f.fileId)?.file.sha256;
        if (sha256 && analysed.has(sha256)) {
          const fresh = await deps.index.getFileWithContent(f.fileId);
          if (fresh) preloaded.set(f.fileId, fresh);
        }
        if (sha256) analysed.add(sha256);
        try {
          results.set(f.fileId, await stage(deps, f, { ...runCtx, logger: fileLogger, preloaded }));
        } catch (err) {
          // Past the deadline or shutting down: the whole message goes back (and splits when it returns).
          if (abortSignal.aborted || !batch) throw err;
          fileLogger.warn({ err: errorMessage(err) }, 'file of a batch failed with a retryable fault; splitting it off');
          thrown.set(f.fileId, err);
        }
        if (batch) fileLogger.debug({ file: i + 1, of: run.length }, 'batch file finished');
      }
    },
    {
      ...(inv.abortSignal ? { outer: inv.abortSignal } : {}),
      deadlineMs: deps.limits.stageDeadlineMs,
      graceMs: deps.limits.stageDeadlineGraceMs,
      label: `${queue} stage`,
    },
  );

  // Routed together: every next queue gets the batch's files in as few messages as the limits allow.
  const next = new Map<QueueName, HandOffFile[]>();
  let anyFailed = false;
  let settles: { noOpenWork: boolean } | undefined;
  for (const f of run) {
    const result = results.get(f.fileId);
    if (!result) continue;
    logger.debug({ fileId: f.fileId, outcome: result.outcome }, 'stage finished');
    if (result.forward) {
      for (const q of node.next(result.forward.facts)) next.set(q, [...(next.get(q) ?? []), result.forward.file]);
    }
    await recordStepFailures(deps, queue, f, result);
    if (result.outcome.status === 'failed') anyFailed = true;
    if (result.settles) settles = { noOpenWork: (settles?.noOpenWork ?? false) || result.settles.noOpenWork };
  }
  for (const [q, forward] of next) await sendWork(deps, q, forward, signal);
  if (thrown.size > 0) {
    await sendWork(deps, queue, run.filter((f) => thrown.has(f.fileId)), { ...signal, alone: true, delayMs: SPLIT_RETRY_DELAY_MS });
  }
  if (anyFailed || node.completes === 'always' || (node.completes === 'reported' && settles)) {
    await recordCompletionIfDone(deps, ref, ctx, settles?.noOpenWork ? { noOpenWork: true } : {});
  }
  if (!batch) {
    const only = results.get(files[0]!.fileId);
    return only?.outcome ?? done();
  }
  const counts = { done: 0, skipped: 0, failed: 0 };
  for (const r of results.values()) counts[r.outcome.status] += 1;
  const summary = { files: files.length, ...counts, splitOff: splitOff.length + thrown.size };
  logger.debug(summary, 'batch finished');
  return done(summary);
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
  const batch = STAGE_GRAPH[queue].body === 'files' ? fileBatchMessage.safeParse(input.body) : null;
  if (batch?.success) {
    const files = filesOf(batch.data);
    if (files.length > 1) {
      // Dead-lettering is per file: a batch given up on fails none of its files; each goes on in a message of its own.
      logger.warn({ files: files.length, reason: input.reason }, 'batch message dead-lettered; sending each of its files alone');
      await sendWork(deps, queue, files, { alone: true });
      return;
    }
    input = { ...input, body: files[0] };
  }
  const ref: EvidenceRef | null = await recordDeadLetter(deps, queue, input, ctx);
  if (ref && queue === 'unpack') {
    // An uploaded archive whose hash was left to this unpack's read: hashed by the hash stage instead.
    const fileId = (input.body as FileMessage).fileId;
    const upload = await uploadLeftToHash(deps, fileId);
    if (upload) await sendWork(deps, 'hash', [upload], { messageKey: AFTER_UNPACK_KEY });
    else {
      // Hashed in the unpack's read, but given up on before the archive itself went on: it would wait for the watchdog.
      const root = await rootLeftToAnalyse(deps, fileId);
      if (root) await sendWork(deps, 'analyse', [root]);
    }
  }
  // The summary is left to the reads: a burst of dead letters must not spend a refresh budget each.
  if (ref) await recordCompletionIfDone(deps, ref, ctx, { reviewSummary: false });
}

/** Sends a stalled file's work again (the watchdog): the queues it waits on, by the graph. */
export async function redrive(
  deps: RunnerDeps,
  file: FileMessage & { blobName?: string },
  queues: QueueName[],
  options: { abortSignal?: AbortSignal; count: number; movedAtMs: number },
): Promise<void> {
  const ref: FileMessage = { caseId: file.caseId, evidenceId: file.evidenceId, fileId: file.fileId };
  // Never the id of the first message or of an earlier re-drive: within the duplicate-detection window (1 hour, longer
  // than the stall time) Service Bus would drop it and the re-drive would do nothing; the same id for a repeat of this
  // re-drive, which is dropped (redriveKey). Every queue's message carries it, batch queues' too.
  const send = { ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}), messageKey: redriveKey(options) };
  for (const queue of queues) {
    if (STAGE_GRAPH[queue].body === 'upload') {
      if (file.blobName) await sendWork(deps, queue, [{ ...ref, blobName: file.blobName }], send);
    } else {
      await sendWork(deps, queue, [ref], send);
    }
  }
}
