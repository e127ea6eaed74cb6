/**
 * Named hard limits. Evidence is hostile: every size, count and depth read
 * from a file is checked against one of these before it is trusted.
 */
export const LIMITS = {
  /** Archive members per archive before unpacking stops with a recorded reason. */
  maxArchiveEntries: 200_000,
  /** Bytes expanded from one archive (all members, not counting nested archives). */
  maxArchiveExpandedBytes: 256 * 1024 ** 3,
  /**
   * Expansion budget of one evidence item, across every archive in it at every
   * nesting depth: each counter may reach budgetFactor × the evidence item's
   * uploaded bytes, but never less than its floor nor more than its ceiling.
   */
  expansionBudgetFactor: 50,
  /** Bytes read out of archive members (expanded), floor and ceiling. */
  minBudgetExpandedBytes: 256 * 1024 ** 2,
  maxBudgetExpandedBytes: 2 * 1024 ** 4,
  /** Bytes written to derived/ as copied members, floor and ceiling (members read in place write nothing). */
  minBudgetWrittenBytes: 256 * 1024 ** 2,
  maxBudgetWrittenBytes: 2 * 1024 ** 4,
  /** Archive entries recorded, floor and ceiling (budgetFactor applies per KiB of evidence). */
  minBudgetEntries: 100_000,
  maxBudgetEntries: 5_000_000,
  /** Wall-clock milliseconds spent unpacking, floor and ceiling (budgetFactor applies per MiB of evidence). */
  minBudgetUnpackMs: 30 * 60_000,
  maxBudgetUnpackMs: 24 * 3600_000,
  /** Longest single stage invocation; the runtime aborts it then (host.json functionTimeout is 30 min). */
  stageDeadlineMs: 25 * 60_000,
  /** After the deadline, how long a stage may take to wind down before its message is released anyway. */
  stageDeadlineGraceMs: 30_000,
  /** Bytes of one archive member. */
  maxMemberBytes: 64 * 1024 ** 3,
  /** Expanded/compressed ratio of one member beyond which it is treated as a bomb. */
  maxCompressionRatio: 1000,
  /** Ratio only applies above this expanded size, so tiny highly compressible files pass. */
  compressionRatioMinBytes: 1024 * 1024,
  /** Archives inside archives: the top-level evidence is depth 0. */
  maxNestingDepth: 4,
  /** Longest archive member name kept (bytes of UTF-8). */
  maxEntryNameBytes: 4096,
  /** Members at most this size are buffered in memory while hashing; larger ones are staged. */
  maxBufferedMemberBytes: 8 * 1024 * 1024,
  /** Pixels sharp may decode for one image. */
  maxImagePixels: 268_402_689,
  /**
   * Bytes read from the start of a file for type identification. 64 KiB, not
   * file-type's 4 KiB minimum: camera HEIF ftyp/meta boxes and TIFF headers sit
   * early, but signatures after a prefix (and TIFF IFDs) need more; a format
   * that needs bytes further in (a TIFF's first directory) reads them itself.
   */
  identifyHeadBytes: 64 * 1024,
  /** Bytes read from the end of a file to find a ZIP directory appended to it (EOCD + the longest comment). */
  identifyTailBytes: 64 * 1024 + 22,
  /**
   * An image at most this large is read from storage whole, once, in the
   * analyse stage, and metadata and thumbnail read that memory; a larger one
   * is read per range. Bounds memory per analyse at this (the thumbnailer
   * holds the whole image anyway); concurrency × this is the most held.
   */
  analyseWholeReadBytes: 64 * 1024 * 1024,
  /** Bytes exifr may read from an image before giving up on metadata. */
  maxMetadataBytes: 16 * 1024 * 1024,
  /** Longest ffprobe/ffmpeg run before it is killed. */
  mediaToolTimeoutMs: 120_000,
  /** Longest single-message body, below the Storage Queue 64 KiB limit after base64. */
  maxMessageBytes: 45 * 1024,
  /** Deliveries before a message is dead-lettered (matches host.json / Bicep). */
  maxDeliveryCount: 5,
  /** Thumbnail edge in pixels. */
  thumbnailEdgePx: 320,
  /** Frames on a video contact sheet. */
  contactSheetFrames: 9,
} as const;

export type Limits = typeof LIMITS;
