import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import nodePath from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import type { RecordedWallClock } from './manifest.types.js';

/**
 * Walks the committed samples the way the manifest describes them, with
 * different libraries (yauzl, tar-stream extract) from the ones that wrote
 * them. For tests only: it trusts its input, which evidence code must not.
 */
export interface WalkedEntry {
  path: string;
  depth: number;
  type: 'file' | 'directory';
  bytes?: Buffer;
  archiveModified?: RecordedWallClock;
  /** Disk images: the file system lists the entry as deleted. */
  deleted?: boolean;
}

const fromBuffer = promisify(yauzl.fromBuffer) as (buffer: Buffer, options: yauzl.Options) => Promise<yauzl.ZipFile>;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** DOS date/time fields as the wall-clock text they encode (no zone: DOS has none). */
export function dosWallClock(date: number, time: number): string {
  const y = 1980 + (date >> 9);
  const mo = (date >> 5) & 0xf;
  const d = date & 0x1f;
  const h = time >> 11;
  const mi = (time >> 5) & 0x3f;
  const s = (time & 0x1f) * 2;
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
}

async function readZip(bytes: Buffer): Promise<Array<Omit<WalkedEntry, 'depth'>>> {
  const zip = await fromBuffer(bytes, { lazyEntries: true, decodeStrings: true });
  const out: Array<Omit<WalkedEntry, 'depth'>> = [];
  const openReadStream = promisify(zip.openReadStream.bind(zip)) as (entry: yauzl.Entry) => Promise<NodeJS.ReadableStream>;
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      const archiveModified = { local: dosWallClock(entry.lastModFileDate, entry.lastModFileTime), offsetMinutes: null };
      if (entry.fileName.endsWith('/')) {
        out.push({ path: entry.fileName.replace(/\/$/, ''), type: 'directory', archiveModified });
        zip.readEntry();
        return;
      }
      openReadStream(entry)
        .then(async (stream) => {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          out.push({ path: entry.fileName, type: 'file', bytes: Buffer.concat(chunks), archiveModified });
          zip.readEntry();
        })
        .catch(reject);
    });
    zip.readEntry();
  });
  return out;
}

async function readTarGz(bytes: Buffer): Promise<Array<Omit<WalkedEntry, 'depth'>>> {
  const extract = tarStream.extract();
  const out: Array<Omit<WalkedEntry, 'depth'>> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const mtime = entry.header.mtime;
      if (!mtime) throw new Error(`${entry.header.name}: no mtime`);
      const archiveModified = { local: mtime.toISOString().slice(0, 19), offsetMinutes: 0 };
      const path = entry.header.name.replace(/\/$/, '');
      if (entry.header.type === 'directory') out.push({ path, type: 'directory', archiveModified });
      else out.push({ path, type: 'file', bytes: Buffer.concat(chunks), archiveModified });
    }
  })();
  extract.end(gunzipSync(bytes));
  await done;
  return out;
}

const exec = promisify(execFile);

/** The Sleuth Kit, with TZ=UTC so a FAT wall clock comes out unchanged. */
async function tsk(command: string, args: string[]): Promise<Buffer> {
  try {
    const { stdout } = await exec('env', ['TZ=UTC', command, ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
    return stdout;
  } catch (err) {
    if ((err as { code?: unknown }).code === 127) throw new Error(`${command} not found: reading the sample disk images needs The Sleuth Kit (Debian sleuthkit)`, { cause: err });
    throw err;
  }
}

/**
 * A disk image's entries as The Sleuth Kit lists them (`fls -r -p -m`, data by
 * `icat`, deleted files included as TSK recovers them). TSK is built with
 * libewf here, so it reads the E01 itself. Skips the volume label entry and
 * TSK's virtual files ($MBR, $FAT1, $FAT2, $OrphanFiles), as the pipeline does.
 */
async function readDiskImage(bytes: Buffer): Promise<Array<Omit<WalkedEntry, 'depth'>>> {
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'exhibit-sample-reader-'));
  try {
    const image = nodePath.join(dir, isEwf(bytes) ? 'image.E01' : 'image.raw');
    await writeFile(image, bytes);
    const type = (await tsk('fsstat', ['-t', image])).toString('utf8').trim();
    // FAT records the device's wall clock with no zone; ext and NTFS record UTC.
    const offsetMinutes = type.startsWith('fat') ? null : 0;
    const out: Array<Omit<WalkedEntry, 'depth'>> = [];
    for (const line of (await tsk('fls', ['-r', '-p', '-m', '/', image])).toString('utf8').split('\n')) {
      const f = line.split('|');
      if (f.length < 11) continue;
      const [, name, inode, mode, , , , , mtime] = f;
      if (name!.endsWith('(Volume Label Entry)') || /^\/\$(MBR|FAT1|FAT2|OrphanFiles)(\/|$)/.test(name!)) continue;
      const deleted = name!.endsWith(' (deleted)');
      const path = name!.replace(/ \(deleted\)$/, '').replace(/^\//, '');
      const archiveModified = { local: new Date(Number(mtime) * 1000).toISOString().slice(0, 19), offsetMinutes };
      const flags = deleted ? { deleted: true } : {};
      if (mode!.startsWith('d/')) out.push({ path, type: 'directory', archiveModified, ...flags });
      else out.push({ path, type: 'file', bytes: await tsk('icat', [image, inode!.replace(/-.*$/, '')]), archiveModified, ...flags });
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const isEwf = (b: Buffer) => b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]));
/** The ext superblock magic 0xEF53 at 1024 + 56, with no partition table in front. */
const isExtVolume = (b: Buffer) => b.length >= 2048 && b.readUInt16LE(1024 + 56) === 0xef53;
/** Disk images the sample case holds: E01, and raw ext volumes. */
export const isSampleDiskImage = (b: Buffer) => isEwf(b) || isExtVolume(b);

const isZip = (b: Buffer) => b.length >= 4 && b.readUInt32BE(0) === 0x504b0304;
const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The upload itself, then every entry inside it, depth-first, with display paths. */
export async function walkUpload(fileName: string, bytes: Buffer): Promise<WalkedEntry[]> {
  const out: WalkedEntry[] = [];
  const visit = async (entry: WalkedEntry) => {
    out.push(entry);
    if (entry.type !== 'file' || !entry.bytes) return;
    const members = isZip(entry.bytes)
      ? await readZip(entry.bytes)
      : isGzip(entry.bytes)
        ? await readTarGz(entry.bytes)
        : isSampleDiskImage(entry.bytes)
          ? await readDiskImage(entry.bytes)
          : [];
    for (const m of members) await visit({ ...m, path: `${entry.path}!/${m.path}`, depth: entry.depth + 1 });
  };
  await visit({ path: fileName, depth: 0, type: 'file', bytes });
  return out;
}
