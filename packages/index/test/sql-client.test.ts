import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, isExhibitError } from '@exhibit/core';
import { openSqlClient, type SqlClient } from '../src/index.js';
import { allTargets, pgliteMemory, pgliteWireServer } from './targets.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe.each([...allTargets(), pgliteWireServer()])('SqlClient on $name', (target) => {
  let sql: SqlClient;
  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    await sql.exec(`
      CREATE TABLE t (id integer PRIMARY KEY, n bigint NOT NULL CHECK (n >= 0));
      CREATE TABLE counter (v integer NOT NULL);
      INSERT INTO counter VALUES (0);`);
  });
  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it('binds parameters, reports affected rows and reads int8 as numbers', async () => {
    const ins = await sql.query('INSERT INTO t (id, n) VALUES ($1, $2), ($3, $4)', [1, 2 ** 40, 2, 5]);
    expect(ins.affectedRows).toBe(2);
    const { rows } = await sql.query<{ id: number; n: number }>('SELECT id, n FROM t WHERE id = $1', [1]);
    expect(rows).toEqual([{ id: 1, n: 2 ** 40 }]);
    const upd = await sql.query('UPDATE t SET n = n + 1 WHERE id IN (1, 2, 99)');
    expect(upd.affectedRows).toBe(2);
  });

  it('commits a transaction and rolls it back on error', async () => {
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id, n) VALUES (10, 1)');
    });
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO t (id, n) VALUES (11, 1)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await sql.query<{ id: number }>('SELECT id FROM t WHERE id IN (10, 11) ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([10]);
  });

  it('runs a nested transaction as a savepoint: a caught inner failure keeps the outer work', async () => {
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id, n) VALUES (20, 1)');
      await expect(
        tx.transaction(async (inner) => {
          await inner.query('INSERT INTO t (id, n) VALUES (21, 1)');
          await inner.query('INSERT INTO t (id, n) VALUES (21, 1)');
        }),
      ).rejects.toBeInstanceOf(ExhibitError);
      await tx.query('INSERT INTO t (id, n) VALUES (22, 1)');
    });
    const { rows } = await sql.query<{ id: number }>('SELECT id FROM t WHERE id BETWEEN 20 AND 29 ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([20, 22]);
  });

  it('translates constraint violations into typed errors', async () => {
    await sql.query('INSERT INTO t (id, n) VALUES (30, 1)');
    const dup = await sql.query('INSERT INTO t (id, n) VALUES (30, 1)').catch((e: unknown) => e);
    expect(isExhibitError(dup, 'conflict')).toBe(true);
    expect((dup as ExhibitError).cause).toBeDefined();
    const neg = await sql.query('INSERT INTO t (id, n) VALUES (31, -1)').catch((e: unknown) => e);
    expect(isExhibitError(neg, 'invalid-argument')).toBe(true);
  });

  it('keeps concurrent read-modify-write transactions apart', async () => {
    const bump = () =>
      sql.transaction(async (tx) => {
        // FOR UPDATE serialises on a real server; PGlite has one connection and takes turns.
        const { rows } = await tx.query<{ v: number }>('SELECT v FROM counter FOR UPDATE');
        await tx.query('SELECT pg_sleep(0)');
        await tx.query('UPDATE counter SET v = $1', [(rows[0]?.v ?? 0) + 1]);
      });
    await Promise.all(Array.from({ length: 12 }, bump));
    const { rows } = await sql.query<{ v: number }>('SELECT v FROM counter');
    expect(rows[0]?.v).toBe(12);
  });
});

