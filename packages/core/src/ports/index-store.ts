import type {
  AcquisitionInfo,
  PdqFrameHash,
  ArchiveStop,
  ArchiveTimes,
  BlobRef,
  ContentFinding,
  ContentSource,
  EntryKind,
  EvidenceRef,
  FileFlag,
  FileKind,
  Hashes,
  IntegrityVerdict,
  MediaMetadata,
  ToolVersion,
  UnpackState,
} from '../domain.js';
import type { FileStage, StageName } from '../lifecycle.js';
import type { ExhibitErrorCode } from '../errors.js';
import type { ImageSegmentsStatus, SegmentManifestEntry } from '../segment-manifest.js';

/**
 * The saved state of a resumable MD5/SHA-1/SHA-256 of an upload after its
 * first `offsetBytes` bytes, read under `etag` (hash-wasm save() output, base64).
 */
export interface HashCheckpoint {
  rootFileId: string;
  etag: string;
  /**
   * The library and version that wrote the states (`hash-wasm@4.13.0`): a state
   * only loads into the same WebAssembly build, so any other starts over from 0.
   */
  engine: string;
  /** How many times this hash started over from byte 0 (unusable states): part of its continuation keys. */
  restarts: number;
  offsetBytes: number;
  states: { md5: string; sha1: string; sha256: string };
  updatedAt?: string;
}

/**
 * The saved state of a resumable EWF stored-hash check (migration 0225): the
 * MD5/SHA-1/SHA-256 of an image's media after its first `offsetBytes` bytes,
 * read from the segment blobs under `etags` (hash-wasm save() output, base64).
 */
export interface ImageCheckCheckpoint {
  fileId: string;
  /** The ETags the image's segment blobs were read under, in order. */
  etags: string[];
  /** The library and version that wrote the states, as HashCheckpoint.engine. */
  engine: string;
  /** How many times this check started over from offset 0: part of its continuation keys. */
  restarts: number;
  mediaBytes: number;
  offsetBytes: number;
  states: { md5: string; sha1: string; sha256: string };
  updatedAt?: string;
}

/** What IndexStore.saveHashCheckpoint and saveImageCheckCheckpoint did with a resumable hash's or check's progress (each method says what the answers mean for it). */
export type CheckpointSave = 'saved' | 'behind' | 'not-pending';

/** The lease of long single-item stage work (migration 0230): which queue's work, on which item, by which delivery. */
export interface StageLeaseKey {
  queue: string;
  /** The item the work is on (unpack: the archive's file id; hash: the upload's root file id). */
  subjectId: string;
  /** The invocation that runs (or asks to run) the work. */
  holder: string;
}

/**
 * What IndexStore.acquireStageLease found: the lease is now this holder's, or
 * another holder's lease is live. Times are on the index's clock, given as
 * milliseconds from now so that a host's own clock skew does not matter.
 */
export type StageLeaseAcquire =
  | { acquired: true; expiresInMs: number }
  | { acquired: false; holder: string; messageId: string; expiresInMs: number };

/** One uploaded evidence blob, as received. */
/**
 * What IndexStore.bringReviewSummaryUpToDate did: the summary was already
 * `fresh`, or it was `refreshed` from a snapshot taken after the call began (a
 * change committed since may have made it stale again; that change's own
 * completion refreshes it), or it gave up within its budget because another
 * refresh kept the case (`busy`) or the refresh ran out of its budget
 * (`timed-out`), or the caller's abort signal stopped it (`aborted`). Giving
 * up leaves the summary as it was: reads then ask the files, and the first
 * quiet read remakes it (docs/review-api.md, "Summary").
 */
export type ReviewSummaryUpdate = 'fresh' | 'refreshed' | 'busy' | 'timed-out' | 'aborted';

export interface UploadRecord {
  caseId: string;
  evidenceId: string;
  blobName: string;
  fileName: string;
  rootFileId: string;
  size: number;
  etag: string;
  versionId: string | null;
  contentType: string | null;
  lastModified: string;
  receivedAt: string;
  acquisition: AcquisitionInfo;
  hashes: Hashes | null;
  integrity: IntegrityVerdict;
  /** Which acquisition hashes disagreed, e.g. ['sha256']. */
  mismatches: string[];
  hashedAt: string | null;
  /**
   * Set when the blob under this name was seen with other bytes (another ETag) after
   * receipt, or vanished: evidence must never change, so this is shown wherever the
   * upload's integrity is. The received record and its hashes stand unchanged.
   */
  changedAfterReceipt: EvidenceChange | null;
}

