import path from 'node:path';
import { z } from 'zod';
import { ExhibitError } from './errors.js';
import { LIMITS } from './limits.js';

/** The well-known Azurite development account; public by design, not a secret. */
export const AZURITE_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export const azuriteConnectionString = (host = '127.0.0.1', blobPort = 10000, queuePort = 10001) =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.name};AccountKey=${AZURITE_ACCOUNT.key};` +
  `BlobEndpoint=http://${host}:${blobPort}/${AZURITE_ACCOUNT.name};QueueEndpoint=http://${host}:${queuePort}/${AZURITE_ACCOUNT.name};`;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const intFrom = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  EXHIBIT_DATA_DIR: optionalString,
  EXHIBIT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional().default('info'),
  /** A storage connection string (Azurite or an account with a key); switches off the embedded Azurite. */
  EXHIBIT_STORAGE_CONNECTION_STRING: optionalString,
  /** Azure: blob endpoint, used with managed identity. */
  EXHIBIT_STORAGE_BLOB_URL: optionalString,
  EXHIBIT_STORAGE_QUEUE_URL: optionalString,
  EXHIBIT_BUS: z.enum(['storage-queue', 'service-bus']).optional().default('storage-queue'),
  EXHIBIT_SERVICEBUS_CONNECTION_STRING: optionalString,
  /** Azure: fully qualified namespace, used with managed identity. */
  EXHIBIT_SERVICEBUS_NAMESPACE: optionalString,
  DATABASE_URL: optionalString,
  /** Azure: authenticate to PostgreSQL with an Entra token instead of a password. */
  EXHIBIT_DATABASE_ENTRA_AUTH: z.enum(['true', 'false']).optional().default('false'),
  EXHIBIT_API_HOST: z.string().optional().default('127.0.0.1'),
  EXHIBIT_API_PORT: intFrom(7071, 1, 65535),
  EXHIBIT_AZURITE_BLOB_PORT: intFrom(10000, 1, 65535),
  EXHIBIT_AZURITE_QUEUE_PORT: intFrom(10001, 1, 65535),
  EXHIBIT_CONCURRENCY: intFrom(4, 1, 64),
  EXHIBIT_POLL_INTERVAL_MS: intFrom(1000, 50, 60_000),
  /** The member-bytes cache's budget in MiB (LIMITS.memberCacheBudgetBytes by default; 0 turns the cache off). */
  EXHIBIT_MEMBER_CACHE_MIB: intFrom(LIMITS.memberCacheBudgetBytes / (1024 * 1024), 0, 1024),
  EXHIBIT_INGEST_SAMPLES: z.enum(['true', 'false']).optional().default('true'),
  /** Watchdog (docs/operations.md): no progress for this long is a stall (default: a stage deadline plus its grace and more). */
  EXHIBIT_WATCHDOG_STALL_MS: intFrom(30 * 60_000, 1000, 24 * 3600_000),
  /** How often the local host runs the watchdog (Azure: its timer schedule). */
  EXHIBIT_WATCHDOG_INTERVAL_MS: intFrom(5 * 60_000, 500, 3600_000),
  /** Re-drives without progress before the work is failed as `stuck`. */
  EXHIBIT_WATCHDOG_MAX_REDRIVES: intFrom(3, 1, 100),
  /**
   * Diagnostics (benchmarks): the index process logs its RSS and PGlite's WebAssembly memory this often; 0 (default): never.
   */
  EXHIBIT_INDEX_MEMORY_LOG_MS: intFrom(0, 0, 3600_000),
  FFMPEG_PATH: optionalString,
  FFPROBE_PATH: optionalString,
  EXHIBIT_KEY_VAULT_URL: optionalString,
  EXHIBIT_CUSTODY_KEY_NAME: optionalString,
  /** Local custody checkpoints: an append-only directory outside the data folder's reach of the pipeline (default <data>/custody-checkpoints). */
  EXHIBIT_CUSTODY_CHECKPOINT_DIR: optionalString,
  EXHIBIT_ENTRA_TENANT_ID: optionalString,
  EXHIBIT_ENTRA_AUDIENCE: optionalString,
  /** The review app's Entra app registration (SPA platform); default: the API's own (EXHIBIT_ENTRA_AUDIENCE as a client id). */
  EXHIBIT_ENTRA_SPA_CLIENT_ID: optionalString,
  /** The delegated scope the review app asks for; default api://<audience>/access_as_user. */
  EXHIBIT_ENTRA_API_SCOPE: optionalString,
  /**
   * Where Entra ID signs in and publishes its keys: https://login.microsoftonline.com (default),
   * a national cloud's (https://login.microsoftonline.us, https://login.chinacloudapi.cn), or a
   * test issuer with the same layout (test/support/oidc-issuer.ts).
   */
  EXHIBIT_ENTRA_AUTHORITY_HOST: optionalString,
  /** Local token signing and the local API's base URL for the CLI. */
  EXHIBIT_API_URL: optionalString,
  EXHIBIT_TOKEN: optionalString,
});

