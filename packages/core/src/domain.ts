/** Domain types shared by every package. Plain data, JSON-safe. */

export interface EvidenceRef {
  caseId: string;
  evidenceId: string;
}

export interface BlobRef {
  container: string;
  name: string;
}

/**
 * Where a file's bytes are: a whole blob, or, with `offset`, the file's size
 * in bytes starting that far into the blob. The second is a member stored
 * uncompressed in a ZIP, read in place in the evidence blob instead of copied:
 * its bytes are the archive's bytes, so a copy would only double the storage.
 */
export interface ContentSource extends BlobRef {
  offset?: number;
}

/** Lowercase hex digests. */
export interface Hashes {
  md5: string;
  sha1: string;
  sha256: string;
}

/** What the examiner declared at acquisition (blob metadata or CLI options). */
export interface AcquisitionInfo {
  examiner?: string;
  exhibitRef?: string;
  description?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
}

export type FileKind = 'image' | 'video' | 'audio' | 'archive' | 'document' | 'other';

/**
 * MIME types identification gives disk images (docs/disk-images.md). A disk
 * image is kind 'archive': it is unpacked into its files like one. EWF 2,
 * L01 and VHDX are recognised so that unpack can record them as unsupported.
 */
export const DISK_IMAGE_MIMES = {
  ewf: 'application/x-ewf',
  ewf2: 'application/x-ewf2',
  lef: 'application/x-lef',
  vhd: 'application/x-vhd',
  vhdx: 'application/x-vhdx',
  raw: 'application/x-raw-disk-image',
} as const;

export function isDiskImageMime(mime: string | null | undefined): boolean {
  return mime !== null && mime !== undefined && (Object.values(DISK_IMAGE_MIMES) as string[]).includes(mime);
}

/** What an archive entry is; only 'file' entries have content. */
export type EntryKind =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'device'
  | 'fifo'
  | 'other';

// Where a file is in its chain (FileStage) and the names of the steps (StageName): lifecycle.ts.

export type UnpackState = 'n/a' | 'pending' | 'done' | 'failed';

export type IntegrityVerdict = 'pending' | 'verified' | 'mismatch' | 'no-reference' | 'failed';

/** A tool that produced a result, so the result can be reproduced. */
/** A PDQ perceptual hash (docs/pdq.md): frame 0 for a picture, the sampled frame's number for a video. */
export interface PdqFrameHash {
  frame: number;
  /** 64 lowercase hex digits. */
  hash: string;
  /** 0–100; under 50 the picture has too little structure for the hash to mean much. */
  quality: number;
  /**
   * A video's frame: the hashed frame's own presentation time, in milliseconds from the file's start
   * (not the seek time, which the frame may follow by a frame or a keyframe interval); absent for a
   * picture, and for a frame whose time ffmpeg did not report.
   */
  timeMs?: number;
}

export interface ToolVersion {
  name: string;
  version: string;
}

/**
 * A timestamp exactly as the source recorded it. `local` keeps the recorded
 * wall-clock text; `utc` is only set when the source also recorded an offset
 * (or is defined as UTC), so nothing is shifted silently.
 */
export interface RecordedTime {
  local: string;
  offsetMinutes: number | null;
  utc: string | null;
  source: string;
}

export interface GeoPoint {
  /** Signed decimal degrees, WGS84; south and west are negative. */
  lat: number;
  lon: number;
  altM?: number;
}

/**
 * Problems found while reading metadata. Each is also a file flag (a finding
 * on every occurrence of the content), with `detail` saying what exactly.
 * - metadata-partial: the parser reported errors; what it could read is kept.
 * - text-escaped: a text field held control or invalid bytes, shown as \xNN.
 * - size-mismatch: the size EXIF declares differs from the image's own header.
 * - taken-at-conflict: EXIF and XMP (or IPTC-IIM) record different capture times; for a video, its XMP and its QuickTime capture time.
 * - gps-null-island / gps-out-of-range: a recorded position that is not a
 *   location (0,0, or outside ±90/±180, or not a number); kept, never plotted.
 * - gps-void: a position recorded with EXIF GPSStatus V (measurement void): the
 *   receiver says it is no measurement (often the last fix, kept from before);
 *   kept, never plotted.
 */
export const METADATA_FLAGS = ['metadata-partial', 'text-escaped', 'size-mismatch', 'taken-at-conflict', 'gps-null-island', 'gps-out-of-range', 'gps-void'] as const;
export type MetadataFlag = (typeof METADATA_FLAGS)[number];

export interface MetadataFinding {
  flag: MetadataFlag;
  /** Deterministic text: the same file gives the same detail every run. */
  detail: string;
}

