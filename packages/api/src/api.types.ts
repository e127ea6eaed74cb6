import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { PendingAssignmentCustodyPass } from './access-events.js';
import type { VerifiedSpans } from './verified-spans.js';
import type {
  AccessStore,
  BlobStore,
  CaseAssignment,
  CustodyRecorder,
  IndexStore,
  Logger,
  Role,
  TicketPurpose,
} from '@exhibit/core';

/**
 * The framework-agnostic request. Adapters (node:http here, Azure Functions
 * elsewhere) build it; `path` is what follows the `/api` prefix.
 */
export interface ApiRequest {
  method: string;
  /** e.g. '/cases/C1/files' (no '/api' prefix, no query string). */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON body, if the request had one. */
  body?: unknown;
  requestId?: string;
  /**
   * The API's base URL as the caller reached it, e.g. 'http://127.0.0.1:7071/api'
   * (adapters set it), for links the API hands back. Without it they are relative ('/api/…').
   */
  baseUrl?: string;
}

/**
 * `body` is sent as JSON unless it is a Buffer or a Readable, which are sent
 * as they are with the content-type the handler set.
 */
export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown | Buffer | Readable;
}

export interface Principal {
  user: string;
  /** Only roles this API knows; anything else in the token is dropped. */
  roles: Role[];
  /** 'ticket': a download link's ticket (download-tickets.ts), on the one route that takes one. */
  authKind: 'local' | 'entra' | 'anonymous' | 'ticket';
  /** Entra object id, when the token came from Entra. */
  objectId?: string;
  expiresAt?: string;
  /** With authKind 'ticket': which ticket (first 16 hex digits of its SHA-256), for custody entries. */
  ticketId?: string;
}

export interface TokenVerifier {
  /** Throws ExhibitError 'unauthenticated' for any bad token; retryable codes when keys cannot be fetched. */
  verify(token: string, options?: { abortSignal?: AbortSignal }): Promise<Principal>;
}

/** Everything a handler may touch: ports only, built by the composition root. */
export interface ApiDeps {
  index: IndexStore;
  blobs: BlobStore;
  access: AccessStore;
  custody: CustodyRecorder;
  tokens: TokenVerifier;
  containers: { evidence: string; derived: string };
  logger: Logger;
  /** Clock, for expiry times in responses. */
  now?: () => Date;
  /**
   * Whole-blob files larger than this get a storage SAS from GET …/download
   * instead of a revocable API link (default API_LIMITS.downloadSasOverBytes;
   * tests lower it).
   */
  downloadSasOverBytes?: number;
  /**
   * GET …/content reads and checks files up to this size whole before sending
   * any byte of them, a part included (default VERIFY_BEFORE_SEND_BYTES, 16 MiB;
   * tests lower it to serve a small file as a large one is served).
   */
  verifyBeforeSendBytes?: number;
  /**
   * The record of spans read whole and found to hash as recorded, so a later part of a file up to
   * verifyBeforeSendBytes is one ranged read (verified-spans.ts). Default: one per ApiDeps with
   * API_LIMITS' TTL and size; tests give their own (a clock, a bound).
   */
  verifiedSpans?: VerifiedSpans;
  /** Services for route modules added later; see ApiExtensions. */
  extensions?: ApiExtensions;
}

/**
 * Extension point for route modules that need a service the core routes do
 * not (e.g. custody verification). A module augments this interface:
 *   declare module '../api.types.js' { interface ApiExtensions { custodyAudit?: CustodyAudit } }
 * and the composition root passes `extensions: { custodyAudit }` to createApi.
 * Handlers answer 503 when their service was not provided.
 */
export interface ApiExtensions {}

/**
 * Who may call a route. Case-scoped routes check the caller's assignment to
 * `{caseId}` before anything else; an unassigned caller gets the same 404 as
 * for a case that does not exist. `anyCaseRoles` pass that check without an
 * assignment (only admins managing assignments). `newCaseRoles` pass it
 * without an assignment only while the case is new (nobody assigned or
 * claimed, nothing received): the handler then claims it for the caller
 * (examiners opening a case by uploading to it).
 */
