import { PIPELINE_ACTOR, type EvidenceRef } from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';

/**
 * Records the processing summary in the custody log once an evidence item has
 * no work left. Cheap when work remains: one indexed probe, skipped when the
 * caller's own last write already answered it (`noOpenWork`, from
 * IndexStore.markIndexed); the full status is read only at the end. The event
 * key makes concurrent finishers write it once.
 *
 * `reviewSummary: false` records the completion without bringing the case's
 * review summary up to date: the watchdog and the dead-letter handler, which
 * may complete many evidence items in one pass and must not spend up to
 * LIMITS.reviewSummaryBudgetMs on each. Their summaries are left to the first
 * quiet read (or the case's next completion).
 */
export async function recordCompletionIfDone(
  deps: StageDeps,
  ref: EvidenceRef,
  ctx: StageContext,
  options: { noOpenWork?: boolean; reviewSummary?: boolean } = {},
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
  if (options.reviewSummary !== false) await bringReviewSummaryUpToDate(deps, ref, ctx);
  return true;
}

/**
 * The review app's whole-case answers (map, timeline, totals) come from the
 * case's summary once it holds this evidence item: made now, so the first
 * investigator to open the case does not pay for it. Bounded by
 * LIMITS.reviewSummaryBudgetMs, after the completion is recorded, and never
 * thrown: a summary not made leaves those answers to the files and to the
 * next quiet read, never the completion to a retry.
 */
async function bringReviewSummaryUpToDate(deps: StageDeps, ref: EvidenceRef, ctx: StageContext): Promise<void> {
  if (!deps.index.bringReviewSummaryUpToDate) return;
  const started = performance.now();
  try {
    const outcome = await deps.index.bringReviewSummaryUpToDate(ref.caseId, {
      budgetMs: deps.limits.reviewSummaryBudgetMs,
      ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}),
    });
    const ms = Math.round(performance.now() - started);
    if (outcome === 'fresh' || outcome === 'refreshed') ctx.logger.info({ outcome, ms }, 'review summary up to date');
    else ctx.logger.warn({ outcome, ms }, 'review summary left to the next quiet read');
  } catch (err) {
    ctx.logger.warn({ err }, 'review summary not refreshed');
  }
}