/** A GPS position as recorded that is not usable as a location. */
export interface RecordedGps {
  /** Signed decimal degrees as recorded; null when the value is not a number (e.g. 0/0). */
  lat: number | null;
  lon: number | null;
  altM?: number;
  flag: 'gps-null-island' | 'gps-out-of-range' | 'gps-void';
}

/** Normalised metadata for images, videos and audio. */
export interface MediaMetadata {
  /**
   * When the picture or video was captured, only from capture-time tags (never
   * a modification time); `source` names the tag, e.g. `EXIF:DateTimeOriginal`.
   */
  takenAt?: RecordedTime;
  /** Every capture time read, in order of precedence (takenAt is the first). */
  captureTimes?: RecordedTime[];
  /** When the file was last modified by software (EXIF ModifyDate, XMP ModifyDate): not a capture time. */
  modifiedAt?: RecordedTime;
  /** A usable location only: 0,0, out-of-range and void (GPSStatus V) positions are in gpsRecorded instead. */
  gps?: GeoPoint;
  gpsRecorded?: RecordedGps;
  make?: string;
  model?: string;
  software?: string;
  /** The image's real pixel size, from its own header (or the video stream), before orientation is applied. */
  width?: number;
  height?: number;
  /** The size EXIF declares (PixelXDimension / PixelYDimension); may differ from the real size. */
  declaredWidth?: number;
  declaredHeight?: number;
  orientation?: number;
  /** Text fields (e.g. 'make') whose control or invalid bytes were escaped as \xNN. */
  escapedFields?: string[];
  /** The parser's messages when it could read only part of the metadata. */
  partial?: string[];
  findings?: MetadataFinding[];
  durationSec?: number;
  /**
   * The video stream a contact sheet shows (the first that is not cover art), as the container
   * states it: where it starts, in seconds after the file's start, and how long it runs (its stated duration;
   * its frame count over its frame rate where longer by more than a frame, a track header may understate it, but never beyond the
   * file's stated duration after the stream's start: an edit list or a piped AVI's header overstates the count). It can
   * start later and end sooner than the file (a 1 s video track beside 30 s of audio, a cut
   * recording), so a video's frames are planned on it, not on durationSec.
   */
  videoStream?: { startSec?: number; durationSec?: number };
  /** The first audio stream as the container states it: its codec, samples per second and channel count (each only when stated and sane). */
  audioStream?: { codec?: string; sampleRate?: number; channels?: number };
  codecs?: string[];
  /** JSON-safe dump of every tag read, for display and reproduction. */
  raw: Record<string, unknown>;
}

/** Timestamps recorded by an archive for one member, as recorded. */
export interface ArchiveTimes {
  modified?: RecordedTime;
  accessed?: RecordedTime;
  changed?: RecordedTime;
  created?: RecordedTime;
  /** When the file system recorded the file's deletion (ext `dtime`); only deleted entries have it. */
  deleted?: RecordedTime;
}

/** Flags raised about a file or archive entry; each is a finding, not an error. */
export type FileFlag =
  | 'ext-mismatch'
  | 'path-traversal'
  | 'absolute-path'
  | 'odd-name'
  | 'duplicate-name'
  | 'link'
  | 'device'
  | 'encrypted'
  | 'limit-exceeded'
  | 'hash-mismatch'
  | 'exif-preview-thumbnail'
  | 'not-unpacked-depth'
  /** A ZIP member's local header disagrees with its central directory record (name, sizes, method, flags). */
  | 'header-mismatch'
  /** Bytes before a ZIP's first local header (a self-extractor stub, or something hidden there). */
  | 'archive-prefix'
  /**
   * A ZIP whose offsets do not count the bytes in front of it (a stub prepended without `zip -A`, or another ZIP):
   * every offset was read shifted by them, as unzip does ("extra bytes at beginning or within zipfile").
   */
  | 'zip-offsets-shifted'
  /** Bytes after an archive's end record, or a second archive concatenated to the first. */
  | 'archive-trailing-data'
  /** A ZIP end record whose comment holds another end record (unzip and Python's zipfile then list nothing); read by the real one (not when the fake one ends the file consistently: docs/operations.md). */
  | 'end-record-in-comment'
  /** Several ZIPs laid end to end (`cat a.zip b.zip`): each is listed, the members of those other than the one read as the archive under `zip-chain-<n>/` (docs/architecture.md). */
  | 'zip-chain'
  /**
   * A ZIP of such a chain (not the one read as the archive) whose directory failed part way: its members before the damage
   * are listed, the archive's and the other ZIPs' all are. Or the chain search did not finish (a candidate out of parser
   * time or crashing its thread): only the archive's own members are listed.
   */
  | 'zip-chain-incomplete'
  /** ZIP entries whose local header and data ranges share bytes (a Fifield-style bomb). */
  | 'overlapping-entries'
  /** A file-system entry that is deleted (its directory entry, MFT record or inode is free); never mixed up with allocated files. */
  | 'deleted'
  /** A deleted entry whose data was read back as far as the file system still describes it (the clusters may since have been reused). */
  | 'recovered'
  /** A disk image's acquisition hash (stored in the EWF image) differs from the hash of the media data read (docs/disk-images.md). */
  | 'image-hash-mismatch'
  /**
   * A disk image's media fails the checksums its acquisition wrote (an EWF chunk's Adler-32, or a chunk that does not
   * inflate): the media is not as acquired, so the stored hashes cannot be matched (docs/disk-images.md).
   */
  | 'image-media-damaged'
  /**
   * A TAR.GZ member whose bytes were never checked against the CRC-32 and size trailer of the gzip member holding
   * them: reading stopped before that trailer (the stream cut short, maxArchiveEntries, a budget, the deadline, the
   * parser's time-out or crash). Kept, as its bytes are most likely right (a partial download's early members are),
   * but not verified; a member whose gzip member's check failed is failed instead (docs/architecture.md).
   */
  | 'gzip-unverified'
  | MetadataFlag
  // Findings about a content (its bytes, whatever the name): see ContentFinding.
  | ContentFlag;

