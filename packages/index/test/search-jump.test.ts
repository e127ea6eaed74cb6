import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStore, SearchQuery, SearchResult, SortKey } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, refreshReviewSummary, type SqlClient } from '../src/index.js';
import { summaryState } from '../src/review-summary.js';
import { newUpload } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

const CASE = 'case-jump';
const OTHER = 'case-jump-other';
const N = 61;
/** Small, so every jump of these few files starts from a stored position and skips across groups of ties. */
const EVERY = 4;

/**
 * Ties and empty values in every sort (as search-keyset.test.ts seeds them):
 * paths equal but for letter case, few names, sizes, capture times, types and
 * recording times shared by many files, files without a size, a time, a type
 * or a content; makes and models in mixed case, some missing, one with LIKE
 * wildcards in it.
 */
async function seed(sql: SqlClient, caseId: string, from: number, to: number): Promise<void> {
  await sql.query(
    `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status,
                           taken_at_utc, taken_at_local, taken_at_local_ts, taken_offset_minutes, make, model, thumbnail_status)
     SELECT encode(sha256(('j' || g)::bytea), 'hex'), md5('j' || g), left(encode(sha256(('s' || g)::bytea), 'hex'), 40), 10,
            'derived', 'content/' || g, CASE WHEN g % 4 = 1 THEN NULL WHEN g % 2 = 0 THEN 'image/jpeg' ELSE 'video/mp4' END, 'jpg',
            CASE WHEN g % 5 = 0 THEN 'video' ELSE 'image' END, '{}'::jsonb, 'done',
            CASE WHEN g % 3 = 0 OR g % 7 = 0 THEN NULL ELSE ts - interval '1 hour' END,
            CASE WHEN g % 3 = 0 THEN NULL ELSE to_char(ts, 'YYYY:MM:DD HH24:MI:SS') END,
            CASE WHEN g % 3 = 0 THEN NULL ELSE ts END,
            CASE WHEN g % 3 = 0 OR g % 7 = 0 THEN NULL ELSE 60 END,
            (ARRAY['Canon', 'CANON Inc.', 'Apple', NULL, 'can_on%'])[1 + g % 5], (ARRAY['EOS 5D', 'eos R', 'iPhone 12', NULL])[1 + g % 4], 'n/a'
       FROM (SELECT g, timestamp '2023-05-01 10:00:00.123456' + (g % 5) * interval '1 hour' AS ts FROM generate_series($1::int, $2::int) g) s
     ON CONFLICT (sha256) DO NOTHING`,
    [from, to],
  );
  await sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage, created_at)
     SELECT $3 || '-' || lpad(g::text, 3, '0'), $3, CASE WHEN g % 2 = 0 THEN 'ev2' ELSE 'ev1' END, 0,
            CASE WHEN g % 3 = 0 THEN 'DCIM/Img_' || (g % 9) || '.jpg' WHEN g % 3 = 1 THEN 'dcim/IMG_' || (g % 9) || '.jpg' ELSE 'DCIM/img_' || (g % 4) || '.jpg' END,
            'x', 'IMG_' || (g % 6) || '.jpg', 'jpg', 'file', CASE WHEN g % 4 = 0 THEN NULL ELSE (g % 3) * 10 END,
            CASE WHEN g % 6 = 0 THEN NULL ELSE encode(sha256(('j' || CASE WHEN g % 5 = 0 THEN g - 1 ELSE g END)::bytea), 'hex') END, 'indexed',
            timestamptz '2024-01-01 00:00:00.000001+00' + (g % 3) * interval '0.000001 seconds'
       FROM generate_series($1::int, $2::int) g`,
    [from, to, caseId],
  );
}

const SORTS: SortKey[] = ['path', 'name', 'size', 'takenAt', 'sha256', 'mime', 'added'];

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('jumps and facet counts from the review summary on $name', (target) => {
  let sql: SqlClient;
  /** Reads the summary (positions, facets) when fresh. */
  let index: IndexStore;
  /** Never reads it: the offset query and the counted total themselves. */
  let direct: IndexStore;
  const page = (r: SearchResult) => ({ ids: r.items.map((i) => i.file.fileId), next: r.next, total: r.total, lower: r.totalIsLowerBound });
  const fresh = async (caseId: string) => (await summaryState(sql, caseId))?.fresh === true;
  const refresh = async (caseId: string, options: Parameters<typeof refreshReviewSummary>[2] = {}) =>
    expect(await refreshReviewSummary(sql, caseId, { positionEvery: EVERY, ...options })).toBe(true);

  /** Every offset from 0 to past the end, pages of 1 and 3, both ways, by both stores: the same page, cursor and total. */
  async function expectSameJumps(sort: SortKey, files: number, limits: number[] = [1, 3]): Promise<void> {
    for (const order of ['asc', 'desc'] as const) {
      for (const limit of limits) {
        for (let offset = 0; offset <= files + 1; offset++) {
          const q: SearchQuery = { caseId: CASE, sort, order, limit, offset };
          expect(page(await index.search(q)), `${sort} ${order} limit ${limit} offset ${offset}`).toEqual(page(await direct.search(q)));
        }
      }
    }
  }

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    direct = createPostgresIndex(sql, { reviewSummary: false });
    await index.migrate();
    for (const c of [CASE, OTHER]) await index.recordUpload(newUpload(c, 'ev1', 'phone.zip'));
    await seed(sql, CASE, 1, N);
    await seed(sql, OTHER, 1, N);
    // A known-good content, hidden in the view the positions number (one copy of it is also known-bad: shown).
    const { rows: sets } = await sql.query<{ set_id: string }>(
      `INSERT INTO hash_sets (name, kind, format, source_file_name, source_sha256, source_size, imported_by, state, activated_at)
       VALUES ('good', 'known-good', 'hash-list', 'good.txt', $1, 1, 'test', 'active', now()),
              ('bad', 'known-bad', 'hash-list', 'bad.txt', $1, 1, 'test', 'active', now()) RETURNING set_id`,
      ['0'.repeat(64)],
    );
    await sql.query(`INSERT INTO hash_set_matches (sha256, set_id, matched_on) SELECT encode(sha256(('j' || g)::bytea), 'hex'), $1, 'sha256' FROM generate_series(1, 61, 8) g`, [sets[0]!.set_id]);
    await sql.query(`INSERT INTO hash_set_matches (sha256, set_id, matched_on) VALUES (encode(sha256('j17'::bytea), 'hex'), $1, 'sha256')`, [sets[1]!.set_id]);
    await refresh(CASE);
    await refresh(OTHER);
  }, 600_000);

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it.each(SORTS)('a jump by %s is the offset page itself: every offset, both ways, under ties, empty values and hidden files', async (sort) => {
    expect(await fresh(CASE)).toBe(true);
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM review_summary_positions WHERE case_id = $1 AND sort = $2', [CASE, sort]);
    expect(Number(rows[0]!.n)).toBeGreaterThan(2 * Math.floor((N - 16) / EVERY));
    await expectSameJumps(sort, N);
  }, 600_000);

  it('is what a jump starts from while fresh (so the comparison above compares something)', async () => {
    const q: SearchQuery = { caseId: CASE, sort: 'path', limit: 3, offset: 2 * EVERY + 1 };
    const right = page(await direct.search(q));
    expect(page(await index.search(q))).toEqual(right);
    // A stored position moved back by hand to the one before it (never done by the product) moves the page: it was read.
    await sql.query(
      `UPDATE review_summary_positions p SET k = o.k, file_id = o.file_id FROM review_summary_positions o
        WHERE p.case_id = $1 AND p.sort = 'path' AND NOT p.descending AND p.ordinal = $2 AND o.case_id = p.case_id AND o.sort = p.sort AND o.descending = p.descending AND o.ordinal = $3`,
      [CASE, 2 * EVERY - 1, EVERY - 1],
    );
    expect(page(await index.search(q))).not.toEqual(right);
    await refresh(CASE);
    expect(page(await index.search(q))).toEqual(right);
  });

  it('files added, a capture time, a type and a size changed after the summary: jumps are the offset pages of the new data', async () => {
    // Each change with the sorts it moves files in.
    const changes: Array<[string, () => Promise<unknown>, SortKey[]]> = [
      ['files added', () => seed(sql, CASE, N + 1, N + 9), ['path', 'added']],
      ['a type changed', () => sql.query(`UPDATE contents SET mime = 'zz/last' WHERE sha256 = encode(sha256('j2'::bytea), 'hex')`), ['mime']],
      ['a capture time changed', () => sql.query(`UPDATE contents SET taken_at_local_ts = taken_at_local_ts + interval '1 day' WHERE sha256 = encode(sha256('j4'::bytea), 'hex')`), ['takenAt']],
      ['a size changed', () => sql.query(`UPDATE files SET size = 5 WHERE file_id = $1`, [`${CASE}-011`]), ['size']],
    ];
    for (const [name, change, sorts] of changes) {
      await refresh(CASE);
      await change();
      expect(await fresh(CASE), `stale after: ${name}`).toBe(false);
      for (const sort of sorts) await expectSameJumps(sort, N + 9, [3]);
      await refresh(CASE);
      for (const sort of sorts) await expectSameJumps(sort, N + 9, [3]);
    }
  }, 600_000);

  // PGlite is one connection: nothing can commit while a search reads.
  it.skipIf(target.name !== 'postgres')('a file committed by another connection after the summary: the jump is the offset page with that file', async () => {
    await refresh(CASE);
    const db = (await sql.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const other = await openSqlClient({ kind: 'postgres', url: Object.assign(new URL(DATABASE_URL!), { pathname: `/${db}` }).toString(), entraAuth: false });
    try {
      const q: SearchQuery = { caseId: CASE, sort: 'path', limit: 5, offset: 3 * EVERY + 2 };
      const before = page(await direct.search(q));
      // 'DCIM/A...' sorts before every page shown: committed now, it shifts the offset pages of later snapshots.
      await other.query(
        `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage) VALUES ($1, $2, 'ev1', 0, 'DCIM/A.jpg', 'x', 'A.jpg', 'file', 'indexed')`,
        [`${CASE}-000`, CASE],
      );
      const after = page(await index.search(q));
      expect(after).toEqual(page(await direct.search(q)));
      expect(after.ids).not.toEqual(before.ids);
    } finally {
      await other.close();
    }
  }, 600_000);

  it('counts make and model prefixes from the facets exactly as the files count them; over the group limit it counts the files', async () => {
    await refresh(CASE);
    const filters: Array<Partial<SearchQuery>> = [
      { make: 'canon' },
      { make: 'CANON' },
      { make: '  Can ' },
      { make: 'can_' },
      { make: 'can_on%' },
      { make: '' },
      { make: 'zz' },
      { model: 'eos' },
      { make: 'canon', model: 'eos r' },
      { make: 'canon', kind: 'image', evidenceId: 'ev2' },
      { make: 'apple', includeKnownGood: true },
      { make: 'canon', duplicates: 'collapse' },
      { model: 'eos', duplicates: 'only', hasGps: false },
    ];
    const counted = async (store: IndexStore, f: Partial<SearchQuery>) => (await store.search({ caseId: CASE, limit: 1, ...f })).total;
    // The facets answer: the files' count with the facets table emptied differs (so the summary was read).
    for (const f of filters) expect(await counted(index, f), JSON.stringify(f)).toBe(await counted(direct, f));
    const canon = await counted(direct, { make: 'canon' });
    expect(canon).toBeGreaterThan(0);
    await sql.query(`UPDATE review_summary_facets SET files = files + 1000 WHERE case_id = $1`, [CASE]);
    expect(await counted(index, { make: 'canon' })).not.toBe(canon);
    // A make changed: stale, so the files count it; then the new facets.
    await refresh(CASE);
    await sql.query(`UPDATE contents SET make = 'Nikon' WHERE sha256 = encode(sha256('j1'::bytea), 'hex')`);
    expect(await fresh(CASE)).toBe(false);
    for (const f of filters) expect(await counted(index, f), `stale ${JSON.stringify(f)}`).toBe(await counted(direct, f));
    await refresh(CASE);
    for (const f of filters) expect(await counted(index, f), `fresh ${JSON.stringify(f)}`).toBe(await counted(direct, f));
    // Too many groups to keep: none kept, and the files answer (the hand-made change below would show otherwise).
    await refresh(CASE, { maxFacetGroups: 2 });
    expect((await sql.query('SELECT 1 FROM review_summary_facets WHERE case_id = $1', [CASE])).rows).toEqual([]);
    for (const f of filters) expect(await counted(index, f), `no facets ${JSON.stringify(f)}`).toBe(await counted(direct, f));
  }, 600_000);
});
