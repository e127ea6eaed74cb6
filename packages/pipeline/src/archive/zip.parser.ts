import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import {
  ExhibitError,
  LIMITS,
  shiftedZipEndInTail,
  shiftedZipFrontRefused,
  shiftedZipFrontStart,
  ZIP64_END_RECORD_BYTES,
  ZIP64_LOCATOR_BYTES,
  ZIP_SIGNATURE,
  zipCentralHeaderAt,
  type ArchiveTimes,
  type EntryKind,
  type FileFlag,
  type RecordedTime,
} from '@exhibit/core';
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
 * Only an EXACT end record is taken: its central directory (or, with ZIP64
 * end records, the ZIP64 record where its locator says, and the directory
 * that ends there) ends right where the record starts, offsets counted from
 * the start of the file. Any ZIP stored in a member carries an end record of
 * its own whose offsets count from inside that member's data, so it is never
 * exact; an end record whose offsets count from a later start (bytes in front
 * and bytes after) is not taken here either: only shiftedArchiveEnd, when no
 * exact record exists, reads such a one, under the checks that keep a stored
 * member's ZIP out.
 */
async function archiveEndBefore(reader: RangeReader, size: number): Promise<ArchiveEnd | null> {
  const window = Math.min(size, LIMITS.zipEndRecordSearchBytes);
  const start = size - window;
  const tail = await reader.readBytes(start, window);
  const budget = { reads: MAX_END_RECORD_READS };
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE) continue;
    const end = start + at + 22 + tail.readUInt16LE(at + 20);
    // Ends the file exactly: yauzl took another signature after it (in its comment), endRecordBehindComment's case.
    if (end === size) continue;
    if (!(await directoryEndsAt(reader, tail, start, at, budget))) {
      // Every candidate costs at most one read outside the tail; a tail of fakes ends the scan, not the parser thread's time.
      if (budget.reads <= 0) return null;
      continue;
    }
    return { eocd: start + at, end: Math.min(end, size), commentCut: end > size };
  }
  return null;
}

/**
 * Reads outside the tail one scan for an end record may make (a central
 * directory, or a ZIP64 record, that starts before the 1 MiB tail); a hostile
 * tail can hold some 25,000 end record signatures whose offsets add up.
 */
const MAX_END_RECORD_READS = 64;
/** A ZIP64 end record with extensible data larger than this is not looked for (writers write 56 bytes). */
const MAX_ZIP64_RECORD_BYTES = 64 * 1024;

/** An end record found before the end of the file: where it is, where its comment ends, and whether that comment was cut. */
interface ArchiveEnd {
  eocd: number;
  end: number;
  commentCut: boolean;
}

/**
 * Whether the end record at `at` (in `tail`, which starts at `start`) is
 * exact: its central directory ends right where the record starts, or, with
 * a ZIP64 locator before it, the ZIP64 end record lies where the locator
 * says, ends at the locator, and its directory ends where it starts. A
 * non-empty directory must start with a central header. Offsets are taken as
 * recorded: one that counts from a later start is not exact. Bytes outside
 * the tail are read only while `budget` lasts.
 */
