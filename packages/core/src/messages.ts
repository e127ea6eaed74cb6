import { z } from 'zod';
import type { QueueName } from './ports/bus.js';

/**
 * Message bodies. Small on purpose: they name the work, the index holds the
 * state, so a redelivered message re-reads the truth instead of trusting a copy.
 */
const id = z.string().min(1).max(128);

export const hashMessage = z.object({
  caseId: id,
  evidenceId: id,
  blobName: z.string().min(1).max(1024),
  fileId: id,
});
export type HashMessage = z.infer<typeof hashMessage>;

export const fileMessage = z.object({
  caseId: id,
  evidenceId: id,
  fileId: id,
});
export type FileMessage = z.infer<typeof fileMessage>;

export const messageSchemas = {
  hash: hashMessage,
  unpack: fileMessage,
  analyse: fileMessage,
  index: fileMessage,
} as const satisfies Record<QueueName, z.ZodType>;

export type MessageBody<Q extends QueueName> = z.infer<(typeof messageSchemas)[Q]>;

/** Deterministic message id: one per (queue, unit of work). */
export function messageIdFor(queue: QueueName, subjectId: string): string {
  return `${queue}:${subjectId}`;
}
