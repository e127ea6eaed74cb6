import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { loadMigrations, migrate, openSqlClient, type SqlClient } from '../src/index.js';
import { DATABASE_URL, allTargets, pgliteDisk, postgresServer } from './targets.js';

describe('loadMigrations', () => {
  it('lists the package migrations in lexical order with checksums', async () => {
    const migrations = await loadMigrations();
    const versions = migrations.map((m) => m.version);
    expect(versions[0]).toBe('0001-initial');
    expect([...versions].sort()).toEqual(versions);
    for (const m of migrations) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe.each(allTargets())('migrate on $name', (target) => {
  let sql: SqlClient | undefined;
  let dir: string | undefined;
  beforeEach(async () => {
    sql = await openSqlClient(await target.create());
  });
  afterEach(async () => {
    await sql?.close();
    sql = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  afterAll(() => target.dispose());

  async function scratchMigrations(files: Record<string, string>): Promise<URL> {
    dir ??= await mkdtemp(path.join(os.tmpdir(), 'exhibit-migrations-'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    return pathToFileURL(dir + path.sep);
  }

  it('applies every migration once and records its checksum', async () => {
    const all = await loadMigrations();
    expect(await migrate(sql!)).toEqual(all.map((m) => m.version));
    expect(await migrate(sql!)).toEqual([]);
    const { rows } = await sql!.query<{ version: string; sha256: string }>('SELECT version, sha256 FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(all.map((m) => ({ version: m.version, sha256: m.sha256 })));
    const tables = await sql!.query<{ t: string }>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_name IN ('uploads', 'files', 'contents') ORDER BY 1",
    );
    expect(tables.rows.map((r) => r.t)).toEqual(['contents', 'files', 'uploads']);
  });

  it('refuses to run when an applied migration was changed, before applying anything new', async () => {
    const migrationsDir = await scratchMigrations({ '0001-a.sql': 'CREATE TABLE a (id integer);' });
    expect(await migrate(sql!, { migrationsDir })).toEqual(['0001-a']);
    await scratchMigrations({ '0001-a.sql': 'CREATE TABLE a (id bigint);', '0002-b.sql': 'CREATE TABLE b (id integer);' });
    const err = await migrate(sql!, { migrationsDir }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'conflict')).toBe(true);
    expect((err as { details?: { version?: string } }).details?.version).toBe('0001-a');
    const b = await sql!.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'b'");
    expect(b.rows).toHaveLength(0);
  });

  it('treats a CRLF checkout of the same migration as unchanged', async () => {
    const migrationsDir = await scratchMigrations({ '0001-a.sql': 'CREATE TABLE a (id integer);\nCREATE TABLE a2 (id integer);\n' });
    await migrate(sql!, { migrationsDir });
    await scratchMigrations({ '0001-a.sql': 'CREATE TABLE a (id integer);\r\nCREATE TABLE a2 (id integer);\r\n' });
    expect(await migrate(sql!, { migrationsDir })).toEqual([]);
  });

  it('rolls a failing migration back completely and applies it once fixed', async () => {
    const migrationsDir = await scratchMigrations({
      '0001-a.sql': 'CREATE TABLE a (id integer);',
      '0002-b.sql': 'CREATE TABLE b (id integer);\nINSERT INTO missing VALUES (1);',
    });
    await expect(migrate(sql!, { migrationsDir })).rejects.toThrow();
    const applied = await sql!.query<{ version: string }>('SELECT version FROM schema_migrations');
    expect(applied.rows.map((r) => r.version)).toEqual(['0001-a']);
    const b = await sql!.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'b'");
    expect(b.rows).toHaveLength(0);
    await scratchMigrations({ '0002-b.sql': 'CREATE TABLE b (id integer);' });
    expect(await migrate(sql!, { migrationsDir })).toEqual(['0002-b']);
  });
});

describe('migrate on a reopened PGlite data directory', () => {
  it('keeps the schema and data and applies nothing twice', async () => {
    const target = pgliteDisk();
    try {
      const db = await target.create();
      const first = await openSqlClient(db);
      const applied = await migrate(first);
      expect(applied.length).toBeGreaterThan(0);
      await first.query(
        "INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, last_modified) VALUES ('c/e/x', 'c', 'e', 'x', 'fx', 1, 'e1', now())",
      );
      await first.close();
      const second = await openSqlClient(db);
      expect(await migrate(second)).toEqual([]);
      const { rows } = await second.query<{ blob_name: string }>('SELECT blob_name FROM uploads');
      await second.close();
      expect(rows).toEqual([{ blob_name: 'c/e/x' }]);
    } finally {
      await target.dispose();
    }
  });
});

describe.runIf(DATABASE_URL)('concurrent migrate on a real server', () => {
  it('applies each migration exactly once when several processes start together', async () => {
    const target = postgresServer(DATABASE_URL!);
    try {
      const db = await target.create();
      const clients = await Promise.all(Array.from({ length: 4 }, () => openSqlClient(db)));
      try {
        const results = await Promise.all(clients.map((c) => migrate(c)));
        const all = (await loadMigrations()).map((m) => m.version);
        // Every migration applied by exactly one of them.
        expect(results.flat().sort()).toEqual(all);
        const { rows } = await clients[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
        expect(rows[0]?.n).toBe(all.length);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    } finally {
      await target.dispose();
    }
  });
});
