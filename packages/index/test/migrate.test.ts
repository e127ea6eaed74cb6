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

  it('0012 copies a stop recorded only in custody (before 0011) onto the archive', async () => {
    const all = await loadMigrations();
    // 0110/0111 change the review summary (0060) and the files' indexes: they need the ones before them.
    const before = all.filter((m) => m.version < '0011' || (m.version >= '0100' && !(m.version >= '0110' && m.version < '0112')));
    const dirUrl = await scratchMigrations(Object.fromEntries(before.map((m) => [`${m.version}.sql`, m.sql])));
    await migrate(sql!, { migrationsDir: dirUrl });
    const file = (id: string) =>
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage, unpack, member_count)
       VALUES ('${id}', 'c', 'e', 0, '${id}.tar', '${id}.tar', '${id}.tar', 'file', 'indexed', 'failed', 3)`;
    await sql!.query(file('fa'));
    await sql!.query(file('fb'));
    await sql!.query(file('fc'));
    const custody = (seq: number, action: string, key: string, details: object) =>
      sql!.query(
        `INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, event_key, key_id, prev_hash, entry_hash)
         VALUES ('c', 'e', $1, 0, now(), 'pipeline', $2, '{}'::jsonb, $3::jsonb, $4, 'k', $5, $5)`,
        [seq, action, JSON.stringify(details), key, '0'.repeat(64)],
      );
    await custody(0, 'unpacked', 'unpacked:fa', { stoppedBy: { code: 'corrupt-file', detail: 'tar: Unexpected end of data' } });
    await custody(1, 'stage-failed', 'dead-letter:unpack:fb', { stage: 'unpack', reason: 'timeout', description: 'attempt 5' });
    await writeFile(new URL('0011-archive-budget.sql', dirUrl), all.find((m) => m.version === '0011-archive-budget')!.sql);
    await writeFile(new URL('0012-archive-stop-backfill.sql', dirUrl), all.find((m) => m.version === '0012-archive-stop-backfill')!.sql);
    expect(await migrate(sql!, { migrationsDir: dirUrl })).toEqual(['0011-archive-budget', '0012-archive-stop-backfill']);
    const { rows } = await sql!.query(
      'SELECT file_id, unpack_failure_code, unpack_failure_reason, unpack_failure_detail, unpack_members_recorded FROM files ORDER BY file_id',
    );
    expect(rows).toEqual([
      { file_id: 'fa', unpack_failure_code: 'corrupt-file', unpack_failure_reason: 'corrupt', unpack_failure_detail: 'tar: Unexpected end of data', unpack_members_recorded: 3 },
      { file_id: 'fb', unpack_failure_code: 'dead-lettered', unpack_failure_reason: 'dead-lettered', unpack_failure_detail: 'timeout: attempt 5', unpack_members_recorded: 3 },
      { file_id: 'fc', unpack_failure_code: null, unpack_failure_reason: null, unpack_failure_detail: null, unpack_members_recorded: null },
    ]);
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
