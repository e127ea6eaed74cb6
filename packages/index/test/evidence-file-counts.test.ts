import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileStage, IndexStore, NewFile } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { readEvidenceStatusParts } from '../src/index-store.status-query.js';
import { groupsByEveryFile, sortGroups } from './evidence-groups.js';
import { hashesOf, member, newUpload, rootFile, TOOLS } from './fixtures.js';
import { allTargets } from './targets.js';

/**
 * The per-item file counts of migration 0130 (delta rows appended by triggers
 * on files, folded now and then) are a second copy of what grouping the files
 * gives: these tests compare the two after every kind of change, so a path
 * that changes files and is not counted fails here, whichever code runs it.
 */

/** The counts as the status reads them: the item's rows summed by key. */
const COUNTED = `SELECT case_id, evidence_id, has_content, stage, failure_stage, unpack, sum(n)::int AS n
                   FROM evidence_file_counts GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0
                  ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6`;
/** The same from every file. */
const GROUPED = `SELECT case_id, evidence_id, entry_kind = 'file' AS has_content, stage, failure_stage, unpack, count(*)::int AS n
                   FROM files GROUP BY 1, 2, 3, 4, 5, 6
                  ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6`;

/** mulberry32: a fixed seed, so a failure replays. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(allTargets())('evidence file counts on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  let n = 0;
  const freshCase = () => `case-counts-${n++}`;

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  const expectNoDrift = async (when: string) => {
    const [counted, grouped] = await Promise.all([sql.query(COUNTED), sql.query(GROUPED)]);
    expect(counted.rows, when).toEqual(grouped.rows);
  };

  /** An item: its upload, root file and `members` members with their contents. */
  const seedItem = async (caseId: string, evidenceId: string, members: number) => {
    const up = newUpload(caseId, evidenceId, 'phone.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const files = [root, ...Array.from({ length: members }, (_, i) => member(root, i, i % 9 === 8 ? `dir${i}/` : `m${i}.jpg`, i % 9 === 8 ? { entryKind: 'directory', sha256: null, source: null } : {}))];
    await index.insertFiles(files);
    for (const f of files) if (f.sha256) await index.ensureContent({ ...hashesOf(f.fileId), sha256: f.sha256, size: 10, source: f.source! });
    return { up, root, files };
  };

  it('match a full GROUP BY of the files after a randomized walk through every path that changes a file', async () => {
    const seed = 12_0130;
    const rnd = random(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const c1 = freshCase();
    const c2 = freshCase();
    const items = [await seedItem(c1, 'ev1', 30), await seedItem(c1, 'ev2', 30), await seedItem(c2, 'ev1', 30)];
    const all = (): NewFile[] => items.flatMap((i) => i.files);
    const contentFile = () => pick(all().filter((f) => f.sha256 !== null));
    const forward: FileStage[] = ['identified', 'described', 'thumbnailed'];
    const seen = new Set<string>();
    let extra = 1000;

    const steps: Record<string, () => Promise<unknown>> = {
      advance: () => index.advanceFile(pick(all()).fileId, pick(forward)),
      identify: async () => {
        const f = contentFile();
        await index.setIdentification(f.sha256!, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: TOOLS }, { fileId: f.fileId, to: 'identified' });
      },
      // A failed metadata read moves the file on; the content carries the failure.
      metadataFailed: async () => {
        const f = contentFile();
        await index.setMetadata(
          f.sha256!,
          { status: 'failed', metadata: null, failure: { stage: 'metadata', code: 'corrupt-file', detail: 'bad EXIF' }, tools: TOOLS },
          { fileId: f.fileId, to: 'described' },
        );
      },
      thumbnailFailedMove: async () => {
        const f = contentFile();
        await index.setThumbnail(
          f.sha256!,
          { status: 'failed', blob: null, source: null, failure: { stage: 'thumbnail', code: 'corrupt-file', detail: 'cannot decode' }, tools: TOOLS },
          { fileId: f.fileId, failure: { stage: 'thumbnail', code: 'corrupt-file', detail: 'cannot decode' } },
        );
      },
      fail: () => index.failFile(pick(all()).fileId, { stage: pick(['identify', 'metadata', 'thumbnail', 'index'] as const), code: 'corrupt-file', detail: 'x' }),
      indexed: async () => {
        const f = pick(all());
        await index.markIndexed({ caseId: f.caseId, evidenceId: f.evidenceId, fileId: f.fileId });
      },
      indexedBatch: async () => {
        const item = pick(items);
        await index.markIndexedBatch({ caseId: item.up.caseId, evidenceId: item.up.evidenceId }, item.files.filter(() => rnd() < 0.3).map((f) => f.fileId));
      },
      unpack: () => index.setUnpack(pick(items).root.fileId, pick(['pending', 'done', 'failed'] as const), 3, { code: 'corrupt-file', detail: 'cut', reason: 'truncated', membersRecorded: 2, membersDeclared: 3 }),
      // A redelivered unpack inserts members it already inserted, and new ones.
      insert: async () => {
        const item = pick(items);
        const fresh = member(item.root, extra++, `late${extra}.txt`);
        await index.insertFiles([pick(item.files), fresh]);
        await index.ensureContent({ ...hashesOf(fresh.fileId), sha256: fresh.sha256!, size: 10, source: fresh.source! });
        item.files.push(fresh);
      },
      flags: () => index.addFlags(pick(all()).fileId, ['ext-mismatch']),
      // A transaction that moves files and then rolls back counts nothing.
      rollback: async () => {
        const f = pick(all());
        await sql
          .transaction(async (tx) => {
            const inner = createPostgresIndex(tx);
            await inner.advanceFile(f.fileId, 'thumbnailed');
            await inner.failFile(pick(all()).fileId, { stage: 'index', code: 'corrupt-file', detail: 'rolled back' });
            throw new Error('roll back');
          })
          .catch((e: unknown) => expect(String(e)).toContain('roll back'));
      },
      // Not paths of the product today, but statements on files all the same:
      // a delete of a leaf member, and one statement moving files of several items.
      delete: async () => {
        const item = pick(items);
        const leaf = item.files.filter((f) => f.parentId !== null).at(-1);
        if (!leaf) return;
        await sql.query('DELETE FROM files WHERE file_id = $1', [leaf.fileId]);
        item.files.splice(item.files.indexOf(leaf), 1);
      },
      acrossItems: () => sql.query(`UPDATE files SET stage = 'identified' WHERE stage = 'pending' AND file_id IN (SELECT file_id FROM files ORDER BY md5(file_id) LIMIT 7)`),
      otherColumns: () => sql.query(`UPDATE files SET updated_at = now() WHERE case_id = $1`, [c1]),
    };
    const names = Object.keys(steps);
    for (let i = 0; i < 400; i++) {
      const name = pick(names);
      seen.add(name);
      await steps[name]!();
      if (i % 50 === 49) await expectNoDrift(`seed ${seed}, after step ${i} (${name})`);
    }
    expect(seen.size).toBe(names.length);
    await expectNoDrift(`seed ${seed}, at the end`);
    // The status's groups are still the ones grouping every file gave (migration 0125).
    for (const item of items) {
      const parts = await readEvidenceStatusParts(sql, item.up.caseId, item.up.evidenceId);
      const expected = await groupsByEveryFile(sql, item.up.caseId, item.up.evidenceId);
      expect(expected.some((g) => (g as { metadata_failed?: unknown }).metadata_failed === true)).toBe(true);
      expect(sortGroups(parts.groups)).toEqual(expected);
    }
  });

  it('fold an item’s rows into their sums, so the status reads a few rows however many moves there were', async () => {
    const c = freshCase();
    const { files } = await seedItem(c, 'ev1', 120);
    for (const f of files) await index.advanceFile(f.fileId, 'identified');
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM evidence_file_counts WHERE case_id = $1', [c]);
    // 121 single-file statements wrote two rows each (242); folds (looked at on
    // every statement) keep the item near the limit: 64, plus the rows of the
    // statement that crossed it, plus the sums a fold leaves.
    expect(rows[0]!.n).toBeLessThanOrEqual(64 + 2 + 8);
    expect(rows[0]!.n).toBeGreaterThan(0);
    await expectNoDrift('after folds');
  });

  it('fold both items when their statements take strict turns (regression counts-fold-aliased-by-shared-turn)', async () => {
    // A look on every eighth statement of a shared sequence gave one of two
    // alternating items every odd number: it never folded (601 rows against 20).
    const c = freshCase();
    const a = (await seedItem(c, 'ev1', 150)).files;
    const b = (await seedItem(c, 'ev2', 150)).files;
    for (let i = 0; i < 150; i++) {
      await index.advanceFile(a[i]!.fileId, 'identified');
      await index.advanceFile(b[i]!.fileId, 'identified');
    }
    const { rows } = await sql.query<{ evidence_id: string; n: number }>(
      'SELECT evidence_id, count(*)::int AS n FROM evidence_file_counts WHERE case_id = $1 GROUP BY 1 ORDER BY 1',
      [c],
    );
    expect(rows.map((r) => r.evidence_id)).toEqual(['ev1', 'ev2']);
    for (const r of rows) expect(r.n, r.evidence_id).toBeLessThanOrEqual(64 + 2 + 8);
    await expectNoDrift('after alternating moves');
  });

  it('start from the files already there (the migration’s backfill)', async () => {
    const c = freshCase();
    await seedItem(c, 'ev1', 10);
    const before = await sql.query(COUNTED);
    // As if the counts were new: drop them, then run the migration's backfill statement again.
    await sql.query('DELETE FROM evidence_file_counts');
    await sql.query(`INSERT INTO evidence_file_counts (case_id, evidence_id, has_content, stage, failure_stage, unpack, n)
                     SELECT case_id, evidence_id, entry_kind = 'file', stage, failure_stage, unpack, count(*) FROM files GROUP BY 1, 2, 3, 4, 5, 6`);
    expect((await sql.query(COUNTED)).rows).toEqual(before.rows);
    await expectNoDrift('after the backfill');
  });

  it.runIf(target.name === 'postgres')('never fail a REPEATABLE READ writer whose snapshot predates another writer’s fold (regression counts-fold-serialisation-failure)', async () => {
    // Before: the writer's own fold deleted rows another fold had deleted
    // after its snapshot: "could not serialize access due to concurrent
    // delete", and its change to files was lost. A fold now runs only under
    // READ COMMITTED; other writers only append.
    const c = freshCase();
    const { files } = await seedItem(c, 'ev1', 150);
    const rowsNow = async () =>
      (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM evidence_file_counts WHERE case_id = $1', [c])).rows[0]!.n;
    let i = 1;
    // Up to the edge of a fold: the writer's snapshot then holds 63 or 64 rows.
    while ((await rowsNow()) < 63) await index.advanceFile(files[i++]!.fileId, 'identified');
    const late = files[files.length - 1]!;
    await sql.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await tx.query('SELECT count(*) FROM evidence_file_counts WHERE case_id = $1', [c]);
      // Another connection's moves cross the limit and fold the rows this snapshot sees.
      const before = await rowsNow();
      for (let k = 0; k < 3; k++) await index.advanceFile(files[i++]!.fileId, 'identified');
      expect(await rowsNow()).toBeLessThan(before);
      await tx.query(`UPDATE files SET stage = 'identified' WHERE file_id = $1`, [late.fileId]);
    });
    await expectNoDrift('after a repeatable-read writer');
  });

  it.runIf(target.name === 'postgres')('let concurrent batches of one item (and of two, in either order) commit without waiting for each other or deadlocking', async () => {
    const c = freshCase();
    const a = await seedItem(c, 'evA', 80);
    const b = await seedItem(c, 'evB', 80);
    const writers = 8;
    const holdMs = 400;
    const slice = (files: NewFile[], w: number) => files.filter((_, i) => i % writers === w).map((f) => f.fileId);
    // Each writer moves its share of both items, in one transaction, holding
    // it open between the two: half start with A, half with B.
    const run = async (stages: [FileStage, FileStage, FileStage]) => {
      const t0 = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: writers }, (_, w) =>
          sql.transaction(async (tx) => {
            const [first, second] = w % 2 === 0 ? [a, b] : [b, a];
            await tx.query(`UPDATE files SET stage = $2 WHERE file_id = ANY($1::text[])`, [slice(first.files, w), stages[0]]);
            await tx.query('SELECT pg_sleep($1::double precision / 1000)', [holdMs]);
            await tx.query(`UPDATE files SET stage = $2 WHERE file_id = ANY($1::text[])`, [slice(second.files, w), stages[1]]);
            await tx.query(`UPDATE files SET stage = $2 WHERE file_id = ANY($1::text[])`, [slice(first.files, w), stages[2]]);
          }),
        ),
      );
      return { wallMs: performance.now() - t0, failed: results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)) };
    };

    // The control: counts kept in one row per (item, state), updated in place,
    // as a second trigger in this database only. The same writers queue
    // behind each other on those rows, or deadlock across the two orders:
    // what this test would see if 0130 counted that way.
    await sql.exec(`
      CREATE TABLE in_place_counts (case_id text, evidence_id text, stage text, n bigint NOT NULL, PRIMARY KEY (case_id, evidence_id, stage));
      CREATE FUNCTION in_place_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO in_place_counts
        SELECT case_id, evidence_id, stage, sum(n) FROM (
          SELECT case_id, evidence_id, stage, -1 AS n FROM old_rows UNION ALL SELECT case_id, evidence_id, stage, 1 FROM new_rows) d
         GROUP BY 1, 2, 3
        ON CONFLICT (case_id, evidence_id, stage) DO UPDATE SET n = in_place_counts.n + excluded.n;
        RETURN NULL;
      END $$;
      CREATE TRIGGER in_place_counts_update AFTER UPDATE ON files
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION in_place_counts_changed();`);
    const control = await run(['thumbnailed', 'thumbnailed', 'thumbnailed']);
    await sql.exec('DROP TRIGGER in_place_counts_update ON files; DROP FUNCTION in_place_counts_changed(); DROP TABLE in_place_counts;');
    expect(control.failed.some((e) => e.includes('deadlock')) || control.wallMs >= holdMs * (writers / 2), JSON.stringify(control)).toBe(true);

    const { wallMs, failed } = await run(['identified', 'described', 'thumbnailed']);
    expect(failed).toEqual([]);
    // Side by side: about one hold, where queueing would take writers × hold.
    expect(wallMs, `${writers} writers holding ${holdMs} ms each took ${Math.round(wallMs)} ms`).toBeLessThan(holdMs * (writers / 2));
    await expectNoDrift('after the concurrent batches');
    const status = await index.evidenceStatus(c, 'evA');
    // A's even shares went on to thumbnailed, its odd ones (second for their writers) to described.
    expect(status!.files.total).toBe(81);
    expect(status!.files.byStage.thumbnailed + status!.files.byStage.described).toBe(81);
    expect(status!.files.byStage.thumbnailed).toBeGreaterThan(0);
  });
});
