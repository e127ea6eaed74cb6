import {
  shiftedZipEndInTail,
  shiftedZipFrontRefused,
  shiftedZipFrontStart,
  ZIP64_END_RECORD_BYTES,
  ZIP64_LOCATOR_BYTES,
  ZIP_END_RECORD_BYTES,
  ZIP_SIGNATURE,
  zipCentralHeaderAt,
  type ContentFinding,
} from '@exhibit/core';

/**
 * Files that are two things at once. Pure functions over bytes already read:
 * the tail of a file (a ZIP's end-of-central-directory record must end it) and
 * a whole image in memory (where the image's own structure ends).
 */

const EOCD_SIGNATURE = ZIP_SIGNATURE.endRecord;
const EOCD_BYTES = ZIP_END_RECORD_BYTES;
const MAX_ZIP_COMMENT_BYTES = 0xffff;

export interface ZipDirectory {
  /** Where the end-of-central-directory record starts in the file. */
  eocdOffset: number;
  entries: number;
  /**
   * Where the archive starts if its offsets are relative to its own start
   * (a ZIP concatenated to another file); 0 when they already count from the
   * file's start; null when the record's numbers do not fit (ZIP64, damaged).
   */
  archiveStart: number | null;
  /**
   * The central directory's place and length as this record gives them (offset
   * counted from the archive's start); null when a ZIP64 record holds them or
   * the record's numbers are 0xFFFF/0xFFFFFFFF.
   */
  centralDirectory: { offset: number; size: number } | null;
  /** Bytes after the record and its comment (zipDirectoryBeforeTrailingBytes); absent when the record ends the file. */
  trailingBytes?: number;
}

/**
 * The ZIP directory record that ends the file, if there is one. `tail` holds
 * the file's bytes from `tailOffset` to its end (`size`). The record is taken
 * only if its comment length brings it exactly to the end of the file, as a
 * ZIP reader requires, so a stray "PK\5\6" inside other data is not enough.
 */
