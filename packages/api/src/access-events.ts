import type { CaseAssignment, CustodyAction, CustodyEvent } from '@exhibit/core';
import type { ApiDeps, Principal } from './api.types.js';
import { identityOf } from './access-check.js';
import { API_LIMITS } from './api-limits.js';

/**
 * Custody entries for what people do through the API. The custody log is
 * per evidence item, so a case-wide action (a search over the whole case, an
 * assignment change) is written to the log of every evidence item of the
 * case: each item's chain then shows everyone who could see it.
 *
 * Handlers record before they return data: if the entry cannot be written
 * the request fails (retryable) rather than show something unrecorded.
 *
 * The request's abort signal is deliberately not passed here: a client that goes
 * away mid-write (a browser cancelling thumbnail loads as the user scrolls)
 * must not cancel a write that may already have landed in some logs, or have
 * reached storage without its answer, leaving the read half recorded. The
 * custody writer bounds its own retries.
 */
export async function recordForCase(
  deps: ApiDeps,
  principal: Principal,
  event: {
    caseId: string;
    evidenceIds?: string[];
    action: CustodyAction;
    subject?: CustodyEvent['subject'];
    details: Record<string, unknown>;
    /** Makes a repeat a no-op in each item's log (a client's retry re-recording what may be there already). */
    eventKey?: string;
  },
  /** A deadline of the caller's own (a shutdown's), never the request's. */
  options: { abortSignal?: AbortSignal } = {},
): Promise<number> {
  const evidenceIds = event.evidenceIds ?? (await deps.index.listEvidence(event.caseId)).map((e) => e.evidenceId);
  for (const evidenceId of evidenceIds) {
    await deps.custody.record(
      {
        caseId: event.caseId,
        evidenceId,
        action: event.action,
        actor: principal.user,
        ...(event.subject ? { subject: event.subject } : {}),
        details: {
          ...event.details,
          authKind: principal.authKind,
          roles: principal.roles,
          // The Entra object id beside the (mutable) UPN in actor: who it was, after a rename too.
          ...(principal.objectId !== undefined ? { objectId: principal.objectId } : {}),
          ...(principal.ticketId ? { ticketId: principal.ticketId } : {}),
        },
        ...(event.eventKey ? { eventKey: event.eventKey } : {}),
      },
      options,
    );
  }
  return evidenceIds.length;
}

/**
 * Custody entries for the assignment changes no supervisor's request made: an Entra sign-in that
 * bound an assignment to its object id or merged a second one into it (keeping the narrower role),
 * and migration 0210's merges (a migration cannot sign the log). The store keeps them in the
 * history, pending, in the same transaction as the change; this writes one 'assignment-change'
 * entry per change in every evidence item log of its case, actor the signer (or 'migration 0210'),
 * keyed by the history's change id so a retry or a second process writing the same change adds
 * nothing, and only then clears them. Called before a request that saw pending changes of its cases
 * is answered and at start-up. A failure fails the request, for callers with an assignment of the
 * case (except routes marked answersWithCustodyPending); its retry writes them.
 */
export async function recordPendingAssignmentChanges(
  deps: ApiDeps,
  caseIds?: readonly string[],
  options: { abortSignal?: AbortSignal } = {},
): Promise<number> {
  let written = 0;
  let last = -1n;
  for (;;) {
    const pending = await deps.access.pendingAssignmentCustody({
      ...(caseIds ? { caseIds } : {}),
      limit: API_LIMITS.assignmentCustodyBatch,
    });
    // Oldest first: a batch not past the last one means the marks did not clear; stop rather than loop.
    if (pending.length === 0 || BigInt(pending[0]!.changeId) <= last) return written;
    last = BigInt(pending.at(-1)!.changeId);
    for (const change of pending) {
      const evidence = await deps.index.listEvidence(change.caseId);
      for (const { evidenceId } of evidence) {
        // Keyed entries: stopping between them is safe, the rest is written (and the written ones skipped) next time.
        options.abortSignal?.throwIfAborted();
        await deps.custody.record(
          {
            caseId: change.caseId,
            evidenceId,
            action: 'assignment-change',
            actor: change.changedBy,
            details: {
              change: change.action,
              user: change.user,
              role: change.role,
              previousRole: change.previousRole,
              // The account the assignment is bound to, under the key request-made entries use
              // (assignments.routes.ts; pending-assignment-entry-lacks-userobjectid: only 'objectId'
              // carried it). 'objectId' is the actor's, as in every entry (recordForCase; the
              // access-events user filter reads it): a sign-in's bind or merge is by that account
              // itself, so both name it; migration 0210's (a GUID name bound) have only 'userObjectId',
              // the migration being no account (older ones carry the bound account as 'objectId', which
              // the access-events user filter skips for actor 'migration 0210').
              ...(change.objectId !== undefined ? { userObjectId: change.objectId } : {}),
              ...(change.objectId !== undefined && change.changedBy !== 'migration 0210' ? { objectId: change.objectId } : {}),
              changedAt: change.changedAt,
              // Why no supervisor's request carries it.
              recordedFor: change.changedBy === 'migration 0210' ? 'migration 0210' : 'sign-in',
            },
            eventKey: `assignment-history:${change.changeId}`,
          },
          options,
        );
      }
      written++;
    }
    await deps.access.assignmentCustodyRecorded(pending.map((c) => c.changeId));
  }
}

