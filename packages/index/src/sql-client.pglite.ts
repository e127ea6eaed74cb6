import { existsSync } from 'node:fs';
import { mkdir, readdir, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Mutex, PGlite, type Transaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite/vector';
import { collectGarbage, ExhibitError, isExhibitError } from '@exhibit/core';
import type { OpenSqlClientOptions, SqlClient } from './sql-client.js';
import { inSavepoint } from './sql-savepoint.js';

/** PGlite reads COPY data from a Blob it exposes as /dev/blob. */
function pgliteCopy(copySql: string): string {
  if (!/\bFROM STDIN\b/i.test(copySql)) throw new ExhibitError('invalid-argument', 'copyFrom needs a COPY ... FROM STDIN statement');
  return copySql.replace(/\bFROM STDIN\b/i, "FROM '/dev/blob'");
}
import { translateSqlError } from './sql-errors.js';

const MEMORY = 'memory://';

/** Opens in progress that compile PGlite's WebAssembly with the baseline compiler only (see withBaselineWasmCompiler). */
let baselineOpens = 0;

/**
 * Runs `open` with V8 compiling WebAssembly by its baseline compiler (Liftoff)
 * only. PGlite's module is 8.9 MB of wasm: by default V8 also recompiles its hot
 * functions with TurboFan on background threads, whose compile memory (peak
 * 106 MiB of malloc, measured) stays in glibc's per-thread arenas after it is
 * freed, so the host kept ~60-100 MiB more RSS for as long as it ran. The tier
 * is fixed per module when it is compiled, so the flag is set only while
 * PGlite compiles and loads, then restored; the index's queries measured no
 * slower with Liftoff code (docs/operations.md, Memory). Flags are process-wide,
 * so concurrent opens share one setting, restored when the last one ends.
 */
async function withBaselineWasmCompiler<T>(open: () => Promise<T>): Promise<T> {
  if (baselineOpens++ === 0) setFlagsFromString('--liftoff-only');
  try {
    return await open();
  } finally {
    if (--baselineOpens === 0) setFlagsFromString('--no-liftoff-only');
  }
}

/** Keeps int8 as a JS number while it is exact (sizes, counts); beyond that a string, never a silent rounding. */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function txClient(tx: Transaction): SqlClient {
  const client: SqlClient = {
    dialect: 'pglite',
    async query<T extends Record<string, unknown>>(sql: string, params?: unknown[]) {
      try {
        const result = await tx.query<T>(sql, params);
        return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
      } catch (err) {
        throw translateSqlError(err, 'index query failed');
      }
    },
    async exec(sql: string) {
      try {
        await tx.exec(sql);
      } catch (err) {
        throw translateSqlError(err, 'index script failed');
      }
    },
    async copyFrom(copySql: string, data: string | Uint8Array) {
      try {
        const result = await tx.query(pgliteCopy(copySql), [], { blob: new Blob([data]) });
        return result.affectedRows ?? 0;
      } catch (err) {
        throw translateSqlError(err, 'index bulk load failed');
      }
    },
    transaction: (fn) => inSavepoint(client, fn),
    close: () => Promise.reject(new ExhibitError('invalid-argument', 'cannot close the index from inside a transaction')),
  };
  return client;
}

/**
 * Creates a new database in a sibling folder (<dataDir>.creating), closes it cleanly, then renames it into place: a
 * process killed during the creation (seconds) leaves only the sibling, never a half-made data directory that PGlite
 * can never open again ("Aborted()") (regression index-killed-during-first-creation-never-opens-again). Only for a
 * `dataDir` that does not exist (see indexDirToOpen). A leftover sibling is a creation that was cut off, and is
 * removed. That rests on nobody else creating there at the same time, which only the local host guarantees (its
 * index process opens the data directory under the data-folder lock): `exhibit hashset` and `exhibit pdq-backfill`
 * open PGlite without that lock and only tell the user to stop the local host first, so one run beside the host, or
 * beside another, on a data folder with no index yet is not guarded against.
 */
async function createAside(dataDir: string, create: (dir: string) => Promise<PGlite>): Promise<void> {
  const creating = `${dataDir}.creating`;
  await rm(creating, { recursive: true, force: true });
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(creating);
  const db = await create(creating);
  await db.close();
  try {
    await rename(creating, dataDir);
  } catch (err) {
    await rm(creating, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The folder to open PGlite on, made ready when it holds no index (no PG_VERSION). Absent: the index is created aside
 * and renamed into place (createAside). Present, it is resolved to its real path: PGlite's file system cannot open a
 * data directory through a symbolic link, not even an existing index (its start exits with status 1; measured with
 * @electric-sql/pglite 0.3.16), and a link to another disk is a way to place the index. An empty folder, a link to one or
 * a mount point (where no rename onto it can work: ENOTDIR, EBUSY) is created in place by the caller's open, as
 * before the creation aside; that case keeps the old exposure to a kill mid-creation, which leaves a half-made index
 * there that the next start refuses below (or, past PG_VERSION, cannot open). A non-empty folder with no PG_VERSION is
 * refused and nothing in it is touched: it may be someone's files, or a creation cut off in place.
 */
async function indexDirToOpen(dataDir: string, create: (dir: string) => Promise<PGlite>): Promise<string> {
  const real = await realpath(dataDir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  });
  if (real === null) {
    await createAside(dataDir, create);
    // The creation's PGlite is closed but its WebAssembly memory (174 MiB, ~160 of it resident) is freed only when V8 collects
    // it, which an idle process may not do for a long while: without this, the index opened next put its own heap
    // beside it (465-480 MiB instead of ~315 at a first start; regression creation-heap-held-beside-the-index).
    // It never throws: a Node without this way to collect opens the index as before, with the two heaps.
    collectGarbage();
    return dataDir;
  }
  if (existsSync(path.join(real, 'PG_VERSION'))) return real;
  if ((await readdir(real)).length > 0) {
    throw new ExhibitError('precondition-failed', `${dataDir} holds no index (no PG_VERSION) and is not empty; move it away`);
  }
  return real;
}

/**
 * Opens PGlite on a data directory (or `memory://`) with the extensions the
 * migrations need. Used by openPgliteClient and by the local host's index
 * process, which serves it on loopback (pglite-wire.server.ts).
 */
export async function openPgliteDatabase(dataDir: string): Promise<PGlite> {
  const inMemory = dataDir === MEMORY || dataDir.startsWith(MEMORY);
  const create = (dir: string | undefined) =>
    withBaselineWasmCompiler(() =>
      PGlite.create({
        ...(dir === undefined ? {} : { dataDir: dir }),
        // vector: pgvector, which migration 0025 creates (for an HNSW index 0085 drops); still loaded so
        // databases made before 0085 open and migrate. No query uses it.
        extensions: { pg_trgm, vector },
        parsers: { 20: parseInt8 },
      }),
    );
  try {
    if (inMemory) return await create(undefined);
    return await create(await indexDirToOpen(dataDir, create));
  } catch (err) {
    // Not retryable, and already says what to do.
    if (isExhibitError(err, 'precondition-failed')) throw err;
    throw new ExhibitError('index-unavailable', `cannot open the embedded index: ${thrownMessage(err)}`, { cause: err });
  }
}

/** Longest text of a thrown non-Error value quoted in a message; the value itself stays as the cause. */
const MAX_THROWN_TEXT_CHARS = 500;

/**
 * What was thrown, readable. PGlite (Emscripten) can abort by throwing a plain object rather than an Error, which
 * String() turns into `[object Object]`, telling the operator nothing: its message, name or status, else its JSON.
 */
export function thrownMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err !== 'object' || err === null) return String(err);
  const o = err as { message?: unknown; name?: unknown; status?: unknown };
  const parts = [
    typeof o.name === 'string' ? o.name : null,
    typeof o.message === 'string' ? o.message : null,
    typeof o.status === 'number' || typeof o.status === 'string' ? `status ${o.status}` : null,
  ].filter((p): p is string => p !== null && p !== '');
  if (parts.length > 0) return parts.join(': ').slice(0, MAX_THROWN_TEXT_CHARS);
  try {
    return (JSON.stringify(err) ?? Object.prototype.toString.call(err)).slice(0, MAX_THROWN_TEXT_CHARS);
  } catch {
    // Cyclic or with a throwing getter: at least its keys.
    return `object with keys ${Object.keys(err).slice(0, 20).join(', ')}`.slice(0, MAX_THROWN_TEXT_CHARS);
  }
}

/**
 * Embedded PostgreSQL. One connection per process: our own mutex makes every
 * statement and transaction take turns, so concurrent callers never run
 * inside someone else's transaction (PGlite queues internally too, but we do
 * not rely on an undocumented detail for correctness).
 *
 * Only one process may open a data directory at a time.
 */
export async function openPgliteClient(dataDir: string, options: OpenSqlClientOptions = {}): Promise<SqlClient> {
  const inMemory = dataDir === MEMORY || dataDir.startsWith(MEMORY);
  const db = await openPgliteDatabase(dataDir);
  if (options.abortSignal?.aborted) {
    await db.close();
    throw new ExhibitError('aborted', 'opening the index was aborted');
  }
  options.logger?.info({ dialect: 'pglite', inMemory }, 'index opened');

  const mutex = new Mutex();
  let closed = false;
  const client: SqlClient = {
    dialect: 'pglite',
    query<T extends Record<string, unknown>>(sql: string, params?: unknown[]) {
      return mutex.runExclusive(async () => {
        try {
          const result = await db.query<T>(sql, params);
          return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
        } catch (err) {
          throw translateSqlError(err, 'index query failed');
        }
      });
    },
    exec(sql: string) {
      return mutex.runExclusive(async () => {
        try {
          await db.exec(sql);
        } catch (err) {
          throw translateSqlError(err, 'index script failed');
        }
      });
    },
    copyFrom(copySql: string, data: string | Uint8Array) {
      return mutex.runExclusive(async () => {
        try {
          const result = await db.query(pgliteCopy(copySql), [], { blob: new Blob([data]) });
          return result.affectedRows ?? 0;
        } catch (err) {
          throw translateSqlError(err, 'index bulk load failed');
        }
      });
    },
    transaction<R>(fn: (tx: SqlClient) => Promise<R>) {
      return mutex.runExclusive(() => db.transaction((tx) => fn(txClient(tx))));
    },
    async close() {
      if (closed) return;
      closed = true;
      await mutex.runExclusive(() => db.close());
    },
  };
  return client;
}