export function zipDirectoryAtEnd(tail: Buffer, tailOffset: number, size: number): ZipDirectory | null {
  if (tailOffset + tail.length !== size || tail.length < EOCD_BYTES) return null;
  const lowest = Math.max(0, tail.length - EOCD_BYTES - MAX_ZIP_COMMENT_BYTES);
  for (let i = tail.length - EOCD_BYTES; i >= lowest; i--) {
    if (tail.readUInt32LE(i) !== EOCD_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(i + 20);
    if (i + EOCD_BYTES + commentLength !== tail.length) continue;
    const eocdOffset = tailOffset + i;
    // ZIP64 end records before this one: writers add them whenever a count or size might not fit
    // (Info-ZIP writing to a pipe, Python past 65,535 entries), with real values here or with
    // 0xFFFF/0xFFFFFFFF. The central directory then ends at the ZIP64 record, not at this one.
    const zip64 = zip64EndRecord(tail, i);
    if (zip64) {
      const start = tailOffset + zip64.at - zip64.recordedOffset;
      return { eocdOffset, entries: zip64.entries, archiveStart: start < 0 ? null : start, centralDirectory: null };
    }
    const entries = tail.readUInt16LE(i + 10);
    // A locator whose ZIP64 record is not where writers put it (extensible data, or elsewhere): the directory
    // ends at that record, wherever it is, so this record's offsets cannot place the archive.
    if (zip64LocatorAt(tail, i)) return { eocdOffset, entries, archiveStart: null, centralDirectory: null };
    const cdSize = tail.readUInt32LE(i + 12);
    const cdOffset = tail.readUInt32LE(i + 16);
    const unknown = entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
    const start = eocdOffset - cdSize - cdOffset;
    return { eocdOffset, entries, archiveStart: unknown || start < 0 ? null : start, centralDirectory: unknown ? null : { offset: cdOffset, size: cdSize } };
  }
  return null;
}

/**
 * A ZIP directory record that bytes follow (an appended signature, junk: a self-extractor as `cat stub a.zip;
 * sign` makes it, offsets not adjusted), when none ends the file: the embedded-archive finding only, never the
 * file's type (a cpio, a package format, any container may end in a ZIP and bytes of its own:
 * cpio-ending-in-zip-identified-as-zip). The checks are the ZIP reader's, shared through @exhibit/core
 * (zip-shifted-end.ts), so that no finding tells of an archive the unpack refuses
 * (identify-zip64-without-directory-disagrees-with-unpack): the last record signature in `tail`, no ZIP record
 * signature after it, its directory (or ZIP64 end record) ending where it starts and starting with a central header,
 * bytes in front that its offsets do not count (no more than LIMITS.zipShiftFrontScanBytes), and neither a file
 * starting with a ZIP record signature nor a local header in front whose data reaches the archive's start (a ZIP inside a member of a cut outer ZIP). `read` serves the few
 * bytes outside `tail`: the central header's signature, the file's first 4 bytes and up to
 * LIMITS.zipShiftFrontScanBytes in front of the archive.
 */
export async function zipDirectoryBeforeTrailingBytes(
  tail: Buffer,
  tailOffset: number,
  size: number,
  read: (offset: number, length: number) => Promise<Buffer>,
): Promise<ZipDirectory | null> {
  const candidate = shiftedZipEndInTail(tail, tailOffset, size);
  if (candidate === null) return null;
  if (!zipCentralHeaderAt(await read(candidate.directoryOffset, 4))) return null;
  const frontStart = shiftedZipFrontStart(candidate.prefix);
  const front = await read(frontStart, candidate.prefix - frontStart);
  if (front.length !== candidate.prefix - frontStart) return null;
  if (shiftedZipFrontRefused(await read(0, 4), front, candidate.prefix)) return null;
  const { eocdOffset, entries, prefix, directoryOffset, directorySize, trailingBytes } = candidate;
  return { eocdOffset, entries, archiveStart: prefix, centralDirectory: { offset: directoryOffset - prefix, size: directorySize }, trailingBytes };
}

const ZIP64_LOCATOR_SIGNATURE = ZIP_SIGNATURE.zip64Locator;
const ZIP64_RECORD_SIGNATURE = ZIP_SIGNATURE.zip64EndRecord;
/** A version-1 ZIP64 end record without extensible data (what writers write): 56 bytes, its size field 44. */
const ZIP64_RECORD_BYTES = ZIP64_END_RECORD_BYTES;

/** A ZIP64 end-of-central-directory locator right before the end record at `at`. */
function zip64LocatorAt(tail: Buffer, at: number): boolean {
  return at >= ZIP64_LOCATOR_BYTES && tail.readUInt32LE(at - ZIP64_LOCATOR_BYTES) === ZIP64_LOCATOR_SIGNATURE;
}

/**
 * The ZIP64 end record that a locator right before the end record at `at`
 * points to, when it lies just before the locator: where it is in `tail`,
 * the offset the locator records for it (they differ by the bytes in front of
 * the archive) and the entry count. Null when there is no locator, or the
 * record is not where a writer puts it (the caller then cannot place the archive).
 */
function zip64EndRecord(tail: Buffer, at: number): { at: number; recordedOffset: number; entries: number } | null {
  const locator = at - ZIP64_LOCATOR_BYTES;
  const record = locator - ZIP64_RECORD_BYTES;
  if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR_SIGNATURE) return null;
  if (record < 0 || tail.readUInt32LE(record) !== ZIP64_RECORD_SIGNATURE || tail.readBigUInt64LE(record + 4) !== 44n) return null;
  const recordedOffset = Number(tail.readBigUInt64LE(locator + 8));
  const entries = Number(tail.readBigUInt64LE(record + 32));
  if (!Number.isSafeInteger(recordedOffset) || !Number.isSafeInteger(entries)) return null;
  return { at: record, recordedOffset, entries };
}

