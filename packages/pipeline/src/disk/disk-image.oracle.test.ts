import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteSource } from './byte-source.js';
import type { FileSystemEntry } from './disk-reader.types.js';
import {
  SECTOR,
  fls,
  icatMd5,
  istatTimes,
  md5,
  mbrSector,
  missingTools,
  mmls,
  pseudoRandom,
  run,
  writeAt,
  writeDynamicVhd,
  writeFixedVhd,
  writeGpt,
  type TskEntry,
} from './test-support/disk-image.builder.js';
import { addExfatFiles } from './test-support/exfat-image.builder.js';
import { fileSystems, openDiskImage, verifyStoredHashes, type DiskImage } from './open-disk-image.js';

/**
 * The oracle: images built with dosfstools/mtools, wrapped with ewfacquire,
 * split, and our own VHD writer; Exhibit's listing must equal TSK's
 * `fls -r -p` (allocated and deleted), each file's MD5 `icat`'s, each time
 * `istat`'s, volumes `mmls`'s, and EWF stored hashes `ewfinfo`'s.
 */

const missing = missingTools();
if (missing.length) console.warn(`disk oracle tests skipped: ${missing.join(', ')} not found (apt-get install sleuthkit ewf-tools dosfstools mtools)`);

let dir = '';
const p = (name: string) => path.join(dir, name);

// card.img: 48 MiB MBR disk — FAT32 primary, an extended partition holding two logical volumes (FAT12, FAT16).
const CARD_SECTORS = 98_304;
const FAT32_START = 2048;
const FAT32_SECTORS = 73_728;
const EXT_START = FAT32_START + FAT32_SECTORS;
const LOGICAL1 = { ebr: EXT_START, start: EXT_START + 2048, sectors: 4096 };
const LOGICAL2 = { ebr: EXT_START + 6144, start: EXT_START + 8192, sectors: 8192 };

function buildCard(): void {
  const img = p('card.img');
  writeFileSync(img, Buffer.alloc(0));
  truncateSync(img, CARD_SECTORS * SECTOR);
  writeAt(img, 0, mbrSector([{ type: 0x0c, startSector: FAT32_START, sectors: FAT32_SECTORS }, { type: 0x05, startSector: EXT_START, sectors: CARD_SECTORS - EXT_START }]));
  writeAt(img, LOGICAL1.ebr * SECTOR, mbrSector([{ type: 0x01, startSector: 2048, sectors: LOGICAL1.sectors }, { type: 0x05, startSector: LOGICAL2.ebr - EXT_START, sectors: 8192 + 2048 }]));
  writeAt(img, LOGICAL2.ebr * SECTOR, mbrSector([{ type: 0x06, startSector: 2048, sectors: LOGICAL2.sectors }]));
  run('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'CARD', '--offset', String(FAT32_START), img, String(FAT32_SECTORS / 2)]);
  run('mkfs.fat', ['-F', '12', '-n', 'LOGICAL1', '--offset', String(LOGICAL1.start), img, String(LOGICAL1.sectors / 2)]);
  run('mkfs.fat', ['-F', '16', '-s', '1', '-n', 'LOGICAL2', '--offset', String(LOGICAL2.start), img, String(LOGICAL2.sectors / 2)]);
  const fat32 = `${img}@@${FAT32_START * SECTOR}`;
  const put = (image: string, name: string, bytes: Buffer) => {
    writeFileSync(p('payload'), bytes);
    run('mcopy', ['-i', image, p('payload'), `::${name}`]);
  };
  run('mmd', ['-i', fat32, '::/DCIM', '::/DCIM/100CANON', '::/Old folder']);
  put(fat32, '/DCIM/100CANON/IMG_0001.JPG', pseudoRandom(40_000, 1));
  put(fat32, '/DCIM/100CANON/IMG_0002.JPG', pseudoRandom(3_000, 2));
  put(fat32, '/DCIM/100CANON/IMG_0003.JPG', pseudoRandom(30_000, 3)); // deleted below
  put(fat32, '/DCIM/100CANON/Holiday photo with a long name.jpg', pseudoRandom(70_000, 4));
  put(fat32, '/DCIM/100CANON/A deleted long name.jpg', pseudoRandom(12_345, 5)); // deleted below
  put(fat32, '/Old folder/inside.txt', pseudoRandom(5_000, 6));
  put(fat32, '/Old folder/notes.TXT', pseudoRandom(700, 7));
  put(fat32, '/gap.bin', pseudoRandom(9_000, 8)); // deleted
  put(fat32, '/after.bin', pseudoRandom(2_000, 9));
  put(fat32, '/empty.txt', Buffer.alloc(0));
  run('mdel', ['-i', fat32, '::/DCIM/100CANON/IMG_0003.JPG', '::/DCIM/100CANON/A deleted long name.jpg', '::/gap.bin']);
  run('mdeltree', ['-i', fat32, '::/Old folder']);
  const l1 = `${img}@@${LOGICAL1.start * SECTOR}`;
  run('mmd', ['-i', l1, '::/docs']);
  put(l1, '/docs/readme.txt', Buffer.from('logical partition one\n'));
  const l2 = `${img}@@${LOGICAL2.start * SECTOR}`;
  put(l2, '/video.mp4', pseudoRandom(100_000, 11));
  // On FAT16 mtools allocates from the first free cluster: a file written after a deletion fills the gap and continues further on.
  put(l2, '/gap.bin', pseudoRandom(9_000, 8));
  put(l2, '/after.bin', pseudoRandom(2_000, 9));
  run('mdel', ['-i', l2, '::/gap.bin']);
  put(l2, '/fragmented.bin', pseudoRandom(20_000, 10));
}

// flat.img: 6 MiB FAT16 with no partition table; a 2.5 MiB incompressible file spreads its E01 over segments.
function buildFlat(): void {
  const img = p('flat.img');
  run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'FLAT', img, '6144']);
  writeFileSync(p('payload'), pseudoRandom(2_600_000, 20));
  run('mcopy', ['-i', img, p('payload'), '::/big.bin']);
  writeFileSync(p('payload'), Buffer.from('small\n'));
  run('mcopy', ['-i', img, p('payload'), '::/Small file.txt']);
  run('mcopy', ['-i', img, p('payload'), '::/gone.txt']);
  run('mdel', ['-i', img, '::/gone.txt']);
}

// gpt.img: 12 MiB GPT disk with one FAT16 partition.
const GPT_SECTORS = 24_576;
function buildGpt(): void {
  const img = p('gpt.img');
  writeFileSync(img, Buffer.alloc(0));
  truncateSync(img, GPT_SECTORS * SECTOR);
  writeGpt(img, GPT_SECTORS, [{ first: 2048, last: 2048 + 16_384 - 1, name: 'Basic data' }]);
  run('mkfs.fat', ['-F', '16', '-s', '1', '-n', 'GPTVOL', '--offset', '2048', img, '8192']);
  writeFileSync(p('payload'), pseudoRandom(50_000, 30));
  run('mcopy', ['-i', `${img}@@${2048 * SECTOR}`, p('payload'), '::/photo.jpg']);
}

