import type { ExhibitConfig, Logger } from '@exhibit/core';
import { ExhibitError } from '@exhibit/core';

/**
 * The little SQL surface the index needs, implemented by PGlite (embedded) and
 * node-postgres (a real server). Parameters are positional ($1, $2, ...).
 */
export interface SqlClient {
  readonly dialect: 'pglite' | 'postgres';
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows: number }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Bulk load: `COPY <table> (<columns>) FROM STDIN` fed with `data` in
   * PostgreSQL's text format (tab-separated, \\N for null, one row a line),
   * as text or as its UTF-8 bytes. Returns the rows copied. Bulk imports
   * (hash sets) use it: one round trip per chunk instead of one per row.
   */
  copyFrom(copySql: string, data: string | Uint8Array): Promise<number>;
  /**
   * Runs fn in one transaction on one connection. Nested calls on the
   * transaction's client become savepoints, so an inner failure that the
   * caller catches does not poison the outer transaction. Inside fn use only
   * `tx`: on PGlite the outer client waits for the transaction to end.
   */
  transaction<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R>;
  close(): Promise<void>;
}

export interface OpenSqlClientOptions {
  logger?: Logger;
  abortSignal?: AbortSignal;
}

/**
 * Opens the configured database. Adapters are loaded on demand so a process
 * talking to a real server never loads the PGlite WebAssembly bundle.
 */
export async function openSqlClient(db: ExhibitConfig['database'], options: OpenSqlClientOptions = {}): Promise<SqlClient> {
  if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'opening the index was aborted');
  if (db.kind === 'pglite') {
    const { openPgliteClient } = await import('./sql-client.pglite.js');
    return openPgliteClient(db.dataDir, options);
  }
  const { openPgClient } = await import('./sql-client.pg.js');
  return openPgClient(db.url, {
    ...options,
    entraAuth: db.entraAuth,
    ...(db.password !== undefined ? { password: db.password } : {}),
    ...(db.maxConnections !== undefined ? { maxConnections: db.maxConnections } : {}),
    ...(db.connectTimeoutMs !== undefined ? { connectTimeoutMs: db.connectTimeoutMs } : {}),
    ...(db.idleTimeoutMs !== undefined ? { idleTimeoutMs: db.idleTimeoutMs } : {}),
  });
}

/** PGlite itself on a data directory, for the local host's index process; loaded on demand like the adapter. */
export async function openPgliteDatabase(dataDir: string): Promise<import('@electric-sql/pglite').PGlite> {
  const { openPgliteDatabase: open } = await import('./sql-client.pglite.js');
  return open(dataDir);
}