/** Types whose own format is a ZIP (an archive at the end is what they are). */
const ZIP_BASED = new Set([
  'zip', 'jar', 'apk', 'xpi', 'docx', 'docm', 'dotx', 'dotm', 'xlsx', 'xlsm', 'xltx', 'xltm', 'pptx', 'pptm', 'potx', 'potm',
  'ppsx', 'ppsm', 'odt', 'ods', 'odp', 'odg', 'ott', 'ots', 'otp', 'otg', 'epub', 'vsdx', '3mf', 'kmz', 'ipa', 'aar', 'whl',
]);

export function isZipBased(detectedExt: string | null, mime: string | null): boolean {
  return (detectedExt !== null && ZIP_BASED.has(detectedExt)) || mime === 'application/zip';
}

/** The finding for a ZIP directory at the end of a file that is not itself a ZIP. */
export function embeddedArchiveFinding(zip: ZipDirectory, detectedExt: string | null): ContentFinding {
  const what = detectedExt ? `a .${detectedExt} file` : 'a file of unknown type';
  const where =
    zip.archiveStart === null
      ? 'its start could not be computed from the directory'
      : zip.archiveStart === 0
        ? 'its offsets count from the start of the file'
        : `it starts at byte ${zip.archiveStart}`;
  if (zip.trailingBytes !== undefined) {
    return {
      flag: 'embedded-archive',
      detail: `a ZIP archive (${zip.entries} entries) is in ${what}, ${zip.trailingBytes} bytes after it: its directory record is at byte ${zip.eocdOffset}, ${where}`,
    };
  }
  return {
    flag: 'embedded-archive',
    detail: `a ZIP archive (${zip.entries} entries) ends ${what}: its directory record is at byte ${zip.eocdOffset}, ${where}`,
  };
}

/**
 * Steps (segments, chunks, blocks, stuffed bytes) the walk to an image's end
 * may take. Real files need a few thousand (a 12-MP JPEG ~20 000, an animated
 * GIF ~40 000); a crafted one of tiny blocks could need hundreds of millions,
 * on the thread that serves the queues. Past this the end is "not found".
 */
export const MAX_IMAGE_END_STEPS = 1_000_000;

export interface ImageEnd {
  format: 'jpeg' | 'png' | 'gif';
  /** Offset just past the image's last byte (EOI, IEND chunk, GIF trailer); null if the image never ends (truncated) or the walk ran out of steps. */
  end: number | null;
}

/**
 * Where a JPEG, PNG or GIF held in memory ends by its own structure. Walks
 * segments/chunks/blocks by their lengths (never trusting one past the
 * buffer), so the cost is one pass over the bytes at most. Null for other
 * formats or when the start is not that format.
 */
