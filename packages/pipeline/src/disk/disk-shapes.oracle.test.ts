import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteSource } from './byte-source.js';
import type { FileSystemEntry } from './disk-reader.types.js';
import { fileSystems, openDiskImage } from './open-disk-image.js';
import { SECTOR, mbrSector, mmls, pseudoRandom, writeAt, writeGpt } from './test-support/disk-image.builder.js';

/**
 * Volume shapes that devices and their formatters produce and the other
 * oracle tests do not build (ext block sizes from 1 KiB to 64 KiB, 128-byte
 * inodes, no file types, unwritten extents, indirect block maps; FAT12
 * floppies, FAT16 with 64 KiB clusters, NT case bits; NTFS with 512-byte
 * to 64 KiB clusters and 4096-byte sectors; an MBR whose logical volumes
 * chain out of disk order; GPT with unknown partition types). Each is read
 * through the same dispatcher as `image ls` and compared, volume by volume,
 * with TSK: `fls -r -p` (allocated, deleted, orphans), `icat`'s MD5 of every
 * file and `istat`'s times. Where TSK 4.11.1 cannot read a shape (deep ext
 * extent trees on 1 KiB blocks, ext time epoch bits) debugfs is the oracle.
 */

const TOOLS = ['mke2fs', 'debugfs', 'e2fsck', 'mkfs.fat', 'mcopy', 'mdel', 'mmd', 'mkntfs', 'ntfscp', 'fls', 'icat', 'istat', 'mmls'];
const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missing.length) console.warn(`disk shape oracle tests skipped: ${missing.join(', ')} not found (apt-get install sleuthkit e2fsprogs dosfstools mtools ntfs-3g)`);

let work = '';
const p = (name: string) => path.join(work, name);
const quiet = { stdio: ['ignore', 'ignore', 'ignore'] as ('ignore' | 'pipe')[] };

function sh(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...(input === undefined ? { stdio: ['ignore', 'pipe', 'ignore'] } : { input, stdio: ['pipe', 'pipe', 'ignore'] }) });
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

interface Listed {
  entry: FileSystemEntry;
  md5?: string;
}

async function readAll(entry: FileSystemEntry): Promise<string> {
  const data = entry.data!();
  const hash = createHash('md5');
  for (let at = 0; at < data.size; at += 1 << 20) hash.update(await data.read(at, Math.min(1 << 20, data.size - at)));
  return hash.digest('hex');
}

/** Every volume Exhibit opens in the image: its sector, type, and entries with their MD5. */
async function listVolumes(image: string): Promise<{ sector: number; type?: string; problem?: { code: string; message: string }; listed: Listed[] }[]> {
  const source = await FileByteSource.open(image);
  try {
    const out = [];
    for await (const fs of fileSystems(await openDiskImage([source]))) {
      const sector = fs.volume.offset / SECTOR;
      if (!('reader' in fs)) {
        out.push({ sector, problem: fs.problem, listed: [] });
        continue;
      }
      const listed: Listed[] = [];
      for await (const entry of fs.reader.entries()) listed.push({ entry, ...(entry.data ? { md5: await readAll(entry) } : {}) });
      out.push({ sector, type: fs.reader.type, listed });
    }
    return out;
  } finally {
    await source.close();
  }
}

const KIND: Record<FileSystemEntry['kind'], string> = { file: 'r', directory: 'd', symlink: 'l', other: '?' };

