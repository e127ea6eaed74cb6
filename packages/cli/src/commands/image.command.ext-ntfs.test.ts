import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli-error.js';
import { createCliContext } from '../context.js';
import { loadCommandModules } from '../main.js';
import { runCli } from '../program.js';
import { CapturedStream } from '../test-support.js';
import type { ImageFileSystemRow } from './image.command.js';

/**
 * `image ls` reaches the NTFS and ext readers through the same dispatcher as
 * FAT (open-disk-image.ts's FILE_SYSTEMS): each image's listing equals TSK's
 * `fls -r -p` of the allocated regular files, with icat's MD5.
 */
const tools = ['mke2fs', 'mkntfs', 'ntfscp', 'fls', 'icat'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

async function run(...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const ctx = createCliContext({ env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent' }, stdout, stderr });
  const code = await runCli(argv, ctx, await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

/** TSK's allocated regular files with icat's MD5, metadata files ($MFT, lost+found…) left out. */
function tskFiles(image: string): { path: string; md5: string }[] {
  const out = execFileSync('fls', ['-r', '-p', image], { encoding: 'utf8' });
  const rows: { path: string; md5: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^r\/r ([^*][^:]*):\t(.*)$/.exec(line);
    if (!m || m[2]!.startsWith('$') || m[2]!.includes('/$')) continue;
    const bytes = execFileSync('icat', [image, m[1]!], { maxBuffer: 64 * 1024 * 1024 });
    rows.push({ path: m[2]!, md5: createHash('md5').update(bytes).digest('hex') });
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path));
}

describe.skipIf(missing.length > 0)('exhibit image ls on ext4 and NTFS', { timeout: 60_000 }, () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'exhibit-image-ls-fs-'));
    const tree = path.join(dir, 'tree');
    mkdirSync(path.join(tree, 'DCIM', '100CAMERA'), { recursive: true });
    writeFileSync(path.join(tree, 'DCIM', '100CAMERA', 'IMG_0001.JPG'), Buffer.alloc(70_000, 7));
    writeFileSync(path.join(tree, 'notes.txt'), 'seized 2026-12-03\n');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', tree, path.join(dir, 'disk.ext4'), '4M'], { stdio: 'pipe' });
    const ntfs = path.join(dir, 'disk.ntfs');
    writeFileSync(ntfs, Buffer.alloc(8 * 1024 * 1024));
    execFileSync('mkntfs', ['-q', '-F', '-f', ntfs], { stdio: 'pipe' });
    execFileSync('ntfscp', ['-f', ntfs, path.join(tree, 'DCIM', '100CAMERA', 'IMG_0001.JPG'), 'IMG_0001.JPG'], { stdio: 'pipe' });
    execFileSync('ntfscp', ['-f', ntfs, path.join(tree, 'notes.txt'), 'notes.txt'], { stdio: 'pipe' });
  }, 30_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, type] of [['disk.ext4', 'ext4'], ['disk.ntfs', 'ntfs']] as const) {
    it(`${type}: the dispatcher picks the reader and the files equal fls + icat`, async () => {
      const image = path.join(dir, name);
      const { code, out, err } = await run('image', 'ls', image, '--json', '--md5');
      expect(err).toBe('');
      expect(code).toBe(EXIT.ok);
      const rows = JSON.parse(out) as ImageFileSystemRow[];
      expect(rows.map((r) => r.fileSystem)).toEqual([type]);
      const ours = rows[0]!.files
        .filter((f) => f.allocated && f.kind === 'file' && !f.path.startsWith('$') && !f.path.includes('/$'))
        .map((f) => ({ path: f.path, md5: f.md5 }))
        .sort((a, b) => a.path.localeCompare(b.path));
      const expected = tskFiles(image);
      expect(expected.length).toBeGreaterThanOrEqual(2);
      expect(ours).toEqual(expected);
      expect(rows[0]!.problem).toBeNull();
    });
  }

  it('ext-meta-bg-block-count-past-image-unreported: a meta_bg volume declaring 0xFFFFFFFF blocks in 16 MiB has a volume problem in image ls, and its files are still listed', async () => {
    const image = path.join(dir, 'forged-meta-bg.ext4');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', 'meta_bg,^resize_inode,^64bit,^metadata_csum', '-b', '1024', '-g', '1024', '-d', path.join(dir, 'tree'), image, '16M'], { stdio: 'pipe' });
    const forged = readFileSync(image);
    forged.writeUInt32LE(0xffffffff, 1024 + 4); // s_blocks_count_lo
    writeFileSync(image, forged);
    const { code, out } = await run('image', 'ls', image, '--json', '--md5');
    // Before: exit 0 and problem null, the forged count unsaid; a volume problem exits 1 (EXIT.error).
    expect(code).toBe(EXIT.error);
    const rows = JSON.parse(out) as ImageFileSystemRow[];
    expect(rows.map((r) => [r.fileSystem, r.problem])).toEqual([['ext4', expect.stringMatching(/^corrupt-file: ext: the superblock declares 4294967295 blocks.*past the end of the 16777216-byte volume/)]]);
    expect(rows[0]!.files.filter((f) => f.kind === 'file' && f.md5).map((f) => f.path).sort()).toEqual(['DCIM/100CAMERA/IMG_0001.JPG', 'notes.txt']);
  });
});
