import { randomUUID } from 'node:crypto';
import {
  ExhibitError,
  TIMELINE_BUCKETS,
  type AccessEvent,
  type AccessEventQuery,
  type ExportCursor,
  type ExportRecord,
  type ExportRow,
  type FileTag,
  type MapResult,
  type ReviewFilter,
  type ReviewStore,
  type TimelineBucket,
  type TimelineResult,
} from '@exhibit/core';
import { PATH_PREFIX_SQL, PATH_SORT_PREFIX_CHARS, buildFilter } from './index-store.search.js';
import { CONTENT_COLUMNS, FILE_COLUMNS, cleanParams, columnList, toContent, toFile } from './index-store.rows.js';
import type { SqlClient } from './sql-client.js';
import { dimsWhere, refreshIfStaleAndQuiet, refreshReviewSummary, summaryCount, summaryDims, summaryState, zoomOfCell, type SummaryDims } from './review-summary.js';

type Row = Record<string, unknown>;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const FROM = 'FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256';
/** Recorded wall clock as the API shows it: no offset, never shifted. */
const WALL_CLOCK = `'YYYY-MM-DD"T"HH24:MI:SS'`;

/** Nominal bucket lengths, only to choose a bucket size for a range (the buckets themselves are calendar units from date_trunc). */
const BUCKET_MS: Record<TimelineBucket, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 31 * 86_400_000,
  year: 366 * 86_400_000,
};

/**
 * The smallest bucket that covers [min, max] in at most maxBuckets buckets (a
 * year when none does). timeline() applies the same rule in SQL, from the
 * same BUCKET_MS; the tests hold the two to the same answers.
 */
export function chooseBucket(minMs: number, maxMs: number, maxBuckets: number): TimelineBucket {
  for (const bucket of TIMELINE_BUCKETS) {
    if (Math.floor((maxMs - minMs) / BUCKET_MS[bucket]) + 2 <= maxBuckets) return bucket;
  }
  return 'year';
}

/** Map rows (count, mean, box, first file, total and cell count over all cells) as the API's answer. */
function mapResultOf(cellDeg: number, rows: Row[]): MapResult {
  const first = rows[0];
  return {
    cellDeg,
    total: first ? Number(first.total) : 0,
    truncated: first ? Number(first.cells) > rows.length : false,
    clusters: rows.map((r) => {
      const count = Number(r.n);
      return {
        lat: Number(r.lat),
        lon: Number(r.lon),
        count,
        bbox: [Number(r.min_lon), Number(r.min_lat), Number(r.max_lon), Number(r.max_lat)],
        fileId: count === 1 ? String(r.file_id) : null,
        sha256: count === 1 && r.sha256 !== null ? String(r.sha256) : null,
      };
    }),
  };
}

/**
 * The timeline's bucket size (CTE u) from its range (CTE h: min_ts, max_ts),
 * by chooseBucket's rule, or the one asked for: one text for the direct and
 * the summary queries.
 */
function unitChooser(wanted: string, maxBuckets: string): string {
  const sizes = TIMELINE_BUCKETS.map((b, i) => `(${i}, '${b}', ${BUCKET_MS[b]})`).join(', ');
  return `u AS (
           SELECT COALESCE(${wanted}::text,
                           CASE WHEN h.min_ts IS NULL THEN 'day'
                                ELSE COALESCE((SELECT v.unit FROM (VALUES ${sizes}) v (i, unit, ms)
                                                WHERE floor(extract(epoch FROM h.max_ts - h.min_ts) * 1000 / v.ms) + 2 <= ${maxBuckets}::int
                                                ORDER BY v.i LIMIT 1), 'year') END) AS unit
             FROM h
         )`;
}

/** The timeline's answer rows from CTEs h (totals), u (unit) and b (buckets). */
const TIMELINE_SELECT = `SELECT h.total, h.with_taken, u.unit,
                to_char(b.b, ${WALL_CLOCK}) AS start, to_char(b.b + ('1 ' || u.unit)::interval, ${WALL_CLOCK}) AS "end",
                b.with_offset, b.without_offset
           FROM h CROSS JOIN u LEFT JOIN b ON true
          ORDER BY b.b`;