/** Times istat prints, first block only (NTFS: $STANDARD_INFORMATION), as 'YYYY-MM-DDTHH:MM:SS.fffffffff'. */
function istatTimes(out: string): Record<string, string> {
  const times: Record<string, string> = {};
  for (const m of out.matchAll(/^(Created|File Modified|MFT Modified|Inode Modified|Accessed|File Created|Deleted|Written):\t(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? \(UTC\)$/gm)) {
    if (!(m[1]! in times)) times[m[1]!] = `${m[2]}T${m[3]}.${(m[4] ?? '').padEnd(9, '0')}`;
  }
  return times;
}

const nine = (t?: { local: string }) => {
  if (!t) return undefined;
  const [whole, fraction = ''] = t.local.split('.');
  return `${whole}.${fraction.padEnd(9, '0')}`;
};

/**
 * Every difference between Exhibit and TSK on one image, as readable lines (an empty list is agreement).
 * Left out, as docs/disk-images.md says: TSK's virtual entries ($MBR, $FAT1/2, $OrphanFiles itself, the
 * FAT volume label entry), ext names TSK reads out of htree index bytes (deleted, at a reserved inode),
 * `$BadClus:$Bad`'s content and NTFS times of 0 (istat: 2076-11-29 08:54:34).
 */
async function differences(image: string): Promise<{ volumes: { sector: number; type?: string; problem?: { code: string; message: string }; entries: number }[]; diffs: string[] }> {
  const volumes = await listVolumes(image);
  const diffs: string[] = [];
  for (const { sector, type, listed } of volumes) {
    if (!type) continue;
    const o = sector ? ['-o', String(sector)] : [];
    const tsk = new Map<string, string>();
    for (const line of sh('fls', ['-r', '-p', ...o, image]).split('\n')) {
      const m = /^(\S)\/(\S) (\* )?([^:]+?)(?:\(realloc\))?:\t(.*)$/.exec(line);
      if (!m) continue;
      const [, , meta, star, id, name] = m;
      if (meta === 'V' || meta === 'v' || name!.endsWith('(Volume Label Entry)')) continue;
      if (star && type.startsWith('ext') && Number(id) !== 2 && Number(id) < 11) continue;
      tsk.set(`${star ? '* ' : ''}${id}\t${name}`, meta === '-' ? '?' : meta!);
    }
    const ours = new Map(listed.map((l) => [`${l.entry.allocated ? '' : '* '}${l.entry.entryId}\t${l.entry.path}`, l]));
    for (const [key, meta] of tsk) if (!ours.has(key)) diffs.push(`${sector}: only TSK ${meta} ${key}`);
    for (const [key, l] of ours) {
      const meta = tsk.get(key);
      if (meta === undefined) diffs.push(`${sector}: only Exhibit ${KIND[l.entry.kind]} ${key}`);
      else if (meta !== '?' && l.entry.kind !== 'other' && meta !== KIND[l.entry.kind]) diffs.push(`${sector}: kind ${key}: TSK ${meta}, Exhibit ${l.entry.kind}`);
    }
    // NTFS metadata files ($MFT, $Secure…) are compared by ntfs.reader.test.ts; here the listing only.
    const compared = [...ours.entries()].filter(([key, l]) => tsk.has(key) && l.entry.kind !== 'directory' && l.entry.kind !== 'other' && !(type === 'ntfs' && l.entry.path.startsWith('$')));
    const ids = compared.map(([, l]) => l.entry.entryId);
    if (ids.length === 0) continue;
    const script = 'o="$1"; img="$2"; shift 2; for id in "$@"; do icat $o "$img" "$id" 2>/dev/null | md5sum; done';
    const sums = sh('sh', ['-c', script, 'sh', o.join(' '), image, ...ids]).trim().split('\n').map((s) => s.split(' ')[0]);
    const addresses = [...new Set(ids.map((id) => id.split('-')[0]!))];
    const statOut = sh('sh', ['-c', 'o="$1"; img="$2"; shift 2; for id in "$@"; do istat $o "$img" "$id" 2>/dev/null; echo @@END@@; done', 'sh', o.join(' '), image, ...addresses]).split('@@END@@\n');
    const byAddress = new Map(addresses.map((a, i) => [a, statOut[i]!]));
    const stats = ids.map((id) => byAddress.get(id.split('-')[0]!)!);
    compared.forEach(([key, { entry, md5: ours }], i) => {
      const stat = stats[i]!;
      const link = /^symbolic link to: (.*)$/m.exec(stat);
      const theirs = entry.kind === 'symlink' && link ? md5(Buffer.from(link[1]!)) : sums[i];
      if (entry.path !== '$BadClus:$Bad' && ours !== undefined && ours !== theirs) diffs.push(`${sector}: md5 ${key}: TSK ${theirs}, Exhibit ${ours}`);
      if (ours === undefined && !entry.problem) diffs.push(`${sector}: no data and no problem ${key}`);
      const mine: Record<string, string | undefined> = {
        Accessed: nine(entry.times.accessed),
        'File Modified': nine(entry.times.modified),
        Written: nine(entry.times.modified),
        'Inode Modified': nine(entry.times.changed),
        'MFT Modified': nine(entry.times.changed),
        'File Created': nine(entry.times.created),
        Created: nine(entry.times.created),
        Deleted: nine(entry.times.deleted),
      };
      for (const [label, value] of Object.entries(istatTimes(stat))) {
        if (mine[label] === undefined && (value.startsWith('1970-01-01T00:00:00.') || value === '2076-11-29T08:54:34.000000000')) continue;
        if (mine[label] !== value) diffs.push(`${sector}: ${label} ${key}: TSK ${value}, Exhibit ${mine[label]}`);
      }
    });
  }
  return { volumes: volumes.map((v) => ({ sector: v.sector, ...(v.type ? { type: v.type } : {}), ...(v.problem ? { problem: v.problem } : {}), entries: v.listed.length })), diffs };
}

function blank(name: string, bytes: number): string {
  const img = p(name);
  writeFileSync(img, '');
  truncateSync(img, bytes);
  return img;
}

/** A tree real devices have: a hard link, a fast and a slow symlink, a FIFO, a UTF-8 name, a sparse file, an empty file, a file to delete. */
function extTree(): string {
  const dir = p('ext-tree');
  mkdirSync(path.join(dir, 'DCIM/100ANDRO'), { recursive: true });
  writeFileSync(path.join(dir, 'DCIM/100ANDRO/IMG_0001.JPG'), pseudoRandom(300_000, 1));
  writeFileSync(path.join(dir, 'hello.txt'), 'hello\n');
  linkSync(path.join(dir, 'hello.txt'), path.join(dir, 'DCIM/hard-link.txt'));
  symlinkSync('hello.txt', path.join(dir, 'fast-link'));
  symlinkSync(`${'dir/'.repeat(40)}target`, path.join(dir, 'slow-link'));
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  writeFileSync(path.join(dir, 'café – 日本.txt'), 'utf-8\n');
  writeFileSync(path.join(dir, 'zero'), '');
  writeFileSync(path.join(dir, 'gone.bin'), pseudoRandom(5000, 2));
  const fd = openSync(path.join(dir, 'sparse.bin'), 'w');
  writeSync(fd, pseudoRandom(4096, 3), 0, 4096, 1024 * 1024);
  closeSync(fd);
  truncateSync(path.join(dir, 'sparse.bin'), 3 * 1024 * 1024);
  return dir;
}

function ext(name: string, options: string[], tree: string, size = '16M'): string {
  const img = p(name);
  execFileSync('mke2fs', ['-q', '-F', ...options, '-d', tree, img, size], quiet);
  return img;
}

const debugfs = (img: string, commands: string) => execFileSync('debugfs', ['-w', '-f', '-', img], { input: commands, stdio: ['pipe', 'ignore', 'ignore'] });

function putFat(img: string, name: string, bytes: Buffer | string): void {
  writeFileSync(p('payload'), bytes);
  execFileSync('mcopy', ['-i', img, p('payload'), `::${name}`], quiet);
}

/** Names and content every FAT shape holds: NT case bits (README  TXT shown as readme.txt), a Unicode long name, an empty file, a deleted long name. */
function fatFiles(img: string): void {
  putFat(img, '/readme.txt', 'lower-case short name\n');
  putFat(img, '/lower.TXT', 'lower-case base\n');
  putFat(img, '/UPPER.txt', 'lower-case extension\n');
  putFat(img, '/MixedCase.Txt', 'needs a long name\n');
  putFat(img, '/Ünïcödé 日本語 – photo.jpg', pseudoRandom(3000, 4));
  putFat(img, '/empty.dat', '');
  putFat(img, '/A long deleted name.bin', pseudoRandom(9000, 5));
  execFileSync('mdel', ['-i', img, '::/A long deleted name.bin'], quiet);
  execFileSync('mmd', ['-i', img, '::/DCIM'], quiet);
  putFat(img, '/DCIM/IMG_0001.JPG', pseudoRandom(70_000, 6));
}

function ntfs(name: string, options: string[]): string {
  const img = blank(name, 32 * 1024 * 1024);
  execFileSync('mkntfs', ['-q', '-F', '-f', ...options, '-L', name.replace('.img', ''), img], quiet);
  const put = (source: Buffer | string, dest: string, stream?: string) => {
    writeFileSync(p('payload'), source);
    execFileSync('ntfscp', ['-q', ...(stream ? ['-N', stream] : []), img, p('payload'), dest], quiet);
  };
  put('resident\n', 'small.txt');
  put(pseudoRandom(300_000, 7), 'IMG_0001.JPG');
  put('[ZoneTransfer]\r\nZoneId=3\r\n', 'IMG_0001.JPG', 'Zone.Identifier');
  put(pseudoRandom(70_000, 8), 'Ünïcödé 日本語 – photo.jpg');
  return img;
}

describe.skipIf(missing.length > 0)('disk shapes real devices produce, against The Sleuth Kit', { timeout: 120_000 }, () => {
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'exhibit-shapes-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('ext: 128-byte inodes without a journal, 2 KiB and 64 KiB blocks, no file types (old ext2), casefold, sparse_super2, unwritten extents, double-indirect blocks with a hole: equal fls, icat and istat', async () => {
    const tree = extTree();
    const images = [
      ext('i128.img', ['-t', 'ext4', '-I', '128', '-O', '^has_journal'], tree),
      ext('b2k.img', ['-t', 'ext4', '-b', '2048', '-O', '^flex_bg,^sparse_super,^resize_inode'], tree),
      ext('b64k.img', ['-t', 'ext4', '-b', '65536'], tree),
      ext('nofiletype.img', ['-t', 'ext2', '-b', '1024', '-O', '^filetype'], tree),
      ext('casefold.img', ['-t', 'ext4', '-O', 'casefold'], tree),
      ext('sparse-super2.img', ['-t', 'ext4', '-O', 'sparse_super2,^resize_inode'], tree),
    ];
    for (const img of images) debugfs(img, 'rm /gone.bin\n');
    // fallocate: uninitialised extents over the blocks of a deleted file read as zeros, not its stale bytes.
    const unwritten = ext('unwritten.img', ['-t', 'ext4', '-b', '1024'], tree, '8M');
    writeFileSync(p('stale'), pseudoRandom(200_000, 9));
    debugfs(unwritten, `write ${p('stale')} stale.bin\nrm stale.bin\nwrite /dev/null prealloc.bin\nfallocate /prealloc.bin 0 99\nsif /prealloc.bin size 102400\n`);
    expect(sh('debugfs', ['-R', 'ex /prealloc.bin', unwritten])).toContain('Uninit');
    images.push(unwritten);
    // ext3 block maps: a 1.5 MB file (double indirect on 1 KiB blocks) with a hole in its single-indirect range.
    const maps = p('maps-tree');
    mkdirSync(maps);
    const fd = openSync(path.join(maps, 'double.bin'), 'w');
    writeSync(fd, pseudoRandom(5000, 11), 0, 5000, 0);
    writeSync(fd, pseudoRandom(1_200_000, 10), 0, 1_200_000, 300 * 1024);
    closeSync(fd);
    images.push(ext('indirect.img', ['-t', 'ext3', '-b', '1024'], maps, '8M'));
    for (const img of images) {
      const { volumes, diffs } = await differences(img);
      expect({ img: path.basename(img), volumes: volumes.map((v) => v.type), diffs }).toEqual({ img: path.basename(img), volumes: [expect.stringMatching(/^ext[234]$/)], diffs: [] });
      expect(volumes[0]!.entries).toBeGreaterThanOrEqual(2);
    }
  });

  it('ext4 on 1 KiB blocks: a 3 000-name folder with an extent index and a two-level htree, and a file in 790 fragments (extent tree depth 2), equal debugfs (TSK 4.11.1 reads neither)', async () => {
    // TSK 4.11.1: fls on the folder 'ext2fs_dir_open_meta: Error reading directory contents', icat on the file
    // 'fs_attr_add_run: error adding additional run … No filler entry for 0'. debugfs (e2fsprogs) is the oracle here.
    const tree = p('many-tree');
    mkdirSync(path.join(tree, 'many'), { recursive: true });
    for (let i = 0; i < 3000; i++) writeFileSync(path.join(tree, 'many', `file-with-a-rather-long-name-${i}.txt`), `${i}\n`);
    const img = ext('deep.img', ['-t', 'ext4', '-b', '1024'], tree, '32M');
    execFileSync('e2fsck', ['-fyD', img], quiet);
    // Free every other 1 KiB block of a run, then write a file: it fills the holes one block at a time.
    writeFileSync(p('one'), pseudoRandom(1024, 13));
    const big = pseudoRandom(1_500_000, 14);
    writeFileSync(p('big'), big);
    const writes = Array.from({ length: 800 }, (_, i) => `write ${p('one')} f/s${i}`);
    const frees = Array.from({ length: 400 }, (_, i) => `rm f/s${2 * i}`);
    debugfs(img, ['mkdir f', ...writes, ...frees, `write ${p('big')} big.bin`, ''].join('\n'));
    expect(sh('debugfs', ['-R', 'htree_dump /many', img])).toMatch(/Indirect levels: 1/);
    expect(sh('debugfs', ['-R', 'ex /big.bin', img])).toMatch(/^ *0\/ *2 /m);
    const [volume] = await listVolumes(img);
    const listed = new Map(volume!.listed.map((l) => [l.entry.path, l]));
    const names = sh('debugfs', ['-R', 'ls -p /many', img])
      .split('\n')
      .map((line) => line.split('/'))
      .filter((f) => f.length > 5 && f[1] !== '0' && f[5] !== '.' && f[5] !== '..')
      .map((f) => `${f[1]}\tmany/${f[5]}`)
      .sort();
    expect(names).toHaveLength(3000);
    expect(volume!.listed.filter((l) => l.entry.path.startsWith('many/')).map((l) => `${l.entry.entryId}\t${l.entry.path}`).sort()).toEqual(names);
    expect(listed.get('many/file-with-a-rather-long-name-2999.txt')?.md5).toBe(md5(Buffer.from('2999\n')));
    expect(listed.get('big.bin')).toMatchObject({ entry: { size: big.length, allocated: true }, md5: md5(big) });
  });

  it('ext4 time epoch bits (after 2038, before 1970) are read as the kernel and debugfs read them; TSK 4.11.1 ignores the epoch bits', async () => {
    const tree = p('time-tree');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'future.txt'), 'future\n');
    writeFileSync(path.join(tree, 'past.txt'), 'past\n');
    const large = ext('times-256.img', ['-t', 'ext4', '-b', '1024'], tree, '4M');
    // Seconds are signed 32-bit; the low 2 bits of each *_extra field extend them (epoch).
    debugfs(large, 'sif /future.txt mtime 0x80000000\nsif /future.txt mtime_extra 3\nsif /future.txt ctime 5\nsif /future.txt ctime_extra 2\nsif /past.txt atime 0xffffffff\nsif /past.txt atime_extra 0\n');
    const small = ext('times-128.img', ['-t', 'ext4', '-b', '1024', '-I', '128'], tree, '4M');
    debugfs(small, 'sif /past.txt mtime 0x80000001\nsif /past.txt atime 0xffffffff\n');
    const times = async (img: string, file: string) => (await listVolumes(img))[0]!.listed.find((l) => l.entry.path === file)!.entry.times;
    expect(sh('debugfs', ['-R', 'stat /future.txt', large])).toMatch(/mtime: 0x80000000:00000003 -- Mon Apr {2}4 16:10:40 2310/);
    expect(await times(large, 'future.txt')).toMatchObject({ modified: { utc: '2310-04-04T16:10:40.000Z' }, changed: { utc: '2242-03-16T12:56:37.000Z' } });
    expect((await times(large, 'past.txt')).accessed?.utc).toBe('1969-12-31T23:59:59.000Z');
    expect(sh('debugfs', ['-R', 'stat /past.txt', small])).toMatch(/mtime: 0x80000001 -- Fri Dec 13 20:45:53 1901/);
    expect(await times(small, 'past.txt')).toMatchObject({ modified: { utc: '1901-12-13T20:45:53.000Z' }, accessed: { utc: '1969-12-31T23:59:59.000Z' } });
  });

  it('FAT: a 1.44 MB floppy (FAT12) with a file in fragments past cluster 341, FAT16 with 64 KiB clusters, FAT32 with 512-byte clusters; NT case bits, Unicode long names, empty and deleted files: equal fls, icat and istat', async () => {
    const floppy = p('floppy.img');
    execFileSync('mkfs.fat', ['-C', '-F', '12', '-n', 'FLOPPY', floppy, '1440'], quiet);
    fatFiles(floppy);
    // FAT12 entries straddle FAT sector boundaries (entry 341 spans bytes 511-512): fill, free every other file, write one file over the holes.
    const fill = p('fill');
    mkdirSync(fill);
    const fillers = Array.from({ length: 48 }, (_, i) => path.join(fill, `F${i}.BIN`));
    fillers.forEach((f, i) => writeFileSync(f, pseudoRandom(4096, 100 + i)));
    execFileSync('mcopy', ['-i', floppy, ...fillers, '::/'], quiet);
    execFileSync('mdel', ['-i', floppy, ...Array.from({ length: 24 }, (_, i) => `::/F${2 * i}.BIN`)], quiet);
    putFat(floppy, '/fragments.bin', pseudoRandom(600_000, 15));
    // 64 KiB clusters need 4 085 of them to be FAT16: a 264 MiB volume, sparse (under 1 MiB on disk).
    const big = blank('fat16-64k.img', 0);
    rmSync(big);
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '128', '-n', 'BIGCLUS', big, '270000'], quiet);
    fatFiles(big);
    const fat32 = p('fat32.img');
    execFileSync('mkfs.fat', ['-C', '-F', '32', '-s', '1', '-n', 'MANY', fat32, '66000'], quiet);
    fatFiles(fat32);
    for (const [img, type] of [[floppy, 'fat12'], [big, 'fat16'], [fat32, 'fat32']] as const) {
      const { volumes, diffs } = await differences(img);
      // Where a later file took the first slot of the deleted long name, TSK lists the rest of that name; Exhibit the short name (docs/disk-images.md, FAT).
      const known = [/: only TSK r \* \d+\tA long delete$/, /: only Exhibit r \* \d+\t_LONGD~1\.BIN$/];
      expect({ img: path.basename(img), volumes: volumes.map((v) => v.type), diffs: diffs.filter((d) => !known.some((k) => k.test(d))) }).toEqual({ img: path.basename(img), volumes: [type], diffs: [] });
    }
    const [floppyVolume] = await listVolumes(floppy);
    expect(floppyVolume!.listed.map((l) => l.entry.path)).toEqual(expect.arrayContaining(['readme.txt', 'lower.TXT', 'UPPER.txt', 'MixedCase.Txt', 'Ünïcödé 日本語 – photo.jpg', 'fragments.bin']));
    // The file did land in pieces (not one span of the image).
    const fragments = floppyVolume!.listed.find((l) => l.entry.path === 'fragments.bin')!.entry;
    expect(fragments.data!().spanInBase!(0, 600_000)).toBeNull();
  });

  it('NTFS: 512-byte and 64 KiB clusters, 4096-byte sectors, LZNT1 on 512-byte clusters, a file with 40 streams: equal fls, icat and istat', async () => {
    const images = [
      ntfs('c512.img', ['-c', '512']),
      ntfs('c64k.img', ['-c', '65536']),
      ntfs('s4k.img', ['-s', '4096', '-c', '4096']),
      ntfs('lznt1-512.img', ['-C', '-c', '512']),
    ];
    for (let i = 1; i <= 40; i++) {
      writeFileSync(p('payload'), `stream ${i}\n`);
      execFileSync('ntfscp', ['-q', '-N', `stream-${i}`, images[0]!, p('payload'), 'small.txt'], quiet);
    }
    for (const img of images) {
      const { volumes, diffs } = await differences(img);
      expect({ img: path.basename(img), volumes: volumes.map((v) => v.type), diffs }).toEqual({ img: path.basename(img), volumes: ['ntfs'], diffs: [] });
    }
    const [withStreams] = await listVolumes(images[0]!);
    expect(withStreams!.listed.filter((l) => l.entry.path.startsWith('small.txt:'))).toHaveLength(40);
  });

  it('MBR: five logical volumes whose extended boot records chain out of disk order (a deleted and recreated logical): volumes equal mmls, files equal fls/icat', async () => {
    const img = blank('mbr-chain.img', 64 * 1024 * 1024);
    const EXT = 18_432;
    const logicals = [0, 1, 2, 3, 4].map((i) => ({ ebr: EXT + i * 10_240, start: EXT + i * 10_240 + 2048 }));
    writeAt(img, 0, mbrSector([{ type: 0x06, startSector: 2048, sectors: 16_384 }, { type: 0x0f, startSector: EXT, sectors: 131_072 - EXT }]));
    const chain = [0, 2, 1, 3, 4];
    chain.forEach((l, k) => {
      const next = chain[k + 1];
      const link = next === undefined ? [] : [{ type: 0x05, startSector: logicals[next]!.ebr - EXT, sectors: 10_240 }];
      writeAt(img, logicals[l]!.ebr * SECTOR, mbrSector([{ type: 0x01, startSector: 2048, sectors: 8192 }, ...link]));
    });
    execFileSync('mkfs.fat', ['-F', '16', '-s', '1', '-n', 'PRIMARY', '--offset', '2048', img, '8192'], quiet);
    logicals.forEach(({ start }, i) => {
      execFileSync('mkfs.fat', ['-F', '12', '-n', `LOG${i}`, '--offset', String(start), img, '4096'], quiet);
      putFat(`${img}@@${start * SECTOR}`, `/log${i}.txt`, `logical ${i}\n`);
    });
    const source = await FileByteSource.open(img);
    try {
      const image = await openDiskImage([source]);
      expect(image.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR]).sort((a, b) => a[0]! - b[0]!)).toEqual(mmls([img]));
      expect(image.volumeSystem.problems).toEqual([]);
    } finally {
      await source.close();
    }
    const { volumes, diffs } = await differences(img);
    expect(diffs).toEqual([]);
    expect(volumes.map((v) => [v.sector, v.type, v.entries])).toEqual([[2048, 'fat16', 0], ...[0, 2, 1, 3, 4].map((l) => [logicals[l]!.start, 'fat12', 1])]);
  });

  it('GPT: FAT, ext4 and FAT under an unknown type GUID, an empty partition of unknown type, a partition running past the disk: volumes equal mmls, files equal fls/icat, typed problems', async () => {
    const sectors = 80 * 2048;
    const img = blank('gpt.img', sectors * SECTOR);
    const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
    const UNKNOWN = 'deadbeef-1234-5678-9abc-def012345678';
    writeGpt(img, sectors, [
      { first: 2048, last: 2048 + 16_384 - 1, name: 'Basic data' },
      { first: 18_432, last: 18_432 + 16_384 - 1, name: 'Linux', type: LINUX },
      { first: 34_816, last: 34_816 + 8192 - 1, name: 'Mystery', type: UNKNOWN },
      { first: 43_008, last: 43_008 + 4096 - 1, name: 'Empty', type: UNKNOWN },
      { first: 49_152, last: 49_152 + 200_000 - 1, name: 'Past the end', type: LINUX },
    ]);
    execFileSync('mkfs.fat', ['-F', '16', '-s', '1', '-n', 'GPTFAT', '--offset', '2048', img, '8192'], quiet);
    putFat(`${img}@@${2048 * SECTOR}`, '/fat.txt', 'fat\n');
    execFileSync('mkfs.fat', ['-F', '12', '-n', 'MYSTERY', '--offset', '34816', img, '4096'], quiet);
    putFat(`${img}@@${34_816 * SECTOR}`, '/mystery.txt', 'mystery\n');
    const tree = p('gpt-tree');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'linux.txt'), 'linux\n');
    const part = ext('gpt-ext.img', ['-t', 'ext4'], tree, '8M');
    writeAt(img, 18_432 * SECTOR, readFileSync(part));
    writeAt(img, 49_152 * SECTOR, readFileSync(part));
    const source = await FileByteSource.open(img);
    try {
      const image = await openDiskImage([source]);
      expect(image.volumeSystem.volumes.map((v) => v.offset / SECTOR)).toEqual(mmls([img]).map(([start]) => start));
      expect(image.volumeSystem.problems).toEqual([{ where: 'gpt 4', code: 'corrupt-file', message: expect.stringMatching(/runs past the end of the 83886080-byte disk/) }]);
    } finally {
      await source.close();
    }
    const { volumes, diffs } = await differences(img);
    expect(diffs).toEqual([]);
    expect(volumes).toEqual([
      { sector: 2048, type: 'fat16', entries: 1 },
      { sector: 18_432, type: 'ext4', entries: 2 },
      { sector: 34_816, type: 'fat12', entries: 1 },
      { sector: 43_008, problem: { code: 'unsupported-format', message: expect.stringMatching(/no supported file system in volume 3 \(type deadbeef-/) }, entries: 0 },
      { sector: 49_152, type: 'ext4', entries: 2 },
    ]);
  });
});
