import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/core-auth';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type ContainerClient,
  type UserDelegationKey,
} from '@azure/storage-blob';
import {
  canonicalEtag,
  ExhibitError,
  type BlobProperties,
  type BlobRef,
  type BlobStore,
  type ReadOptions,
  type UploadOptions,
} from '@exhibit/core';
import { translateStorageError } from './errors.azure.js';

export type AzureBlobStoreOptions =
  | { connectionString: string; readOnlyContainers?: string[] }
  | { blobUrl: string; credential: TokenCredential; readOnlyContainers?: string[] };

const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;
/** User delegation keys live up to 7 days; we renew well before the one we hold expires. */
const DELEGATION_KEY_LIFETIME_MS = 6 * 60 * 60 * 1000;

/**
 * BlobStore over @azure/storage-blob. Works unchanged against Azurite (shared
 * key from a connection string) and Azure (managed identity, user delegation SAS).
 */
export class AzureBlobStore implements BlobStore {
  private readonly service: BlobServiceClient;
  private readonly sharedKey: StorageSharedKeyCredential | undefined;
  private readonly readOnly: ReadonlySet<string>;
  private delegationKey: { key: UserDelegationKey; expiresAt: number } | undefined;

  constructor(options: AzureBlobStoreOptions) {
    if ('connectionString' in options) {
      this.service = BlobServiceClient.fromConnectionString(options.connectionString, {
        retryOptions: { maxTries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 5000 },
      });
      const credential = this.service.credential;
      this.sharedKey = credential instanceof StorageSharedKeyCredential ? credential : undefined;
    } else {
      this.service = new BlobServiceClient(options.blobUrl, options.credential, {
        retryOptions: { maxTries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 5000 },
      });
      this.sharedKey = undefined;
    }
    this.readOnly = new Set(options.readOnlyContainers ?? []);
  }

  private container(name: string): ContainerClient {
    return this.service.getContainerClient(name);
  }

  /** The evidence container is read-only to the pipeline; refuse before the request is made. */
  private assertWritable(ref: BlobRef): void {
    if (this.readOnly.has(ref.container)) {
      throw new ExhibitError('forbidden', `container ${ref.container} is read-only to the pipeline`);
    }
  }

  async ensureContainer(container: string): Promise<void> {
    try {
      await this.container(container).createIfNotExists();
    } catch (err) {
      throw translateStorageError(err, `create container ${container}`);
    }
  }

  async getProperties(ref: BlobRef, options: { abortSignal?: AbortSignal } = {}): Promise<BlobProperties> {
    try {
      const p = await this.container(ref.container).getBlobClient(ref.name).getProperties({ abortSignal: options.abortSignal });
      return {
        container: ref.container,
        name: ref.name,
        size: p.contentLength ?? 0,
        etag: canonicalEtag(p.etag ?? ''),
        ...(p.versionId ? { versionId: p.versionId } : {}),
        ...(p.contentType ? { contentType: p.contentType } : {}),
        lastModified: p.lastModified ?? new Date(0),
        ...(p.createdOn ? { createdOn: p.createdOn } : {}),
        metadata: p.metadata ?? {},
      };
    } catch (err) {
      throw translateStorageError(err, `get properties of ${ref.container}/${ref.name}`);
    }
  }

  async exists(ref: BlobRef, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    try {
      return await this.container(ref.container).getBlobClient(ref.name).exists({ abortSignal: options.abortSignal });
    } catch (err) {
      throw translateStorageError(err, `check ${ref.container}/${ref.name}`);
    }
  }

  async openRead(ref: BlobRef, options: ReadOptions = {}): Promise<Readable> {
    const offset = options.offset ?? 0;
    if (options.count === 0) return Readable.from([]);
    try {
      const response = await this.container(ref.container)
        .getBlobClient(ref.name)
        .download(offset, options.count, {
          abortSignal: options.abortSignal,
          conditions: options.ifMatch ? { ifMatch: options.ifMatch } : undefined,
          // The SDK resumes a broken body from where it stopped, pinned to the same ETag.
          maxRetryRequests: 5,
        });
      const body = response.readableStreamBody;
      if (!body) throw new ExhibitError('storage-unavailable', `no body for ${ref.container}/${ref.name}`);
      const stream = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
      // A caller may hold the stream a while before reading it (an API route records custody
      // first); if the request is aborted meanwhile, the SDK's stream errors with nobody
      // listening yet, and an unhandled 'error' event ends the process: the local host died
      // whenever a browser left a page while thumbnails were loading. Whoever reads the stream
      // (pipeline, for await) still gets the error; this listener only keeps it from being fatal.
      stream.on('error', () => undefined);
      return stream;
    } catch (err) {
      throw translateStorageError(err, `read ${ref.container}/${ref.name}`);
    }
  }

