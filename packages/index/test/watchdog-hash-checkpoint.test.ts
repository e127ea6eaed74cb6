import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, migrate, openSqlClient } from '../src/index.js';
import { createWatchdogStore } from '../src/index-store.watchdog.js';
import { allTargets } from './targets.js';
import { newUpload, rootFile } from './fixtures.js';

/**
 * A resumable hash moves its checkpoint row (migration 0220), not its root
 * file: a re-drive older than the checkpoint's last move is a reset, as one
 * older than the root's updated_at is, or every stall gap of a multi-hour
 * hash adds a re-drive until the watchdog fails the root `stuck`.
 */
describe.each(allTargets().filter((t) => t.name !== 'pglite (disk)'))('watchdog and hash checkpoints on $name', (target) => {
  afterAll(() => target.dispose());

  it('redrives-reset-when-a-resumable-hash-moves-again-no-false-stuck', async () => {
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql);
      const index = createPostgresIndex(sql);
      const up = newUpload('case-wd', 'ev-1', 'disk.raw', { size: 2 * 1024 ** 4 });
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up)]);
      const store = createWatchdogStore(sql);
      const states = { md5: 'a', sha1: 'b', sha256: 'c' };
      const stall = { stallMs: 60_000, limit: 100 };
      const counts: number[] = [];
      for (let i = 1; i <= 5; i++) {
        await index.saveHashCheckpoint({ rootFileId: up.rootFileId, etag: up.etag, engine: 'x', restarts: 0, offsetBytes: i * 1000, states });
        expect(await store.listStalledFiles(stall)).toEqual([]); // moving
        // The hash then stalls for an hour; the root itself never moved.
        await sql.query(`UPDATE files SET updated_at = LEAST(updated_at, now() - interval '3 hour')`);
        await sql.query(`UPDATE upload_hash_checkpoints SET updated_at = now() - interval '1 hour'`);
        const stalled = await store.listStalledFiles(stall);
        expect(stalled.map((f) => f.fileId)).toEqual([up.rootFileId]);
        counts.push(stalled[0]!.redrives);
        await store.markRedriven(stalled.map((f) => f.fileId));
        const { rows } = await sql.query<{ redrives: number }>(`SELECT redrives FROM files WHERE file_id = $1`, [up.rootFileId]);
        expect(Number(rows[0]!.redrives)).toBe(1);
        // That re-drive was before the hash moved again (the next checkpoint, an hour later).
        await sql.query(`UPDATE files SET redriven_at = now() - interval '2 hour' WHERE redriven_at IS NOT NULL`);
      }
      expect(counts).toEqual([0, 0, 0, 0, 0]);

      // Without a move of the checkpoint since, re-drives still count up.
      await sql.query(`UPDATE files SET redriven_at = now() - interval '30 minute'`);
      await sql.query(`UPDATE upload_hash_checkpoints SET updated_at = now() - interval '1 hour'`);
      await store.markRedriven([up.rootFileId]);
      await sql.query(`UPDATE files SET redriven_at = now() - interval '10 minute'`);
      const again = await store.listStalledFiles(stall);
      expect(again.map((f) => f.redrives)).toEqual([2]);
    } finally {
      await sql.close();
    }
  });
  it('unpack-stall-beside-a-moving-hash-counts-redrives-to-stuck', async () => {
    // The root waits on its pending unpack while its resumable hash moves: the
    // unpack is what is re-sent, so the hash's checkpoints must not reset the
    // count, or the unpack is re-sent for as long as the hash runs (hours) and
    // never called stuck.
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql);
      const index = createPostgresIndex(sql);
      const up = newUpload('case-wd', 'ev-1', 'big.zip', { size: 2 * 1024 ** 4 });
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up)]);
      await sql.query(`UPDATE files SET unpack = 'pending', updated_at = now() - interval '3 hour' WHERE file_id = $1`, [up.rootFileId]);
      const store = createWatchdogStore(sql);
      const states = { md5: 'a', sha1: 'b', sha256: 'c' };
      const stall = { stallMs: 60_000, limit: 100 };
      const counts: number[] = [];
      for (let i = 1; i <= 4; i++) {
        // The hash moves (a checkpoint now); the last re-drive was before it.
        await index.saveHashCheckpoint({ rootFileId: up.rootFileId, etag: up.etag, engine: 'x', restarts: 0, offsetBytes: i * 1000, states });
        const stalled = await store.listStalledFiles(stall);
        expect(stalled.map((f) => f.fileId)).toEqual([up.rootFileId]);
        expect(stalled[0]!.upload?.hashMoving).toBe(true);
        counts.push(stalled[0]!.redrives);
        await store.markRedriven(stalled.map((f) => f.fileId));
        await sql.query(`UPDATE files SET redriven_at = now() - interval '2 minute' WHERE redriven_at IS NOT NULL`);
      }
      expect(counts).toEqual([0, 1, 2, 3]);
      const { rows } = await sql.query<{ redrives: number }>(`SELECT redrives FROM files WHERE file_id = $1`, [up.rootFileId]);
      expect(Number(rows[0]!.redrives)).toBe(4);
    } finally {
      await sql.close();
    }
  });
});
