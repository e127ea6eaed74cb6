import type { ToolVersion } from '../domain.js';

export type CustodyAction =
  | 'received'
  | 'acquisition-hashes'
  | 'integrity-verified'
  | 'integrity-mismatch'
  | 'evidence-changed'
  | 'unpacked'
  | 'stage-completed'
  | 'stage-failed'
  | 'processing-complete'
  | 'upload'
  | 'search'
  | 'view'
  | 'thumbnail-view'
  | 'download'
  | 'export'
  | 'assignment-change'
  | 'verify';

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
   */
  eventKey?: string;
}

/** What the pipeline and the API write to; the custody package implements it. */
export interface CustodyRecorder {
  record(event: CustodyEvent, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** The pipeline's own identity in custody entries. */
export const PIPELINE_ACTOR = 'service:exhibit-pipeline';
