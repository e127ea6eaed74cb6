import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { inject } from 'vitest';
import { createRootLogger, type AppendLog, type CustodyEvent } from '@exhibit/core';
import { migrate, openSqlClient, type SqlClient } from '@exhibit/index';
import { createAzureAppendLog, createAzureBlobStore } from '@exhibit/storage';
import { createCustodyLog, createLocalSigner, type CheckpointStore, type CustodyLog, type CustodySql, type PublicKeyRecord, type Signer } from '../src/index.js';

export interface CustodyFixture {
  connectionString: string;
  containers: { custody: string; evidence: string };
  appendLog: ReturnType<typeof createAzureAppendLog>;
  blobs: ReturnType<typeof createAzureBlobStore>;
  sql: SqlClient;
  signer: Signer;
  /** A new writer, as another process would be: nothing cached. */
  newLog(options?: { rolloverEntries?: number; signer?: Signer; checkpoints?: CheckpointStore; trustedKeys?: PublicKeyRecord[]; appendLog?: AppendLog; sql?: CustodySql }): CustodyLog;
  raw: ReturnType<BlobServiceClient['getContainerClient']>;
  rawEvidence: ReturnType<BlobServiceClient['getContainerClient']>;
  readLog(name: string): Promise<string[]>;
  /** Rewrites a log through the raw SDK, as someone with storage access could. */
  rewriteLog(name: string, lines: string[]): Promise<void>;
  newSigner(): Promise<Signer>;
  close(): Promise<void>;
}

export async function custodyFixture(): Promise<CustodyFixture> {
  const connectionString = inject('storageConnectionString');
  const suffix = randomBytes(4).toString('hex');
  const containers = { custody: `custody-${suffix}`, evidence: `evidence-${suffix}` };
  const appendLog = createAzureAppendLog({ connectionString, container: containers.custody });
  await appendLog.ensureContainer();
  const blobs = createAzureBlobStore({ connectionString });
  await blobs.ensureContainer(containers.evidence);
  const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  await migrate(sql);
  const keyRoot = await mkdtemp(path.join(os.tmpdir(), 'exhibit-custody-keys-'));
  const signer = await createLocalSigner(path.join(keyRoot, 'main'));
  const logger = createRootLogger({ level: 'silent' });
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const raw = service.getContainerClient(containers.custody);
  const rawEvidence = service.getContainerClient(containers.evidence);
  let signers = 0;
  return {
    connectionString,
    containers,
    appendLog,
    blobs,
    sql,
    signer,
    raw,
    rawEvidence,
    newLog: (options = {}) =>
      createCustodyLog({
        appendLog: options.appendLog ?? appendLog,
        blobs,
        sql: options.sql ?? sql,
        signer: options.signer ?? signer,
        containers,
        logger,
        toolVersion: '0.0.0-test',
        ...(options.rolloverEntries ? { rolloverEntries: options.rolloverEntries } : {}),
        ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
        ...(options.trustedKeys ? { trustedKeys: options.trustedKeys } : {}),
      }),
    async readLog(name) {
      const body = await raw.getBlobClient(name).downloadToBuffer();
      return body.toString('utf8').split('\n').slice(0, -1);
    },
    async rewriteLog(name, lines) {
      const blob = raw.getAppendBlobClient(name);
      await blob.deleteIfExists();
      await blob.create();
      for (const line of lines) await blob.appendBlock(line + '\n', Buffer.byteLength(line) + 1);
    },
    newSigner: () => createLocalSigner(path.join(keyRoot, `other-${++signers}`)),
    close: () => sql.close(),
  };
}

export function stageEvent(caseId: string, evidenceId: string, n: number, extra: Partial<CustodyEvent> = {}): CustodyEvent {
  return {
    caseId,
    evidenceId,
    action: 'stage-completed',
    actor: 'service:exhibit-pipeline',
    subject: { fileId: `f${n}` },
    details: { stage: 'identify', n },
    tools: [{ name: 'file-type', version: '21.0.0' }],
    eventKey: `identify:f${n}`,
    ...extra,
  };
}
