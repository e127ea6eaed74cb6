import { existsSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, type ExhibitConfig, type Logger } from '@exhibit/core';
import { createApp, FUNCTIONS, type App } from '@exhibit/runtime';
import type { ApiResponse } from '@exhibit/api';
import { superviseAzurite, type StorageHealth, type SupervisedAzurite } from './azurite.supervisor.js';
import { acquireDataFolderLock, type DataFolderLock, type DataFolderLockPorts } from './data-folder.lock.js';
import { startIndexProcess, type IndexProcessOptions, type RunningIndexProcess } from './index.process.js';
import { serveFunctions } from './triggers/serve-functions.js';
import { REVIEW_APP_DIST } from '@exhibit/runtime';

export { localConcurrency } from './triggers/queue.trigger.js';

export interface LocalHost {
  app: App;
  apiUrl: string;
  /** The review app, same origin as the API. */
  appUrl: string;
  /** Whether packages/web has been built (else the address answers 503 with how to build it). */
  appBuilt: boolean;
  stop(): Promise<void>;
  /** Runs one pass of the blob watcher now (tests use it instead of waiting for the interval). */
  scanNow(): Promise<void>;
  /** The embedded Azurite's state; null when storage is not embedded. */
  storageHealth(): StorageHealth | null;
  /** The index process serving PGlite; null when the index is a PostgreSQL server (DATABASE_URL). */
  indexProcess(): { pid: number; port: number } | null;
}

/** What the data folder lock records about this stack, for the message a second start prints. */
export function dataFolderLockPorts(config: ExhibitConfig): DataFolderLockPorts {
  return config.storage.kind === 'embedded-azurite'
    ? { api: config.api.port, blob: config.storage.blobPort, queue: config.storage.queuePort }
    : { api: config.api.port };
}

/**
 * The embedded stack: Azurite, the index, every function of the function
 * table served locally (triggers/: workers for queues and dead-letter queues,
 * a blob watcher for blob-created, intervals for timers, node:http for the API).
 *
 * One stack per data folder: it takes the folder's lock before opening
 * anything there, unless the caller already holds it (`npm start` takes it
 * before it opens its log file) and then releases it itself.
 */
