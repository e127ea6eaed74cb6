import { ExhibitError, TIMELINE_BUCKETS, type ReviewFilter, type ReviewSummaryUpdate, type SearchAfter, type SortKey } from '@exhibit/core';
import { SORT_KEYS, buildFilter, escapeLike, matchedAs, sortPositionSql } from './index-store.search.js';
import type { SqlClient } from './sql-client.js';

/**
 * The per-case review summary (migration 0060-review-summary.sql): counts,
 * map cells and timeline buckets per (evidence item, kind, has a position,
 * hidden as known-good), so the whole-case map, timeline and search total
 * read a few hundred rows instead of every file of the case.
 *
 * It is a cache with an exact rule: used only when the reader's snapshot
 * shows a summary, no change row for the case and the hash-set version the
 * summary was made under. It is made in one snapshot by the same expressions
 * as the direct queries, so its answers are the direct queries' answers (the
 * tests compare the two on PGlite and PostgreSQL).
 */
export const REVIEW_SUMMARY = {
  /** Map cells are kept for zooms 0..12 (cells down to 0.022°); deeper zooms ask the files. */
  mapMaxZoom: 12,
  /**
   * A stale summary is remade by a read only when nothing in the case has
   * changed for this long, so a busy ingest is not re-summarised on every
   * read (those reads ask the files, as before).
   */
  quietMs: 5_000,
  /**
   * The position index keeps every this-many-th row of the whole-case view
   * per sort and direction (migration 0110), so a jump skips fewer rows than
   * this by OFFSET: 782 rows per sort and direction at 100,000 files.
   */
  positionEvery: 128,
  /**
   * Make/model facet groups kept at most (migration 0110): past this the case
   * has hostile or unusual variety and prefix counts ask the files (up to the cap).
   */
  maxFacetGroups: 5_000,
} as const;

/** Second key of the refresh's advisory lock (the first is the case id's hash). */
const REFRESH_LOCK_KEY = 6_000_601;

/** What a summary can answer: the case, optionally narrowed by these. */
export interface SummaryDims {
  caseId: string;
  evidenceId?: string;
  kind?: string;
  hasGps?: boolean;
  /** Counts only (migration 0090's columns). */
  duplicates?: 'only' | 'collapse';
  /** Counts only, from the facets (migration 0110): case-insensitive prefixes, as search matches them. */
  make?: string;
  model?: string;
  includeKnownGood: boolean;
}

/**
 * The filter as summary dimensions, or null when it narrows by anything the
 * summary does not keep (those requests ask the files). `hasGps` and
 * `duplicates` only for counts (`forCounts`: map and timeline rows keep neither).
 */
export function summaryDims(filter: ReviewFilter, forCounts: boolean): SummaryDims | null {
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === 'caseId' || key === 'evidenceId' || key === 'kind' || key === 'includeKnownGood') continue;
    if ((key === 'hasGps' || key === 'duplicates' || key === 'make' || key === 'model') && forCounts) continue;
    // buildFilter ignores an empty path text too.
    if (key === 'pathText' && value === '') continue;
    return null;
  }
  const dims: SummaryDims = { caseId: filter.caseId, includeKnownGood: filter.includeKnownGood === true };
  if (filter.evidenceId !== undefined) dims.evidenceId = filter.evidenceId;
  if (filter.kind !== undefined) dims.kind = filter.kind;
  if (filter.hasGps !== undefined) dims.hasGps = filter.hasGps;
  if (typeof filter.make === 'string') dims.make = filter.make;
  else if (filter.make !== undefined) return null;
  if (typeof filter.model === 'string') dims.model = filter.model;
  else if (filter.model !== undefined) return null;
  if (filter.duplicates === 'only' || filter.duplicates === 'collapse') dims.duplicates = filter.duplicates;
  else if (filter.duplicates !== undefined) return null;
  return dims;
}

