import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LIMITS } from './limits.js';
import type { QueueName } from './ports/bus.js';

/**
 * Message bodies. Small on purpose: they name the work, the index holds the
 * state, so a redelivered message re-reads the truth instead of trusting a copy.
 */
const id = z.string().min(1).max(128);

/** Service Bus refuses a message id longer than this; duplicate detection relies on the ids. */
export const MAX_MESSAGE_ID_CHARS = 128;

export const hashMessage = z.object({
  caseId: id,
  evidenceId: id,
  blobName: z.string().min(1).max(LIMITS.maxBlobNameChars),
  fileId: id,
});
export type HashMessage = z.infer<typeof hashMessage>;

export const fileMessage = z.object({
  caseId: id,
  evidenceId: id,
  fileId: id,
});
export type FileMessage = z.infer<typeof fileMessage>;

/**
 * Several files of one evidence item for the same per-file work (analyse,
 * index): LIMITS.batchMaxFiles at most. A batch of one travels as a
 * FileMessage, so a single file's message is the same as before batches.
 */
export const fileBatchMessage = z
  .object({
    caseId: id,
    evidenceId: id,
    fileIds: z.array(id).min(1).max(LIMITS.batchMaxFiles),
  })
  .refine((m) => new Set(m.fileIds).size === m.fileIds.length, { message: 'a batch names each file once' });
export type FileBatchMessage = z.infer<typeof fileBatchMessage>;

/** A queue that carries per-file work takes one file or a batch of them. */
export const fileWorkMessage = z.union([fileMessage, fileBatchMessage]);
export type FileWorkMessage = z.infer<typeof fileWorkMessage>;

/** The files a per-file work message names, in its order. */
export function filesOf(body: FileWorkMessage): FileMessage[] {
  if ('fileId' in body) return [{ caseId: body.caseId, evidenceId: body.evidenceId, fileId: body.fileId }];
  return body.fileIds.map((fileId) => ({ caseId: body.caseId, evidenceId: body.evidenceId, fileId }));
}

/**
 * What a held copy (packages/pipeline/src/stage-lease.ts: a delivery that found another delivery's live stage lease
 * sends one for when that lease expires) carries beside its work, under its body's `held` key, so it travels the same
 * on every bus (Service Bus, the local storage queue, the Functions trigger) and the work's own schema strips it before
 * a stage sees the body. `of`: the original message's id, which the stage is given (the copy's own id is a digest);
 * `generation`: copies deep (1 for a copy of the original); `priorDeliveries`: deliveries of the message and its
 * earlier copies before this copy was sent, so a chain of copies counts toward LIMITS.maxDeliveryCount as one message's
 * redeliveries do (a deferral itself is not counted: it did no work).
 */
export const heldCopyMark = z.object({
  // No length cap: `of` is an id the bus already carried, and the local storage queue carries ids longer than Service
  // Bus's 128 (a cap here failed such a copy on delivery, the work dropped); the bus's message size bounds it.
  of: z.string().min(1),
  generation: z.number().int().min(1),
  priorDeliveries: z.number().int().min(0),
});
export type HeldCopyMark = z.infer<typeof heldCopyMark>;

export const messageSchemas = {
  hash: hashMessage,
  unpack: fileMessage,
  analyse: fileWorkMessage,
  index: fileWorkMessage,
} as const satisfies Record<QueueName, z.ZodType>;

export type MessageBody<Q extends QueueName> = z.infer<(typeof messageSchemas)[Q]>;


/** Deterministic message id: one per (queue, unit of work). */
export function messageIdFor(queue: QueueName, subjectId: string): string {
  return `${queue}:${subjectId}`;
}

/**
 * Deterministic message id of a batch: the same files in the same order get
 * the same id (Service Bus drops the repeat), and any other grouping of them,
 * such as the messages a split sends, gets another.
 */
export function batchMessageIdFor(queue: QueueName, fileIds: readonly string[]): string {
  if (fileIds.length === 1) return messageIdFor(queue, fileIds[0]!);
  return `${queue}:batch:${createHash('sha256').update(fileIds.join('\n')).digest('hex').slice(0, 40)}`;
}