export interface EvidenceChange {
  /** The ETag last seen under the name; '' when the blob was gone. */
  etag: string;
  size: number | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface NewUpload {
  caseId: string;
  evidenceId: string;
  blobName: string;
  fileName: string;
  rootFileId: string;
  size: number;
  etag: string;
  versionId: string | null;
  contentType: string | null;
  lastModified: string;
  acquisition: AcquisitionInfo;
}

export interface FileFailure {
  stage: StageName;
  code: ExhibitErrorCode;
  detail: string;
}

/** Why an archive's unpack stopped, recorded on the archive (its own file carries on). */
export interface UnpackFailure extends ArchiveStop {
  code: ExhibitErrorCode;
  detail: string;
}

/** The counters of an evidence item's expansion budget (LIMITS.expansionBudgetFactor and floors/ceilings). */
export const BUDGET_COUNTERS = ['expandedBytes', 'writtenBytes', 'entries', 'unpackMs'] as const;
export type BudgetCounter = (typeof BUDGET_COUNTERS)[number];

export interface EvidenceBudgetUsage {
  /** Bytes uploaded for the evidence item: what the budget is proportional to. */
  evidenceBytes: number;
  used: Record<BudgetCounter, number>;
}

/** One occurrence of a file: a root upload or an archive member. */
export interface FileRecord {
  fileId: string;
  caseId: string;
  evidenceId: string;
  parentId: string | null;
  entryIndex: number | null;
  depth: number;
  /** Display path: `<upload name>` or `<archive path>!/<member path>`, possibly nested. */
  path: string;
  /** The member name exactly as recorded in the archive (for roots, the file name). */
  recordedName: string;
  name: string;
  extension: string | null;
  entryKind: EntryKind;
  size: number | null;
  sha256: string | null;
  /** Where the bytes are; null for entries without content (directories, links, skipped). */
  source: ContentSource | null;
  archiveTimes: ArchiveTimes;
  flags: FileFlag[];
  /** Recorded target of a symbolic or hard link member (never followed); absent otherwise. */
  linkTarget?: string | null;
  stage: FileStage;
  failure: FileFailure | null;
  unpack: UnpackState;
  memberCount: number | null;
  createdAt: string;
}

/**
 * A file as first recorded. Entries that will never be processed (links,
 * directories, encrypted members) start as indexed or failed; the unpack state,
 * member count and creation time are the index's to set.
 */
export type NewFile = Omit<FileRecord, 'unpack' | 'memberCount' | 'createdAt'>;

/** Analysis of one distinct content (by SHA-256); shared by all its occurrences. */
export interface ContentRecord {
  sha256: string;
  md5: string;
  sha1: string;
  size: number;
  source: ContentSource;
  mime: string | null;
  detectedExt: string | null;
  kind: FileKind | null;
  metadata: MediaMetadata | null;
  metadataStatus: 'pending' | 'done' | 'failed' | 'n/a';
  thumbnail: BlobRef | null;
  thumbnailSource: 'image' | 'exif-preview' | 'contact-sheet' | null;
  thumbnailStatus: 'pending' | 'done' | 'failed' | 'n/a';
  /**
   * The image's embedded EXIF preview (IFD1 JPEG) as stored in the derived
   * container with the thumbnail, when the file has one that decodes; null
   * otherwise (and for contents analysed before it was kept).
   */
  embeddedPreview?: BlobRef | null;
  failure: FileFailure | null;
  /** Findings about these bytes (identification and thumbnail), shown at every occurrence; the index always sets it. */
  findings?: ContentFinding[];
  /** Tool versions per stage, e.g. { identify: [...], metadata: [...] }. */
  tools: Partial<Record<StageName, ToolVersion[]>>;
}

/**
 * A stage's verdict on one occurrence, written in the same statement as the
 * stage's result on the content: either a move forward (under the same rule as
 * IndexStore.advanceFile) with the occurrence's findings, or its failure (the
 * first failure wins).
 */
export type FileMove =
  | { fileId: string; to: Exclude<FileStage, 'failed' | 'indexed'>; flags?: FileFlag[]; unpack?: 'pending' }
  /** `flags`: findings of the steps before the failing one (the analyse stage's one write), added unless the file has failed already. */
  | { fileId: string; failure: FileFailure; flags?: FileFlag[] };

/** What identify records on a content (IndexStore.setIdentification). */
export interface IdentificationWrite {
  mime: string | null;
  detectedExt: string | null;
  kind: FileKind;
  tools: ToolVersion[];
  findings?: ContentFinding[];
}

/** What the metadata step records on a content (IndexStore.setMetadata). */
export interface MetadataWrite {
  status: 'done' | 'failed' | 'n/a';
  metadata: MediaMetadata | null;
  failure?: FileFailure;
  tools: ToolVersion[];
  /** The content's kind gets no thumbnail (audio): a pending thumbnail status becomes 'n/a' in the same write. */
  noThumbnail?: boolean;
}

/** What the thumbnail step records on a content (IndexStore.setThumbnail). */
export interface ThumbnailWrite {
  status: 'done' | 'failed' | 'n/a';
  blob: BlobRef | null;
  source: ContentRecord['thumbnailSource'];
  /** The stored embedded EXIF preview, recorded with the thumbnail. */
  preview?: BlobRef | null;
  failure?: FileFailure;
  findings?: ContentFinding[];
  tools: ToolVersion[];
  /**
   * The content's PDQ hashes, made with this thumbnail: they replace any
   * recorded before, in the same write, and only when this write records
   * the thumbnail (as setPdq, without its own round trip).
   */
  pdq?: readonly PdqFrameHash[];
}

/**
 * The analyse stage's results for one content, any of the three (IndexStore.setAnalysis).
 * A metadata part with noThumbnail and a thumbnail part together are a contradiction (invalid-argument).
 */
export interface AnalysisWrite {
  identification?: IdentificationWrite;
  metadata?: MetadataWrite;
  thumbnail?: ThumbnailWrite;
}

/** What IndexStore.markIndexed did. */
export type IndexedResult =
  /** The file moved to 'indexed'; openWork is the hasPendingWork answer once it has. */
  | { moved: true; openWork: boolean }
  /** Nothing moved: stage is where the file already was, null if the evidence item has no such file. */
  | { moved: false; stage: FileStage | null };

/** What an examiner says a hash set lists (docs/known-files.md). */
export type HashSetKind = 'known-good' | 'known-bad' | 'notable';

/** A file's content matches an enabled hash set: which set, which category, and which digest matched. */
export interface KnownFileMatch {
  sha256: string;
  setId: number;
  name: string;
  version: string | null;
  kind: HashSetKind;
  /** The set's category number for the hash (VICS, ICSE), and its name where the set maps one. */
  category: number | null;
  categoryName: string | null;
  /** The strongest digest that matched: SHA-256, then SHA-1, then MD5; 'pdq' for a PDQ list (by distance). */
  matchedOn: 'sha256' | 'sha1' | 'md5' | 'pdq';
  /** Only for matchedOn 'pdq': how near, on which frame, and what the list holds. */
  pdq?: PdqMatchDetail;
}

/** A PDQ list match (docs/known-files.md, "PDQ hash lists"): a lead to look at, never proof. */
export interface PdqMatchDetail {
  /** Bits (of 256) between the content's PDQ hash and the listed one. */
  distance: number;
  /** The set's limit the distance was within. */
  maxDistance: number;
  /** The content's frame that matched: 0 for a picture, the contact-sheet frame of a video. */
  frame: number;
  /** Where in a video that frame is, in milliseconds; null for a picture, or a video frame whose time ffmpeg did not report. */
  timeMs: number | null;
  /** The content is a video (its kind as indexed): frame 0 is then a contact-sheet frame, not "the picture", even without a time. */
  video: boolean;
  /** The listed PDQ hash that matched (64 hex digits) and its label, if the list gives one. */
  listedHash: string;
  label: string | null;
}

/** The search filter on hash-set matches: `unknown` is in no enabled set. */
export type KnownFilter = 'bad' | 'notable' | 'good' | 'unknown';

export interface EvidenceStatus {
  caseId: string;
  evidenceId: string;
  uploads: UploadRecord[];
  files: { total: number; byStage: Record<FileStage, number> };
  /** Files that have passed each stage (done or not applicable). */
  stages: Record<'hash' | 'identify' | 'unpack' | 'metadata' | 'thumbnail' | 'index', { done: number; failed: number; pending: number }>;
  /** A file's failure; an archive whose unpack stopped also says why and how far it got (`archive`). */
  failures: Array<{ fileId: string; path: string; archive?: ArchiveStop } & FileFailure>;
  findings: Array<{ fileId: string | null; path: string; flag: FileFlag | 'hash-mismatch' | 'known-bad' | 'notable'; detail: string }>;
  /** Files whose content matches an enabled hash set, by the set's kind. */
  knownFiles: { knownBad: number; notable: number; knownGood: number };
  /** Disk images unpacked in this evidence item: container, volumes, and for EWF the acquisition header and stored-hash check. */
  /**
   * `mediaDamaged`: whether the image's file carries the image-media-damaged flag (its media fails its acquisition
   * checksums, or part is lost). The flag is set only while reading the media, so false is "no damage seen", and says the
   * media is sound only when integrity is 'verified' or 'mismatch' (read whole). Absent when the database's
   * evidence_status predates migration 0240 (index-store.postgres.ts), never read as false.
   */
  diskImages: Array<DiskImageRecord & { path: string; mediaDamaged?: boolean }>;
  /** Split images declared with a manifest, and later segments whose first segment is not here ("Split images"). */
  imageSegments: ImageSegmentsStatus;
  complete: boolean;
}

/** Where a volume of a disk image lies and what its table says it is. */
export interface DiskVolumeInfo {
  /** Position in the volume system's own order (MBR slot / logical chain, GPT entry), from 0. */
  index: number;
  /** Byte offset of the volume on the media. */
  offset: number;
  size: number;
  /** 'mbr' | 'gpt' | 'none' (a file system with no partition table). */
  scheme: 'mbr' | 'gpt' | 'none';
  /** The type as recorded: MBR type byte as '0x0c', GPT type GUID in lower case. */
  type: string;
  /** GPT partition name, MBR description of the type; may be empty. */
  label: string;
}

/** One volume of a disk image as unpack read it. */
export interface DiskImageVolume extends DiskVolumeInfo {
  /** The file system read ('fat32', 'ntfs', …), or null when none was. */
  fileSystem: string | null;
  /** Why the volume was not read, or stopped (typed code and message). */
  problem: { code: string; message: string } | null;
  /** Entries recorded from this volume. */
  entries: number;
}

/**
 * A disk image read by the unpack stage (docs/disk-images.md): its container,
 * volumes and, for EWF, the header the acquisition wrote and the check of the
 * MD5/SHA-1 stored in the image against a hash of the media data read.
 */
export interface DiskImageRecord {
  fileId: string;
  caseId: string;
  evidenceId: string;
  /** 'raw' | 'split-raw' | 'ewf' | 'vhd-fixed' | 'vhd-dynamic'. */
  format: string;
  mediaBytes: number;
  segmentCount: number;
  /** The blobs read, in order (each segment of a split image), with their sizes and the ETags reads were pinned to; [] before migration 0075. */
  segments: Array<{ name: string; size: number; etag: string | null }>;
  volumes: DiskImageVolume[];
  /**
   * Partitions the table places outside the disk, loops in an EBR chain… (never read), as "where: problem code: message"
   * (volumeProblemText; rows recorded before it hold "where: message", no code); and notes,
   * which record how a volume was read with nothing failing, as "where: note code: message" (volumeNoteOf).
   */
  volumeProblems: string[];
  /** EWF: the header as stored (case number, evidence number, examiner, notes, acquisition date, software…). */
  ewfHeader: Record<string, unknown> | null;
  /** EWF: the hashes the acquisition stored in the image. */
  storedHashes: { md5?: string; sha1?: string } | null;
  /** EWF: MD5, SHA-1 (compared with the stored ones) and SHA-256 of the media data read through the image. */
  computedHashes: { md5: string; sha1: string; sha256: string } | null;
  /** 'verified' / 'mismatch' (stored vs computed), 'no-reference' (nothing stored, or not EWF), 'failed' (the media could not be read whole). */
  integrity: IntegrityVerdict;
  /** Which stored hashes disagreed, e.g. ['md5']. */
  mismatches: string[];
  /** Why the check failed, when it did. */
  integrityDetail: string | null;
}

/** `sha256` groups identical content together; `added` is when the occurrence was recorded. */
export type SortKey = 'path' | 'takenAt' | 'size' | 'name' | 'sha256' | 'mime' | 'added';

export interface SearchQuery {
  caseId: string;
  evidenceId?: string;
  kind?: FileKind;
  mime?: string;
  takenFrom?: string;
  takenTo?: string;
  make?: string;
  model?: string;
  hasGps?: boolean;
  /** [minLon, minLat, maxLon, maxLat] */
  bbox?: [number, number, number, number];
  /** Hex digits an MD5, SHA-1 or SHA-256 starts with (at least 8; a whole digest is an exact match). */
  hash?: string;
  pathText?: string;
  extMismatch?: boolean;
  /** Only files whose content matches an enabled set of this kind (or, `unknown`, none). */
  known?: KnownFilter;
  /** Known-good files (in a known-good set and in no known-bad or notable one) are left out unless this is true or `known` is set. */
  includeKnownGood?: boolean;
  stage?: FileStage;
  /**
   * Capture time as recorded wall clock, whatever its offset (the timeline's
   * axis): from inclusive, to exclusive.
   */
  takenLocalFrom?: string;
  takenLocalTo?: string;
  /** Files whose capture time has a recorded offset ('recorded') or has none ('missing'). */
  takenOffset?: 'recorded' | 'missing';
  /**
   * 'only': files whose content occurs more than once in the case;
   * 'collapse': one file per distinct content (the smallest fileId).
   */
  duplicates?: 'only' | 'collapse';
  /** Files carrying this tag (ReviewStore tags). */
  tag?: string;
  /** Files with (true) or without (false) any tag. */
  tagged?: boolean;
  sort?: SortKey;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
  /**
   * Keyset paging: the page starts just after this row of the same query's
   * order (a SearchResult's `next`); with it, `offset` must be 0. Every page
   * is an index range however deep, and rows added meanwhile never shift it.
   */
  after?: SearchAfter;
  /**
   * Count matches not answered by the review summary only up to this many:
   * past it `total` is the cap and `totalIsLowerBound` is true, so a filtered
   * search never reads the whole case just to count it. Absent: exact.
   */
  countCap?: number;
}

/**
 * A position in a search's order: a row's sort value as text (the path for
 * path order, the taken-at instant with microseconds, ...; null when it has
 * none) and its fileId. Without `key` the position is the row itself: the
 * search reads its sort value back by fileId (in the page's snapshot), so a
 * cursor need not carry a long path; if that row is no longer in the case
 * the search is refused ('invalid-argument', details.after 'position-gone').
 */
export interface SearchAfter {
  key?: string | null;
  fileId: string;
}

export interface SearchHit {
  file: FileRecord;
  content: ContentRecord | null;
}

export interface SearchResult {
  /** Files matching the filter (the whole result, not the rest after `after`). */
  total: number;
  /** True when more than `countCap` match: `total` is then "at least this many". */
  totalIsLowerBound: boolean;
  items: SearchHit[];
  /** Where the next page starts (SearchQuery.after), or null when this page ends the result. */
  next: SearchAfter | null;
}

/**
 * Why a blob in the evidence container was not taken in as evidence.
 * - not-evidence-name: the name is not `<caseId>/<evidenceId>/<file name>`
 *   (at the container root, an empty segment, an id outside the id alphabet).
 * - not-evidence-container: offered for ingest from another container.
 */
export const REJECTED_BLOB_REASONS = ['not-evidence-name', 'not-evidence-container'] as const;
export type RejectedBlobReason = (typeof REJECTED_BLOB_REASONS)[number];

/**
 * A blob that was seen but not ingested. It names no case, so it cannot go in
 * a case's custody log; this record is how it is not silently lost. One row
 * per (container, blobName, etag): seeing the same bytes again only counts.
 */
export interface RejectedBlob {
  container: string;
  blobName: string;
  etag: string;
  size: number;
  lastModified: string;
  reason: RejectedBlobReason;
  /** What exactly is wrong, for the operator who has to move or re-upload it. */
  detail: string;
  firstSeenAt: string;
  lastSeenAt: string;
  seenCount: number;
}

export type NewRejectedBlob = Omit<RejectedBlob, 'firstSeenAt' | 'lastSeenAt' | 'seenCount'>;

/**
 * The index: PostgreSQL (PGlite locally, Azure Database for PostgreSQL in the
 * cloud). Every write is idempotent so redelivered messages are harmless.
 */
export interface IndexStore {
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Inserts the upload once; later calls return the first record and created=false. */
  recordUpload(upload: NewUpload): Promise<{ created: boolean; record: UploadRecord }>;
  getUpload(blobName: string): Promise<UploadRecord | null>;
  listUploadNames(): Promise<Set<string>>;
  /** Every upload's blob name with the ETag it was received with (canonical form). */
  listUploadEtags(): Promise<Map<string, string>>;
  /**
   * Blob names of the uploads the reconcile pass offers again: integrity still `pending`, received at least
   * `pendingForMs` ago (on the index's clock), and no live stage lease (expires after now) of any queue in `unlessLeasedOn`
   * on their root file: an upload whose unpack or hash runs now is not offered beside it (docs/architecture.md, "Twin
   * deliveries and the stage lease"); one whose holder died is offered once its lease has expired.
   */
  listUploadsToOfferAgain(options: { pendingForMs: number; unlessLeasedOn: readonly string[] }): Promise<Set<string>>;
  /** Records that the blob was seen changed (or gone, etag '') after receipt; idempotent per sighting. */
  recordEvidenceChanged(blobName: string, seen: { etag: string; size: number | null }): Promise<void>;
  recordUploadHashes(blobName: string, hashes: Hashes, integrity: IntegrityVerdict, mismatches: string[]): Promise<void>;
  /**
   * Progress of a resumable hash of a large upload (migration 0220), per root
   * file id and the ETag its bytes were read under; null when none is saved.
   */
  getHashCheckpoint(rootFileId: string, etag: string): Promise<HashCheckpoint | null>;
  /**
   * Saves progress; never moves it backwards for the same engine and restart
   * count (two chains of the same upload, e.g. a watchdog re-drive beside a
   * continuation, may both save: the one further on stands, and every saved
   * state is exact for its offset); a later start over, or another engine's
   * row, is replaced (its states cannot be loaded here). The row's updated_at
   * is the watchdog's sign that the hash is moving (the root file's own
   * updated_at is left alone, so stalls elsewhere in the item are still seen).
   * Answers what became of it: 'saved' (the row now holds these states; the
   * same progress saved again counts), 'behind' (not written: the row holds
   * further progress of the same engine and start, another delivery's; the
   * caller sends no continuation keyed on its own), 'not-pending' (nothing
   * saved: the upload's hash is no longer pending, recorded or failed; the
   * chain saving is a trailing one and stops).
   */
  saveHashCheckpoint(checkpoint: HashCheckpoint): Promise<CheckpointSave>;
  /** Forgets every saved progress of the upload (its hash is recorded, or it changed). */
  deleteHashCheckpoints(rootFileId: string): Promise<void>;
  /** Progress of a resumable EWF stored-hash check of the image `fileId` (migration 0225); null when none is saved. */
  getImageCheckCheckpoint(fileId: string): Promise<ImageCheckCheckpoint | null>;
  /**
   * Saves the check's progress; the row's updated_at is the watchdog's sign
   * that the image's unpack moves (the file's own updated_at is left alone, so
   * stalls elsewhere in the item are still seen). Never moves it backwards
   * for the same engine and restart count (two chains may both save; every
   * saved state is exact for its offset); a later start over, another engine's
   * or other blobs' row is replaced. Answers what became of it: 'saved' (the
   * row now holds these states; the same progress saved again counts), 'behind'
   * (not written: the row holds further progress of the same engine, blobs and
   * media, another delivery's; the caller sends no continuation keyed on its
   * own), 'not-pending' (nothing saved: the image's unpack is no longer pending,
   * another chain recorded it; the chain saving is a trailing one and stops).
   */
  saveImageCheckCheckpoint(checkpoint: ImageCheckCheckpoint): Promise<CheckpointSave>;
  /** Forgets the check's saved progress (recorded, or of no further use). */
  deleteImageCheckCheckpoint(fileId: string): Promise<void>;
  /**
   * Takes the lease of `key.queue`'s work on `key.subjectId` for `key.holder`
   * for `leaseMs` (migration 0230), in one statement: taken when there is
   * none, when the one there has expired (a crashed holder's), or when it is
   * already this holder's; else the live holder is answered.
   */
  acquireStageLease(key: StageLeaseKey & { messageId: string }, leaseMs: number): Promise<StageLeaseAcquire>;
  /** Extends the holder's lease to `leaseMs` from now; false when it is no longer the holder's (expired and taken over, or released). */
  renewStageLease(key: StageLeaseKey, leaseMs: number): Promise<boolean>;
  /** Ends the holder's lease; a lease another holder has taken over is left alone. */
  releaseStageLease(key: StageLeaseKey): Promise<void>;
  /**
   * Whether some holder's lease of `key.queue`'s work on `key.subjectId` is live (expires after now, on the index's
   * clock): a running attempt does that work. Reads only; an expired lease (a dead holder's) answers false.
   */
  stageLeaseHeld(key: Omit<StageLeaseKey, 'holder'>): Promise<boolean>;
  /**
   * Deletes every stage lease; answers how many there were. Only for a caller that knows no holder can be alive: the
   * local host starting on its own PGlite index, which no other process opens (the data folder's lock).
   */
  clearStageLeases(): Promise<number>;

