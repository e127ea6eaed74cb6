import { loadTestSettings } from '@exhibit/core';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ExhibitConfig } from '@exhibit/core';
import type { PGlite } from '@electric-sql/pglite';
import { openPgliteDatabase } from '../src/sql-client.js';
import { startWireServer, type WireServer } from '../src/pglite-wire.server.js';

/**
 * The databases every index test runs against: PGlite in memory, PGlite on
 * disk, and (when DATABASE_URL is set) a real server, where each target gets
 * its own throw-away database so runs are repeatable and can run side by side.
 */
export interface Target {
  name: string;
  /** Creates a fresh, empty database and returns its config. */
  create(): Promise<ExhibitConfig['database']>;
  /** Removes everything create() made. */
  dispose(): Promise<void>;
}

// Tests may read the environment; the product reads it only in core/config.ts.
export const DATABASE_URL = loadTestSettings().databaseUrl;

export function pgliteMemory(): Target {
  return { name: 'pglite (memory)', create: async () => ({ kind: 'pglite', dataDir: 'memory://' }), dispose: async () => {} };
}

export function pgliteDisk(): Target {
  const dirs: string[] = [];
  return {
    name: 'pglite (disk)',
    async create() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-index-'));
      dirs.push(dir);
      return { kind: 'pglite', dataDir: path.join(dir, 'pglite') };
    },
    async dispose() {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export function postgresServer(baseUrl: string): Target {
  const made: string[] = [];
  const admin = async <R>(fn: (c: pg.Client) => Promise<R>): Promise<R> => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    async create() {
      const db = `exhibit_index_test_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${db}`));
      made.push(db);
      const url = new URL(baseUrl);
      url.pathname = `/${db}`;
      return { kind: 'postgres', url: url.toString(), entraAuth: false };
    },
    async dispose() {
      const dbs = made.splice(0);
      if (dbs.length === 0) return;
      await admin(async (c) => {
        for (const db of dbs) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      });
    },
  };
}

/**
 * PGlite behind the local host's wire server, reached with the node-postgres adapter and the pool the host uses
 * (one connection, no wait deadline): the production adapter's statements, COPY included, against that server.
 */
export function pgliteWireServer(): Target {
  const open: Array<{ db: PGlite; server: WireServer }> = [];
  return {
    name: 'pglite (wire server)',
    async create() {
      const db = await openPgliteDatabase('memory://');
      const password = randomBytes(16).toString('hex');
      const server = await startWireServer({
        db,
        password,
        instanceId: 'test',
        onFatal: (err) => {
          throw new Error('PGlite failed behind the wire server', { cause: err });
        },
      });
      open.push({ db, server });
      return { kind: 'postgres', url: `postgres://exhibit@127.0.0.1:${server.port}/postgres`, entraAuth: false, password, maxConnections: 1, connectTimeoutMs: 0 };
    },
    async dispose() {
      for (const { db, server } of open.splice(0)) await server.close({ beforeUnlisten: () => db.close() });
    },
  };
}

export function allTargets(): Target[] {
  return [pgliteMemory(), pgliteDisk(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])];
}
