import type {
  ArchiveTimes,
  BlobRef,
  ContentSource,
  ContentRecord,
  FileFailure,
  FileRecord,
  MediaMetadata,
  UploadRecord,
} from '@exhibit/core';
import { escapeLoneSurrogates } from '@exhibit/core';

/**
 * PostgreSQL text and jsonb cannot hold U+0000, yet names and tags read from
 * evidence can. It is stored as U+2400 (SYMBOL FOR NULL), visible to the
 * examiner, instead of failing the whole write.
 *
 * Text decoded from UTF-16 in evidence can hold a lone surrogate, which has no
 * UTF-8 form: as a text parameter the driver would store U+FFFD (a wrong
 * value), and inside JSON jsonb refuses the whole write. The stages escape it
 * where they decode (names, labels, EWF headers); this is the safety net for
 * anything that reaches the index unescaped: `\u{d800}`, the same visible
 * form. Both replacements are idempotent, so text cleaned twice (a jsonb
 * parameter is cleaned inside toJson and again as a bound string) is not
 * escaped twice.
 */
export const NUL_REPLACEMENT = '\u2400';

export function cleanText(value: string): string {
  const noNul = value.includes('\0') ? value.replaceAll('\0', NUL_REPLACEMENT) : value;
  return escapeLoneSurrogates(noNul);
}

/** Bound parameters with every string cleaned; arrays of strings too. */
export function cleanParams(params: unknown[]): unknown[] {
  return params.map((p) => (typeof p === 'string' ? cleanText(p) : Array.isArray(p) ? p.map((v) => (typeof v === 'string' ? cleanText(v) : v)) : p));
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[cleanText(k)] = jsonSafe(v);
  return out;
}

/** JSON text for a jsonb parameter (always text: node-postgres would turn a JS array into a PostgreSQL array). */
export function toJson(value: unknown): string {
  return JSON.stringify(jsonSafe(value) ?? null);
}

/** Longest failure detail kept; tool output can be arbitrarily long. */
export const MAX_FAILURE_DETAIL_CHARS = 4000;

export function clampDetail(detail: string): string {
  return detail.length <= MAX_FAILURE_DETAIL_CHARS ? detail : `${detail.slice(0, MAX_FAILURE_DETAIL_CHARS)}…`;
}

export type Row = Record<string, unknown>;

const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

function blobRef(container: unknown, name: unknown): BlobRef | null {
  return container === null || container === undefined || name === null || name === undefined
    ? null
    : { container: String(container), name: String(name) };
}

function contentSource(container: unknown, name: unknown, offset: unknown): ContentSource | null {
  const ref = blobRef(container, name);
  if (!ref) return null;
  return offset === null || offset === undefined ? ref : { ...ref, offset: num(offset) };
}

function failure(stage: unknown, code: unknown, detail: unknown): FileFailure | null {
  if (code === null || code === undefined) return null;
  return { stage: str(stage), code: str(code), detail: str(detail ?? '') } as FileFailure;
}

export const UPLOAD_COLUMNS = [
  'blob_name', 'case_id', 'evidence_id', 'file_name', 'root_file_id', 'size', 'etag', 'version_id', 'content_type',
  'last_modified', 'received_at', 'acquisition', 'md5', 'sha1', 'sha256', 'integrity', 'mismatches', 'hashed_at',
  'changed_etag', 'changed_size', 'changed_first_seen_at', 'changed_last_seen_at',
] as const;

export const FILE_COLUMNS = [
  'file_id', 'case_id', 'evidence_id', 'parent_id', 'entry_index', 'depth', 'path', 'recorded_name', 'name', 'extension',
  'entry_kind', 'size', 'sha256', 'source_container', 'source_name', 'archive_times', 'flags', 'stage', 'failure_stage',
  'failure_code', 'failure_detail', 'unpack', 'member_count', 'created_at', 'link_target', 'source_offset',
] as const;

export const CONTENT_COLUMNS = [
  'sha256', 'md5', 'sha1', 'size', 'source_container', 'source_name', 'mime', 'detected_ext', 'kind', 'metadata',
  'metadata_status', 'thumbnail_container', 'thumbnail_name', 'thumbnail_source', 'thumbnail_status', 'failure_stage',
  'failure_code', 'failure_detail', 'tools', 'source_offset', 'findings', 'preview_container', 'preview_name',
] as const;

