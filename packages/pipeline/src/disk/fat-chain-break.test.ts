import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteSource } from './byte-source.js';
import type { FileSystemEntry, FileSystemReader } from './disk-reader.types.js';
import { openExfat } from './exfat.reader.js';
import { openFat, parseFatBootSector } from './fat.reader.js';
import { addExfatFiles } from './test-support/exfat-image.builder.js';
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

async function list(img: string, open: typeof openFat | typeof openExfat = openFat): Promise<Listed> {
  const source = await FileByteSource.open(img);
  try {
    const reader = await open(source);
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
    await source.close();
  }
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

/** A copy of the card, to damage. */
function card(name: string): Fat32 {
  copyFileSync(p('card.img'), p(name));
  return new Fat32(p(name));
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
    run('mkfs.fat', ['-C', '-F', '16', '-s', '4', fsImg, '20480']);
    writeFileSync(p('small.txt'), 'small\n');
    writeFileSync(p('big2.bin'), pseudoRandom(2 * 1024 * 1024, 70));
    writeFileSync(p('fill.bin'), pseudoRandom(15 * 1024 * 1024, 71));
    run('mcopy', ['-i', fsImg, p('small.txt'), p('big2.bin'), p('fill.bin'), '::/']);
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
    run('mkfs.fat', ['-C', '-F', '16', '-s', '4', img, '20480']);
    writeFileSync(p('small.txt'), 'small\n');
    writeFileSync(p('big2.bin'), pseudoRandom(2 * 1024 * 1024, 70));
    writeFileSync(p('fill.bin'), pseudoRandom(15 * 1024 * 1024, 71));
    run('mcopy', ['-i', img, p('small.txt'), p('big2.bin'), p('fill.bin'), '::/']);
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

  // exFAT ------------------------------------------------------------------

  /** An 8 MiB exFAT volume with 512-byte clusters: DIR (FAT-chained) holding four files, and fine.bin. */
  function exfatCard(name: string, more: Parameters<typeof addExfatFiles>[1] = []): { img: string; image: Buffer; cluster: (c: number) => number; fatAt: (c: number) => number; stream: (n: string) => number } {
    const img = p(name);
    writeFileSync(img, Buffer.alloc(8 * 1024 * 1024));
    run('mkfs.exfat', ['-c', '512', img]);
    addExfatFiles(img, [
      { path: 'DIR', directory: true, fragmented: true },
      ...[1, 2, 3, 4].map((i) => ({ path: `DIR/f${i}.bin`, data: pseudoRandom(900 + i, 40 + i) })),
      { path: 'fine.bin', data: pseudoRandom(2_000, 50) },
      ...more,
    ]);
    const image = readFileSync(img);
    const sectorBytes = 2 ** image[108]!;
    const heap = image.readUInt32LE(88) * sectorBytes;
    const clusterBytes = sectorBytes * 2 ** image[109]!;
    return {
      img,
      image,
      cluster: (c) => heap + (c - 2) * clusterBytes,
      fatAt: (c) => image.readUInt32LE(80) * sectorBytes + c * 4,
      // The stream-extension entry of the entry set named `n`: the entry before its first name entry.
      stream: (n) => image.indexOf(Buffer.from(n, 'utf16le')) - 2 - 32,
    };
  }

  /** Rewrites the SetChecksum of the entry set whose stream entry is at `stream`. */
  function fixChecksum(image: Buffer, stream: number): void {
    const set = stream - 32;
    const length = 32 * (1 + image[set + 1]!);
    let checksum = 0;
    for (let i = 0; i < length; i += 1) if (i !== 2 && i !== 3) checksum = ((((checksum & 1) << 15) | (checksum >> 1)) + image[set + i]!) & 0xffff;
    image.writeUInt16LE(checksum, set + 2);
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
    writeFileSync(img, Buffer.alloc(8 * 1024 * 1024));
    run('mkfs.exfat', ['-c', '512', '-L', 'REAL', img]);
    const fine = pseudoRandom(2_000, 80);
    addExfatFiles(img, [{ path: 'fine.bin', data: fine }]);
    const image = readFileSync(img);
    const sectorBytes = 2 ** image[108]!;
    const clusterBytes = sectorBytes * 2 ** image[109]!;
    const cluster = (c: number) => image.readUInt32LE(88) * sectorBytes + (c - 2) * clusterBytes;
    const root = image.readUInt32LE(96);
    const stray = root + 3000;
    // The root's FAT entry links to a free cluster, which holds a label entry FAKE and a bitmap entry naming a zeroed cluster.
    image.writeUInt32LE(stray, image.readUInt32LE(80) * sectorBytes + root * 4);
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
    writeFileSync(img, Buffer.alloc(16 * 1024 * 1024));
    run('mkfs.exfat', [img]);
    const early = pseudoRandom(3_000, 60);
    addExfatFiles(img, [
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
    writeFileSync(img, Buffer.alloc(16 * 1024 * 1024));
    run('mkfs.exfat', [img]);
    const early = pseudoRandom(3_000, 60);
    addExfatFiles(img, [{ path: 'early.bin', data: early }]);
    truncateSync(img, 8 * 1024 * 1024);
    const listed = await list(img, openExfat);
    // Before: "exfat: the boot sector declares 32768 sectors … the volume is cut short".
    expect(listed.reader.problem).toBeUndefined();
    expect(listed.md5s.get(listed.entries.find((e) => e.path === 'early.bin')!.entryId)).toBe(md5(early));
    expectIcatMd5s(img, listed);
  });
});