/** The zoom whose map cell (360 / 2^zoom / 4 degrees, as the API computes it) is exactly cellDeg, if any. */
export function zoomOfCell(cellDeg: number): number | null {
  for (let z = 0; z <= 22; z++) if (360 / 2 ** z / 4 === cellDeg) return z;
  return null;
}

/** The WHERE of a summary table for these dimensions, with its parameters. */
export function dimsWhere(dims: SummaryDims, alias: string): { where: string[]; params: unknown[]; p: (v: unknown) => string } {
  const params: unknown[] = [];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = [`${alias}.case_id = ${p(dims.caseId)}`];
  if (dims.evidenceId !== undefined) where.push(`${alias}.evidence_id = ${p(dims.evidenceId)}`);
  if (dims.kind !== undefined) where.push(`${alias}.kind = ${p(dims.kind)}`);
  if (dims.hasGps !== undefined) where.push(`${alias}.has_gps = ${p(dims.hasGps)}`);
  if (!dims.includeKnownGood) where.push(`NOT ${alias}.hidden`);
  return { where, params, p };
}

/**
 * Whether this snapshot holds a summary of exactly its own data for the case
 * (and map cells down to which zoom). Call inside the transaction that then
 * reads the summary.
 */
export async function summaryState(tx: SqlClient, caseId: string): Promise<{ fresh: boolean; mapMaxZoom: number } | null> {
  const { rows } = await tx.query<{ fresh: boolean; map_max_zoom: number }>(
    `SELECT s.map_max_zoom,
            (s.sets_version = v.version AND NOT EXISTS (SELECT 1 FROM review_summary_changes c WHERE c.case_id = s.case_id)) AS fresh
       FROM review_summary_state s CROSS JOIN review_summary_sets_version v
      WHERE s.case_id = $1`,
    [caseId],
  );
  const r = rows[0];
  return r ? { fresh: r.fresh === true, mapMaxZoom: Number(r.map_max_zoom) } : null;
}

