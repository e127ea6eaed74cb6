import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES, filesOf, memberFileId, type FileRecord, type FileWorkMessage, volumeNoteOf } from '@exhibit/core';
import { hasTool, mbrSector, run, SECTOR, writeDynamicVhd, writeFixedVhd } from '../src/disk/test-support/disk-image.builder.js';
import { buildExt4, buildMemoryCard, CARD_HEADER, offsetInImage, tamperEwfMedia, type CardPhoto } from '../src/disk/test-support/memory-card.builder.js';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { addArchive, createHarness, sha256, unpackStage, useRealCustody, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The unpack stage on disk images (Azurite + PGlite): an E01 of a FAT32
 * memory card and the same card raw, an ext4 volume, a tampered E01, an
 * unsupported EWF 2 and a card whose second partition is hostile. Members are
 * checked against the bytes written to the card; the raw image's files must be
 * spans of the evidence blob, the E01's copies in derived/.
 */

const TOOLS = ['mkfs.fat', 'mmd', 'mcopy', 'mdel', 'ewfacquire', 'mke2fs', 'debugfs', 'unzip'];
const missing = TOOLS.filter((t) => !hasTool(t));
const SAMPLE_ZIP = path.resolve(import.meta.dirname, '../../../samples/extraction/DEMO-2026-001/EX01/phone-extraction.zip');

const photo = (member: string, cardPath: string, modified: string): CardPhoto => ({
  path: cardPath,
  bytes: run('unzip', ['-p', SAMPLE_ZIP, member]),
  modified: new Date(modified),
});

describe.skipIf(missing.length > 0)(`unpack stage on disk images${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`, () => {
  let h: Harness;
  let dir: string;
  let photos: CardPhoto[];
  let card: ReturnType<typeof buildMemoryCard>;

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-disk-unpack-'));
    photos = [
      photo('DCIM/Camera/IMG_0001.JPG', 'DCIM/100MEDIA/IMG_0001.JPG', '2025-06-01T14:30:10Z'),
      photo('DCIM/Camera/IMG_0002.JPG', 'DCIM/100MEDIA/IMG_0002.JPG', '2025-06-07T16:45:20Z'),
      photo('DCIM/Camera/PXL_20250604_081500123.jpg', 'DCIM/100MEDIA/PXL_20250604_081500123.jpg', '2025-06-04T08:15:02Z'),
    ];
    card = buildMemoryCard(dir, photos, ['DCIM/100MEDIA/IMG_0002.JPG']);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function unpack(fileName: string, data: Buffer, mime: string) {
    const archive = await addArchive(h, fileName, data, { mime });
    const outcome = await unpackStage(h.deps, archive, h.ctx);
    const parent = (await h.index.getFile(archive.fileId))!;
    const members = (await h.index.listChildren(archive.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
    const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
    const stop = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
    return { archive, outcome, parent, members, stop, status, image: await h.index.getDiskImage(archive.fileId) };
  }

  const byPath = (members: FileRecord[]) => new Map(members.map((m) => [m.path, m]));

  it('E01 of a FAT32 card: every file a member with its path and FAT times (local, unshifted), the deleted photo flagged and recovered, copies in derived/, the stored hashes verified', async () => {
    const data = readFileSync(card.e01);
    const { archive, outcome, parent, members, image } = await unpack('card.E01', data, DISK_IMAGE_MIMES.ewf);
    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });
    expect(parent.unpack).toBe('done');
    const files = byPath(members);
    expect([...files.keys()].sort()).toEqual(
      ['card.E01!/DCIM', 'card.E01!/DCIM/100MEDIA', 'card.E01!/DCIM/100MEDIA/IMG_0001.JPG', 'card.E01!/DCIM/100MEDIA/_MG_0002.JPG', 'card.E01!/DCIM/100MEDIA/PXL_20250604_081500123.jpg'].sort(),
    );
    for (const [i, p] of photos.entries()) {
      const shown = i === 1 ? 'card.E01!/DCIM/100MEDIA/_MG_0002.JPG' : `card.E01!/${p.path}`;
      const m = files.get(shown)!;
      expect(m.sha256, shown).toBe(sha256(p.bytes));
      expect(m.size).toBe(p.bytes.length);
      expect(m.stage).toBe('pending');
      // EWF data is never a span: the member is a copy in derived/.
      expect(m.source?.container).toBe(h.deps.containers.derived);
      expect(m.source?.offset).toBeUndefined();
      // FAT records the writer's wall clock (the card was written with TZ=UTC), kept local with no offset.
      expect(m.archiveTimes.modified).toMatchObject({ local: p.modified.toISOString().slice(0, 19), offsetMinutes: null, utc: null });
      expect(m.flags.includes('deleted'), shown).toBe(i === 1);
      expect(m.flags.includes('recovered'), shown).toBe(i === 1);
    }
    expect(files.get('card.E01!/DCIM')!.entryKind).toBe('directory');
    // Members are handed on to analysis like any archive's.
    const analysed = h.bus.sent.filter((s) => s.queue === 'analyse').flatMap((s) => filesOf(s.message.body as FileWorkMessage).map((f) => f.fileId));
    for (const m of members.filter((x) => x.entryKind === 'file')) expect(analysed).toContain(memberFileId(archive.fileId, m.entryIndex!));

    const raw = readFileSync(card.raw);
    expect(image).toMatchObject({
      format: 'ewf',
      mediaBytes: raw.length,
      integrity: 'verified',
      mismatches: [],
      storedHashes: { md5: createHash('md5').update(raw).digest('hex'), sha1: createHash('sha1').update(raw).digest('hex') },
      computedHashes: { md5: createHash('md5').update(raw).digest('hex'), sha1: createHash('sha1').update(raw).digest('hex'), sha256: sha256(raw) },
      ewfHeader: { caseNumber: CARD_HEADER.caseNumber, evidenceNumber: CARD_HEADER.evidenceNumber, examiner: CARD_HEADER.examiner, notes: CARD_HEADER.notes },
      volumes: [{ index: 0, scheme: 'none', fileSystem: 'fat32', problem: null, entries: 5 }],
    });
    expect((image!.ewfHeader as { acquisitionDate?: unknown }).acquisitionDate).toBeDefined();
    const check = h.custody.events.find((e) => e.eventKey === `image-hash:${archive.fileId}`);
    expect(check).toMatchObject({ action: 'image-hash-verified', details: { integrity: 'verified' } });
  });

  it('is idempotent: a redelivery changes nothing and records nothing twice', async () => {
    const data = readFileSync(card.e01);
    const first = await unpack('again.E01', data, DISK_IMAGE_MIMES.ewf);
    await h.index.setUnpack(first.archive.fileId, 'pending');
    const sentBefore = h.bus.sent.length;
    const custodyBefore = h.custody.events.length;
    await unpackStage(h.deps, first.archive, h.ctx);
    const members = (await h.index.listChildren(first.archive.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
    expect(members.map((m) => [m.fileId, m.sha256])).toEqual(first.members.map((m) => [m.fileId, m.sha256]));
    expect(h.custody.events.length).toBe(custodyBefore);
    // The pending members are handed on again (their analysis may not have been sent before a crash).
    expect(h.bus.sent.length).toBeGreaterThanOrEqual(sentBefore);
  });

  it('raw image: a file contiguous in the image is a span of the evidence blob, not a copy', async () => {
    const raw = readFileSync(card.raw);
    const { outcome, members, image } = await unpack('card.img', raw, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'done' });
    const m = members.find((x) => x.name === 'IMG_0001.JPG')!;
    expect(m.source?.container).toBe(h.deps.containers.evidence);
    expect(m.source?.offset).toBe(offsetInImage(card.raw, photos[0]!.bytes));
    expect(raw.subarray(m.source!.offset!, m.source!.offset! + m.size!).equals(photos[0]!.bytes)).toBe(true);
    expect(image).toMatchObject({ format: 'raw', integrity: 'no-reference', ewfHeader: null });
  });

  it('VHD: a fixed disk\'s contiguous files are spans of the blob; a dynamic disk\'s are spans within one block, copies across blocks; all hash as the card', async () => {
    const fixed = path.join(dir, 'card-fixed.vhd');
    writeFixedVhd(card.raw, fixed);
    const f = await unpack('card-fixed.vhd', readFileSync(fixed), DISK_IMAGE_MIMES.vhd);
    expect(f.image?.format).toBe('vhd-fixed');
    const photoOf = (members: FileRecord[], p: CardPhoto) => members.find((m) => m.path.endsWith(`!/${p.path}`))!;
    expect(photoOf(f.members, photos[0]!).source).toMatchObject({ container: h.deps.containers.evidence, offset: offsetInImage(card.raw, photos[0]!.bytes) });
    const raw = readFileSync(card.raw);
    const live = photos.filter((p) => p.path !== 'DCIM/100MEDIA/IMG_0002.JPG');
    const seen = { spans: 0, copies: 0 };
    // 512 KiB blocks hold each photo whole; 8 KiB blocks (each photo is larger) never do.
    for (const blockBytes of [512 * 1024, 8 * 1024]) {
      const dynamic = path.join(dir, `card-dynamic-${blockBytes}.vhd`);
      writeDynamicVhd(card.raw, dynamic, blockBytes);
      const vhd = readFileSync(dynamic);
      const d = await unpack(`card-dynamic-${blockBytes}.vhd`, vhd, DISK_IMAGE_MIMES.vhd);
      expect(d.image?.format).toBe('vhd-dynamic');
      expect(f.members.map((m) => [m.path.split('!/')[1], m.sha256, m.flags])).toEqual(d.members.map((m) => [m.path.split('!/')[1], m.sha256, m.flags]));
      for (const p of live) {
        const at = offsetInImage(card.raw, p.bytes);
        const end = at + p.bytes.length;
        // In place only within one block whose sectors all hold data (the writer leaves all-zero sectors unallocated: they read as zeros).
        const sectorsHeld = Array.from({ length: Math.ceil(end / 512) - Math.floor(at / 512) }, (_, i) => raw.subarray((Math.floor(at / 512) + i) * 512, (Math.floor(at / 512) + i + 1) * 512)).every((s) => s.some((b) => b !== 0));
        const inPlace = Math.floor(at / blockBytes) === Math.floor((end - 1) / blockBytes) && sectorsHeld;
        const member = photoOf(d.members, p);
        if (inPlace) {
          seen.spans += 1;
          expect(member.source?.container, p.path).toBe(h.deps.containers.evidence);
          expect(vhd.subarray(member.source!.offset!, member.source!.offset! + member.size!).equals(p.bytes), p.path).toBe(true);
        } else {
          seen.copies += 1;
          expect(member.source?.container, p.path).toBe(h.deps.containers.derived);
        }
      }
    }
    expect(seen.spans).toBeGreaterThan(0);
    expect(seen.copies).toBeGreaterThan(0);
  });

  it('a raw image stored uncompressed in a ZIP: its files are spans of the ZIP blob, at the member\'s offset plus theirs', async () => {
    const raw = readFileSync(card.raw);
    const zip = await zipOf([{ name: 'README.txt', data: Buffer.from('seized card\n') }, { name: 'images/card.img', data: raw, compress: false }]);
    const outer = await unpack('extraction.zip', zip, 'application/zip');
    const inner = outer.members.find((m) => m.name === 'card.img')!;
    expect(inner.source?.offset).toBeGreaterThan(0);
    // As analyse would: the member is identified as a disk image and marked for unpacking.
    await h.index.setIdentification(inner.sha256!, { mime: DISK_IMAGE_MIMES.raw, detectedExt: 'img', kind: 'archive', tools: [] }, { fileId: inner.fileId, to: 'identified', unpack: 'pending', flags: [] });
    const outcome = await unpackStage(h.deps, { caseId: inner.caseId, evidenceId: inner.evidenceId, fileId: inner.fileId }, h.ctx);
    expect(outcome).toMatchObject({ status: 'done' });
    const photo = (await h.index.listChildren(inner.fileId)).find((m) => m.name === 'IMG_0001.JPG')!;
    expect(photo.path).toBe('extraction.zip!/images/card.img!/DCIM/100MEDIA/IMG_0001.JPG');
    expect(photo.depth).toBe(2);
    expect(photo.source).toMatchObject({ container: h.deps.containers.evidence, offset: inner.source!.offset! + offsetInImage(card.raw, photos[0]!.bytes) });
    expect(zip.subarray(photo.source!.offset!, photo.source!.offset! + photo.size!).equals(photos[0]!.bytes)).toBe(true);
  });

  it('ext4 volume: files with their paths and UTC times', async () => {
    const files = { 'photos/holiday.jpg': photos[0]!.bytes, 'notes.txt': Buffer.from('ext4 note\n') };
    const img = buildExt4(dir, { ...files, 'gone.txt': Buffer.from('deleted before seizure\n') });
    // Deleted as the kernel does it: the inode keeps its deletion time (dtime), which the member carries.
    const inode = /Inode: (\d+)/.exec(run('debugfs', ['-R', 'stat /gone.txt', img]).toString())![1]!;
    run('debugfs', ['-w', '-R', 'rm /gone.txt', img]);
    const dtime = Number.parseInt(/dtime: 0x([0-9a-f]+)/.exec(run('debugfs', ['-R', `stat <${inode}>`, img]).toString())![1]!, 16);
    const { outcome, members } = await unpack('stick.img', readFileSync(img), DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'done' });
    const found = byPath(members);
    expect(found.get('stick.img!/photos/holiday.jpg')?.sha256).toBe(sha256(photos[0]!.bytes));
    expect(found.get('stick.img!/notes.txt')?.sha256).toBe(sha256(files['notes.txt']));
    expect(found.get('stick.img!/photos/holiday.jpg')?.archiveTimes.modified?.offsetMinutes).toBe(0);
    expect(found.get('stick.img!/notes.txt')?.archiveTimes.deleted).toBeUndefined();
    const gone = found.get('stick.img!/gone.txt')!;
    expect(gone.flags).toContain('deleted');
    expect(gone.archiveTimes.deleted).toMatchObject({ utc: new Date(dtime * 1000).toISOString(), offsetMinutes: 0, source: 'ext:dtime' });
  });

  it('regression: volume-finding-worded-as-a-stop — a single ext4 volume cut short is failed with its finding, worded as a finding: every file listed, no "other volumes", no "before the stop"', async () => {
    // An acquisition of a 4 MiB stick that stopped at 3 MiB: the volume problem (the block count past the end) stops nothing.
    const files = { 'notes.txt': Buffer.from('kept before the cut\n'), 'photos/holiday.jpg': photos[0]!.bytes };
    const built = buildExt4(mkdtempSync(path.join(dir, 'ext-cut-')), files, 4096);
    const whole = readFileSync(built);
    // A 2 MiB video written after them (debugfs takes the free blocks after theirs) runs past the cut: the cut loses blocks in use.
    const video = path.join(dir, 'after-the-cut.mp4');
    writeFileSync(video, randomBytes(2 * 1024 * 1024));
    run('debugfs', ['-w', '-R', `write ${video} after-the-cut.mp4`, built]);
    const img = readFileSync(built).subarray(0, 3 * 1024 * 1024);
    const { outcome, members, stop, image } = await unpack('cut-stick.img', img, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(image?.volumes.map((v) => [v.index, v.fileSystem, v.problem?.code ?? null])).toEqual([[0, 'ext4', 'corrupt-file']]);
    const found = byPath(members);
    expect(found.get('cut-stick.img!/notes.txt')?.sha256).toBe(sha256(files['notes.txt']));
    expect(found.get('cut-stick.img!/photos/holiday.jpg')?.sha256).toBe(sha256(photos[0]!.bytes));
    expect(found.has('cut-stick.img!/after-the-cut.mp4')).toBe(true);
    // Before: "...; the image's other volumes were read (N members recorded before the stop; the other volumes were read in full)"
    // for an image of one volume whose listing had not stopped.
    expect(stop?.detail).toMatch(
      new RegExp(`^volume 0 \\(ext4\\): ext: the superblock declares 4096 blocks of 1024 bytes \\(4194304 bytes\\), past the end of the 3145728-byte volume[^;]*\\(its files were still listed\\) \\(${members.length} members recorded; every volume's listing ran to its end\\)$`),
    );
    // ext-volume-cut-short-free-space-fails-unpack: the same stick without the video, cut at 3 MiB, loses only free
    // blocks: done, no volume problem (before: failed corrupt-file with "the volume is cut short", as above).
    const free = await unpack('cut-free-stick.img', whole.subarray(0, 3 * 1024 * 1024), DISK_IMAGE_MIMES.raw);
    expect(free.outcome).toMatchObject({ status: 'done' });
    expect(free.image?.volumes.map((v) => [v.index, v.fileSystem, v.problem?.code ?? null])).toEqual([[0, 'ext4', null]]);
    expect(byPath(free.members).get('cut-free-stick.img!/photos/holiday.jpg')?.sha256).toBe(sha256(photos[0]!.bytes));
  });

  it('regression: fat-volume-cut-short-unreported — a FAT32 card cut short is failed with its finding, as ext: the photos before the cut are members, the volume says it is cut short', async () => {
    // Before: the stage completed with no word of the cut; only files past it had a problem, "beyond the volume".
    // Cut inside the last photo's data: the cut loses an in-use cluster (a cut in free space only is no finding, below).
    const last = offsetInImage(card.raw, photos[2]!.bytes);
    expect(last).toBeGreaterThan(offsetInImage(card.raw, photos[0]!.bytes));
    const img = readFileSync(card.raw).subarray(0, last + 100);
    const { outcome, members, stop, image } = await unpack('cut-card.img', img, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(image?.volumes.map((v) => [v.index, v.fileSystem, v.problem?.code ?? null])).toEqual([[0, 'fat32', 'corrupt-file']]);
    expect(byPath(members).get('cut-card.img!/DCIM/100MEDIA/IMG_0001.JPG')?.sha256).toBe(sha256(photos[0]!.bytes));
    expect(stop?.detail).toMatch(
      new RegExp(`^volume 0 \\(fat32\\): fat32: the boot sector declares 68000 sectors of 512 bytes \\(34816000 bytes\\), past the end of the ${last + 100}-byte volume: the volume is cut short[^;]*\\(its files were still listed\\)`),
    );
    // fat-volume-cut-short-free-space-fails-unpack: cut at 20 MiB, past every file's clusters, nothing is lost: done, no volume problem.
    const free = await unpack('cut-free-card.img', readFileSync(card.raw).subarray(0, 20 * 1024 * 1024), DISK_IMAGE_MIMES.raw);
    expect(free.outcome).toMatchObject({ status: 'done' });
    expect(free.image?.volumes.map((v) => [v.index, v.fileSystem, v.problem?.code ?? null])).toEqual([[0, 'fat32', null]]);
    expect(byPath(free.members).get('cut-free-card.img!/DCIM/100MEDIA/IMG_0001.JPG')?.sha256).toBe(sha256(photos[0]!.bytes));
    expect(byPath(free.members).get(`cut-free-card.img!/${photos[2]!.path}`)?.sha256).toBe(sha256(photos[2]!.bytes));
  });

  it('regression: fat-volume-cut-inside-fats-worded-files-listed — a FAT32 card whose image ends inside FAT #1 fails with the cut, worded as a listing that found nothing, not "its files were still listed"', async () => {
    const raw = readFileSync(card.raw);
    const reserved = raw.readUInt16LE(14);
    const img = raw.subarray(0, (reserved + 5) * 512);
    const { outcome, members, stop, image } = await unpack('fat-cut-card.img', img, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(members).toEqual([]);
    expect(image?.volumes.map((v) => [v.index, v.fileSystem, v.problem?.code ?? null, v.entries])).toEqual([[0, 'fat32', 'corrupt-file', 0]]);
    // Before: "... (its files were still listed) (0 members recorded; every volume's listing ran to its end)".
    expect(stop?.detail).toMatch(/inside FAT #1 of its 2 FATs [^;]*; the root directory and every cluster lie past the end;.* \(its listing ran to its end, and nothing of it could be listed\) \(0 members recorded; every volume's listing ran to its end\)$/);
    expect(stop?.detail).not.toMatch(/its files were still listed/);
  });

  it('regression: ewf-media-byte-flipped — an E01 whose media changed after acquisition is a mismatch, recorded and flagged; its files are still listed', async () => {
    const plain = mkdtempSync(path.join(dir, 'plain-'));
    const stored = buildMemoryCard(plain, photos, [], { compression: 'none' });
    const at = offsetInImage(stored.raw, photos[2]!.bytes) + 100;
    const tampered = path.join(plain, 'tampered.E01');
    tamperEwfMedia(stored.e01, stored.raw, tampered, at);
    const { archive, outcome, parent, members, image } = await unpack('tampered.E01', readFileSync(tampered), DISK_IMAGE_MIMES.ewf);
    expect(outcome).toMatchObject({ status: 'done' });
    expect(image).toMatchObject({ integrity: 'mismatch', mismatches: ['md5', 'sha1'] });
    expect(parent.flags).toContain('image-hash-mismatch');
    expect(h.custody.events.find((e) => e.eventKey === `image-hash:${archive.fileId}`)).toMatchObject({ action: 'image-hash-mismatch' });
    const changed = members.find((m) => m.name === photos[2]!.path.split('/').pop());
    expect(changed?.sha256).not.toBe(sha256(photos[2]!.bytes));
    expect(members.find((m) => m.name === 'IMG_0001.JPG')?.sha256).toBe(sha256(photos[0]!.bytes));
  });

  it('regression: ewf-damaged-chunk-check-unrecorded — an E01 with a byte of its media flipped and the chunk\'s Adler-32 left broken is recorded as damaged: custody entry with the stored hashes and the reason, finding on the image; the other files are still listed', async () => {
    // The realistic tamper (or bit rot): the chunk no longer matches the checksum the acquisition wrote. Before, the
    // check was recorded `failed` on the image alone: no custody entry, no flag or finding, status exit 0.
    const plain = mkdtempSync(path.join(dir, 'damaged-'));
    const stored = buildMemoryCard(plain, photos, [], { compression: 'none' });
    const at = offsetInImage(stored.raw, photos[2]!.bytes) + 100;
    const damaged = path.join(plain, 'damaged.E01');
    tamperEwfMedia(stored.e01, stored.raw, damaged, at, undefined, { checksum: 'left-broken' });
    const chunk = `EWF chunk ${Math.floor(at / (64 * SECTOR))}: Adler-32 mismatch`;
    // The real custody writer (it refuses an action it does not know), put back after.
    const recording = h.deps.custody;
    const custody = await useRealCustody(h, inject('storageConnectionString'), path.join(plain, 'key'));
    let unpacked: Awaited<ReturnType<typeof unpack>>;
    try {
      unpacked = await unpack('damaged.E01', readFileSync(damaged), DISK_IMAGE_MIMES.ewf);
    } finally {
      (h.deps as { custody: unknown }).custody = recording;
    }
    const { archive, outcome, parent, members, image, status } = unpacked;
    expect(outcome).toMatchObject({ status: 'done' });
    const raw = readFileSync(stored.raw);
    const storedHashes = { md5: createHash('md5').update(raw).digest('hex'), sha1: createHash('sha1').update(raw).digest('hex') };
    expect(image).toMatchObject({ integrity: 'failed', mismatches: [], computedHashes: null, storedHashes });
    expect(image!.integrityDetail).toBe(`the media could not be read whole to check the stored hashes: ${chunk}`);
    expect(parent.flags).toContain('image-media-damaged');
    expect(parent.flags).not.toContain('image-hash-mismatch');
    const entries = await custody.entries({ caseId: archive.caseId, fileId: archive.fileId });
    expect(entries.filter((e) => e.action.startsWith('image-'))).toEqual([
      expect.objectContaining({
        action: 'image-media-damaged',
        details: expect.objectContaining({ format: 'ewf', integrity: 'failed', mismatches: [], stored: storedHashes, computed: null, detail: image!.integrityDetail }),
      }),
    ]);
    expect(status!.findings).toEqual(expect.arrayContaining([expect.objectContaining({ fileId: archive.fileId, flag: 'image-media-damaged' })]));
    // The file on the bad chunk fails alone, with the reason; the others are listed with their right hashes.
    const hit = members.find((m) => m.name === photos[2]!.path.split('/').pop());
    expect(hit).toMatchObject({ stage: 'failed', failure: { code: 'corrupt-file' } });
    expect(hit!.failure!.detail).toContain(chunk);
    expect(members.find((m) => m.name === 'IMG_0001.JPG')?.sha256).toBe(sha256(photos[0]!.bytes));
  });

  it('EWF 2 (Ex01) is recognised and recorded as unsupported with that reason', async () => {
    const ex01 = Buffer.alloc(4096);
    Buffer.from([0x45, 0x56, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00]).copy(ex01);
    const { outcome, parent, members, stop } = await unpack('disk.Ex01', ex01, DISK_IMAGE_MIMES.ewf2);
    expect(outcome).toMatchObject({ status: 'failed', code: 'unsupported-format' });
    expect(parent.unpack).toBe('failed');
    expect(stop).toMatchObject({ code: 'unsupported-format', archive: { reason: 'unsupported' } });
    expect(stop?.detail).toContain('EWF version 2 (Ex01/Lx01) images are not supported');
    expect(members).toEqual([]);
  });

  it('regression: file-system-read-past-partition-entry-unrecorded — a FAT32 card in an MBR entry 1 MiB shorter than it is read on past the entry, and the image records a note saying so, the same on a second unpack; the unpack is done, the volume has no problem', async () => {
    const fat = readFileSync(card.raw);
    const first = 2048;
    const disk = Buffer.alloc(first * SECTOR + fat.length);
    fat.copy(disk, first * SECTOR);
    disk.set(mbrSector([{ type: 0x0c, startSector: first, sectors: fat.length / SECTOR - 2048 }]), 0);
    const entryBytes = fat.length - 2048 * SECTOR;
    const note = `mbr 0: note read-past-entry: volume 0: its fat file system declares ${fat.length} bytes, its partition entry ${entryBytes}: read on ${2048 * SECTOR} bytes past the entry (disk bytes ${first * SECTOR + entryBytes} to ${disk.length}), as TSK reads it; no other partition entry covers those bytes`;
    const notes: string[][] = [];
    for (const name of ['short-entry.img', 'short-entry-again.img']) {
      const { outcome, members, image, stop } = await unpack(name, disk, DISK_IMAGE_MIMES.raw);
      expect(stop).toBeUndefined();
      expect(outcome).toMatchObject({ status: 'done' });
      expect(members.find((m) => m.path === `${name}!/DCIM/100MEDIA/IMG_0001.JPG`)?.sha256).toBe(sha256(photos[0]!.bytes));
      expect(image?.volumes.map((v) => [v.index, v.fileSystem, v.problem])).toEqual([[0, 'fat32', null]]);
      notes.push(image!.volumeProblems);
    }
    // Before: [] — the volume read 1 MiB past its entry with nothing recorded.
    expect(notes).toEqual([[note], [note]]);
    // The stored text keeps the note's code, so status and API readers tell it from a volume problem.
    expect(volumeNoteOf(notes[0]![0]!)).toMatchObject({ where: 'mbr 0', code: 'read-past-entry' });
    expect(volumeNoteOf('mbr 1: partition 1 lies outside the disk')).toBeNull();
  });

  it('regression: hostile-second-partition — a volume whose superblock is absurd fails the image with a typed reason; the first volume is still read', async () => {
    // MBR: partition 1 is the card's FAT32 volume, partition 2 an ext4 volume whose superblock claims 0 blocks per group.
    const fat = readFileSync(card.raw);
    const ext = Buffer.from(readFileSync(buildExt4(mkdtempSync(path.join(dir, 'ext-')), { 'a.txt': Buffer.from('a\n') })));
    ext.writeUInt32LE(0, 1024 + 0x20);
    const first = 2048;
    const second = first + fat.length / SECTOR;
    const disk = Buffer.alloc((second + ext.length / SECTOR) * SECTOR);
    fat.copy(disk, first * SECTOR);
    ext.copy(disk, second * SECTOR);
    const mbr = disk.subarray(0, SECTOR);
    const entry = (slot: number, type: number, start: number, sectors: number) => {
      const at = 446 + slot * 16;
      mbr[at + 4] = type;
      mbr.writeUInt32LE(start, at + 8);
      mbr.writeUInt32LE(sectors, at + 12);
    };
    entry(0, 0x0c, first, fat.length / SECTOR);
    entry(1, 0x83, second, ext.length / SECTOR);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    const { outcome, members, image, stop } = await unpack('two-volumes.img', disk, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(stop?.archive?.reason).toBe('corrupt');
    expect(stop?.detail).toMatch(/^volume 1: ext: 0 blocks per group is impossible/);
    expect(stop?.detail).toContain('the other volumes were read in full');
    // Several volumes: paths are volume-qualified.
    expect(members.find((m) => m.path === 'two-volumes.img!/vol0/DCIM/100MEDIA/IMG_0001.JPG')?.sha256).toBe(sha256(photos[0]!.bytes));
    expect(image?.volumes.map((v) => [v.index, v.scheme, v.fileSystem, v.problem?.code ?? null])).toEqual([
      [0, 'mbr', 'fat32', null],
      [1, 'mbr', null, 'corrupt-file'],
    ]);
  });
});
