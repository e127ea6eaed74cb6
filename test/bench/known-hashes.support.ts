/**
 * The known-hash side of `npm run bench -- --known-hashes N` (issue 14):
 * imports a synthetic list of N rows (known-hash-list.builder.ts) plus rows
 * planted from corpus members ONCE, through HashSetStore.import (the code
 * `exhibit hashset import` runs), into a template index; then gives each
 * Exhibit run its own copy of that index with the set enabled or disabled
 * (HashSetStore.setEnabled, as `exhibit hashset enable|disable`). A run
 * needs a fresh index (a second upload of the same corpus into a used one
 * would find every content already there), and a copy is what lets the
 * 20M-row import happen once:
 *
 * - PostgreSQL server: the template is the database `--database-url` names
 *   (created here, dropped at the end unless --keep); each run gets
 *   `CREATE DATABASE <name>_run TEMPLATE <name> STRATEGY FILE_COPY`.
 * - PGlite: the template is a PGlite folder under bench-out/known-hashes,
 *   copied into the run's data folder before the host starts.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { HashSetStore, migrate, openSqlClient, type ImportProgress, type SqlClient } from '@exhibit/index';
import type { HostProcessEnv } from '../support/host-process.js';
import { backendCpuMeter, benchDatabaseName } from './bench-database.support.js';
import type { CorpusMember } from './corpus.builder.js';
import { writeKnownHashList, type PlantedRow } from './known-hash-list.builder.js';

export const KNOWN_SET_NAME = 'bench known hashes';
const SEED = 'exhibit-bench-known-hashes-1';

/** How many members get a planted row, and on which digest (the strongest the list states is what matching reports). */
export const PLANTED_PER_DIGEST = 4;

export interface KnownHashesOptions {
  rows: number;
  /** The template database on a PostgreSQL server; null: PGlite. */
  databaseUrl: string | null;
  members: readonly CorpusMember[];
  outDir: string;
  keep: boolean;
  log: (line: string) => void;
}

export interface KnownHashesRun {
  /** DATABASE_URL for the run's host (null: PGlite in the data folder). */
  databaseUrl: string | null;
  /** Before the host starts: the PGlite copy (PGlite only). */
  beforeStart(h: HostProcessEnv): Promise<void>;
  /** CPU seconds of the server backends of the run's database (the index's share of the work): 0 at the first call, then the CPU since; null with PGlite (it is in the host). */
  indexServerCpuSec(): Promise<number | null>;
  /**
   * After the host stopped: index scans of the set's partition in the run (the server's statistics,
   * flushed when the host's backends exit), which tells whether matching looked the set up at all;
   * null with PGlite (its statistics go with the host's data folder).
   */
  hashSetIndexScans(): Promise<number | null>;
  /** After the host stopped: drops the run's copy. */
  finish(): Promise<void>;
}

export interface KnownHashes {
  /** Members whose content a planted row lists: the known-good matches a run with the set enabled must report. */
  plantedMembers: number;
  /** Import timings (null when an earlier kept template was reused). */
  importStats: { listBytes: number; generateMs: number; importMs: number; phases: Record<string, number>; rowCount: number } | null;
  forRun(enabled: boolean): Promise<KnownHashesRun>;
  close(): Promise<void>;
}

async function digestsOf(file: string): Promise<{ md5: string; sha1: string; sha256: string }> {
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  for await (const chunk of createReadStream(file)) for (const h of [md5, sha1, sha256]) h.update(chunk as Buffer);
  return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), sha256: sha256.digest('hex') };
}

/** Rows for 3 × PLANTED_PER_DIGEST members spread over the corpus: each listed by one digest only (SHA-256, SHA-1, MD5). */
async function plantedRows(members: readonly CorpusMember[]): Promise<PlantedRow[]> {
  const count = Math.min(members.length, 3 * PLANTED_PER_DIGEST);
  const rows: PlantedRow[] = [];
  for (let k = 0; k < count; k++) {
    const m = members[Math.floor((k * members.length) / count)]!;
    const d = await digestsOf(m.file);
    const by = k % 3;
    rows.push({ md5: by === 2 ? d.md5 : null, sha1: by === 1 ? d.sha1 : null, sha256: by === 0 ? d.sha256 : null, size: m.bytes });
  }
  return rows;
}

