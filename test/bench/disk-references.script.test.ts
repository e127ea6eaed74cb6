import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../../packages/pipeline/src/disk/test-support/disk-image.builder.js';
import type { DiskCorpusFile } from './disk-corpus.builder.js';
import { readImageFile } from './image-file.reader.js';
import { parseShellBaselineOutput } from './shell-baseline.parser.js';

const run = promisify(execFile);
const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
const PHOTO = fileURLToPath(new URL('../../samples/extraction/DEMO-2026-001/EX02/IMG_LOOSE_0001.jpg', import.meta.url));
const TOOLS = ['mke2fs', 'tsk_recover', 'ifind', 'icat', 'hashdeep', 'exiftool', 'vipsthumbnail'];
const missing = TOOLS.filter((t) => !hasTool(t));

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A small ext4 image like the bench's: two photos, a file named as a photo that is not one, a document. */
async function buildImage(dir: string): Promise<{ image: string; files: DiskCorpusFile[] }> {
  const staging = path.join(dir, 'staging');
  await mkdir(path.join(staging, 'DCIM/100CANON'), { recursive: true });
  await mkdir(path.join(staging, 'Documents'), { recursive: true });
  await copyFile(PHOTO, path.join(staging, 'DCIM/100CANON/IMG_00001.JPG'));
  await copyFile(PHOTO, path.join(staging, 'DCIM/100CANON/IMG_00002.JPG'));
  await writeFile(path.join(staging, 'DCIM/100CANON/IMG_00003.JPG'), 'not a JPEG at all');
  await writeFile(path.join(staging, 'Documents/note-00001.txt'), 'note 1\n');
  const image = path.join(dir, 'disk.img');
  await writeFile(image, '');
  await truncate(image, 16 * 1024 * 1024);
  await run('mke2fs', ['-q', '-t', 'ext4', '-d', staging, image]);
  const files: DiskCorpusFile[] = [];
  for (const p of ['DCIM/100CANON/IMG_00001.JPG', 'DCIM/100CANON/IMG_00002.JPG', 'DCIM/100CANON/IMG_00003.JPG', 'Documents/note-00001.txt']) {
    const bytes = await readFile(path.join(staging, p));
    files.push({ path: p, bytes: bytes.length, sha256: sha256(bytes), kind: p.endsWith('.txt') ? 'document' : 'photo' });
  }
  return { image, files };
}

describe.skipIf(missing.length > 0)(`bench:disk's shell references on a real ext4 image (needs ${TOOLS.join(', ')})`, { timeout: 60_000 }, () => {
  let dir: string;
  let image: string;
  let files: DiskCorpusFile[];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-disk-refs-'));
    ({ image, files } = await buildImage(dir));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('disk-baseline.sh copies the files out and hashes them: two steps, every file', async () => {
    const work = path.join(dir, 'baseline-work');
    const { stdout } = await run('bash', [script('disk-baseline.sh'), image, work]);
    const r = parseShellBaselineOutput(stdout);
    expect(r.steps.map((s) => s.name)).toEqual(['tsk-recover', 'hashdeep']);
    expect(r.files).toBe(4);
    expect(r.childrenCpuSec).not.toBeNull();
    const hashes = await readFile(path.join(work, 'recovered.hashdeep'), 'utf8');
    for (const f of files) expect(hashes).toContain(`${f.sha256},./${f.path}`);
  });

  it('disk-same-work.sh also hashes the image, reads every file with exiftool and thumbnails every photo, counting the one it could not', async () => {
    const work = path.join(dir, 'same-work');
    const { stdout } = await run('bash', [script('disk-same-work.sh'), image, work]);
    const r = parseShellBaselineOutput(stdout);
    expect(r.steps.map((s) => s.name)).toEqual(['hash-image', 'tsk-recover', 'hashdeep', 'exiftool', 'thumbnails']);
    expect(r.files).toBe(4);
    expect(r.failures).toEqual({ vipsthumbnail: 1 });
    expect(await readFile(path.join(work, 'image.hashdeep'), 'utf8')).toContain(sha256(await readFile(image)));
    const metadata = JSON.parse(await readFile(path.join(work, 'metadata.json'), 'utf8')) as Array<{ SourceFile: string }>;
    expect(metadata.map((m) => path.relative(path.join(work, 'recovered'), m.SourceFile)).sort()).toEqual(files.map((f) => f.path).sort());
    expect((await readdir(path.join(work, 'thumbnails'))).sort()).toEqual(['IMG_00001.jpg', 'IMG_00002.jpg']);
  });

  it("readImageFile gives a file of the image by its path, and refuses a path not there or bytes not the manifest's", async () => {
    expect(sha256(await readImageFile(image, files[0]!))).toBe(files[0]!.sha256);
    await expect(readImageFile(image, { ...files[0]!, path: 'DCIM/100CANON/IMG_09999.JPG' })).rejects.toThrow(/no inode/);
    await expect(readImageFile(image, { ...files[2]!, sha256: files[3]!.sha256 })).rejects.toThrow(/not DCIM\/100CANON\/IMG_00003\.JPG's/);
    await expect(readImageFile(image, { ...files[3]!, path: files[2]!.path })).rejects.toThrow(/more than the 7 bytes/);
  });
});
