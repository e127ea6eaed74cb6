import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Builds the sample disk images with the real tools, so that the pipeline
 * meets what those tools write: a FAT32 memory card (mkfs.fat, mlabel, mmd,
 * mcopy -m, mdel from dosfstools and mtools) and an ext4 volume (mke2fs -d,
 * debugfs from e2fsprogs). Every time the tools would take from the clock is
 * fixed: mtools reads SOURCE_DATE_EPOCH, e2fsprogs E2FSPROGS_FAKE_TIME, and
 * files get their mtimes before they are copied in. Tools run with TZ=UTC, so
 * a FAT wall clock is the UTC reading of the time given.
 */

export interface DiskFile {
  /** '/'-separated path on the volume. */
  path: string;
  /** 'YYYY-MM-DDTHH:mm:ss', even seconds (FAT keeps 2-second steps). */
  mtime: string;
  bytes: Buffer;
}

const epochOf = (wallClock: string) => Date.parse(`${wallClock}Z`) / 1000;

/** `env` adds the settings to the inherited environment; nothing here reads process.env. */
async function tool(command: string, args: string[], settings: Record<string, string>): Promise<void> {
  const env = ['TZ=UTC', 'MTOOLS_SKIP_CHECK=1', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
  try {
    await run('env', [...env, command, ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-5).join(' | ')}`, { cause: err });
  }
}

function parentFolders(files: readonly DiskFile[]): string[] {
  const folders = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i += 1) folders.add(parts.slice(0, i).join('/'));
  }
  return [...folders].sort();
}

async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-sample-disk-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface FatCardOptions {
  label: string;
  /** Eight hex digits. */
  volumeId: string;
  /** FAT32 needs 65,525 clusters: with 512-byte clusters, at least about 33 MB. */
  sizeKiB: number;
  /** When the folders were made and the deletion happened (mtools' clock). */
  directoryMtime: string;
  /** Paths among `files`, removed with mdel after every file is written. */
  deleted: readonly string[];
}

/**
 * A FAT32 card: folders with mmd, files in order with mcopy -m (keeps their
 * mtimes), then the deleted ones removed with mdel. Nothing is written after
 * the deletion, so the deleted files' clusters stay free and recoverable.
 */
export async function buildFatCard(files: readonly DiskFile[], options: FatCardOptions): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const image = path.join(dir, 'card.img');
    const clock = { SOURCE_DATE_EPOCH: String(epochOf(options.directoryMtime)) };
    // No -n: mkfs.fat stamps the label's directory entry with the real clock; mlabel uses SOURCE_DATE_EPOCH.
    await tool('mkfs.fat', ['-C', '-F', '32', '-s', '1', '-i', options.volumeId, image, String(options.sizeKiB)], clock);
    await tool('mlabel', ['-i', image, `::${options.label}`], clock);
    for (const folder of parentFolders(files)) await tool('mmd', ['-i', image, `::/${folder}`], clock);
    for (const [i, file] of files.entries()) {
      const local = path.join(dir, `file-${i}`);
      await writeFile(local, file.bytes);
      const t = new Date(`${file.mtime}Z`);
      await utimes(local, t, t);
      await tool('mcopy', ['-m', '-i', image, local, `::/${file.path}`], clock);
    }
    if (options.deleted.length > 0) await tool('mdel', ['-i', image, ...options.deleted.map((p) => `::/${p}`)], clock);
    return readFile(image);
  });
}

export interface Ext4Options {
  label: string;
  /** Used as the file system UUID and the directory hash seed. */
  uuid: string;
  sizeKiB: number;
  /** Folders' times, and mke2fs's clock (lost+found, the root, the superblock). */
  directoryMtime: string;
}

/**
 * An ext4 volume from a folder with mke2fs -d. mke2fs copies each file's
 * atime and mtime but also its ctime, which no program can set, so debugfs
 * then sets every inode's ctime to the file's mtime (the folders' to
 * `directoryMtime`).
 */
export async function buildExt4Volume(files: readonly DiskFile[], options: Ext4Options): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const root = path.join(dir, 'root');
    await mkdir(root);
    for (const file of files) {
      const local = path.join(root, ...file.path.split('/'));
      await mkdir(path.dirname(local), { recursive: true });
      await writeFile(local, file.bytes);
      const t = new Date(`${file.mtime}Z`);
      await utimes(local, t, t);
    }
    const folderTime = new Date(`${options.directoryMtime}Z`);
    // Deepest first: setting a folder's times after its contents are in place.
    for (const folder of [...parentFolders(files)].reverse()) await utimes(path.join(root, ...folder.split('/')), folderTime, folderTime);
    await utimes(root, folderTime, folderTime);
    const image = path.join(dir, 'volume.img');
    await writeFile(image, Buffer.alloc(0));
    await truncate(image, options.sizeKiB * 1024);
    const clock = { E2FSPROGS_FAKE_TIME: String(epochOf(options.directoryMtime)) };
    await tool('mke2fs', ['-q', '-t', 'ext4', '-b', '1024', '-U', options.uuid, '-E', `hash_seed=${options.uuid}`, '-L', options.label, '-d', root, image], clock);
    const stamp = (wallClock: string) => wallClock.replace(/[-T:]/g, '');
    const commands = [
      `sif / ctime ${stamp(options.directoryMtime)}`,
      ...parentFolders(files).map((f) => `sif "/${f}" ctime ${stamp(options.directoryMtime)}`),
      ...files.map((f) => `sif "/${f.path}" ctime ${stamp(f.mtime)}`),
    ];
    const script = path.join(dir, 'debugfs.cmds');
    await writeFile(script, commands.join('\n') + '\n');
    await tool('debugfs', ['-w', '-f', script, image], clock);
    return readFile(image);
  });
}
