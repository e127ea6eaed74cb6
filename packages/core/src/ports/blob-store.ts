import type { Readable } from 'node:stream';
import type { BlobRef } from '../domain.js';

export interface BlobProperties extends BlobRef {
  size: number;
  etag: string;
  versionId?: string;
  contentType?: string;
  lastModified: Date;
  createdOn?: Date;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  offset?: number;
  /** Bytes to read from offset; omit for "to the end". */
  count?: number;
  /** Fail with precondition-failed if the blob changed since this ETag was seen. */
  ifMatch?: string;
  abortSignal?: AbortSignal;
}

export interface UploadOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Never overwrite: resolves with created=false when the blob exists. */
  ifNotExists?: boolean;
  /** Overwrite only the blob of this ETag: throws 'precondition-failed' (or 'not-found' when it is gone) otherwise. */
  ifMatch?: string;
  abortSignal?: AbortSignal;
}

/**
 * Blob storage as the pipeline needs it. Adapters translate SDK errors into
 * ExhibitError: 'not-found', 'precondition-failed', 'storage-unavailable'.
 */
export interface BlobStore {
  getProperties(ref: BlobRef, options?: { abortSignal?: AbortSignal }): Promise<BlobProperties>;
  exists(ref: BlobRef, options?: { abortSignal?: AbortSignal }): Promise<boolean>;
  /** Streams the blob (or a range of it) from storage; nothing is copied locally. */
  openRead(ref: BlobRef, options?: ReadOptions): Promise<Readable>;
  /** Reads exactly `count` bytes (fewer only at end of blob) from `offset`. */
  readRange(ref: BlobRef, offset: number, count: number, options?: { ifMatch?: string; abortSignal?: AbortSignal }): Promise<Buffer>;
  list(container: string, options?: { prefix?: string; abortSignal?: AbortSignal }): AsyncIterable<BlobProperties>;
  upload(ref: BlobRef, data: Buffer | Readable, options?: UploadOptions): Promise<{ created: boolean; etag: string }>;
  /** Server-side copy inside the account; the bytes never pass through us. */
  copy(from: BlobRef, to: BlobRef, options?: { ifNotExists?: boolean; abortSignal?: AbortSignal }): Promise<void>;
  delete(ref: BlobRef, options?: { abortSignal?: AbortSignal }): Promise<void>;
  /** Short-lived, read-only URL for one blob (SAS); never logged. */
  readUrl(ref: BlobRef, options: { expiresInMs: number }): Promise<string>;
  ensureContainer(container: string): Promise<void>;
}
