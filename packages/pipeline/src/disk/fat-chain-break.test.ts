import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExhibitError, LIMITS, type ExhibitErrorCode } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteSource } from './byte-source.js';
import type { ByteSource, FileSystemEntry, FileSystemReader } from './disk-reader.types.js';
import { openExfat } from './exfat.reader.js';
import { openFat, parseFatBootSector, type FatLimits } from './fat.reader.js';
import { buildExfat, entrySetChecksum, exfatLayout, type ExfatFile } from './test-support/exfat-image.builder.js';
import { fls, icatMd5, mbrSector, md5, missingTools, pseudoRandom, run, writeAt, type TskEntry } from './test-support/disk-image.builder.js';
import { fileSystems, openDiskImage } from './open-disk-image.js';
import { isVolumeNote } from './volume-system.reader.js';

/**
 * One bad link in a directory's cluster chain (a loop, a link to a free
 * cluster), at the root too, and a volume cut short: built with mkfs.fat and
 * mtools (exFAT: mkfs.exfat and the test writer), then one FAT entry edited
 * here, as damage leaves it. What the clusters before the break hold is
 * listed and read, compared with TSK's `fls -r -p` and `icat`.
 */

const missing = missingTools();

let dir = '';
const p = (name: string) => path.join(dir, name);

interface Listed {
  reader: FileSystemReader;
  entries: FileSystemEntry[];
  md5s: Map<string, string>;
}

async function list(img: string, open: typeof openFat | typeof openExfat = openFat, wrap?: (source: ByteSource) => ByteSource, limits?: Partial<FatLimits>): Promise<Listed> {
  const file = await FileByteSource.open(img);
  const source = wrap ? wrap(file) : file;
  try {
    const reader = open === openFat ? await openFat(source, limits ? { limits } : {}) : await open(source);
    const entries: FileSystemEntry[] = [];
    const md5s = new Map<string, string>();
    for await (const e of reader.entries()) {
      entries.push(e);
      if (e.data) {
        const data = e.data();
        md5s.set(e.entryId, md5(await data.read(0, data.size)));
      }
    }
    return { reader, entries, md5s };
  } finally {
    await file.close();
  }
}

/** Every read the source is asked for (offset, length), and reads overlapping [from, to) fail corrupt-file (a lost EWF chunk). */
function recording(reads: [number, number][], fail?: { from: number; to: number }): (source: ByteSource) => ByteSource {
  return (source) => ({
    size: source.size,
    async read(offset, length, options) {
      reads.push([offset, length]);
      if (fail && offset < fail.to && offset + length > fail.from) throw new ExhibitError('corrupt-file', `image chunk unreadable at byte ${offset}`);
      return source.read(offset, length, options);
    },
  });
}

const asTsk = (e: FileSystemEntry) => ({ entryId: e.entryId, path: e.path, deleted: !e.allocated });
const tskRows = (rows: TskEntry[]) => rows.map(({ entryId, path: name, deleted }) => ({ entryId, path: name, deleted }));

/** Every file read here has icat's bytes. */
function expectIcatMd5s(img: string, listed: Listed): void {
  for (const e of listed.entries) {
    const sum = listed.md5s.get(e.entryId);
    if (sum !== undefined) expect({ path: e.path, md5: sum }).toEqual({ path: e.path, md5: icatMd5([img], e.entryId) });
  }
}

// FAT32 ------------------------------------------------------------------

/** Offset of the 32-byte short entry named `name11` (e.g. '101CANON   '). */
function entryAt(image: Buffer, name11: string): number {
  let at = image.indexOf(Buffer.from(name11, 'latin1'));
  while (at >= 0 && at % 32 !== 0) at = image.indexOf(Buffer.from(name11, 'latin1'), at + 1);
  if (at < 0) throw new Error(`no directory entry ${name11}`);
  return at;
}

class Fat32 {
  readonly image: Buffer;
  readonly boot: NonNullable<ReturnType<typeof parseFatBootSector>>;
  constructor(readonly file: string) {
    this.image = readFileSync(file);
    this.boot = parseFatBootSector(this.image.subarray(0, 512), this.image.length)!;
  }
  firstCluster(name11: string): number {
    const e = entryAt(this.image, name11);
    return (this.image.readUInt16LE(e + 20) << 16) | this.image.readUInt16LE(e + 26);
  }
  next(cluster: number): number {
    return this.image.readUInt32LE(this.boot.reservedSectors * this.boot.sectorBytes + cluster * 4) & 0x0fffffff;
  }
  offset(cluster: number): number {
    return (this.boot.firstClusterSector + cluster - 2) * this.boot.sectorBytes;
  }
  /** A free cluster near the end of the volume (its FAT entry 0). */
  freeCluster(): number {
    for (let c = this.boot.lastCluster - 64; c > 2; c -= 1) if (this.next(c) === 0) return c;
    throw new Error('no free cluster');
  }
  /** Sets FAT[cluster] in every FAT copy, in the file. */
  link(cluster: number, value: number): void {
    const fatBytes = this.boot.fatSectors * this.boot.sectorBytes;
    const value4 = Buffer.alloc(4);
    value4.writeUInt32LE(value);
    for (let n = 0; n < this.boot.fatCount; n += 1) writeAt(this.file, this.boot.reservedSectors * this.boot.sectorBytes + n * fatBytes + cluster * 4, value4);
  }
}

/** A 40 MiB FAT32 card (512-byte clusters): DCIM/100CANON with two photos, DCIM/101CANON with 30 (two clusters of entries), readme.txt. */
function buildCard(img: string): void {
  run('mkfs.fat', ['-C', '-F', '32', '-s', '1', img, '40960']);
  run('mmd', ['-i', img, '::/DCIM', '::/DCIM/100CANON', '::/DCIM/101CANON']);
  writeFileSync(p('a.jpg'), pseudoRandom(30_000, 1));
  writeFileSync(p('b.jpg'), pseudoRandom(7_000, 2));
  run('mcopy', ['-i', img, p('a.jpg'), p('b.jpg'), '::/DCIM/100CANON/']);
  const photos = p('photos');
  mkdirSync(photos, { recursive: true });
  const names: string[] = [];
  for (let i = 1; i <= 30; i += 1) {
    const file = path.join(photos, `IMG_${String(i).padStart(4, '0')}.JPG`);
    writeFileSync(file, pseudoRandom(600 + i, 100 + i));
    names.push(file);
  }
  run('mcopy', ['-i', img, ...names, '::/DCIM/101CANON/']);
  writeFileSync(p('readme.txt'), 'hello\n');
  run('mcopy', ['-i', img, p('readme.txt'), '::/readme.txt']);
}

/** A 20 MiB FAT16 (2 KiB clusters) holding small.txt, big2.bin (2 MiB) and fill.bin (15 MiB), in that order: the rest is free. */
function buildFilledFat16(img: string): void {
  run('mkfs.fat', ['-C', '-F', '16', '-s', '4', img, '20480']);
  writeFileSync(p('small.txt'), 'small\n');
  writeFileSync(p('big2.bin'), pseudoRandom(2 * 1024 * 1024, 70));
  writeFileSync(p('fill.bin'), pseudoRandom(15 * 1024 * 1024, 71));
  run('mcopy', ['-i', img, p('small.txt'), p('big2.bin'), p('fill.bin'), '::/']);
}

/** A copy of the card, to damage. */
function card(name: string): Fat32 {
  copyFileSync(p('card.img'), p(name));
  return new Fat32(p(name));
}

/** What the disk-image layer opens in a raw image: each file system's type and problem code, or the volume's problem. */
async function openedAsImage(img: string): Promise<unknown[]> {
  const source = await FileByteSource.open(img);
  try {
    const opened: unknown[] = [];
    for await (const fs of fileSystems(await openDiskImage([source]))) opened.push('reader' in fs ? { type: fs.reader.type, problem: fs.reader.problem?.code } : { problem: fs.problem });
    return opened;
  } finally {
    await source.close();
  }
}

/** A copy of the card and where its two Canon directories start: 100CANON (one cluster), 101CANON and its second cluster. */
function canonDirs(name: string): { fat: Fat32; c100: number; c101: number; second101: number } {
  const fat = card(name);
  const c101 = fat.firstCluster('101CANON   ');
  return { fat, c100: fat.firstCluster('100CANON   '), c101, second101: fat.next(c101) };
}

