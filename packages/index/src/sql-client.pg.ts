import { DefaultAzureCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { ExhibitError, errorMessage } from '@exhibit/core';
import type { OpenSqlClientOptions, SqlClient } from './sql-client.js';
import { parseInt8 } from './sql-client.pglite.js';
import { inSavepoint } from './sql-savepoint.js';
import { translateSqlError } from './sql-errors.js';

export const ENTRA_POSTGRES_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';
/** Fetch a new token this long before the old one expires, so a connection never starts with a dying token. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The password callback for Entra auth: a cached access token, renewed shortly before expiry. */
export function entraPassword(credential: TokenCredential = new DefaultAzureCredential()): () => Promise<string> {
  let cached: AccessToken | null = null;
  return async () => {
    if (cached && cached.expiresOnTimestamp - TOKEN_REFRESH_MARGIN_MS > Date.now()) return cached.token;
    let token: AccessToken | null;
    try {
      token = await credential.getToken(ENTRA_POSTGRES_SCOPE);
    } catch (err) {
      throw new ExhibitError('index-unavailable', `cannot get an Entra token for PostgreSQL: ${errorMessage(err)}`, { cause: err });
    }
    if (!token) throw new ExhibitError('index-unavailable', 'no Entra token for PostgreSQL');
    cached = token;
    return token.token;
  };
}

function poolConfig(url: string, entraAuth: boolean, extra: { password?: string; maxConnections?: number; connectTimeoutMs?: number; idleTimeoutMs?: number } = {}): pg.PoolConfig {
  const base: pg.PoolConfig = {
    connectionTimeoutMillis: extra.connectTimeoutMs ?? 15_000,
    // node-postgres: 0 never closes an idle connection.
    idleTimeoutMillis: extra.idleTimeoutMs ?? 30_000,
    types,
    ...(extra.maxConnections !== undefined ? { max: extra.maxConnections } : {}),
  };
  if (extra.password !== undefined && !entraAuth) {
    // Not as a connection string: its (empty) password would override this one.
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new ExhibitError('invalid-config', 'the index URL is not a valid URL', { cause: err });
    }
    return {
      ...base,
      host: parsed.hostname,
      port: Number(parsed.port || 5432),
      user: decodeURIComponent(parsed.username),
      database: decodeURIComponent(parsed.pathname.slice(1)),
      password: extra.password,
    };
  }
  if (!entraAuth) return { ...base, connectionString: url };
  // Connection-string settings override pool options in node-postgres, so
  // drop any sslmode from the URL: with Entra the token must only travel over
  // verified TLS.
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ExhibitError('invalid-config', 'DATABASE_URL is not a valid URL', { cause: err });
  }
  for (const key of ['sslmode', 'ssl', 'sslcert', 'sslkey', 'sslrootcert', 'uselibpqcompat']) parsed.searchParams.delete(key);
  parsed.password = '';
  return { ...base, connectionString: parsed.toString(), password: entraPassword(), ssl: { rejectUnauthorized: true } };
}

/** COPY FROM STDIN on one connection (pg-copy-streams); resolves with the rows copied. */
async function copyOn(conn: pg.PoolClient, copySql: string, data: string | Uint8Array): Promise<number> {
  const stream = conn.query(copyFromStdin(copySql));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
  return stream.rowCount ?? 0;
}

function wrapClient(run: (sql: string, params?: unknown[]) => Promise<pg.QueryResult>, copy: (copySql: string, data: string | Uint8Array) => Promise<number>): Omit<SqlClient, 'transaction' | 'close'> {
  return {
    dialect: 'postgres',
    async query<T extends Record<string, unknown>>(sql: string, params?: unknown[]) {
      try {
        const result = await run(sql, params);
        return { rows: result.rows as T[], affectedRows: result.rowCount ?? 0 };
      } catch (err) {
        throw translateSqlError(err, 'index query failed');
      }
    },
    async copyFrom(copySql: string, data: string | Uint8Array) {
      try {
        return await copy(copySql, data);
      } catch (err) {
        throw translateSqlError(err, 'index bulk load failed');
      }
    },
    async exec(sql: string) {
      try {
        // Without parameters node-postgres uses the simple protocol, which accepts several statements.
        await run(sql);
      } catch (err) {
        throw translateSqlError(err, 'index script failed');
      }
    },
  };
}

/** A pooled connection to a real PostgreSQL server (Azure Database for PostgreSQL in the cloud). */
export async function openPgClient(
  url: string,
  options: OpenSqlClientOptions & { entraAuth: boolean; password?: string; maxConnections?: number; connectTimeoutMs?: number; idleTimeoutMs?: number },
): Promise<SqlClient> {
  const pool = new pg.Pool(poolConfig(url, options.entraAuth, options));
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (err) => options.logger?.warn({ err: translateSqlError(err, 'idle index connection failed') }, 'index connection dropped'));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    const translated = translateSqlError(err, 'cannot connect to the index');
    throw translated instanceof ExhibitError
      ? translated
      : new ExhibitError('index-unavailable', `cannot connect to the index: ${errorMessage(err)}`, { cause: err });
  }
  if (options.abortSignal?.aborted) {
    await pool.end();
    throw new ExhibitError('aborted', 'opening the index was aborted');
  }
  options.logger?.info({ dialect: 'postgres', entraAuth: options.entraAuth }, 'index opened');

  let closed = false;
  const client: SqlClient = {
    ...wrapClient(
      (sql, params) => pool.query(sql, params),
      async (copySql, data) => {
        const conn = await pool.connect();
        const onError = (err: Error) => options.logger?.warn({ err: translateSqlError(err, 'index connection failed') }, 'index connection lost in a bulk load');
        conn.on('error', onError);
        let broken = false;
        try {
          return await copyOn(conn, copySql, data);
        } catch (err) {
          broken = true;
          throw err;
        } finally {
          conn.off('error', onError);
          conn.release(broken ? true : undefined);
        }
      },
    ),
    async transaction<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R> {
      let conn: pg.PoolClient;
      try {
        conn = await pool.connect();
      } catch (err) {
        throw translateSqlError(err, 'cannot get an index connection');
      }
      const tx: SqlClient = {
        ...wrapClient((sql, params) => conn.query(sql, params), (copySql, data) => copyOn(conn, copySql, data)),
        transaction: (inner) => inSavepoint(tx, inner),
        close: () => Promise.reject(new ExhibitError('invalid-argument', 'cannot close the index from inside a transaction')),
      };
      // A connection that dies while checked out (the server restarted, a backend terminated, a failover) emits 'error'
      // on the client, which the pool no longer listens to: without a listener the process crashes on it
      // (pg-connection-lost-in-transaction-crashed-the-process); with it the statement in flight fails and the
      // connection is destroyed on release.
      const onError = (err: Error) => options.logger?.warn({ err: translateSqlError(err, 'index connection failed') }, 'index connection lost in a transaction');
      conn.on('error', onError);
      let broken = false;
      try {
        // READ COMMITTED whatever the server's default: the file counts' fold (migration 0130)
        // and the migrations' backfills rely on it; a transaction that needs a snapshot says so
        // with SET TRANSACTION as its first statement.
        await tx.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(tx);
        await tx.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await conn.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        conn.off('error', onError);
        // A connection whose rollback failed is in an unknown state: destroy it.
        conn.release(broken ? true : undefined);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
  return client;
}