async function directoryEndsAt(reader: RangeReader, tail: Buffer, start: number, at: number, budget: { reads: number }): Promise<boolean> {
  const eocd = start + at;
  const bytesAt = async (offset: number, length: number): Promise<Buffer | null> => {
    if (offset >= start && offset + length <= start + tail.length) return tail.subarray(offset - start, offset - start + length);
    if (budget.reads <= 0) return null;
    budget.reads -= 1;
    const bytes = await reader.readBytes(offset, length);
    return bytes.length === length ? bytes : null;
  };
  let cdSize: number;
  let cdOffset: number;
  let directoryEnd: number;
  if (zip64LocatorBefore(tail, at)) {
    const locator = eocd - ZIP64_LOCATOR_BYTES;
    const recorded = tail.readBigUInt64LE(at - ZIP64_LOCATOR_BYTES + 8);
    if (recorded + BigInt(ZIP64_RECORD_BYTES) > BigInt(locator) || BigInt(locator) - recorded > BigInt(MAX_ZIP64_RECORD_BYTES)) return false;
    const record = Number(recorded);
    const fields = await bytesAt(record, ZIP64_RECORD_BYTES);
    if (fields === null || fields.readUInt32LE(0) !== ZIP64_RECORD_SIGNATURE || fields.readBigUInt64LE(4) + 12n !== BigInt(locator - record)) return false;
    const size64 = fields.readBigUInt64LE(40);
    const offset64 = fields.readBigUInt64LE(48);
    if (offset64 + size64 !== recorded) return false;
    cdSize = Number(size64);
    cdOffset = Number(offset64);
    directoryEnd = record;
  } else {
    cdSize = tail.readUInt32LE(at + 12);
    cdOffset = tail.readUInt32LE(at + 16);
    // 0xFFFFFFFF says the value is in a ZIP64 end record; without its locator there is none, and nothing checks out.
    if (cdOffset === 0xffffffff || cdSize === 0xffffffff) return false;
    if (cdOffset + cdSize !== eocd) return false;
    directoryEnd = eocd;
  }
  if (cdSize === 0) return cdOffset === directoryEnd;
  const signature = await bytesAt(cdOffset, 4);
  return signature !== null && signature.readUInt32LE(0) === CENTRAL_HEADER_SIGNATURE;
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
  const budget = { reads: MAX_END_RECORD_READS };
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE || at + 22 + tail.readUInt16LE(at + 20) !== tail.length) continue;
    if (tail.subarray(at + 22).indexOf(EOCD_SIGNATURE_BYTES) < 0) continue;
    if (await directoryEndsAt(reader, tail, start, at, budget)) return start + at;
  }
  return null;
}

/**
 * Whether the archive's last `size` bytes end with an end record whose comment runs exactly to `size` and holds
 * another end record signature, and whose own directory checks out once bytes in front are counted (it holds
 * central headers, and they end where it starts): the end record that yauzl, unzip and Python take is then the one
 * in its comment, and the members of this one are not listed. One read beyond the tail per candidate, at most
 * MAX_END_RECORD_READS. Its position, or null. Behind a signature (whose self-extractor's offsets often count from
 * after its stub) it is also the real record when the one in its comment cannot be read.
 */
async function endRecordHoldingTheLast(reader: RangeReader, size: number): Promise<number | null> {
  const window = Math.min(size, 22 + 0xffff);
  const start = size - window;
  const tail = await reader.readBytes(start, window);
  let reads = MAX_END_RECORD_READS;
  for (let at = tail.length - 22; at >= 0 && reads > 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE || at + 22 + tail.readUInt16LE(at + 20) !== tail.length) continue;
    if (tail.subarray(at + 22).indexOf(EOCD_SIGNATURE_BYTES) < 0) continue;
    const entries = tail.readUInt16LE(at + 10);
    const cdSize = tail.readUInt32LE(at + 12);
    const cdOffset = tail.readUInt32LE(at + 16);
    if (entries === 0 || entries === 0xffff || cdSize === 0 || cdSize === 0xffffffff || cdOffset === 0xffffffff) continue;
    const directory = start + at - cdSize;
    if (directory < 0 || directory < cdOffset) continue;
    reads -= 1;
    const header = await reader.readBytes(directory, 4);
    if (header.length === 4 && header.readUInt32LE(0) === CENTRAL_HEADER_SIGNATURE) return start + at;
  }
  return null;
}

