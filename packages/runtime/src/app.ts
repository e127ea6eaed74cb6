import { readFileSync } from 'node:fs';
import {
  type AccessStore,
  type BlobStore,
  type Bus,
  type BusReceiver,
  type ExhibitConfig,
  type IndexStore,
  type Logger,
  type QueueName,
  LIMITS,
} from '@exhibit/core';
import { createServiceBusBus, createStorageQueueBus } from '@exhibit/bus';
import { createPostgresIndex, createPostgresAccessStore, createPostgresReviewStore, HashSetStore, migrate, openSqlClient, type SqlClient } from '@exhibit/index';
import { createMediaTools } from '@exhibit/media';
import { runPdqBackfill, type PdqBackfillProgress, type RunnerDeps } from '@exhibit/pipeline';
import { azureCredential, createAzureAppendLog, createAzureBlobStore, MemoryMemberBytesCache } from '@exhibit/storage';
import {
  appendLogCheckpointStore,
  createCustodyLog,
  createFileCheckpointStore,
  createKeyVaultSigner,
  createLocalSigner,
  listKeyVaultPublicKeys,
  pinSignerKey,
  publicKeyOf,
  type CheckpointStore,
  type CustodyLog,
  type PublicKeyRecord,
  type Signer,
} from '@exhibit/custody';
import { createApi, createTokenVerifier, type Api } from '@exhibit/api';

/** Everything the functions need, built once per process from validated config. */
export interface App {
  config: ExhibitConfig;
  logger: Logger;
  /** Blob access for the pipeline: the evidence container is read-only. */
  blobs: BlobStore;
  bus: Bus & BusReceiver & { depth?(queue: QueueName): Promise<{ active: number; poison: number }> };
  sql: SqlClient;
  index: IndexStore;
  access: AccessStore;
  /** The stages' ports, with the bus the stage runner sends with. */
  stageDeps: RunnerDeps;
  /** The custody log, its verification and its checkpoints. */
  custody: CustodyLog;
  api: Api;
  version: string;
  /** Creates containers and queues; for the local stack and tests (in Azure, Bicep does it). */
  ensureInfrastructure(): Promise<void>;
  close(): Promise<void>;
}

export function pipelineVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function storageClients(config: ExhibitConfig) {
  const readOnlyContainers = [config.containers.evidence];
  const s = config.storage;
  if (s.kind === 'managed-identity') {
    const credential = azureCredential();
    return {
      blobs: createAzureBlobStore({ blobUrl: s.blobUrl, credential, readOnlyContainers }),
      appendLog: createAzureAppendLog({ blobUrl: s.blobUrl, credential, container: config.containers.custody }),
    };
  }
  return {
    blobs: createAzureBlobStore({ connectionString: s.connectionString, readOnlyContainers }),
    appendLog: createAzureAppendLog({ connectionString: s.connectionString, container: config.containers.custody }),
  };
}

function busClient(config: ExhibitConfig, options: { queuePrefix?: string }): App['bus'] {
  const b = config.bus;
  if (b.kind === 'service-bus') {
    const target = 'connectionString' in b ? { connectionString: b.connectionString } : { namespace: b.namespace, credential: azureCredential() };
    return createServiceBusBus(target, { maxDeliveryCount: LIMITS.maxDeliveryCount, ...options });
  }
  const s = config.storage;
  if (s.kind === 'managed-identity') {
    if (!s.queueUrl) throw new Error('unreachable: config validated a queue URL');
    return createStorageQueueBus({ queueUrl: s.queueUrl, credential: azureCredential(), ...options });
  }
  return createStorageQueueBus({ connectionString: s.connectionString, ...options });
}

/**
 * Trust for custody verification comes from outside the custody container:
 * Key Vault's versions of the signing key in Azure, the pinned set in the
 * data folder locally (created with the first key; a changed key stops here).
 */
