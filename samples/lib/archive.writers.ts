import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import yazl from 'yazl';

export interface ArchiveEntry {
  /** Member path with '/' separators; directories end with '/'. */
  path: string;
  /** Absent for directories. */
  data?: Buffer;
  /** Wall-clock time 'YYYY-MM-DDTHH:mm:ss' (even seconds: DOS time has 2 s resolution). */
  mtime: string;
  /** Deflate this member; media is stored, as extraction tools do for incompressible data. */
  compress?: boolean;
}

function parseWallClock(text: string): [number, number, number, number, number, number] {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`not a wall-clock time: ${text}`);
  return m.slice(1).map(Number) as [number, number, number, number, number, number];
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/**
 * ZIP with DOS timestamps only. yazl turns a Date into DOS fields with the
 * local-time getters, so the Date is built from local fields: the stored
 * wall clock is then the same in every time zone. The extended (UTC)
 * timestamp field is left out because it would differ between zones.
 */
export async function writeZip(entries: readonly ArchiveEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const [y, mo, d, h, mi, s] = parseWallClock(entry.mtime);
    if (s % 2 !== 0) throw new Error(`${entry.path}: DOS time needs even seconds, got ${entry.mtime}`);
    const mtime = new Date(y, mo - 1, d, h, mi, s);
    if (entry.data === undefined) {
      zip.addEmptyDirectory(entry.path, { mtime, mode: 0o040755, forceDosTimestamp: true });
    } else {
      zip.addBuffer(entry.data, entry.path, { mtime, mode: 0o100644, forceDosTimestamp: true, compress: entry.compress ?? false });
    }
  }
  const done = collect(zip.outputStream);
  zip.end();
  return done;
}

/**
 * tar (ustar) in gzip. Tar times are seconds since the epoch, so the wall
 * clock is taken as UTC; owner fields are fixed; the gzip header has mtime 0
 * and OS byte 3 (Unix) whatever platform runs the generator.
 */
export async function writeTarGz(entries: readonly ArchiveEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const done = collect(pack);
  for (const entry of entries) {
    const [y, mo, d, h, mi, s] = parseWallClock(entry.mtime);
    const header = { name: entry.path, mtime: new Date(Date.UTC(y, mo - 1, d, h, mi, s)), uid: 0, gid: 0, uname: '', gname: '' };
    if (entry.data === undefined) {
      pack.entry({ ...header, type: 'directory', mode: 0o755 });
    } else {
      pack.entry({ ...header, type: 'file', mode: 0o644, size: entry.data.length }, entry.data);
    }
  }
  pack.finalize();
  const gz = gzipSync(await done, { level: 9 });
  gz[9] = 3;
  return gz;
}