/**
 * A signed Windows self-extractor: a PE stub, the archive (its offsets often
 * not adjusted for the stub), then the Authenticode signature that signing
 * appends after everything. The end record is then neither at the end of
 * the file nor exact, and was refused. The PE image says where its
 * signature is (the security directory, data directory 4, holds a file
 * offset and size): when that is a WIN_CERTIFICATE running exactly to the
 * end of the file and an end record (with its comment) ends exactly where it
 * starts, the archive ends there. Used only when no exact end record exists
 * (archiveEndBefore goes first). The signature is not covered by itself, so
 * its bytes prove nothing: a ZIP stored in a member, followed by a
 * "signature" holding the real archive's directory and end record, would
 * otherwise put the inner ZIP in the archive's place. So a signature region
 * holding any end record signature is refused, and the record before it must
 * be exact once the stub in front is counted.
 */
async function authenticodeSignatureStart(reader: RangeReader, size: number): Promise<number | null> {
  if (size < 64) return null;
  const dos = await reader.readBytes(0, 64);
  if (dos.length < 64 || dos.readUInt16LE(0) !== 0x5a4d) return null;
  const pe = dos.readUInt32LE(0x3c);
  if (pe < 64 || pe + 24 + 112 + 40 > size) return null;
  const head = await reader.readBytes(pe, 24 + 112 + 40);
  if (head.readUInt32LE(0) !== 0x00004550) return null;
  const optionalSize = head.readUInt16LE(20);
  const magic = head.readUInt16LE(24);
  // Data directories follow the optional header's fixed fields: 96 bytes in PE32, 112 in PE32+.
  const directories = magic === 0x10b ? 96 : magic === 0x20b ? 112 : null;
  if (directories === null || optionalSize < directories + 5 * 8 || head.readUInt32LE(24 + directories - 4) < 5) return null;
  const certOffset = head.readUInt32LE(24 + directories + 32);
  const certSize = head.readUInt32LE(24 + directories + 36);
  if (certSize < 8 || certOffset < pe || certOffset + certSize !== size) return null;
  const certificate = await reader.readBytes(certOffset, 8);
  const length = certificate.readUInt32LE(0);
  const revision = certificate.readUInt16LE(4);
  if (length < 8 || length > certSize || (revision !== 0x0100 && revision !== 0x0200)) return null;
  // The signature does not cover its own bytes: they can hold anything, an archive's end record too. One
  // there means the archive may end inside it, which this rule cannot place: refused (a real one is DER).
  if (certSize > MAX_SIGNATURE_BYTES) return null;
  const region = await reader.readBytes(certOffset, certSize);
  if (region.length !== certSize || region.includes(EOCD_SIGNATURE_BYTES)) return null;
  // An end record, with its comment, must end exactly where the signature starts, and be exact once the
  // stub in front is counted: its directory ends where it starts, and starts with a central header.
  const window = Math.min(certOffset, 22 + 0xffff);
  const start = certOffset - window;
  const tail = await reader.readBytes(start, window);
  for (let at = tail.length - 22; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE || at + 22 + tail.readUInt16LE(at + 20) !== tail.length) continue;
    const entries = tail.readUInt16LE(at + 10);
    const cdSize = tail.readUInt32LE(at + 12);
    const cdOffset = tail.readUInt32LE(at + 16);
    // ZIP64 values are not followed here.
    if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) return null;
    const prefix = start + at - cdSize - cdOffset;
    if (prefix < 0) return null;
    if (entries > 0 || cdSize > 0) {
      const header = await reader.readBytes(cdOffset + prefix, 4);
      if (header.length !== 4 || header.readUInt32LE(0) !== CENTRAL_HEADER_SIGNATURE) return null;
    }
    return certOffset;
  }
  return null;
}

