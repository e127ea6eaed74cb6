import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMITS } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFlsLines, fls, flsAsLines, hasTool, listAll } from '../../test/fixtures/disk/tsk-oracle.js';
import { open } from './ext.reader.js';
import type { ByteSource } from './disk-reader.types.js';
import { bytesByteSource } from './file-byte-source.js';

/**
 * Hostile ext images: each damage ends with a typed problem on the affected
 * entry (or a typed failure of the whole file system), never a hang or a read
 * outside the volume; the rest of the volume is still listed.
 */
const haveTools = hasTool('mke2fs') && hasTool('debugfs') && hasTool('fls');
if (!haveTools) console.warn('ext hostile tests skipped: mke2fs or debugfs (e2fsprogs) or fls (sleuthkit) not found');

let work: string;
let image: string;

function debugfs(img: string, command: string): void {
  execFileSync('debugfs', ['-w', '-R', command, img], { stdio: 'ignore' });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'exhibit-ext-hostile-'));
  const tree = path.join(work, 'tree');
  mkdirSync(path.join(tree, 'docs/deep'), { recursive: true });
  for (const name of ['run-beyond.txt', 'deep-extents.txt', 'huge.txt', 'fine.txt', 'wiped.txt']) writeFileSync(path.join(tree, name), `${name}\n`.repeat(50));
  image = path.join(work, 'hostile.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-d', tree, image, '4M']);
  // A directory that contains its own parent: a loop.
  debugfs(image, 'ln /docs /docs/deep/back');
  // First extent's start block far beyond the 4 MiB volume.
  debugfs(image, 'sif /run-beyond.txt block[5] 9999999');
  // Extent header claiming depth 40.
  debugfs(image, 'sif /deep-extents.txt block[1] 0x00280004');
  // A size of 128 TiB.
  debugfs(image, 'sif /huge.txt size 0x7fffffffffff');
  // Deleted the way the ext4 driver leaves it: size 0, extent tree emptied.
  const ino = execFileSync('debugfs', ['-R', 'stat /wiped.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).match(/Inode: (\d+)/)![1]!;
  debugfs(image, 'rm /wiped.txt');
  debugfs(image, `sif <${ino}> size 0`);
  debugfs(image, `sif <${ino}> block[0] 0x0000f30a`);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function list(bytes: Uint8Array) {
  return listAll(await open(bytesByteSource(bytes)));
}

describe.skipIf(!haveTools)('ext reader on hostile images', () => {
  it('a directory loop, an extent beyond the volume, an absurd extent depth and size, a wiped deleted file: typed problems on those entries, the rest listed as TSK lists it', async () => {
    const listed = await list(readFileSync(image));
    const problem = (p: string) => listed.find((l) => l.entry.path === p)?.entry.problem;
    expect(problem('docs/deep/back')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('directory loop') });
    expect(problem('run-beyond.txt')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('beyond the volume') });
    expect(problem('deep-extents.txt')).toMatchObject({ code: 'limit-exceeded', message: expect.stringContaining('LIMITS.maxExtExtentDepth') });
    expect(problem('huge.txt')).toMatchObject({ code: 'limit-exceeded', message: expect.stringContaining('LIMITS.maxMemberBytes') });
    const wiped = listed.find((l) => l.entry.path === 'wiped.txt')!.entry;
    expect(wiped).toMatchObject({ allocated: false, recovered: false, problem: { code: 'corrupt-file' } });
    expect(wiped.data).toBeUndefined();
    expect(listed.find((l) => l.entry.path === 'fine.txt')!.md5).toBeDefined();
    // TSK lists the loop once without following it, like Exhibit.
    expect(asFlsLines(listed)).toEqual(flsAsLines(fls(image, { orphans: true })));
  });

  it('an absurd inode count, block size or group count is a typed failure of the file system', async () => {
    const base = readFileSync(image);
    const damaged = (offset: number, value: number) => {
      const b = Buffer.from(base);
      b.writeUInt32LE(value, 1024 + offset);
      return b;
    };
    await expect(open(bytesByteSource(damaged(0x00, 0xffffffff)))).rejects.toMatchObject({ code: 'corrupt-file' });
    await expect(open(bytesByteSource(damaged(0x18, 20)))).rejects.toMatchObject({ code: 'limit-exceeded' });
    await expect(open(bytesByteSource(damaged(0x20, 0)))).rejects.toMatchObject({ code: 'corrupt-file' });
    await expect(open(bytesByteSource(damaged(0x04, 0xffffffff)))).rejects.toMatchObject({ code: 'corrupt-file' });
  });

  it('an aborted listing stops with a typed aborted error', async () => {
    const controller = new AbortController();
    const reader = await open(bytesByteSource(readFileSync(image)));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of reader.entries({ abortSignal: controller.signal })) {
          seen.push(e.path);
          controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(seen).toHaveLength(1);
  });

  it('garbage directory blocks (record lengths past the block, zero, unaligned) end without a hang', async () => {
    const b = Buffer.from(readFileSync(image));
    // Overwrite every directory block's bytes after the first entry with a repeating pattern.
    const listedBefore = await list(b);
    expect(listedBefore.length).toBeGreaterThan(5);
    for (let i = 0; i < b.length; i += 1024) {
      if (b.readUInt32LE(i) === 2 && b.readUInt16LE(i + 4) === 12 && b.toString('latin1', i + 8, i + 9) === '.') {
        for (let j = i + 24; j < i + 1024; j += 4) b.writeUInt32LE(j % 3 === 0 ? 0xfffffff0 : 0x00070001, j);
      }
    }
    const listed = await list(b);
    expect(Array.isArray(listed)).toBe(true);
  });
});