/** Generates the list and imports it through HashSetStore, printing the import's phases. */
async function importList(sql: SqlClient, options: KnownHashesOptions, planted: PlantedRow[]): Promise<NonNullable<KnownHashes['importStats']>> {
  const dir = path.join(options.outDir, 'known-hashes');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `list-${options.rows}.csv`);
  try {
    let t = performance.now();
    const listBytes = await writeKnownHashList(file, { rows: options.rows, seed: SEED, planted });
    const generateMs = performance.now() - t;
    options.log(`known hashes: wrote ${options.rows.toLocaleString('en-GB')} + ${planted.length} rows (${(listBytes / 2 ** 20).toFixed(0)} MiB) in ${(generateMs / 1000).toFixed(1)} s; importing…`);
    const phases: Record<string, number> = {};
    let phase: string | null = null;
    let phaseStart = performance.now();
    let lastReport = 0;
    const onProgress = (p: ImportProgress) => {
      const now = performance.now();
      if (p.phase !== phase) {
        if (phase) phases[phase] = now - phaseStart;
        phase = p.phase;
        phaseStart = now;
      }
      if (now - lastReport > 30_000) {
        lastReport = now;
        options.log(`  … ${p.phase} ${p.done.toLocaleString('en-GB')}${p.total === null ? '' : ` / ${p.total.toLocaleString('en-GB')}`} (load ${loadavg()})`);
      }
    };
    t = performance.now();
    const result = await new HashSetStore(sql).import(file, { name: KNOWN_SET_NAME, kind: 'known-good', importedBy: 'bench', onProgress });
    const importMs = performance.now() - t;
    if (phase) phases[phase] = performance.now() - phaseStart;
    options.log(
      `known hashes: imported ${result.set.rowCount.toLocaleString('en-GB')} rows in ${(importMs / 1000).toFixed(1)} s (${Object.entries(phases).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}), load ${loadavg()}`,
    );
    return { listBytes, generateMs, importMs, phases, rowCount: result.set.rowCount };
  } finally {
    await rm(file, { force: true });
  }
}

const loadavg = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

/** Sets the bench's set enabled or disabled in one index, and checks it took. */
async function setEnabled(sql: SqlClient, enabled: boolean): Promise<void> {
  const set = await new HashSetStore(sql).setEnabled(KNOWN_SET_NAME, enabled);
  if (set.enabled !== enabled || set.state !== 'active') throw new Error(`the bench's hash set is ${set.state}, enabled ${set.enabled}; wanted active, enabled ${enabled}`);
}

/** A set in the template as the bench left it: active and holding every row. */
async function templateReady(sql: SqlClient, rows: number, planted: number): Promise<boolean> {
  const set = await new HashSetStore(sql).get(KNOWN_SET_NAME).catch(() => null);
  return set !== null && set.rowCount === rows + planted;
}

export async function prepareKnownHashes(options: KnownHashesOptions): Promise<KnownHashes> {
  const planted = await plantedRows(options.members);
  return options.databaseUrl === null ? preparePglite(options, planted) : preparePostgres(options, options.databaseUrl, planted);
}

