/**
 * Review API latency at scale (issue 13): seeds one case of N files (default
 * 100,000) into a throw-away database on the PostgreSQL server named by
 * DATABASE_URL, then times the requests the browser app makes (search pages,
 * map clusters, timeline buckets) through the real API (routing, token,
 * access check, read audit) and prints p50/p95 per request, with a plain
 * indexed count over the same case as the reference measured in the same run.
 *
 *   npm run bench:web -- [--files=100000] [--runs=40] [--keep] [--db=name [--reuse]] [--browser] [--pglite] [--only=map,timeline]
 *
 * --db: the database to create (and drop unless --keep) on the server;
 * default exhibit_bench_web_<random>. A name already there is an error,
 * unless --reuse: then that database (one an earlier --keep run seeded with
 * the same --files) is migrated and timed again without seeding, and kept.
 *
 * --pglite: the same on an in-memory PGlite (the local host's database)
 * instead of the server; DATABASE_URL is then not needed.
 *
 * --browser: then the review app itself in Debian's Chromium over the same
 * database (gallery-scroll.meter.ts), with a real JPEG thumbnail stored for
 * every content of the case (thumbnail-blobs.seeder.ts): time to the first
 * result cells and to the first screen of decoded thumbnails over cold loads,
 * to decoded thumbnails after a jump, and frame times and Chromium's dropped
 * frames while the virtualised grid scrolls and thumbnails load.
 *
 * --db-prefix=name_: the throw-away database's name prefix (default
 * exhibit_bench_web_), so that runs on a shared server can be told apart.
 *
 * A script, not a test: it asserts nothing about time. Custody entries go to
 * an in-memory recorder here (the append-blob write of a search's custody
 * entry is storage latency, measured by the pipeline bench, not index work).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createRootLogger, loadTestSettings, type CustodyEvent } from '@exhibit/core';
import { createPostgresAccessStore, createPostgresIndex, createPostgresReviewStore, migrate, openSqlClient } from '@exhibit/index';
import { createApi, createLocalTokenVerifier, issueLocalToken } from '@exhibit/api';
import type { BlobStore } from '@exhibit/core';
import { galleryReach, measureGallery } from './gallery-scroll.meter.js';
import { seedThumbnailBlobs, type ThumbnailSeedFigures } from './thumbnail-blobs.seeder.js';

if (process.argv.includes('--help')) {
  console.log('npm run bench:web -- [--files=100000] [--runs=40] [--keep] [--db=name [--reuse]] [--db-prefix=name_] [--browser] [--thumbnails=run|screens|all] [--pglite] [--only=map,timeline]\n' +
    'DATABASE_URL names the server; --db the database created there (dropped after unless --keep). See the top of test/bench/web-api.bench.ts.');
  process.exit(0);
}
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const FILES = Number(args.get('files') ?? 100_000);
const RUNS = Number(args.get('runs') ?? 40);
const REUSE = args.has('reuse');
const KEEP = args.has('keep') || REUSE;
const BROWSER = args.has('browser');
/**
 * --thumbnails=all: a thumbnail for every file, not only those the measured gallery run can show;
 * --thumbnails=screens: only for the first screens and the jumps' (quicker to store; the scrolls then pass files without one).
 */
const THUMBNAILS = args.get('thumbnails') ?? 'run';
if (!['all', 'run', 'screens'].includes(THUMBNAILS)) throw new Error('--thumbnails: all, run (default) or screens');
const PGLITE = args.has('pglite');
/** --only=map,timeline: just the requests whose name contains one of these words. */
const ONLY = args.get('only')?.split(',').filter(Boolean);
/** --db=name: a lower-case SQL identifier, created here (so the bench never drops a database it did not make). */
const DB_NAME = args.get('db');
if (DB_NAME !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(DB_NAME)) throw new Error('--db must be a lower-case identifier (a-z, 0-9, _)');
if (REUSE && DB_NAME === undefined) throw new Error('--reuse needs --db=name (a database an earlier --keep run seeded)');
const CASE = 'BENCH-WEB';
const DB_PREFIX = args.get('db-prefix') ?? 'exhibit_bench_web_';
if (!/^[a-z_][a-z0-9_]*$/.test(DB_PREFIX)) throw new Error('--db-prefix: lower-case letters, digits and _ only');

