import { z } from 'zod';
import { ExhibitError, isExhibitError, type Role } from '@exhibit/core';
import { renderCustodyReportHtml, type CustodyAudit, type CustodyVerification } from '@exhibit/custody';
import { defineRoute, type ApiDeps, type ApiResponse, type Principal, type RouteModule } from '../api.types.js';
import { param } from '../query-params.js';
import { API_LIMITS } from '../api-limits.js';

declare module '../api.types.js' {
  interface ApiExtensions {
    /** Custody verification and reports (packages/custody's createCustodyLog provides it). */
    custodyAudit?: CustodyAudit;
  }
}

/** Verifying custody reads every log and re-hashes every evidence blob: supervisors only. */
const CUSTODY_AUDITORS: readonly Role[] = ['supervisor'];
const caseId = param.id('Case id');

const breakSchema = z.object({
  reason: z.string().describe('bad-signature, broken-link, seq-gap, reordered, inserted, truncated, index-mismatch, unknown-key, unparseable, non-canonical, wrong-subject, time-regression, segment-chain, evidence-modified, evidence-missing, missing-log, checkpoint-mismatch'),
  seq: z.number().nullable().describe('Seq of the entry at fault as written'),
  expectedSeq: z.number().nullable(),
  segment: z.string().nullable(),
  line: z.number().nullable(),
  detail: z.string(),
});
const keySchema = z.object({ keyId: z.string(), algorithm: z.enum(['Ed25519', 'ES256']), publicKeyJwk: z.record(z.string(), z.unknown()) });
const entrySchema = z.object({
  seq: z.number(),
  time: z.string(),
  actor: z.string(),
  action: z.string(),
  subject: z.object({
    caseId: z.string(),
    evidenceId: z.string(),
    blobName: z.string().optional(),
    fileId: z.string().optional(),
    sha256: z.string().optional(),
  }),
  details: z.record(z.string(), z.unknown()),
  tools: z.array(z.object({ name: z.string(), version: z.string() })),
  eventKey: z.string().optional(),
  keyId: z.string(),
  alg: z.string(),
  prevHash: z.string(),
  hash: z.string(),
  segment: z.string(),
});
export const custodyVerificationSchema = z
  .object({
    format: z.literal('exhibit-custody-verification/1'),
    caseId: z.string(),
    verifiedAt: z.string(),
    ok: z.boolean(),
    keys: z.object({
      source: z.enum(['trusted', 'keys.json', 'bundle']).describe("'trusted': keys given out of band (the API's are always); 'bundle': only the bundle's own (offline verification without --keys)"),
      accepted: z.array(keySchema),
      rejected: z.array(z.object({ keyId: z.string(), reason: z.string() })).describe("Keys not used, with why; a key found only beside the logs is 'untrusted: published only beside the logs'"),
    }),
    checkpoints: z
      .object({
        location: z.string(),
        verified: z.number(),
        rejected: z.array(z.object({ line: z.number(), evidenceId: z.string().nullable(), keyId: z.string().nullable(), reason: z.string() })),
      })
      .optional()
      .describe('Signed head checkpoints read; a rejected one (bad signature, untrusted key) fails the verification'),
    notes: z.array(z.string()).optional(),
    assignmentChangesPending: z
      .number()
      .optional()
      .describe("Assignment changes of the case (sign-in binds and merges, migration 0210's) whose 'assignment-change' entries were not yet written before or after the logs were read (each counted once; may be high, never low): they may not be in these logs (a note says so); absent when none"),
    items: z.array(
      z.object({
        caseId: z.string(),
        evidenceId: z.string(),
        ok: z.boolean(),
        verifiedEntries: z.number(),
        lastSeq: z.number().nullable(),
        headHash: z.string().nullable(),
        segments: z.array(z.object({ name: z.string(), entries: z.number(), bytes: z.number() })),
        indexEntries: z.number().nullable(),
        keyIds: z.array(z.string()),
        evidence: z.array(
          z.object({ blobName: z.string(), seq: z.number(), recordedSha256: z.string(), actualSha256: z.string().nullable(), ok: z.boolean() }),
        ),
        firstBreak: breakSchema.nullable(),
        checkpoint: z
          .object({ entries: z.number(), lastSeq: z.number(), headHash: z.string(), time: z.string(), keyId: z.string() })
          .nullable()
          .optional()
          .describe('The latest trusted checkpoint of this log (null: none yet)'),
        evidenceChecked: z.boolean().optional().describe('False when the evidence blobs were not re-hashed (rehash=false)'),
        auditRecorded: z
          .boolean()
          .optional()
          .describe("Whether this verification was written to the item's own log; false when the log is damaged so that it takes no further entries"),
        indexGaps: z
          .array(z.object({ fromSeq: z.number(), toSeq: z.number() }))
          .optional()
          .describe('Entries the index copy has no row for, vouched for by the next entry it records (hash chain): not tampering'),
        entries: z.array(entrySchema).optional(),
        entriesOmitted: z.number().optional(),
      }),
    ),
  })
  .describe('Result of re-verifying the custody logs from storage; ok=false names the first broken link per evidence item');