export interface ExhibitConfig {
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  storage:
    | { kind: 'embedded-azurite'; connectionString: string; blobPort: number; queuePort: number; location: string }
    | { kind: 'connection-string'; connectionString: string }
    | { kind: 'managed-identity'; blobUrl: string; queueUrl: string | undefined };
  bus:
    | { kind: 'storage-queue' }
    | { kind: 'service-bus'; connectionString: string }
    | { kind: 'service-bus'; namespace: string };
  database:
    | {
        kind: 'pglite';
        dataDir: string;
        /** EXHIBIT_INDEX_MEMORY_LOG_MS: how often the index process logs its memory (0 or absent: never). */
        memoryLogMs?: number;
      }
    | {
        kind: 'postgres';
        url: string;
        entraAuth: boolean;
        /**
         * Set only by the local host for its index process (never read from the environment): the per-start
         * password it gave that process over IPC, kept out of the URL so nothing that prints a URL can show it.
         */
        password?: string;
        /** Pool size; node-postgres' default (10) when absent. The index process serves one session at a time: 1. */
        maxConnections?: number;
        /**
         * How long a statement waits for a pooled connection (15 s when absent). With the index process's one
         * connection a statement queues behind a long transaction (a migration, a hash-set chunk) as it did
         * behind PGlite's in-process mutex: 0, no deadline.
         */
        connectTimeoutMs?: number;
        /**
         * How long an idle pooled connection is kept (30 s when absent); 0: for ever. The local host keeps its one
         * index-process session for good, so it rarely needs to reconnect; when it must (the connection dropped), a flood of
         * unauthenticated connections holding their 16 slots can refuse it until the flood stops (it fails typed, index-unavailable).
         */
        idleTimeoutMs?: number;
      };
  containers: { evidence: 'evidence'; derived: 'derived'; custody: 'custody' };
  api: { host: string; port: number; baseUrl: string };
  worker: { concurrency: number; pollIntervalMs: number; ingestSamples: boolean; memberCacheBytes: number };
  /** The watchdog's thresholds (packages/runtime/src/watchdog.ts). */
  watchdog: { stallMs: number; intervalMs: number; maxRedrives: number };
  media: { ffmpegPath: string | undefined; ffprobePath: string | undefined };
  keyVault: { url: string; keyName: string } | undefined;
  /**
   * Trust for custody verification, outside the custody container: the pinned
   * key set (local; Key Vault's key versions in Azure) and where signed head
   * checkpoints are appended (an immutable container in Azure, a directory locally).
   */
  custodyTrust: {
    trustFile: string;
    checkpoints: { kind: 'directory'; dir: string } | { kind: 'container'; container: 'custody-checkpoints' };
  };
  auth:
    | { kind: 'local'; keyDir: string }
    | {
        kind: 'entra';
        tenantId: string;
        audience: string;
        /** Origin of the authority: tokens are issued by `${authorityHost}/${tenantId}/v2.0`. */
        authorityHost: string;
        web?: { clientId: string; scope: string };
      };
  cli: { token: string | undefined };
}

const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** An https origin and nothing else: the issuer, the key set and the browser's sign-in all hang off it. */
function authorityHost(value: string | undefined): string {
  if (value === undefined) return DEFAULT_AUTHORITY_HOST;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ExhibitError('invalid-config', 'EXHIBIT_ENTRA_AUTHORITY_HOST is not a URL');
  }
  if (url.protocol !== 'https:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new ExhibitError('invalid-config', 'EXHIBIT_ENTRA_AUTHORITY_HOST must be an https origin such as https://login.microsoftonline.com');
  }
  return url.origin;
}