describe.skipIf(missing.length > 0)('FAT and exFAT chain breaks', { timeout: 60_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-fat-chain-'));
    buildCard(p('card.img'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fat-directory-chain-break-loses-subtree: a directory whose second link points at a free cluster keeps the photos of its first cluster, as TSK lists them', async () => {
    const fat = card('free-link.img');
    const first = fat.firstCluster('101CANON   ');
    const second = fat.next(first);
    const free = fat.freeCluster();
    fat.link(first, free);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // Before: the directory had the problem and none of its 30 photos was listed (TSK lists the 14 of its first cluster).
    expect(listed.entries.filter((e) => e.path.startsWith('DCIM/101CANON/'))).toHaveLength(14);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk));
    expect(listed.entries.find((e) => e.path === 'DCIM/101CANON')?.problem).toEqual({ code: 'corrupt-file', message: `cluster ${first} links to cluster ${free}, which is free` });
    expect(listed.md5s.size).toBe(2 + 14 + 1);
    expectIcatMd5s(fat.file, listed);

    // TSK reads the free cluster the link points at as the directory's, and lists what it finds there as deleted
    // names of this directory; here it finds the 16 names of the directory's real second cluster. Nothing proves
    // a free cluster holds this directory's entries (a stray link can point at any directory's old cluster): not listed.
    writeAt(fat.file, fat.offset(free), fat.image.subarray(fat.offset(second), fat.offset(second) + fat.boot.clusterBytes));
    const again = await list(fat.file);
    const tskAgain = fls([fat.file]);
    const freeIds = new Set(Array.from({ length: fat.boot.clusterBytes / 32 }, (_, slot) => String((fat.offset(free) / 512 - fat.boot.firstDataSector) * 16 + slot + 3)));
    const fromFree = tskAgain.filter((e) => freeIds.has(e.entryId));
    expect(fromFree.map((e) => [e.path, e.deleted])).toEqual(Array.from({ length: 16 }, (_, i) => [`DCIM/101CANON/IMG_${String(15 + i).padStart(4, '0')}.JPG`, true]));
    expect(again.entries.map(asTsk)).toEqual(tskRows(tskAgain.filter((e) => !freeIds.has(e.entryId))));

    // The second cluster marked bad in the FAT: TSK lists none of the directory's names; the 14 of its first
    // cluster (which the directory entry and the FAT prove are its own) are listed and read here, as icat reads them.
    const bad = card('bad-link.img');
    bad.link(second, 0x0ffffff7);
    const withBad = await list(bad.file);
    expect(withBad.entries.find((e) => e.path === 'DCIM/101CANON')?.problem?.message).toBe(`cluster ${first} links to cluster ${second}, which is marked bad`);
    const firstCluster = withBad.entries.filter((e) => e.path.startsWith('DCIM/101CANON/'));
    expect(firstCluster).toHaveLength(14);
    expect(withBad.entries.filter((e) => !firstCluster.includes(e)).map(asTsk)).toEqual(tskRows(fls([bad.file])));
    expectIcatMd5s(bad.file, withBad);
  });

  it('fat-directory-chain-loop-loses-subtree: a directory whose first cluster links to itself lists that cluster once, as TSK', async () => {
    const fat = card('dir-loop.img');
    const dcim = fat.firstCluster('DCIM       ');
    fat.link(dcim, dcim);
    const listed = await list(fat.file);
    // Before: "DCIM [corrupt-file: cluster chain loops back to cluster N]" and nothing under it.
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([fat.file])));
    expect(listed.entries.filter((e) => e.path.startsWith('DCIM/'))).toHaveLength(2 + 2 + 30);
    expect(listed.entries.find((e) => e.path === 'DCIM')?.problem).toEqual({ code: 'corrupt-file', message: `cluster chain loops: cluster ${dcim} links back to cluster ${dcim}` });
    expectIcatMd5s(fat.file, listed);
  });

  it('fat-root-chain-loop-loses-volume: a root cluster linking to itself is the volume\'s problem; every entry is listed and read, as TSK', async () => {
    const fat = card('root-loop.img');
    fat.link(fat.boot.rootCluster, fat.boot.rootCluster);
    // Before: entries() threw "root directory: cluster chain loops back to cluster 2" and the volume listed nothing.
    const listed = await list(fat.file);
    expect(listed.reader.problem).toEqual({ code: 'corrupt-file', message: `root directory: cluster chain loops: cluster 2 links back to cluster 2; what its clusters before the break hold is listed` });
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([fat.file])));
    expect(listed.entries.filter((e) => e.kind === 'file' && !e.problem)).toHaveLength(2 + 30 + 1);
    expectIcatMd5s(fat.file, listed);

    // The root's link to a free cluster: the same, the link named.
    const fat2 = card('root-free.img');
    const free = fat2.freeCluster();
    fat2.link(fat2.boot.rootCluster, free);
    const listed2 = await list(fat2.file);
    expect(listed2.reader.problem?.message).toBe(`root directory: cluster 2 links to cluster ${free}, which is free; what its clusters before the break hold is listed`);
    expect(listed2.entries.map(asTsk)).toEqual(tskRows(fls([fat2.file])));
  });

  it('fat-volume-cut-short-unreported: a FAT32 volume shorter than its boot sector says is the volume\'s problem; a file past the cut says its data lies past the end of the image', async () => {
    const img = p('cut.img');
    run('mkfs.fat', ['-C', '-F', '32', '-s', '1', img, '40960']);
    const early = pseudoRandom(3_000, 7);
    writeFileSync(p('early.bin'), early);
    writeFileSync(p('big.bin'), pseudoRandom(25_000_000, 8));
    run('mcopy', ['-i', img, p('early.bin'), p('big.bin'), '::/']);
    // The whole volume declares exactly its bytes: no problem.
    expect((await list(img)).reader.problem).toBeUndefined();
    truncateSync(img, 20 * 1024 * 1024);
    const listed = await list(img);
    // Before: no volume problem, and "big.bin: cluster chain reaches cluster 39670, beyond the volume (last cluster 80629)".
    expect(listed.reader.problem).toEqual({
      code: 'corrupt-file',
      message: 'fat32: the boot sector declares 81920 sectors of 512 bytes (41943040 bytes), past the end of the 20971520-byte volume: the volume is cut short (or its sector count is wrong), and what lies past the end is not read',
    });
    const big = listed.entries.find((e) => e.path === 'big.bin')!;
    expect(big.problem?.message).toMatch(/^cluster \d+ links to cluster \d+, which lies past the end of the image: the volume is cut short \(20971520 of the 41943040 bytes its boot sector declares are present\)$/);
    expect(listed.md5s.get(listed.entries.find((e) => e.path === 'early.bin')!.entryId)).toBe(md5(early));
  });

  it('fat-partition-entry-shorter-than-volume-false-cut-short: a FAT16 volume declaring more than its MBR entry, its bytes present in the image, is read on as TSK reads it, with no cut-short finding', async () => {
    const fsImg = p('entry-fs.img');
    buildFilledFat16(fsImg);
    const fsBytes = readFileSync(fsImg);
    const disk = p('short-entry.img');
    // The entry says 8 MiB less than the file system declares; the image holds every byte of it.
    writeFileSync(disk, Buffer.concat([mbrSector([{ type: 0x06, startSector: 2048, sectors: fsBytes.length / 512 - 16384 }]), Buffer.alloc(1024 * 1024 - 512), fsBytes]));
    const source = await FileByteSource.open(disk);
    try {
      const image = await openDiskImage([source]);
      const opened: { problem?: unknown; files: Map<string, { md5: string; entryId: string; problem?: unknown }> }[] = [];
      for await (const fs of fileSystems(image)) {
        if (!('reader' in fs)) throw new Error(fs.problem.message);
        const files = new Map<string, { md5: string; entryId: string; problem?: unknown }>();
        for await (const e of fs.reader.entries()) {
          if (e.kind !== 'file') continue;
          const data = e.data?.();
          files.set(e.path, { entryId: e.entryId, md5: data ? md5(await data.read(0, data.size)) : '', ...(e.problem ? { problem: e.problem } : {}) });
        }
        opened.push({ ...(fs.reader.problem ? { problem: fs.reader.problem } : {}), files });
      }
      expect(opened).toHaveLength(1);
      // Before: the volume's problem "the volume is cut short (12582912 of …)" and fill.bin "cluster 6116 links to cluster 6117, which lies past the end of the image".
      expect(opened[0]!.problem).toBeUndefined();
      const files = opened[0]!.files;
      expect([...files.keys()].sort()).toEqual(['big2.bin', 'fill.bin', 'small.txt']);
      for (const [name, f] of files) {
        expect({ name, problem: f.problem }).toEqual({ name, problem: undefined });
        expect({ name, md5: f.md5 }).toEqual({ name, md5: icatMd5([disk], f.entryId, { sectorOffset: 2048 }) });
      }
      expect(files.get('fill.bin')!.md5).toBe(md5(readFileSync(p('fill.bin'))));
    } finally {
      await source.close();
    }
  });

  it('file-system-read-past-partition-entry-unrecorded: a FAT16 read on past its MBR entry gets a note on every open saying how far, naming the partition entry those bytes overlap; the volume is listed with no problem', async () => {
    const fsImg = p('past-entry-fs.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '4', fsImg, '20480']);
    writeFileSync(p('small.txt'), 'small\n');
    writeFileSync(p('fill.bin'), pseudoRandom(15 * 1024 * 1024, 72));
    run('mcopy', ['-i', fsImg, p('small.txt'), p('fill.bin'), '::/']);
    const fsBytes = readFileSync(fsImg);
    const MiB = 1024 * 1024;
    const entrySectors = fsBytes.length / 512 - 16384;
    const entryEnd = MiB + entrySectors * 512;
    const readEnd = MiB + fsBytes.length;
    // A second entry inside the bytes the file system declares past its own entry (a forged size reads them as its own).
    const second = { type: 0x83, startSector: 30720, sectors: 4096 };
    const build = (name: string, entries: Parameters<typeof mbrSector>[0]) => {
      const disk = p(name);
      writeFileSync(disk, Buffer.concat([mbrSector(entries), Buffer.alloc(MiB - 512), fsBytes]));
      return disk;
    };
    const notesOf = async (disk: string) => {
      const source = await FileByteSource.open(disk);
      try {
        const image = await openDiskImage([source]);
        const volumes: { index: number; problem: unknown; files: number }[] = [];
        for await (const fs of fileSystems(image)) {
          let files = 0;
          if ('reader' in fs) for await (const e of fs.reader.entries()) if (e.kind === 'file' && !e.problem) files += 1;
          volumes.push({ index: fs.volume.index, problem: 'reader' in fs ? (fs.reader.problem ?? null) : fs.problem.code, files });
        }
        return { problems: image.volumeSystem.problems, volumes };
      } finally {
        await source.close();
      }
    };
    const read = `volume 0: its fat file system declares ${fsBytes.length} bytes, its partition entry ${entrySectors * 512}: read on ${readEnd - entryEnd} bytes past the entry (disk bytes ${entryEnd} to ${readEnd}), as TSK reads it; `;
    const overlapping = build('past-entry-overlap.img', [{ type: 0x06, startSector: 2048, sectors: entrySectors }, second]);
    const first = await notesOf(overlapping);
    // Before: no problem at all, the volume read on into volume 1's bytes unrecorded.
    expect(first.problems).toEqual([
      {
        where: 'mbr 0',
        code: 'read-past-entry',
        message: `${read}those bytes overlap the partition entry of volume 1 (mbr 1, disk bytes ${second.startSector * 512} to ${(second.startSector + second.sectors) * 512}; ${second.sectors * 512} bytes in common): what the file system reads there is that partition's too`,
      },
    ]);
    expect(isVolumeNote(first.problems[0]!)).toBe(true);
    // A note, not a failure: both files listed, the volume has no problem (volume 1 holds no file system here).
    expect(first.volumes).toEqual([
      { index: 0, problem: null, files: 2 },
      { index: 1, problem: 'unsupported-format', files: 0 },
    ]);
    // The same reason on every open.
    expect(await notesOf(overlapping)).toEqual(first);
    const alone = await notesOf(build('past-entry-alone.img', [{ type: 0x06, startSector: 2048, sectors: entrySectors }]));
    expect(alone.problems).toEqual([{ where: 'mbr 0', code: 'read-past-entry', message: `${read}no other partition entry covers those bytes` }]);
    // An entry as long as the file system: nothing read past it, no note.
    expect((await notesOf(build('past-entry-none.img', [{ type: 0x06, startSector: 2048, sectors: fsBytes.length / 512 }]))).problems).toEqual([]);
  });

  it('fat-volume-cut-short-free-space-fails-unpack: a FAT16 volume cut in its free space (or past its last whole cluster) loses no file: no volume problem, every file equal to icat; a cut into a file still says so', async () => {
    const img = p('tail-free.img');
    buildFilledFat16(img);
    const whole = readFileSync(img);
    for (const cutBytes of [1024 * 1024, 1024]) {
      writeFileSync(img, whole.subarray(0, whole.length - cutBytes));
      const listed = await list(img);
      // Before: "fat16: the boot sector declares 40960 sectors … the volume is cut short", failing the unpack, though nothing is lost.
      expect({ cutBytes, problem: listed.reader.problem }).toEqual({ cutBytes, problem: undefined });
      expect(listed.entries.filter((e) => e.problem)).toEqual([]);
      expect(listed.md5s.size).toBe(3);
      expectIcatMd5s(img, listed);
    }
    // Cut into fill.bin: the volume problem stays.
    writeFileSync(img, whole.subarray(0, whole.length - 4 * 1024 * 1024));
    expect((await list(img)).reader.problem?.message).toMatch(/the volume is cut short/);
  });

  // Directory damage: a directory past the entry limit, a cross-link, the FAT32 root's clusters, a cut FAT16 root --

  /** A 32-byte short entry: an empty file (no cluster, size 0) named `name11`, with the times of `like` (TSK skips a live entry dated 0). */
  function emptyFileEntry(name11: string, like: Buffer): Buffer {
    const e = Buffer.from(like);
    e.write(name11, 0, 'latin1');
    e[11] = 0x20;
    e[12] = 0; // no lower-case flags: listed as written
    e.fill(0, 20, 22);
    e.fill(0, 26, 32);
    return e;
  }

  /**
   * Gives the directory whose first cluster is `first` one more cluster than LIMITS.maxDirectoryEntries slots need (at
   * 512-byte clusters, 16 slots each: 62,500 clusters hold the limit's 1,000,000): its FAT entry links on through the
   * free, zeroed clusters from `start`. The last slot within the limit holds LAST.TXT, the first past it PAST.TXT.
   */
  function overLimit(fat: Fat32, first: number, start: number): void {
    const image = fat.image;
    const limitClusters = LIMITS.maxDirectoryEntries / 16;
    expect(Number.isInteger(limitClusters)).toBe(true);
    const fatBytes = fat.boot.fatSectors * fat.boot.sectorBytes;
    const set = (cluster: number, value: number) => {
      for (let n = 0; n < fat.boot.fatCount; n += 1) image.writeUInt32LE(value, fat.boot.reservedSectors * fat.boot.sectorBytes + n * fatBytes + cluster * 4);
    };
    expect(fat.next(first)).toBeGreaterThanOrEqual(0x0ffffff8);
    // The directory's clusters after its first: start … start + limitClusters - 1, all free before.
    for (let c = start; c < start + limitClusters; c += 1) expect(fat.next(c)).toBe(0);
    set(first, start);
    for (let c = start; c < start + limitClusters - 1; c += 1) set(c, c + 1);
    set(start + limitClusters - 1, 0x0fffffff);
    // Slot 999,999 is the last of cluster index 62,499 (start + 62,498); slot 1,000,000 the first of the next.
    const like = image.subarray(entryAt(image, 'A       TXT'), entryAt(image, 'A       TXT') + 32);
    emptyFileEntry('LAST    TXT', like).copy(image, fat.offset(start + limitClusters - 2) + 15 * 32);
    emptyFileEntry('PAST    TXT', like).copy(image, fat.offset(start + limitClusters - 1));
    writeFileSync(fat.file, image);
  }

  /** A 48 MiB FAT32 (512-byte clusters, ~96,700 of them): BIG holding three files, and readme.txt. */
  function buildBig(img: string): void {
    run('mkfs.fat', ['-C', '-F', '32', '-s', '1', img, String(48 * 1024)]);
    run('mmd', ['-i', img, '::/BIG']);
    for (const [i, name] of ['a.txt', 'b.txt', 'c.txt'].entries()) writeFileSync(p(name), pseudoRandom(700 + i, 200 + i));
    run('mcopy', ['-i', img, p('a.txt'), p('b.txt'), p('c.txt'), '::/BIG/']);
    writeFileSync(p('readme.txt'), 'hello\n');
    run('mcopy', ['-i', img, p('readme.txt'), '::/readme.txt']);
  }

  it('fat-directory-over-entry-limit-lists-nothing: a directory of more than LIMITS.maxDirectoryEntries slots lists its entries up to the limit, with the limit its problem; the walk goes on', async () => {
    buildBig(p('big.img'));
    const fat = new Fat32(p('big.img'));
    const big = fat.firstCluster('BIG        ');
    overLimit(fat, big, 2000);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // TSK has no such limit: it lists PAST.TXT, slot 1,000,000 of BIG; everything else it lists is listed here.
    expect(tsk.filter((e) => e.path === 'BIG/PAST.TXT')).toHaveLength(1);
    // Before: BIG had the problem "directory longer than 1000000 entries" and none of its files was listed.
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'BIG/PAST.TXT')));
    expect(listed.entries.map((e) => e.path)).toEqual(['BIG', 'BIG/a.txt', 'BIG/b.txt', 'BIG/c.txt', 'BIG/LAST.TXT', 'readme.txt']);
    expect(listed.entries.find((e) => e.path === 'BIG')?.problem).toEqual({ code: 'limit-exceeded', message: `directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed` });
    expect(listed.entries.filter((e) => e.path !== 'BIG' && e.problem)).toEqual([]);
    expect(listed.md5s.size).toBe(5);
    expectIcatMd5s(fat.file, listed);
  });

  it('fat-root-over-entry-limit-fails-volume: a FAT32 root of more than LIMITS.maxDirectoryEntries slots lists its entries up to the limit, the limit the volume\'s problem', async () => {
    buildBig(p('big-root.img'));
    const fat = new Fat32(p('big-root.img'));
    overLimit(fat, fat.boot.rootCluster, 2000);
    // Before: entries() threw "root directory: directory longer than 1000000 entries" and the volume listed nothing.
    const listed = await list(fat.file);
    expect(listed.reader.problem).toEqual({ code: 'limit-exceeded', message: `root directory: directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed` });
    const tsk = fls([fat.file]);
    expect(tsk.filter((e) => e.path === 'PAST.TXT')).toHaveLength(1);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'PAST.TXT')));
    expect(listed.entries.map((e) => e.path)).toEqual(['BIG', 'BIG/a.txt', 'BIG/b.txt', 'BIG/c.txt', 'readme.txt', 'LAST.TXT']);
    expect(listed.entries.filter((e) => e.problem)).toEqual([]);
    expectIcatMd5s(fat.file, listed);
  });

  /** The sector numbers istat prints for the entry (its clusters, as TSK reads its chain). */
  const istatSectors = (img: string, entryId: string) => {
    const text = run('istat', [img, entryId]).toString();
    return text.slice(text.indexOf('Sectors:')).split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number);
  };

  it('fat-directory-over-limit-clusters-unclaimed-cross-link-missed: a file whose chain links into a directory\'s clusters past the entry limit (or the FAT32 root\'s) is cross-linked, not read as the directory\'s bytes', async () => {
    buildBig(p('big-cross.img'));
    const fat = new Fat32(p('big-cross.img'));
    overLimit(fat, fat.firstCluster('BIG        '), 2000);
    // readme.txt grows to two clusters, its first linking on to BIG's last cluster, past the limit (the one holding PAST.TXT).
    const past = 2000 + LIMITS.maxDirectoryEntries / 16 - 1;
    const readmeAt = entryAt(fat.image, 'README  TXT');
    const r = fat.firstCluster('README  TXT');
    writeAt(fat.file, readmeAt + 28, Buffer.from([0x06, 0x02, 0, 0]));
    fat.link(r, past);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'BIG/PAST.TXT')));
    // TSK's istat reads readme.txt's chain as its own cluster and then that one, which BIG's chain holds too.
    const readme = listed.entries.find((e) => e.path === 'readme.txt')!;
    expect(readme.size).toBe(518);
    expect(istatSectors(fat.file, readme.entryId)).toEqual([fat.offset(r) / 512, fat.offset(past) / 512]);
    // Before: no problem, and readme.txt's second cluster was read from BIG's directory bytes (icat reads them too).
    expect(readme.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${past} also belongs to a directory listed earlier, past its first ${LIMITS.maxDirectoryEntries} entries (not read)` });
    expect(readme.data).toBeUndefined();
    expect(listed.entries.find((e) => e.path === 'BIG')?.problem?.code).toBe('limit-exceeded');

    // A file whose first cluster is that cluster keeps it (the chain strays into an entry's first cluster, as before the limit).
    writeAt(fat.file, readmeAt + 26, Buffer.from([past & 0xff, past >> 8]));
    writeAt(fat.file, readmeAt + 28, Buffer.from([0x06, 0, 0, 0]));
    const strayed = await list(fat.file);
    expect(strayed.entries.find((e) => e.path === 'readme.txt')?.problem).toBeUndefined();
    expect(strayed.entries.find((e) => e.path === 'BIG')?.problem).toEqual({
      code: 'corrupt-file',
      message: `directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed; also past them: cluster ${past - 1} links to cluster ${past}, which is the first cluster of an entry listed: the chain strays there`,
    });
    expectIcatMd5s(fat.file, strayed);

    // The FAT32 root past its limit: BIG/a.txt (two clusters, listed after the root is read) links on to its last cluster.
    buildBig(p('big-root-cross.img'));
    const root = new Fat32(p('big-root-cross.img'));
    overLimit(root, root.boot.rootCluster, 2000);
    const a1 = root.firstCluster('A       TXT');
    root.link(a1, past);
    const listed2 = await list(root.file);
    const a = listed2.entries.find((e) => e.path === 'BIG/a.txt')!;
    expect(istatSectors(root.file, a.entryId)).toEqual([root.offset(a1) / 512, root.offset(past) / 512]);
    expect(a.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${past} also belongs to the root directory, past its first ${LIMITS.maxDirectoryEntries} entries (not read)` });
    expect(listed2.reader.problem?.code).toBe('limit-exceeded');
    expect(listed2.entries.map(asTsk)).toEqual(tskRows(fls([root.file]).filter((e) => e.path !== 'PAST.TXT')));
  });

  it('fat-past-limit-walk-unbounded: the walk of a directory\'s clusters past its entry limit stops at maxFatPastLimitClusters, the rest said not held (a cross-link into them not detected)', async () => {
    buildBig(p('big-cap.img'));
    const fat = new Fat32(p('big-cap.img'));
    overLimit(fat, fat.firstCluster('BIG        '), 2000);
    // BIG's chain goes on from its last cluster (past the limit) over ten more, free before.
    const past = 2000 + LIMITS.maxDirectoryEntries / 16 - 1;
    for (let c = past + 1; c <= past + 10; c += 1) expect(fat.next(c)).toBe(0);
    for (let c = past; c < past + 10; c += 1) fat.link(c, c + 1);
    fat.link(past + 10, 0x0fffffff);
    // readme.txt (two clusters) links on into the 8th cluster past the listed ones; b.txt (two clusters) into the 2nd.
    const linkInto = (name11: string, size: number, target: number) => {
      const at = entryAt(readFileSync(fat.file), name11);
      writeAt(fat.file, at + 28, Buffer.from([size & 0xff, size >> 8, 0, 0]));
      fat.link(fat.firstCluster(name11), target);
    };
    linkInto('README  TXT', 518, past + 7);
    linkInto('B       TXT', 1000, past + 1);
    const capped = await list(fat.file, openFat, undefined, { maxFatPastLimitClusters: 4 });
    // Before: the option was not there and the whole rest of the chain was held, as a list of every cluster's number.
    expect(capped.entries.find((e) => e.path === 'BIG')?.problem).toEqual({
      code: 'limit-exceeded',
      message: `directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed; also past them: the chain goes on past the 4 clusters held beyond those listed (LIMITS.maxFatPastLimitClusters): the rest (from cluster ${past + 4}) are not held, so a file or directory cross-linked into them is not detected`,
    });
    // b.txt is listed after BIG (inside it) and runs into a held cluster: found. readme.txt's cluster was not held: not found, as said.
    expect(capped.entries.find((e) => e.path === 'BIG/b.txt')?.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${past + 1} also belongs to a directory listed earlier, past its first ${LIMITS.maxDirectoryEntries} entries (not read)` });
    expect(capped.entries.find((e) => e.path === 'readme.txt')?.problem).toBeUndefined();
    // With the limit as shipped, the whole (short) rest is held and both are found.
    const whole = await list(fat.file);
    expect(whole.entries.find((e) => e.path === 'BIG')?.problem?.code).toBe('limit-exceeded');
    expect(whole.entries.find((e) => e.path === 'readme.txt')?.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${past + 7} also belongs to a directory listed earlier, past its first ${LIMITS.maxDirectoryEntries} entries (not read)` });
    expect(capped.entries.map(asTsk)).toEqual(whole.entries.map(asTsk));
  });

  it('fat-directory-break-at-limit-cluster-reported-limit-only: at 32 KiB clusters (977 hold more than the limit\'s slots) a directory chain breaking right after its 977th cluster says the break, with the limit', async () => {
    const img = p('big16.img');
    // FAT16, 32 KiB clusters, ~4,480 of them.
    run('mkfs.fat', ['-C', '-F', '16', '-s', '64', img, String(140 * 1024)]);
    run('mmd', ['-i', img, '::/BIG']);
    writeFileSync(p('a.txt'), 'a\n');
    run('mcopy', ['-i', img, p('a.txt'), '::/BIG/a.txt']);
    const image = readFileSync(img);
    const boot = parseFatBootSector(image.subarray(0, 512), image.length)!;
    expect([boot.type, boot.clusterBytes]).toEqual(['fat16', 32 * 1024]);
    const perCluster = boot.clusterBytes / 32;
    const limitClusters = Math.ceil(LIMITS.maxDirectoryEntries / perCluster);
    expect(limitClusters * perCluster).toBeGreaterThan(LIMITS.maxDirectoryEntries);
    const fatAt = (cluster: number) => boot.reservedSectors * boot.sectorBytes + cluster * 2;
    const set = (cluster: number, value: number) => {
      for (let n = 0; n < boot.fatCount; n += 1) image.writeUInt16LE(value, fatAt(cluster) + n * boot.fatSectors * boot.sectorBytes);
    };
    const e = entryAt(image, 'BIG        ');
    const big = image.readUInt16LE(e + 26);
    // BIG: its first cluster, then 976 free (zeroed) ones, the last linking to a free cluster.
    const start = 100;
    for (let c = start; c <= start + limitClusters; c += 1) expect(image.readUInt16LE(fatAt(c))).toBe(0);
    set(big, start);
    for (let c = start; c < start + limitClusters - 2; c += 1) set(c, c + 1);
    const last = start + limitClusters - 2;
    set(last, last + 1);
    writeFileSync(img, image);
    const listed = await list(img);
    // Before: "directory longer than 1000000 entries" alone (limit-exceeded), the break unsaid.
    expect(listed.entries.find((x) => x.path === 'BIG')?.problem).toEqual({ code: 'corrupt-file', message: `cluster ${last} links to cluster ${last + 1}, which is free; also directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed` });
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([img])));
    expectIcatMd5s(img, listed);
  });

  it('fat-cross-linked-directory-lists-nothing: a directory whose chain runs into a cluster of a directory listed earlier lists the clusters before it, each entry once, the cross-link its problem', async () => {
    const { fat, c100, c101, second101 } = canonDirs('dir-cross.img');
    // 101CANON's first cluster links to 100CANON's (only) cluster; its own second cluster is left unlinked.
    fat.link(c101, c100);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // TSK lists 100CANON's two photos twice: under 100CANON and again, same addresses, under 101CANON.
    const twice = tsk.filter((e) => /^DCIM\/10[01]CANON\/[ab]\.jpg$/.test(e.path));
    expect(twice.map((e) => e.path)).toEqual(['DCIM/100CANON/a.jpg', 'DCIM/100CANON/b.jpg', 'DCIM/101CANON/a.jpg', 'DCIM/101CANON/b.jpg']);
    expect(twice[2]!.entryId).toBe(twice[0]!.entryId);
    // Before: 101CANON had the problem and none of its photos was listed (TSK lists the 14 of its first cluster).
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => !/^DCIM\/101CANON\/[ab]\.jpg$/.test(e.path))));
    expect(listed.entries.filter((e) => e.path.startsWith('DCIM/101CANON/'))).toHaveLength(14);
    // c100 is 100CANON's first cluster: 101CANON's chain strays there (it was "cross-linked: … a directory listed earlier").
    expect(listed.entries.find((e) => e.path === 'DCIM/101CANON')?.problem).toEqual({ code: 'corrupt-file', message: `cluster ${c101} links to cluster ${c100}, which is the first cluster of an entry listed: the chain strays there, and what its clusters before it hold is listed` });
    expect(new Set(listed.entries.map((e) => e.entryId)).size).toBe(listed.entries.length);
    expect(listed.md5s.size).toBe(2 + 14 + 1);
    expectIcatMd5s(fat.file, listed);
    expect(second101).not.toBe(c100);

    // The other way round: 100CANON (listed first) links on into 101CANON's second cluster. Which directory owns it the
    // FAT cannot say: the first to reach it lists its entries, once, and the other is flagged (TSK lists them under both).
    const fat2 = card('dir-cross-first.img');
    fat2.link(c100, second101);
    const listed2 = await list(fat2.file);
    const tsk2 = fls([fat2.file]);
    const late = /^DCIM\/101CANON\/IMG_(001[5-9]|002\d|0030)\.JPG$/;
    expect(tsk2.filter((e) => late.test(e.path))).toHaveLength(16);
    expect(listed2.entries.map(asTsk)).toEqual(tskRows(tsk2.filter((e) => !late.test(e.path))));
    expect(listed2.entries.find((e) => e.path === 'DCIM/101CANON')?.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${second101} also belongs to a directory listed earlier, which lists the entries it holds (whose they are the FAT cannot say)` });
    expect(new Set(listed2.entries.map((e) => e.entryId)).size).toBe(listed2.entries.length);
    expectIcatMd5s(fat2.file, listed2);

    // A file cross-linked into a directory's cluster: the file has the problem and no data (icat reads the directory's bytes).
    const fat3 = card('file-cross-dir.img');
    writeAt(fat3.file, entryAt(fat3.image, 'README  TXT') + 26, Buffer.from([c100 & 0xff, c100 >> 8]));
    const readme = (await list(fat3.file)).entries.find((e) => e.path === 'readme.txt')!;
    expect(readme.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${c100} also belongs to a directory listed earlier` });
    expect(readme.data).toBeUndefined();
  });

  it('fat-cross-linked-directory-first-listed-unflagged: of two directories whose chains run into one cluster, the one listed first is flagged too, before it is given', async () => {
    const { fat, c100, c101, second101 } = canonDirs('dir-cross-both.img');
    // 100CANON (listed first, one cluster) links on into 101CANON's second cluster: two FAT entries link to it.
    fat.link(c100, second101);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // istat reads both directories' chains through that cluster: they share it.
    const sector = fat.offset(second101) / 512;
    const istatSectors = (id: string) => {
      const text = run('istat', [fat.file, id]).toString();
      return text.slice(text.indexOf('Sectors:')).split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number);
    };
    const d100 = listed.entries.find((e) => e.path === 'DCIM/100CANON')!;
    const d101 = listed.entries.find((e) => e.path === 'DCIM/101CANON')!;
    expect(istatSectors(d100.entryId)).toEqual([fat.offset(c100) / 512, sector]);
    expect(istatSectors(d101.entryId)).toContain(sector);
    // Before: 100CANON had no problem (it lists the shared cluster's photos), only 101CANON was flagged.
    expect(d100.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${c100} links to cluster ${second101}, which another FAT entry links to as well (another chain runs into it): whose it is the FAT cannot say, and its entries are listed here` });
    expect(d101.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${second101} also belongs to a directory listed earlier, which lists the entries it holds (whose they are the FAT cannot say)` });
    // The listing is unchanged: the shared cluster's photos once, under 100CANON (TSK lists them under both).
    const late = /^DCIM\/101CANON\/IMG_(001[5-9]|002\d|0030)\.JPG$/;
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => !late.test(e.path))));
    expect(listed.entries.filter((e) => e.problem).map((e) => e.path)).toEqual(['DCIM/100CANON', 'DCIM/101CANON']);
    expectIcatMd5s(fat.file, listed);

    // A directory whose chain loops back onto its own second cluster is not cross-linked: the loop is its problem.
    const loop = card('dir-loop-second.img');
    expect(loop.next(second101)).toBeGreaterThanOrEqual(0x0ffffff8);
    loop.link(second101, second101);
    const looped = (await list(loop.file)).entries.find((e) => e.path === 'DCIM/101CANON');
    expect(looped?.problem).toEqual({ code: 'corrupt-file', message: `cluster chain loops: cluster ${second101} links back to cluster ${second101}` });
  });

  it('unreadable-fat-block-hides-every-multi-cluster-directory: a block of FAT #1 that cannot be read (a lost EWF chunk), used by no chain, leaves every directory listed; the cross-link check is said as not made, once', async () => {
    const fat = card('fat-block-lost.img');
    // A second directory of two clusters (30 photos), beside 101CANON, so two directories ask for the check.
    run('mmd', ['-i', fat.file, '::/DCIM/102CANON']);
    run('mcopy', ['-i', fat.file, ...Array.from({ length: 30 }, (_, i) => path.join(p('photos'), `IMG_${String(i + 1).padStart(4, '0')}.JPG`)), '::/DCIM/102CANON/']);
    const { boot } = new Fat32(fat.file);
    const image = readFileSync(fat.file);
    const fatStart = boot.reservedSectors * 512;
    const fatBytes = boot.fatSectors * 512;
    // FAT #1's last 64 KiB block: every entry in it is free (no chain uses it).
    const from = fatStart + Math.floor((fatBytes - 1) / 65536) * 65536;
    for (let at = from; at < fatStart + fatBytes; at += 4) expect(image.readUInt32LE(at)).toBe(0);
    const whole = await list(fat.file);
    const multi = whole.entries.filter((e) => e.kind === 'directory' && e.size > 512).map((e) => e.path);
    expect(multi).toEqual(['DCIM/101CANON', 'DCIM/102CANON']);
    const reads: [number, number][] = [];
    const listed = await list(fat.file, openFat, recording(reads, { from, to: fatStart + fatBytes }));
    // Before: "DCIM/101CANON" and "DCIM/102CANON" had "directory clusters unreadable: image chunk unreadable at …" and none of their photos.
    expect(listed.entries.map((e) => ({ ...asTsk(e), problem: e.problem }))).toEqual(whole.entries.map((e) => ({ ...asTsk(e), problem: e.problem })));
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([fat.file])));
    expectIcatMd5s(fat.file, listed);
    // Said once, as a note (every entry is listed as without the check): never a problem of the volume or a directory.
    expect(listed.reader.problem).toBeUndefined();
    expect(listed.reader.notes).toEqual([
      {
        code: 'cross-link-check-not-made',
        message: `FAT #1 could not be read whole to find clusters two FAT entries link to (image chunk unreadable at byte ${fatStart}): the check for a directory whose clusters another chain runs into (said on the directory listed first) was not made`,
      },
    ]);
    // Read once (the failure is kept), not again for the second directory.
    expect(reads.filter(([o, l]) => o < fatStart + fatBytes && o + l > from)).toHaveLength(1);
  });

  it('fat-cross-link-scan-unbounded: FAT #1 is read for the check once, in pieces of at most fatScanPieceBytes (not maxDiskReadBytes), and a FAT larger than maxFatCrossLinkScanBytes is not read for it (said, the later directory still flagged)', async () => {
    const { fat, c100, second101 } = canonDirs('dir-cross-scan-limit.img');
    fat.link(c100, second101);
    const fatStart = fat.boot.reservedSectors * 512;
    const scanBytes = Math.min((fat.boot.lastCluster + 1) * 4, fat.boot.fatSectors * 512);
    const piece = 64 * 1024;
    expect(scanBytes).toBeGreaterThan(2 * piece);

    // The scan's reads: those of a listing that makes the check, less those of one that does not (the same walks
    // through the FAT block cache, which the scan does not use).
    const without: [number, number][] = [];
    const limited = await list(fat.file, openFat, recording(without), { maxFatCrossLinkScanBytes: scanBytes - 1, fatScanPieceBytes: piece });
    const reads: [number, number][] = [];
    const listed = await list(fat.file, openFat, recording(reads), { fatScanPieceBytes: piece });
    expect(listed.entries.find((e) => e.path === 'DCIM/100CANON')?.problem?.message).toMatch(/^cross-linked: cluster \d+ links to cluster/);
    const rest = new Map<string, number>();
    for (const r of without) rest.set(r.join(), (rest.get(r.join()) ?? 0) + 1);
    const scan = reads.filter((r) => {
      const n = rest.get(r.join()) ?? 0;
      if (n > 0) rest.set(r.join(), n - 1);
      return n === 0;
    });
    expect([...rest.values()].every((n) => n === 0)).toBe(true);
    // Before: one read of all of FAT #1 (pieces of maxDiskReadBytes, 64 MiB), held outside the heap by each parser thread.
    expect(scan.filter(([, l]) => l > piece)).toEqual([]);
    // Together they read FAT #1 once, in order, no byte twice.
    expect(scan.reduce((sum, [, l]) => sum + l, 0)).toBe(scanBytes);
    expect(scan.map(([o]) => o)).toEqual(Array.from({ length: Math.ceil(scanBytes / piece) }, (_, k) => fatStart + k * piece));

    expect(limited.reader.problem).toBeUndefined();
    expect(limited.reader.notes).toEqual([
      {
        code: 'cross-link-check-not-made',
        message: `FAT #1 is ${scanBytes} bytes, more than the ${scanBytes - 1} read to find clusters two FAT entries link to (LIMITS.maxFatCrossLinkScanBytes): the check for a directory whose clusters another chain runs into (said on the directory listed first) was not made`,
      },
    ]);
    expect(limited.entries.find((e) => e.path === 'DCIM/100CANON')?.problem).toBeUndefined();
    expect(limited.entries.find((e) => e.path === 'DCIM/101CANON')?.problem?.message).toMatch(/^cross-linked: cluster \d+ also belongs to a directory listed earlier/);
    expect(limited.entries.map(asTsk)).toEqual(listed.entries.map(asTsk));
  });

  it('fat-cross-link-scan-fault-becomes-note: a fault that is not damage of the image (retryable, aborted, a blob gone or changed) during the cross-link scan ends the listing, never a permanent "check not made" note', async () => {
    const fat = card('dir-cross-scan-fault.img');
    const fatStart = fat.boot.reservedSectors * 512;
    const scanBytes = Math.min((fat.boot.lastCluster + 1) * 4, fat.boot.fatSectors * 512);
    // The scan's one read (FAT #1 whole, under fatScanPieceBytes); the FAT block cache reads 64 KiB at most.
    expect(scanBytes).toBeGreaterThan(65536);
    expect(scanBytes).toBeLessThanOrEqual(LIMITS.fatScanPieceBytes);
    const failing = (code: ExhibitErrorCode) => (source: ByteSource): ByteSource => ({
      size: source.size,
      async read(offset, length, options) {
        if (offset === fatStart && length === scanBytes) throw new ExhibitError(code, `blob read failed at byte ${offset}`);
        return source.read(offset, length, options);
      },
    });
    for (const code of ['storage-unavailable', 'aborted', 'timeout'] as const) {
      await expect(list(fat.file, openFat, failing(code)), code).rejects.toMatchObject({ code });
    }
    // A blob gone or changed under the scan is not the image's damage either: never the note "FAT #1 could not be read
    // whole …". (The directory walk's own catch still makes it that directory's problem: not changed here.)
    for (const code of ['precondition-failed', 'not-found'] as const) {
      const listed: Listed | Error = await list(fat.file, openFat, failing(code)).catch((err: unknown) => err as Error);
      // Before: [{ code: 'cross-link-check-not-made', message: 'FAT #1 could not be read whole … (blob read failed at byte …)' }].
      if (!(listed instanceof Error)) expect(listed.reader.notes, code).toEqual([]);
      else expect(listed, code).toMatchObject({ code });
    }
  });

  it('fat32-root-clusters-unclaimed-cross-link-missed: a file or a directory cross-linked into the FAT32 root\'s clusters is a cross-link, not read as the root\'s bytes', async () => {
    const fat = card('root-cross.img');
    const readme = entryAt(fat.image, 'README  TXT');
    // readme.txt (6 bytes, one cluster) now starts at the root's cluster.
    writeAt(fat.file, readme + 26, Buffer.from([fat.boot.rootCluster & 0xff, fat.boot.rootCluster >> 8]));
    const listed = await list(fat.file);
    const entry = listed.entries.find((e) => e.path === 'readme.txt')!;
    // Before: no problem, and readme.txt's bytes were the root directory's first 6 bytes (icat reads them too).
    expect(entry.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${fat.boot.rootCluster} also belongs to the root directory` });
    expect(entry.data).toBeUndefined();
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([fat.file])));

    // 101CANON's first cluster links to the root's: its 14 photos, not the root's entries again under it.
    const fat2 = card('root-cross-dir.img');
    const c101 = fat2.firstCluster('101CANON   ');
    fat2.link(c101, fat2.boot.rootCluster);
    const listed2 = await list(fat2.file);
    // Before: DCIM/101CANON/DCIM and DCIM/101CANON/readme.txt were listed, the root's entries a second time.
    expect(listed2.entries.filter((e) => e.path.startsWith('DCIM/101CANON/')).map((e) => e.path)).toEqual(Array.from({ length: 14 }, (_, i) => `DCIM/101CANON/IMG_${String(i + 1).padStart(4, '0')}.JPG`));
    expect(listed2.entries.find((e) => e.path === 'DCIM/101CANON')?.problem).toEqual({ code: 'corrupt-file', message: `cross-linked: cluster ${fat2.boot.rootCluster} also belongs to the root directory, which lists the entries it holds (whose they are the FAT cannot say)` });
    const tsk2 = fls([fat2.file]);
    expect(listed2.entries.map(asTsk)).toEqual(tskRows(tsk2.filter((e) => !e.path.startsWith('DCIM/101CANON/') || /^DCIM\/101CANON\/IMG_00(0\d|1[0-4])\.JPG$/.test(e.path))));
    expectIcatMd5s(fat2.file, listed2);
  });

  /** A 40 MiB FAT32 (512-byte clusters): the root (one cluster) holding `dirs`, each with its files, then the root's files. */
  function buildSmall(img: string, dirs: Record<string, Record<string, string>>, rootFiles: Record<string, string>): Fat32 {
    run('mkfs.fat', ['-C', '-F', '32', '-s', '1', img, '40960']);
    const names = Object.keys(dirs);
    if (names.length) run('mmd', ['-i', img, ...names.map((d) => `::/${d}`)]);
    const put = (files: Record<string, string>, to: string) => {
      for (const [name, text] of Object.entries(files)) {
        writeFileSync(p(name), text);
        run('mcopy', ['-i', img, p(name), `::/${to}${name}`]);
      }
    };
    for (const d of names) put(dirs[d]!, `${d}/`);
    put(rootFiles, '');
    return new Fat32(img);
  }

  const strays = (from: number, to: number) => `cluster ${from} links to cluster ${to}, which is the first cluster of an entry listed: the chain strays there, and what its clusters before it hold is listed`;

  it('fat32-root-chain-strays-into-subdirectory-lists-its-files-at-root: a FAT32 root whose last cluster links to its subdirectory\'s first cluster stops there, the subdirectory lists its own files', async () => {
    const fat = buildSmall(p('root-stray-dir.img'), { DIR: { 'inner.txt': 'inner\n' } }, { 'top.txt': 'top\n' });
    const root = fat.boot.rootCluster;
    const cDir = fat.firstCluster('DIR        ');
    expect(fat.next(root)).toBeGreaterThanOrEqual(0x0ffffff8);
    fat.link(root, cDir);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // TSK lists DIR's inner.txt twice: under DIR and, same address, at the root (it reads DIR's cluster as the root's).
    expect(tsk.map((e) => e.path)).toEqual(['DIR', 'DIR/inner.txt', 'top.txt', 'inner.txt']);
    // Before: inner.txt was listed at the root, unflagged; DIR listed nothing ("cross-linked: … the root directory").
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'inner.txt')));
    expect(listed.entries.filter((e) => e.problem)).toEqual([]);
    expect(listed.reader.problem).toEqual({ code: 'corrupt-file', message: `root directory: ${strays(root, cDir)}` });
    expect(listed.md5s.size).toBe(2);
    expectIcatMd5s(fat.file, listed);
  });

  it('fat32-root-chain-strays-into-file-loses-its-data: a FAT32 root whose last cluster links to a file\'s first cluster stops there, the file keeps its data', async () => {
    const fat = buildSmall(p('root-stray-file.img'), { DIR: { 'inner.txt': 'inner\n' } }, { 'top.txt': 'top\n' });
    const root = fat.boot.rootCluster;
    const cTop = fat.firstCluster('TOP     TXT');
    fat.link(root, cTop);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk));
    // Before: top.txt had "cross-linked: cluster N also belongs to the root directory" and no data (icat reads "top").
    expect(listed.entries.filter((e) => e.problem)).toEqual([]);
    expect(listed.md5s.get(listed.entries.find((e) => e.path === 'top.txt')!.entryId)).toBe(md5(Buffer.from('top\n')));
    expect(listed.reader.problem).toEqual({ code: 'corrupt-file', message: `root directory: ${strays(root, cTop)}` });
    expectIcatMd5s(fat.file, listed);
  });

  it('fat-directory-chain-strays-into-sibling-lists-its-files: a directory whose cluster links to its sibling\'s first cluster stops there, the sibling lists its own files', async () => {
    const fat = buildSmall(p('sibling-stray.img'), { A: { 'a1.txt': 'a1\n' }, B: { 'b1.txt': 'b1\n' } }, {});
    const cA = fat.firstCluster('A          ');
    const cB = fat.firstCluster('B          ');
    fat.link(cA, cB);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // TSK lists b1.txt twice: under A (it reads B's cluster as A's second) and, same address, under B.
    expect(tsk.map((e) => e.path)).toEqual(['A', 'A/a1.txt', 'A/b1.txt', 'B', 'B/b1.txt']);
    // Before: A/b1.txt was listed, unflagged, and B listed nothing ("cross-linked: … a directory listed earlier").
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'A/b1.txt')));
    expect(listed.entries.find((e) => e.path === 'A')?.problem).toEqual({ code: 'corrupt-file', message: strays(cA, cB) });
    expect(listed.entries.filter((e) => e.path !== 'A' && e.problem)).toEqual([]);
    expect(listed.reader.problem).toBeUndefined();
    expectIcatMd5s(fat.file, listed);
  });

  it('fat-directory-chain-strays-into-unlisted-directory-lists-its-files: a directory whose cluster links to the first cluster of a directory not yet read (its "." names it) stops there', async () => {
    const img = p('unlisted-stray.img');
    const fat0 = buildSmall(img, { D1: { 'd1.txt': 'd1\n' }, D2: {} }, {});
    run('mmd', ['-i', img, '::/D2/Y']);
    writeFileSync(p('y1.txt'), 'y1\n');
    run('mcopy', ['-i', img, p('y1.txt'), '::/D2/Y/y1.txt']);
    const fat = new Fat32(fat0.file);
    const c1 = fat.firstCluster('D1         ');
    const cY = fat.firstCluster('Y          ');
    fat.link(c1, cY);
    const listed = await list(fat.file);
    const tsk = fls([fat.file]);
    // TSK lists y1.txt twice: under D1 (Y's cluster read as D1's second) and, same address, under D2/Y.
    expect(tsk.map((e) => e.path)).toEqual(['D1', 'D1/d1.txt', 'D1/y1.txt', 'D2', 'D2/Y', 'D2/Y/y1.txt']);
    // Before: D1/y1.txt was listed, unflagged, and D2/Y listed nothing ("cross-linked: … a directory listed earlier").
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => e.path !== 'D1/y1.txt')));
    expect(listed.entries.find((e) => e.path === 'D1')?.problem).toEqual({ code: 'corrupt-file', message: `cluster ${c1} links to cluster ${cY}, which is the start of a directory (its "." entry names it): the chain strays there, and what its clusters before it hold is listed` });
    expect(listed.entries.filter((e) => e.path !== 'D1' && e.problem)).toEqual([]);
    expectIcatMd5s(fat.file, listed);
  });

  it('fat16-root-region-cut-short-fails-volume: a FAT16 image ending inside its fixed root region lists the root entries present, the volume cut short its problem', async () => {
    const img = p('root16.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '4', '-r', '512', img, '20480']);
    run('mmd', ['-i', img, '::/SUB']);
    writeFileSync(p('inner.txt'), 'inner\n');
    run('mcopy', ['-i', img, p('inner.txt'), '::/SUB/inner.txt']);
    const names: string[] = [];
    for (let i = 1; i <= 60; i += 1) {
      names.push(p(`F${i}.TXT`));
      writeFileSync(names[names.length - 1]!, i % 10 === 0 ? '' : `file ${i}\n`);
    }
    run('mcopy', ['-i', img, ...names, '::/']);
    const whole = readFileSync(img);
    const boot = parseFatBootSector(whole.subarray(0, 512), whole.length)!;
    const wholeTsk = fls([img]);
    // The image ends two sectors (32 slots) into the 32-sector root region.
    const cut = p('root16-cut.img');
    writeFileSync(cut, whole.subarray(0, (boot.firstDataSector + 2) * 512));
    // Before: openFat threw "not a FAT boot sector" (the root region not wholly present): the volume listed nothing.
    const listed = await list(cut);
    expect(listed.reader.problem).toEqual({
      code: 'corrupt-file',
      message:
        `fat16: the boot sector declares 40960 sectors of 512 bytes (20971520 bytes), past the end of the ${(boot.firstDataSector + 2) * 512}-byte volume: the volume is cut short (or its sector count is wrong), and what lies past the end is not read; ` +
        `also root directory: its region (bytes ${boot.firstDataSector * 512} to ${boot.firstDataSector * 512 + 512 * 32}) lies past the end of the image: 32 of its 512 entries are present and listed`,
    });
    // TSK lists nothing of the cut volume (fls fails reading the root's missing sectors); the whole image's listing,
    // its root entries in the 32 slots present, is the independent reading.
    expect(() => fls([cut])).toThrow(/Address missing in partial image/);
    const present = wholeTsk.filter((e) => !e.path.includes('/') && Number(e.entryId) < 3 + 32);
    expect(present.length).toBeGreaterThan(20);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(present));
    // Every cluster lies past the end: SUB and each non-empty file says so; the empty files are read (0 bytes).
    const cutShort = `the volume is cut short (${(boot.firstDataSector + 2) * 512} of the 20971520 bytes its boot sector declares are present)`;
    for (const e of listed.entries) {
      if (e.kind === 'file' && e.size === 0) expect({ path: e.path, problem: e.problem, md5: listed.md5s.get(e.entryId) }).toEqual({ path: e.path, problem: undefined, md5: md5(new Uint8Array(0)) });
      else expect({ path: e.path, problem: e.problem?.message }).toEqual({ path: e.path, problem: expect.stringMatching(new RegExp(`^first cluster \\d+ lies past the end of the image: ${cutShort.replace(/[()]/g, '\\$&')}$`)) });
    }
    expect(listed.entries.find((e) => e.path === 'SUB')?.kind).toBe('directory');

    // As an image: the one volume is FAT16, opened with its problem (before: "no supported file system in volume 0").
    expect(await openedAsImage(cut)).toEqual([{ type: 'fat16', problem: 'corrupt-file' }]);
  });

  it('fat-volume-cut-inside-fats-refused: a FAT12, FAT16 or FAT32 image ending inside FAT #2 or FAT #1 is opened as FAT, the cut its problem; nothing of the volume lies before the cut, so nothing is listed', async () => {
    const fat16 = p('fatcut16.img');
    buildFilledFat16(fat16);
    // A 1.44 MB FAT12 floppy holding one file.
    const fat12 = p('fatcut12.img');
    run('mkfs.fat', ['-C', '-F', '12', fat12, '1440']);
    writeFileSync(p('floppy.txt'), pseudoRandom(3000, 72));
    run('mcopy', ['-i', fat12, p('floppy.txt'), '::/']);
    const wholeOf = { fat12, fat16, fat32: p('card.img') };
    for (const [name, whole] of [['fat12', readFileSync(fat12)], ['fat16', readFileSync(fat16)], ['fat32', readFileSync(p('card.img'))]] as const) {
      const boot = parseFatBootSector(whole.subarray(0, 512), whole.length)!;
      const fatStart = boot.reservedSectors * 512;
      const fatBytes = boot.fatSectors * 512;
      const wholeTsk = fls([wholeOf[name]]);
      expect(wholeTsk.length).toBeGreaterThan(0);
      for (const copy of [2, 1]) {
        // Five sectors into the copy.
        const cutBytes = fatStart + (copy - 1) * fatBytes + 5 * 512;
        const cut = p(`${name}-fatcut-${copy}.img`);
        writeFileSync(cut, whole.subarray(0, cutBytes));
        // TSK refuses it (it reads the root directory first, which lies past the end).
        expect(() => fls([cut])).toThrow(/Address missing in partial image/);
        // Before: openFat threw "not a FAT boot sector" (as an image: "no supported file system in volume 0").
        const listed = await list(cut);
        expect(listed.reader.type).toBe(name);
        const entriesPresent = name === 'fat12' ? Math.floor((5 * 512 * 2) / 3) : Math.floor((5 * 512) / (name === 'fat16' ? 2 : 4));
        const fatPart = `the image ends at byte ${cutBytes}, inside FAT #${copy} of its 2 FATs (bytes ${fatStart} to ${fatStart + 2 * fatBytes}, ${fatBytes} bytes each): ${copy === 2 ? 'FAT #1 is whole' : `FAT #1 holds the entries of clusters below ${entriesPresent} only`}; the root directory and every cluster lie past the end`;
        const cutShort = `the volume is cut short (${cutBytes} of the ${whole.length} bytes its boot sector declares are present)`;
        const root =
          name !== 'fat32'
            ? `root directory: its region (bytes ${boot.firstDataSector * 512} to ${boot.firstDataSector * 512 + boot.rootEntries * 32}) lies past the end of the image: 0 of its ${boot.rootEntries} entries are present and listed`
            : `root directory: first cluster ${boot.rootCluster} lies past the end of the image: ${cutShort}; what its clusters before the break hold is listed`;
        expect({ name, copy, problem: listed.reader.problem }).toEqual({
          name,
          copy,
          problem: {
            code: 'corrupt-file',
            message: `${name}: the boot sector declares ${whole.length / 512} sectors of 512 bytes (${whole.length} bytes), past the end of the ${cutBytes}-byte volume: the volume is cut short (or its sector count is wrong), and what lies past the end is not read; also ${fatPart}; also ${root}`,
          },
        });
        // The oracle: TSK's listing of the whole image, restricted to entries whose directory slot lies before the cut
        // (their data and FAT entries too): none, as the root and every cluster follow the FATs.
        const slotSector = (id: number) => boot.firstDataSector + Math.floor((id - 3) / 16);
        expect(wholeTsk.filter((e) => slotSector(Number(e.entryId)) < cutBytes / 512)).toEqual([]);
        expect(listed.entries).toEqual([]);
      }
    }
    // As an image: the volume is FAT16 with its problem.
    expect(await openedAsImage(p('fat16-fatcut-1.img'))).toEqual([{ type: 'fat16', problem: 'corrupt-file' }]);
  });

  // exFAT ------------------------------------------------------------------

  /** An 8 MiB exFAT volume with 512-byte clusters: DIR (FAT-chained) holding four files, and fine.bin. */
  function exfatCard(name: string, more: ExfatFile[] = []): { img: string; image: Buffer; cluster: (c: number) => number; fatAt: (c: number) => number; stream: (n: string) => number } {
    const img = p(name);
    buildExfat(
      img,
      8 * 1024 * 1024,
      [
        { path: 'DIR', directory: true, fragmented: true },
        ...[1, 2, 3, 4].map((i) => ({ path: `DIR/f${i}.bin`, data: pseudoRandom(900 + i, 40 + i) })),
        { path: 'fine.bin', data: pseudoRandom(2_000, 50) },
        ...more,
      ],
      ['-c', '512'],
    );
    const image = readFileSync(img);
    const { clusterAt, fatAt } = exfatLayout(image);
    return {
      img,
      image,
      cluster: clusterAt,
      fatAt,
      // The stream-extension entry of the entry set named `n`: the entry before its first name entry.
      stream: (n) => image.indexOf(Buffer.from(n, 'utf16le')) - 2 - 32,
    };
  }

  /** Rewrites the SetChecksum of the entry set whose stream entry is at `stream`. */
  function fixChecksum(image: Buffer, stream: number): void {
    const set = stream - 32;
    image.writeUInt16LE(entrySetChecksum(image.subarray(set, set + 32 * (1 + image[set + 1]!))), set + 2);
  }

  it('exfat-directory-chain-break-loses-subtree: a directory of two clusters whose link points at a free cluster, or back at itself, lists its first cluster\'s files', async () => {
    for (const shape of ['free', 'loop'] as const) {
      const card2 = exfatCard(`exfat-dir-${shape}.img`);
      const { image } = card2;
      const s = card2.stream('DIR');
      const first = image.readUInt32LE(s + 20);
      // The directory's record says two clusters; its first cluster links to a free one (or to itself).
      image.writeBigUInt64LE(1024n, s + 8);
      image.writeBigUInt64LE(1024n, s + 24);
      fixChecksum(image, s);
      const target = shape === 'loop' ? first : first + 200;
      image.writeUInt32LE(target, card2.fatAt(first));
      writeFileSync(card2.img, image);
      const listed = await list(card2.img, openExfat);
      // Before: "DIR [corrupt-file: …]" and none of its four files.
      expect(listed.entries.filter((e) => e.path.startsWith('DIR/')).map((e) => e.path)).toEqual(['DIR/f1.bin', 'DIR/f2.bin', 'DIR/f3.bin', 'DIR/f4.bin']);
      expect(listed.entries.find((e) => e.path === 'DIR')?.problem?.message).toBe(
        shape === 'loop' ? `cluster chain loops: cluster ${first} links back to cluster ${first}` : `cluster ${first} links to cluster ${target}, which is free in the allocation bitmap`,
      );
      // TSK follows the loop for the recorded size and lists the first cluster's names twice: once here.
      const tsk = fls([card2.img]).filter((e, i, all) => all.findIndex((o) => o.entryId === e.entryId) === i);
      expect({ shape, listed: listed.entries.map(asTsk) }).toEqual({ shape, listed: tskRows(tsk) });
      expectIcatMd5s(card2.img, listed);
    }
  });

  it('exfat-directory-chain-break-lists-free-cluster-names: a directory whose link points at a free cluster holding real directory entries does not list those names', async () => {
    const card2 = exfatCard('exfat-dir-free-names.img', [
      { path: 'OLD', directory: true, fragmented: true },
      ...[1, 2, 3].map((i) => ({ path: `OLD/g${i}.bin`, data: pseudoRandom(700 + i, 90 + i) })),
    ]);
    const { image } = card2;
    const s = card2.stream('DIR');
    const first = image.readUInt32LE(s + 20);
    const old = image.readUInt32LE(card2.stream('OLD') + 20);
    image.writeBigUInt64LE(1024n, s + 8);
    image.writeBigUInt64LE(1024n, s + 24);
    fixChecksum(image, s);
    const free = first + 200;
    image.writeUInt32LE(free, card2.fatAt(first));
    // The free cluster holds real entry sets (a copy of OLD's cluster, as a stale directory cluster holds them).
    image.copy(image, card2.cluster(free), card2.cluster(old), card2.cluster(old) + 512);
    writeFileSync(card2.img, image);
    const listed = await list(card2.img, openExfat);
    const tsk = fls([card2.img]);
    // TSK reads the free cluster as DIR's and lists its names under DIR; they are not DIR's (nothing proves the cluster is).
    expect(tsk.filter((e) => /^DIR\/g\d\.bin$/.test(e.path)).map((e) => e.path)).toEqual(['DIR/g1.bin', 'DIR/g2.bin', 'DIR/g3.bin']);
    expect(listed.entries.filter((e) => e.path.startsWith('DIR/')).map((e) => e.path)).toEqual(['DIR/f1.bin', 'DIR/f2.bin', 'DIR/f3.bin', 'DIR/f4.bin']);
    expect(listed.entries.find((e) => e.path === 'DIR')?.problem?.message).toBe(`cluster ${first} links to cluster ${free}, which is free in the allocation bitmap`);
    expect(listed.entries.filter((e) => e.path.startsWith('OLD/')).map((e) => e.path)).toEqual(['OLD/g1.bin', 'OLD/g2.bin', 'OLD/g3.bin']);
    expect(listed.entries.map(asTsk)).toEqual(tskRows(tsk.filter((e) => !/^DIR\/g\d\.bin$/.test(e.path))));
    expectIcatMd5s(card2.img, listed);
  });

  it('exfat-label-and-bitmap-from-cluster-outside-root: a root link to a free cluster holding a label and a bitmap entry changes neither (the first entries of the verified root count)', async () => {
    const img = p('exfat-label.img');
    const fine = pseudoRandom(2_000, 80);
    buildExfat(img, 8 * 1024 * 1024, [{ path: 'fine.bin', data: fine }], ['-c', '512', '-L', 'REAL']);
    const image = readFileSync(img);
    const { clusterAt: cluster, fatAt, rootCluster: root } = exfatLayout(image);
    const stray = root + 3000;
    // The root's FAT entry links to a free cluster, which holds a label entry FAKE and a bitmap entry naming a zeroed cluster.
    image.writeUInt32LE(stray, fatAt(root));
    let realBitmap = cluster(root);
    while (image[realBitmap] !== 0x81) realBitmap += 32;
    const label = Buffer.alloc(32);
    label[0] = 0x83;
    label[1] = 4;
    label.write('FAKE', 2, 'utf16le');
    const bitmap = Buffer.from(image.subarray(realBitmap, realBitmap + 32));
    bitmap.writeUInt32LE(stray + 1, 20);
    label.copy(image, cluster(stray));
    bitmap.copy(image, cluster(stray) + 32);
    writeFileSync(img, image);
    const listed = await list(img, openExfat);
    // Before: label FAKE (fsstat says REAL), and the bitmap read from cluster stray + 1.
    expect(listed.reader.label).toBe('REAL');
    expect(listed.reader.problem?.message).toBe(`root directory: cluster ${root} links to cluster ${stray}, which is free in the allocation bitmap; what its clusters before the break hold is listed`);
    const entry = listed.entries.find((e) => e.path === 'fine.bin')!;
    expect(entry.problem).toBeUndefined();
    expect(listed.md5s.get(entry.entryId)).toBe(md5(fine));
  });

  it('exfat-root-chain-loop-loses-volume: a root cluster linking to itself is the volume\'s problem; its files are listed and read, as TSK', async () => {
    const card2 = exfatCard('exfat-root-loop.img');
    const root = card2.image.readUInt32LE(96);
    card2.image.writeUInt32LE(root, card2.fatAt(root));
    writeFileSync(card2.img, card2.image);
    // Before: opening the volume failed, "exFAT root directory: directory chain loops back to cluster N".
    const listed = await list(card2.img, openExfat);
    expect(listed.reader.problem).toEqual({ code: 'corrupt-file', message: `root directory: cluster chain loops: cluster ${root} links back to cluster ${root}; what its clusters before the break hold is listed` });
    expect(listed.entries.map(asTsk)).toEqual(tskRows(fls([card2.img])));
    expect(listed.md5s.size).toBe(5);
    expectIcatMd5s(card2.img, listed);
  });

  it('exfat-volume-cut-short-unreported: an exFAT volume shorter than its boot sector says is the volume\'s problem; a file past the cut says so', async () => {
    const img = p('exfat-cut.img');
    const early = pseudoRandom(3_000, 60);
    buildExfat(img, 16 * 1024 * 1024, [
      { path: 'early.bin', data: early },
      { path: 'big.bin', data: pseudoRandom(12_000_000, 61) },
    ]);
    expect((await list(img, openExfat)).reader.problem).toBeUndefined();
    truncateSync(img, 8 * 1024 * 1024);
    const listed = await list(img, openExfat);
    expect(listed.reader.problem).toEqual({
      code: 'corrupt-file',
      message: 'exfat: the boot sector declares 32768 sectors of 512 bytes (16777216 bytes), past the end of the 8388608-byte volume: the volume is cut short (or its length is wrong), and what lies past the end is not read',
    });
    expect(listed.entries.find((e) => e.path === 'big.bin')?.problem?.message).toMatch(
      /^contiguous run from cluster \d+: cluster \d+ lies past the end of the image: the volume is cut short \(8388608 of the 16777216 bytes its boot sector declares are present\)$/,
    );
    expect(listed.md5s.get(listed.entries.find((e) => e.path === 'early.bin')!.entryId)).toBe(md5(early));
  });

  it('exfat-volume-cut-short-free-space-fails-unpack: an exFAT volume cut only in its free clusters loses no file: no volume problem', async () => {
    const img = p('exfat-tail-free.img');
    const early = pseudoRandom(3_000, 60);
    buildExfat(img, 16 * 1024 * 1024, [{ path: 'early.bin', data: early }]);
    truncateSync(img, 8 * 1024 * 1024);
    const listed = await list(img, openExfat);
    // Before: "exfat: the boot sector declares 32768 sectors … the volume is cut short".
    expect(listed.reader.problem).toBeUndefined();
    expect(listed.md5s.get(listed.entries.find((e) => e.path === 'early.bin')!.entryId)).toBe(md5(early));
    expectIcatMd5s(img, listed);
  });
});
