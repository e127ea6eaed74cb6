import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { canonicalEtag, ExhibitError, type AppendLog, type AppendLogHead } from '@exhibit/core';
import { translateStorageError } from './errors.azure.js';

export type AzureAppendLogOptions = ({ connectionString: string } | { blobUrl: string; credential: TokenCredential }) & {
  /** Default 'custody', the container of the custody logs. */
  container?: string;
};

/** keys.json and the like; anything bigger is not ours. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

const RETRY = { maxTries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 5000 };

/**
 * AppendLog over Azure append blobs. Every append carries both the append
 * position and the ETag the writer last saw; a writer that lost the race gets
 * 'precondition-failed' and must re-read the tail. Blocks are sent with a
 * transactional MD5 so a damaged request is refused instead of stored.
 */
export class AzureAppendLog implements AppendLog {
  readonly container: string;
  private readonly client: ContainerClient;

  constructor(options: AzureAppendLogOptions) {
    const service =
      'connectionString' in options
        ? BlobServiceClient.fromConnectionString(options.connectionString, { retryOptions: RETRY })
        : new BlobServiceClient(options.blobUrl, options.credential, { retryOptions: RETRY });
    this.container = options.container ?? 'custody';
    this.client = service.getContainerClient(this.container);
  }

  async ensureContainer(): Promise<void> {
    try {
      await this.client.createIfNotExists();
    } catch (err) {
      throw translateStorageError(err, `create container ${this.container}`);
    }
  }

  async head(name: string, options: { abortSignal?: AbortSignal } = {}): Promise<AppendLogHead | null> {
    try {
      const p = await this.client.getBlobClient(name).getProperties({ abortSignal: options.abortSignal });
      if (p.blobType !== 'AppendBlob') {
        throw new ExhibitError('conflict', `${this.container}/${name} is a ${p.blobType ?? 'unknown'} blob, not an append blob`);
      }
      return { length: p.contentLength ?? 0, etag: canonicalEtag(p.etag ?? ''), blockCount: p.blobCommittedBlockCount ?? 0 };
    } catch (err) {
      const translated = translateStorageError(err, `get properties of ${this.container}/${name}`);
      if (translated.code === 'not-found') return null;
      throw translated;
    }
  }

  async create(name: string, options: { ifNotExists?: boolean; abortSignal?: AbortSignal } = {}): Promise<{ created: boolean }> {
    try {
      await this.client.getAppendBlobClient(name).create({
        abortSignal: options.abortSignal,
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson; charset=utf-8' },
        conditions: options.ifNotExists ? { ifNoneMatch: '*' } : undefined,
      });
      return { created: true };
    } catch (err) {
      const translated = translateStorageError(err, `create ${this.container}/${name}`);
      if (options.ifNotExists && (translated.code === 'conflict' || translated.code === 'precondition-failed')) return { created: false };
      throw translated;
    }
  }

  async append(
    name: string,
    bytes: Buffer,
    options: { appendPosition: number; ifMatch: string; abortSignal?: AbortSignal },
  ): Promise<AppendLogHead> {
    if (bytes.length === 0) throw new ExhibitError('invalid-argument', 'an append block cannot be empty');
    try {
      const r = await this.client.getAppendBlobClient(name).appendBlock(bytes, bytes.length, {
        abortSignal: options.abortSignal,
        conditions: { appendPosition: options.appendPosition, ifMatch: options.ifMatch },
        transactionalContentMD5: createHash('md5').update(bytes).digest(),
      });
      const offset = Number(r.blobAppendOffset ?? options.appendPosition);
      return { length: offset + bytes.length, etag: canonicalEtag(r.etag ?? ''), blockCount: r.blobCommittedBlockCount ?? 0 };
    } catch (err) {
      throw translateStorageError(err, `append to ${this.container}/${name}`);
    }
  }

  async read(
    name: string,
    options: { offset?: number; count?: number; ifMatch?: string; abortSignal?: AbortSignal } = {},
  ): Promise<Readable> {
    if (options.count === 0) return Readable.from([]);
    try {
      const r = await this.client.getBlobClient(name).download(options.offset ?? 0, options.count, {
        abortSignal: options.abortSignal,
        conditions: options.ifMatch ? { ifMatch: options.ifMatch } : undefined,
        maxRetryRequests: 5,
      });
      const body = r.readableStreamBody;
      if (!body) throw new ExhibitError('storage-unavailable', `no body for ${this.container}/${name}`);
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    } catch (err) {
      throw translateStorageError(err, `read ${this.container}/${name}`);
    }
  }

  async *list(prefix: string, options: { abortSignal?: AbortSignal } = {}): AsyncIterable<{ name: string; length: number; etag: string }> {
    try {
      for await (const item of this.client.listBlobsFlat({ prefix })) {
        if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'list aborted');
        yield { name: item.name, length: item.properties.contentLength ?? 0, etag: canonicalEtag(item.properties.etag ?? '') };
      }
    } catch (err) {
      throw translateStorageError(err, `list ${this.container}/${prefix}`);
    }
  }

  async getDocument(name: string, options: { abortSignal?: AbortSignal } = {}): Promise<{ bytes: Buffer; etag: string } | null> {
    try {
      const r = await this.client.getBlobClient(name).download(0, MAX_DOCUMENT_BYTES + 1, { abortSignal: options.abortSignal });
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of r.readableStreamBody as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        total += chunk.length;
        if (total > MAX_DOCUMENT_BYTES) {
          throw new ExhibitError('limit-exceeded', `${this.container}/${name} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
        }
      }
      return { bytes: Buffer.concat(chunks, total), etag: canonicalEtag(r.etag ?? '') };
    } catch (err) {
      const translated = translateStorageError(err, `read ${this.container}/${name}`);
      if (translated.code === 'not-found') return null;
      throw translated;
    }
  }

  async putDocument(
    name: string,
    bytes: Buffer,
    options: { ifMatch?: string; ifNoneMatch?: '*'; contentType?: string; abortSignal?: AbortSignal },
  ): Promise<{ etag: string }> {
    if (bytes.length > MAX_DOCUMENT_BYTES) throw new ExhibitError('limit-exceeded', `document ${name} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    try {
      const r = await this.client.getBlockBlobClient(name).upload(bytes, bytes.length, {
        abortSignal: options.abortSignal,
        blobHTTPHeaders: { blobContentType: options.contentType ?? 'application/json' },
        conditions: { ifMatch: options.ifMatch, ifNoneMatch: options.ifNoneMatch },
      });
      return { etag: canonicalEtag(r.etag ?? '') };
    } catch (err) {
      const translated = translateStorageError(err, `write ${this.container}/${name}`);
      // With If-None-Match: * the service answers 409 when the blob exists: the same lost race as a 412.
      if (options.ifNoneMatch === '*' && translated.code === 'conflict') {
        throw new ExhibitError('precondition-failed', translated.message, { cause: err });
      }
      throw translated;
    }
  }
}

export function createAzureAppendLog(options: AzureAppendLogOptions): AzureAppendLog {
  return new AzureAppendLog(options);
}
