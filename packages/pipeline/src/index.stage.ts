import { done, skipped, type EvidenceRef, type FileMessage, type IndexedResult } from '@exhibit/core';
import { recordKnownFileMatches } from './known-files.js';
import { only, type Stage, type StageContext, type StageDeps, type StageResult } from './stage.js';

/**
 * The last step of a file's chain: it becomes searchable. Everything it is
 * searched by was written by the earlier stages, keyed by SHA-256, so
 * identical content is analysed once and indexed at every occurrence.
 * One write: the move, guarded by the message's evidence item, also tells
 * whether the evidence item has work left; the file that leaves none settles
 * it, and the runner records the evidence item's completion.
 */
export const indexStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const results = await indexBatchStage(deps, message, [message], ctx);
  return results.get(message.fileId) ?? only(skipped('unknown-subject'));
};

/**
 * The index stage for the files of one batch message (one evidence item):
 * one statement matches them all against the hash sets, one moves them all
 * (IndexStore.markIndexedBatch), whatever the batch's size. Custody entries
 * of the matches are still one per file and set, with their event keys.
 */
export async function indexBatchStage(deps: StageDeps, ref: EvidenceRef, files: FileMessage[], ctx: StageContext): Promise<Map<string, StageResult>> {
  const ids = files.map((f) => f.fileId);
  // Before the moves, so a redelivery after a crash matches again (idempotent) and completion counts the matches.
  const matches = await deps.index.matchFilesAgainstHashSets(ids);
  for (const file of files) {
    const found = matches.get(file.fileId) ?? [];
    if (found.length > 0) await recordKnownFileMatches(deps, file, ctx, found);
  }
  const moved = await deps.index.markIndexedBatch(ref, ids);
  const results = new Map<string, StageResult>();
  for (const id of ids) results.set(id, resultOf(moved.get(id) ?? { moved: false, stage: null }));
  return results;
}

function resultOf(result: IndexedResult): StageResult {
  if (result.moved) return result.openWork ? only(done()) : { outcome: done(), settles: { noOpenWork: true } };
  if (result.stage === null) return only(skipped('unknown-subject'));
  // A redelivery may follow a crash between the move and the completion record: check again.
  return { outcome: skipped('already-done'), settles: { noOpenWork: false } };
}