  /**
   * Declares a split image's segment manifest (at upload registration), all
   * or nothing: created=false when the same set was declared before; a
   * 'conflict' when it, or one of its segments, was declared otherwise.
   */
  declareSegmentManifest(entries: ReadonlyArray<Omit<SegmentManifestEntry, 'declaredAt'>>): Promise<{ created: boolean; manifest: SegmentManifestEntry[] }>;
  /** The manifest whose first segment is `firstBlobName`, in order; empty when none was declared. */
  getSegmentManifest(firstBlobName: string): Promise<SegmentManifestEntry[]>;
  /** The declared segment under this blob name, whichever set declared it. */
  getDeclaredSegment(blobName: string): Promise<SegmentManifestEntry | null>;
  /**
   * When a segment of the set declared for `firstBlobName` was last registered
   * for upload (ISO time; null when none was): a segment registered and not
   * received yet is being sent, so the set's wait counts from it too.
   */
  latestSegmentRegistration(firstBlobName: string): Promise<string | null>;

  /** Inserts files that are not there yet (by fileId); returns how many were new. */
  insertFiles(files: NewFile[]): Promise<number>;
  getFile(fileId: string): Promise<FileRecord | null>;
  /**
   * getFile for many files in one read: the map has an entry for every file
   * found (missing ids have none). What a resumed unpack asks about a window of
   * the members it passes, instead of a statement per member.
   */
  getFiles(fileIds: readonly string[]): Promise<Map<string, FileRecord>>;
  /** A file and the content it holds (null if none is recorded yet), in one read. */
  getFileWithContent(fileId: string): Promise<{ file: FileRecord; content: ContentRecord | null } | null>;
  /**
   * getFileWithContent for the files of a batch message, in one read: the map
   * has an entry for every file found (missing ids have none).
   */
  getFilesWithContent(fileIds: readonly string[]): Promise<Map<string, { file: FileRecord; content: ContentRecord | null }>>;
  listChildren(parentId: string): Promise<FileRecord[]>;
  /** Moves a file forward; never backwards, never out of 'failed'. Returns false if it did not move. */
  advanceFile(
    fileId: string,
    stage: FileStage,
    patch?: { sha256?: string; size?: number; source?: ContentSource; flags?: FileFlag[]; unpack?: 'pending' },
  ): Promise<boolean>;
  /**
   * A file's last move, to 'indexed', if it belongs to the evidence item; when
   * it moves, the same statement answers hasPendingWork for the evidence item
   * as it stands with this file indexed, so the last finisher needs no second probe.
   */
  markIndexed(ref: EvidenceRef & { fileId: string }): Promise<IndexedResult>;
  /**
   * markIndexed for the files of a batch message of one evidence item, in one
   * statement: each file's result, with openWork (when any moved) answered
   * once for the item as it stands with all of them indexed.
   */
  markIndexedBatch(ref: EvidenceRef, fileIds: readonly string[]): Promise<Map<string, IndexedResult>>;
  failFile(fileId: string, failure: FileFailure): Promise<void>;
  /**
   * Fails an archive's members from entry `fromEntryIndex` on whose bytes the archive's own check then failed
   * (a TAR.GZ's gzip member fails its CRC-32): as a ZIP member with a bad CRC is recorded, so with no size, hash
   * or source (the damaged bytes' hash must match nothing). A member already failed keeps its failure. One statement.
   * How many were failed now.
   */
  failMembersFrom(parentId: string, fromEntryIndex: number, failure: FileFailure): Promise<number>;
  /** With `failure` (state 'failed'), why unpacking stopped: shown in the evidence status. */
  setUnpack(fileId: string, state: UnpackState, memberCount?: number | null, failure?: UnpackFailure): Promise<void>;