/** On a shared machine the figures mean little without it. */
const loadAverage = () => `load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')} on ${os.cpus().length} cores`;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function main(): Promise<void> {
  const baseUrl = loadTestSettings().databaseUrl;
  if (PGLITE && BROWSER) throw new Error('--browser needs the PostgreSQL server (the local host opens the same database)');
  if (!baseUrl && !PGLITE) throw new Error('set DATABASE_URL to a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/test), or pass --pglite');
  const db = PGLITE ? 'pglite (memory)' : (DB_NAME ?? `${DB_PREFIX}${randomBytes(4).toString('hex')}`);
  const url = new URL(baseUrl ?? 'postgres://unused/');
  if (!PGLITE) {
    if (!REUSE) {
      const admin = new pg.Client({ connectionString: baseUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.end();
    }
    url.pathname = `/${db}`;
  }
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-bench-web-'));
  const sql = await openSqlClient(PGLITE ? { kind: 'pglite', dataDir: 'memory://' } : { kind: 'postgres', url: url.toString(), entraAuth: false });
  try {
    await migrate(sql);
    const index = createPostgresIndex(sql);
    const access = createPostgresAccessStore(sql);
    const seedStart = performance.now();
    const seeded = REUSE ? Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM files WHERE case_id = $1', [CASE])).rows[0]?.n ?? 0) : 0;
    // The upload's root and FILES photos: anything else is not this bench's seed.
    if (REUSE && seeded !== FILES + 1) throw new Error(`--reuse: ${db} holds ${seeded} files of ${CASE}, not ${FILES + 1} (seed it with --keep and the same --files)`);
    if (!REUSE) await seed(sql, index);
    const seedMs = performance.now() - seedStart;
    await access.assign(CASE, 'ivy', { by: 'bench' });
    const events: CustodyEvent[] = [];
    // The same API twice: reading the case's review summary (migration 0060), and asking the files every time (as before it).
    const apiOf = (reviewSummary: boolean) =>
      createApi({
        index: createPostgresIndex(sql, { reviewSummary }),
        access,
        blobs: {} as BlobStore, // no route timed here reads a blob
        custody: { record: async (e) => void events.push(e) },
        tokens: createLocalTokenVerifier({ keyDir }),
        containers: { evidence: 'evidence', derived: 'derived' },
        logger: createRootLogger({ level: 'silent' }),
        extensions: { review: createPostgresReviewStore(sql, { reviewSummary }) },
      });
    const apis = [
      ['files', apiOf(false)],
      ['summary', apiOf(true)],
    ] as const;
    // What the index stage (or the first quiet read) does after an ingest.
    const refreshStart = performance.now();
    if (!(await createPostgresReviewStore(sql).refreshSummary(CASE))) throw new Error('the review summary was not made');
    const refreshMs = performance.now() - refreshStart;
    const token = (await issueLocalToken({ user: 'ivy', roles: ['investigator'], ttlMs: 3_600_000 }, { keyDir })).token;

    // The cursor of the page that starts at file 20,000 (path order), as a gallery scrolling there holds it.
    const deepCursor = await cursorAt(apiOf(true), token, 20_000 - 200);
    const requests: Array<[string, string, Record<string, string>]> = [
      ['search page (path order)', `/cases/${CASE}/files`, { limit: '200' }],
      ['search images with GPS by taken-at', `/cases/${CASE}/files`, { kind: 'image', hasGps: 'true', sort: 'takenAt', order: 'desc', limit: '200' }],
      ['search page 200 deep (offset 20000)', `/cases/${CASE}/files`, { limit: '200', offset: '20000' }],
      ['search page 200 deep (cursor at 20000)', `/cases/${CASE}/files`, { limit: '200', cursor: deepCursor }],
      // Jumps (scrollbar drag, "go to position") in other orders: from the summary's position index (migration 0110).
      ['search page 200 deep (offset 80000, path desc)', `/cases/${CASE}/files`, { limit: '200', offset: '80000', order: 'desc' }],
      ['search page 200 deep (offset 50000, taken-at desc)', `/cases/${CASE}/files`, { limit: '200', offset: '50000', sort: 'takenAt', order: 'desc' }],
      ['search page 200 deep (offset 90000, size)', `/cases/${CASE}/files`, { limit: '200', offset: '90000', sort: 'size' }],
      ['search duplicates grouped', `/cases/${CASE}/files`, { duplicates: 'only', sort: 'sha256', limit: '200' }],
      ['search one copy per content', `/cases/${CASE}/files`, { duplicates: 'collapse', limit: '200' }],
      // Filters the review summary does not keep: counted up to the cap (totalIsLowerBound past it).
      ['search taken-at range + GPS', `/cases/${CASE}/files`, { takenFrom: '2023-03-01', takenTo: '2023-03-31', hasGps: 'true', limit: '200' }],
      ['search taken-at range by taken-at', `/cases/${CASE}/files`, { takenFrom: '2023-06-01', takenTo: '2023-12-31', sort: 'takenAt', limit: '200' }],
      ['search make (prefix)', `/cases/${CASE}/files`, { make: 'canon', limit: '200' }],
      ['search path text', `/cases/${CASE}/files`, { path: 'dcim/42/', limit: '200' }],
      ['search map box + kind', `/cases/${CASE}/files`, { kind: 'image', bbox: '-0.5,51.3,0.3,51.7', limit: '200' }],
      ['map world (zoom 2)', `/cases/${CASE}/map`, { zoom: '2' }],
      ['map city box (zoom 11)', `/cases/${CASE}/map`, { zoom: '11', bbox: '-0.5,51.3,0.3,51.7' }],
      // Past the summary's zooms (REVIEW_SUMMARY.mapMaxZoom = 12) the app asks for its view (about 1280 x 800 px and a
      // margin): the fullest such views of the seeded positions, and the city box's 4,339 files cut into zoom-15 cells.
      ['map street view box (zoom 15)', `/cases/${CASE}/map`, { zoom: '15', bbox: '-0.825,51.1184,-0.77,51.1528' }],
      ['map building view box (zoom 18)', `/cases/${CASE}/map`, { zoom: '18', bbox: '-0.935,51.0668,-0.928125,51.0711' }],
      ['map city box at zoom 15', `/cases/${CASE}/map`, { zoom: '15', bbox: '-0.5,51.3,0.3,51.7' }],
      // What the app asked before it sent its view past zoom 12: the whole case at zoom 15 (its 5,000 fullest cells).
      ['map whole case at zoom 15 (no view box)', `/cases/${CASE}/map`, { zoom: '15' }],
      ['timeline (auto bucket)', `/cases/${CASE}/timeline`, {}],
      ['timeline of a brushed month', `/cases/${CASE}/timeline`, { takenLocalFrom: '2023-03-01', takenLocalTo: '2023-04-01' }],
    ];
    const reference = async () => {
      const t = performance.now();
      await sql.query('SELECT count(*) FROM files f JOIN contents c ON c.sha256 = f.sha256 WHERE f.case_id = $1', [CASE]);
      return performance.now() - t;
    };
    const refTimes: number[] = [];
    console.log(`${REUSE ? 'reused' : 'seeded'} ${FILES} files in ${(seedMs / 1000).toFixed(1)} s ${REUSE ? 'in' : 'into'} ${db}; review summary made in ${(refreshMs / 1000).toFixed(2)} s; ${RUNS} runs per request after 3 warm-up runs; ${loadAverage()}`);
    console.log(['request'.padEnd(52), 'answered from', 'p50 ms'.padStart(8), 'p95 ms'.padStart(8), 'p95/ref'.padStart(8), 'status', 'total'].join(' '));
    for (let i = 0; i < 3; i++) refTimes.push(await reference());
    refTimes.length = 0;
    for (let i = 0; i < RUNS; i++) refTimes.push(await reference());
    refTimes.sort((a, b) => a - b);
    const refP95 = percentile(refTimes, 95);
    for (const [name, p, query] of requests.filter(([n]) => !ONLY || ONLY.some((w) => n.includes(w)))) {
      const bodies: string[] = [];
      for (const [from, api] of apis) {
        const times: number[] = [];
        let status = 0;
        let body = '';
        for (let i = 0; i < RUNS + 3; i++) {
          const t = performance.now();
          const res = await api.handle({ method: 'GET', path: p, query: new URLSearchParams(query), headers: { authorization: `Bearer ${token}` } });
          const ms = performance.now() - t;
          status = res.status;
          if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
          body = JSON.stringify(res.body);
          if (i >= 3) times.push(ms);
        }
        bodies.push(body);
        times.sort((a, b) => a - b);
        // A search's total: "+" when it was counted up to the cap only.
        const answer = JSON.parse(body) as { total?: number; totalIsLowerBound?: boolean };
        const total = answer.total === undefined ? '' : `${answer.total}${answer.totalIsLowerBound ? '+' : ''}`;
        console.log([name.padEnd(52), from.padEnd(13), percentile(times, 50).toFixed(1).padStart(8), percentile(times, 95).toFixed(1).padStart(8), (percentile(times, 95) / refP95).toFixed(2).padStart(8), String(status).padEnd(6), total].join(' '));
      }
      // Not a timing check: the two answers must be the same answer (the files
      // count a filter only up to the cap: then the summary's total is at least that).
      const [files, summary] = bodies.map((b) => JSON.parse(b) as { total?: number; totalIsLowerBound?: boolean });
      const sameRest = JSON.stringify({ ...files, total: 0, totalIsLowerBound: false }) === JSON.stringify({ ...summary, total: 0, totalIsLowerBound: false });
      const totalsAgree = files!.totalIsLowerBound ? (summary!.total ?? 0) >= (files!.total ?? 0) : files!.total === summary!.total && !summary!.totalIsLowerBound;
      if (!sameRest || !totalsAgree) throw new Error(`${name}: the summary's answer differs from the files'`);
    }
    console.log(['reference: indexed count of the case'.padEnd(52), ''.padEnd(13), percentile(refTimes, 50).toFixed(1).padStart(8), refP95.toFixed(1).padStart(8), '1.00'.padStart(8)].join(' '));
    console.log(`goal: p95 < 100 ms per request at 100,000 files (custody writes excluded: ${events.length} entries recorded in memory); ${loadAverage()}`);
    if (BROWSER) await browserFigures(sql, url.toString());
  } finally {
    await sql.close();
    await rm(keyDir, { recursive: true, force: true });
    if (PGLITE) {
      // nothing to drop: the in-memory database went with its client
    } else if (!KEEP) {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    } else console.log(`kept database ${db}`);
  }
}

/** The review app in Chromium over this database, with real thumbnails stored for the case's contents first. */
async function browserFigures(sql: Awaited<ReturnType<typeof openSqlClient>>, databaseUrl: string): Promise<void> {
  let seeded: ThumbnailSeedFigures | undefined;
  const g = await measureGallery({
    databaseUrl,
    caseId: CASE,
    user: 'ivy',
    expectedFiles: FILES,
    prepare: async ({ storageConnectionString }) => {
      seeded = await seedThumbnailBlobs({ sql, storageConnectionString, caseId: CASE, ...(THUMBNAILS === 'all' ? {} : { positions: galleryReach(FILES + 1, THUMBNAILS === 'screens' ? 'screens' : 'run') }) });
      // The thumbnail records changed the contents: made again, as the index stage would after analyse.
      await createPostgresReviewStore(sql).refreshSummary(CASE);
    },
  });
  const s = seeded!;
  const ms = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms`;
  };
  console.log(`\nthumbnails: ${s.contents.toLocaleString('en')} contents (${THUMBNAILS === 'all' ? 'all' : THUMBNAILS === 'screens' ? 'the first screens and the jumps\': the first 1,000 and 100 either side of each jump' : 'the files the measured run can show: the first 15,000 and 350 either side of each jump'}), each a ${(s.meanBytes / 1024).toFixed(1)} KiB JPEG (one of ${s.distinctImages} camera-like pictures, the pipeline's recipe) under its own name; ` +
    `stored in ${(s.uploadMs / 1000).toFixed(1)} s (${Math.round(s.contents / (s.uploadMs / 1000))}/s, ${s.parallel} at once, Azurite), records in ${(s.recordMs / 1000).toFixed(1)} s`);
  console.log(`gallery in Chromium (1280x900, local host on this database): ${g.resultCount.toLocaleString('en')} files; ${loadAverage()}`);
  console.log(`  cold load (new browser context, empty HTTP cache; server warm), ${g.coldLoads.length} loads:`);
  console.log(`    first result cells      ${ms(g.coldLoads.map((l) => l.firstCellsMs))}  (from navigation start)`);
  console.log(`    first screen of thumbnails decoded (${g.coldLoads[0]?.thumbnails} cells, complete && naturalWidth > 0)  ${ms(g.coldLoads.map((l) => l.firstThumbnailsMs))}`);
  const missed = g.jumps.filter((j) => Number.isNaN(j.ms)).length;
  console.log(`  jump (scrollTop to ${g.jumps.map((j) => `${j.to * 100}%`).join(', ')}) to a screen of decoded thumbnails: ${ms(g.jumps.filter((j) => !Number.isNaN(j.ms)).map((j) => j.ms))}` +
    (missed ? `; ${missed} not within 30 s` : ''));
  // Images seeded without a thumbnail would show their kind: only the archive at the top may.
  const without = [...g.coldLoads.map((l) => l.without), ...g.jumps.map((j) => j.without), ...g.scroll.map((f) => f.withoutAtEnd)];
  console.log(`  cells on screen showing no thumbnail (the uploaded archive at the top has none): ${without.join(' ')}`);
  console.log(`  ${g.searchRequests} search and ${g.thumbnailRequests} thumbnail requests in the measured page (${g.thumbnailFailures} thumbnail answers other than 200/304; request to first byte ${ms(g.thumbnailWaitMs)}); requests off 127.0.0.1 over all loads: ${g.offHost.length}`);
  console.log(`  the host's thumbnail route from Node (no browser): ${g.server.map((r) => `${r.parallel} at a time ${r.perSecond.toFixed(1)}/s (p50 ${r.p50Ms.toFixed(0)} ms, ${r.thumbnails} thumbnails)`).join('; ')}`);
  console.log(['  scroll'.padEnd(20), 'px/frame', 'frames', 'p50 ms', 'p95 ms', 'max ms', '>33 ms', 'long tasks', 'rows', 'placeholders', 'thumbs at end', 'Chromium frames/dropped/partial'].join('  '));
  for (const f of g.scroll) {
    console.log(
      [`  ${f.label}`.padEnd(20), String(f.pxPerFrame).padStart(8), String(f.frames).padStart(6), f.p50Ms.toFixed(1).padStart(6), f.p95Ms.toFixed(1).padStart(6), f.maxMs.toFixed(1).padStart(6),
        String(f.over33Ms).padStart(6), `${f.longTasks} (${f.longTaskMs.toFixed(0)} ms)`.padStart(10), String(f.rowsScrolled).padStart(4), String(f.placeholdersAtEnd).padStart(12),
        `${f.thumbnailsAtEnd}/${f.visibleAtEnd}`.padStart(13), `${f.compositor.frames}/${f.compositor.dropped}/${f.compositor.partial}`.padStart(31)].join('  '),
    );
  }
  console.log(`  ${loadAverage()}`);
  if (g.offHost.length > 0) throw new Error(`requests off the host: ${g.offHost.join(', ')}`);
}

/**
 * One upload of FILES photos, written in bulk by SQL: positions around three
 * cities, capture times over two years (a quarter without a recorded offset),
 * one in twenty a copy of another's content.
 */
async function seed(sql: Awaited<ReturnType<typeof openSqlClient>>, index: ReturnType<typeof createPostgresIndex>): Promise<void> {
  await index.recordUpload({
    caseId: CASE,
    evidenceId: 'EX01',
    blobName: `${CASE}/EX01/phone.zip`,
    fileName: 'phone.zip',
    rootFileId: 'benchroot',
    size: 1,
    etag: '"0x1"',
    versionId: null,
    contentType: 'application/zip',
    lastModified: '2024-01-01T00:00:00.000Z',
    acquisition: {},
  });
  await sql.query(
    `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status,
                           taken_at_utc, taken_at_local, taken_at_local_ts, taken_offset_minutes, gps_lat, gps_lon, make, model, thumbnail_status)
     SELECT encode(sha256(('c' || g)::bytea), 'hex'), md5('c' || g), left(encode(sha256(('s' || g)::bytea), 'hex'), 40), 1000 + g % 5000,
            'derived', 'content/' || g, 'image/jpeg', 'jpg', 'image', '{}'::jsonb, 'done',
            CASE WHEN g % 4 = 0 THEN NULL ELSE ts - interval '1 hour' END, to_char(ts, 'YYYY:MM:DD HH24:MI:SS'), ts,
            CASE WHEN g % 4 = 0 THEN NULL ELSE 60 END,
            CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY[51.5, -22.9, 35.7])[1 + g % 3] + ((g * 0.000137) % 0.9) - 0.45 END,
            CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY[-0.12, -43.17, 139.65])[1 + g % 3] + ((g * 0.000291) % 1.7) - 0.85 END,
            (ARRAY['Canon', 'Apple', 'SAMSUNG'])[1 + g % 3], 'model ' || (g % 7), 'n/a'
       FROM (SELECT g, timestamp '2023-01-01' + (g * interval '10 minutes') * (730.0 * 144 / $1) AS ts FROM generate_series(1, $1::int) g) s`,
    [FILES],
  );
  await sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage)
     SELECT 'bench' || lpad(g::text, 8, '0'), $2, 'EX01', 0, 'phone/DCIM/' || (g % 100) || '/IMG_' || lpad(g::text, 8, '0') || '.jpg',
            'x', 'IMG_' || g || '.jpg', 'jpg', 'file', 1000, encode(sha256(('c' || CASE WHEN g % 20 = 0 THEN g - 1 ELSE g END)::bytea), 'hex'), 'indexed'
       FROM generate_series(1, $1::int) g`,
    [FILES, CASE],
  );
  await sql.query(`INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage) VALUES ('benchroot', $1, 'EX01', 0, 'phone.zip', 'phone.zip', 'phone.zip', 'file', 'indexed')`, [CASE]);
  await index.recordUploadHashes(`${CASE}/EX01/phone.zip`, { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) }, 'no-reference', []);
  // What autovacuum does after a bulk load: statistics, and the visibility map that lets index-only scans skip the heap.
  await sql.exec('VACUUM ANALYZE');
}

/** The nextCursor of the page that ends just before `before` (path order, pages of 200), reached by offset once. */
async function cursorAt(api: ReturnType<typeof createApi>, token: string, offset: number): Promise<string> {
  const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/files`, query: new URLSearchParams({ limit: '200', offset: String(offset) }), headers: { authorization: `Bearer ${token}` } });
  const cursor = (res.body as { nextCursor?: string | null }).nextCursor;
  if (res.status !== 200 || typeof cursor !== 'string') throw new Error(`no cursor at ${offset}: ${res.status}`);
  return cursor;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
