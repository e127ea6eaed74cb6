import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, type FileFlag, type IndexStore, type NewFile } from '@exhibit/core';
import { countingSqlClient, createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { TOOLS, hashesOf, member, newUpload, photo, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';


let caseSeq = 0;
/** Every test works in its own case, so tests share one database without seeing each other. */
const freshCase = () => `case-${++caseSeq}`;

describe.each(allTargets())('PostgresIndex on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  const counter = { statements: 0 };
  /** Statements `fn` sends. */
  const statementsOf = async (fn: () => Promise<unknown>) => {
    const before = counter.statements;
    await fn();
    return counter.statements - before;
  };
  beforeAll(async () => {
    sql = countingSqlClient(await openSqlClient(await target.create()), counter);
    index = createPostgresIndex(sql);
    await index.migrate();
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  describe('uploads', () => {
    it('records an upload once; later calls return the first record', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'phone.zip');
      const first = await index.recordUpload(up);
      expect(first.created).toBe(true);
      expect(first.record).toMatchObject({
        caseId: c,
        evidenceId: 'ev1',
        blobName: up.blobName,
        fileName: 'phone.zip',
        rootFileId: up.rootFileId,
        size: 1234,
        etag: up.etag,
        versionId: up.versionId,
        contentType: 'application/zip',
        lastModified: '2024-05-01T10:00:00.000Z',
        acquisition: up.acquisition,
        hashes: null,
        integrity: 'pending',
        mismatches: [],
        hashedAt: null,
      });
      expect(Date.parse(first.record.receivedAt)).not.toBeNaN();
      const again = await index.recordUpload({ ...up, etag: '"0x8D0002"', size: 99 });
      expect(again.created).toBe(false);
      expect(again.record).toEqual(first.record);
      expect(await index.getUpload(up.blobName)).toEqual(first.record);
      expect(await index.getUpload(`${c}/ev1/missing.zip`)).toBeNull();
      expect((await index.listUploadNames()).has(up.blobName)).toBe(true);
    });

    it('records hashes once, ignores the same hashes again and reports different ones', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'disk.e01');
      await index.recordUpload(up);
      const h = hashesOf('disk bytes');
      await index.recordUploadHashes(up.blobName, { md5: h.md5.toUpperCase(), sha1: h.sha1, sha256: h.sha256 }, 'mismatch', ['sha256']);
      const rec = await index.getUpload(up.blobName);
      expect(rec).toMatchObject({ hashes: h, integrity: 'mismatch', mismatches: ['sha256'] });
      expect(rec?.hashedAt).not.toBeNull();
      await index.recordUploadHashes(up.blobName, h, 'mismatch', ['sha256']);
      const other = hashesOf('other bytes');
      const err = await index.recordUploadHashes(up.blobName, other, 'verified', []).catch((e: unknown) => e);
      expect(isExhibitError(err, 'conflict')).toBe(true);
      expect(await index.getUpload(up.blobName)).toEqual(rec);
      await expect(index.recordUploadHashes(`${c}/ev1/none`, h, 'verified', [])).rejects.toMatchObject({ code: 'not-found' });
      await expect(index.recordUploadHashes(up.blobName, h, 'pending', [])).rejects.toMatchObject({ code: 'invalid-argument' });
    });

    it('fails an upload whose hash stage gave up, and its root file, first reason kept', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'big.bin');
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up)]);
      expect(await index.hasPendingWork(c, 'ev1')).toBe(true);
      await index.failUploadHash(up.blobName, { stage: 'hash', code: 'storage-unavailable', detail: 'gave up after 5 deliveries' });
      await index.failUploadHash(up.blobName, { stage: 'hash', code: 'timeout', detail: 'second reason' });
      const root = await index.getFile(up.rootFileId);
      expect(root?.stage).toBe('failed');
      expect(root?.failure).toEqual({ stage: 'hash', code: 'storage-unavailable', detail: 'gave up after 5 deliveries' });
      expect(await index.hasPendingWork(c, 'ev1')).toBe(false);
      const status = await index.evidenceStatus(c, 'ev1');
      expect(status?.complete).toBe(true);
      expect(status?.stages.hash).toEqual({ done: 0, failed: 1, pending: 0 });
      await expect(index.failUploadHash(`${c}/ev1/none`, { stage: 'hash', code: 'timeout', detail: 'x' })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('leaves the root file alone when a late hash failure arrives after hashing succeeded', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'late.bin');
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up)]);
      await index.recordUploadHashes(up.blobName, hashesOf('late'), 'no-reference', []);
      await index.failUploadHash(up.blobName, { stage: 'hash', code: 'timeout', detail: 'dead-lettered copy' });
      expect((await index.getFile(up.rootFileId))?.stage).toBe('pending');
    });
  });

  describe('files', () => {
    it('inserts files once and round-trips every field', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'a.zip');
      const root = rootFile(up, { flags: ['odd-name', 'odd-name'] });
      const m = member(root, 0, 'docs/letter.docx', {
        flags: ['duplicate-name'],
        archiveTimes: { modified: { local: '2020-01-02 03:04:05', offsetMinutes: 60, utc: '2020-01-02T02:04:05.000Z', source: 'zip-extended' } },
      });
      expect(await index.insertFiles([root, m])).toBe(2);
      expect(await index.insertFiles([root, m])).toBe(0);
      const got = await index.getFile(m.fileId);
      expect(got).toEqual({
        ...m,
        linkTarget: null,
        unpack: 'n/a',
        memberCount: null,
        createdAt: got?.createdAt,
      });
      expect(Date.parse(got!.createdAt)).not.toBeNaN();
      expect((await index.getFile(root.fileId))?.flags).toEqual(['odd-name']);
      expect(await index.getFile('f-missing')).toBeNull();
    });

    it('keeps the recorded target of a link member', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'links.tar'));
      const link = member(root, 0, 'etc/passwd-link', { entryKind: 'symlink', flags: ['link'], linkTarget: '../../etc/passwd', stage: 'indexed', sha256: null, size: null, source: null });
      await index.insertFiles([root, link]);
      expect((await index.getFile(link.fileId))?.linkTarget).toBe('../../etc/passwd');
    });

    // The items holding a content, for the custody entries of its thumbnail: one statement, however many
    // occurrences (an icon copied 700 times in one item) or items; checked against a search per item.
    it('finds the evidence items holding a content in one statement', async () => {
      const c = freshCase();
      const shared = hashesOf(`icon-${c}`).sha256;
      const roots: NewFile[] = [];
      for (const ev of ['ev1', 'ev2', 'ev3', 'ev4']) {
        const up = newUpload(c, ev, 'phone.zip');
        await index.recordUpload(up);
        roots.push(rootFile(up));
      }
      await index.insertFiles(roots);
      const [r1, r2, r3, r4] = roots as [NewFile, NewFile, NewFile, NewFile];
      await index.insertFiles([
        ...Array.from({ length: 700 }, (_, i) => member(r1, i, `cache/${String(i).padStart(4, '0')}.png`, { sha256: shared })),
        member(r2, 0, 'other.png'),
        member(r3, 0, 'zz/icon.png', { sha256: shared }),
        member(r4, 0, 'icon.png', { sha256: shared }),
      ]);
      // The same content in another case is not this case's.
      const elsewhere = newUpload(freshCase(), 'ev2', 'x.zip');
      await index.recordUpload(elsewhere);
      await index.insertFiles([rootFile(elsewhere, { sha256: shared })]);
      let found: string[] = [];
      expect(await statementsOf(async () => (found = await index.evidenceIdsHolding(c, shared)))).toBe(1);
      const oracle: string[] = [];
      for (const { evidenceId } of await index.listEvidence(c)) {
        if ((await index.search({ caseId: c, evidenceId, hash: shared, limit: 1 })).total > 0) oracle.push(evidenceId);
      }
      expect(found).toEqual(oracle);
      expect(found).toEqual(['ev1', 'ev3', 'ev4']);
      expect(await index.evidenceIdsHolding(c, hashesOf('never').sha256)).toEqual([]);
    });

    it('inserts a batch of 1500 members in one call and counts only new rows', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'many.zip');
      const root = rootFile(up);
      await index.insertFiles([root]);
      const members = Array.from({ length: 1500 }, (_, i) => member(root, i, `dir/file-${String(i).padStart(4, '0')}.txt`));
      expect(await index.insertFiles(members.slice(0, 700))).toBe(700);
      // A redelivered batch that overlaps what is there inserts only the rest.
      expect(await index.insertFiles(members)).toBe(800);
      const children = await index.listChildren(root.fileId);
      expect(children).toHaveLength(1500);
      expect(children.map((f) => f.entryIndex)).toEqual(members.map((_, i) => i));
      expect(await index.listChildren('f-none')).toEqual([]);
    });

    it('inserts 5000 rows in chunks within one transaction', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'huge.zip'));
      await index.insertFiles([root]);
      const members = Array.from({ length: 5000 }, (_, i) => member(root, i, `f${i}`, { sha256: null }));
      expect(await index.insertFiles(members)).toBe(5000);
      expect(await index.insertFiles(members)).toBe(0);
    });

    it('stores a NUL in a recorded name as a visible symbol instead of failing the batch', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'nul.zip'));
      const m = member(root, 0, 'evil\0name.jpg', { archiveTimes: { modified: { local: 'x\0y', offsetMinutes: null, utc: null, source: 'zip\0' } } });
      expect(await index.insertFiles([root, m])).toBe(1 + 1);
      const got = await index.getFile(m.fileId);
      expect(got?.recordedName).toBe('evil\u2400name.jpg');
      expect(got?.archiveTimes.modified?.local).toBe('x\u2400y');
    });

    it('moves a file forward only, never backwards and never out of failed', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'p.jpg'));
      await index.insertFiles([root]);
      expect(await index.advanceFile(root.fileId, 'identified')).toBe(true);
      expect(await index.advanceFile(root.fileId, 'identified')).toBe(false);
      expect(await index.advanceFile(root.fileId, 'pending')).toBe(false);
      expect((await index.getFile(root.fileId))?.stage).toBe('identified');
      expect(await index.advanceFile(root.fileId, 'thumbnailed')).toBe(true);
      expect(await index.advanceFile(root.fileId, 'described')).toBe(false);
      expect((await index.getFile(root.fileId))?.stage).toBe('thumbnailed');
      await index.failFile(root.fileId, { stage: 'index', code: 'corrupt-file', detail: 'bad' });
      expect(await index.advanceFile(root.fileId, 'indexed')).toBe(false);
      expect((await index.getFile(root.fileId))?.stage).toBe('failed');
      await expect(index.advanceFile(root.fileId, 'failed')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(index.advanceFile('f-missing', 'identified')).rejects.toMatchObject({ code: 'not-found' });
    });

    it('applies a patch on a move or a same-stage call, keeping values already set', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'q.bin'), { sha256: null, size: null, source: null, flags: ['odd-name'] });
      await index.insertFiles([root]);
      const h = hashesOf('q').sha256;
      const src = { container: 'derived', name: `content/${h.slice(0, 2)}/${h}` };
      expect(await index.advanceFile(root.fileId, 'identified', { sha256: h.toUpperCase(), size: 42, source: src, flags: ['ext-mismatch', 'odd-name', 'ext-mismatch'] })).toBe(true);
      let got = await index.getFile(root.fileId);
      expect(got).toMatchObject({ sha256: h, size: 42, source: src, flags: ['odd-name', 'ext-mismatch'] });
      // Same stage: not a move, but the patch lands (the hash stage fills in a pending root's SHA-256).
      expect(await index.advanceFile(root.fileId, 'identified', { flags: ['link'] })).toBe(false);
      // Backwards: refused, nothing changes.
      expect(await index.advanceFile(root.fileId, 'pending', { flags: ['device'] })).toBe(false);
      // A move with conflicting values keeps the first ones.
      const other = hashesOf('other').sha256;
      expect(await index.advanceFile(root.fileId, 'described', { sha256: other, size: 1, source: { container: 'x', name: 'y' }, flags: ['encrypted'] })).toBe(true);
      got = await index.getFile(root.fileId);
      expect(got).toMatchObject({ sha256: h, size: 42, source: src, flags: ['odd-name', 'ext-mismatch', 'link', 'encrypted'], stage: 'described' });
    });

    it('reports a move once when the same message is handled twice at the same time', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'race.jpg'));
      await index.insertFiles([root]);
      const results = await Promise.all(Array.from({ length: 8 }, () => index.advanceFile(root.fileId, 'identified')));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await index.getFile(root.fileId))?.stage).toBe('identified');
    });

    it('keeps the first failure when a failure is redelivered', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'r.jpg'));
      await index.insertFiles([root]);
      await index.failFile(root.fileId, { stage: 'metadata', code: 'corrupt-file', detail: 'truncated JPEG' });
      await index.failFile(root.fileId, { stage: 'thumbnail', code: 'decode-failed', detail: 'later' });
      expect((await index.getFile(root.fileId))?.failure).toEqual({ stage: 'metadata', code: 'corrupt-file', detail: 'truncated JPEG' });
      await expect(index.failFile('f-missing', { stage: 'metadata', code: 'corrupt-file', detail: 'x' })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('caps a very long failure detail', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'long.mp4'));
      await index.insertFiles([root]);
      await index.failFile(root.fileId, { stage: 'thumbnail', code: 'tool-failed', detail: 'x'.repeat(100_000) });
      const detail = (await index.getFile(root.fileId))?.failure?.detail ?? '';
      expect(detail.length).toBeLessThan(5000);
      expect(detail.startsWith('xxxx')).toBe(true);
    });

    it('moves the unpack state forward only and records the member count', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'u.zip'));
      await index.insertFiles([root]);
      await index.setUnpack(root.fileId, 'pending');
      expect((await index.getFile(root.fileId))?.unpack).toBe('pending');
      await index.setUnpack(root.fileId, 'done', 17);
      await index.setUnpack(root.fileId, 'pending');
      await index.setUnpack(root.fileId, 'failed', 3);
      expect(await index.getFile(root.fileId)).toMatchObject({ unpack: 'done', memberCount: 17 });
      await expect(index.setUnpack('f-missing', 'pending')).rejects.toMatchObject({ code: 'not-found' });
    });

    it('an archive whose unpack stopped is listed in the status with its reason and how far it got', async () => {
      const c = freshCase();
      const upload = newUpload(c, 'ev1', 'cut.tar');
      await index.recordUpload(upload);
      const root = rootFile(upload);
      await index.insertFiles([root]);
      await index.setUnpack(root.fileId, 'pending');
      await index.setUnpack(root.fileId, 'failed', 2, {
        code: 'corrupt-file',
        reason: 'truncated',
        detail: 'tar entry 1 ends before its declared 8589934591 bytes',
        membersRecorded: 2,
        membersDeclared: null,
      });
      const status = (await index.evidenceStatus(c, 'ev1'))!;
      expect(status.failures).toContainEqual({
        fileId: root.fileId,
        path: root.path,
        stage: 'unpack',
        code: 'corrupt-file',
        detail: 'tar entry 1 ends before its declared 8589934591 bytes',
        archive: { reason: 'truncated', membersRecorded: 2, membersDeclared: null },
      });
      expect(status.stages.unpack.failed).toBe(1);
    });

    it('claims budget atomically: concurrent claims never pass the maximum, releases give it back', async () => {
      const c = freshCase();
      const upload = newUpload(c, 'ev1', 'a.zip', { size: 1000 });
      await index.recordUpload(upload);
      const ref = { caseId: c, evidenceId: 'ev1' };
      expect(await index.budgetUsage(ref)).toEqual({ evidenceBytes: 1000, used: { expandedBytes: 0, writtenBytes: 0, entries: 0, unpackMs: 0 } });
      const granted = await Promise.all(Array.from({ length: 8 }, () => index.claimBudget(ref, 'expandedBytes', 300, 1000)));
      expect(granted.reduce((a, b) => a + b, 0)).toBe(1000);
      expect(await index.claimBudget(ref, 'expandedBytes', 1, 1000)).toBe(0);
      await index.releaseBudget(ref, 'expandedBytes', 250);
      expect((await index.budgetUsage(ref)).used.expandedBytes).toBe(750);
      expect(await index.claimBudget(ref, 'entries', 5, 10)).toBe(5);
      expect((await index.budgetUsage(ref)).used).toEqual({ expandedBytes: 750, writtenBytes: 0, entries: 5, unpackMs: 0 });
    });

    it('adds flags as a set, in first-seen order', async () => {
      const c = freshCase();
      const root = rootFile(newUpload(c, 'ev1', 'f.jpg'), { flags: ['odd-name'] });
      await index.insertFiles([root]);
      await index.addFlags(root.fileId, ['ext-mismatch', 'odd-name']);
      await index.addFlags(root.fileId, ['ext-mismatch', 'limit-exceeded', 'limit-exceeded']);
      expect((await index.getFile(root.fileId))?.flags).toEqual(['odd-name', 'ext-mismatch', 'limit-exceeded']);
      await expect(index.addFlags('f-missing', ['link'])).rejects.toMatchObject({ code: 'not-found' });
    });
  });

  describe('contents', () => {
    const content = (seed: string) => {
      const h = hashesOf(seed);
      return { ...h, size: 2048, source: { container: 'derived', name: `content/${h.sha256.slice(0, 2)}/${h.sha256}` } };
    };

    it('creates a content once; the first writer wins', async () => {
      const first = content(`c-${freshCase()}`);
      const stored = await index.ensureContent(first);
      expect(stored).toEqual({
        ...first,
        mime: null,
        detectedExt: null,
        kind: null,
        metadata: null,
        metadataStatus: 'pending',
        thumbnail: null,
        thumbnailSource: null,
        thumbnailStatus: 'pending',
        embeddedPreview: null,
        failure: null,
        findings: [],
        tools: {},
      });
      const again = await index.ensureContent({ ...first, size: 1, source: { container: 'derived', name: 'elsewhere' } });
      expect(again).toEqual(stored);
      expect(await index.getContent(first.sha256.toUpperCase())).toEqual(stored);
      expect(await index.getContent(hashesOf('never').sha256)).toBeNull();
    });

    it('records identification, metadata and thumbnail once each, with tools per stage', async () => {
      const ct = content(`d-${freshCase()}`);
      await index.ensureContent(ct);
      const appended = { flag: 'embedded-archive' as const, detail: 'a ZIP archive (1 entries) ends a .jpg file' };
      const flat = { flag: 'no-content' as const, detail: 'one flat colour' };
      await index.setIdentification(ct.sha256, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: [{ name: 'file-type', version: '21.0.0' }], findings: [appended] });
      await index.setIdentification(ct.sha256, {
        mime: 'image/png',
        detectedExt: 'png',
        kind: 'image',
        tools: [{ name: 'file-type', version: '99' }],
        findings: [{ flag: 'unidentified', detail: 'ignored: the first identification stands' }],
      });
      const meta = photo();
      await index.setMetadata(ct.sha256, { status: 'done', metadata: meta, tools: TOOLS });
      await index.setMetadata(ct.sha256, { status: 'failed', metadata: null, failure: { stage: 'metadata', code: 'corrupt-file', detail: 'x' }, tools: [] });
      const thumb = { container: 'derived', name: `thumbnails/${ct.sha256.slice(0, 2)}/${ct.sha256}.320.jpg` };
      const preview = { container: 'derived', name: `previews/${ct.sha256.slice(0, 2)}/${ct.sha256}.exif-ifd1.jpg` };
      await index.setThumbnail(ct.sha256, { status: 'done', blob: thumb, source: 'exif-preview', preview, findings: [flat], tools: [{ name: 'sharp', version: '0.34.0' }] });
      await index.setThumbnail(ct.sha256, { status: 'failed', blob: null, source: null, preview: null, findings: [flat], tools: [] });
      expect(await index.getContent(ct.sha256)).toEqual({
        ...ct,
        mime: 'image/jpeg',
        detectedExt: 'jpg',
        kind: 'image',
        metadata: meta,
        metadataStatus: 'done',
        thumbnail: thumb,
        thumbnailSource: 'exif-preview',
        thumbnailStatus: 'done',
        embeddedPreview: preview,
        failure: null,
        findings: [appended, flat],
        tools: { identify: [{ name: 'file-type', version: '21.0.0' }], metadata: TOOLS, thumbnail: [{ name: 'sharp', version: '0.34.0' }] },
      });
      await expect(index.setMetadata(hashesOf('nope').sha256, { status: 'n/a', metadata: null, tools: [] })).rejects.toMatchObject({ code: 'not-found' });
      await expect(index.setIdentification(hashesOf('nope').sha256, { mime: null, detectedExt: null, kind: 'other', tools: [] })).rejects.toMatchObject({ code: 'not-found' });
      await expect(index.setThumbnail(hashesOf('nope').sha256, { status: 'n/a', blob: null, source: null, tools: [] })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('ensureContents writes many contents in one statement; stored rows and the first of a content listed twice win', async () => {
      const kept = content(`k-${freshCase()}`);
      await index.ensureContent(kept);
      const fresh = content(`f-${freshCase()}`);
      const twice = { ...fresh, source: { container: 'evidence', name: 'image.img', offset: 4096 } };
      const other = content(`o-${freshCase()}`);
      const moved = { ...kept, source: { container: 'derived', name: 'elsewhere' } };
      expect(await statementsOf(() => index.ensureContents([moved, twice, { ...fresh, sha256: fresh.sha256.toUpperCase() }, other]))).toBe(1);
      expect(await index.getContent(kept.sha256)).toMatchObject({ source: kept.source });
      expect(await index.getContent(fresh.sha256)).toMatchObject({ source: twice.source, size: fresh.size, md5: fresh.md5 });
      expect(await index.getContent(other.sha256)).toMatchObject({ source: other.source });
      expect(await statementsOf(() => index.ensureContents([]))).toBe(0);
    });

    it('pdq-written-in-its-own-transaction-before-thumbnail: the PDQ hashes ride in the thumbnail write, replace stale rows, and are dropped with a later thumbnail', async () => {
      const ct = content(`p-${freshCase()}`);
      await index.ensureContent(ct);
      // Rows an older run left before a crash, its thumbnail still pending (two frames: both must go).
      await index.setPdq(ct.sha256, [
        { frame: 0, hash: '11'.repeat(32), quality: 10 },
        { frame: 1, hash: '22'.repeat(32), quality: 20, timeMs: 500 },
      ]);
      const thumb = { container: 'derived', name: `thumbnails/${ct.sha256.slice(0, 2)}/${ct.sha256}.320.jpg` };
      const pdq = [{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }];
      // One statement for the thumbnail and its hashes (a transaction of a DELETE and an INSERT per frame before).
      expect(await statementsOf(() => index.setThumbnail(ct.sha256, { status: 'done', blob: thumb, source: 'image', tools: [], pdq }))).toBe(1);
      expect(await index.getPdq(ct.sha256)).toEqual(pdq);
      // A second writer of the same content (its thumbnail already recorded): its hashes are not written.
      await index.setThumbnail(ct.sha256, { status: 'done', blob: thumb, source: 'image', tools: [], pdq: [{ frame: 0, hash: 'cd'.repeat(32), quality: 50 }] });
      expect(await index.getPdq(ct.sha256)).toEqual(pdq);
      expect(await index.getContent(ct.sha256)).toMatchObject({ thumbnailStatus: 'done', thumbnail: thumb });
      await expect(index.setThumbnail(ct.sha256, { status: 'done', blob: thumb, source: 'image', tools: [], pdq: [{ frame: 0, hash: 'zz', quality: 50 }] })).rejects.toMatchObject({ code: 'invalid-argument' });
    });

    it('keeps the first analysis failure on a content', async () => {
      const ct = content(`e-${freshCase()}`);
      await index.ensureContent(ct);
      await index.setMetadata(ct.sha256, { status: 'failed', metadata: null, failure: { stage: 'metadata', code: 'corrupt-file', detail: 'no EXIF segment end' }, tools: TOOLS });
      await index.setThumbnail(ct.sha256, { status: 'failed', blob: null, source: null, failure: { stage: 'thumbnail', code: 'decode-failed', detail: 'later' }, tools: [] });
      const got = await index.getContent(ct.sha256);
      expect(got).toMatchObject({ metadataStatus: 'failed', thumbnailStatus: 'failed', failure: { stage: 'metadata', code: 'corrupt-file', detail: 'no EXIF segment end' } });
    });

    it('stores hostile metadata without failing: out-of-range GPS, impossible dates, NULs, huge numbers', async () => {
      const ct = content(`h-${freshCase()}`);
      await index.ensureContent(ct);
      const meta = photo({
        takenAt: { local: '0000:00:00 00:00:00', offsetMinutes: 99_999, utc: 'not a date', source: 'exif' },
        gps: { lat: 200, lon: -0.1 },
        make: 'Can\0on',
        width: 2 ** 40,
        durationSec: Number.POSITIVE_INFINITY,
        raw: { 'Weird\0Key': 'v\0', big: 12 },
      });
      await index.setMetadata(ct.sha256, { status: 'done', metadata: meta, tools: TOOLS });
      const got = await index.getContent(ct.sha256);
      expect(got?.metadataStatus).toBe('done');
      expect(got?.metadata?.gps).toEqual({ lat: 200, lon: -0.1 });
      expect(got?.metadata?.make).toBe('Can\u2400on');
      expect(got?.metadata?.raw).toEqual({ 'Weird\u2400Key': 'v\u2400', big: 12 });
    });
  });

  describe('stage writes', () => {
    const content = (seed: string) => {
      const h = hashesOf(seed);
      return { ...h, size: 2048, source: { container: 'derived', name: `content/${h.sha256.slice(0, 2)}/${h.sha256}` } };
    };
    /** An upload, its root file (pending, content known) and that content, as the hash stage leaves them. */
    const hashedRoot = async (c: string, fileName: string, evidenceId = 'ev1') => {
      const up = newUpload(c, evidenceId, fileName);
      const ct = content(`${c}/${fileName}`);
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up, { sha256: ct.sha256, size: ct.size, source: ct.source })]);
      await index.recordUploadHashes(up.blobName, ct, 'no-reference', []);
      await index.ensureContent(ct);
      return { fileId: up.rootFileId, caseId: c, evidenceId, sha256: ct.sha256, content: ct };
    };
    const identified = { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image' as const, tools: TOOLS };

    it('reads a file with its content in one statement', async () => {
      const c = freshCase();
      const f = await hashedRoot(c, 'one.jpg');
      let got: Awaited<ReturnType<IndexStore['getFileWithContent']>> = null;
      expect(await statementsOf(async () => (got = await index.getFileWithContent(f.fileId)))).toBe(1);
      expect(got).toEqual({ file: await index.getFile(f.fileId), content: await index.getContent(f.sha256) });
      const bare = rootFile(newUpload(c, 'ev1', 'bare.bin'));
      await index.insertFiles([bare]);
      expect(await index.getFileWithContent(bare.fileId)).toEqual({ file: await index.getFile(bare.fileId), content: null });
      expect(await index.getFileWithContent('f-missing')).toBeNull();
    });

    it('creates a content in one statement, and finds an existing one in one', async () => {
      const ct = content(`ensure-${freshCase()}`);
      expect(await statementsOf(() => index.ensureContent(ct))).toBe(1);
      expect(await statementsOf(() => index.ensureContent({ ...ct, size: 1 }))).toBe(1);
      expect((await index.getContent(ct.sha256))?.size).toBe(2048);
    });

    it('records an analysis and the file\'s move with its findings in one statement', async () => {
      const c = freshCase();
      const f = await hashedRoot(c, 'photo.png');
      const n = await statementsOf(() =>
        index.setIdentification(f.sha256, identified, { fileId: f.fileId, to: 'identified', flags: ['ext-mismatch', 'not-unpacked-depth', 'ext-mismatch'], unpack: 'pending' }),
      );
      expect(n).toBe(1);
      expect(await index.getFileWithContent(f.fileId)).toMatchObject({
        file: { stage: 'identified', flags: ['ext-mismatch', 'not-unpacked-depth'], unpack: 'pending' },
        content: { kind: 'image', mime: 'image/jpeg', tools: { identify: TOOLS } },
      });
      // Redelivered: the first identification stands, the file stays where it is.
      await index.setIdentification(f.sha256, { ...identified, mime: 'image/png' }, { fileId: f.fileId, to: 'identified', flags: ['ext-mismatch'] });
      expect(await index.getFileWithContent(f.fileId)).toMatchObject({ file: { stage: 'identified' }, content: { mime: 'image/jpeg' } });

      expect(await statementsOf(() => index.setMetadata(f.sha256, { status: 'done', metadata: photo(), tools: TOOLS }, { fileId: f.fileId, to: 'described' }))).toBe(1);
      expect(await statementsOf(() => index.advanceFile(f.fileId, 'thumbnailed', { flags: ['exif-preview-thumbnail'] }))).toBe(1);
      // A late message cannot move the file back, nor add its findings.
      await index.setIdentification(f.sha256, identified, { fileId: f.fileId, to: 'identified', flags: ['link'], unpack: 'pending' });
      expect(await index.getFile(f.fileId)).toMatchObject({ stage: 'thumbnailed', flags: ['ext-mismatch', 'not-unpacked-depth', 'exif-preview-thumbnail'] });
    });

    it('fails the file with its failed analysis, first failure kept, and never moves a failed file', async () => {
      const c = freshCase();
      const f = await hashedRoot(c, 'broken.jpg');
      await index.setIdentification(f.sha256, identified, { fileId: f.fileId, to: 'identified' });
      const failure = { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: 'truncated' };
      expect(await statementsOf(() => index.setMetadata(f.sha256, { status: 'failed', metadata: null, failure, tools: TOOLS }, { fileId: f.fileId, failure }))).toBe(1);
      const later = { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'later' };
      await index.setThumbnail(f.sha256, { status: 'failed', blob: null, source: null, failure: later, tools: [] }, { fileId: f.fileId, failure: later });
      await index.setThumbnail(f.sha256, { status: 'done', blob: null, source: null, tools: [] }, { fileId: f.fileId, to: 'thumbnailed' });
      expect(await index.getFileWithContent(f.fileId)).toMatchObject({
        file: { stage: 'failed', failure },
        content: { metadataStatus: 'failed', thumbnailStatus: 'failed', failure },
      });
      expect(await index.markIndexed(f)).toEqual({ moved: false, stage: 'failed' });
      expect((await index.getFile(f.fileId))?.stage).toBe('failed');
    });

    it('setAnalysis writes identification, metadata and thumbnail in one statement, as the three writes one after another', async () => {
      const c = freshCase();
      const thumbOf = (sha256: string) => ({ container: 'derived', name: `thumbnails/${sha256}.jpg` });
      const meta = photo();
      const parts = (sha256: string) => ({
        identification: { ...identified, findings: [{ flag: 'embedded-archive' as const, detail: 'a ZIP ends it' }] },
        metadata: { status: 'failed' as const, metadata: meta, failure: { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: 'half read' }, tools: TOOLS },
        thumbnail: {
          status: 'done' as const, blob: thumbOf(sha256), source: 'exif-preview' as const, preview: { container: 'derived', name: `previews/${sha256}.jpg` },
          findings: [{ flag: 'no-content' as const, detail: 'flat' }], tools: [{ name: 'sharp', version: '0.34.0' }], pdq: [{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }],
        },
      });
      // One file written step by step, one in one statement.
      const steps = await hashedRoot(c, 'steps.png');
      const p1 = parts(steps.sha256);
      await index.setIdentification(steps.sha256, p1.identification, { fileId: steps.fileId, to: 'identified', flags: ['ext-mismatch'] });
      await index.setMetadata(steps.sha256, p1.metadata, { fileId: steps.fileId, to: 'described', flags: ['gps-null-island'] });
      await index.setThumbnail(steps.sha256, p1.thumbnail, { fileId: steps.fileId, to: 'thumbnailed', flags: ['exif-preview-thumbnail'] });
      const once = await hashedRoot(c, 'once.png');
      const p2 = parts(once.sha256);
      expect(await statementsOf(() => index.setAnalysis(once.sha256, p2, { fileId: once.fileId, to: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'] }))).toBe(1);
      const read = async (f: { fileId: string; sha256: string }) => {
        const got = await index.getFileWithContent(f.fileId);
        const { sha256: _s, md5: _m, sha1: _h, source: _src, thumbnail, embeddedPreview, ...content } = got!.content!;
        return {
          file: { stage: got!.file.stage, flags: got!.file.flags, failure: got!.file.failure },
          content: { ...content, thumbnail: thumbnail?.name.replace(f.sha256, '*'), embeddedPreview: embeddedPreview?.name.replace(f.sha256, '*') },
          pdq: await index.getPdq(f.sha256),
        };
      };
      const expected = await read(steps);
      expect(expected).toMatchObject({
        file: { stage: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'], failure: null },
        content: { kind: 'image', metadataStatus: 'failed', thumbnailStatus: 'done', failure: { stage: 'metadata', code: 'corrupt-file' } },
      });
      expect(await read(once)).toEqual(expected);
      // Sent again, or by a later writer with other results: each part is recorded already, and stands.
      const later = { ...p2, identification: { ...p2.identification, mime: 'image/png' }, thumbnail: { ...p2.thumbnail, pdq: [{ frame: 0, hash: 'cd'.repeat(32), quality: 1 }] } };
      await index.setAnalysis(once.sha256, p2, { fileId: once.fileId, to: 'thumbnailed' });
      await index.setAnalysis(once.sha256, later, { fileId: once.fileId, to: 'thumbnailed' });
      expect(await read(once)).toEqual(expected);
    });

    it('setAnalysis writes only the parts still open, and a failure with the findings of the steps before it', async () => {
      const c = freshCase();
      // Another occurrence recorded the identification and the metadata; this attempt's are dropped, its thumbnail written.
      const f = await hashedRoot(c, 'part.jpg');
      await index.setIdentification(f.sha256, identified);
      await index.setMetadata(f.sha256, { status: 'done', metadata: photo(), tools: TOOLS });
      const thumb = { container: 'derived', name: `thumbnails/${f.sha256}.jpg` };
      const failure = { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: 'not this one' };
      await index.setAnalysis(
        f.sha256,
        {
          identification: { ...identified, mime: 'image/png', findings: [{ flag: 'unidentified', detail: 'not this one' }] },
          metadata: { status: 'failed', metadata: null, failure, tools: [] },
          thumbnail: { status: 'done', blob: thumb, source: 'image', tools: [], pdq: [{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }] },
        },
        { fileId: f.fileId, to: 'thumbnailed' },
      );
      expect(await index.getContent(f.sha256)).toMatchObject({ mime: 'image/jpeg', metadataStatus: 'done', metadata: photo(), thumbnail: thumb, failure: null, findings: [], tools: { identify: TOOLS, metadata: TOOLS, thumbnail: [] } });
      expect(await index.getPdq(f.sha256)).toEqual([{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }]);

      // A thumbnail that fails the file: the failure with the findings of the steps before it, in one statement.
      const g = await hashedRoot(c, 'fails.jpg');
      const undecodable = { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'no decoder' };
      const move = { fileId: g.fileId, failure: undecodable, flags: ['ext-mismatch' as const, 'gps-null-island' as const] };
      expect(
        await statementsOf(() =>
          index.setAnalysis(g.sha256, { identification: identified, metadata: { status: 'done', metadata: photo(), tools: TOOLS }, thumbnail: { status: 'failed', blob: null, source: null, failure: undecodable, tools: [] } }, move),
        ),
      ).toBe(1);
      expect(await index.getFileWithContent(g.fileId)).toMatchObject({
        file: { stage: 'failed', failure: undecodable, flags: ['ext-mismatch', 'gps-null-island'] },
        content: { kind: 'image', metadataStatus: 'done', thumbnailStatus: 'failed', failure: undecodable },
      });
      // A file failed already keeps its failure and gets no findings (as a move of a failed file adds none).
      await index.setAnalysis(g.sha256, {}, { fileId: g.fileId, failure: { ...undecodable, detail: 'again' }, flags: ['link'] });
      expect(await index.getFile(g.fileId)).toMatchObject({ failure: undecodable, flags: ['ext-mismatch', 'gps-null-island'] });
      // A content without a thumbnail cannot record one.
      await expect(
        index.setAnalysis(g.sha256, { metadata: { status: 'done', metadata: null, tools: [], noThumbnail: true }, thumbnail: { status: 'n/a', blob: null, source: null, tools: [] } }),
      ).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(index.setAnalysis(hashesOf(`ghost-${c}`).sha256, {}, { fileId: g.fileId, to: 'thumbnailed' })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('moves nothing when the content or the file is missing', async () => {
      const c = freshCase();
      const f = await hashedRoot(c, 'lost.jpg');
      const ghost = hashesOf(`ghost-${c}`).sha256;
      await expect(index.setIdentification(ghost, identified, { fileId: f.fileId, to: 'identified' })).rejects.toMatchObject({ code: 'not-found' });
      const failure = { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: 'x' };
      await expect(index.setMetadata(ghost, { status: 'failed', metadata: null, failure, tools: [] }, { fileId: f.fileId, failure })).rejects.toMatchObject({ code: 'not-found' });
      expect((await index.getFile(f.fileId))?.stage).toBe('pending');
      await expect(index.setThumbnail(f.sha256, { status: 'n/a', blob: null, source: null, tools: [] }, { fileId: 'f-missing', to: 'thumbnailed' })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('indexes a file in one statement that also says whether its evidence item has work left', async () => {
      const c = freshCase();
      const a = await hashedRoot(c, 'a.jpg');
      const b = await hashedRoot(c, 'b.jpg');
      await index.advanceFile(b.fileId, 'thumbnailed');
      let result: Awaited<ReturnType<IndexStore['markIndexed']>> | undefined;
      expect(await statementsOf(async () => (result = await index.markIndexed(a)))).toBe(1);
      expect(result).toEqual({ moved: true, openWork: true });
      expect(await index.markIndexed(a)).toEqual({ moved: false, stage: 'indexed' });
      expect(await index.markIndexed({ ...b, evidenceId: 'ev-other' })).toEqual({ moved: false, stage: null });
      expect(await index.markIndexed({ ...b, fileId: 'f-missing' })).toEqual({ moved: false, stage: null });
      expect(await index.markIndexed(b)).toEqual({ moved: true, openWork: false });
      expect(await index.hasPendingWork(c, 'ev1')).toBe(false);

      // An archive indexed before its unpack ends leaves work open.
      const zip = await hashedRoot(c, 'c.zip', 'ev2');
      await index.advanceFile(zip.fileId, 'identified', { unpack: 'pending' });
      expect(await index.markIndexed(zip)).toEqual({ moved: true, openWork: true });
      await index.setUnpack(zip.fileId, 'done', 0);
      expect(await index.hasPendingWork(c, 'ev2')).toBe(false);
    });

    it('tells exactly one of many files indexed at the same time that no work is left', async () => {
      const c = freshCase();
      const files = [];
      for (let i = 0; i < 6; i++) files.push(await hashedRoot(c, `p${i}.jpg`));
      const results = await Promise.all(files.map((f) => index.markIndexed(f)));
      expect(results.every((r) => r.moved)).toBe(true);
      expect(results.filter((r) => r.moved && !r.openWork)).toHaveLength(1);
    });

    it('indexes a batch of files in one statement, answering for each, and says once whether work is left', async () => {
      const c = freshCase();
      const files = [];
      for (let i = 0; i < 4; i++) files.push(await hashedRoot(c, `batch${i}.jpg`));
      const [a, b, d, e] = files as [(typeof files)[number], (typeof files)[number], (typeof files)[number], (typeof files)[number]];
      await index.failFile(d.fileId, { stage: 'thumbnail', code: 'decode-failed', detail: 'x' });
      let first: Awaited<ReturnType<IndexStore['markIndexedBatch']>> | undefined;
      // e is still open: work is left.
      expect(await statementsOf(async () => (first = await index.markIndexedBatch({ caseId: c, evidenceId: 'ev1' }, [a.fileId, b.fileId, d.fileId, 'f-missing'])))).toBe(1);
      expect(first && Object.fromEntries(first)).toEqual({
        [a.fileId]: { moved: true, openWork: true },
        [b.fileId]: { moved: true, openWork: true },
        [d.fileId]: { moved: false, stage: 'failed' },
        'f-missing': { moved: false, stage: null },
      });
      // Another evidence item's batch moves nothing of this one.
      expect(Object.fromEntries(await index.markIndexedBatch({ caseId: c, evidenceId: 'ev-other' }, [e.fileId]))).toEqual({ [e.fileId]: { moved: false, stage: null } });
      // The batch with the last open file: no work left, told in the same statement; a repeat moves nothing.
      expect(Object.fromEntries(await index.markIndexedBatch({ caseId: c, evidenceId: 'ev1' }, [a.fileId, e.fileId]))).toEqual({
        [a.fileId]: { moved: false, stage: 'indexed' },
        [e.fileId]: { moved: true, openWork: false },
      });
      expect(await index.hasPendingWork(c, 'ev1')).toBe(false);
      expect(Object.fromEntries(await index.markIndexedBatch({ caseId: c, evidenceId: 'ev1' }, [e.fileId]))).toEqual({ [e.fileId]: { moved: false, stage: 'indexed' } });
    });

    it('tells exactly one of many batches indexed at the same time that no work is left', async () => {
      const c = freshCase();
      const files = [];
      for (let i = 0; i < 8; i++) files.push(await hashedRoot(c, `race${i}.jpg`));
      const batches = [files.slice(0, 3), files.slice(3, 5), files.slice(5)];
      const results = await Promise.all(batches.map((batch) => index.markIndexedBatch({ caseId: c, evidenceId: 'ev1' }, batch.map((f) => f.fileId))));
      const all = results.flatMap((r) => [...r.values()]);
      expect(all.every((r) => r.moved)).toBe(true);
      // Every file of the batch that finished last says so; those of the others do not.
      expect(results.filter((r) => [...r.values()].some((x) => x.moved && !x.openWork))).toHaveLength(1);
    });

    it('reads a batch of files with their contents in one statement', async () => {
      const c = freshCase();
      const a = await hashedRoot(c, 'read-a.jpg');
      const b = await hashedRoot(c, 'read-b.jpg');
      let got: Awaited<ReturnType<IndexStore['getFilesWithContent']>> | undefined;
      expect(await statementsOf(async () => (got = await index.getFilesWithContent([a.fileId, b.fileId, 'f-missing'])))).toBe(1);
      expect([...got!.keys()].sort()).toEqual([a.fileId, b.fileId].sort());
      expect(got!.get(a.fileId)).toEqual(await index.getFileWithContent(a.fileId));
      expect(got!.get(b.fileId)).toEqual(await index.getFileWithContent(b.fileId));
      expect((await index.getFilesWithContent([])).size).toBe(0);
    });
    it('reads many files by id in one statement (a resumed unpack\'s window of members)', async () => {
      const c = freshCase();
      const a = await hashedRoot(c, 'many-a.jpg');
      const b = await hashedRoot(c, 'many-b.jpg');
      let got: Awaited<ReturnType<IndexStore['getFiles']>> | undefined;
      expect(await statementsOf(async () => (got = await index.getFiles([a.fileId, 'f-missing', b.fileId])))).toBe(1);
      expect([...got!.keys()].sort()).toEqual([a.fileId, b.fileId].sort());
      expect(got!.get(a.fileId)).toEqual(await index.getFile(a.fileId));
      expect(got!.get(b.fileId)).toEqual(await index.getFile(b.fileId));
      expect((await index.getFiles([])).size).toBe(0);
    });
  });

  /**
   * setAnalysis's rows pinned to literal values: each case writes out every column the write must change and
   * expects every other column as it was before (the file's and the content's rows as stored, all columns but
   * the times of the write, and the content's PDQ rows). The values are those main's three statements
   * (setIdentification, setMetadata, setThumbnail, each with its move, one after another) left for the same
   * inputs; the set* methods are now setAnalysis's one-part cases, so comparing with them pins nothing.
   */
  describe('setAnalysis rows (literal)', () => {
    /** A root file whose hash stage recorded `bytes` as its content (two occurrences of the same bytes share it). */
    const occurrence = async (c: string, fileName: string, bytes: string) => {
      const up = newUpload(c, 'ev1', fileName);
      const h = hashesOf(bytes);
      const ct = { ...h, size: 2048, source: { container: 'derived', name: `content/${h.sha256}` } };
      await index.recordUpload(up);
      await index.insertFiles([rootFile(up, { sha256: ct.sha256, size: ct.size, source: ct.source })]);
      await index.recordUploadHashes(up.blobName, ct, 'no-reference', []);
      await index.ensureContent(ct);
      return { fileId: up.rootFileId, sha256: ct.sha256 };
    };
    type Row = Record<string, unknown>;
    /** The rows as jsonb, so every target answers the same JS values; the one timestamptz read at UTC. */
    const rows = async (f: { fileId: string; sha256: string }) => {
      const one = async (text: string, key: string) => (await sql.query<{ r: Row }>(text, [key])).rows[0]?.r;
      return {
        file: await one(`SELECT to_jsonb(f) - 'created_at' - 'updated_at' AS r FROM files f WHERE file_id = $1`, f.fileId),
        content: await one(
          `SELECT (to_jsonb(c) - 'created_at' - 'updated_at') || jsonb_build_object('taken_at_utc', c.taken_at_utc AT TIME ZONE 'UTC') AS r
             FROM contents c WHERE sha256 = $1`,
          f.sha256,
        ),
        pdq: await one(
          `SELECT COALESCE(jsonb_agg(jsonb_build_object('frame', frame, 'bits', pdq::text, 'quality', quality, 'timeMs', time_ms) ORDER BY frame), '[]') AS r
             FROM content_pdq WHERE sha256 = $1`,
          f.sha256,
        ),
      };
    };

    const identification = (tag: string) => ({
      mime: 'image/jpeg',
      detectedExt: 'jpg',
      kind: 'image' as const,
      tools: [{ name: 'file-type', version: tag }],
      findings: [{ flag: 'embedded-archive' as const, detail: `id-${tag}` }],
    });
    const metadataDone = (tag: string) => ({ status: 'done' as const, metadata: photo(), tools: [{ name: 'exifr', version: tag }] });
    const metadataFailed = (tag: string) => ({
      status: 'failed' as const,
      metadata: photo(),
      failure: { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: `meta-${tag}` },
      tools: [{ name: 'exifr', version: tag }],
    });
    const thumbnailDone = (tag: string, pdq: Array<{ frame: number; hash: string; quality: number; timeMs?: number }>) => ({
      status: 'done' as const,
      blob: { container: 'derived', name: `thumbnails/${tag}.jpg` },
      source: 'exif-preview' as const,
      preview: { container: 'derived', name: `previews/${tag}.jpg` },
      findings: [{ flag: 'no-content' as const, detail: `th-${tag}` }],
      tools: [{ name: 'sharp', version: tag }],
      pdq,
    });
    const ef = [{ frame: 0, hash: 'ef'.repeat(32), quality: 1 }];
    const efRows = [{ frame: 0, bits: '11101111'.repeat(32), quality: 1, timeMs: null }];
    /** The content columns photo()'s metadata sets. */
    const photoColumns = (status: string) => ({
      metadata_status: status,
      // The metadata column holds the record as written, to the letter: photo() itself.
      metadata: photo(),
      taken_at_utc: '2023-07-14T07:30:00',
      taken_at_local: '2023:07:14 09:30:00',
      taken_at_local_ts: '2023-07-14T09:30:00',
      taken_offset_minutes: 120,
      gps_lat: 51.5074,
      gps_lon: -0.1278,
      make: 'Canon',
      model: 'Canon EOS 80D',
      duration_sec: null,
      width: 6000,
      height: 4000,
    });
    /** The content columns thumbnailDone(tag) sets. */
    const thumbnailColumns = (tag: string) => ({
      thumbnail_status: 'done',
      thumbnail_container: 'derived',
      thumbnail_name: `thumbnails/${tag}.jpg`,
      thumbnail_source: 'exif-preview',
      preview_container: 'derived',
      preview_name: `previews/${tag}.jpg`,
    });
    const noFailure = { failure_stage: null, failure_code: null, failure_detail: null };
    /** The type columns identification(tag) sets. */
    const identifiedColumns = { mime: 'image/jpeg', detected_ext: 'jpg', kind: 'image' };
    /** Records identification, metadataDone(tag) and thumbnailDone(tag, ef) for `f` in one write, moving it to thumbnailed with `flags`. */
    const analysePhoto = (f: { fileId: string; sha256: string }, tag: string, flags: FileFlag[], ident = identification(tag)) =>
      index.setAnalysis(f.sha256, { identification: ident, metadata: metadataDone(tag), thumbnail: thumbnailDone(tag, ef) }, { fileId: f.fileId, to: 'thumbnailed', flags });
    /** The content columns analysePhoto(f, tag) leaves where identification(identifiedTag) is the identification that stands. */
    const analysedPhotoColumns = (identifiedTag: string, tag: string) => ({
      ...identifiedColumns,
      ...photoColumns('done'),
      ...thumbnailColumns(tag),
      ...noFailure,
      tools: { identify: [{ name: 'file-type', version: identifiedTag }], metadata: [{ name: 'exifr', version: tag }], thumbnail: [{ name: 'sharp', version: tag }] },
      findings: [
        { flag: 'embedded-archive', detail: `id-${identifiedTag}` },
        { flag: 'no-content', detail: `th-${tag}` },
      ],
    });

    it('a new photo: findings identify first then thumbnail, a failed metadata read kept, an EXIF preview, two PDQ frames, tools per step, the file moved with every flag', async () => {
      const f = await occurrence(freshCase(), 'holiday.png', 'rows a new photo');
      const before = await rows(f);
      const pdq = [
        { frame: 0, hash: 'ab'.repeat(32), quality: 90 },
        { frame: 1, hash: 'cd'.repeat(32), quality: 80, timeMs: 5 },
      ];
      await index.setAnalysis(
        f.sha256,
        { identification: identification('A'), metadata: metadataFailed('A'), thumbnail: thumbnailDone('A', pdq) },
        { fileId: f.fileId, to: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'] },
      );
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'], ...noFailure },
        content: {
          ...before.content,
          ...identifiedColumns,
          ...photoColumns('failed'),
          ...thumbnailColumns('A'),
          failure_stage: 'metadata',
          failure_code: 'corrupt-file',
          failure_detail: 'meta-A',
          tools: { identify: [{ name: 'file-type', version: 'A' }], metadata: [{ name: 'exifr', version: 'A' }], thumbnail: [{ name: 'sharp', version: 'A' }] },
          findings: [
            { flag: 'embedded-archive', detail: 'id-A' },
            { flag: 'no-content', detail: 'th-A' },
          ],
        },
        pdq: [
          { frame: 0, bits: '10101011'.repeat(32), quality: 90, timeMs: null },
          { frame: 1, bits: '11001101'.repeat(32), quality: 80, timeMs: 5 },
        ],
      });
      expect(before).toMatchObject({ file: { stage: 'pending', flags: [] }, content: { kind: null, metadata_status: 'pending', thumbnail_status: 'pending', tools: {}, findings: [] }, pdq: [] });
    });

    it('a thumbnail that fails the file after a failed metadata read: the content keeps the first failure, the file its own', async () => {
      const f = await occurrence(freshCase(), 'broken.png', 'rows a failed thumbnail');
      const before = await rows(f);
      const undecodable = { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'th-B' };
      await index.setAnalysis(
        f.sha256,
        { identification: identification('B'), metadata: metadataFailed('B'), thumbnail: { status: 'failed', blob: null, source: null, failure: undecodable, tools: [] } },
        { fileId: f.fileId, failure: undecodable, flags: ['ext-mismatch', 'gps-null-island'] },
      );
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'failed', flags: ['ext-mismatch', 'gps-null-island'], failure_stage: 'thumbnail', failure_code: 'decode-failed', failure_detail: 'th-B' },
        content: {
          ...before.content,
          ...identifiedColumns,
          ...photoColumns('failed'),
          thumbnail_status: 'failed',
          thumbnail_container: null,
          thumbnail_name: null,
          thumbnail_source: null,
          preview_container: null,
          preview_name: null,
          failure_stage: 'metadata',
          failure_code: 'corrupt-file',
          failure_detail: 'meta-B',
          tools: { identify: [{ name: 'file-type', version: 'B' }], metadata: [{ name: 'exifr', version: 'B' }], thumbnail: [] },
          findings: [{ flag: 'embedded-archive', detail: 'id-B' }],
        },
        pdq: [],
      });
    });

    it('a second writer of the same bytes: nothing of its analysis lands, its file moves with its flags', async () => {
      const c = freshCase();
      const first = await occurrence(c, 'first.jpg', 'rows a second writer');
      await analysePhoto(first, 'first', ['exif-preview-thumbnail']);
      const second = await occurrence(c, 'second.png', 'rows a second writer');
      const before = await rows(second);
      expect(before.content).toMatchObject({ ...photoColumns('done'), ...thumbnailColumns('first'), ...noFailure, findings: [{ detail: 'id-first' }, { detail: 'th-first' }] });
      expect(before.pdq).toEqual(efRows);
      // Other results for every part: another type, a failed metadata read, another thumbnail with other hashes.
      await index.setAnalysis(
        second.sha256,
        {
          identification: { ...identification('second'), mime: 'image/png', detectedExt: 'png' },
          metadata: metadataFailed('second'),
          thumbnail: thumbnailDone('second', [{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }]),
        },
        { fileId: second.fileId, to: 'thumbnailed', flags: ['ext-mismatch', 'exif-preview-thumbnail'] },
      );
      expect(await rows(second)).toEqual({
        file: { ...before.file, stage: 'thumbnailed', flags: ['ext-mismatch', 'exif-preview-thumbnail'], ...noFailure },
        content: before.content,
        pdq: efRows,
      });
    });

    it('a file resumed after an older attempt wrote identify only: the older identification stands, the rest lands', async () => {
      const f = await occurrence(freshCase(), 'resumed.png', 'rows a resumed file');
      const before = await rows(f);
      await index.setIdentification(f.sha256, identification('old'), { fileId: f.fileId, to: 'identified', flags: ['ext-mismatch'] });
      await analysePhoto(f, 'D', ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'], { ...identification('D'), mime: 'image/png' });
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'exif-preview-thumbnail'], ...noFailure },
        content: { ...before.content, ...analysedPhotoColumns('old', 'D') },
        pdq: efRows,
      });
    });

    it('audio: its metadata with noThumbnail makes the thumbnail n/a, no thumbnail tools, the file described', async () => {
      const f = await occurrence(freshCase(), 'memo.m4a', 'rows an audio file');
      const before = await rows(f);
      await index.setAnalysis(
        f.sha256,
        {
          identification: { mime: 'audio/mp4', detectedExt: 'm4a', kind: 'audio', tools: [{ name: 'file-type', version: 'E' }], findings: [] },
          metadata: { status: 'done', metadata: { durationSec: 2.5, raw: {} }, tools: [{ name: 'ffprobe', version: 'E' }], noThumbnail: true },
        },
        { fileId: f.fileId, to: 'described' },
      );
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'described', flags: [], ...noFailure },
        content: {
          ...before.content,
          mime: 'audio/mp4',
          detected_ext: 'm4a',
          kind: 'audio',
          metadata_status: 'done',
          metadata: { durationSec: 2.5, raw: {} },
          taken_at_utc: null,
          taken_at_local: null,
          taken_at_local_ts: null,
          taken_offset_minutes: null,
          gps_lat: null,
          gps_lon: null,
          make: null,
          model: null,
          duration_sec: 2.5,
          width: null,
          height: null,
          thumbnail_status: 'n/a',
          thumbnail_container: null,
          thumbnail_name: null,
          thumbnail_source: null,
          preview_container: null,
          preview_name: null,
          ...noFailure,
          tools: { identify: [{ name: 'file-type', version: 'E' }], metadata: [{ name: 'ffprobe', version: 'E' }] },
          findings: [],
        },
        pdq: [],
      });
    });

    it('a file failed already: its content is analysed, the file keeps its failure and gets no flags', async () => {
      const f = await occurrence(freshCase(), 'given-up.png', 'rows a failed file');
      await index.failFile(f.fileId, { stage: 'identify', code: 'dead-lettered', detail: 'given up' });
      const before = await rows(f);
      await analysePhoto(f, 'G', ['ext-mismatch', 'exif-preview-thumbnail']);
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'failed', flags: [], failure_stage: 'identify', failure_code: 'dead-lettered', failure_detail: 'given up' },
        content: { ...before.content, ...analysedPhotoColumns('G', 'G') },
        pdq: efRows,
      });
    });

    it('pdq-replaced-by-a-write-that-recorded-only-the-metadata: a thumbnail recorded before keeps its PDQ rows when this write records the metadata alone', async () => {
      const f = await occurrence(freshCase(), 'half.jpg', 'rows a thumbnail recorded before');
      // Another occurrence's attempt recorded the thumbnail (and its hash), not the metadata.
      await index.setThumbnail(f.sha256, thumbnailDone('old', [{ frame: 0, hash: '11'.repeat(32), quality: 10 }]));
      const before = await rows(f);
      expect(before.content).toMatchObject({ metadata_status: 'pending', thumbnail_status: 'done' });
      await index.setAnalysis(
        f.sha256,
        { metadata: metadataDone('H'), thumbnail: thumbnailDone('H', [{ frame: 0, hash: 'ab'.repeat(32), quality: 90 }, { frame: 1, hash: 'cd'.repeat(32), quality: 80 }]) },
        { fileId: f.fileId, to: 'thumbnailed' },
      );
      expect(await rows(f)).toEqual({
        file: { ...before.file, stage: 'thumbnailed', flags: [], ...noFailure },
        content: {
          ...before.content,
          ...photoColumns('done'),
          ...thumbnailColumns('old'),
          tools: { metadata: [{ name: 'exifr', version: 'H' }], thumbnail: [{ name: 'sharp', version: 'old' }] },
          findings: [{ flag: 'no-content', detail: 'th-old' }],
        },
        pdq: [{ frame: 0, bits: '00010001'.repeat(32), quality: 10, timeMs: null }],
      });
    });
  });

  describe('evidence status', () => {
    it('is null for evidence nobody uploaded', async () => {
      expect(await index.evidenceStatus(freshCase(), 'nothing')).toBeNull();
    });

    it('follows one evidence item to completion, counting every stage', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'holiday.zip');
      await index.recordUpload(up);
      let status = await index.evidenceStatus(c, 'ev1');
      // Uploaded, root file not yet recorded: not complete even with nothing pending among files.
      expect(status?.complete).toBe(false);
      expect(await index.hasPendingWork(c, 'ev1')).toBe(true);

      const root = rootFile(up);
      await index.insertFiles([root]);
      await index.recordUploadHashes(up.blobName, hashesOf('holiday'), 'mismatch', ['sha256']);
      await index.advanceFile(root.fileId, 'identified');
      await index.setUnpack(root.fileId, 'pending');
      await index.advanceFile(root.fileId, 'indexed');
      status = await index.evidenceStatus(c, 'ev1');
      expect(status?.complete).toBe(false);
      expect(await index.hasPendingWork(c, 'ev1')).toBe(true);

      const jpg = member(root, 0, 'IMG_1.jpg');
      const fake = member(root, 1, 'invoice.pdf', { flags: ['ext-mismatch'] });
      const dir = member(root, 2, 'sub/', { entryKind: 'directory', sha256: null, size: null, stage: 'indexed' });
      const locked = member(root, 3, 'secret.txt', { sha256: null, flags: ['encrypted'], stage: 'failed', failure: { stage: 'unpack', code: 'encrypted', detail: 'AES-256 entry' } });
      const broken = member(root, 4, 'broken.png');
      await index.insertFiles([jpg, fake, dir, locked, broken]);
      await index.setUnpack(root.fileId, 'done', 5);
      status = await index.evidenceStatus(c, 'ev1');
      expect(status?.complete).toBe(false);
      expect(status?.files).toEqual({ total: 6, byStage: { pending: 3, identified: 0, described: 0, thumbnailed: 0, indexed: 2, failed: 1 } });

      const fakeContent = { ...hashesOf(`${root.fileId}/invoice.pdf`), size: 101, source: fake.source! };
      await index.ensureContent(fakeContent);
      await index.setIdentification(fakeContent.sha256, { mime: 'image/png', detectedExt: 'png', kind: 'image', tools: [] });
      await index.advanceFile(jpg.fileId, 'indexed');
      await index.advanceFile(fake.fileId, 'described');
      await index.failFile(broken.fileId, { stage: 'identify', code: 'corrupt-file', detail: 'zero bytes' });
      status = await index.evidenceStatus(c, 'ev1');
      expect(status?.stages).toEqual({
        hash: { done: 1, failed: 0, pending: 0 },
        // root, jpg, fake, dir done; locked (failed at unpack) passed identify; broken failed it.
        identify: { done: 5, failed: 1, pending: 0 },
        unpack: { done: 1, failed: 0, pending: 0 },
        metadata: { done: 4, failed: 2, pending: 0 },
        thumbnail: { done: 3, failed: 2, pending: 1 },
        index: { done: 3, failed: 2, pending: 1 },
      });
      expect(status?.complete).toBe(false);
      expect(await index.hasPendingWork(c, 'ev1')).toBe(true);

      await index.advanceFile(fake.fileId, 'indexed');
      status = await index.evidenceStatus(c, 'ev1');
      expect(status?.complete).toBe(true);
      expect(await index.hasPendingWork(c, 'ev1')).toBe(false);
      expect(status?.uploads.map((u) => u.blobName)).toEqual([up.blobName]);
      expect(status?.failures).toEqual([
        { fileId: broken.fileId, path: broken.path, stage: 'identify', code: 'corrupt-file', detail: 'zero bytes' },
        { fileId: locked.fileId, path: locked.path, stage: 'unpack', code: 'encrypted', detail: 'AES-256 entry' },
      ]);
      expect(status?.findings.map((f) => [f.path, f.flag])).toEqual([
        ['holiday.zip', 'hash-mismatch'],
        [fake.path, 'ext-mismatch'],
        [locked.path, 'encrypted'],
      ]);
      const ext = status?.findings.find((f) => f.flag === 'ext-mismatch');
      expect(ext?.detail).toContain('.pdf');
      expect(ext?.detail).toContain('png');
      expect(status?.findings[0]?.detail).toContain('sha256');
    });

    it('lists evidence with counts and completeness, per case or for all', async () => {
      const c = freshCase();
      const a = newUpload(c, 'ev-a', 'a.bin');
      const b1 = newUpload(c, 'ev-b', 'b1.bin');
      const b2 = newUpload(c, 'ev-b', 'b2.bin');
      for (const u of [a, b1, b2]) await index.recordUpload(u);
      await index.insertFiles([rootFile(a, { stage: 'indexed' }), rootFile(b1), rootFile(b2, { stage: 'indexed' })]);
      await index.recordUploadHashes(a.blobName, hashesOf('a'), 'verified', []);
      const list = await index.listEvidence(c);
      expect(list).toEqual([
        { caseId: c, evidenceId: 'ev-a', uploads: 1, files: 1, complete: true },
        { caseId: c, evidenceId: 'ev-b', uploads: 2, files: 2, complete: false },
      ]);
      const other = freshCase();
      await index.recordUpload(newUpload(other, 'ev-z', 'z.bin'));
      const everything = await index.listEvidence();
      expect(everything.filter((e) => e.caseId === c || e.caseId === other).map((e) => `${e.caseId}/${e.evidenceId}`)).toEqual([
        `${c}/ev-a`,
        `${c}/ev-b`,
        `${other}/ev-z`,
      ]);
      expect(await index.listEvidence(freshCase())).toEqual([]);
    });

    it('counts a file created as indexed (never to be processed) as done for every stage', async () => {
      const c = freshCase();
      const up = newUpload(c, 'ev1', 'link.zip');
      await index.recordUpload(up);
      const root = rootFile(up, { stage: 'indexed' });
      const link: NewFile = member(root, 0, 'l', { entryKind: 'symlink', sha256: null, stage: 'indexed', flags: ['link'] });
      const skipped: NewFile = member(root, 1, 'deep.zip', { stage: 'indexed', flags: ['not-unpacked-depth'] });
      await index.insertFiles([root, link, skipped]);
      await index.recordUploadHashes(up.blobName, hashesOf('l'), 'no-reference', []);
      const status = await index.evidenceStatus(c, 'ev1');
      for (const s of ['identify', 'metadata', 'thumbnail', 'index'] as const) expect(status?.stages[s]).toEqual({ done: 3, failed: 0, pending: 0 });
      expect(status?.complete).toBe(true);
    });
  });
});