  /** What the evidence item's archives have used of its expansion budget so far. */
  budgetUsage(ref: EvidenceRef): Promise<EvidenceBudgetUsage>;
  /**
   * Atomically takes up to `want` of a budget counter without passing `max`;
   * returns how much was granted (0..want). Shared by every (nested) unpack of the evidence item.
   */
  claimBudget(ref: EvidenceRef, counter: BudgetCounter, want: number, max: number): Promise<number>;
  /** Gives back what was claimed but not used. */
  releaseBudget(ref: EvidenceRef, counter: BudgetCounter, amount: number): Promise<void>;
  addFlags(fileId: string, flags: FileFlag[]): Promise<void>;
  /** Adds the flags to each of these files (those that exist), in one statement: an archive's members marked at once. */
  addFlagsToFiles(fileIds: readonly string[], flags: FileFlag[]): Promise<void>;
  /**
   * Takes the flags off each of these files (those that exist), in one statement. Only for a finding a later,
   * fuller reading overturns: a tar.gz member flagged 'gzip-unverified' by a delivery that stopped before its
   * gzip trailer, whose redelivery read the trailer and it checked out.
   */
  removeFlagsFromFiles(fileIds: readonly string[], flags: FileFlag[]): Promise<void>;
  /** Records (or replaces, on a re-run) what unpack read about a disk image (migration 0030). */
  recordDiskImage(record: DiskImageRecord): Promise<void>;
  getDiskImage(fileId: string): Promise<DiskImageRecord | null>;