/** What a start-up pass over pending assignment custody did. */
export interface PendingAssignmentCustodyPass {
  /** Changes whose custody entries were written. */
  written: number;
  /** Cases whose entries could not be written (left pending, logged): each is retried before its requests and at the next start. */
  failedCases: string[];
  /**
   * Set when the pass stopped before the end: 'shutdown' (the host's signal) or 'time-limit'
   * (assignmentCustodyStartupPassMs). What it had not written stays pending, written before the
   * cases' next requests and by the next start's pass (a change already written is a no-op: event keys).
   */
  stopped?: 'shutdown' | 'time-limit';
}

/**
 * Writes every case's pending assignment custody, case by case: one case whose custody write fails
 * (a damaged log, a case too large for the deadline) is logged and left pending, and the others are
 * still written. Logs what was written per case and what was left.
 */
export async function recordAllPendingAssignmentChanges(
  deps: ApiDeps,
  options: {
    /** The host's shutdown: the pass stops between entries (the custody writer's own waits end too). */
    abortSignal?: AbortSignal;
    /** Default API_LIMITS.assignmentCustodyStartupPassMs. */
    maxMs?: number;
  } = {},
): Promise<PendingAssignmentCustodyPass> {
  const pass: PendingAssignmentCustodyPass = { written: 0, failedCases: [] };
  // pending-custody-startup-pass-unstoppable: it once ran to the end whatever happened, so a host
  // shutting down waited (close() awaits it) for every case's every evidence log to be written.
  const timeLimit = AbortSignal.timeout(options.maxMs ?? API_LIMITS.assignmentCustodyStartupPassMs);
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeLimit]) : timeLimit;
  const stoppedBy = (): PendingAssignmentCustodyPass['stopped'] | undefined =>
    options.abortSignal?.aborted ? 'shutdown' : timeLimit.aborted ? 'time-limit' : undefined;
  const stop = (): PendingAssignmentCustodyPass => {
    pass.stopped = stoppedBy()!;
    deps.logger.warn({ stopped: pass.stopped, written: pass.written }, 'start-up pass over assignment-change custody entries stopped; the rest stays pending (written before the cases\' requests and at the next start)');
    return pass;
  };
  let after: string | undefined;
  for (;;) {
    if (signal.aborted) return stop();
    const caseIds = await deps.access.casesWithPendingAssignmentCustody({
      ...(after !== undefined ? { afterCaseId: after } : {}),
      limit: API_LIMITS.assignmentCustodyBatch,
    });
    if (caseIds.length === 0) return pass;
    for (const caseId of caseIds) {
      if (signal.aborted) return stop();
      try {
        const written = await recordPendingAssignmentChanges(deps, [caseId], { abortSignal: signal });
        pass.written += written;
        if (written > 0) deps.logger.info({ caseId, written }, 'custody entries written for assignment changes');
      } catch (err) {
        // Stopped mid-case: not this case's failure; its marks were not cleared, so it stays pending.
        if (signal.aborted) return stop();
        pass.failedCases.push(caseId);
        deps.logger.error({ err, caseId }, 'custody entries of assignment changes NOT written; left pending, retried before requests of the case and at the next start');
      }
    }
    after = caseIds.at(-1);
  }
}

/** The caller's assignments (casesFor), with the custody entries of any bind or merge that made them written first. */
export async function assignmentsOf(deps: ApiDeps, principal: Principal): Promise<CaseAssignment[]> {
  const resolved = await deps.access.resolveCases(identityOf(principal));
  if (resolved.custodyPending) await recordPendingAssignmentChanges(deps, resolved.assignments.map((a) => a.caseId));
  return resolved.assignments;
}
