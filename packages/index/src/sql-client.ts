/**
 * The little SQL surface the index needs, implemented by PGlite (embedded) and
 * node-postgres (a real server). Parameters are positional ($1, $2, ...).
 */
export interface SqlClient {
  readonly dialect: 'pglite' | 'postgres';
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows: number }>;
  /** Runs fn in one transaction on one connection. */
  transaction<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R>;
  close(): Promise<void>;
}
