/**
 * The local host's index process (index.process.ts starts it): PGlite on the
 * data folder's pglite/ directory, served on loopback by the wire server
 * (packages/index/src/pglite-wire.server.ts) to the host's node-postgres
 * adapter. Kept out of the host so PGlite's WebAssembly heap and its CPU are
 * not the host's (docs/architecture.md, "Index process").
 *
 * Everything it needs comes over the IPC channel in one `open` message, the
 * password included: nothing secret in argv or the environment, where other
 * users of the machine could read it. Its log is JSON lines on stderr, which
 * the host points at <data dir>/logs/index-process.log.
 *
 * It stops on SIGTERM/SIGINT, on a `stop` message, and when the channel to its
 * host closes (the host ended, however it ended). PGlite throwing from the
 * protocol (a WebAssembly trap) is logged and ends the process with code 1:
 * PGlite cannot be used after it, and the host must learn of it.
 */
import pino from 'pino';
import { createRootLogger, errorMessage } from '@exhibit/core';
import { openPgliteDatabase, pgliteMemoryBytes, startWireServer, type WireServer } from '@exhibit/index';
import type { PGlite } from '@electric-sql/pglite';

export interface IndexProcessOpen {
  type: 'open';
  dataDir: string;
  password: string;
  instanceId: string;
  logLevel: string;
  /** How often to log RSS and PGlite's WebAssembly memory (benchmarks); 0: never. */
  memoryLogMs: number;
}

export type IndexProcessReply = { type: 'ready'; port: number } | { type: 'failed'; message: string };

const logger = createRootLogger({ level: 'info', destination: pino.destination({ dest: 2, sync: true }) }).child({ component: 'index-process' });
let db: PGlite | undefined;
let server: WireServer | undefined;
let stopping = false;
/** The open in progress or done: a stop waits for it to settle, so the process never exits (or closes PGlite) mid-open. */
let opening: Promise<boolean> | undefined;

function send(reply: IndexProcessReply): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(reply, undefined, undefined, () => resolve());
  });
}

for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    logger.fatal({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, `index process: ${event}`);
    process.exit(1);
  });
}

async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ why }, 'index process stopping');
  // Whatever PGlite does while it opens (a first open creates the database), it is let finish before it is closed.
  const opened = (await opening) ?? true;
  try {
    // Sessions end first (an open transaction rolled back); the listening socket stays until PGlite is closed,
    // so a later host that finds this process still answering knows it still holds the data directory.
    await server?.close({
      beforeUnlisten: async () => {
        await db?.close();
      },
    });
    if (!server) await db?.close();
    logger.info('index process stopped');
    process.exit(opened ? 0 : 1);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'index process did not stop cleanly');
    process.exit(1);
  }
}

process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.on('disconnect', () => void stop('the host closed the channel'));
process.on('message', (m: IndexProcessOpen | { type: 'stop' }) => {
  if (m.type === 'stop') void stop('the host asked');
  else if (m.type === 'open' && !opening && !stopping) opening = open(m);
});

/** Whether the index was opened and is served; a failure is told to the host. */
async function open(m: IndexProcessOpen): Promise<boolean> {
  logger.level = m.logLevel;
  try {
    db = await openPgliteDatabase(m.dataDir);
    server = await startWireServer({
      db,
      password: m.password,
      instanceId: m.instanceId,
      logger,
      logMemoryGrowth: m.memoryLogMs > 0,
      onFatal: (err) => {
        logger.fatal({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'PGlite failed; the index process exits');
        process.exit(1);
      },
    });
    logger.info({ port: server.port, pid: process.pid }, 'index process serving');
    if (m.memoryLogMs > 0) logMemoryEvery(m.memoryLogMs);
    if (!stopping) await send({ type: 'ready', port: server.port });
    return true;
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'index process could not open the index');
    await send({ type: 'failed', message: errorMessage(err) });
    // A stop waiting for this open ends the process itself (with what it can close).
    if (!stopping) process.exit(1);
    return false;
  }
}

/**
 * Diagnostics for the benchmarks: the process's RSS and the size of PGlite's WebAssembly memory (the high-water mark
 * of PostgreSQL's heap in the process, see pgliteMemoryBytes); without it, only RSS is logged.
 */
function logMemoryEvery(intervalMs: number): void {
  const timer = setInterval(() => {
    const wasmMemoryBytes = db ? pgliteMemoryBytes(db) : undefined;
    const usage = process.memoryUsage();
    logger.info({ rssBytes: usage.rss, wasmMemoryBytes: wasmMemoryBytes ?? null, externalBytes: usage.external }, 'index process memory');
  }, intervalMs);
  timer.unref();
}
