import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStore, SearchQuery, SearchResult, SortKey } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { newUpload } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

const CASE = 'case-keyset';
const OTHER = 'case-keyset-other';
const N = 61;

/**
 * A case made for ties: paths equal but for letter case (equal lower(path)),
 * the same path in two evidence items, few sizes, capture times and types
 * shared by many files, files without a size, a time, a type or a content,
 * and recording times equal to the microsecond. The other case holds the
 * same paths, which no page of this case may show.
 */
async function seed(sql: SqlClient, caseId: string): Promise<void> {
  await sql.query(
    `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status,
                           taken_at_utc, taken_at_local, taken_at_local_ts, taken_offset_minutes, thumbnail_status)
     SELECT encode(sha256(('k' || g)::bytea), 'hex'), md5('k' || g), left(encode(sha256(('s' || g)::bytea), 'hex'), 40), 10,
            'derived', 'content/' || g, CASE WHEN g % 4 = 1 THEN NULL WHEN g % 2 = 0 THEN 'image/jpeg' ELSE 'video/mp4' END, 'jpg', 'image', '{}'::jsonb, 'done',
            CASE WHEN g % 3 = 0 OR g % 7 = 0 THEN NULL ELSE ts - interval '1 hour' END,
            CASE WHEN g % 3 = 0 THEN NULL ELSE to_char(ts, 'YYYY:MM:DD HH24:MI:SS') END,
            CASE WHEN g % 3 = 0 THEN NULL ELSE ts END,
            CASE WHEN g % 3 = 0 OR g % 7 = 0 THEN NULL ELSE 60 END, 'n/a'
       FROM (SELECT g, timestamp '2023-05-01 10:00:00.123456' + (g % 5) * interval '1 hour' AS ts FROM generate_series(1, $1::int) g) s
     ON CONFLICT (sha256) DO NOTHING`,
    [N],
  );
  await sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage, created_at)
     SELECT $2 || '-' || lpad(g::text, 3, '0'), $2, CASE WHEN g % 2 = 0 THEN 'ev2' ELSE 'ev1' END, 0,
            CASE WHEN g % 3 = 0 THEN 'DCIM/Img_' || (g % 9) || '.jpg' WHEN g % 3 = 1 THEN 'dcim/IMG_' || (g % 9) || '.jpg' ELSE 'DCIM/img_' || (g % 4) || '.jpg' END,
            'x', 'IMG_' || (g % 6) || '.jpg', 'jpg', 'file', CASE WHEN g % 4 = 0 THEN NULL ELSE (g % 3) * 10 END,
            CASE WHEN g % 6 = 0 THEN NULL ELSE encode(sha256(('k' || CASE WHEN g % 5 = 0 THEN g - 1 ELSE g END)::bytea), 'hex') END, 'indexed',
            timestamptz '2024-01-01 00:00:00.000001+00' + (g % 3) * interval '0.000001 seconds'
       FROM generate_series(1, $1::int) g`,
    [N, caseId],
  );
}

const SORTS: SortKey[] = ['path', 'name', 'size', 'takenAt', 'sha256', 'mime', 'added'];

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('keyset paging and bounded counts on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  const ids = (r: SearchResult) => r.items.map((i) => i.file.fileId);

  /** Every page from the first, each after the one before, until one says it is the last. */
  async function byCursor(q: SearchQuery): Promise<string[]> {
    const out: string[] = [];
    let page = await index.search(q);
    out.push(...ids(page));
    for (let guard = 0; page.next && guard < 1000; guard++) {
      page = await index.search({ ...q, after: page.next });
      out.push(...ids(page));
    }
    expect(page.next).toBeNull();
    return out;
  }

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    for (const c of [CASE, OTHER]) await index.recordUpload(newUpload(c, 'ev1', 'phone.zip'));
    await seed(sql, CASE);
    await seed(sql, OTHER);
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it.each(SORTS)('pages by %s, both ways, into exactly the whole ordered result under ties and empty values', async (sort) => {
    for (const order of ['asc', 'desc'] as const) {
      const q = { caseId: CASE, sort, order };
      const whole = await index.search({ ...q, limit: 500 });
      expect(whole.items).toHaveLength(N);
      expect(whole.next).toBeNull();
      const all = ids(whole);
      expect(new Set(all).size).toBe(N);
      expect(all.every((id) => id.startsWith(`${CASE}-`))).toBe(true);
      // Keyset pages (of 7: ties straddle page ends) and offset pages give the same order as one page.
      expect(await byCursor({ ...q, limit: 7 }), `${sort} ${order} by cursor`).toEqual(all);
      const byOffset: string[] = [];
      for (let offset = 0; offset < N; offset += 7) byOffset.push(...ids(await index.search({ ...q, limit: 7, offset })));
      expect(byOffset, `${sort} ${order} by offset`).toEqual(all);
      // Counted up to a cap above the matches: the page is sorted from the counted matches (one pass), the same order.
      const counted: string[] = [];
      for (let offset = 0; offset < N; offset += 7) {
        const page = await index.search({ ...q, limit: 7, offset, countCap: 1000 });
        expect(page).toMatchObject({ total: N, totalIsLowerBound: false });
        expect(page.next === null).toBe(offset + 7 >= N);
        counted.push(...ids(page));
      }
      expect(counted, `${sort} ${order} counted`).toEqual(all);
      // ...and its cursor goes on where it stopped.
      const firstCounted = await index.search({ ...q, limit: 7, countCap: 1000 });
      expect(ids(await index.search({ ...q, limit: 7, after: firstCounted.next! }))).toEqual(all.slice(7, 14));
    }
  });

  it('keeps its place when files are added between pages: none shown twice, none skipped', async () => {
    const q = { caseId: CASE, sort: 'path' as const, limit: 10 };
    const first = await index.search(q);
    const before = ids(await index.search({ ...q, limit: 500 }));
    await sql.query(
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage)
       VALUES ($1 || '-new-a', $1, 'ev1', 0, '!before everything.jpg', 'x', 'a.jpg', 'file', 'indexed'),
              ($1 || '-new-z', $1, 'ev1', 0, 'zzz after everything.jpg', 'x', 'z.jpg', 'file', 'indexed')`,
      [CASE],
    );
    try {
      const rest = await byCursor({ ...q, after: first.next! });
      expect([...ids(first), ...rest]).toEqual([...before, `${CASE}-new-z`]);
    } finally {
      await sql.query(`DELETE FROM files WHERE file_id IN ($1 || '-new-a', $1 || '-new-z')`, [CASE]);
    }
  });

  /**
   * Regression long-member-path-cursor-refused: a cursor carried the whole
   * path, so a member path of 12 KB or more (long names nested) gave a cursor
   * the API refused. Paths of ~12 KB, ~20 KB (past MAX_KEY_TEXT: the position
   * is then the row alone) and CJK paths and names, with ties, paged in path
   * and name order both ways, by value and by row, give the whole order.
   * (Repeated text: PostgreSQL compresses it to fit the path index.)
   */
  it('long-member-path-cursor-refused: pages through paths of 12 KB, 20 KB and CJK by cursor, the long ones by row', async () => {
    const LONG = 'case-keyset-long';
    await index.recordUpload(newUpload(LONG, 'ev1', 'nested.zip'));
    const a12 = `nested.zip!/${'a/'.repeat(3000)}inner.zip!/${'b'.repeat(6000)}`;
    const a20 = `nested.zip!/${'a/'.repeat(3000)}inner.zip!/${'c'.repeat(14_000)}`;
    const cjk = `nested.zip!/${'写真/'.repeat(1000)}`;
    const rows: Array<[string, string, string]> = [];
    for (const [i, base] of [a12, a20, cjk, 'nested.zip!/short.jpg'].entries()) {
      for (const [j, tail] of ['1.jpg', '2.JPG', '2.jpg'].entries()) {
        rows.push([`${LONG}-${i}${j}`, `${base}${tail}`, j === 0 ? `${'名'.repeat(1400)}${tail}` : tail]);
      }
    }
    await sql.query(
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage)
       SELECT r[1], $1, 'ev1', 2, r[2], 'x', r[3], 'file', 'indexed' FROM jsonb_to_recordset($2::jsonb) AS x(r text[])`,
      [LONG, JSON.stringify(rows.map((r) => ({ r })))],
    );
    expect(rows.some(([, path]) => path.length > 20_000)).toBe(true);
    for (const sort of ['path', 'name'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const q = { caseId: LONG, sort, order };
        const all = ids(await index.search({ ...q, limit: 500 }));
        expect(all).toHaveLength(rows.length);
        expect(await byCursor({ ...q, limit: 2 }), `${sort} ${order}`).toEqual(all);
        // Each position also by its row alone (as a cursor gives it when the value is long).
        const byRow: string[] = [];
        let page = await index.search({ ...q, limit: 2 });
        byRow.push(...ids(page));
        while (page.next) {
          page = await index.search({ ...q, limit: 2, after: { fileId: page.next.fileId } });
          byRow.push(...ids(page));
        }
        expect(byRow, `${sort} ${order} by row`).toEqual(all);
      }
    }
    // Past MAX_KEY_TEXT the index's own next leaves the key out.
    const asc = await index.search({ caseId: LONG, sort: 'path', limit: 500 });
    const longest = asc.items.findIndex((i) => i.file.path.length > 20_000);
    const at = await index.search({ caseId: LONG, sort: 'path', limit: longest + 1 });
    expect(at.next).toEqual({ fileId: asc.items[longest]!.file.fileId });
    // A position whose file is not in the case: a typed refusal, never an empty last page.
    await expect(index.search({ caseId: LONG, after: { fileId: `${CASE}-001` } })).rejects.toMatchObject({ code: 'invalid-argument', details: { after: 'position-gone' } });
  });

  it('refuses a position that does not fit the sort, and an offset with it, instead of answering some page', async () => {
    const bad: Array<[SortKey, unknown]> = [
      ['size', { key: 'ten', fileId: 'x' }],
      ['takenAt', { key: '2023-13-01 00:00:00.000000 AD', fileId: 'x' }],
      ['added', { key: "2024-01-01'; DROP TABLE files; --", fileId: 'x' }],
      ['path', { key: null, fileId: 'x' }],
      ['path', { key: 'a', fileId: '' }],
      ['path', { key: ['a'], fileId: 'x' }],
    ];
    for (const [sort, after] of bad) {
      await expect(index.search({ caseId: CASE, sort, after: after as never }), JSON.stringify(after)).rejects.toMatchObject({ code: 'invalid-argument' });
    }
    const next = (await index.search({ caseId: CASE, limit: 3 })).next!;
    await expect(index.search({ caseId: CASE, limit: 3, offset: 3, after: next })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('counts up to the cap: exact under it, flagged as a lower bound over it, exact again once a page reaches the end', async () => {
    // A path text filter: never answered by the review summary.
    const q = { caseId: CASE, pathText: 'img_' };
    const exact = (await index.search({ ...q, limit: 1 })).total;
    expect(exact).toBe(N);
    expect(await index.search({ ...q, limit: 1, countCap: N })).toMatchObject({ total: N, totalIsLowerBound: false });
    expect(await index.search({ ...q, limit: 1, countCap: 1000 })).toMatchObject({ total: N, totalIsLowerBound: false });
    expect(await index.search({ ...q, limit: 1, countCap: 10 })).toMatchObject({ total: 10, totalIsLowerBound: true });
    // A page past the cap shows at least that many.
    expect(await index.search({ ...q, limit: 5, offset: 20, countCap: 10 })).toMatchObject({ total: 25, totalIsLowerBound: true });
    // The last page shows how many exactly.
    const last = await index.search({ ...q, limit: 5, offset: N - 3, countCap: 10 });
    expect(last).toMatchObject({ total: N, totalIsLowerBound: false, next: null });
    expect(last.items).toHaveLength(3);
    // Without a cap (the API always sets one) the count is exact.
    expect(await index.search({ ...q, limit: 1 })).toMatchObject({ total: N, totalIsLowerBound: false });
    await expect(index.search({ ...q, countCap: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