export async function startLocalHost(
  config: ExhibitConfig,
  options: {
    logger: Logger;
    lockMs?: number;
    dataFolderLock?: DataFolderLock;
    /**
     * The embedded Azurite died and could not be kept running (see superviseAzurite). `npm start`
     * stops the host with a non-zero exit; without a handler the host stops itself.
     */
    onStorageLost?: (reason: string) => void;
    /**
     * The index process ended on its own (PGlite failed: a WebAssembly trap, or it was killed). Statements in
     * flight have failed with index-unavailable. `npm start` stops with a non-zero exit; without a handler the
     * host stops itself.
     */
    onIndexLost?: (reason: string) => void;
    /** A start waits for an index process an earlier host left busy, or still opening the index, on this data folder (see startIndexProcess). */
    onIndexBusyWait?: IndexProcessOptions['onBusyWait'];
  },
): Promise<LocalHost> {
  const logger = options.logger;
  const ownLock = options.dataFolderLock ? undefined : await acquireDataFolderLock(config.dataDir, dataFolderLockPorts(config));
  let azurite: SupervisedAzurite | undefined;
  let indexProcess: RunningIndexProcess | undefined;
  let app: App;
  let stopHost: () => Promise<void> = async () => {};
  // Background work the app started (the start-up custody pass) stops as soon as the host begins to stop.
  const shutdown = new AbortController();
  let stopped = false;
  try {
    if (config.storage.kind === 'embedded-azurite') {
      azurite = await superviseAzurite({
        location: config.storage.location,
        blobPort: config.storage.blobPort,
        queuePort: config.storage.queuePort,
        logger,
        // Containers and queues created in Azurite's last seconds may be gone after a hard kill.
        afterRestart: async () => {
          await app.ensureInfrastructure();
          logger.warn('storage is back: containers and queues ensured; lost work is re-driven by reconciliation and the watchdog');
          void scan();
        },
        onGiveUp: (reason) => {
          if (options.onStorageLost) options.onStorageLost(reason);
          else void stopHost().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'stopping after storage was lost failed'));
        },
      });
    }
    let appConfig = config;
    if (config.database.kind === 'pglite') {
      // PGlite runs in a process of its own (docs/architecture.md, "Index process"); the host reaches it
      // through the production node-postgres adapter, one connection, as the server serves one session.
      indexProcess = await startIndexProcess({
        pgliteDir: config.database.dataDir,
        stateDir: config.dataDir,
        logFile: path.join(config.dataDir, 'logs', 'index-process.log'),
        logger,
        logLevel: config.logLevel,
        memoryLogMs: config.database.memoryLogMs ?? 0,
        ...(options.onIndexBusyWait ? { onBusyWait: options.onIndexBusyWait } : {}),
      });
      appConfig = { ...config, database: indexProcess.database };
      const running = indexProcess;
      void running.exited.then(({ code, signal }) => {
        if (stopped) return;
        const reason = `the index process (pid ${running.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); see ${path.join(config.dataDir, 'logs', 'index-process.log')}`;
        logger.fatal({ pid: running.pid, code, signal }, 'the index process exited unexpectedly; the host stops');
        if (options.onIndexLost) options.onIndexLost(reason);
        else void stopHost().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'stopping after the index was lost failed'));
      });
    }
    app = await createApp(appConfig, { logger, shutdownSignal: shutdown.signal });
    await app.ensureInfrastructure();
    if (config.database.kind === 'pglite') {
      // The PGlite index is this data folder's alone (its lock is held): a stage lease in it is a dead host's, whose
      // deliveries all ended with it. Left, each would hold its unpack or hash back until it expired (LIMITS.stageLeaseMs).
      const cleared = await app.stageDeps.index.clearStageLeases();
      if (cleared > 0) logger.info({ cleared }, 'stage leases of an earlier host cleared');
    }
  } catch (err) {
    stopped = true;
    await indexProcess?.stop();
    await azurite?.stop();
    ownLock?.release();
    throw err;
  }

  const stoppers: Array<() => Promise<void>> = [];
  const first: Array<() => Promise<void>> = [];
  const timers: NodeJS.Timeout[] = [];
  let scan = async (): Promise<void> => {};
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    shutdown.abort();
    for (const t of timers) clearInterval(t);
    for (const f of first) await f();
    await Promise.all(stoppers.map((s) => s()));
    await app.close();
    await Promise.all([indexProcess?.stop(), azurite?.stop()]);
    ownLock?.release();
  };
  stopHost = stop;

  // While the embedded storage is down (restarting), every answer would be stale or fail
  // half-way: say so with 503 and the reason instead of showing progress that is not moving.
  const storageDown = (): ApiResponse | null => {
    const health = azurite?.health();
    if (!health || health.state === 'up') return null;
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: { code: 'storage-unavailable', message: `storage is ${health.state}: ${health.reason ?? 'unknown reason'}`, details: { storage: health } } },
    };
  };

  // A start that fails half-way (the API port taken, storage gone) stops what it started.
  try {
    const served = await serveFunctions(FUNCTIONS, { app, config, logger, lockMs: options.lockMs ?? 30_000, first, stoppers, timers, storageDown });
    scan = served.scan;
  } catch (err) {
    await stop().catch((stopErr: unknown) => logger.warn({ err: errorMessage(stopErr) }, 'stopping a failed start failed'));
    throw err;
  }

  return {
    app,
    apiUrl: config.api.baseUrl,
    appUrl: config.api.baseUrl.replace(/\/api$/, '/'),
    appBuilt: existsSync(path.join(REVIEW_APP_DIST, 'index.html')),
    scanNow: scan,
    storageHealth: () => azurite?.health() ?? null,
    indexProcess: () => (indexProcess ? { pid: indexProcess.pid, port: indexProcess.port } : null),
    stop,
  };
}
