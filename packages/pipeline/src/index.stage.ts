import { done, skipped, type FileMessage } from '@exhibit/core';
import { recordKnownFileMatches } from './known-files.js';
import { only, type Stage } from './stage.js';

/**
 * The last step of a file's chain: it becomes searchable. Everything it is
 * searched by was written by the earlier stages, keyed by SHA-256, so
 * identical content is analysed once and indexed at every occurrence.
 * One write: the move, guarded by the message's evidence item, also tells
 * whether the evidence item has work left; the file that leaves none settles
 * it, and the runner records the evidence item's completion.
 */
export const indexStage: Stage<FileMessage> = async (deps, message, ctx) => {
  // Before the move, so a redelivery after a crash matches again (idempotent) and completion counts the matches.
  await recordKnownFileMatches(deps, message, ctx);
  const result = await deps.index.markIndexed(message);
  if (result.moved) return result.openWork ? only(done()) : { outcome: done(), settles: { noOpenWork: true } };
  if (result.stage === null) return only(skipped('unknown-subject'));
  // A redelivery may follow a crash between the move and the completion record: check again.
  return { outcome: skipped('already-done'), settles: { noOpenWork: false } };
};