/**
 * Why unpacking an archive stopped before its last member, as a type: each is
 * shown on the archive in status, API and CLI with how many members were
 * recorded before it; the members after it were not extracted.
 */
export type ArchiveStopReason =
  /** The archive ends in the middle of a member or header (a short read, a cut-off gzip stream). */
  | 'truncated'
  /** Structure the reader cannot follow: broken central directory, bad header checksum, bad sizes. */
  | 'corrupt'
  /** ZIP entries share or overlap their bytes; none of the archive is extracted. */
  | 'overlapping-entries'
  /** Kept for archives recorded before a stored ZIP member whose sizes disagree failed alone (zip.parser.ts); no reader stops with it now. */
  | 'header-mismatch'
  /** The whole archive (or its directory) is encrypted, e.g. PKWARE strong encryption. */
  | 'encrypted'
  /** A feature we do not read (multi-disk, not a tar inside a gzip). */
  | 'unsupported'
  /** The evidence item's expansion budget (bytes expanded, bytes written, entries or unpack time) ran out. */
  | 'budget-exceeded'
  /** maxArchiveEntries, maxNestingDepth or another per-archive limit. */
  | 'limit-exceeded'
  /** The unpack ran past its deadline. */
  | 'deadline-exceeded'
  /** Every delivery of the unpack message failed; the bus gave up on it. */
  | 'dead-lettered'
  /** The unpack never moved although the watchdog re-drove it (see docs/operations.md). */
  | 'stuck'
  /** The uploaded archive's blob changed or vanished during the read that hashes and unpacks it. */
  | 'evidence-changed'
  /** Not unpacked: the upload's resumable hash was given up on (its saved states kept not loading). */
  | 'hash-state-unusable';

/** An archive's unpack stop, as recorded on the archive. */
export interface ArchiveStop {
  reason: ArchiveStopReason;
  /** Members recorded (kept and processed) before the stop. */
  membersRecorded: number;
  /** Entries the archive declares (a ZIP's central directory), when it says; null for TAR. */
  membersDeclared: number | null;
}

/**
 * Findings about the bytes themselves, recorded once per content with what
 * exactly was seen (offsets, lengths, values) and shown at every occurrence.
 * - unidentified: no known signature; the detail says what was looked at.
 * - trailing-data: bytes after the end of a complete image (JPEG EOI, PNG IEND, GIF trailer).
 * - embedded-archive: a ZIP directory at the end of a file of another type (a polyglot).
 * - partially-decoded: the image is damaged or truncated; the thumbnail shows what could be decoded. Not for videos: a
 *   contact sheet of the stream's first frame alone (no planned frame taken) carries no finding, as an intact file
 *   (cover art beside audio) gets one too.
 * - no-content: the decoded image is one flat colour (blank, or a decode that produced nothing).
 * - orientation-conflict: HEIF transforms and EXIF orientation disagree (docs/architecture.md, "Identification, findings and orientation").
 * - preview-differs: a JPEG/HEIC's embedded EXIF preview (IFD1 thumbnail) no longer shows the image: a hint of editing (docs/pdq.md, "The edited-image hint").
 */
export type ContentFlag =
  | 'unidentified'
  | 'trailing-data'
  | 'embedded-archive'
  | 'partially-decoded'
  | 'no-content'
  | 'orientation-conflict'
  | 'preview-differs';

export interface ContentFinding {
  flag: ContentFlag;
  /** Deterministic text: the same bytes give the same detail on every run. */
  detail: string;
}
