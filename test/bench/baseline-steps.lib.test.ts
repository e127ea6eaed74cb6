import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasTool } from '../../packages/pipeline/src/disk/test-support/disk-image.builder.js';
import { parseShellBaselineOutput } from './shell-baseline.parser.js';

const run = promisify(execFile);
const LIB = fileURLToPath(new URL('./baseline-steps.lib.sh', import.meta.url));
const PHOTO = fileURLToPath(new URL('../../samples/extraction/DEMO-2026-001/EX02/IMG_LOOSE_0001.jpg', import.meta.url));

/** Runs the library's thumbnail_photos in `cwd` and parses what it prints. */
async function thumbnailPhotos(cwd: string, members: string, thumbnails: string) {
  const { stdout } = await run('bash', ['-c', 'set -euo pipefail; source "$0"; thumbnail_photos "$1" "$2"', LIB, members, thumbnails], { cwd });
  return parseShellBaselineOutput(stdout);
}

describe.skipIf(!hasTool('vipsthumbnail'))('baseline-steps.lib.sh thumbnail_photos (needs vipsthumbnail)', { timeout: 120_000 }, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-baseline-steps-'));
    await mkdir(path.join(dir, 'members'));
    await mkdir(path.join(dir, 'thumbnails'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // vipsthumbnail exits 255 when a photo fails, and xargs launches no more batches after a 255: one bad photo in an
  // early batch left the photos of every later batch without a thumbnail, counted as failures, the step cut short.
  it('one-undecodable-photo-stops-the-thumbnails-of-the-rest', async () => {
    // 20 good and 20 undecodable photos in four batches of ten: the first two batches to run hold a bad one (whatever order find gives).
    for (let i = 0; i < 20; i++) {
      await copyFile(PHOTO, path.join(dir, 'members', `good-${i}.jpg`));
      await writeFile(path.join(dir, 'members', `bad-${i}.jpg`), 'not a JPEG');
    }
    const r = await thumbnailPhotos(dir, path.join(dir, 'members'), path.join(dir, 'thumbnails'));
    expect(r.failures).toEqual({ vipsthumbnail: 20 });
    expect(await readdir(path.join(dir, 'thumbnails'))).toHaveLength(20);
  });

  // vipsthumbnail reads a relative -o against the photo's folder, not the working folder: no thumbnail was written.
  it('relative-thumbnail-folder-writes-no-thumbnails', async () => {
    await copyFile(PHOTO, path.join(dir, 'members', 'a.jpg'));
    const r = await thumbnailPhotos(dir, 'members', 'thumbnails');
    expect(r.failures).toEqual({});
    expect(await readdir(path.join(dir, 'thumbnails'))).toEqual(['a.jpg']);
  });
});