function timelineResultOf(rows: Row[], wanted: TimelineBucket | undefined): TimelineResult {
  const h = rows[0] ?? {};
  const total = Number(h.total ?? 0);
  const withTakenAt = Number(h.with_taken ?? 0);
  const bucket = (h.unit === undefined ? (wanted ?? 'day') : String(h.unit)) as TimelineBucket;
  const buckets = rows
    .filter((r) => r.start !== null && r.start !== undefined)
    .map((r) => ({ start: String(r.start), end: String(r.end), withOffset: Number(r.with_offset), withoutOffset: Number(r.without_offset) }));
  return {
    bucket,
    from: buckets[0]?.start ?? null,
    to: buckets.at(-1)?.end ?? null,
    buckets,
    total,
    withTakenAt,
    withoutTakenAt: total - withTakenAt,
  };
}


function toTag(r: Row): FileTag {
  return {
    tagId: String(r.tag_id),
    caseId: String(r.case_id),
    fileId: String(r.file_id),
    evidenceId: String(r.evidence_id),
    path: String(r.path),
    sha256: r.sha256 === null || r.sha256 === undefined ? null : String(r.sha256),
    tag: String(r.tag),
    note: String(r.note),
    createdBy: String(r.created_by),
    createdAt: iso(r.created_at),
    updatedBy: String(r.updated_by),
    updatedAt: iso(r.updated_at),
  };
}

const TAG_SELECT = `SELECT t.tag_id, t.case_id, t.file_id, f.evidence_id, f.path, f.sha256, t.tag, t.note, t.created_by, t.created_at, t.updated_by, t.updated_at
  FROM file_tags t JOIN files f ON f.file_id = t.file_id`;

/** The review app's reads and writes on the index (migration 0015-review.sql, and the custody index of 0200). */
export class PostgresReviewStore implements ReviewStore {
  constructor(
    private readonly sql: SqlClient,
    /** reviewSummary false: always ask the files (tests and benches compare the two). */
    private readonly options: { reviewSummary?: boolean } = {},
  ) {}

  private query<T extends Row = Row>(text: string, params: unknown[] = [], on: SqlClient = this.sql) {
    return on.query<T>(text, cleanParams(params));
  }