export type AccessRule =
  | 'public'
  | { roles: readonly Role[]; caseScoped: false }
  | {
      roles: readonly Role[];
      caseScoped: true;
      anyCaseRoles?: readonly Role[];
      newCaseRoles?: readonly Role[];
      /**
       * A supervisor's or auditor's read used to diagnose the case (assignments, access events,
       * custody verify/report): answered even when the custody entries of the case's pending
       * assignment changes cannot be written (logged as an error), so a failing custody write can
       * be investigated. Every other case route fails, for callers with an assignment of the case,
   * until they are written.
       */
      answersWithCustodyPending?: true;
    };

/** What the case check found: the assignment (if any) and the roles the caller acts with on this case. */
export interface CaseAccess {
  caseId: string;
  assignment: CaseAssignment | null;
  roles: Role[];
  /** Let in through `newCaseRoles`: the case is new and the handler must claim it (AccessStore.claimNewCase). */
  newCase?: boolean;
}

export interface RouteContext<P, Q, B> {
  deps: ApiDeps;
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  /** Set on case-scoped routes. */
  caseAccess: CaseAccess | null;
  requestId: string;
  logger: Logger;
  abortSignal?: AbortSignal;
  /** See ApiRequest.baseUrl. */
  baseUrl?: string;
  /** The request's headers (lower-case names), e.g. for If-None-Match. */
  requestHeaders?: Record<string, string | undefined>;
}

export interface RouteResponseSpec {
  description: string;
  /** JSON body schema (documentation, and checked by the tests). */
  schema?: z.ZodType;
  /** For non-JSON bodies, e.g. 'image/jpeg'. */
  contentType?: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType | undefined> {
  method: HttpMethod;
  /** Pattern after '/api', with `{name}` segments, e.g. '/cases/{caseId}/files/{fileId}'. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  access: AccessRule;
  /**
   * Also accepts a download link's ticket (`?ticket=`) in place of a bearer
   * token; the ticket's user then goes through the same access check. Names
   * the purpose a ticket must have been issued for to be accepted here.
   */
  acceptsDownloadTicket?: TicketPurpose;
  /**
   * Headers every error answer of this route carries too (whatever failed: the ticket, the access
   * check, the handler): a route whose URL a page embeds (…/playback in a <video>) answers errors
   * with the same nosniff and Cross-Origin-Resource-Policy as its bytes.
   */
  errorHeaders?: Readonly<Record<string, string>>;
  /** One key per `{name}` in the path. */
  params: P;
  /** Strict: unknown query parameters are rejected with 400. */
  query: Q;
  body?: B;
  responses: Record<number, RouteResponseSpec>;
  handler: (
    ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>,
  ) => Promise<ApiResponse>;
}

/** A route with its types erased, as the table holds it. */
export interface RouteDef {
  method: HttpMethod;
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  access: AccessRule;
  acceptsDownloadTicket?: TicketPurpose;
  errorHeaders?: Readonly<Record<string, string>>;
  params: AnyObject;
  query: AnyObject;
  body?: z.ZodType;
  responses: Record<number, RouteResponseSpec>;
  handler: (ctx: RouteContext<unknown, unknown, unknown>) => Promise<ApiResponse>;
}

export function defineRoute<P extends AnyObject, Q extends AnyObject, B extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<P, Q, B>,
): RouteDef {
  return spec as unknown as RouteDef;
}

/** A group of routes; the route table is a list of these. */
export type RouteModule = readonly RouteDef[];

export interface Api {
  readonly routes: readonly RouteDef[];
  handle(req: ApiRequest, options?: { abortSignal?: AbortSignal }): Promise<ApiResponse>;
  /** Writes the read audit's pending repeat counts (read-audit.ts); call before the process stops. Never throws. */
  flush(): Promise<void>;
  /**
   * Writes the custody entries of assignment changes no request recorded (migration 0210's merges,
   * sign-ins'), case by case (a failing case is logged and left pending); at start-up. Never throws
   * for one case's failure; rejects only if the pending cases cannot be read. Stops (resolving with
   * `stopped`) when `abortSignal` fires (the host's shutdown) or after `maxMs`
   * (API_LIMITS.assignmentCustodyStartupPassMs); what it did not write stays pending.
   */
  recordPendingAssignmentChanges(options?: { abortSignal?: AbortSignal; maxMs?: number }): Promise<PendingAssignmentCustodyPass>;
}
