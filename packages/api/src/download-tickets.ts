import { createHash, randomBytes } from 'node:crypto';
import { ExhibitError, type Role, type TicketPurpose } from '@exhibit/core';
import type { ApiDeps, Principal } from './api.types.js';
import { API_LIMITS } from './api-limits.js';
import { notFound } from './http-errors.js';

/**
 * Download links that can be taken back.
 *
 * A storage SAS is a bearer grant that storage honours until it expires,
 * whatever happens to the assignment it was issued under. A download link is
 * instead an API URL, `…/files/{fileId}/content?ticket=<secret>`: the ticket
 * (stored only as its SHA-256, see migration 0102) names one file of one case
 * for one user until it expires. Each fetch redeems it here and then goes
 * through the same assignment check as a request with a token (the caller's
 * current assignment, and the role it narrows them to), and is recorded in
 * custody as a download by that user. So:
 *
 * - unassigning the user ends the link at once (the unassignment also deletes
 *   their tickets, so assigning them again does not revive old links);
 * - every fetch of the link, not only its issue, is in custody.
 */

/** 32 random bytes, base64url. */
const TICKET_RE = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedTicket {
  /** The secret part of the link. */
  ticket: string;
  /** Names the ticket in custody entries (the first 16 hex digits of its SHA-256); not enough to use it. */
  ticketId: string;
  expiresAt: string;
}

const sha256 = (ticket: string) => createHash('sha256').update(ticket, 'utf8').digest('hex');

export async function issueDownloadTicket(
  deps: ApiDeps,
  grant: { user: string; objectId?: string; roles: Role[]; caseId: string; fileId: string; purpose: TicketPurpose },
): Promise<IssuedTicket> {
  const now = deps.now?.() ?? new Date();
  const ticket = randomBytes(32).toString('base64url');
  const ticketSha256 = sha256(ticket);
  const expiresAt = new Date(now.getTime() + API_LIMITS.downloadUrlTtlMs).toISOString();
  // Unassigned since the access check: answered as for any caller who is not assigned.
  if (!(await deps.access.issueDownloadTicket({ ticketSha256, ...grant, issuedAt: now.toISOString(), expiresAt }))) throw notFound();
  return { ticket, ticketId: ticketSha256.slice(0, 16), expiresAt };
}

const invalid = () => new ExhibitError('unauthenticated', 'this download link is not valid: it expired, was revoked, or is for another file');

/**
 * The principal a ticket stands for, on the file it was issued for. Every
 * failure is the same 401, so a link reveals nothing about why it failed.
 * The caller must still authorise the principal against the case (the
 * current assignment), exactly as for a token.
 *
 * A ticket is redeemed only on the route it was issued for (`purpose`): a
 * playback link's ticket does not fetch the file as an attachment on
 * …/content, nor a download link's stream it inline on …/playback.
 */
export async function redeemDownloadTicket(
  deps: ApiDeps,
  ticket: string,
  target: { caseId?: string; fileId?: string; purpose: TicketPurpose },
): Promise<Principal> {
  if (!TICKET_RE.test(ticket)) throw invalid();
  const hash = sha256(ticket);
  const stored = await deps.access.getDownloadTicket(hash);
  const now = deps.now?.() ?? new Date();
  if (!stored || stored.caseId !== target.caseId || stored.fileId !== target.fileId || stored.purpose !== target.purpose) throw invalid();
  if (now.getTime() >= Date.parse(stored.expiresAt)) throw invalid();
  const principal: Principal = { user: stored.user, roles: stored.roles, authKind: 'ticket', expiresAt: stored.expiresAt, ticketId: hash.slice(0, 16) };
  // The holder's object id: their assignment is checked on each fetch as for their token.
  if (stored.objectId !== undefined) principal.objectId = stored.objectId;
  return principal;
}
