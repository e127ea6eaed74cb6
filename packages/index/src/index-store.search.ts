import { ExhibitError, type SearchQuery, type SortKey } from '@exhibit/core';
import { parseTimeBound } from './index-store.columns.js';
import { CONTENT_COLUMNS, FILE_COLUMNS, columnList } from './index-store.rows.js';

export const SEARCH_DEFAULT_LIMIT = 50;
export const SEARCH_MAX_LIMIT = 500;

/** Escapes LIKE wildcards so user text matches literally (used with ESCAPE '\'). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const HEX = /^[0-9a-f]+$/;

/** Fewest hex digits a hash search takes: 32 bits, so a prefix still names one content among thousands. */
export const HASH_PREFIX_MIN_CHARS = 8;

const DIGEST_CHARS = { md5: 32, sha1: 40, sha256: 64 } as const;

/**
 * A hash search: files whose MD5, SHA-1 or SHA-256 starts with the given hex
 * digits (at least HASH_PREFIX_MIN_CHARS), so a full digest is an exact match
 * and the 12-digit prefix the CLI prints finds its file.
 *
 * Each digest column is searched by a range on its plain b-tree index
 * (`col >= 'ab12cd34' AND col < 'ab12cd34g'`: every lower-case hex string
 * with that prefix sorts inside it, and no other does), so no new index is
 * needed, whatever the database collation; `left(col, n) = prefix` keeps the
 * answer exact even under a collation that orders hex digits oddly.
 */
function hashCondition(raw: string, p: (value: unknown) => string): string {
  const hash = raw.trim().toLowerCase();
  if (!HEX.test(hash)) throw invalid('hash must be hexadecimal (0-9, a-f)');
  if (hash.length < HASH_PREFIX_MIN_CHARS || hash.length > DIGEST_CHARS.sha256) {
    throw invalid(`hash must be ${HASH_PREFIX_MIN_CHARS} to 64 hex digits: an MD5, SHA-1 or SHA-256, or the start of one`);
  }
  if (hash.length === DIGEST_CHARS.sha256) return `f.sha256 = ${p(hash)}`;
  const value = p(hash);
  const upper = p(`${hash}g`);
  const n = p(hash.length);
  const prefixOf = (col: string) => `(${col} >= ${value} AND ${col} < ${upper} AND left(${col}, ${n}::int) = ${value})`;
  const sha256Prefix = prefixOf('f.sha256');
  // MD5 and SHA-1 live on the content row; each arm is an index range scan and the union is tiny.
  const arms: string[] = [];
  if (hash.length === DIGEST_CHARS.md5) arms.push(`SELECT sha256 FROM contents WHERE md5 = ${value}`);
  else if (hash.length < DIGEST_CHARS.md5) arms.push(`SELECT sha256 FROM contents WHERE ${prefixOf('md5')}`);
  if (hash.length === DIGEST_CHARS.sha1) arms.push(`SELECT sha256 FROM contents WHERE sha1 = ${value}`);
  else if (hash.length < DIGEST_CHARS.sha1) arms.push(`SELECT sha256 FROM contents WHERE ${prefixOf('sha1')}`);
  if (arms.length === 0) return sha256Prefix;
  // A file's SHA-256 may precede its content row, so its own column is searched too.
  return `f.sha256 IN (SELECT f2.sha256 FROM files f2 WHERE ${prefixOf('f2.sha256')} UNION ${arms.join(' UNION ')})`;
}

/**
 * Sort expressions, by byte order ("C" collation) so the same query returns
 * the same order on every server whatever its locale. Taken-at sorts known
 * instants and unzoned wall clocks on one axis, reading the latter as UTC: an
 * approximation, but a stable one.
 */
const SORT_SQL: Record<SortKey, string[]> = {
  path: ['lower(f.path) COLLATE "C"', 'f.path COLLATE "C"'],
  name: ['lower(f.name) COLLATE "C"', 'f.name COLLATE "C"'],
  size: ['f.size'],
  takenAt: ["COALESCE(c.taken_at_utc AT TIME ZONE 'UTC', c.taken_at_local_ts)"],
  sha256: ['f.sha256'],
  mime: ['c.mime COLLATE "C"'],
  added: ['f.created_at'],
};

export interface BuiltSearch {
  countSql: string;
  pageSql: string;
  params: unknown[];
  pageParams: unknown[];
}

function invalid(message: string): ExhibitError {
  return new ExhibitError('invalid-argument', message);
}

/** A filter as SQL: conditions on `files f LEFT JOIN contents c`, with their bound parameters. */
export interface BuiltFilter {
  where: string[];
  params: unknown[];
  /** Binds one more value, returning its placeholder. */
  p: (value: unknown) => string;
}

