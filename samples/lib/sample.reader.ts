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

const isZip = (b: Buffer) => b.length >= 4 && b.readUInt32BE(0) === 0x504b0304;
const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The upload itself, then every entry inside it, depth-first, with display paths. */
export async function walkUpload(fileName: string, bytes: Buffer): Promise<WalkedEntry[]> {
  const out: WalkedEntry[] = [];
  const visit = async (entry: WalkedEntry) => {
    out.push(entry);
    if (entry.type !== 'file' || !entry.bytes) return;
    const members = isZip(entry.bytes) ? await readZip(entry.bytes) : isGzip(entry.bytes) ? await readTarGz(entry.bytes) : [];
    for (const m of members) await visit({ ...m, path: `${entry.path}!/${m.path}`, depth: entry.depth + 1 });
  };
  await visit({ path: fileName, depth: 0, type: 'file', bytes });
  return out;
}