  getContent(sha256: string): Promise<ContentRecord | null>;
  /** Creates the content row if missing; returns the stored row (the first writer wins). */
  ensureContent(content: { sha256: string; md5: string; sha1: string; size: number; source: ContentSource }): Promise<ContentRecord>;
  /**
   * ensureContent for many contents in one statement (an unpack's batch of members, written before the
   * files that name them): stored rows are kept, and of one content listed twice the first is written.
   */
  ensureContents(contents: ReadonlyArray<{ sha256: string; md5: string; sha1: string; size: number; source: ContentSource }>): Promise<void>;
  /**
   * Each analysis (identification, metadata, thumbnail) is recorded once per
   * content: the first result wins. With `file`, the occurrence's move or
   * failure is written in the same statement, and only if the content exists.
   */
  setIdentification(sha256: string, id: IdentificationWrite, file?: FileMove): Promise<void>;
  setMetadata(sha256: string, result: MetadataWrite, file?: FileMove): Promise<void>;
  setThumbnail(sha256: string, result: ThumbnailWrite, file?: FileMove): Promise<void>;
  /**
   * setIdentification, setMetadata and setThumbnail in one statement (the
   * analyse stage's one write per file): each part present is recorded under
   * its own condition (kind not recorded yet, metadata pending, thumbnail
   * pending), exactly as its own call would record it, and the PDQ hashes only
   * with a thumbnail this statement records. With no part, only the file's
   * move or failure (a content analysed for another occurrence).
   */
  setAnalysis(sha256: string, results: AnalysisWrite, file?: FileMove): Promise<void>;