/** Wall clock 'YYYY-MM-DD[THH:MM[:SS[.fff]]]' (no offset: the recorded time itself) for a timestamp parameter. */
function wallClockBound(text: string, name: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?$/.exec(text.trim());
  if (!m) throw invalid(`${name} must be a recorded wall-clock time YYYY-MM-DD[THH:MM[:SS]] without an offset`);
  const iso = `${m[1]}T${m[2] ?? '00:00'}`;
  if (Number.isNaN(Date.parse(`${iso}Z`)) || new Date(`${iso}Z`).toISOString().slice(0, 10) !== m[1]) throw invalid(`${name} is not a real date`);
  return `${m[1]} ${m[2] ?? '00:00:00'}`;
}

const KNOWN_KIND = { bad: 'known-bad', notable: 'notable', good: 'known-good' } as const;

/** Files whose content matches an enabled set in force of one of these kinds (migration 0020). */
export function matchedAs(kinds: string[]): string {
  return `EXISTS (SELECT 1 FROM hash_set_matches m JOIN hash_sets s ON s.set_id = m.set_id
                   WHERE m.sha256 = f.sha256 AND s.enabled AND s.state = 'active' AND s.kind IN (${kinds.map((k) => `'${k}'`).join(', ')}))`;
}

/**
 * The hash-set filter, and the default that hides known-good files: a file
 * in a known-good set is left out unless it is also in a known-bad or
 * notable set (a bad match always shows), or the caller asks for it.
 */
function knownConditions(q: Pick<SearchQuery, 'known' | 'includeKnownGood'>): string[] {
  if (q.known !== undefined) {
    if (q.known === 'unknown') return [`NOT ${matchedAs(['known-bad', 'notable', 'known-good'])}`];
    const kind = KNOWN_KIND[q.known];
    if (!kind) throw invalid('known must be bad, notable, good or unknown');
    return [matchedAs([kind])];
  }
  if (q.includeKnownGood === true) return [];
  return [`(NOT ${matchedAs(['known-good'])} OR ${matchedAs(['known-bad', 'notable'])})`];
}


