import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, type BlobProperties, type ExhibitConfig, type Logger, type QueueName } from '@exhibit/core';
import { createApp, FUNCTIONS, reconcile, type App, type FunctionDef, type Invocation } from '@exhibit/runtime';
import { startHttpServer, type ApiResponse } from '@exhibit/api';
import { superviseAzurite, type StorageHealth, type SupervisedAzurite } from './azurite.supervisor.js';
import { acquireDataFolderLock, type DataFolderLock, type DataFolderLockPorts } from './data-folder.lock.js';
import { QueueWorker } from './queue-worker.js';
import { createReviewAppSite, REVIEW_APP_DIST } from './review-app.site.js';

/**
 * Per-queue concurrency on the local stack. I/O-bound stages run wide; the
 * CPU-bound ones (hashing, decoding images, ffmpeg) stay near the core count.
 */
export function localConcurrency(queue: QueueName, base: number): number {
  switch (queue) {
    case 'hash':
      return Math.max(1, Math.ceil(base / 2));
    case 'unpack':
      return Math.max(1, Math.ceil(base / 2));
    case 'thumbnail':
      return base;
    default:
      return base * 2;
  }
}

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
}

/** What the data folder lock records about this stack, for the message a second start prints. */
export function dataFolderLockPorts(config: ExhibitConfig): DataFolderLockPorts {
  return config.storage.kind === 'embedded-azurite'
    ? { api: config.api.port, blob: config.storage.blobPort, queue: config.storage.queuePort }
    : { api: config.api.port };
}

/**
 * The embedded stack: Azurite, the index, every function of the function
 * table served locally (workers for queues and dead-letter queues, a blob
 * watcher for blob-created, intervals for timers, node:http for the API).
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
  },
): Promise<LocalHost> {
  const logger = options.logger;
  const ownLock = options.dataFolderLock ? undefined : await acquireDataFolderLock(config.dataDir, dataFolderLockPorts(config));
  let azurite: SupervisedAzurite | undefined;
  let app: App;
  let stopHost: () => Promise<void> = async () => {};
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
    app = await createApp(config, { logger });
    await app.ensureInfrastructure();
  } catch (err) {
    await azurite?.stop();
    ownLock?.release();
    throw err;
  }

  const stoppers: Array<() => Promise<void>> = [];
  const timers: NodeJS.Timeout[] = [];
  const invocation = () => ({ invocationId: randomUUID(), logger });
  let scanning: Promise<void> | undefined;
  let scan = async (): Promise<void> => {};
  let server: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const t of timers) clearInterval(t);
    await server?.close();
    await Promise.all(stoppers.map((s) => s()));
    await scanning;
    await app.close();
    await azurite?.stop();
    ownLock?.release();
  };
  stopHost = stop;

  // A start that fails half-way (the API port taken, storage gone) stops what it started.
  try {
    const byKind = <K extends FunctionDef['trigger']['kind']>(kind: K) =>
      FUNCTIONS.filter((f): f is Extract<FunctionDef, { trigger: { kind: K } }> => f.trigger.kind === kind);

    const workers = new Map<QueueName, QueueWorker>();
    app.bus.onSent?.((queue) => workers.get(queue)?.nudge());
    for (const fn of byKind('queue')) {
      const queue = fn.trigger.queue;
      const worker = new QueueWorker(
        app.bus,
        queue,
        (message, inv) =>
          fn.handler(app, { body: message.body, messageId: message.messageId, deliveryCount: message.deliveryCount, ...(message.correlationId ? { correlationId: message.correlationId } : {}) }, inv),
        logger.child({ function: fn.name }),
        { concurrency: localConcurrency(queue, config.worker.concurrency), lockMs: options.lockMs ?? 30_000, idlePollMs: config.worker.pollIntervalMs },
      );
      worker.start();
      workers.set(queue, worker);
      stoppers.push(() => worker.stop());
    }

    // Dead-letter (poison) queues: record the failure, then remove the message.
    const deadLetterFns = byKind('dead-letter');
    let deadLetterBusy = false;
    const drainDeadLetters = async () => {
      if (deadLetterBusy) return;
      deadLetterBusy = true;
      try {
        for (const fn of deadLetterFns) {
          for (const dl of await app.bus.receiveDeadLettered(fn.trigger.queue, { maxMessages: 32 })) {
            await fn.handler(app, { body: dl.body, messageId: dl.messageId, reason: dl.reason, description: dl.description }, invocation());
            await dl.complete();
          }
        }
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'dead-letter pass failed; will retry');
      } finally {
        deadLetterBusy = false;
      }
    };
    timers.push(setInterval(() => void drainDeadLetters(), Math.max(1000, config.worker.pollIntervalMs * 2)));

    // Blob-created: locally there is no Event Grid, so watch the container. On
    // start, uploads received but never hashed (a crash in between) are re-queued once.
    const blobFn = byKind('blob-created')[0];
    if (!blobFn) throw new Error('function table has no blob-created function');
    const known = await app.index.listUploadEtags();
    const ingestWithTableFunction = (blob: BlobProperties, inv: Invocation) =>
      blobFn.handler(app, { container: blob.container, blobName: blob.name, eventId: `watch:${blob.etag}` }, inv);
    await reconcile(app, invocation(), { resendPendingAfterMs: 0, known, ingest: ingestWithTableFunction });
    scan = async () => {
      scanning ??= reconcile(app, invocation(), { known, ingest: ingestWithTableFunction })
        .then(() => undefined)
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'blob watch pass failed; will retry'))
        .finally(() => {
          scanning = undefined;
        });
      return scanning;
    };
    timers.push(setInterval(() => void scan(), config.worker.pollIntervalMs));

    for (const fn of byKind('timer')) {
      const everyMs = typeof fn.trigger.localIntervalMs === 'function' ? fn.trigger.localIntervalMs(config) : fn.trigger.localIntervalMs;
      // One run at a time: a pass slower than its interval (storage down, a large index) is not stacked up.
      let running = false;
      timers.push(
        setInterval(() => {
          if (running) return;
          running = true;
          fn.handler(app, undefined, invocation())
            .catch((err: unknown) => logger.warn({ fn: fn.name, err: errorMessage(err) }, 'timer function failed'))
            .finally(() => {
              running = false;
            });
        }, everyMs),
      );
    }

    const httpFn = byKind('http')[0];
    if (!httpFn) throw new Error('function table has no http function');
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
    server = await startHttpServer(
      {
        routes: app.api.routes,
        handle: async (req, opts) =>
          storageDown() ?? httpFn.handler(app, req, { ...invocation(), ...(opts?.abortSignal ? { abortSignal: opts.abortSignal } : {}) }),
      },
      { host: config.api.host, port: config.api.port, logger: logger.child({ component: 'http' }), site: createReviewAppSite(config) },
    );
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
    stop,
  };
}
