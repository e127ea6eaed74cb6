import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';

/**
 * Migration 0220 on a database made before it: the table of resumable-hash
 * progress appears (applied twice, nothing changes), and the store keeps one
 * row per upload root and ETag that never moves backwards, read back exactly,
 * and forgotten for every ETag of the upload at once.
 */
describe.each(allTargets())('migration 0220 on $name', (target) => {
  afterAll(() => target.dispose());

  it('hash-checkpoint-kept-per-upload-and-etag-never-moves-back', async () => {
    const migrations = partialMigrations('migrate-0220');
    afterAll(() => migrations.dispose());
    migrations.add((m) => m < '0220');
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      migrations.add((m) => m >= '0220');
      await migrate(sql, { migrationsDir: migrations.url });
      await migrate(sql, { migrationsDir: migrations.url });
      const index = createPostgresIndex(sql);
      const states = (n: number) => ({ md5: `bWQ1${n}`, sha1: `c2hh${n}`, sha256: `c2hhMjU2${n}` });

      expect(await index.getHashCheckpoint('root-1', '"0x1"')).toBeNull();
      // 2 TB is past 2^31: offsets are bigint.
      const far = 2 * 1024 ** 4 - 4096;
      await index.saveHashCheckpoint({ rootFileId: 'root-1', etag: '"0x1"', offsetBytes: far, states: states(2) });
      // A chain behind (a re-drive beside a continuation) does not move it back.
      await index.saveHashCheckpoint({ rootFileId: 'root-1', etag: '"0x1"', offsetBytes: 1024 ** 3, states: states(1) });
      // Another ETag is another blob: its own row.
      await index.saveHashCheckpoint({ rootFileId: 'root-1', etag: '"0x2"', offsetBytes: 5, states: states(5) });
      expect(await index.getHashCheckpoint('root-1', '"0x1"')).toMatchObject({ offsetBytes: far, states: states(2) });
      expect(await index.getHashCheckpoint('root-1', '"0x2"')).toMatchObject({ offsetBytes: 5, states: states(5) });
      expect(await index.getHashCheckpoint('root-2', '"0x1"')).toBeNull();
      await index.saveHashCheckpoint({ rootFileId: 'root-1', etag: '"0x1"', offsetBytes: far + 1, states: states(3) });
      expect(await index.getHashCheckpoint('root-1', '"0x1"')).toMatchObject({ offsetBytes: far + 1, states: states(3) });

      await index.deleteHashCheckpoints('root-1');
      expect(await index.getHashCheckpoint('root-1', '"0x1"')).toBeNull();
      expect(await index.getHashCheckpoint('root-1', '"0x2"')).toBeNull();
    } finally {
      await sql.close();
    }
  });
});
