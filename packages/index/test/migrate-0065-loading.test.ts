import { afterAll, expect, it } from 'vitest';
import { migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';

/**
 * Migration 0065 on a database with a hash-set build interrupted before it
 * (its table loaded, not yet attached): the table gets the PDQ columns, so
 * the resumed import's COPY (which now names them) and its attach work.
 */
const migrations = partialMigrations('migrate-0065');
afterAll(() => migrations.dispose());

it('adds the PDQ columns to a build table that was loading when the database was upgraded', async () => {
  migrations.add((m) => m < '0065');
  const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  try {
    await migrate(sql, { migrationsDir: migrations.url });
    await sql.query(
      `INSERT INTO hash_sets (set_id, name, kind, format, source_file_name, source_sha256, source_size, imported_by)
       VALUES (5, 'old build', 'known-bad', 'hash-list', 'a.txt', $1, 10, 'x')`,
      ['a'.repeat(64)],
    );
    await sql.exec(`CREATE TABLE hash_set_hashes_5 (LIKE hash_set_hashes INCLUDING CONSTRAINTS); ALTER TABLE hash_set_hashes_5 ALTER COLUMN set_id SET DEFAULT 5`);
    migrations.add((m) => m >= '0065');
    await migrate(sql, { migrationsDir: migrations.url });
    await sql.query(`INSERT INTO hash_set_hashes_5 (md5, pdq, pdq_quality) VALUES ($1, NULL, NULL)`, [Buffer.alloc(16, 1)]);
    await sql.exec('ALTER TABLE hash_set_hashes ATTACH PARTITION hash_set_hashes_5 FOR VALUES IN (5)');
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM hash_set_hashes WHERE set_id = 5');
    expect(rows[0]?.n).toBe(1);
  } finally {
    await sql.close();
  }
});
