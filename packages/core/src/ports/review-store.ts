import type { ContentRecord, FileRecord, SearchQuery } from './index-store.js';

/** A search filter without paging and order: what map, timeline and export aggregate over. */
export type ReviewFilter = Omit<SearchQuery, 'sort' | 'order' | 'limit' | 'offset' | 'after' | 'countCap'>;

/** One grid cell of the map with the files in it. */
export interface MapCluster {
  /** Mean position of the cell's files. */
  lat: number;
  lon: number;
  count: number;
  /** [minLon, minLat, maxLon, maxLat] of the cell's files. */
  bbox: [number, number, number, number];
  /** The file, when the cell holds exactly one. */
  fileId: string | null;
  sha256: string | null;
}

export interface MapResult {
  cellDeg: number;
  /** Files with a usable GPS position matching the filter. */
  total: number;
  clusters: MapCluster[];
  /** More cells than maxClusters: only the fullest were returned. */
  truncated: boolean;
}

export const TIMELINE_BUCKETS = ['minute', 'hour', 'day', 'week', 'month', 'year'] as const;
export type TimelineBucket = (typeof TIMELINE_BUCKETS)[number];

export interface TimelineResult {
  bucket: TimelineBucket;
  /** Start of the first bucket, recorded wall clock 'YYYY-MM-DDTHH:MM:SS'; null when no file has a capture time. */
  from: string | null;
  /** End of the last bucket (exclusive). */
  to: string | null;
  /** Non-empty buckets in time order. */
  buckets: Array<{ start: string; end: string; withOffset: number; withoutOffset: number }>;
  total: number;
  withTakenAt: number;
  withoutTakenAt: number;
}

/** A tag (bookmark) on one file of a case, with a free-text note. */
export interface FileTag {
  tagId: string;
  caseId: string;
  fileId: string;
  evidenceId: string;
  path: string;
  sha256: string | null;
  tag: string;
  note: string;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

/** One row of an export: the file, its content and its tags. */
export interface ExportRow {
  file: FileRecord;
  content: ContentRecord | null;
  tags: FileTag[];
}

/** Where a keyset page of an export ends (path order). */
export interface ExportCursor {
  lowerPath: string;
  path: string;
  fileId: string;
}

/** A custody entry as the supervisors' access screen lists it (from the index copy of the logs). */
export interface AccessEvent {
  time: string;
  actor: string;
  action: string;
  evidenceId: string;
  seq: number;
  fileId: string | null;
  sha256: string | null;
  path: string | null;
  details: Record<string, unknown>;
}

export interface AccessEventQuery {
  caseId: string;
  user?: string;
  fileId?: string;
  sha256?: string;
  actions: string[];
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

export interface ExportRecord {
  exportId: string;
  caseId: string;
  format: string;
  sha256: string;
  bytes: number;
  items: number;
  producedBy: string;
  producedAt: string;
  /**
   * False when the export stopped before its end (the caller went away, a read failed, access was
   * revoked): sha256/bytes/items are of what was sent, not a whole report.
   */
  complete: boolean;
  /** Why it stopped early, when the server knows ('access-revoked'); absent otherwise. */
  stoppedBy?: string;
  /** Files the export was to hold (counted when it started); absent in entries written before it was recorded. */
  planned?: number;
}

/**
 * What the review app reads and writes beyond search: aggregates computed in
 * SQL, tags, exports paged by keyset, and the index copy of the custody logs.
 * Errors: ExhibitError 'invalid-argument', 'not-found', 'conflict' (a tag
 * the file already has), 'storage-unavailable' (retryable).
 */
export interface ReviewStore {
  mapClusters(filter: ReviewFilter & { cellDeg: number; maxClusters: number }): Promise<MapResult>;
  timeline(filter: ReviewFilter & { bucket?: TimelineBucket; maxBuckets: number }): Promise<TimelineResult>;
  /** How many files an export of this filter would hold (counted up to `cap + 1`). */
  countFiles(filter: ReviewFilter, cap: number): Promise<number>;
  /** A page of files in path order after `after`, with their content and tags. */
  exportPage(filter: ReviewFilter, after: ExportCursor | null, limit: number): Promise<{ rows: ExportRow[]; next: ExportCursor | null }>;

  listTags(query: { caseId: string; fileId?: string; tag?: string; limit: number; offset: number }): Promise<{ total: number; items: FileTag[]; counts: Array<{ tag: string; count: number }> }>;
  getTag(caseId: string, tagId: string): Promise<FileTag | null>;
  addTag(tag: { caseId: string; fileId: string; tag: string; note: string; by: string }): Promise<FileTag>;
  updateTag(caseId: string, tagId: string, patch: { tag?: string; note?: string; by: string }): Promise<{ before: FileTag; after: FileTag }>;
  removeTag(caseId: string, tagId: string): Promise<FileTag>;
  /** Puts a removed tag back exactly as it was (undoing a remove whose custody entry could not be written). */
  restoreTag(tag: FileTag): Promise<void>;

  accessEvents(query: AccessEventQuery): Promise<{ total: number; items: AccessEvent[]; byActor: Array<{ actor: string; action: string; count: number; last: string }> }>;
  /** The custody 'export' entry of an export, read back from the index copy. */
  getExport(caseId: string, exportId: string): Promise<ExportRecord | null>;
}
