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

/** How a sort key part is written into a cursor (text) and read back into SQL. */
type KeyPart = 'text' | 'int' | 'ts' | 'tstz';

/** The capture instant on one axis (see SORT_SQL); also the expression of migration 0090's index. */
const TAKEN_SQL = "COALESCE(c.taken_at_utc AT TIME ZONE 'UTC', c.taken_at_local_ts)";

/**
 * The indexed prefix of a path (migration 0091's files_path_sort_idx): the
 * first PATH_SORT_PREFIX_CHARS characters of lower(path), in byte order. An
 * index row cannot hold a whole path (hostile member names nest to tens of
 * KB), so path order sorts by this first: in the "C" collation a prefix order
 * agrees with the full order, so the order is the same, and the index serves it.
 */
export const PATH_SORT_PREFIX_CHARS = 512;
export const PATH_PREFIX_SQL = (path: string): string => `left(lower(${path}), ${PATH_SORT_PREFIX_CHARS}) COLLATE "C"`;

/**
 * Sort expressions, by byte order ("C" collation) so the same query returns
 * the same order on every server whatever its locale. Taken-at sorts known
 * instants and unzoned wall clocks on one axis, reading the latter as UTC: an
 * approximation, but a stable one. `nullable`: files without a value sort
 * last either way (only single-expression sorts have them). A page's position
 * (SearchAfter.key) is one value, `key`, from which `fromKey` remakes every
 * sort expression in SQL (lower() of a path as the database computes it).
 */
interface SortSpec {
  exprs: string[];
  key: string;
  part: KeyPart;
  nullable: boolean;
  fromKey?: (value: string) => string[];
  /**
   * The value is the content's: a valued row has a content row. Said as
   * `c.sha256 IS NOT NULL` after a position, so the planner can make the left
   * join an inner one and range the content-side index (a COALESCE or a
   * collation is not a strict condition it can infer that from).
   */
  contentSide?: true;
}
const SORT_SQL: Record<SortKey, SortSpec> = {
  path: {
    exprs: [PATH_PREFIX_SQL('f.path'), 'lower(f.path) COLLATE "C"', 'f.path COLLATE "C"'],
    key: 'f.path',
    part: 'text',
    nullable: false,
    fromKey: (v) => [PATH_PREFIX_SQL(v), `lower(${v}) COLLATE "C"`, `${v} COLLATE "C"`],
  },
  name: { exprs: ['lower(f.name) COLLATE "C"', 'f.name COLLATE "C"'], key: 'f.name', part: 'text', nullable: false, fromKey: (v) => [`lower(${v}) COLLATE "C"`, `${v} COLLATE "C"`] },
  size: { exprs: ['f.size'], key: 'f.size', part: 'int', nullable: true },
  takenAt: { exprs: [TAKEN_SQL], key: TAKEN_SQL, part: 'ts', nullable: true, contentSide: true },
  sha256: { exprs: ['f.sha256'], key: 'f.sha256', part: 'text', nullable: true },
  mime: { exprs: ['c.mime COLLATE "C"'], key: 'c.mime', part: 'text', nullable: true, contentSide: true },
  added: { exprs: ['f.created_at'], key: 'f.created_at', part: 'tstz', nullable: false },
};

/** Microseconds, and the era, so every value PostgreSQL holds reads back exactly. */
const TS_FORMAT = "'YYYY-MM-DD HH24:MI:SS.US BC'";
const TS_TEXT = /^(\d{4,6})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.\d{6} (AD|BC)$/;
/**
 * Longest text key part taken back. A member path can be longer (names of up
 * to LIMITS.maxEntryNameBytes, nested): a longer key is left out of
 * SearchResult.next, whose position is then the row itself (read back by
 * fileId, positionSql).
 */
export const MAX_KEY_TEXT = 16_384;

/** A sort key part as text, so a timestamp keeps its microseconds (a JS Date would not). */
function keyText(expr: string, part: KeyPart): string {
  if (part === 'int') return `(${expr})::text`;
  if (part === 'ts') return `to_char(${expr}, ${TS_FORMAT})`;
  if (part === 'tstz') return `to_char(${expr} AT TIME ZONE 'UTC', ${TS_FORMAT})`;
  return `(${expr})`;
}