export function imageEnd(bytes: Buffer): ImageEnd | null {
  const budget = { left: MAX_IMAGE_END_STEPS };
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { format: 'jpeg', end: jpegWithMpfEnd(bytes, budget) };
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return { format: 'png', end: pngEnd(bytes, budget) };
  if (bytes.length >= 13 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return { format: 'gif', end: gifEnd(bytes, budget) };
  return null;
}

/** Most images stored after a JPEG's end that its MPF (APP2 "MPF") segment declares, e.g. gain maps and depth maps. */
const MAX_MPF_IMAGES = 16;

/**
 * A JPEG's end, past the further images it declares in an MPF segment
 * (CIPA DC-007): phones store gain maps and depth maps after the primary
 * image's EOI, and those are part of the file as written, not appended data.
 */
type Budget = { left: number };

function jpegWithMpfEnd(b: Buffer, budget: Budget): number | null {
  const first = jpegEnd(b, 0, budget);
  if (first === null || !first.mpf) return first?.end ?? null;
  let end = first.end;
  for (let i = 0; i < MAX_MPF_IMAGES && end + 3 <= b.length && b[end] === 0xff && b[end + 1] === 0xd8 && b[end + 2] === 0xff; i++) {
    const next = jpegEnd(b, end, budget);
    if (next === null) return end;
    end = next.end;
  }
  return end;
}

function jpegEnd(b: Buffer, start: number, budget: Budget): { end: number; mpf: boolean } | null {
  let mpf = false;
  let o = start + 2;
  while (o + 2 <= b.length) {
    if (budget.left-- <= 0) return null;
    if (b[o] !== 0xff) return null;
    const marker = b[o + 1]!;
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    if (marker === 0xd9) return { end: o + 2, mpf };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      o += 2;
      continue;
    }
    if (o + 4 > b.length) return null;
    const length = b.readUInt16BE(o + 2);
    if (length < 2) return null;
    if (marker === 0xe2 && o + 8 <= b.length && b.toString('latin1', o + 4, o + 8) === 'MPF\0') mpf = true;
    o += 2 + length;
    if (marker === 0xda) {
      // Entropy-coded data: runs to the next marker that is not a stuffed 0xFF00 or a restart
      // marker. indexOf (native, memchr-fast) keeps a large photo's scan off the JS loop's back.
      for (;;) {
        if (budget.left-- <= 0) return null;
        o = b.indexOf(0xff, o);
        if (o < 0 || o + 1 >= b.length) return null;
        const next = b[o + 1]!;
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
        o += next === 0xff ? 1 : 2;
      }
    }
  }
  return null;
}

function pngEnd(b: Buffer, budget: Budget): number | null {
  let o = 8;
  while (o + 12 <= b.length) {
    if (budget.left-- <= 0) return null;
    const length = b.readUInt32BE(o);
    const type = b.toString('latin1', o + 4, o + 8);
    const next = o + 12 + length;
    if (next > b.length) return null;
    if (type === 'IEND') return next;
    o = next;
  }
  return null;
}

function gifEnd(b: Buffer, budget: Budget): number | null {
  let o = 13;
  const flags = b[10]!;
  if (flags & 0x80) o += 3 * (1 << ((flags & 0x07) + 1));
  const skipSubBlocks = (at: number): number | null => {
    let p = at;
    while (p < b.length) {
      if (budget.left-- <= 0) return null;
      const n = b[p]!;
      p += 1 + n;
      if (n === 0) return p;
    }
    return null;
  };
  while (o < b.length) {
    if (budget.left-- <= 0) return null;
    const introducer = b[o]!;
    if (introducer === 0x3b) return o + 1;
    if (introducer === 0x21) {
      const after = skipSubBlocks(o + 2);
      if (after === null) return null;
      o = after;
    } else if (introducer === 0x2c) {
      if (o + 10 > b.length) return null;
      const local = b[o + 9]!;
      let p = o + 10;
      if (local & 0x80) p += 3 * (1 << ((local & 0x07) + 1));
      const after = skipSubBlocks(p + 1); // LZW minimum code size, then data sub-blocks
      if (after === null) return null;
      o = after;
    } else {
      return null;
    }
  }
  return null;
}

/** The finding for bytes after a complete image, or null if it ends at the end of the data (or only padding follows). */
export function trailingDataFinding(image: ImageEnd, bytes: Buffer): ContentFinding | null {
  const size = bytes.length;
  if (image.end === null || image.end >= size) return null;
  // Zero or 0xFF padding after the end (some cameras and card writers pad to a block) hides nothing.
  let padding = true;
  for (let i = image.end; i < size && padding; i++) padding = bytes[i] === 0x00 || bytes[i] === 0xff;
  if (padding) return null;
  const marker = image.format === 'jpeg' ? 'end-of-image marker' : image.format === 'png' ? 'IEND chunk' : 'trailer';
  return {
    flag: 'trailing-data',
    detail: `${size - image.end} bytes follow the ${image.format.toUpperCase()} ${marker} at byte ${image.end}`,
  };
}