/** Whether a stale (or missing) summary may be remade now: nothing in the case changed for REVIEW_SUMMARY.quietMs. */
export async function quietSince(sql: SqlClient, caseId: string, quietMs: number): Promise<boolean> {
  const { rows } = await sql.query<{ quiet: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM review_summary_changes
                         WHERE case_id = $1 AND changed_at > clock_timestamp() - make_interval(secs => $2::float8 / 1000)) AS quiet`,
    [caseId, quietMs],
  );
  return rows[0]?.quiet === true;
}

/**
 * Remakes the case's summary from one snapshot and removes the change rows
 * that snapshot saw (a change committed meanwhile keeps its row, so the new
 * summary is not used until the next refresh). Returns false when another
 * refresh of the case is running or this one lost a race (nothing changed).
 */
export async function refreshReviewSummary(
  sql: SqlClient,
  caseId: string,
  options: {
    mapMaxZoom?: number;
    /**
     * Longest the whole refresh may run, from the call. Before each statement
     * the time left is checked (none left: an ExhibitError 'timeout') and set
     * as that statement's statement_timeout, so PostgreSQL cancels one that
     * runs past it (also 'timeout'). PGlite enforces no statement_timeout:
     * there a statement running when the budget ends runs to its end (the
     * longest, the remake's one pass over the files: docs/review-api.md) and
     * the refresh stops before the next. Either way it is rolled back and
     * the summary left as it was.
     */
    budgetMs?: number;
    /** Checked before each statement: aborted, the refresh stops there (ExhibitError 'aborted') and is rolled back. */
    abortSignal?: AbortSignal;
    /** REVIEW_SUMMARY.positionEvery unless given (the tests use small ones). */
    positionEvery?: number;
    /** REVIEW_SUMMARY.maxFacetGroups unless given. */
    maxFacetGroups?: number;
    /** Runs once the refresh's snapshot is taken (the tests commit a change there). */
    afterSnapshot?: () => Promise<void>;
    /** Runs before each statement, named (the tests sleep past the budget or abort there). */
    beforeStatement?: (statement: string) => Promise<void>;
  } = {},
): Promise<boolean> {
  const mapMaxZoom = options.mapMaxZoom ?? REVIEW_SUMMARY.mapMaxZoom;
  const positionEvery = options.positionEvery ?? REVIEW_SUMMARY.positionEvery;
  const maxFacetGroups = options.maxFacetGroups ?? REVIEW_SUMMARY.maxFacetGroups;
  if (!Number.isInteger(positionEvery) || positionEvery < 1) throw new RangeError('positionEvery must be a positive integer');
  const started = performance.now();
  const deadline = options.budgetMs === undefined ? undefined : started + options.budgetMs;
  /** Before each statement: the abort, then the time left, bounding the statement on PostgreSQL. */
  const next = async (tx: SqlClient, statement: string): Promise<void> => {
    await options.beforeStatement?.(statement);
    if (options.abortSignal?.aborted) throw new ExhibitError('aborted', `review summary refresh of the case aborted before ${statement}`);
    if (deadline === undefined) return;
    const leftMs = deadline - performance.now();
    if (leftMs <= 0) throw new ExhibitError('timeout', `review summary refresh of the case out of its ${options.budgetMs} ms budget before ${statement}`);
    await tx.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(leftMs))}`);
  };
  try {
    return await sql.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await next(tx, 'lock');
      const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1), $2) AS ok', [caseId, REFRESH_LOCK_KEY]);
      if (lock[0]?.ok !== true) return false;
      await options.afterSnapshot?.();
      // Many groups (cells of every zoom): let them hash in memory.
      await tx.query("SET LOCAL work_mem = '64MB'");
      // Positions are summed as the decimals of their shortest exact text, as the direct map query averages them.
      await tx.query('SET LOCAL extra_float_digits = 1');
      for (const table of ['review_summary_counts', 'review_summary_cells', 'review_summary_buckets', 'review_summary_facets', 'review_summary_positions', 'review_summary_sorts', 'review_summary_changes']) {
        await next(tx, `delete ${table}`);
        await tx.query(`DELETE FROM ${table} WHERE case_id = $1`, [caseId]);
      }
      const hidden = `(${matchedAs(['known-good'])} AND NOT ${matchedAs(['known-bad', 'notable'])})`;
      await next(tx, 'summarise');
      const { rows } = await tx.query<{ files: string | number; facet_groups: string | number }>(
        `WITH r AS MATERIALIZED (
           SELECT f.evidence_id, c.kind, c.gps_lat, c.gps_lon, c.taken_at_local_ts AS ts, c.taken_at_utc IS NOT NULL AS has_offset,
                  -- As search's make/model filters read them (index-store.search.ts buildFilter).
                  lower(c.make) AS make, lower(c.model) AS model,
                  f.file_id, f.sha256, ${hidden} AS hidden,
                  -- As search's duplicates filter decides it (index-store.search.ts): another file
                  -- of the case has the content; no file of the case with the content has a smaller id.
                  f.sha256 IS NOT NULL AND count(*) OVER (PARTITION BY f.sha256) > 1 AS duplicate,
                  f.sha256 IS NULL OR f.file_id = min(f.file_id) OVER (PARTITION BY f.sha256) AS first
             FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256
            WHERE f.case_id = $1
         ), n AS (
           INSERT INTO review_summary_counts (case_id, evidence_id, kind, has_gps, hidden, files, with_taken, min_taken, max_taken, duplicate_files, first_files)
           SELECT $1, evidence_id, kind, gps_lat IS NOT NULL, hidden, count(*), count(ts), min(ts), max(ts),
                  count(*) FILTER (WHERE duplicate), count(*) FILTER (WHERE first)
             FROM r GROUP BY evidence_id, kind, gps_lat IS NOT NULL, hidden
           RETURNING files
         ), fine AS (
           -- Cells at the finest kept zoom, each file's position read once. A cell at
           -- zoom z is 2^(max - z) fine cells on a side: lon / (2c) is exactly
           -- (lon / c) / 2 in floating point, so floor(lon / cell_z) is exactly
           -- floor(lon / cell_max) >> (max - z), and the coarser cells below are sums
           -- of these, exact (numeric sums, min/max, counts).
           SELECT r.evidence_id, r.kind, r.hidden,
                  floor(r.gps_lon / (360::float8 / power(2::float8, $2::int) / 4))::bigint AS gx,
                  floor(r.gps_lat / (360::float8 / power(2::float8, $2::int) / 4))::bigint AS gy,
                  count(*) AS files, sum(r.gps_lat::text::numeric) AS sum_lat, sum(r.gps_lon::text::numeric) AS sum_lon,
                  min(r.gps_lat) AS min_lat, max(r.gps_lat) AS max_lat, min(r.gps_lon) AS min_lon, max(r.gps_lon) AS max_lon,
                  min(r.file_id COLLATE "C") AS file_id, min(r.sha256 COLLATE "C") AS sha256
             FROM r WHERE r.gps_lat IS NOT NULL
            GROUP BY r.evidence_id, r.kind, r.hidden, 4, 5
         ), m AS (
           INSERT INTO review_summary_cells (case_id, evidence_id, kind, hidden, zoom, gx, gy, files, sum_lat, sum_lon, min_lat, max_lat, min_lon, max_lon, file_id, sha256)
           SELECT $1, f.evidence_id, f.kind, f.hidden, z.zoom, f.gx >> ($2::int - z.zoom), f.gy >> ($2::int - z.zoom), sum(f.files),
                  sum(f.sum_lat), sum(f.sum_lon), min(f.min_lat), max(f.max_lat), min(f.min_lon), max(f.max_lon),
                  min(f.file_id COLLATE "C"), min(f.sha256 COLLATE "C")
             FROM fine f CROSS JOIN generate_series(0, $2::int) z (zoom)
            GROUP BY f.evidence_id, f.kind, f.hidden, z.zoom, f.gx >> ($2::int - z.zoom), f.gy >> ($2::int - z.zoom)
           RETURNING 1
         ), minutes AS (
           -- Minute buckets, each capture time read once; every larger unit is a
           -- date_trunc of a minute's start (date_trunc(u, date_trunc('minute', t)) = date_trunc(u, t)).
           SELECT r.evidence_id, r.kind, r.hidden, date_trunc('minute', r.ts) AS start,
                  count(*) FILTER (WHERE r.has_offset) AS with_offset, count(*) FILTER (WHERE NOT r.has_offset) AS without_offset
             FROM r WHERE r.ts IS NOT NULL
            GROUP BY r.evidence_id, r.kind, r.hidden, date_trunc('minute', r.ts)
         ), b AS (
           INSERT INTO review_summary_buckets (case_id, evidence_id, kind, hidden, unit, start, with_offset, without_offset)
           SELECT $1, x.evidence_id, x.kind, x.hidden, u.unit, date_trunc(u.unit, x.start), sum(x.with_offset), sum(x.without_offset)
             FROM minutes x CROSS JOIN unnest($3::text[]) u (unit)
            GROUP BY x.evidence_id, x.kind, x.hidden, u.unit, date_trunc(u.unit, x.start)
           RETURNING 1
         ), fc AS MATERIALIZED (
           SELECT evidence_id, kind, gps_lat IS NOT NULL AS has_gps, hidden, make, model, count(*) AS files,
                  count(*) FILTER (WHERE duplicate) AS duplicate_files, count(*) FILTER (WHERE first) AS first_files
             FROM r GROUP BY evidence_id, kind, gps_lat IS NOT NULL, hidden, make, model
         ), fi AS (
           -- Kept only when few (REVIEW_SUMMARY.maxFacetGroups); else none, and state.facets says so.
           INSERT INTO review_summary_facets (case_id, evidence_id, kind, has_gps, hidden, make, model, files, duplicate_files, first_files)
           SELECT $1, evidence_id, kind, has_gps, hidden, make, model, files, duplicate_files, first_files
             FROM fc WHERE (SELECT count(*) FROM fc) <= $4
           RETURNING 1
         )
         SELECT (SELECT COALESCE(sum(files), 0) FROM n) AS files, (SELECT count(*) FROM m) AS cells, (SELECT count(*) FROM b) AS buckets,
                (SELECT count(*) FROM fc) AS facet_groups, (SELECT count(*) FROM fi) AS facets_kept`,
        [caseId, mapMaxZoom, [...TIMELINE_BUCKETS], maxFacetGroups],
      );
      for (const sort of SORT_KEYS) {
        await next(tx, `positions ${sort}`);
        await recordPositions(tx, caseId, sort, positionEvery);
      }
      await next(tx, 'state');
      await tx.query(
        `INSERT INTO review_summary_state (case_id, refreshed_at, map_max_zoom, files, sets_version, refresh_ms, facets)
         SELECT $1, now(), $2, $3, version, $4, $5 FROM review_summary_sets_version
         ON CONFLICT (case_id) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, map_max_zoom = EXCLUDED.map_max_zoom,
                                             files = EXCLUDED.files, sets_version = EXCLUDED.sets_version, refresh_ms = EXCLUDED.refresh_ms,
                                             facets = EXCLUDED.facets`,
        [caseId, mapMaxZoom, Number(rows[0]?.files ?? 0), Math.round(performance.now() - started), Number(rows[0]?.facet_groups ?? 0) <= maxFacetGroups],
      );
      return true;
    });
  } catch (err) {
    // A concurrent refresh or writer won (serialization failure, unique
    // violation on a first summary): the summary stays as it was, stale or not.
    const state = (err as { cause?: { code?: unknown }; code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
    if (state === '40001' || state === '23505' || state === '40P01') return false;
    const details = (err as { details?: { sqlState?: unknown } }).details?.sqlState;
    if (details === '40001' || details === '23505' || details === '40P01') return false;
    throw err;
  }
}

/** Pause between two looks at a case whose summary another refresh is making. */
const BUSY_POLL_MS = 200;

/**
 * Brings the case's summary up to date with everything committed before the
 * call, within `budgetMs` (completion.ts calls it once an evidence item is
 * complete). Idempotent: a summary already fresh is left alone, so a
 * completion delivered again costs one probe. A refresh already running may
 * have taken its snapshot before the caller's last write: this one waits for
 * it to end (polling, within the budget), then looks again and refreshes if
 * the summary is still stale. A refresh is always a whole remake from one
 * snapshot (never an increment), so nothing can be counted twice.
 */
export async function bringReviewSummaryUpToDate(
  sql: SqlClient,
  caseId: string,
  options: {
    budgetMs: number;
    abortSignal?: AbortSignal;
    pollMs?: number;
    afterSnapshot?: () => Promise<void>;
    beforeStatement?: (statement: string) => Promise<void>;
  },
): Promise<ReviewSummaryUpdate> {
  const deadline = performance.now() + options.budgetMs;
  const pollMs = options.pollMs ?? BUSY_POLL_MS;
  for (;;) {
    if ((await summaryState(sql, caseId))?.fresh) return 'fresh';
    if (options.abortSignal?.aborted) return 'aborted';
    const leftMs = deadline - performance.now();
    if (leftMs <= 0) return 'busy';
    try {
      const refreshed = await refreshReviewSummary(sql, caseId, {
        budgetMs: leftMs,
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
        ...(options.afterSnapshot ? { afterSnapshot: options.afterSnapshot } : {}),
        ...(options.beforeStatement ? { beforeStatement: options.beforeStatement } : {}),
      });
      if (refreshed) return 'refreshed';
    } catch (err) {
      if (err instanceof ExhibitError && err.code === 'timeout') return 'timed-out';
      if (err instanceof ExhibitError && err.code === 'aborted') return 'aborted';
      throw err;
    }
    await sleep(Math.min(pollMs, Math.max(0, deadline - performance.now())), options.abortSignal);
  }
}

function sleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abortSignal?.removeEventListener('abort', done);
      resolve();
    }
    abortSignal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The position index of one sort (migration 0110): the whole-case view
 * (buildFilter of the case alone, as search builds it) numbered in the
 * sort's ascending order by the search's own order expressions; every
 * `every`-th row and the last valued row kept, both ways. Descending is the
 * exact reverse of ascending within the valued rows and within the empty ones
 * (each a total order ending in fileId; empty ones last both ways), so one
 * numbering gives both: valued row n is n' = valued - 1 - n, empty row n is
 * n' = valued + total - 1 - n.
 */