describe.each(allTargets().filter((t) => t.name === 'postgres'))('SqlClient on $name: a lost connection', (target) => {
  it('pg-connection-lost-in-transaction-crashed-the-process: the transaction fails typed, the next statement works', async () => {
    // A backend terminated under an open transaction (a server restart, a failover): node-postgres emits 'error' on the
    // checked-out client; unheard, it was an uncaught exception that ended the process (this test's worker with it).
    const sql = await openSqlClient(await target.create());
    try {
      const failed = await sql
        .transaction(async (tx) => {
          await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
          return 'survived';
        })
        .catch((err: unknown) => err);
      expect(isExhibitError(failed) ? failed.code : failed).toBe('index-unavailable');
      expect((await sql.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await sql.close();
      await target.dispose();
    }
  });
});

describe('PGlite serialisation', () => {
  it('does not run another caller’s statement inside an open transaction', async () => {
    const sql = await openSqlClient(await pgliteMemory().create());
    try {
      await sql.exec('CREATE TABLE s (id integer)');
      let outside: Promise<{ rows: Array<{ n: number }> }> | undefined;
      await sql
        .transaction(async (tx) => {
          await tx.query('INSERT INTO s VALUES (1)');
          outside = sql.query<{ n: number }>('SELECT count(*)::int AS n FROM s');
          // Give the outside query every chance to run early.
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
          throw new Error('roll back');
        })
        .catch(() => undefined);
      const seen = await outside!;
      // Had it run inside the transaction, it would have seen the uncommitted row.
      expect(seen.rows[0]?.n).toBe(0);
    } finally {
      await sql.close();
    }
  });

  it('reopens an on-disk data directory with its data', async () => {
    const { pgliteDisk } = await import('./targets.js');
    const target = pgliteDisk();
    try {
      const db = await target.create();
      const first = await openSqlClient(db);
      await first.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here');");
      await first.close();
      const second = await openSqlClient(db);
      const { rows } = await second.query<{ v: string }>('SELECT v FROM kept');
      await second.close();
      expect(rows).toEqual([{ v: 'still here' }]);
    } finally {
      await target.dispose();
    }
  });
});

describe('PGlite first start in an existing folder', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const root = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-index-first-'));
    roots.push(dir);
    return dir;
  };

  it('first-start-into-symlinked-empty-index-dir-fails-rename: a data directory that is a link to an empty folder is created in that folder', { timeout: 60_000 }, async () => {
    // <data>/pglite as a link to an empty folder elsewhere (another disk): the creation aside could not be renamed
    // onto the link (ENOTDIR; EBUSY on a mount point), so the index never opened; nor can PGlite open through a link.
    const dir = await root();
    const target = path.join(dir, 'elsewhere');
    await mkdir(target);
    const dataDir = path.join(dir, 'pglite');
    await symlink(target, dataDir, 'dir');
    const first = await openSqlClient({ kind: 'pglite', dataDir });
    await first.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('in the linked folder');");
    await first.close();
    expect((await lstat(dataDir)).isSymbolicLink()).toBe(true);
    expect(existsSync(path.join(target, 'PG_VERSION'))).toBe(true);
    const second = await openSqlClient({ kind: 'pglite', dataDir });
    const { rows } = await second.query<{ v: string }>('SELECT v FROM kept');
    await second.close();
    expect(rows).toEqual([{ v: 'in the linked folder' }]);
  });

  it('refuses a non-empty folder with no PG_VERSION, naming it, and removes nothing', async () => {
    const dir = await root();
    const dataDir = path.join(dir, 'pglite');
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, 'notes.txt'), 'not an index');
    const err = await openSqlClient({ kind: 'pglite', dataDir }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'precondition-failed')).toBe(true);
    expect((err as Error).message).toBe(`${dataDir} holds no index (no PG_VERSION) and is not empty; move it away`);
    expect(await readdir(dataDir)).toEqual(['notes.txt']);
    expect(existsSync(`${dataDir}.creating`)).toBe(false);
  });
});

describe('connection failures', () => {
  it('reports an unreachable server as index-unavailable without leaking the password', async () => {
    const port = await freePort();
    const err = await openSqlClient({ kind: 'postgres', url: `postgres://exhibit:s3cret-pw@127.0.0.1:${port}/nothing`, entraAuth: false }).catch(
      (e: unknown) => e,
    );
    expect(isExhibitError(err, 'index-unavailable')).toBe(true);
    expect((err as ExhibitError).retryable).toBe(true);
    expect((err as Error).message).not.toContain('s3cret-pw');
    expect((err as ExhibitError).cause).toBeDefined();
  });

  it('refuses an aborted open', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(openSqlClient({ kind: 'pglite', dataDir: 'memory://' }, { abortSignal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
});