// gpt-4k.img: a disk with 4096-byte logical sectors (4Kn, or an external drive read through its USB
// bridge): the GPT header at byte 4096, every LBA in 4096-byte units; FAT12 with 4096-byte sectors in it.
const GPT4K_SECTOR = 4096;
const GPT4K_SECTORS = 4096; // 16 MiB
function buildGpt4k(): void {
  const img = p('gpt-4k.img');
  writeFileSync(img, Buffer.alloc(0));
  truncateSync(img, GPT4K_SECTORS * GPT4K_SECTOR);
  writeGpt(img, GPT4K_SECTORS, [{ first: 256, last: 256 + 2048 - 1, name: 'External' }], GPT4K_SECTOR);
  run('mkfs.fat', ['-C', '-F', '12', '-S', '4096', '-s', '1', '-n', 'EXT4KN', p('part-4k.img'), '8192']);
  writeFileSync(p('payload'), pseudoRandom(30_000, 31));
  run('mcopy', ['-i', p('part-4k.img'), p('payload'), '::/photo.jpg']);
  writeAt(img, 256 * GPT4K_SECTOR, readFileSync(p('part-4k.img')));
}

/** Sources stay open until the suite ends, so entries listed by a check can still be read by the test. */
const openSources: FileByteSource[] = [];

// exfat.img: 8 MiB exFAT from mkfs.exfat; files added by the test writer (no tool adds files to exFAT without mounting).
function buildExfat(): void {
  const img = p('exfat.img');
  writeFileSync(img, Buffer.alloc(0));
  truncateSync(img, 8 * 1024 * 1024);
  run('mkfs.exfat', ['-L', 'EXVOL', img]);
  addExfatFiles(img, [
    { path: 'DCIM', directory: true },
    { path: 'DCIM/100MEDIA', directory: true },
    { path: 'DCIM/100MEDIA/IMG_0001.JPG', data: pseudoRandom(10_000, 40) },
    { path: 'DCIM/100MEDIA/A long name that needs three name entries.jpg', data: pseudoRandom(20_000, 41), fragmented: true },
    { path: 'DCIM/100MEDIA/deleted photo.jpg', data: pseudoRandom(9_000, 42), deleted: true },
    { path: 'Old', directory: true, deleted: true },
    { path: 'empty.txt', data: Buffer.alloc(0) },
  ]);
}

async function open(files: string[]): Promise<{ image: DiskImage }> {
  const sources = await Promise.all(files.map((f) => FileByteSource.open(f)));
  openSources.push(...sources);
  return { image: await openDiskImage(sources) };
}

interface Listed {
  volumeSector: number;
  entries: FileSystemEntry[];
}

async function list(image: DiskImage, options: { skipUnknown?: boolean } = {}): Promise<Listed[]> {
  const out: Listed[] = [];
  for await (const fs of fileSystems(image)) {
    if (!('reader' in fs) && options.skipUnknown) continue;
    if (!('reader' in fs)) throw new Error(`volume ${fs.volume.index}: ${fs.problem.message}`);
    const entries: FileSystemEntry[] = [];
    for await (const e of fs.reader.entries()) entries.push(e);
    out.push({ volumeSector: fs.volume.offset / SECTOR, entries });
  }
  return out;
}

async function dataMd5(entry: FileSystemEntry): Promise<string> {
  const data = entry.data!();
  return md5(await data.read(0, data.size));
}

const asTsk = (e: FileSystemEntry): TskEntry => ({
  type: e.kind === 'directory' ? 'd/d' : 'r/r',
  deleted: !e.allocated,
  entryId: e.entryId,
  path: e.path,
});

/**
 * Exhibit against TSK for every volume of an image: the listing, every MD5
 * of a file Exhibit could read (allocated or recovered), and (with times) istat.
 */
async function checkAgainstTsk(files: string[], tsk: { imageType?: string; times?: boolean; md5?: boolean } = {}) {
  const { image } = await open(files);
  {
    const volumes = await list(image);
    let compared = 0;
    let deletedCompared = 0;
    for (const volume of volumes) {
      const opts = { sectorOffset: volume.volumeSector, ...(tsk.imageType ? { imageType: tsk.imageType } : {}) };
      expect(volume.entries.map(asTsk)).toEqual(fls(files, opts));
      for (const entry of volume.entries) {
        if (entry.kind !== 'file' || !entry.data || tsk.md5 === false) continue;
        expect({ path: entry.path, md5: await dataMd5(entry) }).toEqual({ path: entry.path, md5: icatMd5(files, entry.entryId, opts) });
        compared += 1;
        if (!entry.allocated) deletedCompared += 1;
        if (tsk.times) {
          const t = istatTimes(files, entry.entryId, { sectorOffset: volume.volumeSector });
          expect({ path: entry.path, written: entry.times.modified?.local.slice(0, 19), accessed: entry.times.accessed?.local, created: entry.times.created?.local.slice(0, 19) }).toEqual({
            path: entry.path,
            written: t['Written'],
            accessed: t['Accessed'],
            created: t['Created'],
          });
          if (entry.times.modified?.source.startsWith('fat:')) expect(entry.times.modified).toMatchObject({ offsetMinutes: null, utc: null });
        }
      }
    }
    return { image, volumes, compared, deletedCompared };
  }
}

