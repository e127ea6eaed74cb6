import { PIPELINE_ACTOR, type EvidenceRef } from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';

/**
 * Records the processing summary in the custody log once an evidence item has
 * no work left. Cheap when work remains: one indexed probe, skipped when the
 * caller's own last write already answered it (`noOpenWork`, from
 * IndexStore.markIndexed); the full status is read only at the end. The event
 * key makes concurrent finishers write it once.
 */
export async function recordCompletionIfDone(
  deps: StageDeps,
  ref: EvidenceRef,
  ctx: StageContext,
  options: { noOpenWork?: boolean } = {},
): Promise<boolean> {
  if (!options.noOpenWork && (await deps.index.hasPendingWork(ref.caseId, ref.evidenceId))) return false;
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
  // The review app's whole-case answers come from the case's summary once it
  // is remade; a refresh that fails only leaves them to the files (and to the
  // next quiet read), so it never fails the stage.
  try {
    await deps.index.refreshReviewSummary?.(ref.caseId);
  } catch (err) {
    ctx.logger.warn({ err }, 'review summary not refreshed');
  }
  return true;
}