async function recordPositions(tx: SqlClient, caseId: string, sort: SortKey, every: number): Promise<void> {
  const { where, params } = buildFilter({ caseId });
  // The view's filter binds the case only, as $1; sort and every follow.
  if (params.length !== 1) throw new Error('the whole-case view binds more than the case');
  const o = sortPositionSql(sort);
  await tx.query(
    `WITH s AS MATERIALIZED (
       SELECT f.file_id, ${o.keyText} AS k, ${o.hasValue} AS has_value, row_number() OVER (ORDER BY ${o.ascOrder}) - 1 AS n
         FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256
        WHERE ${where.join(' AND ')}
     ), t AS (
       SELECT count(*) AS total, count(*) FILTER (WHERE has_value) AS valued FROM s
     ), p AS (
       SELECT s.file_id, s.k, s.has_value, s.n AS asc_n, t.valued,
              CASE WHEN s.has_value THEN t.valued - 1 - s.n ELSE t.valued + t.total - 1 - s.n END AS desc_n
         FROM s CROSS JOIN t
     ), ins AS (
       INSERT INTO review_summary_positions (case_id, sort, descending, ordinal, k, file_id)
       SELECT $1, $2, false, asc_n, k, file_id FROM p WHERE asc_n % $3::int = $3::int - 1 OR (has_value AND asc_n = valued - 1)
       UNION ALL
       SELECT $1, $2, true, desc_n, k, file_id FROM p WHERE desc_n % $3::int = $3::int - 1 OR (has_value AND desc_n = valued - 1)
     )
     INSERT INTO review_summary_sorts (case_id, sort, every, total, valued) SELECT $1, $2, $3::int, total, valued FROM t`,
    [...params, sort, every],
  );
}