describe.skipIf(missing.length > 0)('disk images against The Sleuth Kit', { timeout: 60_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-disk-'));
    buildCard();
    buildFlat();
    buildGpt();
    buildExfat();
    buildGpt4k();
    run('ewfacquire', ['-u', '-t', p('card'), '-c', 'fast', '-C', 'CASE-15', '-E', 'EV-3', '-e', 'Examiner Jones', '-N', 'memory card from drawer', '-D', 'SD card', '-d', 'sha1', p('card.img')]);
    run('ewfacquire', ['-u', '-t', p('flat'), '-c', 'none', '-S', '1MiB', '-d', 'sha1', p('flat.img')]);
    run('split', ['-b', '2500000', '-d', '-a', '3', '--numeric-suffixes=1', p('flat.img'), p('flat.raw.')]);
    writeFixedVhd(p('card.img'), p('card-fixed.vhd'));
    writeDynamicVhd(p('card.img'), p('card-dynamic.vhd'));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(openSources.map((s) => s.close()));
    if (dir && !process.env["KEEP_DISK_TEST_DIR"]) rmSync(dir, { recursive: true, force: true });
  });

  it('raw MBR disk: volumes equal mmls; FAT32 and the logical FAT12/FAT16 equal fls, icat and istat, deleted files included', async () => {
    const { image, volumes, compared, deletedCompared } = await checkAgainstTsk([p('card.img')], { times: true });
    expect(image.format).toBe('raw');
    expect(image.volumeSystem.scheme).toBe('mbr');
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([p('card.img')]));
    expect(volumes.map((v) => v.volumeSector)).toEqual([FAT32_START, LOGICAL1.start, LOGICAL2.start]);
    const fat32 = volumes[0]!.entries;
    const byPath = new Map(fat32.map((e) => [e.path, e]));
    // Both deleted photos are read back and flagged; the deleted folder and its files are listed deleted.
    expect(byPath.get('DCIM/100CANON/A deleted long name.jpg')).toMatchObject({ allocated: false, recovered: true });
    expect(byPath.get('DCIM/100CANON/_MG_0003.JPG')).toMatchObject({ allocated: false, recovered: true });
    expect(byPath.get('Old folder')).toMatchObject({ allocated: false, kind: 'directory' });
    expect(byPath.get('Old folder/_nside.txt')).toMatchObject({ allocated: false });
    expect(byPath.get('_ap.bin')).toMatchObject({ allocated: false, recovered: true });
    // On the FAT16 volume gap.bin's clusters went to fragmented.bin: not recoverable, said so, never mixed up with the allocated file.
    const fat16 = new Map(volumes[2]!.entries.map((e) => [e.path, e]));
    expect(fat16.get('_ap.bin')).toMatchObject({ allocated: false, recovered: false, problem: { code: 'corrupt-file' } });
    const fragmented = fat16.get('fragmented.bin')!.data!();
    expect(md5(await fragmented.read(0, fragmented.size))).toBe(md5(pseudoRandom(20_000, 10)));
    expect(fragmented.spanInBase!(0, 20_000)).toBeNull();
    expect(fragmented.spanInBase!(0, 512)).not.toBeNull();
    const contiguous = byPath.get('DCIM/100CANON/IMG_0001.JPG')!.data!();
    const span = contiguous.spanInBase!(0, contiguous.size)!;
    expect(span.length).toBe(40_000);
    expect(compared).toBeGreaterThanOrEqual(10);
    expect(deletedCompared).toBeGreaterThanOrEqual(3);
  });

  it('E01: same listing and MD5s as fls/icat on the E01; header and stored hashes equal ewfinfo; the media hash verifies', async () => {
    const { image } = await checkAgainstTsk([p('card.E01')], { imageType: 'ewf' });
    expect(image.format).toBe('ewf');
    const info = run('ewfinfo', [p('card.E01')]).toString();
    const field = (label: string) => new RegExp(`${label}:\\s+(.*)`).exec(info)?.[1]?.trim();
    expect(image.ewf!.header).toMatchObject({ caseNumber: 'CASE-15', evidenceNumber: 'EV-3', examiner: 'Examiner Jones', notes: 'memory card from drawer', description: 'SD card' });
    expect(image.ewf!.header.caseNumber).toBe(field('Case number'));
    expect(image.ewf!.header.acquiringSoftwareVersion).toBe(field('Software version used'));
    expect(image.ewf!.storedHashes).toEqual({ md5: field('MD5'), sha1: field('SHA1') });
    expect(await verifyStoredHashes(image)).toMatchObject({ md5Matches: true, sha1Matches: true, computed: { md5: md5(readFileSync(p('card.img'))) } });
  });

  it('split E01 with stored (uncompressed, Adler-32) chunks: listing and MD5s equal TSK on the segments', async () => {
    const segments = readdirSync(dir).filter((f) => /^flat\.E\d\d$/.test(f)).sort().map(p);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const { image, compared } = await checkAgainstTsk(segments, { imageType: 'ewf' });
    expect(image).toMatchObject({ format: 'ewf', segmentCount: segments.length });
    expect(image.volumeSystem.scheme).toBe('none');
    expect(compared).toBeGreaterThanOrEqual(2);
    const { image: again } = await open([...segments].reverse()); // order given does not matter: segments are numbered
    const check = await verifyStoredHashes(again);
    expect(check).toMatchObject({ md5Matches: true, sha1Matches: true, computed: { md5: md5(readFileSync(p('flat.img'))) } });
    const verified = run('ewfverify', ['-q', '-d', 'sha1', ...segments]).toString();
    expect(verified).toContain(`MD5 hash calculated over data:\t\t${check.computed.md5}`);
    expect(verified).toContain(`SHA1 hash calculated over data:\t\t${check.computed.sha1}`);
  });

  it('split raw: listing and MD5s equal fls/icat over the same pieces; spans stay within one segment', async () => {
    const pieces = readdirSync(dir).filter((f) => f.startsWith('flat.raw.')).sort().map(p);
    expect(pieces.length).toBe(3);
    const { image, volumes } = await checkAgainstTsk(pieces, { times: false });
    expect(image.format).toBe('split-raw');
    const big = volumes[0]!.entries.find((e) => e.path === 'big.bin')!;
    // big.bin is contiguous but crosses the 2,500,000-byte segment boundary: no single span of one blob.
    expect(big.data!().spanInBase!(0, big.size)).toBeNull();
    expect(big.data!().spanInBase!(0, 4096)).toMatchObject({ segment: 0, length: 4096 });
  });

  it('fixed and dynamic VHD: listing and MD5s equal TSK reading the VHD (libvhdi); fixed VHD spans are spans of the file', async () => {
    // Fixed VHD is the raw disk plus a footer: its listing is compared; the MD5s are compared on the dynamic one.
    const fixed = await checkAgainstTsk([p('card-fixed.vhd')], { imageType: 'vhd', md5: false });
    expect(fixed.image.format).toBe('vhd-fixed');
    const dynamic = await checkAgainstTsk([p('card-dynamic.vhd')], { imageType: 'vhd' });
    expect(dynamic.image.format).toBe('vhd-dynamic');
    expect(dynamic.volumes.map((v) => v.entries.length)).toEqual(fixed.volumes.map((v) => v.entries.length));
    const raw = await open([p('card.img')]);
    const dyn = await open([p('card-dynamic.vhd')]);
    expect((await verifyStoredHashes(dyn.image)).computed).toEqual((await verifyStoredHashes(raw.image)).computed);
  });

  it('exFAT (files written from the specification): listing, MD5s and times equal TSK; UTC offsets are kept', async () => {
    const { image, volumes, deletedCompared } = await checkAgainstTsk([p('exfat.img')], { times: true });
    expect(image.volumeSystem.scheme).toBe('none');
    expect(deletedCompared).toBe(1);
    const files = new Map(volumes[0]!.entries.map((e) => [e.path, e]));
    const fragmented = files.get('DCIM/100MEDIA/A long name that needs three name entries.jpg')!;
    expect(fragmented.data!().spanInBase!(0, fragmented.size)).toBeNull();
    // Modified was written at 07:08:12 local, UTC-02:00; created at 07:08:11.37, UTC+01:00; accessed with no offset.
    expect(fragmented.times.modified).toMatchObject({ local: '2024-05-06T07:08:12', offsetMinutes: -120, utc: '2024-05-06T09:08:12Z' });
    expect(fragmented.times.created).toMatchObject({ local: '2024-05-06T07:08:11.370', offsetMinutes: 60, utc: '2024-05-06T06:08:11.370Z' });
    expect(fragmented.times.accessed).toMatchObject({ local: '2024-05-06T00:00:00', offsetMinutes: null, utc: null });
  });

  it('GPT disk: the partition equals mmls (header CRC checked), its files equal fls/icat', async () => {
    const { image } = await checkAgainstTsk([p('gpt.img')], { times: true });
    expect(image.volumeSystem.scheme).toBe('gpt');
    expect(image.volumeSystem.problems).toEqual([]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([p('gpt.img')]));
    expect(image.volumeSystem.volumes[0]).toMatchObject({ type: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', label: 'Basic data' });
  });

  it('gpt-4k-sectors-no-volumes: a GPT disk with 4096-byte sectors is read in 4096-byte LBAs (mmls finds it the same way); its files equal fls/icat', async () => {
    // Before: only 512-byte LBAs were tried; no header was found and the disk had no volumes at all.
    const { image, volumes } = await checkAgainstTsk([p('gpt-4k.img')]);
    expect(image.volumeSystem).toMatchObject({ scheme: 'gpt', problems: [] });
    expect(image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR])).toEqual(mmls([p('gpt-4k.img')]));
    expect(image.volumeSystem.volumes[0]).toMatchObject({ offset: 256 * GPT4K_SECTOR, label: 'External' });
    expect(volumes[0]!.entries.map((e) => e.path)).toEqual(['photo.jpg']);
  });

  it('exfat-valid-data-length-stale-bytes-read: bytes past a stream\'s valid data length read as zeros, not the clusters\' stale bytes', async () => {
    const img = p('exfat-vdl.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 8 * 1024 * 1024);
    run('mkfs.exfat', ['-L', 'VDL', img]);
    // A recorder that preallocates: 100,000 bytes long, 40,000 written; the clusters hold old bytes after that.
    const stale = pseudoRandom(100_000, 50);
    addExfatFiles(img, [
      { path: 'MOVIE0001.MP4', data: stale, validDataLength: 40_000 },
      { path: 'whole.bin', data: pseudoRandom(5_000, 51) },
    ]);
    const { image } = await open([img]);
    const [volume] = await list(image);
    const movie = volume!.entries.find((e) => e.path === 'MOVIE0001.MP4')!;
    expect(movie.size).toBe(100_000);
    const expected = Buffer.concat([stale.subarray(0, 40_000), Buffer.alloc(60_000)]);
    expect(await dataMd5(movie)).toBe(md5(expected));
    const data = movie.data!();
    expect(data.spanInBase!(0, 40_000)).not.toBeNull();
    expect(data.spanInBase!(39_000, 2_000)).toBeNull(); // a span would hand over the stale bytes
    // TSK's icat ignores the valid data length and prints the stale bytes; the other file is TSK's.
    expect(icatMd5([img], movie.entryId)).toBe(md5(stale));
    const whole = volume!.entries.find((e) => e.path === 'whole.bin')!;
    expect(await dataMd5(whole)).toBe(icatMd5([img], whole.entryId));
    expect(volume!.entries.map(asTsk)).toEqual(fls([img]));
  });

  it('ewf-smart-table-without-checksum-refused: SMART (.s01) and EnCase 1 images, chunks inside the table section, read like ewfverify', async () => {
    // Before: their table entries (no Adler-32 after them) were refused as a failed checksum, and the
    // last chunk was measured to a sectors section they do not have.
    run('ewfacquire', ['-u', '-q', '-t', p('smart'), '-f', 'smart', '-c', 'best', p('flat.img')]);
    run('ewfacquire', ['-u', '-q', '-t', p('encase1'), '-f', 'ewf', '-c', 'none', '-S', '1MiB', p('flat.img')]);
    const sets = [[p('smart.s01')], readdirSync(dir).filter((f) => /^encase1\.e\d\d$/.test(f)).sort().map(p)];
    expect(sets[1]!.length).toBeGreaterThanOrEqual(3);
    for (const files of sets) {
      const { image, compared } = await checkAgainstTsk(files, { imageType: 'ewf' });
      expect(compared).toBeGreaterThanOrEqual(2);
      const check = await verifyStoredHashes(image);
      expect(check).toMatchObject({ md5Matches: true, computed: { md5: md5(readFileSync(p('flat.img'))) } });
      expect(run('ewfverify', ['-q', ...files]).toString()).toContain(`MD5 hash calculated over data:\t\t${check.computed.md5}`);
    }
  });

  it('mbr-partition-past-truncated-image-end-dropped: a partition running past the end of a truncated image is read as far as it goes, as TSK reads it', async () => {
    // An acquisition that stopped 200 sectors short (a failing card): the FAT32 partition's end is missing.
    const img = p('truncated.img');
    writeFileSync(img, readFileSync(p('card.img')).subarray(0, (FAT32_START + FAT32_SECTORS - 200) * SECTOR));
    const { image, volumes, compared } = await checkAgainstTsk([img], { times: true });
    expect(image.volumeSystem.problems).toEqual([
      { where: 'mbr 0', code: 'corrupt-file', message: expect.stringMatching(/runs past the end/) },
      { where: 'ebr 0', code: 'corrupt-file', message: expect.stringMatching(/lies outside the disk/) },
    ]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual([[FAT32_START, FAT32_SECTORS - 200]]);
    // Before: the partition was dropped and none of its files listed.
    expect(volumes[0]!.entries.find((e) => e.path === 'DCIM/100CANON/IMG_0001.JPG')).toMatchObject({ allocated: true });
    expect(compared).toBeGreaterThanOrEqual(8);
  });

  it('mbr-4k-ewf-sector-size-ignored: an E01 of a 4096-byte-sector MBR disk places its partitions in 4096-byte sectors, as mmls does', async () => {
    // The MBR counts in the disk's logical sectors; the E01 records them (bytes per sector 4096).
    const img = p('mbr-4k.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, (256 + 2048 + 8) * GPT4K_SECTOR);
    writeAt(img, 0, mbrSector([{ type: 0x01, startSector: 256, sectors: 2048 }]));
    writeAt(img, 256 * GPT4K_SECTOR, readFileSync(p('part-4k.img')));
    run('ewfacquire', ['-u', '-q', '-t', p('mbr-4k'), '-P', '4096', '-c', 'fast', img]);
    const { image } = await open([p('mbr-4k.E01')]);
    expect(image.ewf!.bytesPerSector).toBe(4096);
    // Before: the partition was read at 256 × 512 bytes, where no file system starts.
    expect(image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR])).toEqual(mmls([p('mbr-4k.E01')], 'ewf'));
    const [volume] = await list(image);
    const tskOpts = { sectorOffset: 256, imageType: 'ewf' }; // TSK's -o counts in the image's sectors
    expect(volume!.entries.map(asTsk)).toEqual(fls([p('mbr-4k.E01')], tskOpts));
    const photo = volume!.entries.find((e) => e.path === 'photo.jpg')!;
    expect(await dataMd5(photo)).toBe(icatMd5([p('mbr-4k.E01')], photo.entryId, tskOpts));
  });

  it('ewf-4k-sector-size-misplaces-512-mbr: an E01 recording 4096-byte sectors of a 512-byte-sector MBR disk keeps the partitions where the MBR put them', async () => {
    // A disk partitioned with 512-byte sectors, imaged through a USB bridge presenting 4096-byte sectors: the E01 says 4096.
    // wide: at 4096 bytes a sector the partition runs past the disk's end; narrow: it fits, but no file system starts there.
    for (const [name, sectors, fat] of [['wide', 20_480, '16'], ['narrow', 2048, '12']] as const) {
      const img = p(`mbr-512-${name}.img`);
      writeFileSync(img, Buffer.alloc(0));
      truncateSync(img, 40_960 * SECTOR);
      writeAt(img, 0, mbrSector([{ type: 0x06, startSector: 2048, sectors }]));
      run('mkfs.fat', ['-F', fat, '-n', 'P1', '--offset', '2048', img, String(sectors / 2)]);
      writeFileSync(p('payload'), Buffer.from('hello\n'));
      run('mcopy', ['-i', `${img}@@${2048 * SECTOR}`, p('payload'), '::/hello.txt']);
      run('ewfacquire', ['-u', '-q', '-t', p(`mbr-512-${name}`), '-P', '4096', '-c', 'fast', img]);
      const { image } = await open([p(`mbr-512-${name}.E01`)]);
      expect(image.ewf!.bytesPerSector).toBe(4096);
      // Before: placed at 2048 × 4096 bytes (8 MiB), where no file system starts; 'wide' was called a truncated image.
      expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
      expect(image.volumeSystem.problems).toEqual([{ where: 'mbr', code: 'corrupt-file', message: expect.stringMatching(/records 4096-byte sectors.*placed in 512-byte sectors/) }]);
      expect(image.volumeSystem.problems[0]!.message).not.toMatch(/read as far as the disk goes/);
      const [volume] = await list(image);
      expect(volume!.entries.map(asTsk)).toEqual(fls([img], { sectorOffset: 2048 }));
      const hello = volume!.entries.find((e) => e.path === 'hello.txt')!;
      expect(await dataMd5(hello)).toBe(icatMd5([img], hello.entryId, { sectorOffset: 2048 }));
    }
  });

  it('ewf-4k-unrecognised-first-partition-placed-in-512: a 4Kn disk whose first partition holds no file system read here, or whose acquisition stopped short, keeps its 4096-byte sectors, as mmls', async () => {
    // Partition 1: a LUKS header (no reader here knows it); partition 2: FAT. whole: the disk; cut: the acquisition stopped inside partition 2.
    const img = p('mbr-4k-luks.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, (256 + 2048 + 2048 + 8) * GPT4K_SECTOR);
    writeAt(img, 0, mbrSector([{ type: 0x83, startSector: 256, sectors: 2048 }, { type: 0x01, startSector: 256 + 2048, sectors: 2048 }]));
    writeAt(img, 256 * GPT4K_SECTOR, Buffer.concat([Buffer.from('LUKS\xba\xbe', 'latin1'), Buffer.from([0, 1])]));
    writeAt(img, (256 + 2048) * GPT4K_SECTOR, readFileSync(p('part-4k.img')));
    const cut = p('mbr-4k-luks-cut.img');
    writeFileSync(cut, readFileSync(img).subarray(0, (256 + 2048 + 1000) * GPT4K_SECTOR));
    for (const [name, raw] of [['whole', img], ['cut', cut]] as const) {
      run('ewfacquire', ['-u', '-q', '-t', p(`mbr-4k-luks-${name}`), '-P', '4096', '-c', 'fast', raw]);
      const e01 = p(`mbr-4k-luks-${name}.E01`);
      const { image } = await open([e01]);
      // Before: both volumes placed in 512-byte sectors (8 times too early), the FAT volume's files lost.
      // Where each starts, as mmls; a cut volume ends where the image does (mmls gives the table's size).
      expect(image.volumeSystem.volumes.map((v) => v.offset / GPT4K_SECTOR)).toEqual(mmls([e01], 'ewf').map(([start]) => start));
      if (name === 'whole') expect(image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR])).toEqual(mmls([e01], 'ewf'));
      expect(image.volumeSystem.problems.map((problem) => problem.message).join('\n')).not.toMatch(/placed in 512-byte sectors/);
      const volumes = await list(image, { skipUnknown: true });
      const fat = volumes.find((v) => v.entries.some((e) => e.path === 'photo.jpg'));
      expect(fat, `${name}: the FAT volume's files are listed`).toBeDefined();
      if (name === 'whole') {
        const tskOpts = { sectorOffset: 256 + 2048, imageType: 'ewf' };
        expect(fat!.entries.map(asTsk)).toEqual(fls([e01], tskOpts));
      }
    }
  });

  it('mbr-4k-raw-read-in-512-sectors: a raw image (or an E01 recording 512) of a 4096-byte-sector MBR disk places its partitions in 4096-byte sectors, as mmls -b 4096', async () => {
    // The disk of mbr-4k-ewf-sector-size-ignored, as dd writes it (no sector size recorded), and wrapped by a tool recording 512.
    const img = p('mbr-4k-raw.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, (256 + 2048 + 8) * GPT4K_SECTOR);
    writeAt(img, 0, mbrSector([{ type: 0x01, startSector: 256, sectors: 2048 }]));
    writeAt(img, 256 * GPT4K_SECTOR, readFileSync(p('part-4k.img')));
    run('ewfacquire', ['-u', '-q', '-t', p('mbr-4k-512'), '-P', '512', '-c', 'fast', img]);
    for (const [name, files] of [['raw', [img]], ['e01', [p('mbr-4k-512.E01')]]] as const) {
      const { image } = await open([...files]);
      // Before: placed at 256 × 512 bytes, where no file system starts (mmls without -b does the same); its files lost.
      expect({ name, volumes: image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR]) }).toEqual({ name, volumes: mmls([img], undefined, 4096) });
      // The E01's recorded 512 is contradicted by the disk: a finding.
      expect({ name, problems: image.volumeSystem.problems }).toEqual({
        name,
        // Never silent either way: the raw image's placement is an inference the reader is told of.
        problems:
          name === 'raw'
            ? [{ where: 'mbr', code: 'sector-size-inferred', message: expect.stringMatching(/raw image records no sector size.*entry 0.*placed in 4096-byte sectors/) }]
            : [{ where: 'mbr', code: 'corrupt-file', message: expect.stringMatching(/records 512-byte sectors.*placed in 4096-byte sectors/) }],
      });
      const [volume] = await list(image);
      const tskOpts = { sectorOffset: 256 * (GPT4K_SECTOR / SECTOR) }; // TSK's -o counts in 512-byte sectors here
      expect(volume!.entries.map(asTsk)).toEqual(fls([img], tskOpts));
      const photo = volume!.entries.find((e) => e.path === 'photo.jpg')!;
      expect(await dataMd5(photo)).toBe(icatMd5([img], photo.entryId, tskOpts));
    }
  });

  it('mbr-512-not-moved-to-4k-by-a-file-system-at-8x: a 512-byte-sector disk whose only known file system lies at 8 × a partition start keeps 512, as its table does not fit at 4096', async () => {
    // Partition 1 (LUKS, unknown here) at 2048; a FAT volume inside partition 2 at 8 × 2048 sectors, where partition 1 would start at 4096 bytes a sector.
    const img = p('mbr-512-fs-at-8x.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 40_960 * SECTOR);
    writeAt(img, 0, mbrSector([{ type: 0x83, startSector: 2048, sectors: 8192 }, { type: 0x83, startSector: 10_240, sectors: 30_000 }]));
    writeAt(img, 2048 * SECTOR, Buffer.concat([Buffer.from('LUKS\xba\xbe', 'latin1'), Buffer.from([0, 1])]));
    run('mkfs.fat', ['-F', '12', '-n', 'INNER', '--offset', String(8 * 2048), img, '4096']);
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
    expect(image.volumeSystem.problems).toEqual([]);
  });

  // m1–m3 (review of 1ce7a29): 512-byte disks as fdisk and LVM leave them, where a FAT volume lies at exactly 8 × the first
  // primary's start and nothing a reader here knows starts at any primary at 512. The 4096 rule placed the swap/LVM partition
  // over the FAT volume and lost the logical partitions (and the E01 of m3 got a false "records 512-byte sectors" problem).
  const fatAt = (img: string, sector: number, label: string, files: [string, Buffer][]) => {
    run('mkfs.fat', ['-F', '12', '-n', label, '--offset', String(sector), img, '1024']);
    for (const [name, bytes] of files) {
      writeFileSync(p('payload'), bytes);
      run('mcopy', ['-i', `${img}@@${sector * SECTOR}`, p('payload'), `::/${name}`]);
    }
  };
  const expectAt512 = async (files: string[], img: string) => {
    const { image } = await open(files);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
    expect(image.volumeSystem.problems).toEqual([]);
    const listed = await list(image, { skipUnknown: true });
    for (const { volumeSector, entries } of listed) expect(entries.map(asTsk)).toEqual(fls([img], { sectorOffset: volumeSector }));
    return listed;
  };

  it('mbr-512-swap-and-logicals-moved-to-4k: a swap primary and an extended partition whose logical FAT lies at 8 × the swap start keep 512 (m1)', async () => {
    const img = p('m1.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 80 * 1024 * 1024);
    writeAt(img, 0, mbrSector([{ type: 0x82, startSector: 2048, sectors: 12_288 }, { type: 0x05, startSector: 14_336, sectors: 4096 }]));
    writeAt(img, 14_336 * SECTOR, mbrSector([{ type: 0x01, startSector: 2048, sectors: 2048 }]));
    fatAt(img, 16_384, 'LOGICAL', [['LOGICAL.TXT', Buffer.from('hello\n')]]);
    // Before: one volume at 8 MiB of 48 MiB (the swap read in 4096-byte sectors), over the logical's FAT volume.
    const listed = await expectAt512([img], img);
    expect(listed.map((l) => l.volumeSector)).toEqual([16_384]);
  });

  it('mbr-512-lvm-with-nested-fat-moved-to-4k: an LVM partition holding a FAT volume 7 MiB in (at 8 × its start) keeps 512 (m2)', async () => {
    const img = p('m2.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 80 * 1024 * 1024);
    writeAt(img, 0, mbrSector([{ type: 0x8e, startSector: 2048, sectors: 16_384 }]));
    // A logical volume's FAT inside the physical volume; the LVM label itself is left out (an overwritten or unknown header), so only the size test keeps 512.
    fatAt(img, 8 * 2048, 'NESTED', [['NESTED.TXT', Buffer.from('nested\n')]]);
    // Before: the partition placed at 8 MiB of 64 MiB, the nested FAT volume read as if it were the partition.
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
    expect(image.volumeSystem.problems).toEqual([]);
  });

  it('mbr-512-second-logical-lost-at-4k: a swap primary and two logical FAT partitions keep 512, every logical listed, and its E01 recording 512 gets no problem (m3)', async () => {
    const img = p('m3.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 96 * 1024 * 1024);
    writeAt(img, 0, mbrSector([{ type: 0x82, startSector: 2048, sectors: 12_288 }, { type: 0x05, startSector: 14_336, sectors: 8192 }]));
    writeAt(img, 14_336 * SECTOR, mbrSector([{ type: 0x01, startSector: 2048, sectors: 2048 }, { type: 0x05, startSector: 4096, sectors: 4096 }]));
    writeAt(img, 18_432 * SECTOR, mbrSector([{ type: 0x01, startSector: 2048, sectors: 2048 }]));
    fatAt(img, 16_384, 'LOGICAL1', [['LOGICAL.TXT', Buffer.from('hello\n')]]);
    fatAt(img, 20_480, 'LOGICAL2', [['LOGICAL.TXT', Buffer.from('hello\n')], ['SECOND.BIN', pseudoRandom(70_000, 77)]]);
    run('ewfacquire', ['-u', '-q', '-t', p('m3-512'), '-P', '512', '-c', 'fast', img]);
    for (const files of [[img], [p('m3-512.E01')]]) {
      // Before: the swap at 8 MiB of 48 MiB with LOGICAL1's files, LOGICAL2 and SECOND.BIN lost; the E01 had an mbr problem.
      const listed = await expectAt512(files, img);
      expect(listed.map((l) => l.volumeSector)).toEqual([16_384, 20_480]);
      const second = listed[1]!.entries.find((e) => e.path === 'SECOND.BIN')!;
      expect(await dataMd5(second)).toBe(icatMd5([img], second.entryId, { sectorOffset: 20_480 }));
    }
  });

  it('mbr-512-swap-and-large-logical-moved-to-4k: a 1 MiB swap primary and a logical FAT larger than it at 8 × its start keep 512, as the extended boot record lies at 512', async () => {
    // The first size test could not tell here (the 4 MiB FAT outgrows the 1 MiB swap partition): the EBR at the extended partition's start,
    // at 512, does (and the fill test: 4 MiB does not fill the swap partition's 8 MiB at 4096).
    const img = p('m7.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 96 * 1024 * 1024);
    writeAt(img, 0, mbrSector([{ type: 0x82, startSector: 2048, sectors: 2048 }, { type: 0x05, startSector: 4096, sectors: 20_480 }]));
    writeAt(img, 4096 * SECTOR, mbrSector([{ type: 0x01, startSector: 12_288, sectors: 8192 }]));
    run('mkfs.fat', ['-F', '12', '-n', 'LOGICAL', '--offset', String(16_384), img, '4096']);
    writeFileSync(p('payload'), Buffer.from('hello\n'));
    run('mcopy', ['-i', `${img}@@${16_384 * SECTOR}`, p('payload'), '::/LOGICAL.TXT']);
    // Before: the swap placed at 8 MiB over the logical's FAT volume, the logical partition lost.
    const listed = await expectAt512([img], img);
    expect(listed.map((l) => l.volumeSector)).toEqual([16_384]);
  });

  it('mbr-512-swap-luks-bitlocker-lvm-header-moved-to-4k: a 512-byte disk whose first partition starts with a swap, LUKS, BitLocker or LVM header keeps 512, even with a file system at 8 × its start larger than it', async () => {
    // Partition 1: 1 MiB at 2048 holding only a header read nowhere here; partition 2: a physical volume with a 4 MiB FAT
    // inside it at 8 × 2048, where partition 1 would start at 4096 bytes a sector. Only the header says 512 here.
    const headers: [string, number, Buffer][] = [
      ['swap', 4096 - 10, Buffer.from('SWAPSPACE2')],
      ['luks', 0, Buffer.from('LUKS\xba\xbe\x00\x01', 'latin1')],
      ['bitlocker', 3, Buffer.from('-FVE-FS-')],
      ['lvm', SECTOR, Buffer.from('LABELONE')],
    ];
    for (const [name, at, bytes] of headers) {
      const img = p(`m4-${name}.raw`);
      writeFileSync(img, Buffer.alloc(0));
      truncateSync(img, 96 * 1024 * 1024);
      writeAt(img, 0, mbrSector([{ type: 0x82, startSector: 2048, sectors: 2048 }, { type: 0x8e, startSector: 4096, sectors: 20_480 }]));
      writeAt(img, 2048 * SECTOR + at, bytes);
      run('mkfs.fat', ['-F', '12', '-n', 'NESTED', '--offset', String(8 * 2048), img, '4096']);
      const { image } = await open([img]);
      expect({ name, volumes: image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR]) }).toEqual({ name, volumes: mmls([img]) });
      expect({ name, problems: image.volumeSystem.problems }).toEqual({ name, problems: [] });
    }
  });

  // Second review of 3b49cfa: "a file system at 4096 larger than its partition at 512" also held for what a 512-byte disk
  // leaves at 8 × a start by chance — a remnant of an earlier layout, a volume image nested in an unknown partition, an XP
  // disk's remnant at 8 × 63. A 4Kn volume fills its partition (declares its size within 64 KiB or 1%); these do not.
  const remnantDisk = (name: string, bytes: number, table: { type: number; startSector: number; sectors: number }[], fatSector: number, fatKiB: number) => {
    const img = p(name);
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, bytes);
    writeAt(img, 0, mbrSector(table));
    run('mkfs.fat', ['-n', 'OLDREMNANT', '--offset', String(fatSector), img, String(fatKiB)]);
    writeFileSync(p('payload'), Buffer.from('secret of the old layout\n'));
    run('mcopy', ['-i', `${img}@@${fatSector * SECTOR}`, p('payload'), '::/old-secret.txt']);
    return img;
  };
  const expectRemnantAt512 = async (img: string) => {
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
    expect(image.volumeSystem.problems).toEqual([]);
    // No volume invented over the remnant: nothing at 512 starts a file system read here.
    expect(await list(image, { skipUnknown: true })).toEqual([]);
  };

  it('mbr-512-remnant-file-system-at-8x-moved-to-4k: an unformatted Linux partition over a larger FAT remnant of an earlier layout at 8 × its start keeps 512 (b)', async () => {
    // Partition at 2048 of 40 960 sectors (20 MiB); a 40 MiB FAT from an earlier layout at sector 16 384 (8 MiB) inside it.
    // Before: a partition invented at 8 MiB of 160 MiB over the remnant, old-secret.txt listed as the partition's file.
    await expectRemnantAt512(remnantDisk('mbr-remnant-b.raw', 176 * 1024 * 1024, [{ type: 0x83, startSector: 2048, sectors: 40_960 }], 16_384, 40_960));
  });

  it('mbr-512-nested-image-at-8x-moved-to-4k: a small unknown partition and a partition holding a FAT image 6 MiB in, at 8 × the first start, keep 512 (a)', async () => {
    // Partition 1: 1 MiB at 2048 (nothing known); partition 2: 50 MiB at 4096 holding a 24 MiB FAT at 16 384.
    // Before: partition 1 placed at 8 MiB over the nested FAT (larger than its 1 MiB at 512), partition 2 past it.
    await expectRemnantAt512(
      remnantDisk('mbr-nested-a.raw', 420 * 1024 * 1024, [{ type: 0x83, startSector: 2048, sectors: 2048 }, { type: 0x83, startSector: 4096, sectors: 102_400 }], 16_384, 24_576),
    );
  });

  it('mbr-512-xp-layout-remnant-at-8x-moved-to-4k: a partition at sector 63 (Windows XP) over a FAT remnant at 504 keeps 512 (x)', async () => {
    // Partition at 63 of 40 960 sectors (20 MiB, unformatted); a 30 MiB FAT remnant at 504 = 8 × 63.
    await expectRemnantAt512(remnantDisk('mbr-xp-x.raw', 170 * 1024 * 1024, [{ type: 0x83, startSector: 63, sectors: 40_960 }], 504, 30_720));
  });

  it('mbr-512-tiny-volume-sized-moved-to-4k: a FAT of 3 sectors (under 2048 bytes) at 512 is not sized, so it keeps the disk in 512-byte sectors, as mmls', async () => {
    // One MBR entry at 8 of 3 sectors: at 512 a FAT12 whose BPB says 4 sectors (larger than its 1536-byte partition);
    // at 4096 (offset 32 768, 12 KiB) a FAT12 that fills it. Before: read from 512 bytes, the tiny volume's size said
    // 'larger', the 4096 one 'fills', and the volume was placed at 32 768 of 12 288 bytes where mmls places it at 4096 of 1536.
    const fat = (totalSectors: number) => {
      const b = Buffer.alloc(SECTOR);
      b.set([0xeb, 0x3c, 0x90]);
      b.write('MSDOS5.0', 3, 'latin1');
      b.writeUInt16LE(512, 11);
      b[13] = 1;
      b.writeUInt16LE(1, 14);
      b[16] = 1;
      b.writeUInt16LE(16, 17);
      b.writeUInt16LE(totalSectors, 19);
      b[21] = 0xf8;
      b.writeUInt16LE(1, 22);
      b[38] = 0x29;
      b.write('TINY       FAT12   ', 43, 'latin1');
      b.writeUInt16LE(0xaa55, 510);
      return b;
    };
    const img = p('mbr-tiny.raw');
    writeFileSync(img, Buffer.alloc(45_056));
    writeAt(img, 0, mbrSector([{ type: 0x01, startSector: 8, sectors: 3 }]));
    for (const [offset, total] of [[4096, 4], [32_768, 24]] as const) {
      writeAt(img, offset, fat(total));
      writeAt(img, offset + SECTOR, Buffer.from([0xf8, 0xff, 0xff]));
    }
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual(mmls([img]));
    expect(image.volumeSystem.volumes.map((v) => [v.offset, v.size])).toEqual([[4096, 1536]]);
    // No placement problem; the FAT of 4 sectors in its 3-sector entry is read on one sector past it, and noted so.
    expect(image.volumeSystem.problems).toEqual([
      { where: 'mbr 0', code: 'read-past-entry', message: expect.stringMatching(/^volume 0: its fat file system declares 2048 bytes, its partition entry 1536: read on 512 bytes past the entry .*no other partition entry covers those bytes$/) },
    ]);
  });

  it('mbr-4k-raw-second-partition-at-8x-first-read-in-512: a raw 4Kn disk whose second partition starts at 8 × the first\'s start is read in 4096-byte sectors, as mmls -b 4096 (f)', async () => {
    // P1 FAT12 (4096-byte sectors) at 256 of 1792; P2 FAT16 at 2048 of 30 000. At 512, P2 lands on P1's FAT (7 MiB, smaller
    // than P2's 15 MB at 512: it does not fill it). Before: read in 512, P1 empty and P2 listing P1's files.
    const img = p('mbr-4k-8x.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 40_000 * GPT4K_SECTOR);
    writeAt(img, 0, mbrSector([{ type: 0x0e, startSector: 256, sectors: 1792 }, { type: 0x0e, startSector: 2048, sectors: 30_000 }]));
    for (const [name, start, sectors, fat] of [['f1', 256, 1792, '12'], ['f2', 2048, 30_000, '16']] as const) {
      rmSync(p(`${name}.fs`), { force: true });
      run('mkfs.fat', ['-C', '-F', fat, '-S', '4096', '-s', '1', '-n', name.toUpperCase(), p(`${name}.fs`), String((sectors * GPT4K_SECTOR) / 1024)]);
      writeFileSync(p('payload'), pseudoRandom(9000, start));
      run('mcopy', ['-i', p(`${name}.fs`), p('payload'), `::/${name}.bin`]);
      writeAt(img, start * GPT4K_SECTOR, readFileSync(p(`${name}.fs`)));
    }
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR])).toEqual(mmls([img], undefined, 4096));
    expect(image.volumeSystem.problems).toEqual([{ where: 'mbr', code: 'sector-size-inferred', message: expect.stringMatching(/records no sector size.*entry 0, entry 1.*placed in 4096-byte sectors/) }]);
    const listed = await list(image);
    expect(listed.map((l) => l.entries.filter((e) => e.kind === 'file').map((e) => e.path))).toEqual([['f1.bin'], ['f2.bin']]);
    for (const { volumeSector, entries } of listed) {
      expect(entries.map(asTsk)).toEqual(fls([img], { sectorOffset: volumeSector }));
      const bin = entries.find((e) => e.path.endsWith('.bin'))!;
      expect(await dataMd5(bin)).toBe(icatMd5([img], bin.entryId, { sectorOffset: volumeSector }));
    }
  });

  it('mbr-4k-raw-every-file-system-fills-its-partition: a raw 4Kn disk (FAT16, NTFS, an extended partition with ext4 and exFAT) stays in 4096-byte sectors under the fill rule, as mmls -b 4096 (c)', async () => {
    // Each volume formatted by its own tool over exactly its partition, as a 4Kn disk's partitioner and formatter leave it:
    // FAT and exFAT declare every sector, NTFS all but the last, ext4 whole 4 KiB blocks.
    const img = p('mbr-4k-mixed.raw');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 70_000 * GPT4K_SECTOR);
    mkdirSync(p('ext-tree'), { recursive: true });
    writeFileSync(p('ext-tree/ext.txt'), 'ext4 4Kn\n');
    const volumes: [string, number, number, string[]][] = [
      ['fat', 256, 16_384, ['mkfs.fat', '-F', '16', '-S', '4096', '-n', 'K4FAT']],
      ['ntfs', 16_640, 16_384, ['mkntfs', '-F', '-q', '-s', '4096', '-p', '0', '-H', '0', '-S', '0', '-L', 'K4NTFS']],
      ['ext', 33_280, 16_384, ['mke2fs', '-q', '-t', 'ext4', '-b', '4096', '-d', p('ext-tree'), '-F']],
      ['exfat', 49_920, 16_000, ['mkfs.exfat', '-c', '32K']],
    ];
    for (const [name, start, sectors, [tool, ...args]] of volumes) {
      const fs = p(`mixed-${name}.fs`);
      writeFileSync(fs, Buffer.alloc(0));
      truncateSync(fs, sectors * GPT4K_SECTOR);
      run(tool!, [...args, fs]);
      writeAt(img, start * GPT4K_SECTOR, readFileSync(fs));
    }
    writeAt(img, 0, mbrSector([{ type: 0x0c, startSector: 256, sectors: 16_384 }, { type: 0x07, startSector: 16_640, sectors: 16_384 }, { type: 0x0f, startSector: 33_024, sectors: 33_024 }]));
    writeAt(img, 33_024 * GPT4K_SECTOR, mbrSector([{ type: 0x83, startSector: 256, sectors: 16_384 }, { type: 0x05, startSector: 16_640, sectors: 16_384 }]));
    writeAt(img, (33_024 + 16_640) * GPT4K_SECTOR, mbrSector([{ type: 0x07, startSector: 256, sectors: 16_000 }]));
    const { image } = await open([img]);
    expect(image.volumeSystem.volumes.map((v) => [v.offset / GPT4K_SECTOR, v.size / GPT4K_SECTOR])).toEqual(mmls([img], undefined, 4096));
    expect(image.volumeSystem.problems).toEqual([{ where: 'mbr', code: 'sector-size-inferred', message: expect.stringMatching(/entry 0, entry 1\).*placed in 4096-byte sectors/) }]);
    const types: (string | undefined)[] = [];
    for await (const fs of fileSystems(image)) types.push('reader' in fs ? fs.type : fs.problem.message);
    expect(types).toEqual(['fat', 'ntfs', 'ext', 'exfat']);
    const ext = (await list(image)).find((l) => l.volumeSector === 33_280 * 8)!;
    expect(ext.entries.map(asTsk)).toEqual(fls([img], { sectorOffset: ext.volumeSector }));
  });

  it('exfat-deleted-contiguous-file-spliced-from-free-clusters: a deleted NoFatChain file whose middle cluster is reused gets a problem, not a free cluster spliced in', async () => {
    const img = p('exfat-spliced.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 8 * 1024 * 1024);
    run('mkfs.exfat', ['-c', '4096', '-L', 'SPLICE', img]);
    const photo = pseudoRandom(5 * 4096, 60);
    addExfatFiles(img, [
      { path: 'kept.bin', data: pseudoRandom(3 * 4096, 61) },
      { path: 'deleted.jpg', data: photo, deleted: true }, // contiguous (NoFatChain), then freed
    ]);
    // Another file now holds the deleted photo's third cluster (bitmap bit set, its bytes overwritten).
    const bytes = readFileSync(img);
    const sectorBytes = 2 ** bytes[108]!;
    const clusterBytes = sectorBytes * 2 ** bytes[109]!;
    const heap = bytes.readUInt32LE(88) * sectorBytes;
    const rootAt = heap + (bytes.readUInt32LE(96) - 2) * clusterBytes;
    let bitmapAt = -1;
    for (let e = rootAt; e < rootAt + clusterBytes; e += 32) if (bytes[e] === 0x81) bitmapAt = heap + (bytes.readUInt32LE(e + 20) - 2) * clusterBytes;
    const third = (bytes.indexOf(photo.subarray(0, 64)) - heap) / clusterBytes + 2 + 2;
    expect(Number.isInteger(third) && bitmapAt > 0).toBe(true);
    bytes[bitmapAt + ((third - 2) >> 3)]! |= 1 << ((third - 2) & 7);
    bytes.fill(0x77, heap + (third - 2) * clusterBytes, heap + (third - 1) * clusterBytes);
    writeFileSync(img, bytes);
    const { image } = await open([img]);
    const [volume] = await list(image);
    expect(volume!.entries.map(asTsk)).toEqual(fls([img]));
    const deleted = volume!.entries.find((e) => e.path === 'deleted.jpg')!;
    // Before: the cluster after the file's end stood in for the overwritten one (TSK's icat does the same).
    expect(deleted).toMatchObject({ allocated: false, recovered: false, problem: { code: 'corrupt-file', message: expect.stringMatching(/contiguous file is allocated to another file/) } });
    expect(deleted.data).toBeUndefined();
    // TSK's icat gives the spliced bytes: the photo's first two clusters, then two of the three after the overwritten one.
    const after = bytes.subarray(heap + (third - 1) * clusterBytes, heap + (third + 2) * clusterBytes);
    const spliced = Buffer.concat([photo.subarray(0, 2 * clusterBytes), after]).subarray(0, photo.length);
    expect(icatMd5([img], deleted.entryId)).toBe(md5(spliced));
  });
});
