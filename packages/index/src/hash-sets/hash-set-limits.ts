/**
 * Named limits for reading hash-set files. These files come from examiners,
 * not from evidence, but they travel between agencies and tools: a line or a
 * JSON entry beyond these sizes is reported as malformed, never buffered.
 */
export const HASH_SET_LIMITS = {
  /** Longest text line (hashdeep and checksum lines carry a path). */
  maxLineBytes: 64 * 1024,
  /** Largest single VICS `value` entry, serialised. */
  maxJsonEntryBytes: 1024 * 1024,
  /** Most rows one set may hold (NSRL RDS modern is a few hundred million). */
  maxRows: 2_000_000_000,
  /** Row errors kept with their detail; the rest are only counted. */
  maxErrorsListed: 1000,
  /** Bytes read from the start of a file to decide its format. */
  detectBytes: 64 * 1024,
} as const;
