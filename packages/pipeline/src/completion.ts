import { PIPELINE_ACTOR, type EvidenceRef } from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';

/**
 * What a stage learnt about its evidence item's open work in its own last
 * write (IndexStore.markIndexed), per invocation. The probe there is the one
 * hasPendingWork makes, under the same lock, so it can stand in for it.
 */
const openWorkSeen = new WeakMap<StageContext, boolean>();

export function noteOpenWork(ctx: StageContext, openWork: boolean): void {
  openWorkSeen.set(ctx, openWork);
}

/**
 * Records the processing summary in the custody log once an evidence item has
 * no work left. Cheap when work remains: no statement at all if the stage
 * already saw open work, one indexed probe otherwise; the full status is read
 * only at the end. The event key makes concurrent finishers write it once.
 */
export async function recordCompletionIfDone(deps: StageDeps, ref: EvidenceRef, ctx: StageContext): Promise<boolean> {
  const seen = openWorkSeen.get(ctx);
  openWorkSeen.delete(ctx);
  if (seen === true) return false;
  if (seen === undefined && (await deps.index.hasPendingWork(ref.caseId, ref.evidenceId))) return false;
  const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
  if (!status || !status.complete) return false;
  await deps.custody.record({
    caseId: ref.caseId,
    evidenceId: ref.evidenceId,
    action: 'processing-complete',
    actor: PIPELINE_ACTOR,
    details: {
      files: status.files.total,
      byStage: status.files.byStage,
      stages: status.stages,
      failures: status.failures.length,
      findings: status.findings.length,
      uploads: status.uploads.map((u) => ({ blobName: u.blobName, sha256: u.hashes?.sha256 ?? null, integrity: u.integrity })),
    },
    tools: [{ name: 'exhibit-pipeline', version: deps.pipelineVersion }],
    eventKey: `complete:${ref.caseId}/${ref.evidenceId}:${status.uploads.length}:${status.files.total}`,
  });
  ctx.logger.info({ files: status.files.total, failures: status.failures.length }, 'evidence processing complete');
  return true;
}
