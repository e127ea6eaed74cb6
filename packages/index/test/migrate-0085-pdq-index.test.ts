import { afterAll, expect, it } from 'vitest';
import { migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { pdqMatchSelect } from '../src/hash-sets/pdq-match.js';
import { hashesOf } from './fixtures.js';

/**
 * Migration 0085 on a database that already holds PDQ hashes (contents' and a
 * loaded PDQ list's) with their HNSW indexes (PGlite bundles pgvector): both
 * get the multi-index-hashing index (the backfill), lose the HNSW index, and
 * match through it.
 */
const migrations = partialMigrations('migrate-0085');
afterAll(() => migrations.dispose());

it('indexes the PDQ hashes already stored and drops their HNSW indexes', async () => {
  migrations.add((m) => m < '0085');
  const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  try {
    await migrate(sql, { migrationsDir: migrations.url });
    const listed = hashesOf('listed').sha256;
    const content = hashesOf('content').sha256;
    // The content's hash: the listed one with its first 31 bits flipped (at the index's limit).
    const near = (BigInt('0x' + listed) ^ (((1n << 31n) - 1n) << 225n)).toString(16).padStart(64, '0');
    await sql.query(
      `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, kind) VALUES ($1, substr($1, 1, 32), substr($1, 1, 40), 1, 'derived', 'c', 'image')`,
      [content],
    );
    await sql.query(`INSERT INTO content_pdq (sha256, frame, pdq, quality) VALUES ($1, 0, ('x' || $2)::bit(256), 90)`, [content, near]);
    await sql.query(
      `INSERT INTO hash_sets (set_id, name, kind, format, source_file_name, source_sha256, source_size, imported_by, max_distance, state, activated_at)
       VALUES (5, 'old list', 'notable', 'pdq-list', 'a.txt', $1, 10, 'x', 31, 'active', now())`,
      ['a'.repeat(64)],
    );
    await sql.exec(`CREATE TABLE hash_set_hashes_5 (LIKE hash_set_hashes INCLUDING CONSTRAINTS); ALTER TABLE hash_set_hashes_5 ALTER COLUMN set_id SET DEFAULT 5`);
    await sql.query(`INSERT INTO hash_set_hashes_5 (pdq, extra) VALUES (('x' || $1)::bit(256), '{"label": "listed"}')`, [listed]);
    await sql.exec('CREATE INDEX hash_set_hashes_5_pdq_hnsw_idx ON hash_set_hashes_5 USING hnsw (pdq bit_hamming_ops)');
    await sql.exec('ALTER TABLE hash_set_hashes ATTACH PARTITION hash_set_hashes_5 FOR VALUES IN (5)');
    const indexes = async () => (await sql.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE tablename IN ('content_pdq', 'hash_set_hashes_5') AND indexname ~ 'hnsw|mih' ORDER BY indexname`,
    )).rows.map((r) => r.indexname);
    expect(await indexes()).toEqual(['content_pdq_hnsw_idx', 'hash_set_hashes_5_pdq_hnsw_idx']);

    migrations.add((m) => m >= '0085');
    await migrate(sql, { migrationsDir: migrations.url });
    expect(await indexes()).toEqual(['content_pdq_mih_idx', 'hash_set_hashes_5_pdq_mih_idx']);
    const { rows } = await sql.query(`SELECT sha256, pdq_distance, pdq_label FROM (${pdqMatchSelect({ setId: 5, maxDistance: 31, method: 'mih' }, 'true')}) m`);
    expect(rows).toEqual([{ sha256: content, pdq_distance: 31, pdq_label: 'listed' }]);
  } finally {
    await sql.close();
  }
});
