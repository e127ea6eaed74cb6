import { createHash } from 'node:crypto';
import { LIMITS } from './limits.js';

/** A segment of a split image as recorded with it (disk_images.segments, custody): its blob name, size and the ETag read. */
export interface RecordedImageSegment {
  name: string;
  size: number;
  etag: string | null;
}

/** How `segmentListSha256` is computed, recorded beside it so the entry says how to check it. */
export const SEGMENT_LIST_DIGEST_CONSTRUCTION =
  'sha256 of the UTF-8 of RFC 8785 JSON of the segments in order: [{"etag":…,"name":…,"size":…},…] (docs/disk-images.md, "Many segments")';

/** Names kept from each end of the list when the whole list does not fit (fewer when long names would not fit either). */
export const SEGMENT_LIST_EXCERPT_NAMES = 3;

/**
 * The canonical serialisation of a segment list (docs/disk-images.md, "Many segments"): RFC 8785
 * JSON of `[{etag, name, size}, …]` in the image's order. For this shape it is exactly
 * JSON.stringify with the keys in that (sorted) order: strings and integers serialise the same.
 */
export function segmentListCanonicalJson(segments: readonly RecordedImageSegment[]): string {
  return JSON.stringify(segments.map((s) => ({ etag: s.etag, name: s.name, size: s.size })));
}

export function segmentListSha256(segments: readonly RecordedImageSegment[]): string {
  return createHash('sha256').update(segmentListCanonicalJson(segments), 'utf8').digest('hex');
}

/** The segment list in digest form: what a custody entry records of a list over its budget. */
export interface SegmentListDigest {
  segmentCount: number;
  segmentListSha256: string;
  segmentListDigest: string;
  firstSegments: string[];
  lastSegments: string[];
}

/**
 * What a custody entry (`unpacked`, `image-hash-*`) records of a split image's segments: the
 * whole list while its JSON is within `budgetBytes` (LIMITS.maxCustodySegmentListBytes), as
 * before; past it (1,400 segments, or 25 of 1,000-character CJK names, would make the entry
 * over the log's 64 KiB and refused) the count, the digest of the whole list and the first and
 * last names, never more than the budget. The index keeps the whole list (disk_images.segments)
 * to check the digest against.
 */
export function custodySegmentList(
  segments: readonly RecordedImageSegment[],
  budgetBytes: number = LIMITS.maxCustodySegmentListBytes,
): { segments: RecordedImageSegment[] } | SegmentListDigest {
  if (Buffer.byteLength(segmentListCanonicalJson(segments), 'utf8') <= budgetBytes) return { segments: segments.map((s) => ({ ...s })) };
  const names = segments.map((s) => s.name);
  const base = { segmentCount: segments.length, segmentListSha256: segmentListSha256(segments), segmentListDigest: SEGMENT_LIST_DIGEST_CONSTRUCTION };
  // Hostile names may be long: fewer names from each end rather than an entry the log refuses.
  for (let n = Math.min(SEGMENT_LIST_EXCERPT_NAMES, Math.floor(names.length / 2)); n > 0; n -= 1) {
    const excerpt = { ...base, firstSegments: names.slice(0, n), lastSegments: names.slice(-n) };
    if (Buffer.byteLength(JSON.stringify(excerpt), 'utf8') <= budgetBytes) return excerpt;
  }
  return { ...base, firstSegments: [], lastSegments: [] };
}
