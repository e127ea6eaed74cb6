import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, memberFileId, rootFileId, type FileMessage, type HashMessage, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { detectArchiveFormat } from '../src/archive/open-archive.js';
import { AFTER_UNPACK_KEY, UNPACK_BATCH_SIZE } from '../src/unpack.stage.js';
import { runDeadLetter, runIngest, runMessage } from '../src/stage-runner.js';
import { hasTool, mbrSector, pseudoRandom, run, SECTOR, writeDynamicVhd, writeFixedVhd } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { zipOf, tarOf } from './fixtures/archives/archive-fixtures.js';
import { countingReads, createHarness, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * An uploaded archive is hashed and unpacked in the same read of its blob
 * (issue 12): through the stage runner, against Azurite and PGlite, with the
 * real identifier. The hash stage leaves the archive to unpack, whose single
 * read records the upload's hashes (integrity, custody once) and its members;
 * the archive then goes on to analyse. Bytes read from storage are counted.
 */
let h: Harness;
/** Body bytes of every blob read (streams and ranged reads both open a stream). */
const reads = { bytes: 0 };

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.blobs = countingReads(h.deps.blobs, reads);
  h.deps.identifier = new FileTypeIdentifier();
});

afterAll(async () => {
  await h?.close();
});

const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });

async function upload(fileName: string, data: Buffer, acquisitionSha256?: string): Promise<HashMessage> {
  const caseId = 'case-1';
  const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
  const blobName = `${caseId}/${evidenceId}/${fileName}`;
  await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, {
    metadata: { acquisition_sha256: acquisitionSha256 ?? sha256(data) },
  });
  await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
  return { caseId, evidenceId, blobName, fileId: rootFileId(blobName) };
}

