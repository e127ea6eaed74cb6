import type { RandomAccessSource } from '@exhibit/core';

/**
 * Formats file-type does not know that phones and recorders write, each by
 * its signature and the structure right after it (never the signature alone):
 *
 * - Apple binary property lists (`bplist00`): iOS preferences, app state,
 *   Safari and Messages data; the trailer at the end of the file must
 *   describe an offset table inside the file.
 * - Core Audio Format (`caff`): iMessage audio messages, iOS recordings; the
 *   first chunk must be the `desc` chunk the format requires.
 * - RF64 / BW64 WAVE (EBU Tech 3306, ITU-R BS.2088): long field recordings
 *   that outgrow RIFF's 4 GiB; the first chunk must be `ds64`.
 * - SQLite write-ahead logs (`-wal`): the recent, not yet checkpointed pages
 *   of a phone's message and call databases; the 32-byte header's own
 *   checksum must hold. No registry names a MIME type for them (libmagic
 *   prints application/octet-stream, exiftool does not know them); the
 *   `x-` type here says what the bytes are and nothing more.
 * - An empty Unix `ar` archive: its 8-byte magic and nothing else.
 *
 * MIME types are exiftool's (the second oracle) where it names one.
 * Bounded: the head already read, plus one 32-byte read of a plist's trailer and, for
 * pdfAfterPrefix, one read of the last PDF_EOF_WINDOW bytes.
 */

export interface MoreSignatureType {
  ext: string;
  mime: string;
}

export async function moreSignatures(source: RandomAccessSource, head: Buffer, options: { abortSignal?: AbortSignal } = {}): Promise<MoreSignatureType | null> {
  if (head.length >= 16 && head.toString('latin1', 0, 4) === 'caff' && head.readUInt16BE(4) === 1 && head.toString('latin1', 8, 12) === 'desc') {
    return { ext: 'caf', mime: 'audio/x-caf' };
  }
  if (head.length >= 16 && /^(RF64|BW64)$/.test(head.toString('latin1', 0, 4)) && head.toString('latin1', 8, 16) === 'WAVEds64') {
    return { ext: 'wav', mime: 'audio/wav' };
  }
  // An empty `ar` archive (a glibc stub library such as libanl.a) is its 8-byte magic alone; file-type reads
  // 13 bytes past it to tell a .deb and gives up on the empty one.
  if (source.size === 8 && head.toString('latin1', 0, 8) === '!<arch>\n') return { ext: 'ar', mime: 'application/x-unix-archive' };
  if (sqliteWalHeader(head)) return { ext: 'sqlite-wal', mime: 'application/x-sqlite3-wal' };
  if (head.length >= 8 && head.toString('latin1', 0, 8) === 'bplist00' && (await binaryPlistTrailer(source, options))) {
    return { ext: 'plist', mime: 'application/x-plist' };
  }
  return null;
}

/**
 * A SQLite WAL header (sqlite.org/fileformat2.html, "WAL File Format"): magic
 * 0x377f0682/3 (its last bit the checksum byte order), format version
 * 3007000, a power-of-two page size of 512-65536, and checksum-1/2 over the
 * first 24 bytes as SQLite computes them.
 */
export function sqliteWalHeader(head: Buffer): boolean {
  if (head.length < 32) return false;
  const magic = head.readUInt32BE(0);
  if ((magic !== 0x377f0682 && magic !== 0x377f0683) || head.readUInt32BE(4) !== 3007000) return false;
  const pageSize = head.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return false;
  const bigEndian = (magic & 1) === 1;
  let s0 = 0;
  let s1 = 0;
  for (let i = 0; i < 24; i += 8) {
    const x0 = bigEndian ? head.readUInt32BE(i) : head.readUInt32LE(i);
    const x1 = bigEndian ? head.readUInt32BE(i + 4) : head.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return head.readUInt32BE(24) === s0 && head.readUInt32BE(28) === s1;
}

const BPLIST_HEADER_BYTES = 8;
const BPLIST_TRAILER_BYTES = 32;

/**
 * The 32-byte trailer of a `bplist00` (CFBinaryPList.c): offset and
 * object-reference sizes of 1-8 bytes, at least one object, a top object
 * among them, and an offset table that lies between the header and the
 * trailer and fits there.
 */
async function binaryPlistTrailer(source: RandomAccessSource, options: { abortSignal?: AbortSignal }): Promise<boolean> {
  if (source.size < BPLIST_HEADER_BYTES + 1 + BPLIST_TRAILER_BYTES) return false;
  const t = await source.read(source.size - BPLIST_TRAILER_BYTES, BPLIST_TRAILER_BYTES, options);
  if (t.length < BPLIST_TRAILER_BYTES) return false;
  const offsetSize = t[6]!;
  const refSize = t[7]!;
  const objects = t.readBigUInt64BE(8);
  const top = t.readBigUInt64BE(16);
  const tableOffset = t.readBigUInt64BE(24);
  if (offsetSize < 1 || offsetSize > 8 || refSize < 1 || refSize > 8 || objects < 1n || top >= objects) return false;
  const trailerAt = BigInt(source.size - BPLIST_TRAILER_BYTES);
  return tableOffset >= BigInt(BPLIST_HEADER_BYTES + 1) && tableOffset + objects * BigInt(offsetSize) <= trailerAt;
}

/** How far into a file a PDF reader looks for the `%PDF-` header (Acrobat's rule, PDF 32000-1 annex H). */
export const PDF_HEADER_WINDOW = 1024;
/** How far from the end a reader looks for `%%EOF`. */
export const PDF_EOF_WINDOW = 1024;

/**
 * A PDF with bytes in front of its header (a mail or download wrapper, a
 * print spooler's preamble, a crafted prefix): `%PDF-` and a version within
 * the first PDF_HEADER_WINDOW bytes, where readers still open it, and
 * `%%EOF` within the last PDF_EOF_WINDOW bytes. file-type only looks at byte 0,
 * and the text check called such a file plain text.
 */
export async function pdfAfterPrefix(source: RandomAccessSource, head: Buffer, options: { abortSignal?: AbortSignal } = {}): Promise<{ ext: 'pdf'; mime: 'application/pdf' } | null> {
  const header = head.subarray(0, PDF_HEADER_WINDOW + 8).toString('latin1').search(/%PDF-\d\.\d/);
  if (header < 1 || header >= PDF_HEADER_WINDOW) return null;
  const tailOffset = Math.max(0, source.size - PDF_EOF_WINDOW);
  const tail = head.length === source.size ? head.subarray(tailOffset) : await source.read(tailOffset, source.size - tailOffset, options);
  return tail.includes('%%EOF', 0, 'latin1') ? { ext: 'pdf', mime: 'application/pdf' } : null;
}
