import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { ExhibitError, type ArchiveTimes, type EntryKind, type FileFlag, type RecordedTime } from '@exhibit/core';
import type { TaskHandler } from '@exhibit/core/worker-runtime';
import { asArchiveError } from './archive-reader.js';
import { dosTime, filetime, utcTime } from './archive-times.js';
import { toWireError, type WireArchiveEntry, type ZipArchiveFinding, type ZipFacts, type ZipListInput, type ZipMemberInput, type ZipOpenInput } from './archive.tasks.js';
import { analyseEntryName, decodeRecordedBytes, type NameEncoding } from './entry-name.js';
import { sendMemberData } from './member-data.sender.js';
import { RangeReader } from './range.reader.js';
import { ThreadLink } from './thread-link.js';

/**
 * The ZIP parser, in an archive parser thread (archive.worker.ts; the main
 * thread's side is zip.reader.ts): yauzl over ranged reads the main thread
 * serves, the central-directory survey, entry names, kinds and times, local
 * headers, inflate and CRC-32. Entries and member chunks go to the main
 * thread one at a time, each answered before the next is made.
 */
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
  relativeOffsetOfLocalHeader: number;
}

/** Fewest bytes an entry can occupy from its local header offset: the fixed header and its data. */
const LOCAL_HEADER_FIXED_BYTES = 30;

function openYauzl(reader: RangeReader, size: number): Promise<yauzl.ZipFile> {
  return new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader as unknown as yauzl.RandomAccessReader,
      size,
      {
        autoClose: false,
        lazyEntries: true,
        // Names stay raw bytes: yauzl would otherwise reject the whole archive for
        // one `../` name, and we want the recorded bytes, not its interpretation.
        decodeStrings: false,
        // yauzl's size check fails the whole central directory for one stored
        // entry whose two sizes disagree; the member's own stream checks its
        // byte count instead (withCrcCheck), so that member fails alone.
        validateEntrySizes: false,
        strictFileNames: false,
      },
      (err, zip) => (err ? reject(zipError(err, 'zip')) : resolve(zip)),
    );
  });
}

/**
 * yauzl wants the end record to end the file. When bytes follow it (appended
 * data, or an Authenticode signature after a self-extractor's archive), or
 * its comment length runs past the end of the file (the comment was cut),
 * find the archive's end record and read the archive as ending there; the
 * rest is a finding, a cut comment a truncated archive.
 *
 * Any ZIP stored in a member carries an end record of its own, so not every
 * signature in the tail is a candidate: one whose offsets add up exactly
 * (its central directory, or the ZIP64 end record, where the record says) is
 * preferred to one whose offsets count from a later start (unless that one
 * is a whole second archive after it); and a signature
 * that lies inside the archive of a later end record whose directory checks
 * out (its central directory or its members' data) is that archive's
 * content, never the archive itself.
 */
async function archiveEndBefore(reader: RangeReader, size: number): Promise<ArchiveEnd | null> {
  const window = Math.min(size, 1024 * 1024);
  const start = size - window;
  const tail = await reader.readBytes(start, window);
  // Where the archives of the end records seen so far (from the back) start: a signature at or past it is their content.
  let coveredFrom = Number.POSITIVE_INFINITY;
  let shifted: ArchiveEnd | null = null;
  let unplaced: ArchiveEnd | null = null;
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE) continue;
    const eocd = start + at;
    if (eocd >= coveredFrom) continue;
    const directory = await directoryEndsAt(reader, tail, start, at);
    if (directory === null) continue;
    // A ZIP stored in a member of an archive whose own end record is gone (cut inside its central
    // directory): its offsets count from inside that member's data, so it looks like a shifted archive.
    if (!directory.exact && directory.archiveStart !== null && directory.archiveStart > 0 && (await insideStoredMember(reader, directory.archiveStart, eocd))) continue;
    // A ZIP64 end record that cannot be placed tells nothing about where its archive starts.
    if (directory.archiveStart !== null) coveredFrom = Math.min(coveredFrom, directory.archiveStart);
    const end = eocd + 22 + tail.readUInt16LE(at + 20);
    // Ends the file exactly: yauzl took another signature after it (in its comment), endRecordBehindComment's case.
    if (end === size) continue;
    const found: ArchiveEnd = { eocd, end: Math.min(end, size), commentCut: end > size, archiveStart: directory.archiveStart ?? 0 };
    if (directory.archiveStart === null) {
      // Taken only when no other end record checks out.
      unplaced ??= found;
      continue;
    }
    // A later archive that starts after this one ends is a second archive concatenated to it, read as
    // when no bytes follow (the last one, as unzip does); one that reaches back into it is not trusted.
    if (directory.exact) return shifted !== null && shifted.archiveStart >= found.end ? shifted : found;
    shifted ??= found;
  }
  return shifted ?? unplaced;
}

