import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';
import { hashesOf, newUpload } from './fixtures.js';

/**
 * Migration 0220 on a database made before it: the table of resumable-hash
 * progress appears (applied twice, nothing changes), and the store keeps one
 * row per upload root and ETag that never moves backwards (but is replaced by
 * another engine's), read back exactly, forgotten for every ETag of the upload
 * at once, and never written once the upload's hash is no longer pending.
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
      const engine = 'hash-wasm@4.13.0';
      const up = newUpload('case-0220', 'ev-1', 'disk.raw', { size: 2 * 1024 ** 4 });
      await index.recordUpload(up);
      const root = up.rootFileId;
      const at = (etag: string, offsetBytes: number, n: number, e = engine, restarts = 0) => ({ rootFileId: root, etag, engine: e, restarts, offsetBytes, states: states(n) });

      expect(await index.getHashCheckpoint(root, '"0x1"')).toBeNull();
      // 2 TB is past 2^31: offsets are bigint.
      const far = 2 * 1024 ** 4 - 4096;
      expect(await index.saveHashCheckpoint(at('"0x1"', far, 2))).toBe('saved');
      // A chain behind (a re-drive beside a continuation) does not move it back, and is told so (regression
      // hash-save-reported-pending-when-row-not-written: it was answered true, as a save written, and went on).
      expect(await index.saveHashCheckpoint(at('"0x1"', 1024 ** 3, 1))).toBe('behind');
      // The same progress saved again is written (its states are exact for that offset: the same).
      expect(await index.saveHashCheckpoint(at('"0x1"', far, 2))).toBe('saved');
      // Another ETag is another blob: its own row.
      expect(await index.saveHashCheckpoint(at('"0x2"', 5, 5))).toBe('saved');
      expect(await index.getHashCheckpoint(root, '"0x1"')).toMatchObject({ engine, offsetBytes: far, states: states(2) });
      expect(await index.getHashCheckpoint(root, '"0x2"')).toMatchObject({ offsetBytes: 5, states: states(5) });
      expect(await index.getHashCheckpoint('root-2', '"0x1"')).toBeNull();
      await index.saveHashCheckpoint(at('"0x1"', far + 1, 3));
      expect(await index.getHashCheckpoint(root, '"0x1"')).toMatchObject({ offsetBytes: far + 1, states: states(3) });
      // Another engine's states cannot be loaded by this one: its save replaces the row, even further back.
      await index.saveHashCheckpoint(at('"0x1"', 1024, 4, 'hash-wasm@4.14.0'));
      expect(await index.getHashCheckpoint(root, '"0x1"')).toMatchObject({ engine: 'hash-wasm@4.14.0', restarts: 0, offsetBytes: 1024, states: states(4) });
      // A start over (unusable states) replaces it too; the chain of the earlier start cannot move it back.
      await index.saveHashCheckpoint(at('"0x1"', 10, 6, 'hash-wasm@4.14.0', 1));
      await index.saveHashCheckpoint(at('"0x1"', far, 7, 'hash-wasm@4.14.0', 0));
      expect(await index.getHashCheckpoint(root, '"0x1"')).toMatchObject({ restarts: 1, offsetBytes: 10, states: states(6) });

      await index.deleteHashCheckpoints(root);
      expect(await index.getHashCheckpoint(root, '"0x1"')).toBeNull();
      expect(await index.getHashCheckpoint(root, '"0x2"')).toBeNull();

      // Once the upload's hash is recorded, a trailing chain's save leaves nothing behind and says so.
      await index.recordUploadHashes(up.blobName, hashesOf('disk'), 'verified', []);
      expect(await index.saveHashCheckpoint(at('"0x1"', far, 2))).toBe('not-pending');
      expect(await index.getHashCheckpoint(root, '"0x1"')).toBeNull();
      // No upload of that root at all: nothing saved either.
      expect(await index.saveHashCheckpoint({ ...at('"0x1"', 5, 1), rootFileId: 'no-such-root' })).toBe('not-pending');
      expect(await index.getHashCheckpoint('no-such-root', '"0x1"')).toBeNull();
    } finally {
      await sql.close();
    }
  });

  it('hash-checkpoint-of-another-engine-never-lowers-restarts', async () => {
    // A rolling deploy: the new build started over (restarts 1) while a chain of the old build still runs
    // and saves its progress. Its row replaces the new one's (states of the engine that saved them), but the
    // count of starts over stays 1: a later start over is the 2nd, never the 1st again (repeated keys).
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql);
      const index = createPostgresIndex(sql);
      const up = newUpload('case-0220b', 'ev-1', 'disk.raw', { size: 2 * 1024 ** 4 });
      await index.recordUpload(up);
      const states = { md5: 'a', sha1: 'b', sha256: 'c' };
      const save = (engine: string, restarts: number, offsetBytes: number) =>
        index.saveHashCheckpoint({ rootFileId: up.rootFileId, etag: up.etag, engine, restarts, offsetBytes, states });
      expect(await save('hash-wasm@NEW', 1, 100)).toBe('saved');
      expect(await save('hash-wasm@OLD', 0, 5000)).toBe('saved');
      expect(await index.getHashCheckpoint(up.rootFileId, up.etag)).toMatchObject({ engine: 'hash-wasm@OLD', restarts: 1, offsetBytes: 5000 });
    } finally {
      await sql.close();
    }
  });
});