/** The case's changes pending custody at one moment: their ids (at most assignmentCustodyBatch) and how many there were. */
interface PendingSnapshot {
  ids: Set<string>;
  count: number;
}

async function pendingSnapshot(deps: ApiDeps, caseId: string): Promise<PendingSnapshot> {
  const listed = await deps.access.pendingAssignmentCustody({ caseIds: [caseId], limit: API_LIMITS.assignmentCustodyBatch });
  const ids = new Set(listed.map((c) => c.changeId));
  // A full page may not be all of them: the count then comes from the store (never below the page).
  const count = listed.length < API_LIMITS.assignmentCustodyBatch ? listed.length : Math.max(listed.length, await deps.access.countPendingAssignmentCustody(caseId));
  return { ids, count };
}

/**
 * Assignment changes of the case that waited for their custody entries while the logs were read.
 * The access check writes them first (answersWithCustodyPending), but on these diagnostic routes a
 * failed write is logged and the route answers anyway, and a sign-in may bind between that check
 * and the read or during it: a report then states how many are missing instead of looking complete
 * (custody-report-omits-pending-assignment-changes-silently). Read before the logs are read and
 * again after (custody-report-pending-count-misses-bind-during-read: counted only before, a bind
 * made during the read and still unwritten was not named): every change pending at either moment,
 * each once (the union of their ids). May be high (one written during the read, whose entry the
 * read then saw), never low; a change both made and written during the read is, like any entry
 * appended during the read, in the logs or not by when each was read.
 */
function pendingAcrossRead(before: PendingSnapshot, after: PendingSnapshot): number {
  let both = 0;
  for (const id of after.ids) if (before.ids.has(id)) both++;
  return before.count + after.count - both;
}

function withPendingNote(result: CustodyVerification & { assignmentChangesPending?: number }, pending: number) {
  if (pending === 0) return result;
  const note =
    `${pending} assignment change${pending === 1 ? '' : 's'} of this case (sign-in bind or merge, migration 0210) ` +
    `${pending === 1 ? 'was' : 'were'} still pending custody when this was read: ${pending === 1 ? 'its' : 'their'} 'assignment-change' entries ` +
    `are not in these logs yet (see GET …/assignments and the assignment history; written before the case's next answer or at the next start)`;
  return { ...result, notes: [...(result.notes ?? []), note], assignmentChangesPending: pending };
}

/** 503 (the standard body) when this deployment was composed without custody verification. */
function audit(deps: ApiDeps): CustodyAudit {
  const service = deps.extensions?.custodyAudit;
  if (!service) throw new ExhibitError('tool-unavailable', 'custody verification is not configured');
  return service;
}

/**
 * Who looked is itself recorded, in each log that was looked at. A damaged log (cut in
 * the middle of a line, an unreadable first entry, a missing segment) takes no further
 * entries until it is dealt with: the writer refuses with 'conflict'. That refusal is
 * this item's result, not the request's: the other logs still record the verification
 * and the caller still gets every item's break (it once failed the whole case with 409).
 */
