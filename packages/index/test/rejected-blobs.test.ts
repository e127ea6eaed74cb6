import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, type IndexStore, type NewRejectedBlob } from '@exhibit/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { loadMigrations, migrate } from '../src/migrate.js';
import { MAX_FAILURE_DETAIL_CHARS } from '../src/index-store.rows.js';
import { allTargets } from './targets.js';

let seq = 0;
/** Every test uses its own container name, so tests share one database without seeing each other's rows by key. */
const freshContainer = () => `evidence-${++seq}`;

function rejected(container: string, blobName: string, over: Partial<NewRejectedBlob> = {}): NewRejectedBlob {
  return {
    container,
    blobName,
    etag: '"0x8DC0001"',
    size: 2048,
    lastModified: '2024-05-01T10:00:00.000Z',
    reason: 'not-evidence-name',
    detail: 'at the container root: no <caseId>/<evidenceId>/ prefix',
    ...over,
  };
}

describe.each(allTargets())('rejected blobs on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  const rowsFor = async (container: string) =>
    (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_blobs WHERE container = $1', [container])).rows[0]?.n;

  it('records a blob once; seeing it again counts and moves last_seen_at, keeping the first reason', async () => {
    const c = freshContainer();
    const first = await index.recordRejectedBlob(rejected(c, 'IMG_0001.JPG'));
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({
      container: c,
      blobName: 'IMG_0001.JPG',
      etag: '"0x8DC0001"',
      size: 2048,
      lastModified: '2024-05-01T10:00:00.000Z',
      reason: 'not-evidence-name',
      detail: 'at the container root: no <caseId>/<evidenceId>/ prefix',
      seenCount: 1,
    });
    expect(first.record.lastSeenAt).toBe(first.record.firstSeenAt);

    const again = await index.recordRejectedBlob(rejected(c, 'IMG_0001.JPG', { detail: 'a different wording', reason: 'not-evidence-container' }));
    expect(again.created).toBe(false);
    expect(again.record).toMatchObject({ seenCount: 2, detail: first.record.detail, reason: 'not-evidence-name', firstSeenAt: first.record.firstSeenAt });
    expect(Date.parse(again.record.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(first.record.lastSeenAt));
    expect(await rowsFor(c)).toBe(1);
  });

  // Regression: the intake path recorded the quoted ETag (blob properties), reconciliation the
  // unquoted one (container listing), so every rejected blob was listed twice.
  it('counts a blob once whether its ETag comes quoted (properties) or unquoted (a listing)', async () => {
    const c = freshContainer();
    const quoted = await index.recordRejectedBlob(rejected(c, 'dropped.zip', { etag: '"0x8DC0009"' }));
    const bare = await index.recordRejectedBlob(rejected(c, 'dropped.zip', { etag: '0x8DC0009' }));
    expect(quoted.created).toBe(true);
    expect(bare.created).toBe(false);
    expect(bare.record).toMatchObject({ etag: '"0x8DC0009"', seenCount: 2 });
    expect(await rowsFor(c)).toBe(1);
    const bareFirst = await index.recordRejectedBlob(rejected(c, 'other.zip', { etag: '0x8DC000A' }));
    expect(bareFirst.record.etag).toBe('"0x8DC000A"');
  });

  it('keeps the same name with other bytes (another ETag), and another container, as rows of their own', async () => {
    const c = freshContainer();
    await index.recordRejectedBlob(rejected(c, 'x.bin'));
    const overwritten = await index.recordRejectedBlob(rejected(c, 'x.bin', { etag: '"0x8DC0002"', size: 4096 }));
    expect(overwritten.created).toBe(true);
    expect(await rowsFor(c)).toBe(2);
    const elsewhere = freshContainer();
    expect((await index.recordRejectedBlob(rejected(elsewhere, 'x.bin'))).created).toBe(true);
    expect(await rowsFor(elsewhere)).toBe(1);
  });

  it('stores hostile names as they are and clamps an overlong detail', async () => {
    const c = freshContainer();
    const name = 'C1//\u202eevil\u0000.jpg';
    const { record } = await index.recordRejectedBlob(rejected(c, name, { detail: 'x'.repeat(MAX_FAILURE_DETAIL_CHARS + 50) }));
    // PostgreSQL text cannot hold U+0000; it is kept visible as U+2400, as everywhere in the index.
    expect(record.blobName).toBe('C1//\u202eevil\u2400.jpg');
    expect(record.detail.length).toBe(MAX_FAILURE_DETAIL_CHARS + 1);
  });

  it('refuses a reason the schema does not know, and a negative size', async () => {
    const c = freshContainer();
    const badReason = await index.recordRejectedBlob(rejected(c, 'a', { reason: 'whatever' as NewRejectedBlob['reason'] })).catch((e: unknown) => e);
    expect(badReason).toBeInstanceOf(Error);
    const badSize = await index.recordRejectedBlob(rejected(c, 'b', { size: -1 })).catch((e: unknown) => e);
    expect(isExhibitError(badSize, 'invalid-argument')).toBe(true);
    expect(await rowsFor(c)).toBe(0);
  });

  it('lists newest first, in pages that neither overlap nor skip, with the total', async () => {
    // Own database state: earlier tests' rows are in the list too, so this test reads relative to them.
    const before = await index.listRejectedBlobs({ limit: 500 });
    const c = freshContainer();
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, n] of names.entries()) {
      await index.recordRejectedBlob(rejected(c, n));
      // first_seen_at is the transaction time; set it apart explicitly so "newest first" is testable without waiting.
      await sql.query("UPDATE rejected_blobs SET first_seen_at = now() + make_interval(days => $2) WHERE container = $1 AND blob_name = $3", [c, 1000 + i, n]);
    }
    const all = await index.listRejectedBlobs({ limit: 500 });
    expect(all.total).toBe(before.total + names.length);
    expect(all.items.slice(0, 5).map((r) => r.blobName)).toEqual(['e', 'd', 'c', 'b', 'a']);

    const pages = [await index.listRejectedBlobs({ limit: 2 }), await index.listRejectedBlobs({ limit: 2, offset: 2 }), await index.listRejectedBlobs({ limit: 2, offset: 4 })];
    expect(pages.flatMap((p) => p.items.map((r) => `${r.container}/${r.blobName}/${r.etag}`))).toEqual(
      all.items.slice(0, 6).map((r) => `${r.container}/${r.blobName}/${r.etag}`),
    );
    expect(pages.every((p) => p.total === all.total)).toBe(true);
    expect((await index.listRejectedBlobs({ offset: all.total })).items).toEqual([]);
  });

  it('refuses a bad page', async () => {
    for (const page of [{ limit: 0 }, { limit: 1.5 }, { offset: -1 }]) {
      const err = await index.listRejectedBlobs(page).catch((e: unknown) => e);
      expect(isExhibitError(err, 'invalid-argument'), JSON.stringify(page)).toBe(true);
    }
  });
});

