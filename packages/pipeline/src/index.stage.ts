import { done, skipped, type FileMessage } from '@exhibit/core';
import { isPast } from './file-stage.js';
import type { Stage } from './stage.js';

/**
 * The last step of a file's chain: it becomes searchable. Everything it is
 * searched by was written by the earlier stages, keyed by SHA-256, so
 * identical content is analysed once and indexed at every occurrence.
 */
export const indexStage: Stage<FileMessage> = async (deps, message) => {
  const file = await deps.index.getFile(message.fileId);
  if (!file || file.caseId !== message.caseId || file.evidenceId !== message.evidenceId) return skipped('unknown-subject');
  if (file.stage === 'failed' || isPast(file, 'indexed')) return skipped('already-done');
  await deps.index.advanceFile(file.fileId, 'indexed');
  return done();
};