async function recordVerification(
  deps: ApiDeps,
  principal: Principal,
  result: CustodyVerification,
  kind: 'verify' | 'report',
): Promise<CustodyVerification> {
  const items: CustodyVerification['items'] = [];
  for (const item of result.items) {
    let auditRecorded = true;
    try {
      // Not under the request's abort signal: a verification that ran is recorded even if its client left.
      await deps.custody.record(
        {
          caseId: item.caseId,
          evidenceId: item.evidenceId,
          action: 'verify',
          actor: principal.user,
          details: {
            kind,
            ok: item.ok,
            verifiedEntries: item.verifiedEntries,
            headHash: item.headHash,
            firstBreak: item.firstBreak ? { reason: item.firstBreak.reason, seq: item.firstBreak.seq } : null,
            authKind: principal.authKind,
            roles: principal.roles,
          },
        },
      );
    } catch (err) {
      // Only a log this verification found broken may refuse; anything else is a fault.
      if (item.ok || !isExhibitError(err, 'conflict')) throw err;
      auditRecorded = false;
      deps.logger.warn(
        { caseId: item.caseId, evidenceId: item.evidenceId, user: principal.user, kind, firstBreak: item.firstBreak?.reason, err: err.message },
        'custody verification not recorded in a damaged log',
      );
    }
    items.push({ ...item, auditRecorded });
  }
  return { ...result, items };
}

export const custodyRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/custody/verify',
    operationId: 'verifyCustody',
    summary: 'Re-verify the chain of custody of a case (or one evidence item) from storage',
    description:
      'Checks every entry\'s signature, hash link, sequence and time, segment chaining, agreement with the index copy, and re-hashes the evidence blobs. ' +
      'A broken chain is a result (200, ok=false, firstBreak per item), not an error. Recorded as a custody \'verify\' entry in each log verified.',
    access: { roles: CUSTODY_AUDITORS, caseScoped: true, answersWithCustodyPending: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({
      evidenceId: param.id('Only this evidence item').optional(),
      rehash: param.bool('Re-hash the evidence blobs (default true)').optional(),
    }),
    responses: { 200: { description: 'Verification result', schema: custodyVerificationSchema } },
    async handler({ deps, principal, params, query, abortSignal }) {
      const before = await pendingSnapshot(deps, params.caseId);
      const result = await audit(deps).verify({
        caseId: params.caseId,
        ...(query.evidenceId ? { evidenceId: query.evidenceId } : {}),
        ...(query.rehash === undefined ? {} : { checkEvidence: query.rehash }),
        ...(abortSignal ? { abortSignal } : {}),
      });
      const pending = pendingAcrossRead(before, await pendingSnapshot(deps, params.caseId));
      const recorded = withPendingNote(await recordVerification(deps, principal, result, 'verify'), pending);
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: recorded satisfies z.input<typeof custodyVerificationSchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/custody/report',
    operationId: 'custodyReport',
    summary: 'Chain-of-custody report: every entry with its hash, and the verification result',
    description: 'format=html gives a self-contained printable page; format=json the verification with its entries. Recorded like a verification.',
    access: { roles: CUSTODY_AUDITORS, caseScoped: true, answersWithCustodyPending: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({
      format: z.enum(['json', 'html']).optional().describe('json (default) or html'),
      evidenceId: param.id('Only this evidence item').optional(),
    }),
    responses: {
      200: { description: 'The report (JSON, or text/html with format=html)', schema: custodyVerificationSchema },
    },
    async handler({ deps, principal, params, query, abortSignal }): Promise<ApiResponse> {
      const before = await pendingSnapshot(deps, params.caseId);
      const result = await audit(deps).report({
        caseId: params.caseId,
        ...(query.evidenceId ? { evidenceId: query.evidenceId } : {}),
        ...(abortSignal ? { abortSignal } : {}),
      });
      const pending = pendingAcrossRead(before, await pendingSnapshot(deps, params.caseId));
      const recorded = withPendingNote(await recordVerification(deps, principal, result, 'report'), pending);
      if (query.format === 'html') {
        return {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
            'x-content-type-options': 'nosniff',
            'cache-control': 'private, no-store',
          },
          body: Buffer.from(renderCustodyReportHtml(recorded, { generatedBy: principal.user }), 'utf8'),
        };
      }
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: recorded satisfies z.input<typeof custodyVerificationSchema> };
    },
  }),
];
