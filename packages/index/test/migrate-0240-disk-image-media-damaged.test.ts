import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresIndex, migrate, openSqlClient } from '../src/index.js';
import { newUpload, rootFile } from './fixtures.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';

/**
 * Migration 0240 on a database made before it: a disk image recorded and flagged image-media-damaged before it reads
 * back in the evidence status as damaged once it has run (the function reads the file's flags; nothing is copied), an
 * image without the flag as not damaged.
 */
describe.each(allTargets())('migration 0240 on $name', (target) => {
  afterAll(() => target.dispose());

  it('disk-image-media-damaged-read-from-existing-flags', async () => {
    const migrations = partialMigrations('migrate-0240');
    afterAll(() => migrations.dispose());
    migrations.add((m) => m < '0240');
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      const index = createPostgresIndex(sql);
      const damaged = newUpload('CASE-D', 'ev1', 'card.E01', { size: 4096 });
      const sound = newUpload('CASE-D', 'ev1', 'usb.dd', { size: 4096 });
      for (const u of [damaged, sound]) {
        await index.recordUpload(u);
        await index.insertFiles([rootFile(u)]);
        await index.recordDiskImage({
          fileId: rootFile(u).fileId, caseId: 'CASE-D', evidenceId: 'ev1', format: u === damaged ? 'ewf' : 'raw', mediaBytes: 4096, segmentCount: 1,
          segments: [{ name: u.blobName, size: 4096, etag: null }], volumes: [], volumeProblems: [],
          ewfHeader: null, storedHashes: null, computedHashes: null, integrity: u === damaged ? 'failed' : 'no-reference', mismatches: [], integrityDetail: null,
        });
      }
      await index.addFlags(rootFile(damaged).fileId, ['image-media-damaged']);
      // Before 0240 the status has no such column: absent, not 'not damaged'.
      const before = (await index.evidenceStatus('CASE-D', 'ev1'))!;
      expect(before.diskImages.map((d) => [d.path, 'mediaDamaged' in d])).toEqual([['card.E01', false], ['usb.dd', false]]);

      migrations.add((m) => m >= '0240');
      await migrate(sql, { migrationsDir: migrations.url });
      await migrate(sql, { migrationsDir: migrations.url });
      const after = (await index.evidenceStatus('CASE-D', 'ev1'))!;
      expect(after.diskImages.map((d) => [d.path, d.mediaDamaged])).toEqual([['card.E01', true], ['usb.dd', false]]);
    } finally {
      await sql.close();
    }
  });
});
