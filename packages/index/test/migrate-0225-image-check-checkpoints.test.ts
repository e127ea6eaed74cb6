import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';
import { newUpload, rootFile } from './fixtures.js';

/**
 * Migration 0225 on a database made before it: the table of the resumable EWF
 * stored-hash check's progress appears (applied twice, nothing changes), and
 * the store keeps one row per image that never moves backwards for the same
 * engine and restart count (but is replaced by a start over, another engine's
 * or other blobs' row), read back exactly (offsets past 2^31), leaves the
 * image's own updated_at alone, and is never written once the image's unpack
 * is no longer pending.
 */
describe.each(allTargets())('migration 0225 on $name', (target) => {
  afterAll(() => target.dispose());

  it('image-check-checkpoint-kept-per-image-never-moves-back (regression: image-check-save-reported-pending-when-row-not-written)', async () => {
    const migrations = partialMigrations('migrate-0225');
    afterAll(() => migrations.dispose());
    migrations.add((m) => m < '0225');
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      migrations.add((m) => m >= '0225');
      await migrate(sql, { migrationsDir: migrations.url });
      await migrate(sql, { migrationsDir: migrations.url });
      const index = createPostgresIndex(sql);
      const up = newUpload('case-0225', 'ev-1', 'disk.E01', { size: 4 * 1024 ** 3 });
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up)]);
      const fileId = up.rootFileId;
      const states = (n: number) => ({ md5: `bWQ1${n}`, sha1: `c2hh${n}`, sha256: `c2hhMjU2${n}` });
      const media = 2 * 1024 ** 4;
      const at = (offsetBytes: number, n: number, over: { engine?: string; restarts?: number; etags?: string[] } = {}) => ({
        fileId, etags: over.etags ?? ['"0x1"', '"0x2"'], engine: over.engine ?? 'hash-wasm@4.13.0', restarts: over.restarts ?? 0, mediaBytes: media, offsetBytes, states: states(n),
      });

      expect(await index.getImageCheckCheckpoint(fileId)).toBeNull();
      // Not pending (no unpack marked): nothing saved.
      expect(await index.saveImageCheckCheckpoint(at(1024, 1))).toBe('not-pending');
      expect(await index.getImageCheckCheckpoint(fileId)).toBeNull();
      await index.setUnpack(fileId, 'pending');
      const updatedAt = async () => new Date((await sql.query<{ updated_at: Date | string }>(`SELECT updated_at FROM files WHERE file_id = $1`, [fileId])).rows[0]!.updated_at).getTime();
      const before = await updatedAt();
      const far = media - 4096;
      expect(await index.saveImageCheckCheckpoint(at(far, 2))).toBe('saved');
      // The file's own updated_at is left alone (the watchdog reads the row's).
      expect(await updatedAt()).toBe(before);
      // A chain behind does not move it back, and is told so: 'behind', never 'saved' (regression
      // image-check-save-reported-pending-when-row-not-written: it was told true, and keyed a continuation on a state not saved).
      expect(await index.saveImageCheckCheckpoint(at(1024 ** 3, 3))).toBe('behind');
      expect(await index.getImageCheckCheckpoint(fileId)).toMatchObject({ etags: ['"0x1"', '"0x2"'], engine: 'hash-wasm@4.13.0', restarts: 0, mediaBytes: media, offsetBytes: far, states: states(2) });
      // The same progress saved again (a redelivery reaching the same checkpoint: the same states) is saved.
      expect(await index.saveImageCheckCheckpoint(at(far, 2))).toBe('saved');
      // A start over replaces it, and the earlier start's chain cannot move it back.
      await index.saveImageCheckCheckpoint(at(10, 4, { restarts: 1 }));
      expect(await index.saveImageCheckCheckpoint(at(far, 5, { restarts: 0 }))).toBe('behind');
      expect(await index.getImageCheckCheckpoint(fileId)).toMatchObject({ restarts: 1, offsetBytes: 10, states: states(4) });
      // Another engine's, or other blobs', row replaces it (never lowering restarts).
      await index.saveImageCheckCheckpoint(at(5, 6, { engine: 'hash-wasm@4.14.0' }));
      expect(await index.getImageCheckCheckpoint(fileId)).toMatchObject({ engine: 'hash-wasm@4.14.0', restarts: 1, offsetBytes: 5 });
      await index.saveImageCheckCheckpoint(at(3, 7, { engine: 'hash-wasm@4.14.0', etags: ['"0x9"'] }));
      expect(await index.getImageCheckCheckpoint(fileId)).toMatchObject({ etags: ['"0x9"'], offsetBytes: 3, states: states(7) });
      await index.deleteImageCheckCheckpoint(fileId);
      expect(await index.getImageCheckCheckpoint(fileId)).toBeNull();
      // The unpack over (another chain recorded it): a trailing save leaves nothing and says so.
      await index.setUnpack(fileId, 'done', 0);
      expect(await index.saveImageCheckCheckpoint(at(far, 2))).toBe('not-pending');
      expect(await index.getImageCheckCheckpoint(fileId)).toBeNull();
    } finally {
      await sql.close();
    }
  });
});