async function preparePostgres(options: KnownHashesOptions, databaseUrl: string, planted: PlantedRow[]): Promise<KnownHashes> {
  const url = new URL(databaseUrl);
  const template = benchDatabaseName(databaseUrl);
  const runDb = `${template}_run`;
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  const urlOf = (db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount! > 0;
  let importStats: KnownHashes['importStats'] = null;
  if (exists) {
    const sql = await openSqlClient({ kind: 'postgres', url: urlOf(template), entraAuth: false });
    const ready = await templateReady(sql, options.rows, planted.length).finally(() => sql.close());
    if (!ready) throw new Error(`database ${template} exists and does not hold the bench's ${options.rows}-row set: drop it or name another`);
    options.log(`known hashes: reusing database ${template} (kept by an earlier run)`);
  } else {
    await admin.query(`CREATE DATABASE ${template}`);
    const sql = await openSqlClient({ kind: 'postgres', url: urlOf(template), entraAuth: false });
    try {
      await migrate(sql);
      importStats = await importList(sql, options, planted);
    } finally {
      await sql.close();
    }
  }
  const size = (await admin.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size($1)) AS size', [template])).rows[0]?.size;
  options.log(`known hashes: template database ${template}, ${size}`);
  return {
    plantedMembers: planted.length,
    importStats,
    async forRun(enabled) {
      const t = performance.now();
      await admin.query(`DROP DATABASE IF EXISTS ${runDb} WITH (FORCE)`);
      // FILE_COPY: a copy of the files after a checkpoint, not the whole database through the WAL.
      await admin.query(`CREATE DATABASE ${runDb} TEMPLATE ${template} STRATEGY FILE_COPY`);
      const sql = await openSqlClient({ kind: 'postgres', url: urlOf(runDb), entraAuth: false });
      await setEnabled(sql, enabled).finally(() => sql.close());
      options.log(`  index copied for the run (set ${enabled ? 'enabled' : 'disabled'}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return {
        databaseUrl: urlOf(runDb),
        beforeStart: async () => undefined,
        indexServerCpuSec: backendCpuMeter(admin, runDb),
        async hashSetIndexScans() {
          const run = new pg.Client({ connectionString: urlOf(runDb) });
          await run.connect();
          try {
            const { rows } = await run.query<{ scans: string }>(
              `SELECT coalesce(sum(idx_scan), 0)::bigint AS scans FROM pg_stat_user_indexes WHERE relname ~ '^hash_set_hashes_[0-9]+$'`,
            );
            return Number(rows[0]?.scans ?? 0);
          } finally {
            await run.end();
          }
        },
        finish: async () => void (await admin.query(`DROP DATABASE IF EXISTS ${runDb} WITH (FORCE)`)),
      };
    },
    async close() {
      await admin.query(`DROP DATABASE IF EXISTS ${runDb} WITH (FORCE)`);
      if (!options.keep) await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
      else options.log(`known hashes: kept database ${template} (drop it when done)`);
      await admin.end();
    },
  };
}

async function preparePglite(options: KnownHashesOptions, planted: PlantedRow[]): Promise<KnownHashes> {
  const template = path.join(options.outDir, 'known-hashes', `pglite-${options.rows}`);
  const done = path.join(template, '.bench-complete');
  let importStats: KnownHashes['importStats'] = null;
  if (existsSync(done)) options.log(`known hashes: reusing PGlite template ${template} (kept by an earlier run)`);
  else {
    await rm(template, { recursive: true, force: true });
    await mkdir(template, { recursive: true });
    const sql = await openSqlClient({ kind: 'pglite', dataDir: template });
    try {
      await migrate(sql);
      importStats = await importList(sql, options, planted);
    } finally {
      await sql.close();
    }
    await writeFile(done, new Date().toISOString());
  }
  options.log(`known hashes: PGlite template ${template}, ${(await folderBytes(template) / 2 ** 20).toFixed(0)} MiB`);
  return {
    plantedMembers: planted.length,
    importStats,
    async forRun(enabled) {
      return {
        databaseUrl: null,
        async beforeStart(h) {
          const t = performance.now();
          const dataDir = path.join(h.dataDir, 'pglite');
          await cp(template, dataDir, { recursive: true });
          const sql = await openSqlClient({ kind: 'pglite', dataDir });
          await setEnabled(sql, enabled).finally(() => sql.close());
          options.log(`  index copied for the run (set ${enabled ? 'enabled' : 'disabled'}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        },
        indexServerCpuSec: async () => null,
        hashSetIndexScans: async () => null,
        finish: async () => undefined,
      };
    },
    async close() {
      if (!options.keep) await rm(template, { recursive: true, force: true });
    },
  };
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}