  /** Reads that must agree (a count with its page): one snapshot. */
  private snapshot<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R> {
    return this.sql.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return fn(tx);
    });
  }

  /**
   * A whole-case aggregate (map, timeline): one read-only statement whose join
   * of files to contents runs as a merge of two index-only scans ordered by
   * sha256 (files_case_sha256_idx and the covering indexes of migration
   * 0050). The planner prices the hash join of the whole case's contents as
   * cheaper, but building that hash table of 100,000 text keys took twice the
   * time of the merge at bench:web scale (docs/benchmarks.md), so hash joins
   * are ruled out for this one transaction. work_mem lets the grouping hash
   * its rows in memory instead of sorting them to disk; the groups (map cells,
   * buckets) are few, the planner just cannot know how few.
   */
  private aggregate<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R> {
    return this.snapshot(async (tx) => {
      await tx.query('SET LOCAL enable_hashjoin = off');
      await tx.query("SET LOCAL work_mem = '32MB'");
      // Floats as text are their shortest exact form (the map's means read them so).
      await tx.query('SET LOCAL extra_float_digits = 1');
      return fn(tx);
    });
  }

  async mapClusters(q: ReviewFilter & { cellDeg: number; maxClusters: number }): Promise<MapResult> {
    const { cellDeg, maxClusters, ...filter } = q;
    if (!(Number.isFinite(cellDeg) && cellDeg > 0 && cellDeg <= 360)) throw new ExhibitError('invalid-argument', 'cell size must be within (0, 360] degrees');
    const dims = summaryDims(filter, false);
    const zoom = zoomOfCell(cellDeg);
    if (dims && zoom !== null) {
      const fromSummary = await this.fromSummary(dims.caseId, (tx, state) => (zoom <= state.mapMaxZoom ? this.mapFromSummary(tx, dims, zoom, cellDeg, maxClusters) : null));
      if (fromSummary) return fromSummary;
    }
    const { where, params, p } = buildFilter(filter);
    where.push('c.gps_lat IS NOT NULL');
    const cell = p(cellDeg);
    // The mean is of exact decimals (a float's shortest text, which reads back
    // as the same float), so it is the same number whichever order the rows
    // come in, and the summary's sums of the same decimals give it too. (A
    // plain ::numeric keeps only 15 digits: one point's "mean" could fall
    // outside its own box.)
    // min(file_id), min(sha256) are read only for single-file cells, where any order gives the same value: byte order is the cheapest.
    const { rows } = await this.aggregate((tx) => this.query(
      `WITH g AS (
         SELECT floor(c.gps_lon / ${cell}::float8)::bigint AS gx, floor(c.gps_lat / ${cell}::float8)::bigint AS gy,
                c.gps_lat, c.gps_lon, f.file_id, f.sha256
         ${FROM} WHERE ${where.join(' AND ')}
       )
       SELECT count(*)::int AS n, avg(gps_lat::text::numeric)::float8 AS lat, avg(gps_lon::text::numeric)::float8 AS lon,
              min(gps_lat) AS min_lat, max(gps_lat) AS max_lat, min(gps_lon) AS min_lon, max(gps_lon) AS max_lon,
              min(file_id COLLATE "C") AS file_id, min(sha256 COLLATE "C") AS sha256,
              (sum(count(*)) OVER ())::bigint AS total, (count(*) OVER ())::int AS cells
         FROM g GROUP BY gx, gy
        ORDER BY n DESC, gx, gy
        LIMIT ${p(maxClusters)}`,
      params,
      tx,
    ));
    return mapResultOf(cellDeg, rows);
  }

  /**
   * Reads the summary in one snapshot if that snapshot's summary is fresh;
   * null when it is not (or `read` declines). A stale summary is remade first
   * when the case has been quiet (REVIEW_SUMMARY.quietMs), then read again.
   */
  private async fromSummary<R>(caseId: string, read: (tx: SqlClient, state: { mapMaxZoom: number }) => Promise<R> | null): Promise<R | null> {
    if (this.options.reviewSummary === false) return null;
    const attempt = () =>
      this.snapshot(async (tx) => {
        const state = await summaryState(tx, caseId);
        if (!state) return { stale: true as const };
        if (!state.fresh) return { stale: true as const };
        const answer = read(tx, state);
        return answer === null ? { stale: false as const, answer: null } : { stale: false as const, answer: await answer };
      });
    const first = await attempt();
    if (!first.stale) return first.answer;
    if (!(await refreshIfStaleAndQuiet(this.sql, caseId))) return null;
    const second = await attempt();
    return second.stale ? null : second.answer;
  }

  /** Remakes the case's review summary now (after an ingest, say); false when another refresh is running. */
  refreshSummary(caseId: string): Promise<boolean> {
    return refreshReviewSummary(this.sql, caseId);
  }

  private async mapFromSummary(tx: SqlClient, dims: SummaryDims, zoom: number, cellDeg: number, maxClusters: number): Promise<MapResult> {
    const { where, params, p } = dimsWhere(dims, 's');
    // The same numbers as the direct query: counts add, exact numeric sums add then divide as avg() does, min/max combine.
    const { rows } = await this.query(
      `WITH g AS (
         SELECT s.gx, s.gy, sum(s.files)::int AS n, sum(s.sum_lat) AS sum_lat, sum(s.sum_lon) AS sum_lon,
                min(s.min_lat) AS min_lat, max(s.max_lat) AS max_lat, min(s.min_lon) AS min_lon, max(s.max_lon) AS max_lon,
                min(s.file_id COLLATE "C") AS file_id, min(s.sha256 COLLATE "C") AS sha256
           FROM review_summary_cells s
          WHERE ${where.join(' AND ')} AND s.zoom = ${p(zoom)}
          GROUP BY s.gx, s.gy
       )
       SELECT n, (sum_lat / n)::float8 AS lat, (sum_lon / n)::float8 AS lon, min_lat, max_lat, min_lon, max_lon, file_id, sha256,
              (sum(n) OVER ())::bigint AS total, (count(*) OVER ())::int AS cells
         FROM g
        ORDER BY n DESC, gx, gy
        LIMIT ${p(maxClusters)}`,
      params,
      tx,
    );
    return mapResultOf(cellDeg, rows);
  }

  async timeline(q: ReviewFilter & { bucket?: TimelineBucket; maxBuckets: number }): Promise<TimelineResult> {
    const { bucket: wanted, maxBuckets, ...filter } = q;
    if (wanted !== undefined && !TIMELINE_BUCKETS.includes(wanted)) throw new ExhibitError('invalid-argument', `bucket must be one of ${TIMELINE_BUCKETS.join(', ')}`);
    if (!(Number.isInteger(maxBuckets) && maxBuckets > 0)) throw new ExhibitError('invalid-argument', 'maxBuckets must be a positive integer');
    const dims = summaryDims(filter, false);
    if (dims) {
      const fromSummary = await this.fromSummary(dims.caseId, (tx) => this.timelineFromSummary(tx, dims, wanted, maxBuckets));
      if (fromSummary) return fromSummary;
    }
    return this.timelineDirect(filter, wanted, maxBuckets);
  }

  private async timelineFromSummary(tx: SqlClient, dims: SummaryDims, wanted: TimelineBucket | undefined, maxBuckets: number): Promise<TimelineResult> {
    const { where, params, p } = dimsWhere(dims, 's');
    const w = where.join(' AND ');
    const { rows } = await this.query(
      `WITH h AS (
         SELECT COALESCE(sum(s.files), 0)::int AS total, COALESCE(sum(s.with_taken), 0)::int AS with_taken,
                date_trunc('second', min(s.min_taken)) AS min_ts, date_trunc('second', max(s.max_taken)) AS max_ts
           FROM review_summary_counts s WHERE ${w}
       ), ${unitChooser(p(wanted ?? null), p(maxBuckets))}, b AS (
         SELECT s.start AS b, sum(s.with_offset)::int AS with_offset, sum(s.without_offset)::int AS without_offset
           FROM review_summary_buckets s CROSS JOIN u WHERE ${w} AND s.unit = u.unit
          GROUP BY s.start
       )
       ${TIMELINE_SELECT}`,
      params,
      tx,
    );
    return timelineResultOf(rows, wanted);
  }

  private async timelineDirect(filter: ReviewFilter, wanted: TimelineBucket | undefined, maxBuckets: number): Promise<TimelineResult> {
    const { where, params, p } = buildFilter(filter);
    // One pass over the case: the filtered rows are read once (r), then counted
    // (h), the bucket size chosen from their range by chooseBucket's rule (u,
    // on the range truncated to whole seconds as the API shows it), and
    // bucketed (b). Formerly a second statement re-read and re-joined them.
    const { rows } = await this.aggregate((tx) =>
      this.query(
        `WITH r AS MATERIALIZED (
           SELECT c.taken_at_local_ts AS ts, c.taken_at_utc IS NOT NULL AS has_offset
             ${FROM} WHERE ${where.join(' AND ')}
         ), h AS (
           SELECT count(*)::int AS total, count(ts)::int AS with_taken,
                  date_trunc('second', min(ts)) AS min_ts, date_trunc('second', max(ts)) AS max_ts
             FROM r
         ), ${unitChooser(p(wanted ?? null), p(maxBuckets))}, b AS (
           SELECT date_trunc(u.unit, r.ts) AS b,
                  (count(*) FILTER (WHERE r.has_offset))::int AS with_offset,
                  (count(*) FILTER (WHERE NOT r.has_offset))::int AS without_offset
             FROM r CROSS JOIN u WHERE r.ts IS NOT NULL
            GROUP BY 1
         )
         ${TIMELINE_SELECT}`,
        params,
        tx,
      ),
    );
    return timelineResultOf(rows, wanted);
  }

  async countFiles(filter: ReviewFilter, cap: number): Promise<number> {
    const dims = summaryDims(filter, true);
    if (dims) {
      const n = await this.fromSummary(dims.caseId, (tx) => summaryCount(tx, dims));
      if (n !== null) return Math.min(n, cap + 1);
    }
    const { where, params, p } = buildFilter(filter);
    const { rows } = await this.query(`SELECT count(*)::int AS n FROM (SELECT 1 ${FROM} WHERE ${where.join(' AND ')} LIMIT ${p(cap + 1)}) s`, params);
    return Number(rows[0]?.n ?? 0);
  }

  async exportPage(filter: ReviewFilter, after: ExportCursor | null, limit: number): Promise<{ rows: ExportRow[]; next: ExportCursor | null }> {
    const { where, params, p } = buildFilter(filter);
    // Keyset on the path sort index (files_path_sort_idx, a prefix of lower(path): migration 0091): every
    // page is an index range, however deep; the prefix leads the order (the same order, index-store.search.ts).
    const prefix = PATH_PREFIX_SQL('f.path');
    if (after) {
      const lowerPath = p(after.lowerPath);
      const afterPrefix = `left(${lowerPath}::text, ${PATH_SORT_PREFIX_CHARS}) COLLATE "C"`;
      where.push(
        `${prefix} >= ${afterPrefix}`,
        `(${prefix}, lower(f.path) COLLATE "C", f.path COLLATE "C", f.file_id) > (${afterPrefix}, ${lowerPath} COLLATE "C", ${p(after.path)} COLLATE "C", ${p(after.fileId)})`,
      );
    }
    const { rows } = await this.query(
      `SELECT ${columnList(FILE_COLUMNS, 'f')}, ${columnList(CONTENT_COLUMNS, 'c', 'c_')}, lower(f.path) AS k_lower
         ${FROM} WHERE ${where.join(' AND ')}
        ORDER BY ${prefix}, lower(f.path) COLLATE "C", f.path COLLATE "C", f.file_id
        LIMIT ${p(limit)}`,
      params,
    );
    const files = rows.map((r) => ({ file: toFile(r), content: r.c_sha256 === null || r.c_sha256 === undefined ? null : toContent(r, 'c_') }));
    const tags = new Map<string, FileTag[]>();
    if (files.length > 0) {
      const { rows: tagRows } = await this.query(`${TAG_SELECT} WHERE t.case_id = $1 AND t.file_id = ANY($2::text[]) ORDER BY t.tag COLLATE "C", t.tag_id`, [
        filter.caseId,
        files.map((x) => x.file.fileId),
      ]);
      for (const r of tagRows) {
        const t = toTag(r);
        (tags.get(t.fileId) ?? tags.set(t.fileId, []).get(t.fileId)!).push(t);
      }
    }
    const last = rows.at(-1);
    return {
      rows: files.map((x) => ({ ...x, tags: tags.get(x.file.fileId) ?? [] })),
      next: last && rows.length === limit ? { lowerPath: String(last.k_lower), path: String(last.path), fileId: String(last.file_id) } : null,
    };
  }

  async listTags(q: { caseId: string; fileId?: string; tag?: string; limit: number; offset: number }) {
    const params: unknown[] = [q.caseId];
    const where = ['t.case_id = $1'];
    if (q.fileId !== undefined) where.push(`t.file_id = $${params.push(q.fileId)}`);
    if (q.tag !== undefined) where.push(`t.tag = $${params.push(q.tag)}`);
    return this.snapshot(async (tx) => {
      const { rows: count } = await this.query(`SELECT count(*)::int AS n FROM file_tags t WHERE ${where.join(' AND ')}`, params, tx);
      const { rows } = await this.query(
        `${TAG_SELECT} WHERE ${where.join(' AND ')} ORDER BY t.updated_at DESC, t.tag_id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, q.limit, q.offset],
        tx,
      );
      const { rows: counts } = await this.query(
        `SELECT tag, count(*)::int AS n FROM file_tags WHERE case_id = $1 GROUP BY tag ORDER BY tag COLLATE "C"`,
        [q.caseId],
        tx,
      );
      return {
        total: Number(count[0]?.n ?? 0),
        items: rows.map(toTag),
        counts: counts.map((r) => ({ tag: String(r.tag), count: Number(r.n) })),
      };
    });
  }

  async getTag(caseId: string, tagId: string): Promise<FileTag | null> {
    const { rows } = await this.query(`${TAG_SELECT} WHERE t.case_id = $1 AND t.tag_id = $2`, [caseId, tagId]);
    return rows[0] ? toTag(rows[0]) : null;
  }

  async addTag(t: { caseId: string; fileId: string; tag: string; note: string; by: string }): Promise<FileTag> {
    const tagId = randomUUID();
    const { rows } = await this.query(
      `INSERT INTO file_tags (tag_id, case_id, file_id, tag, note, created_by, updated_by)
       SELECT $1, f.case_id, f.file_id, $4, $5, $6, $6 FROM files f WHERE f.file_id = $3 AND f.case_id = $2
       ON CONFLICT (case_id, file_id, tag) DO NOTHING
       RETURNING tag_id`,
      [tagId, t.caseId, t.fileId, t.tag, t.note, t.by],
    );
    if (rows.length === 0) {
      const { rows: file } = await this.query('SELECT 1 FROM files WHERE file_id = $1 AND case_id = $2', [t.fileId, t.caseId]);
      if (file.length === 0) throw new ExhibitError('not-found', 'no such file in this case');
      throw new ExhibitError('conflict', `the file already has the tag ${JSON.stringify(t.tag)}; change that one instead`);
    }
    const added = await this.getTag(t.caseId, tagId);
    if (!added) throw new ExhibitError('conflict', 'the tag was removed while it was being added');
    return added;
  }

  async updateTag(caseId: string, tagId: string, patch: { tag?: string; note?: string; by: string }): Promise<{ before: FileTag; after: FileTag }> {
    return this.sql.transaction(async (tx) => {
      const { rows: locked } = await this.query(`${TAG_SELECT} WHERE t.case_id = $1 AND t.tag_id = $2 FOR UPDATE OF t`, [caseId, tagId], tx);
      if (!locked[0]) throw new ExhibitError('not-found', 'no such tag in this case');
      const before = toTag(locked[0]);
      await this.query(
        `UPDATE file_tags SET tag = COALESCE($3, tag), note = COALESCE($4, note), updated_by = $5, updated_at = now()
          WHERE case_id = $1 AND tag_id = $2`,
        [caseId, tagId, patch.tag ?? null, patch.note ?? null, patch.by],
        tx,
      );
      const { rows } = await this.query(`${TAG_SELECT} WHERE t.case_id = $1 AND t.tag_id = $2`, [caseId, tagId], tx);
      return { before, after: toTag(rows[0]!) };
    });
  }

  async removeTag(caseId: string, tagId: string): Promise<FileTag> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await this.query(`${TAG_SELECT} WHERE t.case_id = $1 AND t.tag_id = $2 FOR UPDATE OF t`, [caseId, tagId], tx);
      if (!rows[0]) throw new ExhibitError('not-found', 'no such tag in this case');
      await this.query('DELETE FROM file_tags WHERE case_id = $1 AND tag_id = $2', [caseId, tagId], tx);
      return toTag(rows[0]);
    });
  }

  async restoreTag(t: FileTag): Promise<void> {
    await this.query(
      `INSERT INTO file_tags (tag_id, case_id, file_id, tag, note, created_by, created_at, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9::timestamptz) ON CONFLICT DO NOTHING`,
      [t.tagId, t.caseId, t.fileId, t.tag, t.note, t.createdBy, t.createdAt, t.updatedBy, t.updatedAt],
    );
  }

  async accessEvents(q: AccessEventQuery) {
    const params: unknown[] = [q.caseId, q.actions];
    const where = ['case_id = $1', 'action = ANY($2::text[])'];
    // As assignments match (migration 0210): a UPN in any letter case, or the Entra object id the
    // API records beside the actor, which finds a renamed user's entries under every name they had.
    // Older migration 0210 'assignment-change' entries (written before access-events.ts left it out)
    // carry the bound account as 'objectId', not their actor's: they are not that user's own actions.
    if (q.user !== undefined) {
      const n = params.push(q.user);
      where.push(`(exhibit_user_key(actor) = exhibit_user_key($${n}) OR (details ->> 'objectId' = lower($${n}) AND actor <> 'migration 0210'))`);
    }
    if (q.fileId !== undefined) where.push(`subject ? 'fileId' AND subject ->> 'fileId' = $${params.push(q.fileId)}`);
    if (q.sha256 !== undefined) where.push(`subject ? 'sha256' AND subject ->> 'sha256' = $${params.push(q.sha256)}`);
    if (q.from !== undefined) where.push(`time >= $${params.push(q.from)}::timestamptz`);
    if (q.to !== undefined) where.push(`time <= $${params.push(q.to)}::timestamptz`);
    const w = where.join(' AND ');
    return this.snapshot(async (tx) => {
      const { rows: count } = await this.query(`SELECT count(*)::int AS n FROM custody_entries WHERE ${w}`, params, tx);
      const { rows } = await this.query(
        `SELECT time, actor, action, evidence_id, seq, subject, details FROM custody_entries WHERE ${w}
          ORDER BY time DESC, evidence_id COLLATE "C", seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, q.limit, q.offset],
        tx,
      );
      const { rows: by } = await this.query(
        `SELECT actor, action, count(*)::int AS n, max(time) AS last FROM custody_entries WHERE ${w}
          GROUP BY actor, action ORDER BY actor COLLATE "C", action COLLATE "C"`,
        params,
        tx,
      );
      const items: AccessEvent[] = rows.map((r) => {
        const subject = (typeof r.subject === 'string' ? JSON.parse(r.subject) : r.subject) as Record<string, unknown>;
        const details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
        return {
          time: iso(r.time),
          actor: String(r.actor),
          action: String(r.action),
          evidenceId: String(r.evidence_id),
          seq: Number(r.seq),
          fileId: typeof subject.fileId === 'string' ? subject.fileId : null,
          sha256: typeof subject.sha256 === 'string' ? subject.sha256 : null,
          path: typeof details.path === 'string' ? details.path : null,
          details,
        };
      });
      return {
        total: Number(count[0]?.n ?? 0),
        items,
        byActor: by.map((r) => ({ actor: String(r.actor), action: String(r.action), count: Number(r.n), last: iso(r.last) })),
      };
    });
  }

  async getExport(caseId: string, exportId: string): Promise<ExportRecord | null> {
    const { rows } = await this.query(
      `SELECT actor, time, details FROM custody_entries
        WHERE case_id = $1 AND action = 'export' AND details ->> 'exportId' = $2
        ORDER BY time, evidence_id COLLATE "C", seq LIMIT 1`,
      [caseId, exportId],
    );
    const r = rows[0];
    if (!r) return null;
    const d = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>;
    return {
      exportId,
      caseId,
      format: String(d.format),
      sha256: String(d.sha256),
      bytes: Number(d.bytes),
      items: Number(d.items),
      producedBy: String(r.actor),
      producedAt: typeof d.producedAt === 'string' ? d.producedAt : iso(r.time),
      // Only an entry that says it is complete reads as complete: one cut short must never pass for a whole report.
      complete: d.complete === true,
      ...(typeof d.stoppedBy === 'string' ? { stoppedBy: d.stoppedBy } : {}),
      ...(typeof d.planned === 'number' ? { planned: d.planned } : {}),
    };
  }
}

export function createPostgresReviewStore(sql: SqlClient, options: { reviewSummary?: boolean } = {}): PostgresReviewStore {
  return new PostgresReviewStore(sql, options);
}