/** Local headers walked from the first one when checking whether an archive starts inside a member's data. */
const MAX_LOCAL_HEADERS_WALKED = 65_536;
/** How far from the start of the file the first local header is looked for (a self-extractor's stub lies in front). */
const MAX_FIRST_LOCAL_HEADER_SCAN = 16 * 1024 * 1024;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;
const GP_DATA_DESCRIPTOR = 0x0008;

/**
 * Whether `archiveStart`, and the end record at `eocd`, lie inside the data of
 * a stored (method 0) member of an archive in front of them: its local
 * headers are walked from the first one in the file
 * (each header's compressed size leads to the next), and the walk stops at
 * anything else (its central directory, a ZIP64 size, a size left for a data
 * descriptor), at the bound, or once past `archiveStart`. Info-ZIP stores
 * .zip members uncompressed, so a cut archive's last member can be a whole
 * ZIP whose end record is the last one in the file.
 */
async function insideStoredMember(reader: RangeReader, archiveStart: number, eocd: number): Promise<boolean> {
  const scan = Math.min(archiveStart, MAX_FIRST_LOCAL_HEADER_SCAN);
  let at = -1;
  const chunkBytes = 64 * 1024;
  for (let from = 0; from < scan && at < 0; from += chunkBytes) {
    const chunk = await reader.readBytes(from, Math.min(chunkBytes + 3, scan + 3 - from));
    const found = chunk.indexOf(LOCAL_HEADER_SIGNATURE_BYTES);
    if (found >= 0 && from + found < scan) at = from + found;
  }
  if (at < 0) return false;
  for (let walked = 0; walked < MAX_LOCAL_HEADERS_WALKED && at < archiveStart; walked += 1) {
    const header = await reader.readBytes(at, LOCAL_HEADER_FIXED_BYTES);
    if (header.length < LOCAL_HEADER_FIXED_BYTES || header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) return false;
    const flags = header.readUInt16LE(6);
    const compressedSize = header.readUInt32LE(18);
    if (compressedSize === 0xffffffff || (compressedSize === 0 && (flags & GP_DATA_DESCRIPTOR) !== 0)) return false;
    const dataStart = at + LOCAL_HEADER_FIXED_BYTES + header.readUInt16LE(26) + header.readUInt16LE(28);
    const dataEnd = dataStart + compressedSize;
    if (archiveStart >= dataStart && archiveStart < dataEnd) return header.readUInt16LE(8) === 0 && eocd + 22 <= dataEnd;
    at = dataEnd;
    if ((flags & GP_DATA_DESCRIPTOR) !== 0) {
      const descriptor = await reader.readBytes(at, 4);
      at += descriptor.length === 4 && descriptor.readUInt32LE(0) === DATA_DESCRIPTOR_SIGNATURE ? 16 : 12;
    }
  }
  return false;
}

/** An end record found before the end of the file: where it is, where its comment ends, and whether that comment was cut. */
interface ArchiveEnd {
  eocd: number;
  end: number;
  commentCut: boolean;
  /** Where the archive its offsets describe starts. */
  archiveStart: number;
}