/** The one place that reads the environment. Everything else receives an ExhibitConfig. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { cwd?: string } = {}): ExhibitConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ExhibitError('invalid-config', `invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const cwd = options.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, e.EXHIBIT_DATA_DIR ?? '.exhibit');

  let storage: ExhibitConfig['storage'];
  if (e.EXHIBIT_STORAGE_CONNECTION_STRING) {
    storage = { kind: 'connection-string', connectionString: e.EXHIBIT_STORAGE_CONNECTION_STRING };
  } else if (e.EXHIBIT_STORAGE_BLOB_URL) {
    storage = { kind: 'managed-identity', blobUrl: e.EXHIBIT_STORAGE_BLOB_URL, queueUrl: e.EXHIBIT_STORAGE_QUEUE_URL };
  } else {
    storage = {
      kind: 'embedded-azurite',
      connectionString: azuriteConnectionString('127.0.0.1', e.EXHIBIT_AZURITE_BLOB_PORT, e.EXHIBIT_AZURITE_QUEUE_PORT),
      blobPort: e.EXHIBIT_AZURITE_BLOB_PORT,
      queuePort: e.EXHIBIT_AZURITE_QUEUE_PORT,
      location: path.join(dataDir, 'azurite'),
    };
  }

  let bus: ExhibitConfig['bus'];
  if (e.EXHIBIT_BUS === 'service-bus') {
    if (e.EXHIBIT_SERVICEBUS_CONNECTION_STRING) bus = { kind: 'service-bus', connectionString: e.EXHIBIT_SERVICEBUS_CONNECTION_STRING };
    else if (e.EXHIBIT_SERVICEBUS_NAMESPACE) bus = { kind: 'service-bus', namespace: e.EXHIBIT_SERVICEBUS_NAMESPACE };
    else throw new ExhibitError('invalid-config', 'EXHIBIT_BUS=service-bus needs EXHIBIT_SERVICEBUS_CONNECTION_STRING or EXHIBIT_SERVICEBUS_NAMESPACE');
  } else {
    if (storage.kind === 'managed-identity' && !storage.queueUrl) {
      throw new ExhibitError('invalid-config', 'EXHIBIT_BUS=storage-queue with managed identity needs EXHIBIT_STORAGE_QUEUE_URL');
    }
    bus = { kind: 'storage-queue' };
  }

  const database: ExhibitConfig['database'] = e.DATABASE_URL
    ? { kind: 'postgres', url: e.DATABASE_URL, entraAuth: e.EXHIBIT_DATABASE_ENTRA_AUTH === 'true' }
    : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite'), memoryLogMs: e.EXHIBIT_INDEX_MEMORY_LOG_MS };

  let auth: ExhibitConfig['auth'];
  if (e.EXHIBIT_ENTRA_TENANT_ID || e.EXHIBIT_ENTRA_AUDIENCE) {
    if (!e.EXHIBIT_ENTRA_TENANT_ID || !e.EXHIBIT_ENTRA_AUDIENCE) {
      throw new ExhibitError('invalid-config', 'Entra auth needs both EXHIBIT_ENTRA_TENANT_ID and EXHIBIT_ENTRA_AUDIENCE');
    }
    const audience = e.EXHIBIT_ENTRA_AUDIENCE;
    const apiUri = audience.startsWith('api://') ? audience : `api://${audience}`;
    auth = {
      kind: 'entra',
      tenantId: e.EXHIBIT_ENTRA_TENANT_ID,
      audience,
      authorityHost: authorityHost(e.EXHIBIT_ENTRA_AUTHORITY_HOST),
      web: {
        clientId: e.EXHIBIT_ENTRA_SPA_CLIENT_ID ?? audience.replace(/^api:\/\//, ''),
        scope: e.EXHIBIT_ENTRA_API_SCOPE ?? `${apiUri}/access_as_user`,
      },
    };
  } else {
    auth = { kind: 'local', keyDir: path.join(dataDir, 'keys') };
  }

  const baseUrl = e.EXHIBIT_API_URL ?? `http://${e.EXHIBIT_API_HOST}:${e.EXHIBIT_API_PORT}/api`;
  return {
    dataDir,
    logLevel: e.EXHIBIT_LOG_LEVEL,
    storage,
    bus,
    database,
    containers: { evidence: 'evidence', derived: 'derived', custody: 'custody' },
    api: { host: e.EXHIBIT_API_HOST, port: e.EXHIBIT_API_PORT, baseUrl },
    worker: {
      concurrency: e.EXHIBIT_CONCURRENCY,
      pollIntervalMs: e.EXHIBIT_POLL_INTERVAL_MS,
      ingestSamples: e.EXHIBIT_INGEST_SAMPLES === 'true',
      memberCacheBytes: e.EXHIBIT_MEMBER_CACHE_MIB * 1024 * 1024,
    },
    watchdog: { stallMs: e.EXHIBIT_WATCHDOG_STALL_MS, intervalMs: e.EXHIBIT_WATCHDOG_INTERVAL_MS, maxRedrives: e.EXHIBIT_WATCHDOG_MAX_REDRIVES },
    media: { ffmpegPath: e.FFMPEG_PATH, ffprobePath: e.FFPROBE_PATH },
    keyVault:
      e.EXHIBIT_KEY_VAULT_URL && e.EXHIBIT_CUSTODY_KEY_NAME
        ? { url: e.EXHIBIT_KEY_VAULT_URL, keyName: e.EXHIBIT_CUSTODY_KEY_NAME }
        : undefined,
    custodyTrust: {
      trustFile: path.join(dataDir, 'trust', 'custody-keys.json'),
      checkpoints:
        storage.kind === 'managed-identity' && !e.EXHIBIT_CUSTODY_CHECKPOINT_DIR
          ? { kind: 'container', container: 'custody-checkpoints' }
          : { kind: 'directory', dir: path.resolve(cwd, e.EXHIBIT_CUSTODY_CHECKPOINT_DIR ?? path.join(dataDir, 'custody-checkpoints')) },
    },
    auth,
    cli: { token: e.EXHIBIT_TOKEN },
  };
}

/**
 * Opt-in settings read only by test suites that talk to real Azure services
 * (there is no local emulator for them). Unset means "skip those tests".
 */
export function loadTestSettings(env: NodeJS.ProcessEnv = process.env): {
  serviceBusConnectionString: string | undefined;
  /** The real PostgreSQL server the index tests also run against, when set. */
  databaseUrl: string | undefined;
} {
  const value = env.EXHIBIT_TEST_SERVICEBUS_CONNECTION_STRING?.trim();
  const databaseUrl = env.DATABASE_URL?.trim();
  return { serviceBusConnectionString: value ? value : undefined, databaseUrl: databaseUrl ? databaseUrl : undefined };
}
