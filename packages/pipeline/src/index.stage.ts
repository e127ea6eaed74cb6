import { done, skipped, type FileMessage } from '@exhibit/core';
import { noteOpenWork } from './completion.js';
import type { Stage } from './stage.js';

/**
 * The last step of a file's chain: it becomes searchable. Everything it is
 * searched by was written by the earlier stages, keyed by SHA-256, so
 * identical content is analysed once and indexed at every occurrence.
 * One write: the move, guarded by the message's evidence item, also tells
 * whether the evidence item has work left (passed on to the completion check).
 */
export const indexStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const result = await deps.index.markIndexed(message);
  if (!result.moved) return skipped(result.stage === null ? 'unknown-subject' : 'already-done');
  noteOpenWork(ctx, result.openWork);
  return done();
};