/** Where a page at an offset starts: after this position, skipping these rows in each page segment (buildSearch `jump`). */
export interface JumpStart {
  after: SearchAfter;
  skips: number[];
  /** The key of a stored valued row at or past the last row the page reads, when there is one: the range's far side. */
  until?: string;
}

/**
 * A jump to `offset` in the whole-case view from its position index: the
 * nearest stored row before it, and how many rows to skip after that (fewer
 * than REVIEW_SUMMARY.positionEvery), split between the valued rows and the
 * empty ones that follow them. Null when no stored row is before the offset
 * (an offset under positionEvery: cheap as it is) or the summary has no
 * positions (made before migration 0110). Only from a fresh summary (check
 * summaryState in the same transaction first) and only for the filter of the
 * case alone (wholeCaseView).
 */
export async function jumpStart(tx: SqlClient, caseId: string, sort: SortKey, descending: boolean, offset: number, rowsWanted: number): Promise<JumpStart | null> {
  const { rows } = await tx.query<{ valued: string | number; ordinal: string | number | null; k: string | null; file_id: string | null; until: string | null }>(
    `SELECT s.valued, p.ordinal, p.k, p.file_id, u.k AS until
       FROM review_summary_sorts s
       LEFT JOIN LATERAL (SELECT ordinal, k, file_id FROM review_summary_positions p
                           WHERE p.case_id = s.case_id AND p.sort = s.sort AND p.descending = $3 AND p.ordinal < $4::bigint
                           ORDER BY p.ordinal DESC LIMIT 1) p ON true
       LEFT JOIN LATERAL (SELECT k FROM review_summary_positions u
                           WHERE u.case_id = s.case_id AND u.sort = s.sort AND u.descending = $3 AND u.ordinal >= $4::bigint + $5::bigint - 1
                           ORDER BY u.ordinal LIMIT 1) u ON true
      WHERE s.case_id = $1 AND s.sort = $2`,
    [caseId, sort, descending, offset, rowsWanted],
  );
  const r = rows[0];
  if (!r || r.ordinal === null || r.file_id === null) return null;
  const ordinal = Number(r.ordinal);
  const skip = offset - ordinal - 1;
  if (r.k === null) return { after: { key: null, fileId: r.file_id }, skips: [skip] };
  // Valued rows after the stored one; a skip past them goes on into the empty rows.
  const first = Math.min(skip, Math.max(0, Number(r.valued) - 1 - ordinal));
  // A far side without a value (the page runs into the empty rows) bounds nothing: the valued rows left are few.
  return { after: { key: r.k, fileId: r.file_id }, skips: [first, skip - first], ...(r.until === null ? {} : { until: r.until }) };
}