/**
 * A self-extractor whose offsets were not adjusted for its stub (`cat stub a.zip > sfx.exe`, no `zip -A`), with
 * bytes after its end record (a signature appended by a tool that does not say where it starts, junk): unzip and
 * Python's zipfile read it, shifting every offset by the stub's length; Exhibit failed it corrupt-file
 * (zip-sfx-unadjusted-offsets-and-trailing-bytes-unreadable). Used only when no exact end record exists and no
 * PE security directory places the archive's end (archiveEndBefore and authenticodeSignatureStart go first).
 *
 * That shape is also what a ZIP inside a member of another ZIP looks like once the outer one is cut after it (its
 * end record's offsets count from inside the member's data), which must never be read as the archive
 * (zip-cut-streamed-stored-inner-zip-read-as-the-archive, zip-shift-lists-inner-zip-of-cut-outer-stored-member).
 * The checks are @exhibit/core's zip-shifted-end.ts, which identification uses too: the LAST end record signature
 * in the searched tail (LIMITS.zipEndRecordSearchBytes), no ZIP record signature after it, its directory ending where
 * the record (or its ZIP64 end record) starts and starting with a central header, bytes in front; refused when the
 * file starts with any ZIP record signature (it is a ZIP, or a piece of one, itself), the bytes in front are longer than
 * LIMITS.zipShiftFrontScanBytes, or a local header in front has data reaching the archive's start. Where the archive's end lies (its comment's end), or null. At most three reads besides the tail.
 */
async function shiftedArchiveEnd(reader: RangeReader, size: number): Promise<number | null> {
  const window = Math.min(size, LIMITS.zipEndRecordSearchBytes);
  const start = size - window;
  const candidate = shiftedZipEndInTail(await reader.readBytes(start, window), start, size);
  if (candidate === null) return null;
  if (!zipCentralHeaderAt(await reader.readBytes(candidate.directoryOffset, 4))) return null;
  const frontStart = shiftedZipFrontStart(candidate.prefix);
  const front = await reader.readBytes(frontStart, candidate.prefix - frontStart);
  if (front.length !== candidate.prefix - frontStart) return null;
  if (shiftedZipFrontRefused(await reader.readBytes(0, 4), front, candidate.prefix)) return null;
  return candidate.end;
}

/** An Authenticode signature larger than this is not read (real ones are a few KiB to some tens of KiB). */
const MAX_SIGNATURE_BYTES = 1024 * 1024;

// The ZIP record constants are @exhibit/core's (zip-shifted-end.ts), shared with identification.
const EOCD_SIGNATURE = ZIP_SIGNATURE.endRecord;
const EOCD_SIGNATURE_BYTES = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const ZIP64_LOCATOR_SIGNATURE = ZIP_SIGNATURE.zip64Locator;
const CENTRAL_HEADER_SIGNATURE = ZIP_SIGNATURE.centralHeader;
const ZIP64_RECORD_SIGNATURE = ZIP_SIGNATURE.zip64EndRecord;
/** A version-1 ZIP64 end record without extensible data (what writers write): 56 bytes, its size field 44. */
const ZIP64_RECORD_BYTES = ZIP64_END_RECORD_BYTES;

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

