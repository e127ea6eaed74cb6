import { done, skipped, type FileMessage } from '@exhibit/core';
import { recordCompletionIfDone } from './completion.js';
import { recordKnownFileMatches } from './known-files.js';
import type { Stage } from './stage.js';

/**
 * The last step of a file's chain: it becomes searchable. Everything it is
 * searched by was written by the earlier stages, keyed by SHA-256, so
 * identical content is analysed once and indexed at every occurrence.
 * One write: the move, guarded by the message's evidence item, also tells
 * whether the evidence item has work left; the file that leaves none records
 * the evidence item's completion.
 */
export const indexStage: Stage<FileMessage> = async (deps, message, ctx) => {
  // Before the move, so a redelivery after a crash matches again (idempotent) and completion counts the matches.
  await recordKnownFileMatches(deps, message, ctx);
  const result = await deps.index.markIndexed(message);
  if (result.moved) {
    if (!result.openWork) await recordCompletionIfDone(deps, message, ctx, { noOpenWork: true });
    return done();
  }
  if (result.stage === null) return skipped('unknown-subject');
  // A redelivery may follow a crash between the move and the completion record: check again.
  await recordCompletionIfDone(deps, message, ctx);
  return skipped('already-done');
};