  evidenceStatus(caseId: string, evidenceId: string): Promise<EvidenceStatus | null>;
  /**
   * Cheap completeness probe (after a failure, an unpack, a dead letter, a
   * redelivered index message): true while any upload is unhashed or any file
   * is non-terminal or awaiting unpack. Must use an index, not a scan of the
   * evidence item's files. Serialised with markIndexed's probe per evidence
   * item, so two finishers can never both see the other's work as still open.
   */
  hasPendingWork(caseId: string, evidenceId: string): Promise<boolean>;
  /**
   * Remakes the case's review summary (the map, timeline and search totals'
   * cache, docs/review-api.md) now, e.g. once an evidence item is complete;
   * false when another refresh was running. Optional: a store without one
   * answers every review request from the files.
   */
  refreshReviewSummary?(caseId: string): Promise<boolean>;
  /**
   * Brings the case's review summary up to date with everything committed
   * before the call, within `budgetMs` (an evidence item's completion calls
   * it): leaves a fresh summary alone, waits for a refresh already running,
   * remakes a stale one. Never counts anything twice (a refresh is a whole
   * remake from one snapshot). Optional, as refreshReviewSummary.
   */
  bringReviewSummaryUpToDate?(caseId: string, options: { budgetMs: number; abortSignal?: AbortSignal }): Promise<ReviewSummaryUpdate>;
  /** Marks an upload whose hash stage gave up (dead-lettered), so the evidence item can still complete. */
  failUploadHash(blobName: string, failure: FileFailure): Promise<void>;
  listEvidence(caseId?: string): Promise<Array<{ caseId: string; evidenceId: string; uploads: number; files: number; complete: boolean }>>;
  /**
   * The evidence items of the case holding at least one file with this
   * content, sorted: one statement whatever the number of occurrences (a content can occur
   * thousands of times, an app icon in a phone extraction) or of items.
   */
  evidenceIdsHolding(caseId: string, sha256: string): Promise<string[]>;
  search(query: SearchQuery): Promise<SearchResult>;
  /**
   * Matches the file's content (its recorded MD5, SHA-1 and SHA-256: no read
   * of the bytes) against the enabled hash sets, records the matches once,
   * and returns them: sets in force and sets being built (whose re-match job
   * may already have passed this content). [] for a file without content.
   */
  matchFileAgainstHashSets(fileId: string): Promise<KnownFileMatch[]>;
  /** matchFileAgainstHashSets for the files of a batch message, in one statement; every file id is a key. */
  matchFilesAgainstHashSets(fileIds: readonly string[]): Promise<Map<string, KnownFileMatch[]>>;
  /** The recorded matches of a file's content against enabled sets in force. */
  knownFileMatches(fileId: string): Promise<KnownFileMatch[]>;

