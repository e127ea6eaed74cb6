/** The API's JSON shapes the app reads (packages/api/src/response-schemas.ts is the source). */
export interface RecordedTime {
  local: string;
  offsetMinutes: number | null;
  utc: string | null;
  source: string;
}
export interface ToolVersion {
  name: string;
  version: string;
}
export interface Failure {
  stage: string;
  code: string;
  detail: string;
}
export interface FileRecord {
  fileId: string;
  caseId: string;
  evidenceId: string;
  parentId: string | null;
  depth: number;
  path: string;
  name: string;
  extension: string | null;
  entryKind: string;
  size: number | null;
  sha256: string | null;
  archiveTimes: Partial<Record<'modified' | 'accessed' | 'changed' | 'created' | 'deleted', RecordedTime>>;
  flags: string[];
  stage: string;
  failure: Failure | null;
  createdAt: string;
}
export interface ContentRecord {
  sha256: string;
  md5: string;
  sha1: string;
  size: number;
  mime: string | null;
  detectedExt: string | null;
  kind: string | null;
  metadata: {
    takenAt?: RecordedTime;
    captureTimes?: RecordedTime[];
    modifiedAt?: RecordedTime;
    gps?: { lat: number; lon: number; altM?: number };
    gpsRecorded?: { lat: number | null; lon: number | null; flag: string };
    make?: string;
    model?: string;
    software?: string;
    width?: number;
    height?: number;
    durationSec?: number;
    audioStream?: { codec?: string; sampleRate?: number; channels?: number };
    findings?: Array<{ flag: string; detail: string }>;
  } | null;
  thumbnailStatus: string;
  thumbnailSource: string | null;
  /** The image's embedded EXIF preview kept beside the thumbnail (GET …/files/{fileId}/embedded-preview). */
  embeddedPreview?: { container: string; name: string } | null;
  findings?: Array<{ flag: string; detail: string }>;
  tools: Record<string, ToolVersion[]>;
}
export interface Hit {
  file: FileRecord;
  content: ContentRecord | null;
}
export interface SearchResult {
  /** "At least" this many when totalIsLowerBound (a filtered search is counted up to 10,000). */
  total: number;
  totalIsLowerBound: boolean;
  limit: number;
  offset: number;
  /** The page after this one (pass as `cursor`), or null on the last page. */
  nextCursor: string | null;
  items: Hit[];
}
export interface ProvenanceLink {
  fileId: string;
  path: string;
  name: string;
  depth: number;
  sha256: string | null;
  size: number | null;
  mime: string | null;
  tools: Record<string, ToolVersion[]>;
}
export interface Upload {
  evidenceId: string;
  blobName: string;
  fileName: string;
  size: number;
  receivedAt: string;
  acquisition: Record<string, string>;
  hashes: { md5: string; sha1: string; sha256: string } | null;
  integrity: 'pending' | 'verified' | 'mismatch' | 'no-reference';
  mismatches: string[];
  hashedAt: string | null;
  changedAfterReceipt: unknown;
  uploadedBy?: string | null;
}
export interface FileDetail {
  file: FileRecord;
  content: ContentRecord | null;
  provenance: { chain: ProvenanceLink[]; upload: Upload | null; complete: boolean };
}
export interface CaseSummary {
  caseId: string;
  role: string | null;
  assigned?: boolean;
  assignees?: number;
  evidence: number;
  files: number;
  complete: boolean;
}
export interface EvidenceStatus {
  caseId: string;
  evidenceId: string;
  uploads: Upload[];
  files: { total: number; byStage: Record<string, number> };
  stages: Record<string, { done: number; failed: number; pending: number }>;
  failures: Array<{ fileId: string; path: string; stage: string; code: string; detail: string; archive?: { reason: string; membersRecorded: number; membersDeclared: number | null } }>;
  findings: Array<{ fileId: string | null; path: string; flag: string; detail: string }>;
  /** Absent from an API before it listed them. */
  diskImages?: DiskImage[];
  complete: boolean;
}
/** A disk image unpacked in an evidence item (GET …/status, docs/disk-images.md). */
export interface DiskImage {
  fileId: string;
  path: string;
  /** 'raw' | 'split-raw' | 'ewf' | 'vhd-fixed' | 'vhd-dynamic'. */
  format: string;
  mediaBytes: number;
  segmentCount: number;
  segments: Array<{ name: string; size: number; etag: string | null }>;
  volumes: Array<{
    index: number;
    offset: number;
    size: number;
    scheme: 'mbr' | 'gpt' | 'none';
    type: string;
    label: string;
    fileSystem: string | null;
    problem: { code: string; message: string } | null;
    entries: number;
  }>;
  volumeProblems: string[];
  /** volumeProblems read back by the API (core's volumeIssueOf), in the same order. */
  volumeIssues: Array<{ kind: 'note' | 'problem'; where: string; code: string | null; message: string }>;
  /** Absent from an API before migration 0240. */
  mediaDamaged?: boolean;
  ewfHeader: Record<string, unknown> | null;
  storedHashes: { md5?: string; sha1?: string } | null;
  computedHashes: { md5: string; sha1: string; sha256: string } | null;
  integrity: 'verified' | 'mismatch' | 'no-reference' | 'failed' | 'pending';
  mismatches: string[];
  integrityDetail: string | null;
}
export interface CustodyEntry {
  seq: number;
  time: string;
  actor: string;
  action: string;
  subject: { caseId: string; evidenceId: string; blobName?: string; fileId?: string; sha256?: string };
  details: Record<string, unknown>;
  tools: ToolVersion[];
  hash: string;
  prevHash: string;
  keyId: string;
}
export interface CustodyVerification {
  caseId: string;
  verifiedAt: string;
  ok: boolean;
  notes?: string[];
  items: Array<{
    evidenceId: string;
    ok: boolean;
    verifiedEntries: number;
    lastSeq: number | null;
    headHash: string | null;
    firstBreak: { reason: string; seq: number | null; detail: string } | null;
    evidence: Array<{ blobName: string; ok: boolean; recordedSha256: string; actualSha256: string | null }>;
    evidenceChecked?: boolean;
    entries?: CustodyEntry[];
  }>;
}
export interface Assignment {
  caseId: string;
  user: string;
  /** The Entra object id the assignment is bound to (first sign-in); absent while unbound and for local users. */
  objectId?: string;
  role: string | null;
  assignedBy: string;
  assignedAt: string;
}
export interface RejectedBlob {
  container: string;
  blobName: string;
  size: number;
  reason: string;
  detail: string;
  firstSeenAt: string;
  lastSeenAt: string;
  seenCount: number;
}
