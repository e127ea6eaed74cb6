import type { Readable } from 'node:stream';
import type { ToolVersion } from '../domain.js';
import type { PIPELINE_CUSTODY_ACTIONS } from '../lifecycle.js';

type PipelineCustodyAction = (typeof PIPELINE_CUSTODY_ACTIONS)[number];

export type CustodyAction =
  /** What the pipeline records, listed with the lifecycle. */
  | PipelineCustodyAction
  | 'stage-completed'
  | 'upload'
  | 'search'
  | 'view'
  | 'thumbnail-view'
  | 'download'
  | 'export'
  /** A tag (bookmark) with its note added to, changed on or removed from a file by a reviewer. */
  | 'bookmark'
  | 'assignment-change'
  | 'verify'
  /** A read of case data other than a file: status, evidence and assignment lists, the case in /cases (rate-limited, see the API's read-audit). */
  | 'read'
  /** Storage lost the newest entries of a log (a crash); the same signed lines were appended again from the index. */
  | 'log-restored'
  /** A file's content matched a known-bad or notable hash set (docs/known-files.md). */
  | 'known-file-match'
  /** A known-file match was withdrawn because its hash set was disabled. */
  | 'known-file-match-withdrawn'
  /** A content indexed before PDQ existed got its PDQ hashes from its original bytes (docs/pdq.md, "Backfill"). */
  | 'pdq-backfill';

export interface CustodyEvent {
  caseId: string;
  evidenceId: string;
  action: CustodyAction;
  /** User name or service identity, e.g. 'service:exhibit-pipeline'. */
  actor: string;
  subject?: { blobName?: string; fileId?: string; sha256?: string };
  details: Record<string, unknown>;
  tools?: ToolVersion[];
  /**
   * Idempotency key: the same key is written once however often a message is
   * redelivered, e.g. `hash:<blobName>:<etag>`. Human actions leave it unset.
   * Any length: one over 512 characters (a long blob name) is stored as
   * `<kind>:sha256:<hex>` of the key (custody-entry.ts, storedEventKey).
   */
  eventKey?: string;
}

/** What the pipeline and the API write to; the custody package implements it. */
export interface CustodyRecorder {
  record(event: CustodyEvent, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** The pipeline's own identity in custody entries. */
export const PIPELINE_ACTOR = 'service:exhibit-pipeline';

/** State of one append blob: what a conditional append must name. */
export interface AppendLogHead {
  /** Bytes committed; the next append must start here. */
  length: number;
  etag: string;
  /** Committed append blocks (Azure allows 50,000 per blob). */
  blockCount: number;
}

/**
 * Append-only logs in one container (custody): one append = one block, and an
 * append only lands at the position and ETag the writer last saw, so
 * concurrent writers never fork a log. Errors: ExhibitError 'not-found',
 * 'precondition-failed' (someone else wrote first), 'storage-unavailable'.
 */
export interface AppendLog {
  readonly container: string;
  head(name: string, options?: { abortSignal?: AbortSignal }): Promise<AppendLogHead | null>;
  /** Creates an empty log; with ifNotExists an existing one is left alone (created=false). */
  create(name: string, options?: { ifNotExists?: boolean; abortSignal?: AbortSignal }): Promise<{ created: boolean }>;
  /** Appends one block; resolves with the state after it. */
  append(name: string, bytes: Buffer, options: { appendPosition: number; ifMatch: string; abortSignal?: AbortSignal }): Promise<AppendLogHead>;
  /** Streams the log (or a range of it), optionally pinned to an ETag. */
  read(name: string, options?: { offset?: number; count?: number; ifMatch?: string; abortSignal?: AbortSignal }): Promise<Readable>;
  /** Logs whose names start with prefix, in name order. */
  list(prefix: string, options?: { abortSignal?: AbortSignal }): AsyncIterable<{ name: string; length: number; etag: string }>;
  /** Small JSON documents kept beside the logs (a case's keys.json). */
  getDocument(name: string, options?: { abortSignal?: AbortSignal }): Promise<{ bytes: Buffer; etag: string } | null>;
  /** Writes a document only if it is unchanged since `ifMatch` (or absent, with ifNoneMatch '*'). */
  putDocument(
    name: string,
    bytes: Buffer,
    options: { ifMatch?: string; ifNoneMatch?: '*'; contentType?: string; abortSignal?: AbortSignal },
  ): Promise<{ etag: string }>;
}
