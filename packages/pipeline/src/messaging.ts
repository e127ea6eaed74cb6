import { messageIdFor, type FileMessage, type QueueName } from '@exhibit/core';
import type { StageDeps } from './stage.js';

/** Sends the next unit of work for one file. Message ids are deterministic so Service Bus can drop repeats. */
export async function sendFile(
  deps: Pick<StageDeps, 'bus'>,
  queue: QueueName,
  message: FileMessage,
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  await deps.bus.send(
    queue,
    [{ body: message, messageId: messageIdFor(queue, message.fileId), correlationId: `${message.caseId}/${message.evidenceId}` }],
    options,
  );
}