/** Turns the filter part of a SearchQuery into SQL with every value bound; only fixed fragments are concatenated. */
export function buildFilter(q: Omit<SearchQuery, 'sort' | 'order' | 'limit' | 'offset'>): BuiltFilter {
  if (typeof q.caseId !== 'string' || q.caseId === '') throw invalid('search needs a caseId');
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where: string[] = [`f.case_id = ${p(q.caseId)}`];

  if (q.evidenceId !== undefined) where.push(`f.evidence_id = ${p(q.evidenceId)}`);
  if (q.kind !== undefined) where.push(`c.kind = ${p(q.kind)}`);
  if (q.mime !== undefined) {
    const mime = q.mime.trim().toLowerCase();
    // `image/*` means any image type.
    if (mime.endsWith('/*')) where.push(`lower(c.mime) LIKE ${p(escapeLike(mime.slice(0, -1)) + '%')} ESCAPE '\\'`);
    else where.push(`lower(c.mime) = ${p(mime)}`);
  }
  if (q.takenFrom !== undefined) {
    const b = parseTimeBound(q.takenFrom, 'from');
    where.push(
      `(c.taken_at_utc >= ${p(b.instant)}::timestamptz OR (c.taken_at_utc IS NULL AND c.taken_at_local_ts >= ${p(b.wallClock)}::timestamp))`,
    );
  }
  if (q.takenTo !== undefined) {
    const b = parseTimeBound(q.takenTo, 'to');
    const op = b.exclusive ? '<' : '<=';
    where.push(
      `(c.taken_at_utc ${op} ${p(b.instant)}::timestamptz OR (c.taken_at_utc IS NULL AND c.taken_at_local_ts ${op} ${p(b.wallClock)}::timestamp))`,
    );
  }
  // Case-insensitive prefix: "canon" finds "Canon", "Canon Inc." and "CANON".
  if (q.make !== undefined) where.push(`lower(c.make) LIKE lower(${p(escapeLike(q.make.trim()) + '%')}) ESCAPE '\\'`);
  if (q.model !== undefined) where.push(`lower(c.model) LIKE lower(${p(escapeLike(q.model.trim()) + '%')}) ESCAPE '\\'`);
  if (q.hasGps === true) where.push('c.gps_lat IS NOT NULL');
  if (q.hasGps === false) where.push('c.gps_lat IS NULL');
  if (q.bbox !== undefined) {
    const [minLon, minLat, maxLon, maxLat] = q.bbox;
    const ok = (v: unknown, lim: number) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= lim;
    if (q.bbox.length !== 4 || !ok(minLon, 180) || !ok(maxLon, 180) || !ok(minLat, 90) || !ok(maxLat, 90) || minLat > maxLat) {
      throw invalid('bbox must be [minLon, minLat, maxLon, maxLat] in degrees');
    }
    where.push(`c.gps_lat BETWEEN ${p(minLat)}::float8 AND ${p(maxLat)}::float8`);
    // A box whose west edge is east of its east edge crosses the antimeridian.
    if (minLon <= maxLon) where.push(`c.gps_lon BETWEEN ${p(minLon)}::float8 AND ${p(maxLon)}::float8`);
    else where.push(`(c.gps_lon >= ${p(minLon)}::float8 OR c.gps_lon <= ${p(maxLon)}::float8)`);
  }
  if (q.hash !== undefined) where.push(hashCondition(q.hash, p));
  if (q.pathText !== undefined && q.pathText !== '') {
    where.push(`lower(f.path) LIKE lower(${p('%' + escapeLike(q.pathText) + '%')}) ESCAPE '\\'`);
  }
  if (q.extMismatch === true) where.push(`'ext-mismatch' = ANY (f.flags)`);
  if (q.extMismatch === false) where.push(`NOT ('ext-mismatch' = ANY (f.flags))`);
  if (q.stage !== undefined) where.push(`f.stage = ${p(q.stage)}`);
  if (q.takenLocalFrom !== undefined) where.push(`c.taken_at_local_ts >= ${p(wallClockBound(q.takenLocalFrom, 'takenLocalFrom'))}::timestamp`);
  if (q.takenLocalTo !== undefined) where.push(`c.taken_at_local_ts < ${p(wallClockBound(q.takenLocalTo, 'takenLocalTo'))}::timestamp`);
  // With an offset the instant is known (taken_at_utc); without one only the wall clock is.
  if (q.takenOffset === 'recorded') where.push('c.taken_at_utc IS NOT NULL');
  else if (q.takenOffset === 'missing') where.push('c.taken_at_utc IS NULL AND c.taken_at_local_ts IS NOT NULL');
  else if (q.takenOffset !== undefined) throw invalid('takenOffset must be recorded or missing');
  // Both read files_case_sha256_idx: the other occurrences of the same content in this case.
  if (q.duplicates === 'only') {
    where.push('f.sha256 IS NOT NULL AND EXISTS (SELECT 1 FROM files d WHERE d.case_id = f.case_id AND d.sha256 = f.sha256 AND d.file_id <> f.file_id)');
  } else if (q.duplicates === 'collapse') {
    where.push('(f.sha256 IS NULL OR NOT EXISTS (SELECT 1 FROM files d WHERE d.case_id = f.case_id AND d.sha256 = f.sha256 AND d.file_id < f.file_id))');
  } else if (q.duplicates !== undefined) throw invalid('duplicates must be only or collapse');
  if (q.tag !== undefined) where.push(`EXISTS (SELECT 1 FROM file_tags t WHERE t.case_id = f.case_id AND t.file_id = f.file_id AND t.tag = ${p(q.tag)})`);
  if (q.tagged === true) where.push('EXISTS (SELECT 1 FROM file_tags t WHERE t.case_id = f.case_id AND t.file_id = f.file_id)');
  if (q.tagged === false) where.push('NOT EXISTS (SELECT 1 FROM file_tags t WHERE t.case_id = f.case_id AND t.file_id = f.file_id)');
  where.push(...knownConditions(q));
  return { where, params, p };
}

/** Turns a SearchQuery into SQL with every value bound; only fixed fragments are concatenated. */
export function buildSearch(q: SearchQuery): BuiltSearch {
  const { where, params } = buildFilter(q);
  const limit = q.limit ?? SEARCH_DEFAULT_LIMIT;
  const offset = q.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
  if (!Number.isInteger(offset) || offset < 0) throw invalid('offset must be a non-negative integer');
  const sort = q.sort ?? 'path';
  const sortExprs = SORT_SQL[sort];
  if (!sortExprs) throw invalid(`unknown sort key ${JSON.stringify(sort)}`);
  const dir = q.order === 'desc' ? 'DESC' : 'ASC';
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw invalid('order must be asc or desc');
  // Files without a value sort last either way; file_id makes the order total, so pages never overlap.
  const orderBy = [...sortExprs.map((e) => `${e} ${dir} NULLS LAST`), `f.file_id ${dir}`].join(', ');

  const from = `FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE ${where.join(' AND ')}`;
  const pageParams = [...params, Math.min(limit, SEARCH_MAX_LIMIT), offset];
  return {
    countSql: `SELECT count(*)::int AS total ${from}`,
    pageSql:
      `SELECT ${columnList(FILE_COLUMNS, 'f')}, ${columnList(CONTENT_COLUMNS, 'c', 'c_')} ${from} ` +
      `ORDER BY ${orderBy} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    params,
    pageParams,
  };
}