async function custodyTrust(config: ExhibitConfig, signer: Signer): Promise<{ trustedKeys: PublicKeyRecord[]; checkpoints: CheckpointStore }> {
  const trustedKeys = config.keyVault
    ? await listKeyVaultPublicKeys({ vaultUrl: config.keyVault.url, keyName: config.keyVault.keyName, credential: azureCredential() })
    : await pinSignerKey(config.custodyTrust.trustFile, publicKeyOf(signer));
  const where = config.custodyTrust.checkpoints;
  const s = config.storage;
  const checkpoints =
    where.kind === 'directory'
      ? createFileCheckpointStore(where.dir)
      : appendLogCheckpointStore(
          s.kind === 'managed-identity'
            ? createAzureAppendLog({ blobUrl: s.blobUrl, credential: azureCredential(), container: where.container })
            : createAzureAppendLog({ connectionString: s.connectionString, container: where.container }),
        );
  return { trustedKeys, checkpoints };
}

/** The custody log with its signer and trust, as every writer of this deployment builds it. */
async function custodyLog(
  config: ExhibitConfig,
  parts: { appendLog: ReturnType<typeof storageClients>['appendLog']; blobs: BlobStore; sql: SqlClient; logger: Logger; version: string },
): Promise<CustodyLog> {
  const signer = config.keyVault
    ? await createKeyVaultSigner({ vaultUrl: config.keyVault.url, keyName: config.keyVault.keyName, credential: azureCredential() })
    : await createLocalSigner(config.auth.kind === 'local' ? config.auth.keyDir : `${config.dataDir}/keys`);
  return createCustodyLog({
    appendLog: parts.appendLog,
    blobs: parts.blobs,
    sql: parts.sql,
    signer,
    ...(await custodyTrust(config, signer)),
    containers: { custody: config.containers.custody, evidence: config.containers.evidence },
    logger: parts.logger.child({ component: 'custody' }),
    toolVersion: parts.version,
  });
}

/**
 * The hash sets with the deployment's custody log, for `exhibit hashset`,
 * which works on the index database directly (an NSRL release is read where
 * it lies, not uploaded): the matches its re-match job finds get the same
 * custody entries as the pipeline's. Needs the index database and the
 * custody storage (and, locally, the signing key in the data folder).
 */
export async function openHashSets(config: ExhibitConfig, options: { logger: Logger }): Promise<{ sets: HashSetStore; close(): Promise<void> }> {
  const version = pipelineVersion();
  const { blobs, appendLog } = storageClients(config);
  const sql = await openSqlClient(config.database, { logger: options.logger });
  try {
    await migrate(sql, { logger: options.logger });
    const custody = await custodyLog(config, { appendLog, blobs, sql, logger: options.logger, version });
    return { sets: new HashSetStore(sql, { custody, toolVersion: version }), close: () => sql.close() };
  } catch (err) {
    await sql.close();
    throw err;
  }
}

/**
 * The PDQ backfill (docs/pdq.md, "Backfill") with the deployment's index,
 * storage, media tools and custody log, for `exhibit pdq-backfill`: contents
 * thumbnailed before PDQ existed are hashed from their original bytes (read
 * again from storage), each file gets a `pdq-backfill` custody entry, and the
 * new hashes are matched against the enabled PDQ lists. Resumable: run again.
 */
export async function openPdqBackfill(
  config: ExhibitConfig,
  options: { logger: Logger },
): Promise<{ pending(): Promise<number>; run(options?: { abortSignal?: AbortSignal; onProgress?: (p: PdqBackfillProgress) => void; maxContents?: number }): Promise<PdqBackfillProgress>; close(): Promise<void> }> {
  const version = pipelineVersion();
  const { blobs, appendLog } = storageClients(config);
  const sql = await openSqlClient(config.database, { logger: options.logger });
  try {
    await migrate(sql, { logger: options.logger });
    const custody = await custodyLog(config, { appendLog, blobs, sql, logger: options.logger, version });
    const index = createPostgresIndex(sql);
    const media = createMediaTools(config.media, { logger: options.logger.child({ component: 'media' }) });
    const deps = { index, blobs, thumbnailer: media.thumbnailer, custody, pipelineVersion: version, logger: options.logger };
    return { pending: () => index.pdqBackfillPending(), run: (o = {}) => runPdqBackfill(deps, o), close: () => sql.close() };
  } catch (err) {
    await sql.close();
    throw err;
  }
}

/**
 * The composition root: the only place that knows which adapter serves which
 * port. No DI framework: plain construction in dependency order.
 */