  /**
   * Records a blob that was not ingested. The first sighting of a
   * (container, blobName, etag) inserts it (created=true); later ones only
   * move lastSeenAt and count, keeping the first reason and detail.
   */
  recordRejectedBlob(blob: NewRejectedBlob): Promise<{ created: boolean; record: RejectedBlob }>;
  /** Rejected blobs, first seen newest first; limit is capped at 500. */
  listRejectedBlobs(page?: { limit?: number; offset?: number }): Promise<{ total: number; items: RejectedBlob[] }>;

  /** Records a content's PDQ hashes (docs/pdq.md), replacing what an earlier run recorded (idempotent). */
  setPdq(sha256: string, rows: readonly PdqFrameHash[]): Promise<void>;
  /** A content's PDQ hashes, by frame; [] when none were recorded. */
  getPdq(sha256: string): Promise<PdqFrameHash[]>;
  /** Contents of the given cases whose PDQ hash is within maxDistance of the query, nearest first. */
  similarByPdq(query: SimilarQuery): Promise<SimilarResult>;
  /**
   * The PDQ backfill's work list (docs/pdq.md): pictures and videos with a
   * thumbnail made from the picture or the video itself, no PDQ hash and no
   * backfill attempt yet, in SHA-256 order after `after`.
   */
  pdqBackfillCandidates(options: { after: string | null; limit: number }): Promise<string[]>;
  /** How many contents the backfill has still to try. */
  pdqBackfillPending(): Promise<number>;
  /** Records a backfill attempt: the hashes (as setPdq), or why there are none; never tried again either way. */
  recordPdqBackfill(sha256: string, result: { pdq: readonly PdqFrameHash[] } | { failure: string }): Promise<void>;
  /** Where a content occurs: every file with its case and evidence item (for the backfill's custody entries). */
  filesOfContent(sha256: string, limit: number): Promise<Array<{ fileId: string; caseId: string; evidenceId: string; path: string }>>;
}

export interface SimilarQuery {
  /** 64 hex digits. */
  hash: string;
  /** Only files of these cases; an empty list finds nothing. */
  caseIds: readonly string[];
  /** 0–256; 31 is the usual "likely the same picture". */
  maxDistance: number;
  /** Contents returned at most (the index caps it). */
  limit?: number;
}

export interface SimilarContent {
  sha256: string;
  /** The content's frame that is near: 0 for a picture, a contact-sheet frame of a video (with its time). */
  frame: number;
  timeMs?: number;
  /** The content is a video (its kind as indexed): its frame is a contact-sheet frame even when its time is unknown. */
  video: boolean;
  quality: number;
  distance: number;
  /** Where the content occurs in the given cases. */
  files: Array<{ fileId: string; caseId: string; evidenceId: string; path: string }>;
}

export interface SimilarResult {
  /**
   * How the rows were found; both are exact (every hash within the distance, none beyond).
   * 'mih': the multi-index-hashing index narrowed the rows compared (distances up to 31 bits).
   * 'scan': every hash of the cases' contents compared (larger distances).
   */
  method: 'mih' | 'scan';
  items: SimilarContent[];
}

/**
 * A volume note among a disk image's volumeProblems ("mbr 0: note read-past-entry: …"): its where, code and message;
 * null for a problem. The record keeps strings (no schema change), so the note's code rides in the text, and every
 * reader (exhibit status, API clients) tells a note from a problem by it rather than showing a note as a failure.
 */
export function volumeNoteOf(text: string): { where: string; code: string; message: string } | null {
  const m = /^([^:]*): note ([a-z][a-z-]*): /.exec(text);
  return m ? { where: m[1]!, code: m[2]!, message: text.slice(m[0].length) } : null;
}

/**
 * One entry of a disk image's volumeProblems read back for a reader that shows it in words (the API, the review app): a
 * note with its where and code, or a problem with its where ("mbr 2", "gpt header"), code and message. Problems are
 * stored as "where: problem code: message" (volumeProblemText); those recorded before that as "where: message" read back
 * with code null, and text with no "where: " as a problem whose where is unknown ('').
 */
export function volumeIssueOf(text: string): { kind: 'note' | 'problem'; where: string; code: string | null; message: string } {
  const note = volumeNoteOf(text);
  if (note) return { kind: 'note', ...note };
  const coded = /^([^:]*): problem ([a-z][a-z-]*): /.exec(text);
  if (coded) return { kind: 'problem', where: coded[1]!, code: coded[2]!, message: text.slice(coded[0].length) };
  const at = text.indexOf(': ');
  return at < 0 ? { kind: 'problem', where: '', code: null, message: text } : { kind: 'problem', where: text.slice(0, at), code: null, message: text.slice(at + 2) };
}

/** The stored text of a volume problem, its code kept as a note's is (volumeIssueOf reads it back). */
export function volumeProblemText(where: string, code: string, message: string): string {
  return `${where}: problem ${code}: ${message}`;
}

/** The stored text of a volume note (volumeNoteOf reads it back). */
export function volumeNoteText(where: string, code: string, message: string): string {
  return `${where}: note ${code}: ${message}`;
}
