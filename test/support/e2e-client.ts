import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { issueLocalToken } from '@exhibit/api';
import type { Role } from '@exhibit/core';
import { readSampleManifest, SAMPLES_DIR, type SampleManifest } from '../../packages/host/src/samples.ingest.js';
import type { HostProcessEnv } from './host-process.js';

export { readSampleManifest, SAMPLES_DIR, type SampleManifest };

/** Uploads like an examiner with a plain @azure/storage-blob client: no Exhibit code on the upload path. */
export async function uploadWithPlainClient(
  connectionString: string,
  blobName: string,
  data: Buffer,
  metadata: Record<string, string>,
): Promise<void> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const container = service.getContainerClient('evidence');
  await container.createIfNotExists();
  await container.getBlockBlobClient(blobName).uploadData(data, { metadata });
}

/** The same, streamed from a local file: for evidence too large to hold in memory (a disk image of several GiB). */
export async function uploadFileWithPlainClient(connectionString: string, blobName: string, file: string, metadata: Record<string, string>): Promise<void> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const container = service.getContainerClient('evidence');
  await container.createIfNotExists();
  await container.getBlockBlobClient(blobName).uploadFile(file, { metadata, blockSize: 8 * 1024 * 1024, concurrency: 4 });
}

export async function uploadSamples(connectionString: string, manifest: SampleManifest): Promise<void> {
  for (const ev of manifest.evidence) {
    for (const up of ev.uploads) {
      const data = await readFile(path.join(SAMPLES_DIR, 'extraction', manifest.caseId, ev.evidenceId, up.fileName));
      await uploadWithPlainClient(connectionString, `${manifest.caseId}/${ev.evidenceId}/${up.fileName}`, data, {
        examiner: 'e2e',
        acquisition_md5: up.md5,
        acquisition_sha1: up.sha1,
        acquisition_sha256: up.sha256,
      });
    }
  }
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** The Authorization header value, for a browser navigation made as this user (page.setExtraHTTPHeaders). */
  get authorization(): string {
    return `Bearer ${this.token}`;
  }

  static async login(h: HostProcessEnv, user: string, roles: Role[]): Promise<ApiClient> {
    const issued = await issueLocalToken({ user, roles }, { keyDir: path.join(h.dataDir, 'keys') });
    return new ApiClient(h.apiUrl, issued.token);
  }

  async request(method: string, route: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async json<T = any>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await this.request(method, route, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} → ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  get<T = any>(route: string): Promise<T> {
    return this.json<T>('GET', route);
  }

  /** Polls evidence status until complete; returns the last status. */
  async waitComplete(caseId: string, evidenceIds: string[], timeoutMs: number): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    const last: Record<string, any> = {};
    for (;;) {
      let done = true;
      for (const id of evidenceIds) {
        const res = await this.request('GET', `/cases/${caseId}/evidence/${id}/status`);
        if (res.status !== 200) {
          done = false;
          await res.body?.cancel();
          continue;
        }
        const status = (await res.json()) as any;
        last[id] = status;
        if (!status.complete) done = false;
      }
      if (done) return last;
      if (Date.now() > deadline) throw new Error(`not complete in ${timeoutMs} ms: ${JSON.stringify(last).slice(0, 3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