  async readRange(
    ref: BlobRef,
    offset: number,
    count: number,
    options: { ifMatch?: string; abortSignal?: AbortSignal } = {},
  ): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(count) || count < 0) {
      throw new ExhibitError('invalid-argument', `bad range ${offset}+${count}`);
    }
    if (count === 0) return Buffer.alloc(0);
    const stream = await this.openRead(ref, { offset, count, ...options });
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream) {
        const buf = chunk as Buffer;
        chunks.push(buf);
        total += buf.length;
        if (total > count) break;
      }
    } catch (err) {
      throw translateStorageError(err, `read ${ref.container}/${ref.name}`);
    }
    const out = Buffer.concat(chunks, total);
    return out.length > count ? out.subarray(0, count) : out;
  }

  async *list(container: string, options: { prefix?: string; abortSignal?: AbortSignal } = {}): AsyncIterable<BlobProperties> {
    try {
      const iter = this.container(container).listBlobsFlat({
        includeMetadata: true,
        ...(options.prefix ? { prefix: options.prefix } : {}),
      });
      for await (const item of iter) {
        if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'list aborted');
        const p = item.properties;
        yield {
          container,
          name: item.name,
          size: p.contentLength ?? 0,
          etag: canonicalEtag(p.etag ?? ''),
          ...(item.versionId ? { versionId: item.versionId } : {}),
          ...(p.contentType ? { contentType: p.contentType } : {}),
          lastModified: p.lastModified,
          ...(p.createdOn ? { createdOn: p.createdOn } : {}),
          metadata: item.metadata ?? {},
        };
      }
    } catch (err) {
      throw translateStorageError(err, `list ${container}`);
    }
  }

  async upload(ref: BlobRef, data: Buffer | Readable, options: UploadOptions = {}): Promise<{ created: boolean; etag: string }> {
    this.assertWritable(ref);
    // The SDK sends no If-Match header for an empty ETag: the write would replace whatever blob is there, unconditionally.
    if (options.ifMatch === '') throw new ExhibitError('invalid-argument', `upload ${ref.container}/${ref.name}: ifMatch is an empty ETag`);
    const client = this.container(ref.container).getBlockBlobClient(ref.name);
    const common = {
      abortSignal: options.abortSignal,
      metadata: options.metadata,
      blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : undefined,
      conditions: options.ifNotExists ? { ifNoneMatch: '*' } : options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : undefined,
    };
    try {
      const response = Buffer.isBuffer(data)
        ? await client.upload(data, data.length, common)
        : await client.uploadStream(data, UPLOAD_BLOCK_BYTES, UPLOAD_CONCURRENCY, common);
      return { created: true, etag: canonicalEtag(response.etag ?? '') };
    } catch (err) {
      const translated = translateStorageError(err, `upload ${ref.container}/${ref.name}`);
      if (options.ifNotExists && (translated.code === 'conflict' || translated.code === 'precondition-failed')) {
        if (!Buffer.isBuffer(data)) data.resume();
        return { created: false, etag: '' };
      }
      throw translated;
    }
  }

  async copy(from: BlobRef, to: BlobRef, options: { ifNotExists?: boolean; abortSignal?: AbortSignal } = {}): Promise<void> {
    this.assertWritable(to);
    // A read SAS authorises the source the same way for shared key and managed identity.
    const sourceUrl = await this.readUrl(from, { expiresInMs: 60 * 60 * 1000 });
    const target = this.container(to.container).getBlobClient(to.name);
    try {
      const poller = await target.beginCopyFromURL(sourceUrl, {
        abortSignal: options.abortSignal,
        conditions: options.ifNotExists ? { ifNoneMatch: '*' } : undefined,
        intervalInMs: 250,
      });
      const result = await poller.pollUntilDone();
      if (result.copyStatus !== 'success') {
        throw new ExhibitError('storage-unavailable', `copy to ${to.container}/${to.name} ended ${result.copyStatus ?? 'unknown'}`);
      }
    } catch (err) {
      const translated = translateStorageError(err, `copy to ${to.container}/${to.name}`);
      if (options.ifNotExists && (translated.code === 'conflict' || translated.code === 'precondition-failed')) return;
      throw translated;
    }
  }

  async delete(ref: BlobRef, options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    this.assertWritable(ref);
    try {
      await this.container(ref.container).getBlobClient(ref.name).deleteIfExists({ abortSignal: options.abortSignal });
    } catch (err) {
      throw translateStorageError(err, `delete ${ref.container}/${ref.name}`);
    }
  }

  async readUrl(ref: BlobRef, options: { expiresInMs: number }): Promise<string> {
    const client = this.container(ref.container).getBlobClient(ref.name);
    // Start a little in the past: clocks of tools and storage are never quite equal.
    const startsOn = new Date(Date.now() - 5 * 60 * 1000);
    const expiresOn = new Date(Date.now() + options.expiresInMs);
    const sasOptions = {
      containerName: ref.container,
      blobName: ref.name,
      permissions: BlobSASPermissions.parse('r'),
      startsOn,
      expiresOn,
      protocol: client.url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
    };
    try {
      if (this.sharedKey) {
        const sas = generateBlobSASQueryParameters(sasOptions, this.sharedKey).toString();
        return `${client.url}?${sas}`;
      }
      const key = await this.userDelegationKey(expiresOn);
      const sas = generateBlobSASQueryParameters(sasOptions, key, this.service.accountName).toString();
      return `${client.url}?${sas}`;
    } catch (err) {
      throw translateStorageError(err, `sign read URL for ${ref.container}/${ref.name}`);
    }
  }

  private async userDelegationKey(needUntil: Date): Promise<UserDelegationKey> {
    const now = Date.now();
    if (this.delegationKey && this.delegationKey.expiresAt > needUntil.getTime()) return this.delegationKey.key;
    const startsOn = new Date(now - 5 * 60 * 1000);
    const expiresOn = new Date(Math.max(now + DELEGATION_KEY_LIFETIME_MS, needUntil.getTime() + 60_000));
    const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
    this.delegationKey = { key, expiresAt: expiresOn.getTime() };
    return key;
  }
}

export function createAzureBlobStore(options: AzureBlobStoreOptions): BlobStore {
  return new AzureBlobStore(options);
}
