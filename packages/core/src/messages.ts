import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LIMITS } from './limits.js';
import type { QueueName } from './ports/bus.js';

/**
 * Message bodies. Small on purpose: they name the work, the index holds the
 * state, so a redelivered message re-reads the truth instead of trusting a copy.
 */
const id = z.string().min(1).max(128);

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

export const messageSchemas = {
  hash: hashMessage,
  unpack: fileMessage,
  analyse: fileWorkMessage,
  index: fileWorkMessage,
} as const satisfies Record<QueueName, z.ZodType>;

export type MessageBody<Q extends QueueName> = z.infer<(typeof messageSchemas)[Q]>;

/** Service Bus refuses a message id longer than this; duplicate detection relies on the ids. */
export const MAX_MESSAGE_ID_CHARS = 128;

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
