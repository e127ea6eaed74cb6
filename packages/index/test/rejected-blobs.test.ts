import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, type IndexStore, type NewRejectedBlob } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
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