async function deliver(queue: 'hash' | 'unpack', body: FileMessage | HashMessage, options: { abortSignal?: AbortSignal; deliveryCount?: number } = {}): Promise<StageOutcome> {
  return runMessage(h.deps, queue, { body, messageId: `${queue}:${body.fileId}`, deliveryCount: options.deliveryCount ?? 1 }, { ...inv(), ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
}

const sentFor = (queue: string, fileId: string) =>
  h.bus.sent.filter((s) => s.queue === queue && (s.message.body as { fileId?: string; fileIds?: string[] }).fileId === fileId);
const custodyOf = (evidenceId: string, action: string) => h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === action);

const photos = (n: number, bytes = 200_000) => Array.from({ length: n }, (_, i) => ({ name: `DCIM/IMG_${i}.jpg`, data: randomBytes(bytes + i), compress: false }));

describe('an uploaded archive hashed in its unpack\'s read', () => {
  it('ZIP: hash leaves it to unpack, which hashes every byte once, records members, integrity and custody once, and sends it to analyse', async () => {
    const members = photos(20);
    const zip = await zipOf(members);
    const message = await upload('phone.zip', zip);
    const before = reads.bytes;

    expect(await deliver('hash', message)).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    expect(sentFor('unpack', message.fileId)).toHaveLength(1);
    expect(sentFor('analyse', message.fileId)).toHaveLength(0);
    expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
    // Identified from a bounded head (and tail) read, not hashed.
    expect(reads.bytes - before).toBeLessThan(200_000);

    const outcome = await deliver('unpack', message);
    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 20, failedMembers: 0 } });
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toEqual({
      md5: createHash('md5').update(zip).digest('hex'),
      sha1: createHash('sha1').update(zip).digest('hex'),
      sha256: sha256(zip),
    });
    const root = (await h.index.getFile(message.fileId))!;
    expect(root).toMatchObject({ sha256: sha256(zip), size: zip.length, stage: 'pending', unpack: 'done', memberCount: 20 });
    const children = await h.index.listChildren(message.fileId);
    expect(children.map((c) => c.sha256).sort()).toEqual(members.map((m) => sha256(m.data)).sort());
    // The whole pass (identification, hash and unpack) read the blob about once.
    expect((reads.bytes - before) / zip.length).toBeLessThan(1.2);

    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')[0]).toMatchObject({ subject: { fileId: message.fileId, sha256: sha256(zip) }, details: { integrity: 'verified' } });
    const unpacked = custodyOf(message.evidenceId, 'unpacked');
    expect(unpacked).toHaveLength(1);
    expect(unpacked[0]).toMatchObject({ subject: { fileId: message.fileId, sha256: sha256(zip) }, details: { memberCount: 20, uploadHashedInThisRead: true } });
    // On to analyse (the archive itself was not identified yet), once, under its usual id.
    expect(sentFor('analyse', message.fileId).map((s) => s.message.messageId)).toEqual([`analyse:${message.fileId}`]);

    // Redelivered: nothing is done again; each routes again (the crash may have come before its send).
    expect(await deliver('unpack', message)).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(sentFor('analyse', message.fileId)).toHaveLength(2);
    expect(await deliver('hash', message)).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
  });

  it('TAR: the same, and a mismatch found at the end of the read is recorded loudly while the members stay', async () => {
    const members = photos(6);
    const tar = await tarOf(members);
    const message = await upload('card.tar', tar, sha256(Buffer.from('what the examiner declared')));
    await deliver('hash', message);
    const before = reads.bytes;
    const outcome = await deliver('unpack', message);
    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'tar', memberCount: 6 } });
    expect(reads.bytes - before).toBe(tar.length);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up).toMatchObject({ integrity: 'mismatch', mismatches: ['sha256'] });
    expect(custodyOf(message.evidenceId, 'integrity-mismatch')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(0);
    // The members recorded before the verdict stay; their upload's integrity is the item's verdict.
    const children = await h.index.listChildren(message.fileId);
    expect(children.filter((c) => c.stage === 'pending')).toHaveLength(6);
  });

  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire', 'ewfverify'].every(hasTool))(
    'E01: hash leaves it to unpack, whose one read in order gives the upload\'s hashes, the files and the stored-hash check (media hashed as the listing reads it)',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-e01-one-pass-'));
      try {
        // Incompressible photos written one after another: the listing reads them in media order.
        const files = Array.from({ length: 6 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_000${i}.JPG`, bytes: pseudoRandom(400_000 + i, 1500 + i), modified: new Date('2025-06-01T14:30:10Z') }));
        const card = buildMemoryCard(dir, files, [], { sizeKiB: 34_000 });
        const e01 = readFileSync(card.e01);
        const ewfverify = run('ewfverify', ['-q', card.e01]).toString();
        const message = await upload('card.E01', e01);
        const before = reads.bytes;

        expect(await deliver('hash', message)).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
        expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
        const outcome = await deliver('unpack', message);
        expect(outcome).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });

        const up = (await h.index.getUpload(message.blobName))!;
        expect(up.integrity).toBe('verified');
        expect(up.hashes).toEqual({ md5: createHash('md5').update(e01).digest('hex'), sha1: createHash('sha1').update(e01).digest('hex'), sha256: sha256(e01) });
        const image = (await h.index.getDiskImage(message.fileId))!;
        expect(image.integrity).toBe('verified');
        expect(ewfverify).toContain(image.computedHashes!.md5);
        const children = await h.index.listChildren(message.fileId);
        expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort()).toEqual(files.map((f) => sha256(f.bytes)).sort());
        // Identification, the upload's hashes, the listing and the stored-hash check: the E01 read about once (it was 3.1 times).
        expect((reads.bytes - before) / e01.length).toBeLessThan(1.3);
        expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
        expect(custodyOf(message.evidenceId, 'image-hash-verified')).toHaveLength(1);
        expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
        expect(sentFor('analyse', message.fileId)).toHaveLength(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].every(hasTool))(
    'raw, fixed VHD and dynamic VHD: hash leaves each to unpack, whose one read gives the upload\'s hashes and every file, even past a gap the listing jumps',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-raw-one-pass-'));
      try {
        // A disk whose one partition (a FAT32 card) starts 20 MiB in, after old bytes no table describes: the listing's
        // first file lies far past the single read's look-ahead, so the read must move forward to it (hashing the gap)
        // rather than read the files on the side and all of them again when it drains.
        const shots = Array.from({ length: 6 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_000${i}.JPG`, bytes: pseudoRandom(4_000_000 + i, 1600 + i), modified: new Date('2025-06-01T14:30:10Z') }));
        const card = buildMemoryCard(dir, shots, []);
        const gapBytes = 20 * 1024 * 1024;
        const partition = readFileSync(card.raw);
        const disk = Buffer.concat([mbrSector([{ type: 0x0c, startSector: gapBytes / SECTOR, sectors: partition.length / SECTOR }]), pseudoRandom(gapBytes - SECTOR, 99), partition]);
        writeFileSync(path.join(dir, 'disk.img'), disk);
        writeFixedVhd(path.join(dir, 'disk.img'), path.join(dir, 'disk-fixed.vhd'));
        writeDynamicVhd(path.join(dir, 'disk.img'), path.join(dir, 'disk-dynamic.vhd'));
        const wanted = shots.map((f) => sha256(f.bytes)).sort();
        for (const name of ['disk.img', 'disk-fixed.vhd', 'disk-dynamic.vhd']) {
          const image = readFileSync(path.join(dir, name));
          const message = await upload(name, image);
          const before = reads.bytes;
          expect(await deliver('hash', message), name).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
          expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
          expect(await deliver('unpack', message), name).toMatchObject({ status: 'done', summary: { format: 'disk-image', memberCount: 8, failedMembers: 0 } });

          const up = (await h.index.getUpload(message.blobName))!;
          expect(up.integrity, name).toBe('verified');
          expect(up.hashes).toEqual({ md5: createHash('md5').update(image).digest('hex'), sha1: createHash('sha1').update(image).digest('hex'), sha256: sha256(image) });
          const children = await h.index.listChildren(message.fileId);
          expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort(), name).toEqual(wanted);
          // Identification, the upload's hashes and every file: the image read about once (it was 1 + the files' share, 1.4 here).
          expect((reads.bytes - before) / image.length, name).toBeLessThan(1.2);
          expect(custodyOf(message.evidenceId, 'integrity-verified'), name).toHaveLength(1);
          expect(custodyOf(message.evidenceId, 'unpacked')[0], name).toMatchObject({ details: { memberCount: 8, uploadHashedInThisRead: true } });
          expect(sentFor('analyse', message.fileId), name).toHaveLength(1);

          // Redelivered (a crash after the end): nothing read or recorded again.
          const again = reads.bytes;
          expect(await deliver('unpack', message)).toEqual({ status: 'skipped', reason: 'already-done' });
          expect(await deliver('hash', message)).toEqual({ status: 'skipped', reason: 'already-done' });
          expect(reads.bytes).toBe(again);
          expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
          expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );

  it('hashes anything else in the hash stage, as before', async () => {
    const text = Buffer.from('witness statement\n');
    const message = await upload('statement.txt', text);
    expect(await deliver('hash', message)).toMatchObject({ status: 'done', summary: { integrity: 'verified', sha256: sha256(text) } });
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
    expect(sentFor('unpack', message.fileId)).toHaveLength(0);
    expect((await h.index.getFile(message.fileId))!.unpack).toBe('n/a');
  });

  it('resumes after an unpack cut off midway: members once, the hash from a second read of every byte, custody once', async () => {
    // More than one hand-off batch (UNPACK_BATCH_SIZE members), so the cut falls between two.
    const members = photos(UNPACK_BATCH_SIZE + 50, 20_000);
    const zip = await zipOf(members);
    const message = await upload('resume.zip', zip);
    await deliver('hash', message);
    // A shutdown after a few members: the unpack throws (retryable) and keeps what it recorded.
    const controller = new AbortController();
    const handOff = h.bus.send.bind(h.bus);
    let sends = 0;
    h.bus.send = async (queue, messages) => {
      await handOff(queue, messages);
      if (queue === 'analyse' && ++sends === 1) controller.abort(new Error('shutdown'));
    };
    const beforeFirst = reads.bytes;
    try {
      await expect(deliver('unpack', message, { abortSignal: controller.signal })).rejects.toBeDefined();
    } finally {
      h.bus.send = handOff;
    }
    const kept = await h.index.listChildren(message.fileId);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(members.length);
    expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');

    const beforeSecond = reads.bytes;
    const outcome = await deliver('unpack', message, { deliveryCount: 2 });
    expect(outcome).toMatchObject({ status: 'done', summary: { memberCount: members.length, failedMembers: 0 } });
    // The resumed pass reads the blob from its start again for the hash: about once more, never twice.
    expect((reads.bytes - beforeSecond) / zip.length).toBeLessThan(1.2);
    expect(reads.bytes - beforeFirst).toBeGreaterThan(zip.length);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes!.sha256).toBe(sha256(zip));
    const children = await h.index.listChildren(message.fileId);
    expect(children.map((c) => c.fileId).sort()).toEqual(members.map((_, i) => memberFileId(message.fileId, i)).sort());
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
  });

  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].every(hasTool))(
    'raw-image-gzip-magic-not-unpacked: a raw image whose first sector looks like a gzip or a TAR header to the first bytes is unpacked as the disk the hash stage identified, its file system listed',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-raw-magic-'));
      try {
        const shots = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_000${i}.JPG`, bytes: pseudoRandom(300_000 + i, 1700 + i), modified: new Date('2025-06-01T14:30:10Z') }));
        const card = buildMemoryCard(dir, shots, []);
        const partition = readFileSync(card.raw);
        const startSector = 2048;
        const wanted = shots.map((f) => sha256(f.bytes)).sort();
        // Boot code is anything. To the first-bytes check (detectArchiveFormat) 1f 8b is a TAR.GZ (the identifier wants 1f 8b 08),
        // and a sector whose checksum field matches is a TAR header (the identifier also wants 'ustar' or zeros at 257).
        const gzipLike = mbrSector([{ type: 0x0c, startSector, sectors: partition.length / SECTOR }]);
        Buffer.from([0x1f, 0x8b, 0x00]).copy(gzipLike, 0);
        const tarLike = mbrSector([{ type: 0x0c, startSector, sectors: partition.length / SECTOR }]);
        tarLike.write('boot', 257, 'latin1');
        tarLike.fill(0x20, 148, 156);
        tarLike.write(`${tarLike.reduce((n, b) => n + b, 0).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
        expect(detectArchiveFormat(gzipLike, null)).toBe('tar.gz');
        expect(detectArchiveFormat(tarLike, null)).toBe('tar');
        for (const [name, mbr] of [['gzip-like.img', gzipLike], ['tar-like.img', tarLike]] as const) {
          const image = Buffer.concat([mbr, Buffer.alloc(startSector * SECTOR - SECTOR), partition]);
          const message = await upload(name, image);
          expect(await deliver('hash', message), name).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
          expect(await deliver('unpack', message), name).toMatchObject({ status: 'done', summary: { format: 'disk-image', memberCount: 5, failedMembers: 0 } });
          expect(await h.index.getFile(message.fileId), name).toMatchObject({ unpack: 'done', stage: 'pending' });
          const up = (await h.index.getUpload(message.blobName))!;
          expect(up, name).toMatchObject({ integrity: 'verified', hashes: { sha256: sha256(image) } });
          const children = await h.index.listChildren(message.fileId);
          expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort(), name).toEqual(wanted);
          expect(custodyOf(message.evidenceId, 'unpacked')[0], name).toMatchObject({ details: { uploadHashedInThisRead: true } });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );

  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].every(hasTool))(
    'a raw image whose unpack is cut off midway (a shutdown) resumes on redelivery: members once, its hash from the new read, custody once',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-raw-resume-'));
      try {
        // More files than one hand-off batch (UNPACK_BATCH_SIZE), so the cut falls between two.
        const files = Array.from({ length: UNPACK_BATCH_SIZE + 40 }, (_, i) => ({ path: `DCIM/F${String(i).padStart(4, '0')}.BIN`, bytes: pseudoRandom(20_000 + i, 3000 + i), modified: new Date('2025-06-01T14:30:10Z') }));
        const card = buildMemoryCard(dir, files, []);
        const image = readFileSync(card.raw);
        const message = await upload('resume.img', image);
        expect(await deliver('hash', message)).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
        const controller = new AbortController();
        const handOff = h.bus.send.bind(h.bus);
        let sends = 0;
        h.bus.send = async (queue, messages) => {
          await handOff(queue, messages);
          if (queue === 'analyse' && ++sends === 1) controller.abort(new Error('shutdown'));
        };
        try {
          await expect(deliver('unpack', message, { abortSignal: controller.signal })).rejects.toBeDefined();
        } finally {
          h.bus.send = handOff;
        }
        const kept = await h.index.listChildren(message.fileId);
        expect(kept.length).toBeGreaterThan(0);
        expect(kept.length).toBeLessThan(files.length);
        expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
        expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(0);

        const before = reads.bytes;
        expect(await deliver('unpack', message, { deliveryCount: 2 })).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });
        // The resumed read hashes the whole blob again from its start: about once, never twice.
        expect((reads.bytes - before) / image.length).toBeLessThan(1.2);
        const up = (await h.index.getUpload(message.blobName))!;
        expect(up).toMatchObject({ integrity: 'verified', hashes: { sha256: sha256(image) } });
        const children = await h.index.listChildren(message.fileId);
        const ids = children.map((c) => c.fileId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort()).toEqual(files.map((f) => sha256(f.bytes)).sort());
        expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
        expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );

  it('records evidence-changed once when the blob changes under the read: upload and archive failed, unpack stopped with that reason', async () => {
    const zip = await zipOf(photos(8));
    const message = await upload('swapped.zip', zip);
    await deliver('hash', message);
    // The bytes under the name change after receipt (another ETag).
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: message.blobName }, await zipOf(photos(8)));
    const outcome = await deliver('unpack', message);
    expect(outcome).toMatchObject({ status: 'failed', code: 'evidence-changed' });
    // No hash is recorded for bytes that are not the ones received; the upload's hash failed (as in the hash stage).
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toBeNull();
    expect(up.integrity).not.toMatch(/verified|mismatch/);
    const root = (await h.index.getFile(message.fileId))!;
    expect(root).toMatchObject({ stage: 'failed', failure: { code: 'evidence-changed' }, unpack: 'failed' });
    expect(custodyOf(message.evidenceId, 'evidence-changed')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')[0]).toMatchObject({ details: { stoppedBy: { code: 'evidence-changed', reason: 'evidence-changed' } } });
    // Nothing goes on from a failed upload, and a redelivery records nothing twice.
    expect(await deliver('unpack', message)).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(custodyOf(message.evidenceId, 'evidence-changed')).toHaveLength(1);
    expect(sentFor('analyse', message.fileId)).toHaveLength(0);
  });

  it('an unpack given up on after its read recorded the hash sends the archive itself on to analyse (not left to the watchdog)', async () => {
    const zip = await zipOf(photos(2));
    const message = await upload('late-dead.zip', zip);
    await deliver('hash', message);
    const unpackMessage = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    await deliver('unpack', unpackMessage);
    // The hash is recorded and the archive not yet identified: as if the forward after the read never got out.
    expect((await h.index.getUpload(message.blobName))!.integrity).toBe('verified');
    expect((await h.index.getFile(message.fileId))!.stage).toBe('pending');
    const sentBefore = h.bus.sent.length;
    await runDeadLetter(h.deps, 'unpack', { body: unpackMessage, messageId: `unpack:${message.fileId}`, reason: 'MaxDeliveryCountExceeded', description: 'test' }, inv());
    const after = h.bus.sent.slice(sentBefore);
    expect(after.filter((s) => s.queue === 'hash')).toHaveLength(0);
    expect(after.filter((s) => s.queue === 'analyse' && JSON.stringify(s.message.body).includes(message.fileId))).toHaveLength(1);
  });

  it('a dead-lettered unpack sends the upload back to hash under its own message id, which hashes it there', async () => {
    const zip = await zipOf(photos(3));
    const message = await upload('dead.zip', zip);
    await deliver('hash', message);
    const sentBefore = h.bus.sent.length;
    await runDeadLetter(h.deps, 'unpack', { body: { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId }, messageId: `unpack:${message.fileId}`, reason: 'MaxDeliveryCountExceeded', description: 'test' }, inv());
    expect((await h.index.getFile(message.fileId))!).toMatchObject({ unpack: 'failed', stage: 'pending' });
    const again = h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'hash');
    expect(again.map((s) => s.message.messageId)).toEqual([`hash:${message.fileId}:${AFTER_UNPACK_KEY}`]);
    expect(await deliver('hash', again[0]!.message.body as HashMessage)).toMatchObject({ status: 'done', summary: { integrity: 'verified', sha256: sha256(zip) } });
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
  });
});