describe.each(allTargets())('migration 0010 (ETags in one form) on $name', (target) => {
  afterAll(async () => {
    await target.dispose();
  });

  it('merges rows stored under both spellings of one ETag and requotes uploads', async () => {
    const sql = await openSqlClient(await target.create());
    try {
      // The schema as it was before 0010, with rows as the old code wrote them.
      const before = await mkdtemp(path.join(os.tmpdir(), 'exhibit-migrations-'));
      try {
        for (const m of await loadMigrations()) if (m.version < '0010') await writeFile(path.join(before, `${m.version}.sql`), m.sql);
        await migrate(sql, { migrationsDir: pathToFileURL(`${before}/`) });
      } finally {
        await rm(before, { recursive: true, force: true });
      }
      const insert = `INSERT INTO rejected_blobs (container, blob_name, etag, size, last_modified, reason, detail, first_seen_at, last_seen_at, seen_count)
                      VALUES ($1, $2, $3, 10, '2024-05-01T10:00:00Z', $4, $5, $6, $7, $8)`;
      await sql.query(insert, ['evidence', 'root.zip', '"0x1"', 'not-evidence-name', 'first (properties)', '2024-05-02T00:00:00Z', '2024-05-03T00:00:00Z', 3]);
      await sql.query(insert, ['evidence', 'root.zip', '0x1', 'not-evidence-container', 'later (listing)', '2024-05-02T06:00:00Z', '2024-05-04T00:00:00Z', 2]);
      await sql.query(insert, ['evidence', 'root.zip', '0x2', 'not-evidence-name', 'other bytes', '2024-05-05T00:00:00Z', '2024-05-05T00:00:00Z', 1]);
      await sql.query(insert, ['evidence', 'solo.jpg', '0x3', 'not-evidence-name', 'listing only', '2024-05-06T00:00:00Z', '2024-05-06T00:00:00Z', 1]);

      const upload = `INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, last_modified)
                      VALUES ($1, 'C1', 'EX01', $2, $3, 1, $4, '2024-05-01T10:00:00Z')`;
      await sql.query(upload, ['C1/EX01/a.zip', 'a.zip', 'f-a', '0x4']);
      await sql.query(upload, ['C1/EX01/b.zip', 'b.zip', 'f-b', '"0x5"']);

      await migrate(sql);

      const uploads = await sql.query<{ etag: string }>(`SELECT etag FROM uploads ORDER BY blob_name COLLATE "C"`);
      expect(uploads.rows.map((r) => r.etag)).toEqual(['"0x4"', '"0x5"']);

      const { rows } = await sql.query<{ blob_name: string; etag: string; reason: string; detail: string; first_seen_at: unknown; last_seen_at: unknown; seen_count: number }>(
        `SELECT blob_name, etag, reason, detail, first_seen_at, last_seen_at, seen_count
           FROM rejected_blobs ORDER BY blob_name COLLATE "C", etag COLLATE "C"`,
      );
      const iso = (v: unknown) => new Date(v as string).toISOString();
      expect(rows.map((r) => ({ ...r, first_seen_at: iso(r.first_seen_at), last_seen_at: iso(r.last_seen_at) }))).toEqual([
        { blob_name: 'root.zip', etag: '"0x1"', reason: 'not-evidence-name', detail: 'first (properties)', first_seen_at: '2024-05-02T00:00:00.000Z', last_seen_at: '2024-05-04T00:00:00.000Z', seen_count: 5 },
        { blob_name: 'root.zip', etag: '"0x2"', reason: 'not-evidence-name', detail: 'other bytes', first_seen_at: '2024-05-05T00:00:00.000Z', last_seen_at: '2024-05-05T00:00:00.000Z', seen_count: 1 },
        { blob_name: 'solo.jpg', etag: '"0x3"', reason: 'not-evidence-name', detail: 'listing only', first_seen_at: '2024-05-06T00:00:00.000Z', last_seen_at: '2024-05-06T00:00:00.000Z', seen_count: 1 },
      ]);
    } finally {
      await sql.close();
    }
  });
});
