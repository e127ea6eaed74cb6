import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import {
  ExhibitError,
  type ArchiveTimes,
  type BlobRef,
  type BlobStore,
  type EntryKind,
  type FileFlag,
  type RecordedTime,
} from '@exhibit/core';
import { abortError, asArchiveError, ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from './archive-reader.js';
import { dosTime, filetime, utcTime } from './archive-times.js';
import { BlobRangeReader } from './blob-range.reader.js';
import { analyseEntryName, decodeRecordedBytes, DuplicateNameTracker, type NameEncoding } from './entry-name.js';

/** Symbolic link targets are read only up to this size; anything larger is not a plausible path. */
export const MAX_LINK_TARGET_BYTES = 4096;

const GP_ENCRYPTED = 0x0001;
const GP_UTF8 = 0x0800;
const EXTRA_UNICODE_PATH = 0x7075;
const EXTRA_EXTENDED_TIMESTAMP = 0x5455;
const EXTRA_NTFS = 0x000a;
const MADE_BY_UNIX = 3;
const MADE_BY_MACOS = 19;
const DOS_ATTR_DIRECTORY = 0x10;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const COMPRESSION_NAMES: Record<number, string> = { 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz', 98: 'ppmd', 99: 'aes' };

/** yauzl's entry with decodeStrings:false (names stay bytes); @types/yauzl does not model that. */
interface RawZipEntry {
  fileName: Buffer;
  extraFields: Array<{ id: number; data: Buffer }>;
  versionMadeBy: number;
  generalPurposeBitFlag: number;
  compressionMethod: number;
  lastModFileTime: number;
  lastModFileDate: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  externalFileAttributes: number;
}

export interface ZipReaderOptions {
  /** Size of the blob, from its properties (never from the archive), or of the span when `offset` is set. */
  size: number;
  /** Where the archive starts in the blob (a ZIP stored inside another, read in place). */
  offset?: number;
  etag?: string;
  maxEntryNameBytes: number;
  abortSignal?: AbortSignal;
}

/**
 * Opens a ZIP (including ZIP64) for random access over ranged blob reads.
 * Throws ExhibitError 'corrupt-file' when no usable end-of-central-directory
 * record is found.
 */
export async function openZipReader(blobs: BlobStore, blob: BlobRef, options: ZipReaderOptions): Promise<ArchiveReader> {
  const reader = new BlobRangeReader(blobs, blob, {
    size: options.size,
    ...(options.offset !== undefined ? { offset: options.offset } : {}),
    ...(options.etag ? { etag: options.etag } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  const zipfile = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader as unknown as yauzl.RandomAccessReader,
      options.size,
      {
        autoClose: false,
        lazyEntries: true,
        // Names stay raw bytes: yauzl would otherwise reject the whole archive for
        // one `../` name, and we want the recorded bytes, not its interpretation.
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: false,
      },
      (err, zip) => (err ? reject(zipError(err, 'zip')) : resolve(zip)),
    );
  });
  return new ZipReader(zipfile, options);
}

class ZipReader implements ArchiveReader {
  readonly format = 'zip' as const;
  private readonly duplicates = new DuplicateNameTracker();

  constructor(
    private readonly zipfile: yauzl.ZipFile,
    private readonly options: ZipReaderOptions,
  ) {}

  private nextRaw(): Promise<RawZipEntry | null> {
    const zip = this.zipfile;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        zip.off('entry', onEntry);
        zip.off('end', onEnd);
        zip.off('error', onError);
      };
      const onEntry = (entry: unknown) => {
        cleanup();
        resolve(entry as RawZipEntry);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (err: unknown) => {
        cleanup();
        reject(zipError(err, 'zip central directory'));
      };
      zip.on('entry', onEntry);
      zip.on('end', onEnd);
      zip.on('error', onError);
      zip.readEntry();
    });
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<ArchiveEntry> {
    const signal = options.abortSignal ?? this.options.abortSignal;
    for (let index = 0; ; index += 1) {
      if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
      if (signal?.aborted) throw abortError(signal);
      const raw = await this.nextRaw();
      if (raw === null) return;
      yield await this.describe(raw, index);
    }
  }

  private async describe(raw: RawZipEntry, index: number): Promise<ArchiveEntry> {
    const decoded = decodeRecordedBytes(...nameBytes(raw));
    const name = analyseEntryName(decoded.text, {
      maxNameBytes: this.options.maxEntryNameBytes,
      validEncoding: decoded.validEncoding,
      entryIndex: index,
    });
    const encrypted = (raw.generalPurposeBitFlag & GP_ENCRYPTED) !== 0;
    const kind = entryKind(raw, decoded.text);
    const flags = new Set<FileFlag>(name.flags);
    if (encrypted) flags.add('encrypted');
    if (kind === 'symlink') flags.add('link');
    if (kind === 'device') flags.add('device');
    const duplicateOf = this.duplicates.check(name.displayPath, index);
    if (duplicateOf !== undefined) flags.add('duplicate-name');

    const entry: ArchiveEntry = {
      index,
      recordedName: name.recordedName,
      displayPath: name.displayPath,
      name: name.name,
      extension: name.extension,
      kind,
      declaredSize: raw.uncompressedSize,
      compressedSize: raw.compressedSize,
      times: zipTimes(raw),
      flags: [...flags],
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      encrypted,
      open: async () => {
        const { stream, dataStart } = await this.openMemberData(raw, index);
        // Stored: the member's bytes are the archive's own, from dataStart (sizes must agree, as they must for stored data).
        if (raw.compressionMethod === 0 && raw.compressedSize === raw.uncompressedSize) {
          entry.storedSpan = { offset: dataStart, length: raw.compressedSize };
        }
        return stream;
      },
    };
    if (kind === 'symlink' && !encrypted) {
      const target = await this.readLinkTarget(raw, index);
      if (target !== undefined) entry.linkTarget = target;
    }
    return entry;
  }

  private async openMember(raw: RawZipEntry, index: number): Promise<Readable> {
    return (await this.openMemberData(raw, index)).stream;
  }

  /**
   * The member's bytes, CRC-checked, and where its data starts in the archive.
   * The local header is read once here (yauzl checks the data lies inside the
   * archive) and the data opened at that offset, as openReadStream would.
   */
  private async openMemberData(raw: RawZipEntry, index: number): Promise<{ stream: Readable; dataStart: number }> {
    if ((raw.generalPurposeBitFlag & GP_ENCRYPTED) !== 0) {
      throw new ExhibitError('encrypted', `zip entry ${index} is encrypted; not decrypted`);
    }
    if (raw.compressionMethod !== 0 && raw.compressionMethod !== 8) {
      const method = COMPRESSION_NAMES[raw.compressionMethod] ?? 'unknown';
      throw new ExhibitError('unsupported-format', `zip entry ${index}: compression method ${raw.compressionMethod} (${method}) is not supported`);
    }
    const entry = raw as unknown as yauzl.Entry;
    const label = `zip entry ${index}`;
    let dataStart: number;
    try {
      ({ fileDataStart: dataStart } = await this.zipfile.readLocalFileHeaderPromise(entry, { minimal: true }));
    } catch (err) {
      throw asArchiveError(err, label);
    }
    const source = await new Promise<Readable>((resolve, reject) => {
      this.zipfile.openReadStreamLowLevel(
        dataStart,
        raw.compressedSize,
        0,
        raw.compressedSize,
        raw.compressionMethod === 8,
        raw.uncompressedSize,
        (err, stream) => (err ? reject(asArchiveError(err, label)) : resolve(stream)),
      );
    });
    return { stream: withCrcCheck(source, raw.crc32, label), dataStart };
  }

  /** Reads a small link target; a corrupt one is simply not recorded, storage faults still propagate. */
  private async readLinkTarget(raw: RawZipEntry, index: number): Promise<string | undefined> {
    if (raw.uncompressedSize > MAX_LINK_TARGET_BYTES || raw.compressedSize > MAX_LINK_TARGET_BYTES * 2) return undefined;
    try {
      const stream = await this.openMember(raw, index);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        total += (chunk as Buffer).length;
        if (total > MAX_LINK_TARGET_BYTES) {
          stream.destroy();
          return undefined;
        }
      }
      return decodeRecordedBytes(Buffer.concat(chunks), nameBytes(raw)[1]).text;
    } catch (err) {
      if (err instanceof ExhibitError && err.retryable) throw err;
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.zipfile.close();
  }
}

/** yauzl refuses a few legitimate-but-unsupported archives outright; say so rather than "corrupt". */
function zipError(err: unknown, what: string): ExhibitError {
  const message = err instanceof Error ? err.message : String(err);
  if (/strong encryption/i.test(message)) return new ExhibitError('encrypted', `${what}: ${message}`, { cause: err });
  if (/multi-disk/i.test(message)) return asArchiveError(err, what, 'unsupported-format');
  return asArchiveError(err, what);
}

/** The name bytes to decode and what the archive says their encoding is. */
function nameBytes(raw: RawZipEntry): [Buffer, NameEncoding] {
  // Info-ZIP Unicode Path: a UTF-8 name, valid only while it matches the CRC of the plain name.
  for (const field of raw.extraFields) {
    if (field.id !== EXTRA_UNICODE_PATH || field.data.length < 6 || field.data[0] !== 1) continue;
    if (field.data.readUInt32LE(1) !== crc32(raw.fileName)) continue;
    return [field.data.subarray(5), 'utf8'];
  }
  return [raw.fileName, (raw.generalPurposeBitFlag & GP_UTF8) !== 0 ? 'utf8' : 'cp437'];
}

function entryKind(raw: RawZipEntry, name: string): EntryKind {
  const host = raw.versionMadeBy >> 8;
  const mode = host === MADE_BY_UNIX || host === MADE_BY_MACOS ? (raw.externalFileAttributes >>> 16) & 0xffff : 0;
  switch (mode & S_IFMT) {
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
    case S_IFBLK:
      return 'device';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'other';
  }
  const looksLikeDirectory =
    (mode & S_IFMT) === S_IFDIR || name.endsWith('/') || name.endsWith('\\') || (mode === 0 && (raw.externalFileAttributes & DOS_ATTR_DIRECTORY) !== 0);
  // A "directory" that carries data is treated as a file so the data is not silently skipped.
  return looksLikeDirectory && raw.uncompressedSize === 0 ? 'directory' : 'file';
}

function zipTimes(raw: RawZipEntry): ArchiveTimes {
  let ntfs: { modified?: RecordedTime; accessed?: RecordedTime; created?: RecordedTime } | undefined;
  let unix: { modified?: RecordedTime; accessed?: RecordedTime; created?: RecordedTime } | undefined;
  for (const { id, data } of raw.extraFields) {
    if (id === EXTRA_NTFS) ntfs ??= parseNtfsExtra(data);
    if (id === EXTRA_EXTENDED_TIMESTAMP) unix ??= parseExtendedTimestamp(data);
  }
  const times: ArchiveTimes = {};
  // Most precise first: NTFS (100 ns, UTC), extended timestamp (1 s, UTC), DOS (2 s, zone unknown).
  const modified = ntfs?.modified ?? unix?.modified ?? dosTime(raw.lastModFileDate, raw.lastModFileTime, 'zip:dos');
  const accessed = ntfs?.accessed ?? unix?.accessed;
  const created = ntfs?.created ?? unix?.created;
  if (modified) times.modified = modified;
  if (accessed) times.accessed = accessed;
  if (created) times.created = created;
  return times;
}

/** Info-ZIP extended timestamp (0x5455): flags byte, then the int32 UTC seconds it announces, as far as present. */
function parseExtendedTimestamp(data: Buffer) {
  if (data.length < 1) return undefined;
  const flags = data[0]!;
  const out: { modified?: RecordedTime; accessed?: RecordedTime; created?: RecordedTime } = {};
  let pos = 1;
  const take = (): RecordedTime | undefined => {
    // The central directory copy carries only mtime even when the flags announce more.
    if (pos + 4 > data.length) return undefined;
    const seconds = data.readInt32LE(pos);
    pos += 4;
    return utcTime(seconds * 1000, 'zip:extended-timestamp');
  };
  if (flags & 1) out.modified = take();
  if (flags & 2) out.accessed = take();
  if (flags & 4) out.created = take();
  return stripUndefined(out);
}

/** NTFS extra (0x000a): 4 reserved bytes, then tagged attributes; tag 1 holds mtime, atime, ctime (creation) FILETIMEs. */
function parseNtfsExtra(data: Buffer) {
  let pos = 4;
  while (pos + 4 <= data.length) {
    const tag = data.readUInt16LE(pos);
    const size = data.readUInt16LE(pos + 2);
    pos += 4;
    if (pos + size > data.length) return undefined;
    if (tag === 1 && size >= 24) {
      return stripUndefined({
        modified: filetime(data.readBigUInt64LE(pos), 'zip:ntfs'),
        accessed: filetime(data.readBigUInt64LE(pos + 8), 'zip:ntfs'),
        created: filetime(data.readBigUInt64LE(pos + 16), 'zip:ntfs'),
      });
    }
    pos += size;
  }
  return undefined;
}

function stripUndefined<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * yauzl checks sizes but not CRC-32; we do, so a damaged member is reported
 * as corrupt rather than stored as if it were the recorded content.
 */
function withCrcCheck(source: Readable, expected: number, label: string): Readable {
  let crc = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      crc = crc32(chunk, crc);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (crc >>> 0 !== expected >>> 0) {
        callback(new ExhibitError('corrupt-file', `${label}: CRC-32 mismatch (recorded ${hex(expected)}, computed ${hex(crc)})`));
        return;
      }
      callback();
    },
  });
  source.on('error', (err) => out.destroy(asArchiveError(err, label)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
