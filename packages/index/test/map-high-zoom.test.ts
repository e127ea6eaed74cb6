import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStore, MapResult } from '@exhibit/core';
import { REVIEW_SUMMARY, createPostgresIndex, createPostgresReviewStore, openSqlClient, type PostgresReviewStore, type SqlClient } from '../src/index.js';
import { newUpload } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

const CASE = 'case-map-zoom';

/**
 * Files a few metres to a few hundred metres apart, as the map meets them
 * past the review summary's zooms (REVIEW_SUMMARY.mapMaxZoom = 12): two
 * photos 300 m apart in one city, a photo and its copy at one position, a
 * third photo 5.5 m from them, and positions whose shortest exact text has
 * many decimals (so "exact" is tested, not rounding).
 */
const PLACES: Array<{ id: string; lat: number; lon: number; content: string }> = [
  { id: 'milan-a', lat: 45.4642, lon: 9.19, content: 'a' },
  { id: 'milan-b', lat: 45.4654, lon: 9.1866, content: 'b' },
  { id: 'liberty-1', lat: 40.6892, lon: -74.0445, content: 'c' },
  { id: 'liberty-copy', lat: 40.6892, lon: -74.0445, content: 'c' },
  { id: 'liberty-near', lat: 40.68925, lon: -74.0445, content: 'd' },
  { id: 'long-decimals', lat: 0.1 + 0.2, lon: 9.186600000000001, content: 'e' },
];
const cellOf = (zoom: number) => 360 / 2 ** zoom / 4;

async function seed(sql: SqlClient): Promise<void> {
  for (const p of PLACES) {
    await sql.query(
      `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status, gps_lat, gps_lon, thumbnail_status)
       VALUES (encode(sha256(convert_to($1::text, 'UTF8')), 'hex'), md5($1), left(encode(sha256(('s' || $1)::bytea), 'hex'), 40), 10, 'derived', 'content/' || $1,
               'image/jpeg', 'jpg', 'image', '{}'::jsonb, 'done', $2::float8, $3::float8, 'n/a')
       ON CONFLICT (sha256) DO NOTHING`,
      [p.content, String(p.lat), String(p.lon)],
    );
    await sql.query(
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage)
       VALUES ($1, $2, 'ev1', 0, 'DCIM/' || $1 || '.jpg', 'x', $1 || '.jpg', 'jpg', 'file', 10, encode(sha256(convert_to($3::text, 'UTF8')), 'hex'), 'indexed')`,
      [p.id, CASE, p.content],
    );
  }
}

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('the map past zoom 12 on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  let review: PostgresReviewStore;
  let plain: PostgresReviewStore;
  const map = (zoom: number, extra: { bbox?: [number, number, number, number] } = {}, store = review): Promise<MapResult> =>
    store.mapClusters({ caseId: CASE, cellDeg: cellOf(zoom), maxClusters: 5000, ...extra });
  /** The files a box selects, as the gallery asks for them. */
  const inBox = async (bbox: [number, number, number, number]) =>
    (await index.search({ caseId: CASE, bbox, limit: 100 })).items.map((i) => i.file.fileId).sort();

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    review = createPostgresReviewStore(sql);
    plain = createPostgresReviewStore(sql, { reviewSummary: false });
    await index.migrate();
    await index.recordUpload(newUpload(CASE, 'ev1', 'phone.zip'));
    await seed(sql);
    expect(await review.refreshSummary(CASE)).toBe(true);
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it('keeps splitting clusters down to zoom 22, each single file at its exact recorded position', async () => {
    let clustersBefore = 0;
    for (let zoom = 0; zoom <= 22; zoom++) {
      const answer = await map(zoom);
      // Up to the summary's zoom it answers; past it the files do; the same numbers either way.
      expect(answer, `zoom ${zoom}`).toEqual(await map(zoom, {}, plain));
      expect(answer.total).toBe(PLACES.length);
      expect(answer.clusters.reduce((n, c) => n + c.count, 0)).toBe(PLACES.length);
      expect(answer.clusters.length, `zoom ${zoom}: never fewer clusters deeper`).toBeGreaterThanOrEqual(clustersBefore);
      clustersBefore = answer.clusters.length;
      for (const c of answer.clusters.filter((x) => x.count === 1)) {
        const place = PLACES.find((p) => p.id === c.fileId);
        expect(place, `zoom ${zoom}: ${c.fileId}`).toBeDefined();
        expect([c.lat, c.lon]).toEqual([place!.lat, place!.lon]);
        expect(c.bbox).toEqual([place!.lon, place!.lat, place!.lon, place!.lat]);
      }
    }
    const milan = (zoom: number) => map(zoom).then((a) => a.clusters.filter((c) => c.lat > 45 && c.lat < 46).map((c) => c.count).sort());
    expect(await milan(REVIEW_SUMMARY.mapMaxZoom)).toEqual([2]);
    expect(await milan(15)).toEqual([1, 1]);
    // At zoom 22 (cells of about 2 m) only the photo and its copy, at one position, stay together: the app lists them.
    const deepest = await map(22);
    expect(deepest.clusters.map((c) => c.count).sort()).toEqual([1, 1, 1, 1, 2]);
    const together = deepest.clusters.find((c) => c.count === 2)!;
    expect(together.bbox).toEqual([-74.0445, 40.6892, -74.0445, 40.6892]);
    expect([together.lat, together.lon]).toEqual([40.6892, -74.0445]);
  });

  it('a cluster box selects exactly its files (the gallery of a cluster), at every zoom', async () => {
    for (const zoom of [2, 12, 13, 15, 18, 20, 22]) {
      const answer = await map(zoom);
      const seen: string[] = [];
      for (const c of answer.clusters) {
        const files = await inBox(c.bbox);
        expect(files, `zoom ${zoom} cluster at ${c.lat},${c.lon}`).toHaveLength(c.count);
        if (c.count === 1) expect(files).toEqual([c.fileId]);
        seen.push(...files);
      }
      expect(seen.sort()).toEqual(PLACES.map((p) => p.id).sort());
    }
  });

  it('answers a view box at high zoom with the clusters of the whole case that lie in it, and a drawn box as the gallery counts it', async () => {
    // About 1280 x 800 px around the statue at zoom 18, as the app asks for it.
    const view: [number, number, number, number] = [-74.048, 40.6871, -74.041, 40.6913];
    for (const zoom of [13, 15, 18, 22]) {
      const whole = await map(zoom);
      const inView = await map(zoom, { bbox: view });
      const lies = (c: MapResult['clusters'][number]) => c.bbox[0] >= view[0] && c.bbox[2] <= view[2] && c.bbox[1] >= view[1] && c.bbox[3] <= view[3];
      expect(inView.clusters).toEqual(whole.clusters.filter(lies));
      expect(inView.total).toBe(3);
    }
    // A box drawn at zoom 20 around the photo and its copy only (7 decimals, as the app sends it).
    const drawn: [number, number, number, number] = [-74.0445100, 40.6891900, -74.0444900, 40.6892100];
    const boxed = await map(20, { bbox: drawn });
    expect(boxed.total).toBe(2);
    expect(await inBox(drawn)).toEqual(['liberty-1', 'liberty-copy']);
    expect((await index.search({ caseId: CASE, bbox: drawn, limit: 1 })).total).toBe(boxed.total);
  });
});
