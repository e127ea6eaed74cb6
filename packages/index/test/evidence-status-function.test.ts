import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageSegmentsStatus, type EvidenceStatus, type IndexStore } from '@exhibit/core';
import { countingSqlClient, createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { readEvidenceStatusParts } from '../src/index-store.status-query.js';
import { groupsByEveryFile, sortGroups } from './evidence-groups.js';
import { hashesOf, member, newUpload, rootFile, TOOLS } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

/**
 * The evidence status read by one call of evidence_status (migration 0125):
 * its parts carry what the port's own getters return (the function repeats
 * the row mappers' columns in SQL, so a column added to one and not the other
 * fails here), it is one statement, and it is exact at the instant it answers
 * while files change stage around it.
 */
describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('evidence status on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  const counter = { statements: 0 };
  let n = 0;
  const freshCase = () => `case-status-${n++}`;

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(countingSqlClient(sql, counter));
    await index.migrate();
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('reads every part in one statement, each as the getters give it', async () => {
    const c = freshCase();
    const zip = newUpload(c, 'ev1', 'phone.zip');
    const dd = newUpload(c, 'ev1', 'card.dd', { size: 4096 });
    for (const u of [zip, dd]) {
      await index.recordUpload(u);
      await index.insertFiles([rootFile(u)]);
    }
    await index.recordUploadHashes(zip.blobName, hashesOf('phone.zip'), 'mismatch', ['sha256']);
    await index.recordEvidenceChanged(dd.blobName, { etag: '"0x8D0002"', size: 4097 });
    await index.recordDiskImage({
      fileId: dd.rootFileId, caseId: c, evidenceId: 'ev1', format: 'raw', mediaBytes: 4096, segmentCount: 1,
      segments: [{ name: dd.blobName, size: 4096, etag: '"0x8D0001"' }], volumes: [], volumeProblems: ['no partition table'],
      ewfHeader: null, storedHashes: null, computedHashes: null, integrity: 'no-reference', mismatches: [], integrityDetail: null,
    });
    const first = `${c}/ev1/split.001`;
    await index.declareSegmentManifest([
      { blobName: first, firstBlobName: first, caseId: c, evidenceId: 'ev1', position: 1, fileName: 'split.001', size: 10, md5: hashesOf('a').md5, declaredBy: 'ivy' },
      { blobName: `${c}/ev1/split.002`, firstBlobName: first, caseId: c, evidenceId: 'ev1', position: 2, fileName: 'split.002', size: 10, declaredBy: 'ivy' },
    ]);

    // Members at several stages, one whose content's metadata failed, one failed file.
    const root = rootFile(zip);
    const members = Array.from({ length: 5 }, (_, i) => member(root, i, `m${i}.jpg`));
    await index.insertFiles(members);
    for (const m of members) await index.ensureContent({ ...hashesOf(m.fileId), sha256: m.sha256!, size: 10, source: m.source! });
    await index.advanceFile(members[0]!.fileId, 'identified');
    await index.setMetadata(members[1]!.sha256!, { status: 'failed', metadata: null, failure: { stage: 'metadata', code: 'corrupt-file', detail: 'bad EXIF' }, tools: TOOLS }, { fileId: members[1]!.fileId, to: 'described' });
    await index.failFile(members[2]!.fileId, { stage: 'thumbnail', code: 'corrupt-file', detail: 'cannot decode' });

    const before = counter.statements;
    const status = (await index.evidenceStatus(c, 'ev1'))!;
    expect(counter.statements - before).toBe(1);

    // The files by state come from the counts of migration 0130: the same groups as grouping every file of the item (0125).
    const parts = await readEvidenceStatusParts(sql, c, 'ev1');
    expect(sortGroups(parts.groups)).toEqual(await groupsByEveryFile(sql, c, 'ev1'));
    expect(parts.groups.some((g) => g.metadata_failed === true)).toBe(true);
    expect(status.stages.metadata).toEqual({ done: 1, failed: 1, pending: 5 });

    const uploads = [(await index.getUpload(dd.blobName))!, (await index.getUpload(zip.blobName))!];
    expect(uploads[0]!.changedAfterReceipt).not.toBeNull();
    expect(uploads[1]!.hashedAt).not.toBeNull();
    expect(status.uploads).toEqual(uploads);
    // mediaDamaged: the file's image-media-damaged flag, read in the same statement (migration 0240).
    expect(status.diskImages).toEqual([{ ...(await index.getDiskImage(dd.rootFileId))!, path: 'card.dd', mediaDamaged: false }]);
    expect(status.imageSegments).toEqual(imageSegmentsStatus(uploads.map((u) => u.fileName), await index.getSegmentManifest(first)));
    expect(status.imageSegments).not.toEqual(imageSegmentsStatus([], []));
  });

  it('is exact at the instant it answers while files change stage around it', async () => {
    const c = freshCase();
    const up = newUpload(c, 'ev1', 'phone.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const members = Array.from({ length: 24 }, (_, i) => member(root, i, `m${i}.jpg`));
    await index.insertFiles([root, ...members]);
    await index.recordUploadHashes(up.blobName, hashesOf('phone.zip'), 'no-reference', []);
    for (const m of members) await index.ensureContent({ ...hashesOf(`${root.fileId}/m${members.indexOf(m)}.jpg`), size: 10, source: m.source! });

    const statuses: EvidenceStatus[] = [];
    // Each poll also holds the counts (migration 0130) to grouping every file, in one snapshot.
    const groupDrift: unknown[] = [];
    let moving = true;
    const poll = (async () => {
      while (moving) {
        statuses.push((await index.evidenceStatus(c, 'ev1'))!);
        const [counted, grouped] = await sql.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          return [sortGroups((await readEvidenceStatusParts(tx, c, 'ev1')).groups), await groupsByEveryFile(tx, c, 'ev1')];
        });
        if (JSON.stringify(counted) !== JSON.stringify(grouped)) groupDrift.push({ counted, grouped });
      }
    })();
    // Every file walks every stage; every fifth fails at thumbnail instead. Four at a time.
    const walk = async (f: (typeof members)[number] | typeof root, i: number) => {
      await index.advanceFile(f.fileId, 'identified');
      await index.advanceFile(f.fileId, 'described');
      if (i % 5 === 4) return index.failFile(f.fileId, { stage: 'thumbnail', code: 'corrupt-file', detail: 'cannot decode' });
      await index.advanceFile(f.fileId, 'thumbnailed');
      await index.markIndexed({ caseId: c, evidenceId: 'ev1', fileId: f.fileId });
    };
    const all = [root, ...members];
    for (let i = 0; i < all.length; i += 4) await Promise.all(all.slice(i, i + 4).map((f, j) => walk(f, i + j)));
    moving = false;
    await poll;
    statuses.push((await index.evidenceStatus(c, 'ev1'))!);

    expect(statuses.length).toBeGreaterThan(2);
    expect(groupDrift).toEqual([]);
    let indexed = 0;
    for (const s of statuses) {
      expect(s.files.total).toBe(all.length);
      expect(Object.values(s.files.byStage).reduce((a, b) => a + b, 0)).toBe(all.length);
      for (const name of ['identify', 'metadata', 'thumbnail', 'index'] as const) {
        const k = s.stages[name];
        expect(k.done + k.failed + k.pending, name).toBe(all.length);
      }
      // One snapshot: the failures listed are the files counted as failed.
      expect(s.failures.filter((f) => f.stage === 'thumbnail')).toHaveLength(s.files.byStage.failed);
      // A status that says complete counted nothing still to do.
      if (s.complete) expect(s.files.byStage.indexed + s.files.byStage.failed).toBe(all.length);
      else expect(s.files.byStage.indexed + s.files.byStage.failed).toBeLessThan(all.length);
      // Never backwards.
      expect(s.files.byStage.indexed).toBeGreaterThanOrEqual(indexed);
      indexed = s.files.byStage.indexed;
    }
    const last = statuses.at(-1)!;
    expect(last.complete).toBe(true);
    expect(last.files.byStage).toMatchObject({ indexed: 20, failed: 5 });
    expect(await index.hasPendingWork(c, 'ev1')).toBe(false);
  });
});
