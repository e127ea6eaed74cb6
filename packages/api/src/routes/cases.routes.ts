import { z } from 'zod';
import { volumeIssueOf } from '@exhibit/core';
import { defineRoute, type RouteModule } from '../api.types.js';
import { ANY_ROLE, CASE_LISTERS, CASE_READERS } from '../access-policy.js';
import { API_LIMITS } from '../api-limits.js';
import { assignmentsOf } from '../access-events.js';
import { notFound } from '../http-errors.js';
import { readAuditOf } from '../read-audit.js';
import { param } from '../query-params.js';
import { caseListSchema, evidenceListSchema, evidenceStatusSchema } from '../response-schemas.js';

const caseId = param.id('Case id');

export const casesRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases',
    operationId: 'listCases',
    summary: "The caller's cases (from assignments) with evidence counts; admins see every case",
    description:
      'For admins the list also holds every case the system knows of that they are not assigned to (`assigned: false`), ' +
      'with its number of assignees, so a case nobody is assigned to cannot go unnoticed. Only ids and counts are shown. ' +
      "Each case listed is recorded as a 'read' (route listCases) in its custody log, rate-limited: the first listing in a window at once, repeats counted.",
    access: { roles: ANY_ROLE, caseScoped: false },
    params: z.strictObject({}),
    query: z.strictObject({}),
    responses: { 200: { description: 'Cases the caller is assigned to (admins: all cases)', schema: caseListSchema } },
    async handler({ deps, principal, logger, abortSignal }) {
      const assignments = await assignmentsOf(deps, principal);
      const all = principal.roles.some((r) => CASE_LISTERS.includes(r)) ? await deps.access.listAllCases() : null;
      const overview = new Map((all ?? []).map((c) => [c.caseId, c]));
      const mine = new Map(assignments.map((a) => [a.caseId, a]));
      const caseIds = all ? all.map((c) => c.caseId) : assignments.map((a) => a.caseId);
      for (const a of assignments) if (!overview.has(a.caseId) && all) caseIds.push(a.caseId);
      // Admins: one pass over the index for every case; others: their few cases one by one.
      const evidenceByCase = new Map<string, Array<{ evidenceId: string; files: number; complete: boolean }>>();
      const evidence = all ? await deps.index.listEvidence() : (await Promise.all(caseIds.map((id) => deps.index.listEvidence(id)))).flat();
      for (const e of evidence) (evidenceByCase.get(e.caseId) ?? evidenceByCase.set(e.caseId, []).get(e.caseId)!).push(e);
      const cases: z.input<typeof caseListSchema>['cases'] = [];
      for (const id of [...new Set(caseIds)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
        const a = mine.get(id);
        const evidence = evidenceByCase.get(id) ?? [];
        const c = overview.get(id);
        cases.push({
          caseId: id,
          role: a?.role ?? null,
          assignedAt: a?.assignedAt ?? null,
          assigned: a !== undefined,
          ...(all ? { assignees: c?.assignees ?? 0, claimedBy: c?.claimedBy ?? null } : {}),
          evidence: evidence.length,
          files: evidence.reduce((n, e) => n + e.files, 0),
          complete: evidence.length > 0 && evidence.every((e) => e.complete),
        });
      }
      // Recorded before the list is returned: being shown a case is a read of it. Each case's logs
      // are their own, so a few cases are written at a time (an admin's first list can name many).
      const audit = readAuditOf(deps);
      const queue = [...cases];
      const writer = async (): Promise<void> => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          await audit.record(
            principal,
            {
              caseId: c.caseId,
              route: 'listCases',
              caseEvidenceIds: (evidenceByCase.get(c.caseId) ?? []).map((e) => e.evidenceId),
              details: { assigned: c.assigned, evidence: c.evidence, files: c.files },
            },
            { logger },
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(API_LIMITS.readAuditParallelCases, queue.length) }, writer));
      return { status: 200, body: { cases } satisfies z.input<typeof caseListSchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/evidence',
    operationId: 'listEvidence',
    summary: 'Evidence items of a case, with counts and whether processing is complete',
    description: "Recorded as a 'read' (route listEvidence) in the custody log of every evidence item, rate-limited (see GET /cases).",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Evidence items (empty until something is uploaded)', schema: evidenceListSchema } },
    async handler({ deps, principal, params, logger, abortSignal }) {
      const items = (await deps.index.listEvidence(params.caseId))
        .filter((e) => e.caseId === params.caseId)
        .map(({ evidenceId, uploads, files, complete }) => ({ evidenceId, uploads, files, complete }))
        .sort((a, b) => (a.evidenceId < b.evidenceId ? -1 : a.evidenceId > b.evidenceId ? 1 : 0));
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'listEvidence', caseEvidenceIds: items.map((e) => e.evidenceId), details: { items: items.length } },
        { logger },
      );
      return { status: 200, body: { caseId: params.caseId, items } satisfies z.input<typeof evidenceListSchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/evidence/{evidenceId}/status',
    operationId: 'getEvidenceStatus',
    summary: 'Processing status of one evidence item: uploads, per-stage counts, failures, findings',
    description: "Recorded as a 'read' (route getEvidenceStatus) in the item's custody log, rate-limited per user and item (see GET /cases): polling writes one entry per window.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId, evidenceId: param.id('Evidence id') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Status; `complete` is true when nothing is left to do', schema: evidenceStatusSchema } },
    async handler({ deps, principal, params, logger, abortSignal }) {
      const status = await deps.index.evidenceStatus(params.caseId, params.evidenceId);
      if (!status) throw notFound();
      const registrations = await deps.access.getUploadRegistrations(status.uploads.map((u) => u.blobName));
      const uploads = status.uploads.map((u) => ({ ...u, uploadedBy: registrations.get(u.blobName)?.uploadedBy ?? null }));
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, evidenceId: params.evidenceId, route: 'getEvidenceStatus', details: { complete: status.complete } },
        { logger },
      );
      // Each note and problem in words with its kind, so no client reparses the stored text (volumeIssueOf).
      const diskImages = status.diskImages.map((d) => ({ ...d, volumeIssues: d.volumeProblems.map(volumeIssueOf) }));
      return { status: 200, body: { ...status, uploads, diskImages } };
    },
  }),
];
