/**
 * `--database-url URL` of the benches: the index on a PostgreSQL server, as in
 * production, instead of the host's embedded PGlite. The URL names a database
 * the bench creates for each run and drops after it (`--keep` keeps the last
 * run's): each run needs a fresh index, since a second upload of the same
 * evidence into a used one would find every content already there. An
 * existing database of that name is refused, never dropped: it is not the
 * bench's.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** The database a --database-url names; only plain lower-case names, since the bench splices it into CREATE/DROP DATABASE. */
export function benchDatabaseName(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--database-url must name a database of lower-case letters, digits and _ (the bench creates it), got ${JSON.stringify(name)}`);
  return name;
}

/** The same server and credentials, another database. */
export function databaseUrlOf(databaseUrl: string, database: string): string {
  return Object.assign(new URL(databaseUrl), { pathname: `/${database}` }).toString();
}

/** utime + stime of a server backend on this machine, from /proc; 0 if it is gone or elsewhere. */
export function backendCpuSec(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on every mainstream Linux (process-cpu.meter.ts asks getconf; this is read once per run).
    return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of database `name`'s server backends: 0 at the first call (the mark), then the CPU each used since (a
 * backend that connected in between counts whole; one that disconnected in between is lost: the host's pool keeps its
 * connections).
 */
export function backendCpuMeter(admin: pg.Client, name: string): () => Promise<number> {
  let mark: Map<number, number> | null = null;
  return async () => {
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
    const now = new Map(rows.map((r) => [r.pid, backendCpuSec(r.pid)]));
    if (mark === null) {
      mark = now;
      return 0;
    }
    let sum = 0;
    for (const [pid, sec] of now) sum += sec - (mark.get(pid) ?? 0);
    return sum;
  };
}

export interface RunDatabase {
  /** DATABASE_URL for the run's host. */
  databaseUrl: string;
  /** CPU seconds of the run database's server backends: 0 at the first call, then the CPU since (the index's share of the work, outside the host). */
  indexServerCpuSec(): Promise<number>;
  /** After the host stopped: drops the database, unless kept. */
  finish(options: { keep: boolean }): Promise<void>;
}

/** Creates the database `databaseUrl` names for one run (refusing one that exists) and gives the run its URL. */
export async function createRunDatabase(databaseUrl: string, log: (line: string) => void): Promise<RunDatabase> {
  const name = benchDatabaseName(databaseUrl);
  const admin = new pg.Client({ connectionString: databaseUrlOf(databaseUrl, 'postgres') });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount! > 0;
    if (exists) throw new Error(`database ${name} exists: the bench creates and drops its own database, so drop it or name another`);
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  log(`  index on the PostgreSQL server: database ${name} created for the run`);
  return {
    databaseUrl,
    indexServerCpuSec: backendCpuMeter(admin, name),
    async finish({ keep }) {
      try {
        if (keep) log(`  kept database ${name} (drop it when done)`);
        else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
