import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ExhibitError, type Logger } from '@exhibit/core';
import type { SqlClient } from './sql-client.js';

export const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url);

/**
 * One key for every process migrating this database. Transaction-scoped, so
 * a crashed migrator cannot leave it held.
 */
const MIGRATION_LOCK_KEY = 7_236_151_044_001;

export interface Migration {
  /** File name without `.sql`, e.g. `0001-initial`; lexical order is apply order. */
  version: string;
  sql: string;
  sha256: string;
}

/** Line endings are normalised before hashing so a checkout on Windows does not look like an edit. */
function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const path = fileURLToPath(dir);
  // Plain code-unit comparison, not localeCompare: the order must not depend on the machine's locale.
  const names = (await readdir(path)).filter((n) => n.endsWith('.sql')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Migration[] = [];
  for (const name of names) {
    const sql = await readFile(new URL(name, dir), 'utf8');
    out.push({ version: name.slice(0, -'.sql'.length), sql, sha256: checksum(sql) });
  }
  return out;
}

async function lock(tx: SqlClient): Promise<void> {
  // PGlite is one connection in one process; there is nobody to race with.
  if (tx.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
}

function changedError(version: string, applied: string, onDisk: string): ExhibitError {
  return new ExhibitError('conflict', `migration ${version} was changed after it was applied; add a new migration instead`, {
    details: { version, appliedSha256: applied, fileSha256: onDisk },
  });
}

/**
 * Applies every migration not yet recorded in schema_migrations, each in its
 * own transaction, in lexical order. Safe to run from several processes at
 * once: each step holds an advisory lock and re-reads what is applied.
 * Returns the versions this call applied.
 */
export async function migrate(sql: SqlClient, options: { logger?: Logger; migrationsDir?: URL } = {}): Promise<string[]> {
  const migrations = await loadMigrations(options.migrationsDir);

  await sql.transaction(async (tx) => {
    await lock(tx);
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now(),
        sha256     text NOT NULL
      )`);
    // Check every applied migration before applying anything new, so an edited
    // history stops the process before the schema moves further.
    const { rows } = await tx.query<{ version: string; sha256: string }>('SELECT version, sha256 FROM schema_migrations');
    const onDisk = new Map(migrations.map((m) => [m.version, m.sha256]));
    for (const row of rows) {
      const fileSha = onDisk.get(row.version);
      if (fileSha === undefined) {
        options.logger?.warn({ version: row.version }, 'database has a migration this code does not know (newer deployment?)');
      } else if (fileSha !== row.sha256) {
        throw changedError(row.version, row.sha256, fileSha);
      }
    }
  });

  const applied: string[] = [];
  for (const m of migrations) {
    const didApply = await sql.transaction(async (tx) => {
      await lock(tx);
      const { rows } = await tx.query<{ sha256: string }>('SELECT sha256 FROM schema_migrations WHERE version = $1', [m.version]);
      const existing = rows[0];
      if (existing) {
        if (existing.sha256 !== m.sha256) throw changedError(m.version, existing.sha256, m.sha256);
        return false;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, sha256) VALUES ($1, $2)', [m.version, m.sha256]);
      return true;
    });
    if (didApply) {
      applied.push(m.version);
      options.logger?.info({ version: m.version }, 'migration applied');
    }
  }
  return applied;
}