/** A key part read back: checked here, so a bad value is a 400, never a wrong page or a SQL error. */
function keyValue(value: unknown, part: KeyPart, placeholder: (v: unknown) => string, readBack: boolean): string {
  const bad = () => invalid('after: the sort key does not fit this sort');
  if (typeof value !== 'string') throw bad();
  if (part === 'text') {
    // A key read back from its row (positionSql) is the database's own, however long.
    if (value.length > MAX_KEY_TEXT && !readBack) throw bad();
    // The expression's own collation applies ("C" where the sort says so).
    return `${placeholder(value)}::text`;
  }
  if (part === 'int') {
    if (!/^-?\d{1,18}$/.test(value)) throw bad();
    return `${placeholder(value)}::bigint`;
  }
  const m = TS_TEXT.exec(value);
  if (!m || !realDate(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) throw bad();
  return part === 'ts' ? `${placeholder(value)}::timestamp` : `(${placeholder(value)}::timestamp AT TIME ZONE 'UTC')`;
}

/** A day of the proleptic Gregorian calendar (PostgreSQL's). */
function realDate(year: number, month: number, day: number): boolean {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

/** One query of a page: its SQL ends in `LIMIT $n`, n being one past `params` (the rows still wanted). */
export interface SearchSegment {
  sql: string;
  params: unknown[];
}

export interface BuiltSearch {
  /** Exact count of the matches. */
  countSql: string;
  /** Count up to one past the cap (its one parameter after `params`). */
  boundedCountSql: string;
  params: unknown[];
  /**
   * The page: run in order, each asked for the rows still wanted (limit + 1:
   * the extra row says whether a next page exists), until that many are read.
   */
  segments: SearchSegment[];
  /** Page size (clamped to SEARCH_MAX_LIMIT). */
  limit: number;
  /**
   * Without `after`: the bounded count and the page's fileIds in one pass
   * (parameters after `params`: the cap + 1, the offset, the rows wanted).
   * The matches are read once, up to the cap + 1, with their sort values;
   * when they are no more than the cap they are the whole result, and its
   * page is sorted from them (`ids`), its rows then read by id (`byIdSql`).
   */
  countedPageSql: string | null;
  /** A page's rows by fileId ($1 the case, $2 the ids), in no order. */
  byIdSql: string;
  /**
   * For a position without its key (SearchAfter.key absent): the row's sort
   * value as text, column k ($1 the case, $2 the fileId; no row when the file
   * is not in the case). The page is then built again with that key, in the
   * same snapshot; `segments` is empty until then.
   */
  positionSql: string | null;
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
export function buildFilter(q: Omit<SearchQuery, 'sort' | 'order' | 'limit' | 'offset' | 'after' | 'countCap'>): BuiltFilter {
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
  // Each bound also bounds the taken-at axis (TAKEN_SQL: the instant as UTC
  // when known, else the wall clock) by the looser of its two readings: a
  // condition every match already meets, which adds no answer and removes
  // none, but is one range of contents_taken_axis_idx (migration 0090).
  if (q.takenFrom !== undefined) {
    const b = parseTimeBound(q.takenFrom, 'from');
    const instant = p(b.instant);
    const wall = p(b.wallClock);
    where.push(`(c.taken_at_utc >= ${instant}::timestamptz OR (c.taken_at_utc IS NULL AND c.taken_at_local_ts >= ${wall}::timestamp))`);
    where.push(`${TAKEN_SQL} >= LEAST(${instant}::timestamptz AT TIME ZONE 'UTC', ${wall}::timestamp)`);
  }
  if (q.takenTo !== undefined) {
    const b = parseTimeBound(q.takenTo, 'to');
    const op = b.exclusive ? '<' : '<=';
    const instant = p(b.instant);
    const wall = p(b.wallClock);
    where.push(`(c.taken_at_utc ${op} ${instant}::timestamptz OR (c.taken_at_utc IS NULL AND c.taken_at_local_ts ${op} ${wall}::timestamp))`);
    where.push(`${TAKEN_SQL} ${op} GREATEST(${instant}::timestamptz AT TIME ZONE 'UTC', ${wall}::timestamp)`);
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

/** Every sort key, in SORT_SQL's order (the review summary keeps positions for each). */
export const SORT_KEYS = Object.keys(SORT_SQL) as SortKey[];

/**
 * A sort as the review summary's position index (review-summary.ts) computes
 * it over `files f LEFT JOIN contents c`: the ascending order of a search
 * (the same expressions, so the same total order; descending is its exact
 * reverse within the valued rows and within the empty ones), the key as a
 * page's position carries it, and whether a row has a value.
 */
export function sortPositionSql(sortKey: SortKey): { ascOrder: string; keyText: string; hasValue: string; nullable: boolean } {
  const sort = SORT_SQL[sortKey];
  if (!sort) throw invalid(`unknown sort key ${JSON.stringify(sortKey)}`);
  const ascOrder = sort.nullable
    ? [...sort.exprs.map((e) => `${e} ASC NULLS LAST`), 'f.file_id ASC'].join(', ')
    : [...sort.exprs.map((e) => `${e} ASC`), 'f.file_id ASC'].join(', ');
  // A sort without empty values orders every row as valued (search adds no NULLS LAST to it).
  return { ascOrder, keyText: keyText(sort.key, sort.part), hasValue: sort.nullable ? `(${sort.exprs[0]}) IS NOT NULL` : 'true', nullable: sort.nullable };
}

/**
 * Turns a SearchQuery into SQL with every value bound; only fixed fragments
 * are concatenated. `readBack`: q.after.key was read from its row (positionSql).
 * `jump` (only with `after`), for a page that starts after a stored position
 * (review-summary.ts jumpStart): `skips`, the rows each keyset segment skips
 * first (OFFSET); `until`, the sort key of a stored row at or past the page's
 * last wanted row, which bounds the valued segment on its far side too (a
 * condition every wanted row meets, so no answer changes), so the planner
 * sees a short range instead of the rest of the case.
 */
export function buildSearch(q: SearchQuery, readBack = false, jump: { skips?: readonly number[]; until?: string } = {}): BuiltSearch {
  const skips = jump.skips ?? [];
  const { where, params } = buildFilter(q);
  const limit = q.limit ?? SEARCH_DEFAULT_LIMIT;
  const offset = q.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
  if (!Number.isInteger(offset) || offset < 0) throw invalid('offset must be a non-negative integer');
  const sort = SORT_SQL[q.sort ?? 'path'];
  if (!sort) throw invalid(`unknown sort key ${JSON.stringify(q.sort)}`);
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw invalid('order must be asc or desc');
  const desc = q.order === 'desc';
  const dir = desc ? 'DESC' : 'ASC';
  const from = `FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE ${where.join(' AND ')}`;
  // The row's position for the next page (SearchResult.next) as text: column k.
  const select = `SELECT ${columnList(FILE_COLUMNS, 'f')}, ${columnList(CONTENT_COLUMNS, 'c', 'c_')}, ${keyText(sort.key, sort.part)} AS k`;

  /** One page query: the filter, `extra` conditions (bound through their own `p`), this order. */
  const segment = (extra: (p: (v: unknown) => string) => string[], orderBy: string, skip: number): SearchSegment => {
    const f = buildFilter(q);
    const conditions = [...f.where, ...extra(f.p)];
    const offsetSql = skip > 0 ? ` OFFSET ${f.p(skip)}` : '';
    return {
      sql: `${select} FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE ${conditions.join(' AND ')} ORDER BY ${orderBy}${offsetSql} LIMIT $${f.params.length + 1}`,
      params: f.params,
    };
  };
  // file_id makes the order total, so pages never overlap.
  const valuedOrder = [...sort.exprs.map((e) => `${e} ${dir}`), `f.file_id ${dir}`].join(', ');
  // A sort without empty values needs no NULLS LAST: without it a descending
  // page is a backward index scan (with it, path desc sorted every match).
  const fullOrder = sort.nullable ? [...sort.exprs.map((e) => `${e} ${dir} NULLS LAST`), `f.file_id ${dir}`].join(', ') : valuedOrder;
  const op = desc ? '<' : '>';

  let segments: SearchSegment[];
  if (q.after === undefined && (offset > 0 || !sort.nullable)) {
    segments = [segment(() => [], fullOrder, offset)];
  } else if (q.after === undefined) {
    // A first page of a sort with empty values: the valued rows, then the
    // empty ones, each in an order an index (ascending or descending) gives
    // as it is, with no NULLS LAST to sort by.
    segments = [
      segment(() => [`${sort.exprs[0]} IS NOT NULL`], valuedOrder, 0),
      segment(() => [`${sort.exprs[0]} IS NULL`], `f.file_id ${dir}`, 0),
    ];
  } else {
    const after = q.after;
    if (offset !== 0) throw invalid('after and offset cannot be combined');
    if (skips.some((n) => !Number.isInteger(n) || n < 0)) throw invalid('skips must be non-negative integers');
    if (typeof after?.fileId !== 'string' || after.fileId === '' || after.fileId.length > 1024) throw invalid('after: no fileId');
    const nulls = (p: (v: unknown) => string) => [`${sort.exprs[0]} IS NULL`, `f.file_id ${op} ${p(after.fileId)}`];
    if (after.key === undefined) {
      // The row itself: its key is read back first (positionSql).
      segments = [];
    } else if (after.key === null) {
      // After a row without a value: only more of those, by fileId.
      if (!sort.nullable) throw invalid('after: the sort key does not fit this sort');
      segments = [segment(nulls, `f.file_id ${dir}`, skips[0] ?? 0)];
    } else {
      // The rows after the key that have a value: one row comparison (an index
      // range, its first part repeated alone so a content-side index can bound
      // its scan), then, when a sort has empty values, those (they sort last).
      const valued = (p: (v: unknown) => string) => {
        const value = keyValue(after.key, sort.part, p, readBack);
        const values = sort.fromKey ? sort.fromKey(value) : [value];
        // The far side of a jump's range: its first expression up to the stored row's (ties included).
        const until = jump.until === undefined ? [] : [`${sort.exprs[0]} ${desc ? '>' : '<'}= ${(sort.fromKey ? sort.fromKey(keyValue(jump.until, sort.part, p, true)) : [keyValue(jump.until, sort.part, p, true)])[0]}`];
        return [
          ...(sort.nullable ? [`${sort.exprs[0]} IS NOT NULL`] : []),
          ...(sort.contentSide ? ['c.sha256 IS NOT NULL'] : []),
          `${sort.exprs[0]} ${op}= ${values[0]}`,
          ...until,
          `(${[...sort.exprs, 'f.file_id'].join(', ')}) ${op} (${[...values, p(after.fileId)].join(', ')})`,
        ];
      };
      segments = [segment(valued, valuedOrder, skips[0] ?? 0)];
      if (sort.nullable) segments.push(segment(() => [`${sort.exprs[0]} IS NULL`], `f.file_id ${dir}`, skips[1] ?? 0));
    }
  }
  const n = params.length;
  const countedPageSql =
    q.after === undefined
      ? `WITH m AS MATERIALIZED (SELECT f.file_id AS id, ${sort.exprs.map((e, i) => `${e} AS s${i}`).join(', ')} ${from} LIMIT $${n + 1})
         SELECT (SELECT count(*) FROM m)::int AS total,
                ARRAY(SELECT id FROM m ORDER BY ${[...sort.exprs.map((_, i) => `s${i} ${dir} NULLS LAST`), `id ${dir}`].join(', ')} OFFSET $${n + 2} LIMIT $${n + 3}) AS ids`
      : null;
  return {
    countedPageSql,
    byIdSql: `${select} FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE f.case_id = $1 AND f.file_id = ANY($2::text[])`,
    positionSql:
      q.after !== undefined && q.after.key === undefined
        ? `SELECT ${keyText(sort.key, sort.part)} AS k FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE f.case_id = $1 AND f.file_id = $2`
        : null,
    countSql: `SELECT count(*)::int AS total ${from}`,
    boundedCountSql: `SELECT count(*)::int AS total FROM (SELECT 1 ${from} LIMIT $${params.length + 1}) s`,
    params,
    segments,
    limit: Math.min(limit, SEARCH_MAX_LIMIT),
  };
}
