import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFlsLines, fls, flsAsLines, hasTool, type FlsLine, icatMd5Many, istatMany, linkTargetMd5, listAll, timesOf, nineDigits, type Listed } from '../../test/fixtures/disk/tsk-oracle.js';
import { probe, open } from './ext.reader.js';
import { openFileByteSource } from './file-byte-source.js';
import type { FileSystemReader } from './disk-reader.types.js';

const haveTools = hasTool('mke2fs') && hasTool('fls') && hasTool('debugfs');
if (!haveTools) console.warn('ext reader oracle tests skipped: mke2fs, debugfs or fls (e2fsprogs, sleuthkit) not found');

let work: string;
let trees = 0;

/** Deterministic bytes, so a failure reproduces. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A source tree with files of several sizes, a sparse file, nested folders, symlinks and sub-second times. */
function sourceTree(withMany: boolean): string {
  const dir = path.join(work, `tree-${++trees}`);
  mkdirSync(path.join(dir, 'DCIM/100CANON'), { recursive: true });
  mkdirSync(path.join(dir, 'empty'));
  mkdirSync(path.join(dir, 'docs/deep/deeper'), { recursive: true });
  writeFileSync(path.join(dir, 'hello.txt'), 'hello\n');
  writeFileSync(path.join(dir, 'DCIM/100CANON/IMG_0001.JPG'), bytes(150_000, 1));
  writeFileSync(path.join(dir, 'DCIM/100CANON/IMG_0002.JPG'), bytes(70_001, 2));
  writeFileSync(path.join(dir, 'docs/deep/deeper/note.md'), bytes(3000, 3));
  writeFileSync(path.join(dir, 'docs/gone.txt'), bytes(5000, 4));
  writeFileSync(path.join(dir, 'gone-too.bin'), bytes(20_000, 5));
  writeFileSync(path.join(dir, 'zero'), '');
  writeFileSync(path.join(dir, 'docs/victim.txt'), bytes(2500, 8));
  // A sparse file: 2 MiB with data only in the middle.
  const sparse = path.join(dir, 'sparse.bin');
  const fd = openSync(sparse, 'w');
  writeSync(fd, bytes(4096, 6), 0, 4096, 1024 * 1024);
  closeSync(fd);
  truncateSync(sparse, 2 * 1024 * 1024);
  symlinkSync('hello.txt', path.join(dir, 'short-link'));
  symlinkSync(`${'long/'.repeat(30)}target`, path.join(dir, 'long-link'));
  for (let i = 0; i < 10; i++) writeFileSync(path.join(dir, 'docs', `file-with-a-long-name-${String(i).padStart(3, '0')}.txt`), `${i}\n`);
  // Enough names for e2fsck -D to index the folder as an htree.
  if (withMany) mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < (withMany ? 150 : 0); i++) writeFileSync(path.join(dir, 'many', `photo-from-the-camera-${String(i).padStart(4, '0')}.jpg`), `${i}`);
  const when = new Date(Date.UTC(2021, 2, 4, 5, 6, 7, 123));
  utimesSync(path.join(dir, 'hello.txt'), when, when);
  return dir;
}

/**
 * The volume UUID and the directory hash seed are fixed: mke2fs picks both at random otherwise, and
 * the hash seed decides how e2fsck -D lays out the htree of `many/` (and so which bytes its index
 * blocks hold), so a random one made the test fail one run in twenty.
 */
const DEFAULT_SEED = '5e1f4c1a-0b6d-4c3e-9a57-2f8e61d0c4b7';

let images = 0;

