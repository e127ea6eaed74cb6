import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { isExhibitError } from '@exhibit/core';
import { apiPath, type ApiClient } from '../api/api-client.js';
import type { EvidenceListBody, EvidenceStatusBody } from '../api/api-types.js';
import { EXIT } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { createStatusProgressView } from '../render/status-progress.view.js';
import { hasIntegrityMismatch, renderEvidenceList, renderEvidenceStatus } from '../render/status.render.js';
import { intOption, parseCaseTarget, WIDTH_DESCRIPTION, WIDTH_FLAGS, widthOption } from './option-parsers.js';
import { outputWidth } from '../render/output-width.js';

interface StatusOptions {
  watch?: boolean;
  width?: number;
  json?: boolean;
  intervalMs: number;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('processing status of an evidence item (<case>/<evidence>) or of every item of a case (<case>)')
    .argument('<target>', '<caseId> or <caseId>/<evidenceId>', parseCaseTarget)
    .option('--watch', 'keep polling, with a progress bar per stage, until processing is complete')
    .option('--json', 'print the API response as JSON')
    .option(WIDTH_FLAGS, WIDTH_DESCRIPTION, widthOption)
    .option('--interval-ms <n>', 'polling interval for --watch', intOption(200, 60_000), 2000)
    .addHelpText('after', '\nExit codes: 0 complete, 1 error, 3 not complete yet or an integrity problem (a hash mismatch, evidence changed, a disk image not verified).')
    .action(async (target: { caseId: string; evidenceId?: string }, options: StatusOptions) => {
      const api = await ctx.api();
      const fetchAll = () => fetchStatuses(api, target, ctx.abortSignal);
      const statuses = options.watch ? await watch(ctx, fetchAll, options.intervalMs) : await fetchAll();
      printStatuses(ctx, target, statuses, options);
      const complete = statuses.statuses.every((s) => s.complete) && (target.evidenceId !== undefined || statuses.list?.items.every((i) => i.complete));
      if (!complete || statuses.statuses.some(hasIntegrityMismatch)) ctx.setExitCode(EXIT.integrity);
    });
}

interface Fetched {
  /** Case mode: the evidence list. */
  list?: EvidenceListBody;
  statuses: EvidenceStatusBody[];
}

async function fetchStatuses(api: ApiClient, target: { caseId: string; evidenceId?: string }, abortSignal: AbortSignal): Promise<Fetched> {
  if (target.evidenceId !== undefined) {
    const status = await api.getJson<EvidenceStatusBody>(apiPath('cases', target.caseId, 'evidence', target.evidenceId, 'status'), { abortSignal });
    return { statuses: [status] };
  }
  const list = await api.getJson<EvidenceListBody>(apiPath('cases', target.caseId, 'evidence'), { abortSignal });
  const statuses: EvidenceStatusBody[] = [];
  for (const item of list.items) {
    statuses.push(await api.getJson<EvidenceStatusBody>(apiPath('cases', target.caseId, 'evidence', item.evidenceId, 'status'), { abortSignal }));
  }
  return { list, statuses };
}

/**
 * Polls until everything is complete or Ctrl-C. A 404 while watching means
 * "not registered yet" (the upload is still being picked up), so it waits.
 */
async function watch(ctx: CliContext, fetchAll: () => Promise<Fetched>, intervalMs: number): Promise<Fetched> {
  const view = createStatusProgressView(ctx.stderr);
  let waitingNoted = false;
  let last: Fetched = { statuses: [] };
  try {
    for (;;) {
      try {
        last = await fetchAll();
        view.update(last.statuses);
        if (last.statuses.length > 0 && last.statuses.every((s) => s.complete)) return last;
      } catch (err) {
        if (!isExhibitError(err, 'not-found')) throw err;
        if (!waitingNoted) ctx.stderr.write('not registered yet (or not assigned to you); waiting…\n');
        waitingNoted = true;
      }
      try {
        await sleep(intervalMs, undefined, { signal: ctx.abortSignal });
      } catch {
        return last;
      }
    }
  } finally {
    view.finish();
  }
}

function printStatuses(ctx: CliContext, target: { caseId: string; evidenceId?: string }, fetched: Fetched, options: StatusOptions): void {
  if (options.json) {
    const body = target.evidenceId !== undefined ? fetched.statuses[0] : { caseId: target.caseId, items: fetched.list?.items ?? [], statuses: fetched.statuses };
    ctx.stdout.write(JSON.stringify(body ?? null, null, 2) + '\n');
    return;
  }
  if (fetched.list) ctx.stdout.write(renderEvidenceList(fetched.list));
  const width = outputWidth(ctx.stdout, options.width);
  for (const s of fetched.statuses) ctx.stdout.write((fetched.list ? '\n' : '') + renderEvidenceStatus(s, { width }));
}
