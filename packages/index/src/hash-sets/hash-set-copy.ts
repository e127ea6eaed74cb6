import type { HashSetRow } from './hash-set.types.js';

/** Escapes a value for PostgreSQL's COPY text format. */
function copyText(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

const hex = (h: string | null) => (h === null ? '\\N' : `\\\\x${h}`);

/** Columns of hash_set_hashes a chunk fills (set_id comes from the partition's default). */
export const COPY_COLUMNS = 'md5, sha1, sha256, category, size, extra, pdq, pdq_quality';

/** One row in COPY text format; digests are already checked lower-case hex. */
export function copyLine(row: HashSetRow): string {
  return [
    hex(row.md5),
    hex(row.sha1),
    hex(row.sha256),
    row.category === null ? '\\N' : String(row.category),
    row.size === null ? '\\N' : String(row.size),
    row.extra === null ? '\\N' : copyText(JSON.stringify(row.extra)),
    // bit(256)'s input reads an x-prefixed hex string.
    row.pdq ? `x${row.pdq}` : '\\N',
    row.pdqQuality === null || row.pdqQuality === undefined ? '\\N' : String(row.pdqQuality),
  ].join('\t') + '\n';
}
