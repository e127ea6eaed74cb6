import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, RestError, type BlockBlobClient } from '@azure/storage-blob';
import { ExhibitError, type ExhibitConfig } from '@exhibit/core';
import type { BlockBlobStore, BlockBlobTarget } from './block-blob-target.port.js';

/**
 * Block-level uploads with @azure/storage-blob. This is the only file of the
 * CLI that imports the SDK: the generic BlobStore port has no notion of
 * staged blocks, which resumable uploads need.
 */
export function createAzureBlockBlobStore(storage: ExhibitConfig['storage']): BlockBlobStore {
  const service =
    storage.kind === 'managed-identity'
      ? new BlobServiceClient(storage.blobUrl, new DefaultAzureCredential())
      : BlobServiceClient.fromConnectionString(storage.connectionString);
  return {
    target: (container, blobName) => new AzureBlockBlobTarget(service.getContainerClient(container).getBlockBlobClient(blobName), `${container}/${blobName}`),
  };
}

class AzureBlockBlobTarget implements BlockBlobTarget {
  constructor(
    private readonly client: BlockBlobClient,
    readonly displayName: string,
  ) {}

  async exists(options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.client.getProperties({ abortSignal: options.abortSignal });
      return true;
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) {
        if (err.code === 'ContainerNotFound') throw this.translate(err, 'checking');
        return false;
      }
      throw this.translate(err, 'checking');
    }
  }

  async uncommittedBlocks(options: { abortSignal?: AbortSignal } = {}): Promise<Map<string, number>> {
    try {
      const list = await this.client.getBlockList('uncommitted', { abortSignal: options.abortSignal });
      const blocks = new Map<string, number>();
      for (const b of list.uncommittedBlocks ?? []) blocks.set(b.name, b.size);
      return blocks;
    } catch (err) {
      // Nothing staged and nothing committed: the service reports the blob as missing.
      if (err instanceof RestError && err.statusCode === 404 && err.code !== 'ContainerNotFound') return new Map();
      throw this.translate(err, 'listing staged blocks of');
    }
  }

  async stageBlock(id: string, data: Buffer, options: { contentMd5: Buffer; abortSignal?: AbortSignal }): Promise<void> {
    try {
      await this.client.stageBlock(id, data, data.length, {
        transactionalContentMD5: options.contentMd5,
        abortSignal: options.abortSignal,
      });
    } catch (err) {
      throw this.translate(err, 'uploading a block of');
    }
  }

  async commit(
    ids: string[],
    options: { metadata: Record<string, string>; contentType: string; contentMd5: Buffer; abortSignal?: AbortSignal },
  ): Promise<{ etag: string; versionId: string | null }> {
    try {
      const res = await this.client.commitBlockList(ids, {
        metadata: options.metadata,
        blobHTTPHeaders: { blobContentType: options.contentType, blobContentMD5: options.contentMd5 },
        conditions: { ifNoneMatch: '*' },
        abortSignal: options.abortSignal,
      });
      return { etag: res.etag ?? '', versionId: res.versionId ?? null };
    } catch (err) {
      throw this.translate(err, 'committing');
    }
  }

  private translate(err: unknown, doing: string): ExhibitError {
    if (err instanceof ExhibitError) return err;
    const where = `${doing} ${this.displayName}`;
    if (err instanceof Error && err.name === 'AbortError') return new ExhibitError('aborted', `aborted while ${where}`, { cause: err });
    if (err instanceof RestError) {
      const code = err.code ?? '';
      const status = err.statusCode;
      if (code === 'BlobAlreadyExists' || code === 'ConditionNotMet' || status === 409 || status === 412) {
        return new ExhibitError('conflict', `${this.displayName} already exists; evidence is never overwritten`, { cause: err, details: { code } });
      }
      if (code === 'ContainerNotFound') {
        return new ExhibitError('not-found', `container of ${this.displayName} does not exist (is the local host running? start it with npm start)`, { cause: err });
      }
      if (code === 'Md5Mismatch') {
        return new ExhibitError('storage-unavailable', `a block arrived damaged while ${where} (Content-MD5 mismatch); run the command again to resume`, { cause: err });
      }
      if (status === 401) return new ExhibitError('unauthenticated', `storage refused the credentials while ${where}`, { cause: err });
      if (status === 403) return new ExhibitError('forbidden', `storage denied access while ${where}`, { cause: err });
      if (status === 400) return new ExhibitError('invalid-argument', `storage rejected the request while ${where}: ${code || err.message}`, { cause: err });
      const reach = status === undefined ? ' (is the local host running? start it with npm start)' : '';
      return new ExhibitError('storage-unavailable', `storage failed while ${where}: ${code || err.message}${reach}`, { cause: err });
    }
    return new ExhibitError('storage-unavailable', `storage failed while ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