/** Whether these dimensions are the case alone as the gallery shows it (known-good hidden): the view the position index numbers. */
export function wholeCaseView(dims: SummaryDims): boolean {
  const { caseId: _caseId, includeKnownGood, ...rest } = dims;
  return !includeKnownGood && Object.values(rest).every((v) => v === undefined);
}

/** The number of files of these dimensions, from a fresh summary (check summaryState in the same transaction first). */
export async function summaryCount(tx: SqlClient, dims: SummaryDims): Promise<number | null> {
  if (dims.make !== undefined || dims.model !== undefined) return facetCount(tx, dims);
  const { where, params } = dimsWhere(dims, 's');
  const column = dims.duplicates === 'only' ? 's.duplicate_files' : dims.duplicates === 'collapse' ? 's.first_files' : 's.files';
  const { rows } = await tx.query<{ n: string | number; unknown: boolean }>(
    `SELECT COALESCE(sum(${column}), 0)::bigint AS n, bool_or(${column} IS NULL) AS unknown FROM review_summary_counts s WHERE ${where.join(' AND ')}`,
    params,
  );
  // A summary made before migration 0090 has no duplicate counts: the files answer.
  if (rows[0]?.unknown === true) return null;
  return Number(rows[0]?.n ?? 0);
}

/**
 * A make/model prefix count from the facets (migration 0110): the same LIKE
 * search applies to lower(c.make), applied to the stored lower(make). Null
 * when the refresh kept no facets (too many groups) or predates them.
 */