/**
 * Whether the central directory of the end record at `at` (in `tail`, which
 * starts at `start`) ends right where the record (or, for ZIP64, the ZIP64
 * end record) starts; null when it does not. Its recorded offset may count
 * from a later start (bytes put in front, not accounted for), so it is
 * checked by what lies there: a central header, or, for an empty directory,
 * nothing at its recorded offset. `exact` when the recorded offsets add up
 * as they are; `archiveStart` is where the archive then starts (null when it
 * cannot be told, for ZIP64 end records elsewhere than writers put them).
 */
async function directoryEndsAt(reader: RangeReader, tail: Buffer, start: number, at: number): Promise<{ exact: boolean; archiveStart: number | null } | null> {
  const cdSize = tail.readUInt32LE(at + 12);
  const cdOffset = tail.readUInt32LE(at + 16);
  const eocd = start + at;
  if (zip64LocatorBefore(tail, at)) {
    const locator = at - ZIP64_LOCATOR_BYTES;
    const recorded = tail.readBigUInt64LE(locator + 8);
    const record = eocd - ZIP64_LOCATOR_BYTES - ZIP64_RECORD_BYTES;
    if (recorded < BigInt(eocd)) {
      const there = await reader.readBytes(Number(recorded), 4);
      if (there.length === 4 && there.readUInt32LE(0) === ZIP64_RECORD_SIGNATURE) return { exact: true, archiveStart: 0 };
    }
    const placed = record >= 0 && (await reader.readBytes(record, 4)).readUInt32LE(0) === ZIP64_RECORD_SIGNATURE;
    const archiveStart = placed ? BigInt(record) - recorded : -1n;
    return { exact: false, archiveStart: archiveStart >= 0n ? Number(archiveStart) : null };
  }
  // 0xFFFFFFFF says the value is in a ZIP64 end record; without its locator there is none, and nothing checks out.
  if (cdOffset === 0xffffffff || cdSize === 0xffffffff) return null;
  const cdStart = eocd - cdSize;
  if (cdSize === 0) return cdStart === cdOffset ? { exact: true, archiveStart: 0 } : null;
  if (cdStart < cdOffset) return null;
  const signature = cdStart >= start ? tail.readUInt32LE(cdStart - start) : (await reader.readBytes(cdStart, 4)).readUInt32LE(0);
  if (signature !== CENTRAL_HEADER_SIGNATURE) return null;
  return { exact: cdStart === cdOffset, archiveStart: cdStart - cdOffset };
}

/**
 * An end record whose comment runs exactly to the end of the file but holds
 * another end record signature: yauzl (like unzip and Python's zipfile, which
 * then list an empty archive) takes the one in the comment and gives up. A
 * fake end record in a comment hides the archive from those tools, so the
 * real record is looked for: its position, when its directory checks out.
 */
async function endRecordBehindComment(reader: RangeReader, size: number): Promise<number | null> {
  const window = Math.min(size, 22 + 0xffff);
  const start = size - window;
  const tail = await reader.readBytes(start, window);
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE || at + 22 + tail.readUInt16LE(at + 20) !== tail.length) continue;
    if (tail.subarray(at + 22).indexOf(EOCD_SIGNATURE_BYTES) < 0) continue;
    if ((await directoryEndsAt(reader, tail, start, at)) !== null) return start + at;
  }
  return null;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIGNATURE_BYTES = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const LOCAL_HEADER_SIGNATURE_BYTES = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_RECORD_SIGNATURE = 0x06064b50;
/** A version-1 ZIP64 end record without extensible data (what writers write): 56 bytes, its size field 44. */
const ZIP64_RECORD_BYTES = 56;

/**
 * A ZIP64 end-of-central-directory locator right before the end record at
 * `at`. Writers add the ZIP64 records whenever a count or size might not fit
 * (Info-ZIP streaming from a pipe, Python past 65,535 entries) even when the
 * plain end record's fields hold real values, not 0xFFFF/0xFFFFFFFF; the
 * central directory then ends at the ZIP64 end record, not at the plain one.
 */