/** `alias.col, ...` or, with a prefix, `alias.col AS prefix_col, ...` (fixed names only, never input). */
export function columnList(columns: readonly string[], alias: string, prefix = ''): string {
  return columns.map((c) => (prefix ? `${alias}.${c} AS ${prefix}${c}` : `${alias}.${c}`)).join(', ');
}

export function toUpload(r: Row): UploadRecord {
  const sha256 = strOrNull(r.sha256);
  return {
    caseId: str(r.case_id),
    evidenceId: str(r.evidence_id),
    blobName: str(r.blob_name),
    fileName: str(r.file_name),
    rootFileId: str(r.root_file_id),
    size: num(r.size),
    etag: str(r.etag),
    versionId: strOrNull(r.version_id),
    contentType: strOrNull(r.content_type),
    lastModified: iso(r.last_modified),
    receivedAt: iso(r.received_at),
    acquisition: (r.acquisition ?? {}) as UploadRecord['acquisition'],
    hashes: sha256 === null ? null : { md5: str(r.md5), sha1: str(r.sha1), sha256 },
    integrity: str(r.integrity) as UploadRecord['integrity'],
    mismatches: (r.mismatches ?? []) as string[],
    hashedAt: isoOrNull(r.hashed_at),
    changedAfterReceipt:
      r.changed_first_seen_at === null || r.changed_first_seen_at === undefined
        ? null
        : {
            etag: str(r.changed_etag ?? ''),
            size: r.changed_size === null || r.changed_size === undefined ? null : num(r.changed_size),
            firstSeenAt: iso(r.changed_first_seen_at),
            lastSeenAt: iso(r.changed_last_seen_at),
          },
  };
}

export function toFile(r: Row): FileRecord {
  return {
    fileId: str(r.file_id),
    caseId: str(r.case_id),
    evidenceId: str(r.evidence_id),
    parentId: strOrNull(r.parent_id),
    entryIndex: numOrNull(r.entry_index),
    depth: num(r.depth),
    path: str(r.path),
    recordedName: str(r.recorded_name),
    name: str(r.name),
    extension: strOrNull(r.extension),
    entryKind: str(r.entry_kind) as FileRecord['entryKind'],
    size: numOrNull(r.size),
    sha256: strOrNull(r.sha256),
    source: contentSource(r.source_container, r.source_name, r.source_offset),
    archiveTimes: (r.archive_times ?? {}) as ArchiveTimes,
    flags: (r.flags ?? []) as FileRecord['flags'],
    stage: str(r.stage) as FileRecord['stage'],
    failure: failure(r.failure_stage, r.failure_code, r.failure_detail),
    unpack: str(r.unpack) as FileRecord['unpack'],
    memberCount: numOrNull(r.member_count),
    createdAt: iso(r.created_at),
    linkTarget: strOrNull(r.link_target),
  };
}

/** Reads a content row, optionally from prefixed columns of a join (`c_sha256`, ...). */
export function toContent(r: Row, prefix = ''): ContentRecord {
  const g = (c: (typeof CONTENT_COLUMNS)[number]) => r[prefix + c];
  return {
    sha256: str(g('sha256')),
    md5: str(g('md5')),
    sha1: str(g('sha1')),
    size: num(g('size')),
    source: contentSource(g('source_container'), g('source_name'), g('source_offset')) as ContentSource,
    mime: strOrNull(g('mime')),
    detectedExt: strOrNull(g('detected_ext')),
    kind: strOrNull(g('kind')) as ContentRecord['kind'],
    metadata: (g('metadata') ?? null) as MediaMetadata | null,
    metadataStatus: str(g('metadata_status')) as ContentRecord['metadataStatus'],
    thumbnail: blobRef(g('thumbnail_container'), g('thumbnail_name')),
    thumbnailSource: strOrNull(g('thumbnail_source')) as ContentRecord['thumbnailSource'],
    thumbnailStatus: str(g('thumbnail_status')) as ContentRecord['thumbnailStatus'],
    embeddedPreview: blobRef(g('preview_container'), g('preview_name')),
    failure: failure(g('failure_stage'), g('failure_code'), g('failure_detail')),
    findings: (g('findings') ?? []) as ContentRecord['findings'],
    tools: (g('tools') ?? {}) as ContentRecord['tools'],
  };
}