async function facetCount(tx: SqlClient, dims: SummaryDims): Promise<number | null> {
  const { where, params, p } = dimsWhere(dims, 's');
  if (dims.make !== undefined) where.push(`s.make LIKE lower(${p(escapeLike(dims.make.trim()) + '%')}) ESCAPE '\\'`);
  if (dims.model !== undefined) where.push(`s.model LIKE lower(${p(escapeLike(dims.model.trim()) + '%')}) ESCAPE '\\'`);
  const column = dims.duplicates === 'only' ? 's.duplicate_files' : dims.duplicates === 'collapse' ? 's.first_files' : 's.files';
  const { rows } = await tx.query<{ n: string | number; kept: boolean | null }>(
    `SELECT (SELECT COALESCE(sum(${column}), 0) FROM review_summary_facets s WHERE ${where.join(' AND ')})::bigint AS n,
            (SELECT facets FROM review_summary_state WHERE case_id = $1) AS kept`,
    params,
  );
  if (rows[0]?.kept !== true) return null;
  return Number(rows[0]?.n ?? 0);
}

/**
 * Remakes the case's summary when it is stale (or missing) and the case has
 * been quiet for REVIEW_SUMMARY.quietMs; true when a fresh summary was made.
 */
export async function refreshIfStaleAndQuiet(sql: SqlClient, caseId: string): Promise<boolean> {
  const state = await summaryState(sql, caseId);
  if (state?.fresh) return false;
  if (!(await quietSince(sql, caseId, REVIEW_SUMMARY.quietMs))) return false;
  return refreshReviewSummary(sql, caseId);
}