describe.skipIf(!haveTools)('ext cut short: forged group descriptors', () => {
  // A 4 MiB volume (one group of 1 KiB blocks) cut at 3 MiB, where nothing is in use: no finding as written, and a
  // descriptor that hides where its bitmap is or says its blocks are in use keeps the cut said (never a read outside).
  it('a bitmap outside the volume, or an uninitialised bitmap whose free-blocks count leaves blocks in use past the cut, keeps "the volume is cut short"', async () => {
    const tree = path.join(work, 'cut-forged-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'kept.txt'), 'kept before the cut\n');
    const cases: [string, string[], boolean][] = [
      ['as written', [], false],
      ['bitmap outside the volume', ['set_bg 0 block_bitmap 9999999'], true],
      ['uninitialised, none free', ['set_bg 0 flags 2', 'set_bg 0 free_blocks_count 0'], true],
      ['uninitialised, all free but its metadata', ['set_bg 0 flags 2'], false],
    ];
    for (const [name, commands, cut] of cases) {
      const img = path.join(work, `cut-forged-${cases.findIndex((c) => c[0] === name)}.img`);
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-d', tree, img, '4M']);
      for (const command of commands) debugfs(img, command);
      const reader = await open(bytesByteSource(readFileSync(img).subarray(0, 3 * 1024 * 1024)));
      expect({ name, problem: reader.problem?.message ?? null }).toEqual({ name, problem: cut ? expect.stringMatching(/past the end of the 3145728-byte volume: the volume is cut short/) : null });
    }
  });
});

/** The bytes read through a source, counted (the cut check's bound is on reads, never on time). */
function countingSource(bytes: Uint8Array): { source: ByteSource; readBytes: () => number } {
  const inner = bytesByteSource(bytes);
  let read = 0;
  return {
    source: { size: inner.size, read: (offset, length, options) => ((read += length), inner.read(offset, length, options)) },
    readBytes: () => read,
  };
}

/**
 * A forged ext4 (64bit, 64 KiB blocks, 524288 blocks a group) of `groups` groups whose image holds the superblock,
 * the descriptor blocks and one zero block per distinct bitmap: `bitmapOf(group)` is the index (from 0) of the zero
 * block that group's descriptor names as its block bitmap. Every group but the first lies wholly past the image.
 */
function forgedExt4(groups: number, distinctBitmaps: number, bitmapOf: (group: number) => number): Uint8Array {
  const bs = 65536;
  const descSize = 64;
  const gdtBlocks = Math.ceil((groups * descSize) / bs);
  const firstZero = 1 + gdtBlocks;
  const img = Buffer.alloc((firstZero + distinctBitmaps) * bs);
  const total = groups * 524288;
  const sb = 1024;
  img.writeUInt32LE(groups, sb + 0x00); // inodes: one a group
  img.writeUInt32LE(total % 2 ** 32, sb + 0x04);
  img.writeUInt32LE(Math.floor(total / 2 ** 32), sb + 0x150);
  img.writeUInt32LE(0, sb + 0x14); // first data block
  img.writeUInt32LE(6, sb + 0x18); // 64 KiB blocks
  img.writeUInt32LE(524288, sb + 0x20);
  img.writeUInt32LE(1, sb + 0x28); // inodes a group
  img.writeUInt16LE(0xef53, sb + 0x38);
  img.writeUInt32LE(1, sb + 0x4c); // dynamic revision
  img.writeUInt32LE(11, sb + 0x54);
  img.writeUInt16LE(128, sb + 0x58);
  img.writeUInt32LE(0x80, sb + 0x60); // 64bit
  img.writeUInt16LE(descSize, sb + 0xfe);
  for (let g = 0; g < groups; g++) img.writeUInt32LE(firstZero + bitmapOf(g), bs + g * descSize);
  return img;
}

describe('ext cut short: the check is bounded', () => {
  it('ext-cut-check-unbounded-on-forged-group-count: groups past the cut with distinct empty bitmaps are read only up to LIMITS.maxExtCutCheckBytes, then the cut is said as unchecked', async () => {
    // 300 groups of 32 GiB declared (9.4 TiB) on a ~20 MiB image; each group past the cut would cost a 64 KiB bitmap.
    const groups = 300;
    const { source, readBytes } = countingSource(forgedExt4(groups, groups, (g) => g));
    const reader = await open(source);
    expect(reader.problem?.message).toMatch(/the volume is cut short .*not checked beyond LIMITS\.maxExtCutCheckBytes/);
    expect(readBytes()).toBeLessThanOrEqual(LIMITS.maxExtCutCheckBytes + 256 * 1024);
  });

  it('ext-cut-check-unbounded-on-forged-group-count: many groups naming one zero bitmap block: the block is read once and the repeat says the cut', async () => {
    const groups = 4096;
    const { source, readBytes } = countingSource(forgedExt4(groups, 1, () => 0));
    const reader = await open(source);
    expect(reader.problem?.message).toMatch(/past the end of the \d+-byte volume: the volume is cut short/);
    // Superblock, one descriptor block, one bitmap: nothing like one read per group.
    expect(readBytes()).toBeLessThanOrEqual(4 * 65536);
  });
});

describe.skipIf(!haveTools)('ext cut short: BLOCK_UNINIT without group checksums', () => {
  it('ext-block-uninit-without-checksums-cut-reported-clean: an ext2 group flagged BLOCK_UNINIT (ignored by e2fsprogs and the kernel without GDT_CSUM/METADATA_CSUM) has its bitmap read, and its blocks in use past the cut say the cut', async () => {
    const tree = path.join(work, 'uninit-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'kept.txt'), 'kept before the cut\n');
    const img = path.join(work, 'uninit-ext2.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '1024', '-d', tree, img, '32M']);
    // Blocks 32000-32767 (the end of group 3) in use, the group's free count agreeing, then the flag.
    debugfs(img, 'setb 32000 768');
    debugfs(img, 'set_bg 3 free_blocks_count 6780');
    debugfs(img, 'set_bg 3 flags 2');
    expect(execFileSync('debugfs', ['-R', 'testb 32000', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/marked in use/);
    const reader = await open(bytesByteSource(readFileSync(img).subarray(0, 31000 * 1024)));
    expect(reader.problem?.message).toMatch(/past the end of the 31744000-byte volume: the volume is cut short/);
  });
});
