import { ExhibitError, wireErrorDetails, type ArchiveTimes, type EntryKind, type ExhibitErrorCode, type FileFlag } from '@exhibit/core';

/**
 * What crosses between the ZIP and TAR readers' main-thread side
 * (zip.reader.ts, tar.reader.ts) and the archive parser threads
 * (archive.worker.ts running zip.parser.ts and tar.parser.ts). Plain data
 * only: the thread never sees the blob store, the main thread never sees
 * yauzl, tar-stream or zlib.
 */

/** Largest read a thread may ask for (a yauzl block, a piece of a member's compressed data). */
export const ARCHIVE_READ_BYTES = 1024 * 1024;
/** Bytes of a member's data per chunk handed to the main thread (at most this plus one decoder chunk). */
export const ARCHIVE_CHUNK_BYTES = 1024 * 1024;

/** Findings about a ZIP as a whole, known once it is open. */
export type ZipArchiveFinding = 'archive-prefix' | 'zip-offsets-shifted' | 'archive-trailing-data' | 'end-record-in-comment' | 'zip-chain' | 'zip-chain-incomplete';

/** 'zip-open': the archive's bytes (the span's, when it lies inside a larger blob). */
export interface ZipOpenInput {
  size: number;
  /** Central directory entries read ahead for the overlap check. */
  maxEntries: number;
}

/** What 'zip-open' found: where the archive really lies within its bytes, and what it declares. */
export interface ZipFacts {
  /** Bytes before the archive that its offsets do not count (prepended data). */
  prefix: number;
  /** The archive's length from `prefix` (trailing bytes after its end record cut off). */
  size: number;
  findings: ZipArchiveFinding[];
  /** Entries the end record declares, or the central headers read when the directory holds more. */
  declared: number;
  /** Where the real end record's comment length lies (read as 0) when its comment hides another end record. */
  commentLengthAt: number | null;
  /** The end record's comment runs past the end of the file: every member is listed, then the archive stops truncated. */
  commentCut: boolean;
}

/** 'zip-list': lists the archive found by 'zip-open'. */
export interface ZipListInput {
  prefix: number;
  size: number;
  commentLengthAt: number | null;
  maxEntryNameBytes: number;
}

/** 'zip-member': one member, opened after the listing moved past it. */
export interface ZipMemberInput {
  prefix: number;
  size: number;
  commentLengthAt: number | null;
  /** The entry's position in the central directory. */
  index: number;
}

/** 'tar-list': the archive's bytes come as a stream ('feed'). */
export interface TarListInput {
  gzip: boolean;
  maxEntryNameBytes: number;
  maxCompressionRatio: number;
  compressionRatioMinBytes: number;
  /** Holes one GNU sparse member may expand to (LIMITS.maxSparseHoleBytes). */
  maxSparseHoleBytes: number;
}

/** What a 'tar-list' task found about the archive itself, known only once it was read to its end. */
export interface TarListResult {
  findings: Array<'archive-trailing-data'>;
}

/** An archive entry as described in the thread; duplicates and `open` are the main thread's. */
export interface WireArchiveEntry {
  recordedName: string;
  displayPath: string;
  name: string;
  extension: string | null;
  kind: EntryKind;
  declaredSize: number | null;
  compressedSize: number | null;
  times: ArchiveTimes;
  flags: FileFlag[];
  linkTarget?: string;
  encrypted: boolean;
  /**
   * TAR.GZ: every entry before this index has its bytes in gzip members whose CRC-32 and size checked out; those
   * from it on may lie in the gzip member still being read, whose check is to come. Absent when no check is pending (no gzip).
   */
  checkedBefore?: number;
}

/** An ExhibitError as plain data: code, message and details (scope, reason, findings) intact. */
export interface WireArchiveError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Requests an archive parser thread makes of the main thread (the pool's `serve`), one at a time. */
export type ArchiveRequest =
  /** ZIP: bytes of the archive, relative to its start; answered with an ArrayBuffer. */
  | { t: 'read'; offset: number; length: number }
  /** TAR: the next piece of the archive's byte stream; answered with an ArrayBuffer, or null at its end. */
  | { t: 'feed' }
  /** The next entry: answered 'open' (send its bytes), 'next' or 'end'. */
  | { t: 'entry'; entry: WireArchiveEntry }
  /**
   * The opened member can be read: answered 'more' (send its first chunk),
   * 'next' (skip it) or 'end'. ZIP says whether its local header disagrees
   * with the central directory, and where a stored member's bytes lie.
   */
  | { t: 'opened'; headerMismatch?: boolean; storedSpan?: { offset: number; length: number } }
  /** A chunk of the opened member's data: answered 'more', 'next' (no more of it) or 'end'. */
  | { t: 'chunk'; bytes: ArrayBuffer; last: boolean }
  /** The opened member cannot be read (or opened): answered like a last chunk. */
  | { t: 'data-error'; error: WireArchiveError };

export type ArchiveAnswer = { op: 'open' } | { op: 'more' } | { op: 'next' } | { op: 'end' };

/** The error as it crosses the thread boundary: its details bounded by LIMITS.maxWireErrorDetailsBytes (wire-error-details.ts). */
export function toWireError(err: ExhibitError): WireArchiveError {
  const details = wireErrorDetails(err.details);
  return { code: err.code, message: err.message, ...(details ? { details } : {}) };
}

export function fromWireError(error: WireArchiveError): ExhibitError {
  return new ExhibitError(error.code as ExhibitErrorCode, error.message, error.details ? { details: error.details } : {});
}
