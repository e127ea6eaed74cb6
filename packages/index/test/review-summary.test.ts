import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IndexStore, type ReviewFilter } from '@exhibit/core';
import { REVIEW_SUMMARY, bringReviewSummaryUpToDate, createPostgresIndex, refreshReviewSummary, createPostgresReviewStore, openSqlClient, type PostgresReviewStore, type SqlClient } from '../src/index.js';
import { summaryState } from '../src/review-summary.js';
import { newUpload } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

const CASE = 'case-summary';
const OTHER = 'case-summary-other';

/**
 * Seeds `n` files of a case in bulk (as the bench does): two evidence items,
 * images and videos, a position on most, capture times with and without an
 * offset on most, every seventh file without a content row, every eleventh a
 * copy of another's content (also held by the other case).
 */
async function seed(sql: SqlClient, caseId: string, from: number, n: number): Promise<void> {
  await sql.query(
    `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status,
                           taken_at_utc, taken_at_local, taken_at_local_ts, taken_offset_minutes, gps_lat, gps_lon, thumbnail_status)
     SELECT encode(sha256(('c' || g)::bytea), 'hex'), md5('c' || g), left(encode(sha256(('s' || g)::bytea), 'hex'), 40), 1000 + g,
            'derived', 'content/' || g, CASE WHEN g % 5 = 0 THEN 'video/mp4' ELSE 'image/jpeg' END, 'jpg',
            CASE WHEN g % 5 = 0 THEN 'video' ELSE 'image' END, '{}'::jsonb, 'done',
            CASE WHEN g % 4 = 0 OR g % 13 = 0 THEN NULL ELSE ts - interval '1 hour' END,
            CASE WHEN g % 13 = 0 THEN NULL ELSE to_char(ts, 'YYYY:MM:DD HH24:MI:SS') END,
            CASE WHEN g % 13 = 0 THEN NULL ELSE ts END,
            CASE WHEN g % 4 = 0 OR g % 13 = 0 THEN NULL ELSE 60 END,
            CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY[51.5, -22.9, 35.7])[1 + g % 3] + ((g * 0.0137) % 0.9) - 0.45 END,
            CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY[-0.12, -43.17, 139.65])[1 + g % 3] + ((g * 0.0291) % 1.7) - 0.85 END,
            'n/a'
       FROM (SELECT g, timestamp '2023-01-01' + g * interval '17 hours 13 minutes 7 seconds' AS ts FROM generate_series($1::int, $2::int) g) s
      WHERE g % 7 <> 0
     ON CONFLICT (sha256) DO NOTHING`,
    [from, from + n - 1],
  );
  await sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage)
     SELECT $3 || '-' || lpad(g::text, 6, '0'), $3, CASE WHEN g % 3 = 0 THEN 'ev2' ELSE 'ev1' END, 0, 'DCIM/IMG_' || g || '.jpg',
            'x', 'IMG_' || g || '.jpg', 'jpg', 'file', 1000, encode(sha256(('c' || CASE WHEN g % 11 = 0 THEN g - 1 ELSE g END)::bytea), 'hex'), 'indexed'
       FROM generate_series($1::int, $2::int) g`,
    [from, from + n - 1, caseId],
  );
}

/** Every request the summary may answer, with filters it keeps and with ones it does not. */
const FILTERS: Array<Omit<ReviewFilter, 'caseId'>> = [
  {},
  { evidenceId: 'ev1' },
  { kind: 'image' },
  { kind: 'video', evidenceId: 'ev2' },
  { includeKnownGood: true },
  { includeKnownGood: true, evidenceId: 'ev2' },
  { hasGps: true, kind: 'image' },
  { hasGps: false },
  { evidenceId: 'nope' },
  // Search totals only (migration 0090); map and timeline ask the files.
  { duplicates: 'only' },
  { duplicates: 'only', evidenceId: 'ev2' },
  { duplicates: 'collapse' },
  { duplicates: 'collapse', kind: 'image', hasGps: true },
  { duplicates: 'collapse', includeKnownGood: true, evidenceId: 'ev1' },
  // Not kept: always asked of the files (the comparison still holds).
  { takenOffset: 'missing' },
];
const ZOOMS = [0, 2, 9, REVIEW_SUMMARY.mapMaxZoom, REVIEW_SUMMARY.mapMaxZoom + 1];
/** The filters a stale summary is checked with (every answer then comes from the files: fewer suffice). */
const FEW = FILTERS.slice(0, 5);

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('review summary on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  let direct: IndexStore;
  let review: PostgresReviewStore;
  let plain: PostgresReviewStore;

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    direct = createPostgresIndex(sql, { reviewSummary: false });
    review = createPostgresReviewStore(sql);
    plain = createPostgresReviewStore(sql, { reviewSummary: false });
    await index.migrate();
    for (const c of [CASE, OTHER]) await index.recordUpload(newUpload(c, 'ev1', 'phone.zip'));
    await seed(sql, CASE, 1, 700);
    await seed(sql, OTHER, 650, 100);
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  const fresh = async (caseId: string) => (await summaryState(sql, caseId))?.fresh === true;

  /** Every answer from the summary equals the direct query's, value for value. */
  async function expectSameAnswers(caseId: string, filters = FILTERS): Promise<void> {
    for (const f of filters) {
      const filter = { caseId, ...f };
      for (const zoom of ZOOMS) {
        for (const maxClusters of zoom === 2 ? [5000, 3] : [5000]) {
          const cellDeg = 360 / 2 ** zoom / 4;
          expect(await review.mapClusters({ ...filter, cellDeg, maxClusters }), `map ${JSON.stringify(f)} zoom ${zoom}`).toEqual(
            await plain.mapClusters({ ...filter, cellDeg, maxClusters }),
          );
        }
      }
      for (const bucket of [undefined, 'minute', 'week', 'month'] as const) {
        for (const maxBuckets of bucket ? [200] : [200, 7]) {
          const q = { ...filter, maxBuckets, ...(bucket ? { bucket } : {}) };
          expect(await review.timeline(q), `timeline ${JSON.stringify(f)} ${bucket}`).toEqual(await plain.timeline(q));
        }
      }
      const s = await index.search({ ...filter, limit: 5 });
      const d = await direct.search({ ...filter, limit: 5 });
      expect(s.total, `search total ${JSON.stringify(f)}`).toBe(d.total);
      expect(s.items.map((i) => i.file.fileId)).toEqual(d.items.map((i) => i.file.fileId));
      expect(await review.countFiles(filter, 100)).toBe(await plain.countFiles(filter, 100));
      expect(await review.countFiles(filter, 100_000)).toBe(await plain.countFiles(filter, 100_000));
    }
  }

  it('answers from a fresh summary exactly as the files do, per case', async () => {
    expect(await fresh(CASE)).toBe(false);
    expect(await review.refreshSummary(CASE)).toBe(true);
    expect(await review.refreshSummary(OTHER)).toBe(true);
    expect(await fresh(CASE)).toBe(true);
    await expectSameAnswers(CASE);
    await expectSameAnswers(OTHER);
  }, 600_000);

  it('is what the answers are read from while fresh (so the comparison above compares something)', async () => {
    await review.refreshSummary(CASE);
    const before = (await review.timeline({ caseId: CASE, maxBuckets: 200 })).total;
    // Tamper with the cache behind the triggers' back: the answer follows it.
    await sql.query(`UPDATE review_summary_counts SET files = files + 1000 WHERE case_id = $1 AND evidence_id = 'ev1' AND kind = 'image' AND has_gps AND NOT hidden`, [CASE]);
    expect((await review.timeline({ caseId: CASE, maxBuckets: 200 })).total).toBe(before + 1000);
    expect((await index.search({ caseId: CASE, limit: 1 })).total).toBe(before + 1000);
    const dups = (await direct.search({ caseId: CASE, duplicates: 'only', limit: 1 })).total;
    await sql.query(`UPDATE review_summary_counts SET duplicate_files = duplicate_files + 7 WHERE case_id = $1 AND evidence_id = 'ev1' AND kind = 'image' AND has_gps AND NOT hidden`, [CASE]);
    expect((await index.search({ caseId: CASE, duplicates: 'only', limit: 1 })).total).toBe(dups + 7);
    expect((await plain.timeline({ caseId: CASE, maxBuckets: 200 })).total).toBe(before);
    await review.refreshSummary(CASE);
    expect((await review.timeline({ caseId: CASE, maxBuckets: 200 })).total).toBe(before);
  });

  it('goes stale on new files, content changes, deletes, and known-file matches and their withdrawal; stale answers come from the files', async () => {
    const { rows: sets } = await sql.query<{ set_id: string }>(
      `INSERT INTO hash_sets (name, kind, format, source_file_name, source_sha256, source_size, imported_by, state, activated_at)
       VALUES ('good', 'known-good', 'hash-list', 'good.txt', $1, 1, 'test', 'active', now()),
              ('bad', 'known-bad', 'hash-list', 'bad.txt', $1, 1, 'test', 'active', now())
       RETURNING set_id`,
      ['0'.repeat(64)],
    );
    const [good, bad] = sets.map((s) => String(s.set_id));
    // The other case's summary goes stale with a set activated anywhere (they may hold its contents).
    expect(await fresh(OTHER)).toBe(false);

    const changes: Array<[string, () => Promise<unknown>]> = [
      ['new files', () => seed(sql, CASE, 701, 60)],
      ['a position corrected', () => sql.query(`UPDATE contents SET gps_lat = gps_lat + 0.5 WHERE sha256 = encode(sha256('c2'::bytea), 'hex')`)],
      ['a capture time removed', () => sql.query(`UPDATE contents SET taken_at_local_ts = NULL, taken_at_utc = NULL WHERE sha256 = encode(sha256('c3'::bytea), 'hex')`)],
      ['files moved to another evidence item', () => sql.query(`UPDATE files SET evidence_id = 'ev3' WHERE case_id = $1 AND file_id LIKE $2`, [CASE, `${CASE}-00001%`])],
      ['known-good matches (hidden by default)', () =>
        sql.query(`INSERT INTO hash_set_matches (sha256, set_id, matched_on) SELECT sha256, $1, 'sha256' FROM contents WHERE size % 6 = 1`, [good])],
      ['a known-bad match on a known-good content (shown)', () =>
        sql.query(`INSERT INTO hash_set_matches (sha256, set_id, matched_on) SELECT sha256, $1, 'sha256' FROM contents WHERE size % 12 = 1`, [bad])],
      ['the known-bad set disabled', () => sql.query('UPDATE hash_sets SET enabled = false WHERE set_id = $1', [bad])],
      ['the known-good matches withdrawn', () => sql.query('DELETE FROM hash_set_matches WHERE set_id = $1 AND sha256 < $2', [good, '8'])],
      ['files deleted', () => sql.query(`DELETE FROM files WHERE case_id = $1 AND file_id LIKE $2`, [CASE, `${CASE}-00002%`])],
      ['a content row deleted', () =>
        sql.query(`DELETE FROM contents c WHERE c.sha256 = encode(sha256('c5'::bytea), 'hex') AND NOT EXISTS (SELECT 1 FROM hash_set_matches m WHERE m.sha256 = c.sha256)`)],
    ];
    for (const [name, change] of changes) {
      await review.refreshSummary(CASE);
      expect(await fresh(CASE), name).toBe(true);
      await change();
      expect(await fresh(CASE), `stale after: ${name}`).toBe(false);
      // Just changed, so not quiet: answered from the files, and right.
      await expectSameAnswers(CASE, FEW);
    }
    await review.refreshSummary(CASE);
    await review.refreshSummary(OTHER);
    expect(await fresh(CASE)).toBe(true);
    await expectSameAnswers(CASE);
    await expectSameAnswers(OTHER);
  }, 600_000);

  it('ignores changes that do not touch what it counts', async () => {
    await review.refreshSummary(CASE);
    await sql.query(`UPDATE files SET stage = 'indexed', updated_at = now() WHERE case_id = $1`, [CASE]);
    await sql.query(`UPDATE contents SET thumbnail_status = 'n/a'`);
    await sql.query(`UPDATE hash_sets SET row_count = row_count + 1`);
    expect(await fresh(CASE)).toBe(true);
  });

  // PGlite is one connection: nothing can commit while a refresh reads.
  it.skipIf(target.name !== 'postgres')('a change committed while a refresh reads leaves the new summary stale', async () => {
    const url = (await sql.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const other = await openSqlClient({ kind: 'postgres', url: Object.assign(new URL(DATABASE_URL!), { pathname: `/${url}` }).toString(), entraAuth: false });
    try {
      // The refresh's snapshot is taken, then a writer commits, then the refresh commits.
      const refreshed = await refreshReviewSummary(sql, CASE, {
        afterSnapshot: async () => {
          await other.query(`UPDATE files SET evidence_id = 'ev4' WHERE case_id = $1 AND file_id = $2`, [CASE, `${CASE}-000400`]);
        },
      });
      expect(refreshed).toBe(true);
      expect(await fresh(CASE)).toBe(false);
      await expectSameAnswers(CASE, FEW);
      expect(await review.refreshSummary(CASE)).toBe(true);
      expect(await fresh(CASE)).toBe(true);
      await expectSameAnswers(CASE, FEW);
    } finally {
      await other.close();
    }
  }, 120_000);
  /** The files the summary counts for the case (every dimension), beside the files themselves. */
  async function summarisedFiles(caseId: string): Promise<{ summary: number; state: number; files: number }> {
    const { rows } = await sql.query<{ summary: string; state: string; files: string }>(
      `SELECT (SELECT COALESCE(sum(files), 0) FROM review_summary_counts WHERE case_id = $1) AS summary,
              (SELECT files FROM review_summary_state WHERE case_id = $1) AS state,
              (SELECT count(*) FROM files WHERE case_id = $1) AS files`,
      [caseId],
    );
    return { summary: Number(rows[0]!.summary), state: Number(rows[0]!.state), files: Number(rows[0]!.files) };
  }

  it('is brought up to date once, and again is a probe: nothing counted twice (a completion delivered again)', async () => {
    await seed(sql, CASE, 900, 30);
    expect(await fresh(CASE)).toBe(false);
    expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe('refreshed');
    expect(await fresh(CASE)).toBe(true);
    const once = await summarisedFiles(CASE);
    expect(once.summary).toBe(once.files);
    expect(once.state).toBe(once.files);
    const { rows: before } = await sql.query<{ at: unknown }>('SELECT refreshed_at AS at FROM review_summary_state WHERE case_id = $1', [CASE]);
    for (let i = 0; i < 3; i++) expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe('fresh');
    const { rows: after } = await sql.query<{ at: unknown }>('SELECT refreshed_at AS at FROM review_summary_state WHERE case_id = $1', [CASE]);
    expect(after).toEqual(before);
    expect(await summarisedFiles(CASE)).toEqual(once);
    await expectSameAnswers(CASE, FEW);
  }, 120_000);

  it('stops between statements once the whole refresh is past its budget (each statement quick), and the summary is left as it was (stale, so unused)', async () => {
    await seed(sql, CASE, 1100, 10);
    const stale = await summarisedFiles(CASE);
    const budgetMs = 2_000;
    const seen: string[] = [];
    const afterPause: string[] = [];
    let paused = false;
    const outcome = await bringReviewSummaryUpToDate(sql, CASE, {
      budgetMs,
      beforeStatement: async (statement) => {
        if (paused) afterPause.push(statement);
        seen.push(statement);
        // Past the deletes and the remake, before the position index: a refresh whose statements each
        // stay within the budget but together do not (a per-statement timeout alone let it commit).
        if (statement.startsWith('positions ') && !paused) {
          paused = true;
          await new Promise((r) => setTimeout(r, budgetMs + 200));
        }
      },
    });
    expect(outcome).toBe('timed-out');
    // Nothing ran once the budget was spent (on a machine too slow to reach the pause, it stopped sooner).
    expect(afterPause).toEqual([]);
    expect(seen.filter((s) => s === 'state')).toEqual([]);
    expect(await summarisedFiles(CASE)).toEqual(stale);
    expect(await fresh(CASE)).toBe(false);
    await expectSameAnswers(CASE, FEW);
  }, 120_000);

  it('is cut by its abort signal (shutdown, the invocation deadline) between statements and rolled back', async () => {
    await seed(sql, CASE, 1120, 10);
    const stale = await summarisedFiles(CASE);
    const controller = new AbortController();
    const seen: string[] = [];
    const outcome = await bringReviewSummaryUpToDate(sql, CASE, {
      budgetMs: 60_000,
      abortSignal: controller.signal,
      beforeStatement: async (statement) => {
        seen.push(statement);
        // The case's summary rows are deleted by now: rolled back, they are as they were.
        if (statement === 'summarise') controller.abort();
      },
    });
    expect(outcome).toBe('aborted');
    expect(seen.at(-1)).toBe('summarise');
    expect(seen.filter((s) => s.startsWith('delete '))).toHaveLength(7);
    // Aborted before it starts: no refresh at all, only the look at the state.
    expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000, abortSignal: controller.signal })).toBe('aborted');
    expect(await summarisedFiles(CASE)).toEqual(stale);
    expect(await fresh(CASE)).toBe(false);
    expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe('refreshed');
    expect(await fresh(CASE)).toBe(true);
    await expectSameAnswers(CASE, FEW);
  }, 120_000);

  describe.skipIf(target.name !== 'postgres')('beside another connection', () => {
    let other: SqlClient;
    beforeAll(async () => {
      const db = (await sql.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
      other = await openSqlClient({ kind: 'postgres', url: Object.assign(new URL(DATABASE_URL!), { pathname: `/${db}` }).toString(), entraAuth: false });
    });
    afterAll(async () => {
      await other?.close();
    });
    /** What refreshReviewSummary's advisory lock is taken on (review-summary.ts). */
    const holdRefreshLock = (caseId: string) => other.query('SELECT pg_advisory_lock(hashtext($1), 6000601)', [caseId]);
    const releaseRefreshLock = (caseId: string) => other.query('SELECT pg_advisory_unlock(hashtext($1), 6000601)', [caseId]);

    it('waits for a refresh already running (whose snapshot may predate the last write), then remakes the summary', async () => {
      await seed(sql, CASE, 940, 20);
      await holdRefreshLock(CASE);
      const started = bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000, pollMs: 50 });
      await new Promise((r) => setTimeout(r, 400));
      expect(await fresh(CASE)).toBe(false);
      await releaseRefreshLock(CASE);
      expect(await started).toBe('refreshed');
      expect(await fresh(CASE)).toBe(true);
      await expectSameAnswers(CASE, FEW);
    }, 120_000);

    it('gives up within its budget while another refresh keeps the case, leaving the answers to the files', async () => {
      await seed(sql, CASE, 960, 10);
      await holdRefreshLock(CASE);
      try {
        expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 300, pollMs: 50 })).toBe('busy');
        expect(await fresh(CASE)).toBe(false);
        await expectSameAnswers(CASE, FEW);
      } finally {
        await releaseRefreshLock(CASE);
      }
      expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe('refreshed');
    }, 120_000);

    it('is cancelled by the database past its budget, and the summary is left as it was (stale, so unused)', async () => {
      await seed(sql, CASE, 980, 10);
      const stale = await summarisedFiles(CASE);
      // Another transaction holds the case's summary rows: the refresh's DELETE waits on them until its statement times out.
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM review_summary_counts WHERE case_id = $1 FOR UPDATE', [CASE]);
      try {
        expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 500 })).toBe('timed-out');
      } finally {
        await other.query('ROLLBACK');
      }
      expect(await summarisedFiles(CASE)).toEqual(stale);
      expect(await fresh(CASE)).toBe(false);
      await expectSameAnswers(CASE, FEW);
      // Those reads remake the summary themselves once the case has been quiet for
      // REVIEW_SUMMARY.quietMs, which a loaded machine reaches while comparing: then
      // there is nothing left to do ('fresh'); else this call remakes it.
      const remadeByReads = await fresh(CASE);
      expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe(remadeByReads ? 'fresh' : 'refreshed');
      expect(await fresh(CASE)).toBe(true);
    }, 120_000);

    it('racing a new upload to the case: the summary made without it is never used, and the upload completing brings it in', async () => {
      await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 });
      const before = await summarisedFiles(CASE);
      // Stale (5 new files), then another upload's files commit after the refresh took its snapshot, before it commits.
      await seed(sql, CASE, 1030, 5);
      const raced = await bringReviewSummaryUpToDate(sql, CASE, {
        budgetMs: 60_000,
        afterSnapshot: async () => {
          await seed(other, CASE, 1040, 25);
        },
      });
      expect(raced).toBe('refreshed');
      expect(await fresh(CASE)).toBe(false);
      const counted = await summarisedFiles(CASE);
      expect(counted.summary).toBe(before.files + 5);
      expect(counted.files).toBe(before.files + 5 + 25);
      // (Reads now ask the files; after REVIEW_SUMMARY.quietMs one would remake it: not waited for here.)
      expect(await bringReviewSummaryUpToDate(sql, CASE, { budgetMs: 60_000 })).toBe('refreshed');
      expect(await fresh(CASE)).toBe(true);
      const now = await summarisedFiles(CASE);
      expect(now.summary).toBe(now.files);
      await expectSameAnswers(CASE, FEW);
    }, 120_000);
  });
});