function zip64LocatorBefore(tail: Buffer, at: number): boolean {
  return at >= ZIP64_LOCATOR_BYTES && tail.readUInt32LE(at - ZIP64_LOCATOR_BYTES) === ZIP64_LOCATOR_SIGNATURE;
}

/**
 * Bytes in front of an archive whose offsets do not account for them: the end
 * record says its central directory (cdSize bytes) starts at cdOffset, so it
 * should end where the end record starts; if it ends earlier, that much was
 * prepended. With ZIP64 end records the locator's recorded offset of the
 * ZIP64 record is compared with where that record is (right before the
 * locator, as writers put it); a record elsewhere is left to yauzl.
 */
async function unadjustedPrefix(reader: RangeReader, size: number): Promise<number> {
  const window = Math.min(size, 22 + 0xffff + ZIP64_LOCATOR_BYTES + ZIP64_RECORD_BYTES);
  const tail = await reader.readBytes(size - window, window);
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE) continue;
    if (at + 22 + tail.readUInt16LE(at + 20) !== tail.length) continue;
    const cdSize = tail.readUInt32LE(at + 12);
    const cdOffset = tail.readUInt32LE(at + 16);
    const eocd = size - window + at;
    // With ZIP64 end records the directory ends before them, not at this record: the gap is theirs, not a prefix.
    if (zip64LocatorBefore(tail, at)) {
      const record = at - ZIP64_LOCATOR_BYTES - ZIP64_RECORD_BYTES;
      if (record < 0 || tail.readUInt32LE(record) !== ZIP64_RECORD_SIGNATURE || tail.readBigUInt64LE(record + 4) !== 44n) return 0;
      const recorded = tail.readBigUInt64LE(at - ZIP64_LOCATOR_BYTES + 8);
      const prefix = BigInt(size - window + record) - recorded;
      return prefix > 0n ? Number(prefix) : 0;
    }
    if (cdOffset === 0xffffffff || cdSize === 0xffffffff) return 0;
    const prefix = eocd - cdSize - cdOffset;
    return prefix > 0 ? prefix : 0;
  }
  return 0;
}

interface CentralSurvey {
  /** Entries the end record declares. */
  declared: number;
  firstLocalHeader: number | null;
  /** Why entries overlap, when they do. */
  overlap: string | null;
}

/**
 * Reads the central directory once, before anything is extracted, keeping
 * only each entry's [local header offset, least possible end) range: entries
 * that share or overlap those ranges (one local header referenced 1,500
 * times, or Fifield's overlapping deflate streams) expand the same bytes over
 * and over. The end of each range is a lower bound (the fixed 30-byte local
 * header plus the compressed size, without the name and extra field), so an
 * overlap found here is real. A directory that breaks off is the reading
 * pass's to report; the survey checks what it could read.
 */
async function surveyCentralDirectory(zipfile: yauzl.ZipFile, reader: RangeReader, maxEntries: number): Promise<CentralSurvey> {
  const starts: number[] = [];
  const ends: number[] = [];
  const declared = Number(zipfile.entryCount);
  let reachedEnd = false;
  for (let i = 0; i <= maxEntries; i += 1) {
    let raw: RawZipEntry | null;
    try {
      raw = await nextEntry(zipfile, reader);
    } catch {
      break;
    }
    if (raw === null) {
      reachedEnd = true;
      break;
    }
    starts.push(raw.relativeOffsetOfLocalHeader);
    ends.push(raw.relativeOffsetOfLocalHeader + LOCAL_HEADER_FIXED_BYTES + raw.compressedSize);
  }
  const order = starts.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]! || a - b);
  let overlap: string | null = null;
  let shared = 0;
  let overlapping = 0;
  for (let k = 1; k < order.length; k += 1) {
    const prev = order[k - 1]!;
    const cur = order[k]!;
    if (starts[cur] === starts[prev]) shared += 1;
    else if (starts[cur]! < ends[prev]!) overlapping += 1;
  }
  if (shared > 0 || overlapping > 0) {
    overlap = `${shared + overlapping} of ${order.length} entries overlap another (${shared} share a local header, ${overlapping} start inside another's data)`;
  }
  // A directory holding more central headers than the end record counts (nextEntry read on and raised
  // the count): the count of entries it holds, not the wrapped or under-declared one. Only when the
  // survey read it to its end: stopped at maxEntries (or where it breaks off), the raised count is
  // just how far it got.
  return { declared: reachedEnd ? Math.max(declared, Number(zipfile.entryCount)) : declared, firstLocalHeader: order.length > 0 ? starts[order[0]!]! : null, overlap };
}

