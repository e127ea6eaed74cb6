import type { Readable } from 'node:stream';
import { ExhibitError, errorMessage, type ArchiveStopReason, type ArchiveTimes, type EntryKind, type FileFlag } from '@exhibit/core';

/** 'disk-image': raw, EWF or VHD, read through disk/disk-image.reader.ts. */
export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz' | 'disk-image';

/**
 * One archive member as recorded, converted from the library's view into ours.
 * Nothing here is trusted: sizes are what the archive claims, names are hostile.
 */
export interface ArchiveEntry {
  /** Position in the archive (central directory order for ZIP, header order for TAR), from 0. */
  index: number;
  /** The name exactly as recorded, decoded (see entry-name.ts), at most LIMITS.maxEntryNameBytes. */
  recordedName: string;
  /** Normalised, relative, never escaping; what people see after `!/`. */
  displayPath: string;
  /** Last segment of displayPath. */
  name: string;
  /** Lower case, without the dot; null when there is none. */
  extension: string | null;
  kind: EntryKind;
  /** Uncompressed size the archive declares; flowing bytes are counted separately. */
  declaredSize: number | null;
  /** Stored size the archive declares (ZIP only). */
  compressedSize: number | null;
  times: ArchiveTimes;
  flags: FileFlag[];
  /** Index of the first entry with the same normalised path, when this one repeats it. */
  duplicateOf?: number;
  /** Recorded target of a symbolic or hard link; never followed. */
  linkTarget?: string;
  encrypted: boolean;
  /**
   * TAR.GZ: every entry before this index has its bytes in gzip members whose CRC-32 and size checked out; an entry
   * from it on may be made of the gzip member still being read, and is verified only when that member's trailer is
   * (a later entry's checkedBefore passes it, or entries() ends without error). Absent: nothing pending (ZIP, TAR).
   */
  checkedBefore?: number;
  /**
   * The member's bytes (kind 'file' only). Stream errors are ExhibitErrors:
   * 'corrupt-file' (bad CRC, bad deflate, truncated), 'encrypted',
   * 'unsupported-format', 'limit-exceeded', or a retryable storage fault.
   * Destroying the stream early is safe; the reader skips what is left.
   */
  open(): Promise<Readable>;
  /**
   * Set by open() for a ZIP member stored uncompressed: where its bytes lie in
   * the archive. Trust it only once the opened stream ended with exactly
   * `length` bytes and a good CRC; then the member can be read in place.
   */
  storedSpan?: { offset: number; length: number };
}

export interface ArchiveReader {
  readonly format: ArchiveFormat;
  /**
   * Entries in archive order. Consume (or abandon) each entry's stream before
   * asking for the next: TAR can only be read front to back. Errors are
   * ExhibitErrors: 'corrupt-file' for a broken archive, 'limit-exceeded' for a
   * decompression bomb, retryable codes for storage faults.
   */
  entries(options?: { abortSignal?: AbortSignal }): AsyncIterable<ArchiveEntry>;
  close(): Promise<void>;
  /** Findings about the archive itself (ZIP: bytes before its first member or after its end record, known on opening; TAR: bytes after its end-of-archive marker, known once entries() has ended). */
  readonly findings?: readonly FileFlag[];
  /** Entries the archive declares before any is read (a ZIP's end record, or the central headers its directory holds when they are more); absent when it does not say. */
  readonly declaredEntries?: number;
}

/** Library errors become evidence findings; our own errors (storage faults, limits) pass through. */
export function asArchiveError(err: unknown, what: string, code: 'corrupt-file' | 'unsupported-format' = 'corrupt-file'): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError(code, `${what}: ${errorMessage(err)}`, { cause: err });
}

/** The archive itself is over an archive-wide limit: unpacking stops, members so far stay. */
export function archiveLimitError(message: string): ExhibitError {
  return new ExhibitError('limit-exceeded', message, { details: { scope: 'archive' } });
}

export function isArchiveLimitError(err: unknown): boolean {
  return err instanceof ExhibitError && err.code === 'limit-exceeded' && err.details?.['scope'] === 'archive';
}

/** Why an archive error stopped the unpack: the reader's own word (details.reason) or one read from the code. */
export function stopReasonOf(err: ExhibitError): ArchiveStopReason {
  const stated = err.details?.['reason'];
  if (typeof stated === 'string' && (STOP_REASONS as readonly string[]).includes(stated)) return stated as ArchiveStopReason;
  switch (err.code) {
    case 'encrypted':
      return 'encrypted';
    case 'unsupported-format':
      return 'unsupported';
    case 'limit-exceeded':
      return 'limit-exceeded';
    default:
      return 'corrupt';
  }
}

/** Whether `value` names a stop reason (a stop read back from stored text is checked so: it may be torn or foreign). */
export function isArchiveStopReason(value: string): value is ArchiveStopReason {
  return (STOP_REASONS as readonly string[]).includes(value);
}

const STOP_REASONS: readonly ArchiveStopReason[] = [
  'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
  'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered', 'stuck', 'evidence-changed', 'hash-state-unusable',
];

export function abortError(signal: AbortSignal | undefined): ExhibitError {
  return new ExhibitError('aborted', 'unpack aborted', { cause: signal?.reason });
}

/**
 * Entries taken between two turns of the event loop. Parsing happens in the
 * parser threads (archive.pool.ts, disk-image.pool.ts), but taking an entry
 * on the main thread is work too (names, duplicates, the unpack stage's
 * bookkeeping), and a run of entries answered in promise continuations only
 * would hold queues and the API for as long as it takes. Every this many
 * entries the main-thread side of a reader lets the loop turn.
 */
export const ENTRIES_PER_TURN = 64;

/** Lets the event loop turn (timers, I/O callbacks) before going on. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
