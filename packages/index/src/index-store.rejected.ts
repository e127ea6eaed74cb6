import { canonicalEtag, ExhibitError, type NewRejectedBlob, type RejectedBlob } from '@exhibit/core';
import { clampDetail, type Row } from './index-store.rows.js';

/** Default and largest page of rejected blobs, as for search. */
export const REJECTED_DEFAULT_LIMIT = 50;
export const REJECTED_MAX_LIMIT = 500;

const COLUMNS = 'container, blob_name, etag, size, last_modified, reason, detail, first_seen_at, last_seen_at, seen_count';

/**
 * First sighting inserts; any later one (the watcher's next pass, a
 * redelivered event) only counts and moves last_seen_at, keeping the first
 * reason and detail. GREATEST: a server clock stepping back must not make
 * the last sighting look older than it was. Keyed by the name's SHA-256
 * (migration 0105): a name that is not evidence can be any length.
 */
export const RECORD_REJECTED_SQL = `
  INSERT INTO rejected_blobs AS r (container, blob_name, etag, size, last_modified, reason, detail)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (container, blob_name_sha256, etag) DO UPDATE
     SET last_seen_at = GREATEST(r.last_seen_at, now()),
         seen_count = r.seen_count + 1
  RETURNING ${COLUMNS}`;

export function recordRejectedParams(blob: NewRejectedBlob): unknown[] {
  if (!Number.isSafeInteger(blob.size) || blob.size < 0) {
    throw new ExhibitError('invalid-argument', `rejected blob size must be a non-negative integer, got ${blob.size}`);
  }
  // One form, whichever spelling the caller had (a listing gives ETags unquoted): see canonicalEtag.
  return [blob.container, blob.blobName, canonicalEtag(blob.etag), blob.size, blob.lastModified, blob.reason, clampDetail(blob.detail)];
}

/** Newest first; the rest of the key makes the order total, so pages never overlap. */
export function listRejectedQuery(page: { limit?: number; offset?: number }): { countSql: string; pageSql: string; pageParams: unknown[] } {
  const limit = page.limit ?? REJECTED_DEFAULT_LIMIT;
  const offset = page.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1) throw new ExhibitError('invalid-argument', 'limit must be a positive integer');
  if (!Number.isInteger(offset) || offset < 0) throw new ExhibitError('invalid-argument', 'offset must be a non-negative integer');
  return {
    countSql: 'SELECT count(*)::int AS total FROM rejected_blobs',
    pageSql: `SELECT ${COLUMNS} FROM rejected_blobs
               ORDER BY first_seen_at DESC, container COLLATE "C", blob_name COLLATE "C", etag COLLATE "C"
               LIMIT $1 OFFSET $2`,
    pageParams: [Math.min(limit, REJECTED_MAX_LIMIT), offset],
  };
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

export function toRejectedBlob(r: Row): RejectedBlob {
  return {
    container: String(r.container),
    blobName: String(r.blob_name),
    etag: String(r.etag),
    size: Number(r.size),
    lastModified: iso(r.last_modified),
    reason: String(r.reason) as RejectedBlob['reason'],
    detail: String(r.detail),
    firstSeenAt: iso(r.first_seen_at),
    lastSeenAt: iso(r.last_seen_at),
    seenCount: Number(r.seen_count),
  };
}
