import type { CustodyAction, CustodyEvent } from '@exhibit/core';
import type { ApiDeps, Principal } from './api.types.js';

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