export async function createApp(
  config: ExhibitConfig,
  options: {
    logger: Logger;
    queuePrefix?: string;
    /** The host's shutdown: stops background work started here (the start-up custody pass) before close() is called. */
    shutdownSignal?: AbortSignal;
  },
): Promise<App> {
  const logger = options.logger;
  const version = pipelineVersion();
  const { blobs, appendLog } = storageClients(config);
  const bus = busClient(config, options.queuePrefix ? { queuePrefix: options.queuePrefix } : {});
  const sql = await openSqlClient(config.database, { logger });
  await migrate(sql, { logger });
  const index = createPostgresIndex(sql);
  const access = createPostgresAccessStore(sql);
  const custody = await custodyLog(config, { appendLog, blobs, sql, logger, version });
  const media = createMediaTools(config.media, { logger: logger.child({ component: 'media' }) });
  const stageDeps: RunnerDeps = {
    blobs,
    bus,
    index,
    custody,
    identifier: media.identifier,
    metadata: media.metadata,
    thumbnailer: media.thumbnailer,
    containers: { evidence: config.containers.evidence, derived: config.containers.derived },
    limits: LIMITS,
    pipelineVersion: version,
    // Per process: unpack leaves small members' bytes here for analyse (issue 12); a miss reads storage.
    ...(config.worker.memberCacheBytes > 0
      ? {
          memberBytes: new MemoryMemberBytesCache({
            maxMemberBytes: LIMITS.memberCacheMaxMemberBytes,
            budgetBytes: config.worker.memberCacheBytes,
            maxAgeMs: LIMITS.memberCacheMaxAgeMs,
            takerIdleMs: LIMITS.memberCacheTakerIdleMs,
          }),
        }
      : {}),
  };
  const tokens = createTokenVerifier(config.auth);
  const api = createApi({
    index,
    blobs,
    access,
    custody,
    tokens,
    containers: { evidence: config.containers.evidence, derived: config.containers.derived },
    logger: logger.child({ component: 'api' }),
    extensions: { custodyAudit: custody, review: createPostgresReviewStore(sql), hashSets: new HashSetStore(sql, { custody, toolVersion: version }) },
  });
  // A case 0210 left with nobody assigned (it kept none of one person's case-variant rows) is
  // reachable only by admins until a supervisor assigns it again: name each one, every start,
  // until someone does (docs/deploy.md).
  try {
    for (const caseId of await access.casesEmptiedByMigration()) {
      logger.warn({ caseId }, `migration 0210 left case ${caseId} with nobody assigned: assign it again (see its assignment history)`);
    }
  } catch (err) {
    logger.warn({ err }, 'could not list cases migration 0210 left with nobody assigned');
  }
  // Assignment changes no request recorded (migration 0210's merges, sign-ins' binds and merges
  // whose request failed) get their custody entries now, in the background and case by case: the
  // host serves meanwhile (a request of such a case writes its own entries first, access-events.ts)
  // and one case that fails is logged and left pending without stopping the others.
  // close() (the host's shutdown) stops it promptly; it is bounded on its own too (API_LIMITS).
  const stopPendingCustodyPass = new AbortController();
  if (options.shutdownSignal?.aborted) stopPendingCustodyPass.abort();
  options.shutdownSignal?.addEventListener('abort', () => stopPendingCustodyPass.abort(), { once: true });
  const pendingCustodyPass = api.recordPendingAssignmentChanges({ abortSignal: stopPendingCustodyPass.signal }).then(
    (pass) => {
      if (pass.written > 0 || pass.failedCases.length > 0) {
        logger.info({ written: pass.written, leftPendingCases: pass.failedCases, ...(pass.stopped ? { stopped: pass.stopped } : {}) }, 'start-up pass over assignment-change custody entries done');
      }
    },
    (err: unknown) => logger.error({ err }, 'custody entries of assignment changes not written at start-up; retried before requests of their cases'),
  );

  return {
    config,
    logger,
    blobs,
    bus,
    sql,
    index,
    access,
    stageDeps,
    custody,
    api,
    version,
    async ensureInfrastructure() {
      for (const c of Object.values(config.containers)) await blobs.ensureContainer(c);
      await bus.ensureQueues();
    },
    async close() {
      // The start-up pass and pending read-audit counts go to custody while the index and storage are still open.
      // The pass stops at its next entry (what it has not written stays pending for the next start).
      stopPendingCustodyPass.abort();
      await pendingCustodyPass;
      await api.flush();
      await bus.close();
      await sql.close();
    },
  };
}
