import { LIMITS } from './limits.js';

/**
 * A ZIP end record that bytes follow and whose offsets do not count the bytes in front of the archive (a stub
 * prepended without `zip -A`, then a signature appended). Pure functions over bytes already read, shared by the
 * ZIP reader (packages/pipeline zip.parser.ts shiftedArchiveEnd) and identification (packages/media polyglot.ts
 * zipDirectoryBeforeTrailingBytes), so that identification never tells of an archive the reader refuses
 * (identify-zip64-without-directory-disagrees-with-unpack).
 *
 * The same shape is what a ZIP stored in a member of another ZIP looks like once the outer one is cut after it: the
 * inner end record's offsets count from inside the member's data. That inner ZIP must never be read as the file's
 * archive (zip-shift-lists-inner-zip-of-cut-outer-stored-member), hence the checks on the bytes in front.
 */

/** ZIP record signatures (little-endian numbers). */
export const ZIP_SIGNATURE = {
  localHeader: 0x04034b50,
  centralHeader: 0x02014b50,
  endRecord: 0x06054b50,
  zip64EndRecord: 0x06064b50,
  zip64Locator: 0x07064b50,
  dataDescriptor: 0x08074b50,
} as const;

/** The fixed part of an end-of-central-directory record (before its comment). */
export const ZIP_END_RECORD_BYTES = 22;
/** The fixed part of a local file header (before its name and extra field). */
export const ZIP_LOCAL_HEADER_BYTES = 30;
export const ZIP64_LOCATOR_BYTES = 20;
/** A version-1 ZIP64 end record without extensible data (what writers write): 56 bytes, its size field 44. */
export const ZIP64_END_RECORD_BYTES = 56;

function signatureBytes(signature: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(signature, 0);
  return bytes;
}

const END_RECORD_SIGNATURE_BYTES = signatureBytes(ZIP_SIGNATURE.endRecord);
const LOCAL_HEADER_SIGNATURE_BYTES = signatureBytes(ZIP_SIGNATURE.localHeader);
const CENTRAL_HEADER_SIGNATURE_BYTES = signatureBytes(ZIP_SIGNATURE.centralHeader);
/** Every ZIP record signature: bytes holding one after an end record are an outer archive's, or a member's. */
const RECORD_SIGNATURE_BYTES = Object.values(ZIP_SIGNATURE).map(signatureBytes);

export interface ShiftedZipEnd {
  /** Where the end record starts in the file. */
  eocdOffset: number;
  /** Where the record's comment ends: the archive's end. */
  end: number;
  /** Bytes in front of the archive that its offsets do not count (> 0): where the archive starts. */
  prefix: number;
  /** Where the central directory starts in the file, and its length (> 0). */
  directoryOffset: number;
  directorySize: number;
  entries: number;
  /** Bytes after the record and its comment (> 0). */
  trailingBytes: number;
}

/**
 * The candidate in the file's last bytes (`tail`, from `tailOffset` to the file's end `size`): the LAST end record
 * signature there, refused when the record (with its comment) ends the file or runs past it, when the bytes after it
 * hold any ZIP record signature, when a ZIP64 locator precedes it but its ZIP64 end record is not right before the
 * locator (size field 44) or that record's directory offset plus size is not the offset the locator records, when
 * 0xFFFF/0xFFFFFFFF fields stand without a locator, when it lists no entry or an empty directory, or when no bytes
 * (or fewer than none) lie in front. The caller still checks that a central header starts at `directoryOffset`
 * (zipCentralHeaderAt) and the bytes in front (shiftedZipFrontRefused).
 */
