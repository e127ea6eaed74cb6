/**
 * One block blob as the uploader needs it. The Azure adapter
 * (upload.azure.ts) translates SDK errors into ExhibitError:
 * 'conflict' (blob already exists), 'not-found' (no such container),
 * 'storage-unavailable', 'forbidden', 'unauthenticated', 'aborted'.
 */
export interface BlockBlobTarget {
  /** Container/name, for messages. */
  readonly displayName: string;
  /** True when a committed blob exists under this name. */
  exists(options?: { abortSignal?: AbortSignal }): Promise<boolean>;
  /** Blocks staged but never committed (an interrupted upload), id → size in bytes. */
  uncommittedBlocks(options?: { abortSignal?: AbortSignal }): Promise<Map<string, number>>;
  /** Stages one block; the service checks `contentMd5` on arrival. */
  stageBlock(id: string, data: Buffer, options: { contentMd5: Buffer; abortSignal?: AbortSignal }): Promise<void>;
  /** Commits the blob from the listed blocks; never overwrites an existing blob. */
  commit(
    ids: string[],
    options: { metadata: Record<string, string>; contentType: string; contentMd5: Buffer; abortSignal?: AbortSignal },
  ): Promise<{ etag: string; versionId: string | null }>;
}

/** Opens block blobs by container and name. */
export interface BlockBlobStore {
  target(container: string, blobName: string): BlockBlobTarget;
}