function makeImage(type: 'ext2' | 'ext3' | 'ext4', tree: string, seed = DEFAULT_SEED): string {
  const image = path.join(work, `${type}-${++images}.img`);
  execFileSync('mke2fs', ['-q', '-F', '-t', type, '-b', '1024', '-L', `vol-${type}`, '-U', seed, '-E', `root_owner=0:0,hash_seed=${seed}`, '-d', tree, image, '8M'], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '' },
  });
  // An orphan: the file's inode freed and its name overwritten by a later name of the same length,
  // so no name points to it any more (TSK: $OrphanFiles/OrphanFile-<inode>).
  const commands = path.join(work, `orphan-${type}.cmd`);
  const victim = /Inode: (\d+)/.exec(execFileSync('debugfs', ['-R', 'stat /docs/victim.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1];
  writeFileSync(commands, `unlink /docs/victim.txt\ncd /docs\nwrite ${path.join(tree, 'hello.txt')} newcomer.t\nkill_file <${victim}>\n`);
  // Rebuild the big folder as an htree (hash-indexed) directory, as the kernel would have made it.
  if (type === 'ext4') execFileSync('e2fsck', ['-fyD', image], { stdio: 'ignore' });
  execFileSync('debugfs', ['-w', '-f', commands, image], { stdio: 'ignore' });
  // Deletions the way an examiner meets them: debugfs unlinks the name and frees the inode.
  execFileSync('debugfs', ['-w', '-R', 'rm /docs/gone.txt', image], { stdio: 'ignore' });
  execFileSync('debugfs', ['-w', '-R', 'rm /gone-too.bin', image], { stdio: 'ignore' });
  // A deleted folder with its files: the name unlinked, the inode and its blocks freed; its entries still name the files.
  execFileSync('debugfs', ['-w', '-R', 'kill_file /docs/deep', image], { stdio: 'ignore' });
  execFileSync('debugfs', ['-w', '-R', 'unlink /docs/deep', image], { stdio: 'ignore' });
  // mke2fs -d copies whole seconds only: give one file a modification time with nanoseconds (ext4's large inodes hold them).
  if (type === 'ext4') execFileSync('debugfs', ['-w', '-R', `sif /hello.txt mtime_extra ${123_456_789 << 2}`, image], { stdio: 'ignore' });
  return image;
}

async function readImage(image: string): Promise<{ type: string; label?: string; problem?: FileSystemReader['problem']; listed: Listed[] }> {
  const source = await openFileByteSource(image);
  try {
    expect(await probe(source)).toBe(true);
    const reader = await open(source);
    return { type: reader.type, label: reader.label, ...(reader.problem ? { problem: reader.problem } : {}), listed: await listAll(reader) };
  } finally {
    await source.close();
  }
}

/**
 * TSK lists what it parses out of htree index bytes as deleted names: a {hash, block} pair read as a
 * directory entry takes the logical block number (1, 2, …) for an inode, so the 'name' points at a
 * reserved inode and prints as '^'. Exhibit leaves such names out (docs/disk-images.md).
 */
function isReservedInodeSlackName(l: FlsLine): boolean {
  return l.deleted && Number(l.id) !== 2 && Number(l.id) < 11;
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'exhibit-ext-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveTools)('ext reader against The Sleuth Kit', () => {
  for (const type of ['ext2', 'ext3', 'ext4'] as const) {
    it(`${type}: listing equals fls -r -p, every file's MD5 equals icat's, times equal istat's`, async () => {
      const image = makeImage(type, sourceTree(type === 'ext4'));
      const { type: read, label, listed } = await readImage(image);
      expect(read).toBe(type);
      if (type === 'ext4') expect(execFileSync('debugfs', ['-R', 'htree_dump /many', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toContain('Root node dump');
      expect(label).toBe(`vol-${type}`);
      const oracle = fls(image, { orphans: true }).filter((l) => !isReservedInodeSlackName(l));
      expect(oracle.some((l) => l.path.startsWith('$OrphanFiles/OrphanFile-'))).toBe(true);
      expect(listed.find((l) => l.entry.path.startsWith('$OrphanFiles/OrphanFile-'))?.entry).toMatchObject({ allocated: false, recovered: true, size: 2500 });
      expect(asFlsLines(listed)).toEqual(flsAsLines(oracle));
      // The deleted files are there, flagged, and their data read back (debugfs leaves the block map).
      const gone = listed.find((l) => l.entry.path === 'docs/gone.txt')!;
      expect(gone.entry).toMatchObject({ allocated: false, recovered: true });
      // Inside a deleted folder every name is deleted, as TSK shows it; names whose inodes are still
      // allocated (TSK: "(realloc)") get no data and are not followed.
      expect(listed.find((l) => l.entry.path === 'docs/deep')?.entry).toMatchObject({ allocated: false, kind: 'directory' });
      expect(listed.find((l) => l.entry.path === 'docs/deep/deeper')?.entry).toMatchObject({ allocated: false, problem: { code: 'corrupt-file' } });
      let compared = 0;
      const ids = [...new Set(listed.filter((l) => l.entry.kind !== 'directory' && (!l.entry.path.startsWith('many/') || l.entry.path.endsWith('0.jpg'))).map((l) => l.entry.entryId))];
      const icat = icatMd5Many(image, ids);
      // istat for every file on ext4; on ext2/ext3 (the same code path for times) a sample keeps the test fast.
      const links = listed.filter((l) => l.entry.kind === 'symlink').map((l) => l.entry.entryId);
      const istat = istatMany(image, type === 'ext4' ? ids : [...new Set([...links, ...ids.slice(0, 6)])]);
      for (const { entry, md5, error } of listed) {
        if (entry.kind === 'directory' || entry.path.startsWith('docs/deep/')) continue;
        if (entry.path.startsWith('many/') && !entry.path.endsWith('0.jpg')) continue; // listing compared above; a sample for content
        expect({ path: entry.path, error }).toEqual({ path: entry.path, error: undefined });
        const stat = istat.get(entry.entryId);
        const expected = (entry.kind === 'symlink' && stat ? linkTargetMd5(stat) : undefined) ?? icat.get(entry.entryId);
        expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: expected });
        compared++;
        if (stat === undefined) continue;
        const t = timesOf(stat);
        // TSK reads the inode's extra time fields (nanoseconds, creation) only on ext4; the inode
        // records them on ext2/ext3 with 256-byte inodes too, and Exhibit keeps them: there the
        // comparison is to the second and creation is Exhibit's own.
        const cut = (s: string | undefined) => (type === 'ext4' ? nineDigits(s) : s?.slice(0, 19));
        if (type !== 'ext4') for (const k of Object.keys(t)) t[k] = t[k]!.slice(0, 19);
        if (type !== 'ext4') t['File Created'] = cut(entry.times.created?.local)!;
        expect({ path: entry.path, a: cut(entry.times.accessed?.local), m: cut(entry.times.modified?.local), c: cut(entry.times.changed?.local), cr: cut(entry.times.created?.local) }).toEqual({
          path: entry.path,
          a: t['Accessed'],
          m: t['File Modified'],
          c: t['Inode Modified'],
          cr: t['File Created'],
        });
      }
      expect(compared).toBeGreaterThan(15);
      const hello = listed.find((l) => l.entry.path === 'hello.txt')!.entry;
      expect(hello.times.modified?.utc).toBe(type === 'ext4' ? '2021-03-04T05:06:07.123456789Z' : '2021-03-04T05:06:07.000Z');
      expect(listed.find((l) => l.entry.path === 'short-link')!.entry.kind).toBe('symlink');
    });
  }
});

/**
 * Regression: with some hash seeds the htree root of `many/` holds {hash, block} pairs that parse as a
 * directory entry in the slack after '..'; Exhibit listed that as a deleted file with a garbage name
 * (NUL and binary bytes; TSK prints it as `many/^`, pointing at a reserved inode). Seeds found by
 * building the image with random ones (about one in twenty reproduced it).
 */
describe.skipIf(!haveTools)('ext4-htree-index-block-read-as-deleted-entry', () => {
  const REPRODUCING = [
    'abc1b80e-89c5-4f7a-b13e-4173e236b39e',
    '9d455342-a4b0-45d6-9bda-4917b856039f',
    '0b1365d8-b8b1-4108-907b-130fe488177a',
    'f8c59498-42a0-44ef-a0cd-73f5906e3b1f',
    '64059f3a-72af-4e07-b94e-0cbef5de9dba',
  ];
  const photos = Array.from({ length: 150 }, (_, i) => `many/photo-from-the-camera-${String(i).padStart(4, '0')}.jpg`);
  let tree: string;
  beforeAll(() => {
    tree = sourceTree(true);
  });

  async function check(seed: string, mustReproduce: boolean): Promise<void> {
    const image = makeImage('ext4', tree, seed);
    const tsk = fls(image, { orphans: true });
    // The trap is in the image: TSK reads a 'name' out of the index bytes.
    if (mustReproduce) expect({ seed, trap: tsk.some((l) => l.path.startsWith('many/') && isReservedInodeSlackName(l)) }).toEqual({ seed, trap: true });
    const listed: Listed[] = [];
    const source = await openFileByteSource(image);
    try {
      listed.push(...(await listAll(await open(source), false)));
    } finally {
      await source.close();
    }
    const inMany = listed.filter((l) => l.entry.path.startsWith('many/'));
    expect({ seed, names: inMany.map((l) => l.entry.path).sort() }).toEqual({ seed, names: photos });
    expect({ seed, allocated: inMany.every((l) => l.entry.allocated) }).toEqual({ seed, allocated: true });
    expect({ seed, lines: asFlsLines(listed) }).toEqual({ seed, lines: flsAsLines(tsk.filter((l) => !isReservedInodeSlackName(l))) });
  }

  it(`the seed that caught it (${REPRODUCING[0]}): many/ lists its 150 names and no deleted one`, async () => {
    await check(REPRODUCING[0]!, true);
  });

  it('a well-formed entry planted in the index bytes of an htree root and of an interior (dx_node) block is not listed; TSK lists it', async () => {
    const image = makeImage('ext4', tree, REPRODUCING[0]);
    const block = (logical: number) => Number(execFileSync('debugfs', ['-R', `bmap /many ${logical}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const hello = /Inode: (\d+)/.exec(execFileSync('debugfs', ['-R', 'stat /hello.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]!;
    const entry = (name: string) => {
      const b = Buffer.alloc((name.length + 8 + 3) & ~3);
      b.writeUInt32LE(Number(hello), 0);
      b.writeUInt16LE(b.length, 4);
      b[6] = name.length;
      b[7] = 1;
      b.write(name, 8, 'latin1');
      return b;
    };
    // The first leaf block made a dx_node: inode 0 and name length 0 covering the block, limit/count, zeros.
    const node = Buffer.alloc(1024);
    node.writeUInt16LE(1024, 4);
    node.writeUInt16LE((1024 - 8 - 8) / 8, 8);
    node.writeUInt16LE(1, 10);
    const fd = openSync(image, 'r+');
    try {
      writeSync(fd, entry('planted-in-root'), 0, undefined, block(0) * 1024 + 0x200);
      writeSync(fd, node, 0, undefined, block(1) * 1024);
      writeSync(fd, entry('planted-in-node'), 0, undefined, block(1) * 1024 + 0x200);
    } finally {
      closeSync(fd);
    }
    const tsk = fls(image).map((l) => l.path);
    expect(tsk).toEqual(expect.arrayContaining(['many/planted-in-root', 'many/planted-in-node']));
    const { listed } = await readImage(image);
    expect(listed.map((l) => l.entry.path).filter((p) => p.includes('planted'))).toEqual([]);
  });

  it('every reproducing seed and a few others: listing equals fls -r -p less the names TSK reads from index bytes', async () => {
    for (const seed of REPRODUCING.slice(1)) await check(seed, true);
    for (const seed of ['00000000-0000-4000-8000-000000000001', '11111111-2222-4333-8444-555555555555', DEFAULT_SEED]) await check(seed, false);
  });
});

describe.skipIf(!haveTools)('ext-live-orphan-inode-dtime-read-as-deletion-time', () => {
  it("a live inode whose dtime holds the next orphan's inode number (a truncate in progress) gets no deletion time", async () => {
    const tree = path.join(work, 'orphan-list-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'live.txt'), 'still here\n');
    const image = path.join(work, 'orphan-list.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '4M']);
    // ext3/4 chain orphan-list inodes through dtime: here it names inode 212, as after a crash mid-truncate.
    execFileSync('debugfs', ['-w', '-R', 'sif /live.txt dtime 212', image], { stdio: 'ignore' });
    const { listed } = await readImage(image);
    const live = listed.find((l) => l.entry.path.replace(/^\//, '') === 'live.txt')?.entry;
    expect(live?.allocated).toBe(true);
    expect(live?.times.modified).toBeDefined();
    expect(live?.times.deleted).toBeUndefined();
  });
});

describe.skipIf(!haveTools)('ext-latin1-names-merged-as-replacement-char', () => {
  it('names that are not UTF-8 (Latin-1 "café", "cafè") stay two names, each byte kept escaped; before, both read "caf\\ufffd.txt"', async () => {
    const tree = path.join(work, 'latin1-tree');
    mkdirSync(tree, { recursive: true });
    // An ext name is any bytes: an old system or a non-UTF-8 mount writes Latin-1.
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'one\n');
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/caf`), Buffer.from([0xe8]), Buffer.from('.txt')]), 'two\n');
    writeFileSync(path.join(tree, 'utf8 é.txt'), 'three\n');
    const image = path.join(work, 'latin1.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '4M']);
    const { listed } = await readImage(image);
    const names = listed.map((l) => l.entry.path.replace(/^\//, '')).filter((p) => p.endsWith('.txt')).sort();
    expect(names).toEqual(['caf\udce8.txt', 'caf\udce9.txt', 'utf8 é.txt']);
    // The same files TSK lists (it prints the raw bytes): the escape gives each byte back.
    const raw = (name: string) => Buffer.from(name.replace(/[\udc80-\udcff]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xdc00)), 'latin1');
    const tsk = execFileSync('fls', [image]).toString('latin1');
    for (const l of listed.filter((x) => x.entry.path.includes('caf'))) {
      expect(tsk).toContain(`r/r ${l.entry.entryId}:\t${raw(l.entry.path.replace(/^\//, '')).toString('latin1')}\n`);
    }
  });
});

describe.skipIf(!haveTools)('ext4-fscrypt-ciphertext-read-as-content', () => {
  it('a file and a symlink flagged encrypted (fscrypt, as on Android and ChromeOS) get a problem, not their ciphertext as data', async () => {
    const tree = path.join(work, 'fscrypt-tree');
    mkdirSync(path.join(tree, 'vault'), { recursive: true });
    writeFileSync(path.join(tree, 'vault', 'secret.txt'), 'ciphertext on a real device\n');
    symlinkSync('secret.txt', path.join(tree, 'vault', 'link'));
    writeFileSync(path.join(tree, 'plain.txt'), 'not encrypted\n');
    const image = path.join(work, 'fscrypt.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'encrypt', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '4M']);
    // No tool here encrypts without mounting: the inodes get the kernel's EXT4_ENCRYPT_FL (0x800) beside their extents flag.
    execFileSync('debugfs', ['-w', '-R', 'set_inode_field /vault/secret.txt flags 0x80800', image], { stdio: 'ignore' });
    execFileSync('debugfs', ['-w', '-R', 'set_inode_field /vault/link flags 0x800', image], { stdio: 'ignore' });
    const { listed } = await readImage(image);
    const byPath = new Map(listed.map((l) => [l.entry.path.replace(/^\//, ''), l.entry]));
    for (const name of ['vault/secret.txt', 'vault/link']) {
      const entry = byPath.get(name)!;
      expect({ name, problem: entry.problem?.code, data: entry.data === undefined }).toEqual({ name, problem: 'unsupported-format', data: true });
    }
    expect(byPath.get('plain.txt')).toMatchObject({ allocated: true });
    expect(byPath.get('plain.txt')?.problem).toBeUndefined();
    // TSK reads the blocks as they are (on a real device: ciphertext) and gives them as the file's content.
    const id = byPath.get('vault/secret.txt')!.entryId;
    expect(execFileSync('icat', [image, id], { encoding: 'utf8' })).toBe('ciphertext on a real device\n');
  });
});

describe.skipIf(!haveTools)('ext4-inline-data-directory-not-listed', () => {
  it('directories and files held in the inode (i_block and the system.data attribute) are listed and read as fls/icat give them; before, the folder was a problem and its files were lost', async () => {
    const tree = path.join(work, 'inline-tree');
    mkdirSync(path.join(tree, 'small'), { recursive: true });
    mkdirSync(path.join(tree, 'grown'));
    mkdirSync(path.join(tree, 'stash'));
    writeFileSync(path.join(tree, 'small', 'a.txt'), 'hi\n');
    // 60 bytes fit i_block; 100 and 150 spill into system.data (as Android's ext4 keeps small files).
    writeFileSync(path.join(tree, 'small', 'sixty'), bytes(60, 11));
    writeFileSync(path.join(tree, 'small', 'b100'), bytes(100, 12));
    writeFileSync(path.join(tree, 'c150'), bytes(150, 13));
    symlinkSync(`${'inline/'.repeat(12)}target`, path.join(tree, 'small', 'long-link'));
    writeFileSync(path.join(tree, 'grown', 'one'), '1\n');
    for (const name of ['x1', 'x22', 'x3']) writeFileSync(path.join(tree, 'stash', name), `${name}\n`);
    const image = path.join(work, 'inline.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'inline_data', '-I', '256', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '8M']);
    // The kernel grows a full inline directory into system.data before it moves it to a block; the
    // tools here move it at once, so the grown part is written as the kernel lays it out: entries whose
    // record lengths cover the attribute's value, naming three files moved from stash/.
    const ino = (p: string) => Number(/Inode: (\d+)/.exec(execFileSync('debugfs', ['-R', `stat ${p}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]);
    const entry = (name: string, recLen: number) => {
      const b = Buffer.alloc(recLen);
      b.writeUInt32LE(ino(`/stash/${name}`), 0);
      b.writeUInt16LE(recLen, 4);
      b[6] = name.length;
      b[7] = 1;
      b.write(name, 8, 'latin1');
      return b;
    };
    const value = path.join(work, 'inline-system-data.bin');
    writeFileSync(value, Buffer.concat([entry('x1', 12), entry('x22', 12), entry('x3', 16)]));
    const commands = path.join(work, 'inline.cmd');
    writeFileSync(commands, `ea_set -f ${value} /grown system.data\nsif /grown size 100\nunlink /stash/x1\nunlink /stash/x22\nunlink /stash/x3\nrm /small/a.txt\n`);
    execFileSync('debugfs', ['-w', '-f', commands, image], { stdio: 'ignore' });
    expect(execFileSync('debugfs', ['-R', 'stat /grown', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toContain('Size of inline data: 100');

    const { listed } = await readImage(image);
    // A name with inode 0 has no inode, so TSK prints no meta type ('r/-'); Exhibit gives the type the name records.
    const oracle = fls(image, { orphans: true }).map((l) => (l.id === '0' && l.meta === '-' ? { ...l, meta: 'r' } : l));
    expect(oracle.map((l) => l.path)).toEqual(expect.arrayContaining(['grown/x1', 'grown/x22', 'grown/x3', 'small/b100', 'small/a.txt', 'stash/x22']));
    expect(asFlsLines(listed)).toEqual(flsAsLines(oracle));
    // The long symlink is inline too (libext2fs keeps a target past 60 bytes in the inode): istat prints no
    // target for it, icat gives it.
    const files = listed.filter((l) => (l.entry.kind === 'file' || l.entry.kind === 'symlink') && l.entry.data);
    const icat = icatMd5Many(image, files.map((l) => l.entry.entryId));
    for (const { entry, md5, error } of files) expect({ path: entry.path, md5, error }).toEqual({ path: entry.path, md5: icat.get(entry.entryId), error: undefined });
    expect(files.map((l) => l.entry.path)).toEqual(expect.arrayContaining(['c150', 'small/b100', 'small/sixty', 'small/long-link', 'grown/x3']));
  });
  // The kernel's own layout, where a mount is possible (root, loop devices): it grows a full inline
  // directory into system.data and zeroes a deleted inline entry; without a mount the test says so.
  it('as the ext4 kernel driver writes them (a directory grown into system.data, names deleted): listed as fls lists them', async (ctx) => {
    const image = path.join(work, 'inline-kernel.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'inline_data', '-I', '256', '-b', '1024', '-U', DEFAULT_SEED, image, '8M']);
    const mnt = path.join(work, 'inline-mnt');
    mkdirSync(mnt, { recursive: true });
    // -w: util-linux otherwise falls back to a read-only mount when read-write fails, and the writes below would
    // fail the test for the environment's sake; mountpoint proves the mount took.
    const unmount = (): boolean => {
      try {
        execFileSync('umount', [mnt], { stdio: 'ignore' });
        return true;
      } catch {
        try {
          execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
        } catch {
          // Nothing more can be done here; the caller skips and says why.
        }
        return false;
      }
    };
    let mounted = false;
    try {
      execFileSync('mount', ['-w', '-o', 'loop', '-t', 'ext4', image, mnt], { stdio: 'ignore' });
      mounted = true;
      execFileSync('mountpoint', ['-q', mnt], { stdio: 'ignore' });
    } catch {
      // A mount that took but failed the check after it (mountpoint) is undone, not left behind by the skip.
      if (mounted) unmount();
      ctx.skip('cannot mount ext4 read-write here (not root, or no loop devices): the crafted test above covers the layout');
    }
    let failure: unknown;
    try {
      mkdirSync(path.join(mnt, 'd'));
      for (let i = 1; i <= 5; i++) writeFileSync(path.join(mnt, 'd', `name-${i}.txt`), `${i}\n`);
      writeFileSync(path.join(mnt, 'd', 'gone.txt'), 'gone\n');
      writeFileSync(path.join(mnt, 'small.txt'), bytes(120, 21));
      rmSync(path.join(mnt, 'd', 'name-1.txt'));
      rmSync(path.join(mnt, 'd', 'gone.txt'));
    } catch (err) {
      failure = err;
    }
    // umount flushes the volume to the image. One that fails is detached lazily, so no mount is left behind; an
    // error above is reported, not masked by the unmount's; and an image not cleanly unmounted is not compared.
    const unmounted = unmount();
    if (failure !== undefined) throw failure;
    if (!unmounted) ctx.skip('the loop mount could not be unmounted cleanly (busy): the image may not hold what was written');
    expect(execFileSync('debugfs', ['-R', 'stat /d', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/system\.data \(\d+\)/);
    const { listed } = await readImage(image);
    expect(asFlsLines(listed)).toEqual(flsAsLines(fls(image, { orphans: true })));
    expect(listed.map((l) => l.entry.path)).toEqual(expect.arrayContaining(['d/name-2.txt', 'd/name-5.txt', 'small.txt']));
    const files = listed.filter((l) => l.entry.kind === 'file' && l.entry.data);
    const icat = icatMd5Many(image, files.map((l) => l.entry.entryId));
    for (const { entry, md5 } of files) expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: icat.get(entry.entryId) });
  });
});

describe.skipIf(!haveTools)('ext-names-merged-into-inode-0-entry-listed-live', () => {
  it("deleting the first entry of a directory block zeroes its inode; the next deletions merge into it: those names are deleted (TSK: '*'), before they were listed live", async () => {
    const tree = path.join(work, 'inode0-tree');
    mkdirSync(path.join(tree, 'two-blocks'), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(path.join(tree, 'two-blocks', `a-name-long-enough-to-fill-blocks-${String(i).padStart(3, '0')}`), `${i}\n`);
    const image = path.join(work, 'inode0.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '8M']);
    // The first two names of the folder's second block, read from its bytes.
    const block = Number(execFileSync('debugfs', ['-R', 'bmap /two-blocks 1', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const fd = openSync(image, 'r');
    const b = Buffer.alloc(1024);
    try {
      readSync(fd, b, 0, 1024, block * 1024);
    } finally {
      closeSync(fd);
    }
    const first = b.toString('latin1', 8, 8 + b[6]!);
    const at = b.readUInt16LE(4);
    const second = b.toString('latin1', at + 8, at + 8 + b[at + 6]!);
    // As the kernel deletes (ext4_generic_delete_entry): the first entry gets inode 0, the second merges into it.
    execFileSync('debugfs', ['-w', '-f', '-', image], { input: `unlink /two-blocks/${first}\nunlink /two-blocks/${second}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
    const { listed } = await readImage(image);
    const tsk = fls(image, { orphans: true });
    expect(tsk.find((l) => l.path === `two-blocks/${second}`)).toMatchObject({ deleted: true });
    expect(listed.find((l) => l.entry.path === `two-blocks/${second}`)?.entry).toMatchObject({ allocated: false });
    // A name with inode 0 has no inode, so TSK prints no meta type ('r/-'); Exhibit gives the type the name records.
    expect(asFlsLines(listed)).toEqual(flsAsLines(tsk.map((l) => (l.id === '0' && l.meta === '-' ? { ...l, meta: 'r' } : l))));
  });
});

describe.skipIf(!haveTools)('ext-meta-bg-volume-unsupported', () => {
  it('a meta_bg volume (resize2fs grows volumes into it) is listed and read as mke2fs -d wrote it; before, the whole volume was unsupported-format', async () => {
    const tree = path.join(work, 'meta-bg-tree');
    // Enough folders that inodes spread over many groups, so descriptors of later meta groups are needed.
    for (let d = 0; d < 48; d++) {
      mkdirSync(path.join(tree, `dir-${d}`), { recursive: true });
      for (let i = 0; i < 8; i++) writeFileSync(path.join(tree, `dir-${d}`, `file-${i}.bin`), bytes(1500 + d * 10 + i, d * 100 + i + 1));
    }
    // 1 MiB groups (-g 1024) and 32-byte descriptors: 32 groups to a meta group, so 64 MiB holds two of them.
    for (const [name, features] of [['meta-bg', 'meta_bg,^resize_inode,^64bit'], ['meta-bg-64bit', 'meta_bg,^resize_inode,64bit']] as const) {
      const image = path.join(work, `${name}.img`);
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', features, '-b', '1024', '-g', '1024', '-N', '700', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '64M']);
      const { listed, problem } = await readImage(image);
      expect({ name, problem }).toEqual({ name, problem: undefined });
      const files = listed.filter((l) => l.entry.kind === 'file');
      expect({ name, files: files.length }).toEqual({ name, files: 384 });
      // The content against the source tree, and the inodes of the later meta group(s) really used.
      for (const { entry, md5 } of files) expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: createHash('md5').update(readFileSync(path.join(tree, entry.path))).digest('hex') });
      expect(Math.max(...files.map((l) => Number(l.entry.entryId)))).toBeGreaterThan(32 * Number(/Inodes per group:\s+(\d+)/.exec(execFileSync('dumpe2fs', ['-h', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]));
      // The listing against the source tree (debugfs agrees; TSK 4.11.1 fails past the first meta group,
      // 'descriptor block locations too large', and lists only the files whose inodes lie before it).
      const treeFiles = readdirSync(tree, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(tree, path.join(d.parentPath, d.name)));
      expect(files.map((l) => l.entry.path).sort()).toEqual(treeFiles.sort());
      expect(listed.every((l) => l.entry.allocated && !l.entry.problem)).toBe(true);
    }
  });
});

describe.skipIf(!haveTools)('ext-meta-bg-block-count-past-image-unreported', () => {
  it('a meta_bg volume whose superblock declares 0xFFFFFFFF blocks in a 64 MiB image gets a volume problem, and its files are still listed', async () => {
    // Without meta_bg every descriptor is checked against the image, so such a count fails the mount; under meta_bg
    // only the first meta group's are, and the forged count went unsaid while the listing looked complete.
    const tree = path.join(work, 'meta-bg-forged-tree');
    for (let d = 0; d < 4; d++) {
      mkdirSync(path.join(tree, `dir-${d}`), { recursive: true });
      writeFileSync(path.join(tree, `dir-${d}`, 'file.bin'), bytes(1500 + d, d + 1));
    }
    const image = path.join(work, 'meta-bg-forged.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'meta_bg,^resize_inode,^64bit,^metadata_csum', '-b', '1024', '-g', '1024', '-N', '700', '-U', DEFAULT_SEED, '-d', tree, image, '64M']);
    const fd = openSync(image, 'r+');
    try {
      writeSync(fd, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 1024 + 4); // s_blocks_count_lo
    } finally {
      closeSync(fd);
    }
    const { listed, problem } = await readImage(image);
    expect(problem).toEqual({ code: 'corrupt-file', message: expect.stringMatching(/declares 4294967295 blocks .*past the end of the 67108864-byte volume/) });
    const files = listed.filter((l) => l.entry.kind === 'file');
    for (const { entry, md5 } of files) expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: createHash('md5').update(readFileSync(path.join(tree, entry.path))).digest('hex') });
    expect(files.map((l) => l.entry.path).sort()).toEqual([0, 1, 2, 3].map((d) => `dir-${d}/file.bin`));
  });
});

describe.skipIf(!haveTools)('ext-volume-cut-short-unreported', () => {
  it('any ext volume cut short in blocks in use has a volume problem (4 KiB and 1 KiB blocks, no meta_bg); whole volumes, one on a partition not a whole number of blocks, have none', async () => {
    // Before: only meta_bg volumes were checked; a cut acquisition or partition of an ordinary volume listed with no word of the cut.
    // big.bin (45 MiB from the volume's start) lies past each cut: the cut loses blocks in use.
    const tree = path.join(work, 'cut-short-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'early.bin'), bytes(5000, 3));
    writeFileSync(path.join(tree, 'big.bin'), bytes(45 * 1024 * 1024, 4));
    const cases: [string, string[], number, number | null][] = [
      // name, mke2fs options, image bytes, cut to (null: whole)
      ['4k-whole', ['-b', '4096'], 64 * 1024 * 1024, null],
      ['4k-cut', ['-b', '4096'], 64 * 1024 * 1024, 40 * 1024 * 1024],
      ['1k-whole', ['-b', '1024'], 64 * 1024 * 1024, null], // first_data_block 1: block 0 counted
      ['1k-cut', ['-b', '1024'], 64 * 1024 * 1024, 40 * 1024 * 1024],
      ['4k-odd-partition', ['-b', '4096'], 64 * 1024 * 1024 + 3 * 512, null], // 1.5 KiB past the last whole block
    ];
    for (const [name, options, size, cut] of cases) {
      const image = path.join(work, `cut-short-${name}.img`);
      rmSync(image, { force: true });
      writeFileSync(image, Buffer.alloc(0));
      truncateSync(image, size);
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', ...options, '-U', DEFAULT_SEED, '-d', tree, image]);
      if (cut !== null) {
        // The cut part holds big.bin's blocks (debugfs says which blocks are in use).
        const blockBytes = Number(options[1]);
        expect({ name, lostInUse: blocksInUse(image, cut / blockBytes, (size - cut) / blockBytes) > 0 }).toEqual({ name, lostInUse: true });
        truncateSync(image, cut);
      }
      const { problem, listed } = await readImage(image);
      expect({ name, problem }).toEqual({
        name,
        problem: cut === null ? undefined : { code: 'corrupt-file', message: expect.stringMatching(new RegExp(`declares \\d+ blocks of \\d+ bytes \\(${size} bytes\\), past the end of the ${cut}-byte volume: the volume is cut short`)) },
      });
      const files = listed.filter((l) => l.entry.kind === 'file');
      expect({ name, files: files.map((l) => l.entry.path).sort() }).toEqual({ name, files: ['big.bin', 'early.bin'] });
      // A file whose blocks lie past the cut says so.
      expect({ name, big: files.find((l) => l.entry.path === 'big.bin')!.entry.problem?.code }).toEqual({ name, big: cut === null ? undefined : 'corrupt-file' });
    }
  });
});

/** How many of `count` blocks from `first` the volume's block bitmaps mark in use, as debugfs reads them. */
function blocksInUse(image: string, first: number, count: number): number {
  const out = execFileSync('debugfs', ['-R', `testb ${first} ${count}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
  const inUse = out.split('\n').filter((l) => /marked in use/.test(l)).length;
  const free = out.split('\n').filter((l) => /not in use/.test(l)).length;
  // Every block answered: a testb that read nothing would look like "all free".
  expect(inUse + free).toBe(count);
  return inUse;
}

describe.skipIf(!haveTools)('ext-volume-cut-short-free-space-fails-unpack', () => {
  it('an ext volume cut only in blocks its bitmaps mark free (or uninitialised groups holding nothing there) has no volume problem; a cut losing a backup superblock still does', async () => {
    // Before: any ext volume declaring blocks past its end had "the volume is cut short" (failing the unpack), though
    // the cut part held nothing; FAT and exFAT already said it only when allocated clusters were lost.
    const tree = path.join(work, 'cut-free-tree');
    mkdirSync(path.join(tree, 'docs'), { recursive: true });
    writeFileSync(path.join(tree, 'notes.txt'), 'kept before the cut\n');
    writeFileSync(path.join(tree, 'docs/a.bin'), bytes(5000, 11));
    writeFileSync(path.join(tree, 'docs/b.bin'), bytes(70_000, 12));
    const MiB = 1024 * 1024;
    const cases: [string, string, string[], number, boolean][] = [
      // name, type, mke2fs options, cut to, whether the cut loses blocks in use
      ['ext4-4k', 'ext4', ['-b', '4096'], 40 * MiB, false], // one group: its bitmap read
      ['ext4-1k-last-group', 'ext4', ['-b', '1024'], 63 * MiB, false], // group 7's backup superblock present, the rest free
      // Groups 5 and 6 BLOCK_UNINIT (their free-blocks count says none in use), group 7 wholly past the cut, its bitmap free.
      ['ext4-1k-uninit', 'ext4', ['-b', '1024', '-O', 'sparse_super2', '-E', 'num_backup_sb=1'], 44 * MiB, false],
      ['ext2-1k', 'ext2', ['-b', '1024'], 63 * MiB, false], // no flex_bg: group 7's bitmaps at its (present) start
      ['ext4-1k-backup-lost', 'ext4', ['-b', '1024'], 48 * MiB, true], // group 7's backup superblock past the cut
      ['ext2-1k-group-lost', 'ext2', ['-b', '1024'], 56 * MiB, true], // group 7 and its own bitmaps past the cut
    ];
    for (const [name, type, options, cut, loses] of cases) {
      const image = path.join(work, `cut-free-${name}.img`);
      rmSync(image, { force: true });
      writeFileSync(image, Buffer.alloc(0));
      truncateSync(image, 64 * MiB);
      execFileSync('mke2fs', ['-q', '-F', '-t', type, ...options, '-U', DEFAULT_SEED, '-d', tree, image]);
      const blockBytes = Number(options[1]);
      const inUse = blocksInUse(image, cut / blockBytes, (64 * MiB - cut) / blockBytes);
      expect({ name, lostInUse: inUse > 0 }).toEqual({ name, lostInUse: loses });
      truncateSync(image, cut);
      const { problem, listed } = await readImage(image);
      expect({ name, problem }).toEqual({
        name,
        problem: loses ? { code: 'corrupt-file', message: expect.stringMatching(new RegExp(`past the end of the ${cut}-byte volume: the volume is cut short`)) } : undefined,
      });
      // Every file is read whole, equal to its source, either way.
      const files = listed.filter((l) => l.entry.kind === 'file');
      expect({ name, files: files.map((l) => [l.entry.path, l.entry.problem, l.md5]).sort() }).toEqual({
        name,
        files: ['docs/a.bin', 'docs/b.bin', 'notes.txt'].map((p) => [p, undefined, createHash('md5').update(readFileSync(path.join(tree, p))).digest('hex')]),
      });
    }
  });
});

describe.skipIf(!haveTools)('ext-meta-bg-cut-image-listing-aborted', () => {
  it('a meta_bg volume cut short: names whose inodes lay past the cut get a problem, the rest are read; the listing is not ended by the orphan scan', async () => {
    const tree = path.join(work, 'meta-bg-cut-tree');
    for (let d = 0; d < 48; d++) {
      mkdirSync(path.join(tree, `dir-${d}`), { recursive: true });
      for (let i = 0; i < 8; i++) writeFileSync(path.join(tree, `dir-${d}`, `file-${i}.bin`), bytes(1500 + i, d * 100 + i + 1));
    }
    const image = path.join(work, 'meta-bg-cut.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'meta_bg,^resize_inode,^64bit', '-b', '1024', '-g', '1024', '-N', '700', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '64M']);
    // The second meta group's descriptors lie in group 32 (32 MiB in): cut before it, as an acquisition that stopped.
    truncateSync(image, 20 * 1024 * 1024);
    const { listed, problem } = await readImage(image);
    // The cut itself is said once, for the volume.
    expect(problem).toEqual({ code: 'corrupt-file', message: expect.stringMatching(/last meta group \(from group 32\).*past the end/) });
    const files = listed.filter((l) => l.entry.kind === 'file');
    const read = files.filter((l) => l.md5 !== undefined);
    expect(read.length).toBeGreaterThan(0);
    for (const { entry, md5 } of read) expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: createHash('md5').update(readFileSync(path.join(tree, entry.path))).digest('hex') });
    // Nothing lost silently: every folder is listed, and one not read (its inode past the cut) says why.
    const dirs = listed.filter((l) => /^dir-\d+$/.test(l.entry.path));
    expect(dirs).toHaveLength(48);
    for (const d of dirs) {
      const inside = files.filter((l) => l.entry.path.startsWith(`${d.entry.path}/`)).length;
      expect({ dir: d.entry.path, read: d.entry.problem ? 'problem' : inside }).toEqual({ dir: d.entry.path, read: d.entry.problem ? 'problem' : 8 });
    }
    expect(dirs.filter((d) => d.entry.problem?.code === 'corrupt-file').length).toBeGreaterThan(0);
  });
});

describe.skipIf(!haveTools)('ext-bigalloc-volume-called-corrupt', () => {
  it('a bigalloc volume is unsupported-format (a sound volume not read here), not corrupt-file; before, "blocks per group is impossible"', async () => {
    const tree = path.join(work, 'bigalloc-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'a.bin'), bytes(50_000, 77));
    const image = path.join(work, 'bigalloc.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'bigalloc', '-C', '16384', '-b', '1024', '-d', tree, image, '32M']);
    // e2fsck finds nothing wrong: the volume is sound.
    execFileSync('e2fsck', ['-fn', image], { stdio: 'ignore' });
    const source = await openFileByteSource(image);
    try {
      expect(await probe(source)).toBe(true);
      await expect(open(source)).rejects.toMatchObject({ code: 'unsupported-format', message: expect.stringMatching(/bigalloc/) });
    } finally {
      await source.close();
    }
  });
});

describe.skipIf(!haveTools)('ext4-htree-split-stale-copy-listed-as-deleted', () => {
  // When the kernel splits a full htree leaf it moves half the names to a new block and leaves their bytes
  // in the old block's slack: each moved name reads twice, live and 'deleted'. TSK lists it once (live).
  it('a live name whose stale copy lies in another block\'s slack is listed once, live; before, also as a deleted file', async () => {
    const tree = path.join(work, 'stale-copy-tree');
    mkdirSync(path.join(tree, 'folder'), { recursive: true });
    for (let i = 0; i < 60; i++) writeFileSync(path.join(tree, 'folder', `photo-${String(i).padStart(4, '0')}.jpg`), `${i}\n`);
    const image = path.join(work, 'stale-copy.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-U', DEFAULT_SEED, '-E', `hash_seed=${DEFAULT_SEED}`, '-d', tree, image, '8M']);
    const blockOf = (logical: number) => Number(execFileSync('debugfs', ['-R', `bmap /folder ${logical}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const read = (block: number) => {
      const b = Buffer.alloc(1024);
      const fd = openSync(image, 'r');
      try {
        readSync(fd, b, 0, 1024, block * 1024);
      } finally {
        closeSync(fd);
      }
      return b;
    };
    // The last live entry of block 0, copied (as the split leaves it) into the slack after the last entry of block 1.
    const entries = (b: Buffer) => {
      const out: { at: number; recLen: number; size: number; nameLen: number }[] = [];
      for (let at = 0; at < 1024; at += b.readUInt16LE(at + 4)) out.push({ at, recLen: b.readUInt16LE(at + 4), size: (8 + b[at + 6]! + 3) & ~3, nameLen: b[at + 6]! });
      // Not the metadata_csum tail (a 12-byte entry with inode 0 and no name).
      return out.filter((e) => e.nameLen > 0);
    };
    const first = read(blockOf(0));
    const moved = entries(first)[2]!; // after '.' and '..'
    const copy = Buffer.from(first.subarray(moved.at, moved.at + moved.size));
    const name = copy.toString('latin1', 8, 8 + copy[6]!);
    const blocks = Number(/Size: (\d+)/.exec(execFileSync('debugfs', ['-R', 'stat /folder', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]) / 1024;
    const target = blockOf(blocks - 1);
    expect(blocks).toBeGreaterThan(1);
    const last = entries(read(target)).at(-1)!;
    expect(last.recLen - last.size).toBeGreaterThanOrEqual(copy.length);
    copy.writeUInt16LE(copy.length, 4);
    const fd = openSync(image, 'r+');
    try {
      writeSync(fd, copy, 0, copy.length, target * 1024 + last.at + last.size);
    } finally {
      closeSync(fd);
    }
    expect(read(target).toString('latin1').split(name).length - 1).toBe(1);
    const { listed } = await readImage(image);
    expect(listed.filter((l) => l.entry.path === `folder/${name}`).map((l) => l.entry.allocated)).toEqual([true]);
    expect(asFlsLines(listed)).toEqual(flsAsLines(fls(image, { orphans: true })));
  });
});