export function shiftedZipEndInTail(tail: Buffer, tailOffset: number, size: number): ShiftedZipEnd | null {
  if (tailOffset + tail.length !== size) return null;
  const at = tail.lastIndexOf(END_RECORD_SIGNATURE_BYTES);
  if (at < 0 || at + ZIP_END_RECORD_BYTES > tail.length) return null;
  const end = at + ZIP_END_RECORD_BYTES + tail.readUInt16LE(at + 20);
  // Ending the file is the exact case's; past it, a cut comment.
  if (end >= tail.length) return null;
  if (RECORD_SIGNATURE_BYTES.some((signature) => tail.indexOf(signature, end) >= 0)) return null;
  const eocdOffset = tailOffset + at;
  let entries: number;
  let directorySize: number;
  let directoryOffset: number;
  let prefix: number;
  if (at >= ZIP64_LOCATOR_BYTES && tail.readUInt32LE(at - ZIP64_LOCATOR_BYTES) === ZIP_SIGNATURE.zip64Locator) {
    // As writers put them: the ZIP64 end record right before its locator.
    const record = at - ZIP64_LOCATOR_BYTES - ZIP64_END_RECORD_BYTES;
    if (record < 0 || tail.readUInt32LE(record) !== ZIP_SIGNATURE.zip64EndRecord || tail.readBigUInt64LE(record + 4) !== 44n) return null;
    const recorded = tail.readBigUInt64LE(at - ZIP64_LOCATOR_BYTES + 8);
    const entries64 = tail.readBigUInt64LE(record + 32);
    const size64 = tail.readBigUInt64LE(record + 40);
    const offset64 = tail.readBigUInt64LE(record + 48);
    const recordOffset = BigInt(tailOffset + record);
    if (offset64 + size64 !== recorded || recorded > recordOffset || size64 > recordOffset || entries64 > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    entries = Number(entries64);
    directorySize = Number(size64);
    prefix = Number(recordOffset - recorded);
    directoryOffset = tailOffset + record - directorySize;
  } else {
    entries = tail.readUInt16LE(at + 10);
    directorySize = tail.readUInt32LE(at + 12);
    const cdOffset = tail.readUInt32LE(at + 16);
    if (entries === 0xffff || directorySize === 0xffffffff || cdOffset === 0xffffffff) return null;
    directoryOffset = eocdOffset - directorySize;
    prefix = directoryOffset - cdOffset;
  }
  // No stub (an exact record is the reader's other path), offsets past the bytes in front, or nothing to list.
  if (prefix <= 0 || directoryOffset < 0 || directorySize === 0 || entries === 0) return null;
  return { eocdOffset, end: tailOffset + end, prefix, directoryOffset, directorySize, entries, trailingBytes: tail.length - end };
}

/** Whether `bytes` (read at the candidate's directoryOffset) start with a central header. */
export function zipCentralHeaderAt(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt32LE(0) === ZIP_SIGNATURE.centralHeader;
}

/** Bytes in front of the archive that shiftedZipFrontRefused needs: from here up to `prefix`. */
export function shiftedZipFrontStart(prefix: number): number {
  return Math.max(0, prefix - LIMITS.zipShiftFrontScanBytes);
}

/**
 * Whether the bytes in front of the candidate archive (`front`: from shiftedZipFrontStart(prefix) to `prefix`; the
 * file's first four bytes in `fileHead`) make it a member's data rather than an archive after a stub:
 *  - the file starts with a local header: it is a ZIP itself, whose damaged or cut end must not be replaced by a ZIP
 *    stored in one of its members (a self-extractor's stub is a program, MZ…, never a local header);
 *  - a local header in front (its name and extra field ending at or before the archive's start) has data that starts
 *    exactly at the archive's start, or reaches past it: its compressed size covers the start, or is unknown (a
 *    streamed member, flag bit 3, or ZIP64's 0xFFFFFFFF) with no central header signature between its data's start and
 *    the archive's (an archive's own directory would end its members first: `cat stub a.zip b.zip`).
 *  - the file starts with any other ZIP record signature (a split archive's segment starts PK\7\8, an empty ZIP PK\5\6):
 *    a ZIP's piece, not a stub;
 *  - the scan did not reach the file's start (a stub longer than LIMITS.zipShiftFrontScanBytes): a member whose local
 *    header lies farther in front could hold the archive (a ZIP near the end of a large stored photo in a cut outer
 *    ZIP's segment: zip-shift-reads-inner-zip-of-member-past-front-scan).
 * A stub holding the four bytes PK\3\4 by chance, or longer than the scan, may thus be refused: the archive then fails
 * unread (absent), never read wrong.
 */
export function shiftedZipFrontRefused(fileHead: Buffer, front: Buffer, prefix: number): boolean {
  if (fileHead.length >= 4 && (Object.values(ZIP_SIGNATURE) as number[]).includes(fileHead.readUInt32LE(0))) return true;
  const frontOffset = prefix - front.length;
  if (frontOffset > 0) return true;
  // One search, not one per streamed header (a front packed with them would rescan it each time: quadratic,
  // zip-shift-front-scan-quadratic-on-packed-headers): a central header after a member's data start is one at or after the last.
  const lastCentral = front.lastIndexOf(CENTRAL_HEADER_SIGNATURE_BYTES);
  for (let at = front.indexOf(LOCAL_HEADER_SIGNATURE_BYTES); at >= 0; at = front.indexOf(LOCAL_HEADER_SIGNATURE_BYTES, at + 1)) {
    if (at + ZIP_LOCAL_HEADER_BYTES > front.length) break;
    const dataStart = at + ZIP_LOCAL_HEADER_BYTES + front.readUInt16LE(at + 26) + front.readUInt16LE(at + 28);
    if (dataStart > front.length) continue;
    if (dataStart === front.length) return true;
    const flags = front.readUInt16LE(at + 6);
    const compressed = front.readUInt32LE(at + 18);
    if ((flags & 0x0008) !== 0 || compressed === 0xffffffff) {
      if (lastCentral < dataStart) return true;
    } else if (frontOffset + dataStart + compressed > prefix) {
      return true;
    }
  }
  return false;
}