/** Errors that are the archive's own bytes (yauzl's refusals, typed by zipError): a survey stops where they start. */
const EVIDENCE_CODES: ReadonlySet<string> = new Set(['corrupt-file', 'unsupported-format', 'encrypted']);

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
 * pass's to report; the survey checks what it could read. A read that fails
 * (storage) is thrown, never taken for the directory's end: a second line of
 * defence, since the pool settles the task with the main thread's storage
 * error before the thread sees one, and a short read is refused where the
 * range is served (blob-bytes.server.ts).
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
    } catch (err) {
      // Only the directory's own damage ends the survey where it breaks off (a count fixed by the bytes). Anything else,
      // a storage fault first, is thrown: the count would fall back to the end record's, and a chain ZIP's span, the
      // next ZIP's id base, would depend on storage. Defensive: in production a failed read settles the task in the
      // pool first; zip-survey-storage-fault-lowers-declared-count exercises this path in the thread's code directly.
      if (err instanceof ExhibitError && EVIDENCE_CODES.has(err.code)) break;
      throw err;
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
  let zipfile: yauzl.ZipFile | null | undefined;
  try {
    zipfile = await openYauzl(reader, size);
  } catch (err) {
    // yauzl looks for the end record only in the last 64 KiB + 22 bytes: more bytes after it than that (an appended
    // signature or file) is its "not found", and the archive was lost (zip-trailing-bytes-past-64-kib-unreadable);
    // the search below looks back LIMITS.zipEndRecordSearchBytes.
    const commentOrTrailing = err instanceof ExhibitError && /extra bytes at the end|end of central directory record signature not found/i.test(err.message);
    // An exact end record first: only without one does the PE image's signature place the archive's end.
    const end = commentOrTrailing ? await archiveEndBefore(reader, size) : null;
    const signed = commentOrTrailing && end === null ? await authenticodeSignatureStart(reader, size) : null;
    // Behind a signature the archive ends where it starts: the end record's comment runs to there, not to the file's end.
    const hidden =
      commentOrTrailing && end === null ? (signed === null ? await endRecordBehindComment(reader, size) : await endRecordHoldingTheLast(reader, signed)) : null;
    // Last: a stub in front whose offsets were not adjusted, and bytes after the end record.
    const shifted = commentOrTrailing && end === null && signed === null && hidden === null ? await shiftedArchiveEnd(reader, size) : null;
    if (signed === null && end === null && hidden === null && shifted === null && !misplacedZip64(err)) throw err;
    if (shifted !== null) {
      // The archive ends there; its offsets count from after the stub (unadjustedPrefix, below, finds where).
      size = shifted;
      findings.push('archive-trailing-data');
    }
    if (signed !== null) {
      // The archive ends where the PE image's signature starts; its offsets may count from after the stub (below).
      size = signed;
      findings.push('archive-trailing-data');
    }
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
    // Behind a signature, the record in the comment is tried first (below); the hidden one only if yauzl cannot read it.
    if (hidden !== null && signed === null) {
      commentLengthAt = hidden + 20;
      size = hidden + 22;
      reader = rangeReader(0);
      findings.push('end-record-in-comment');
    }
    zipfile = await openYauzl(reader, size).catch((again: unknown) => {
      if (misplacedZip64(again)) return null;
      if (hidden === null || signed === null) throw again;
      return undefined;
    });
    if (zipfile === undefined && hidden !== null) {
      commentLengthAt = hidden + 20;
      size = hidden + 22;
      reader = rangeReader(0);
      findings.push('end-record-in-comment');
      zipfile = await openYauzl(reader, size);
    }
  }
  // The record read lies in another end record's comment, running to the archive's end, whose own directory checks out
  // (a whole ZIP in the real archive's comment): unzip and Python read the one in the comment, and so does Exhibit, but
  // the real archive's members are hidden by it, which is the finding.
  if (!findings.includes('end-record-in-comment') && (await endRecordHoldingTheLast(reader, size)) !== null) findings.push('end-record-in-comment');
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
  // Bytes in front that the offsets do not count: every offset was read shifted by them, as unzip does ("extra bytes
  // at beginning"). Said apart from archive-prefix, which a stub whose offsets were adjusted (zip -A) also gives.
  if (prefix > 0) findings.push('zip-offsets-shifted');
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
  // A FIFO, device or socket that carries data is a file: Info-ZIP records the mode of what it read, and
  // `mysqldump | zip dump.zip -` (or zip -FI) stores a whole file under a FIFO's mode. unzip and Python's
  // zipfile extract the data as a regular file; as a 'fifo' it was never opened, its bytes never recorded.
  // Its uncompressed size says so: an empty member deflated still has 2 compressed bytes.
  const carriesData = raw.uncompressedSize > 0;
  // A name ending in '/' is a directory to unzip and Python's zipfile whatever mode it records: the
  // directory rule below decides (a "directory" carrying data is a file there too).
  const special = name.endsWith('/') ? 0 : mode & S_IFMT;
  switch (special) {
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
    case S_IFBLK:
      return carriesData ? 'file' : 'device';
    case S_IFIFO:
      return carriesData ? 'file' : 'fifo';
    case S_IFSOCK:
      return carriesData ? 'file' : 'other';
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