/**
 * The next central directory entry, or null after the last. yauzl stops after
 * the end record's count, but that count is 16 bits: writers without ZIP64
 * (old Java, some phone and export tools) record 66,000 entries as 464, and
 * a hostile end record can under-declare to hide entries; unzip and Python's
 * zipfile read the directory to its end. So when the count is reached and
 * another central header follows, the count is raised by one and reading goes
 * on (the end record, or the ZIP64 one, has another signature and ends it).
 */
async function nextEntry(zip: yauzl.ZipFile, reader: RangeReader): Promise<RawZipEntry | null> {
  // yauzl's cursor and count of entries read (not in its typings).
  const state = zip as unknown as { entriesRead?: unknown; readEntryCursor?: unknown };
  if (state.entriesRead === zip.entryCount && typeof state.readEntryCursor === 'number') {
    const next = await reader.readBytes(state.readEntryCursor, 4);
    if (next.length === 4 && next.readUInt32LE(0) === CENTRAL_HEADER_SIGNATURE) zip.entryCount += 1;
  }
  return readEntry(zip);
}

function readEntry(zip: yauzl.ZipFile): Promise<RawZipEntry | null> {
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

/**
 * The archive's bytes from `prefix`, `size` of them, as yauzl reads them.
 * When the real end record's comment hides a fake one (endRecordBehindComment),
 * the archive is read as ending with that record, its comment length (two
 * bytes at `commentLengthAt`, counted from the first byte) read as 0.
 */
function archiveReader(link: ThreadLink, prefix: number, size: number, commentLengthAt: number | null): RangeReader {
  return new RangeReader(async (offset, length) => {
    const bytes = await link.read(prefix + offset, length);
    if (commentLengthAt !== null) {
      for (let i = commentLengthAt - prefix - offset; i < commentLengthAt - prefix - offset + 2; i += 1) if (i >= 0 && i < bytes.length) bytes[i] = 0;
    }
    return bytes;
  }, size);
}

/**
 * Finds the archive in its bytes and surveys its central directory. Throws
 * ExhibitError 'corrupt-file' when no usable end-of-central-directory record
 * is found, or when entries overlap (details: reason, membersDeclared, findings).
 */
async function openZip(link: ThreadLink, input: ZipOpenInput): Promise<ZipFacts> {
  let commentLengthAt: number | null = null;
  let commentCut = false;
  const rangeReader = (prefix: number) => archiveReader(link, prefix, input.size - prefix, commentLengthAt);
  let reader = rangeReader(0);
  const findings: ZipArchiveFinding[] = [];
  let size = input.size;
  // yauzl reads a ZIP64 end record where the locator says; with bytes in front that it does not
  // count, that is the wrong place, so its failure waits for the prefix to be known.
  const misplacedZip64 = (err: unknown) => err instanceof ExhibitError && /zip64 end of central directory record signature/i.test(err.message);
  let zipfile: yauzl.ZipFile | null;
  try {
    zipfile = await openYauzl(reader, size);
  } catch (err) {
    const commentOrTrailing = err instanceof ExhibitError && /extra bytes at the end/i.test(err.message);
    const end = commentOrTrailing ? await archiveEndBefore(reader, size) : null;
    const hidden = commentOrTrailing && end === null ? await endRecordBehindComment(reader, size) : null;
    if (end === null && hidden === null && !misplacedZip64(err)) throw err;
    if (end !== null && end.commentCut) {
      // The end record and its directory check out, its comment was cut: the archive is read as ending
      // with the record (its comment length read as 0), and the listing stops truncated after the last member.
      commentLengthAt = end.eocd + 20;
      commentCut = true;
      size = end.eocd + 22;
      reader = rangeReader(0);
    } else if (end !== null) {
      size = end.end;
      findings.push('archive-trailing-data');
    }
    if (hidden !== null) {
      commentLengthAt = hidden + 20;
      size = hidden + 22;
      reader = rangeReader(0);
      findings.push('end-record-in-comment');
    }
    zipfile = await openYauzl(reader, size).catch((again: unknown) => {
      if (misplacedZip64(again)) return null;
      throw again;
    });
  }
  // Offsets that count from a later start: bytes were put in front of the archive (or it is the
  // second of two concatenated archives). Read it from where its own offsets count.
  const prefix = await unadjustedPrefix(reader, size);
  if (prefix > 0) {
    zipfile?.close();
    reader = rangeReader(prefix);
    size -= prefix;
    zipfile = await openYauzl(reader, size);
  }
  // Still not placed: yauzl's own error.
  zipfile ??= await openYauzl(reader, size);
  const survey = await surveyCentralDirectory(zipfile, reader, input.maxEntries);
  zipfile.close();
  if (prefix > 0 || (survey.firstLocalHeader !== null && survey.firstLocalHeader > 0)) findings.push('archive-prefix');
  if (survey.overlap) {
    throw new ExhibitError('corrupt-file', `zip: ${survey.overlap}; nothing is extracted from an archive whose entries share bytes`, {
      details: { reason: 'overlapping-entries', membersDeclared: survey.declared, findings: [...findings, 'overlapping-entries'] },
    });
  }
  return { prefix, size, findings, declared: survey.declared, commentLengthAt, commentCut };
}

/** Lists the archive entry by entry, sending a member's bytes when the main thread opens it. */
async function listZip(link: ThreadLink, input: ZipListInput): Promise<void> {
  const reader = archiveReader(link, input.prefix, input.size, input.commentLengthAt);
  const zipfile = await openYauzl(reader, input.size);
  try {
    for (let index = 0; ; index += 1) {
      const raw = await nextEntry(zipfile, reader);
      if (raw === null) return;
      const answer = await link.ask({ t: 'entry', entry: await describe(zipfile, raw, index, input) });
      if (answer.op === 'end') return;
      if (answer.op === 'open' && !(await sendMember(link, zipfile, raw, index, input.prefix))) return;
    }
  } finally {
    zipfile.close();
  }
}

async function describe(zipfile: yauzl.ZipFile, raw: RawZipEntry, index: number, input: ZipListInput): Promise<WireArchiveEntry> {
  const decoded = decodeRecordedBytes(...nameBytes(raw));
  const name = analyseEntryName(decoded.text, { maxNameBytes: input.maxEntryNameBytes, validEncoding: decoded.validEncoding, entryIndex: index });
  const encrypted = (raw.generalPurposeBitFlag & GP_ENCRYPTED) !== 0;
  const kind = entryKind(raw, decoded.text);
  const flags = new Set<FileFlag>(name.flags);
  if (encrypted) flags.add('encrypted');
  if (kind === 'symlink') flags.add('link');
  if (kind === 'device') flags.add('device');
  const entry: WireArchiveEntry = {
    recordedName: name.recordedName,
    displayPath: name.displayPath,
    name: name.name,
    extension: name.extension,
    kind,
    declaredSize: raw.uncompressedSize,
    compressedSize: raw.compressedSize,
    times: zipTimes(raw),
    flags: [...flags],
    encrypted,
  };
  if (kind === 'symlink' && !encrypted) {
    const target = await readLinkTarget(zipfile, raw, index);
    if (target !== undefined) entry.linkTarget = target;
  }
  return entry;
}

/** Opens the member (local header, then its data) and sends it; an error opening it is its 'data-error'. */
async function sendMember(link: ThreadLink, zipfile: yauzl.ZipFile, raw: RawZipEntry, index: number, prefix: number): Promise<boolean> {
  const label = `zip entry ${index}`;
  const fail = async (err: unknown) => (await link.ask({ t: 'data-error', error: toWireError(asArchiveError(err, label)) })).op !== 'end';
  let member: MemberData;
  try {
    member = await openMemberData(zipfile, raw, index);
  } catch (err) {
    return fail(err);
  }
  // Stored: the member's bytes are the archive's own, from dataStart (sizes must agree, as they must for stored data).
  const stored = raw.compressionMethod === 0 && raw.compressedSize === raw.uncompressedSize;
  const answer = await link.ask({
    t: 'opened',
    ...(member.headerMismatch ? { headerMismatch: true } : {}),
    ...(stored ? { storedSpan: { offset: prefix + member.dataStart, length: raw.compressedSize } } : {}),
  });
  if (answer.op !== 'more') return answer.op !== 'end';
  let stream: Readable;
  try {
    // Made only now, read at once: an error of its first bytes must have a reader to go to.
    stream = await member.stream();
  } catch (err) {
    return fail(err);
  }
  return sendMemberData(link, stream, label);
}

interface MemberData {
  dataStart: number;
  /** The local header disagrees with the central directory (read from the central directory, flagged). */
  headerMismatch: boolean;
  /** The member's bytes, inflated if deflated, CRC-checked at their end. */
  stream(): Promise<Readable>;
}

/**
 * Reads the member's local header (yauzl checks the data lies inside the
 * archive): where its data starts and whether the header agrees with the
 * central directory; its data is opened at that offset, as openReadStream would.
 */
async function openMemberData(zipfile: yauzl.ZipFile, raw: RawZipEntry, index: number): Promise<MemberData> {
  if ((raw.generalPurposeBitFlag & GP_ENCRYPTED) !== 0) {
    throw new ExhibitError('encrypted', `zip entry ${index} is encrypted; not decrypted`);
  }
  if (raw.compressionMethod !== 0 && raw.compressionMethod !== 8) {
    const method = COMPRESSION_NAMES[raw.compressionMethod] ?? 'unknown';
    throw new ExhibitError('unsupported-format', `zip entry ${index}: compression method ${raw.compressionMethod} (${method}) is not supported`);
  }
  const entry = raw as unknown as yauzl.Entry;
  const label = `zip entry ${index}`;
  let local: yauzl.LocalFileHeader;
  try {
    local = await zipfile.readLocalFileHeaderPromise(entry);
  } catch (err) {
    throw asArchiveError(err, label);
  }
  const dataStart = local.fileDataStart;
  return {
    dataStart,
    headerMismatch: localHeaderDisagreement(raw, local as unknown as LocalHeader) !== null,
    stream: () =>
      new Promise<Readable>((resolve, reject) => {
        zipfile.openReadStreamLowLevel(
          dataStart,
          raw.compressedSize,
          0,
          raw.compressedSize,
          raw.compressionMethod === 8,
          raw.uncompressedSize,
          (err, stream) => (err ? reject(asArchiveError(err, label)) : resolve(withCrcCheck(stream, raw.crc32, raw.uncompressedSize, label))),
        );
      }),
  };
}

/** Reads a small link target; a corrupt one is simply not recorded. */
async function readLinkTarget(zipfile: yauzl.ZipFile, raw: RawZipEntry, index: number): Promise<string | undefined> {
  if (raw.uncompressedSize > MAX_LINK_TARGET_BYTES || raw.compressedSize > MAX_LINK_TARGET_BYTES * 2) return undefined;
  try {
    const stream = await (await openMemberData(zipfile, raw, index)).stream();
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

/**
 * One member, opened after the listing moved past it (a reader may open its
 * entries in any order, ZIP being random access): the central directory is
 * read up to the entry again, then the member is sent like a listed one.
 */
async function sendListedMember(link: ThreadLink, input: ZipMemberInput): Promise<void> {
  const reader = archiveReader(link, input.prefix, input.size, input.commentLengthAt);
  const zipfile = await openYauzl(reader, input.size);
  try {
    let raw: RawZipEntry | null = null;
    for (let i = 0; i <= input.index; i += 1) {
      raw = await nextEntry(zipfile, reader);
      if (raw === null) throw new ExhibitError('corrupt-file', `zip: the central directory ends before entry ${input.index}`);
    }
    await sendMember(link, zipfile, raw!, input.index, input.prefix);
  } finally {
    zipfile.close();
  }
}

/** The ZIP tasks of the archive parser threads (archive.worker.ts). */
export const ZIP_TASKS: Record<'zip-open' | 'zip-list' | 'zip-member', TaskHandler> = {
  async 'zip-open'(input, context) {
    return { value: await openZip(new ThreadLink(context), input as ZipOpenInput) };
  },
  async 'zip-list'(input, context) {
    await listZip(new ThreadLink(context), input as ZipListInput);
    return { value: null };
  },
  async 'zip-member'(input, context) {
    await sendListedMember(new ThreadLink(context), input as ZipMemberInput);
    return { value: null };
  },
};

interface LocalHeader {
  generalPurposeBitFlag: number;
  compressionMethod: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  fileName: Buffer;
}

/**
 * What the local header says differently from the central directory. The
 * central directory is what we extract by (as every common tool does), so a
 * local name like `../../evil.sh` behind an innocent central name is a
 * finding about the member, not its path. Sizes and CRC are compared only
 * when the local header carries them (no data descriptor, not ZIP64).
 */
function localHeaderDisagreement(central: RawZipEntry, local: LocalHeader): string | null {
  const out: string[] = [];
  if (Buffer.isBuffer(local.fileName) && !local.fileName.equals(central.fileName)) out.push('name');
  if (local.compressionMethod !== central.compressionMethod) out.push('compression method');
  if ((local.generalPurposeBitFlag & GP_ENCRYPTED) !== (central.generalPurposeBitFlag & GP_ENCRYPTED)) out.push('encryption flag');
  const descriptor = (local.generalPurposeBitFlag & 0x0008) !== 0;
  if (!descriptor) {
    if (local.crc32 !== central.crc32) out.push('CRC-32');
    if (local.compressedSize !== 0xffffffff && local.compressedSize !== central.compressedSize) out.push('compressed size');
    if (local.uncompressedSize !== 0xffffffff && local.uncompressedSize !== central.uncompressedSize) out.push('uncompressed size');
  }
  return out.length > 0 ? out.join(', ') : null;
}

/** yauzl refuses a few legitimate-but-unsupported archives outright; say so rather than "corrupt". */
function zipError(err: unknown, what: string): ExhibitError {
  const message = err instanceof Error ? err.message : String(err);
  if (/strong encryption/i.test(message)) return new ExhibitError('encrypted', `${what}: ${message}`, { cause: err, details: { reason: 'encrypted' } });
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
 * The member's bytes must be exactly its declared uncompressed size and match
 * its CRC-32 (yauzl checks neither with validateEntrySizes off), so a damaged
 * member is reported as corrupt rather than stored as if it were the recorded
 * content. More bytes than declared stop the stream at once (an inflate that
 * keeps going is a bomb, not a member).
 */
function withCrcCheck(source: Readable, expected: number, expectedSize: number, label: string): Readable {
  let crc = 0;
  let size = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      if (size > expectedSize) {
        callback(new ExhibitError('corrupt-file', `${label}: more than its declared ${expectedSize} bytes`));
        return;
      }
      crc = crc32(chunk, crc);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (size !== expectedSize) {
        callback(new ExhibitError('corrupt-file', `${label}: ${size} bytes where ${expectedSize} are declared`));
        return;
      }
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
