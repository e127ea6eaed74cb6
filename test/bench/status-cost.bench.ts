/**
 * What one evidence status call costs (GET /cases/{c}/evidence/{e}/status, the
 * route behind `exhibit status`, the review app's live progress and the
 * benches' completion polling): index statements per call, host CPU per call
 * (process.cpuUsage over the timed calls: the API, the SQL client and, on
 * PGlite, the database itself, which runs on this thread), and p50/p95
 * latency. Seeds one evidence item of N files with every part the status
 * reports: three uploads (one verified, one mismatching its declared hash,
 * one whose hash stage gave up), files at every stage, failed files, an
 * archive whose unpack stopped, flags, content findings, a disk image and a
 * split image's segment manifest.
 *
 *   npm run bench:status -- [--files=100] [--calls=200] [--pglite] [--dump=out.json] [--keep] [--writes=2000]
 *
 * DATABASE_URL names the server (a database is created and dropped), or
 * --pglite for an in-memory PGlite. --dump writes the response body, to
 * compare two versions of the code on the same seed. --writes=N then times
 * what keeping the per-item counts (migration 0130) adds to a file's state
 * change: N more files of the item inserted, moved one statement each
 * (advanceFile, as analyse moves a file) and indexed in batches of 100
 * (markIndexedBatch, as the index stage does), in rounds alternating with the
 * counts' triggers on and off (the counts are wrong after the off rounds,
 * which is why this runs last).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createRootLogger, loadTestSettings, rootFileId, type BlobStore } from '@exhibit/core';
import { countingSqlClient, createPostgresAccessStore, createPostgresIndex, migrate, openSqlClient, type SqlClient } from '@exhibit/index';
import { createApi, createLocalTokenVerifier, issueLocalToken } from '@exhibit/api';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const FILES = Number(args.get('files') ?? 100);
const CALLS = Number(args.get('calls') ?? 200);
const PGLITE = args.has('pglite');
const DUMP = args.get('dump');
/** --keep: leave the server database (to EXPLAIN in it); its name is printed. */
const KEEP = args.has('keep');
const WRITES = Number(args.get('writes') ?? 0);
const COUNT_TRIGGERS = ['evidence_file_counts_insert', 'evidence_file_counts_update', 'evidence_file_counts_delete'];
const CASE = 'BENCH-STATUS';
const EV = 'EX01';

const loadAverage = () => `load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')} on ${os.cpus().length} cores`;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

async function seed(sql: SqlClient): Promise<void> {
  const index = createPostgresIndex(sql);
  const access = createPostgresAccessStore(sql);
  const upload = (fileName: string) => ({
    caseId: CASE, evidenceId: EV, blobName: `${CASE}/${EV}/${fileName}`, fileName, rootFileId: rootFileId(`${CASE}/${EV}/${fileName}`), size: 1000,
    etag: '"0x1"', versionId: null, contentType: 'application/octet-stream', lastModified: '2024-01-01T00:00:00.000Z', acquisition: {},
  });
  const uploads = [upload('phone.zip'), upload('card.dd'), upload('stick.E01')];
  for (const u of uploads) {
    await index.recordUpload(u);
    await access.registerUpload({ blobName: u.blobName, caseId: CASE, evidenceId: EV, fileName: u.fileName, size: u.size, uploadedBy: 'ivy' });
    await index.insertFiles([{
      fileId: u.rootFileId, caseId: CASE, evidenceId: EV, parentId: null, entryIndex: null, depth: 0, path: u.fileName, recordedName: u.fileName,
      name: u.fileName, extension: u.fileName.split('.').pop()!.toLowerCase(), entryKind: 'file', size: u.size, sha256: null,
      source: { container: 'evidence', name: u.blobName }, archiveTimes: {}, flags: [], stage: 'pending', failure: null,
    }]);
  }
  const h = { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) };
  await index.recordUploadHashes(uploads[0]!.blobName, h, 'no-reference', []);
  await index.recordUploadHashes(uploads[1]!.blobName, { ...h, sha256: '1'.repeat(64) }, 'mismatch', ['sha256']);
  await index.failUploadHash(uploads[2]!.blobName, { stage: 'hash', code: 'storage-unavailable', detail: 'gave up after 5 deliveries' });
  await index.declareSegmentManifest([
    { blobName: `${CASE}/${EV}/split.001`, firstBlobName: `${CASE}/${EV}/split.001`, caseId: CASE, evidenceId: EV, position: 1, fileName: 'split.001', size: 10, declaredBy: 'ivy' },
    { blobName: `${CASE}/${EV}/split.002`, firstBlobName: `${CASE}/${EV}/split.001`, caseId: CASE, evidenceId: EV, position: 2, fileName: 'split.002', size: 10, declaredBy: 'ivy' },
  ]);
  // Members: every stage, a few failed, flags and content findings, one in twenty a copy of another's content.
  await sql.query(
    `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, detected_ext, kind, metadata, metadata_status, thumbnail_status,
                           failure_stage, failure_code, failure_detail, findings)
     SELECT encode(sha256(('c' || g)::bytea), 'hex'), md5('c' || g), left(encode(sha256(('s' || g)::bytea), 'hex'), 40), 1000,
            'derived', 'content/' || g, 'image/jpeg', 'jpg', 'image', '{}'::jsonb,
            CASE WHEN g % 53 = 0 THEN 'failed' ELSE 'done' END, 'done',
            CASE WHEN g % 53 = 0 THEN 'metadata' END, CASE WHEN g % 53 = 0 THEN 'corrupt-file' END, CASE WHEN g % 53 = 0 THEN 'bad EXIF' END,
            CASE WHEN g % 31 = 0 THEN '[{"flag":"trailing-data","detail":"12 bytes after the end of the image"}]'::jsonb ELSE '[]'::jsonb END
       FROM generate_series(1, $1::int) g`,
    [FILES],
  );
  await sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, parent_id, entry_index, depth, path, recorded_name, name, extension, entry_kind, size, sha256, stage, flags)
     SELECT 'bench' || lpad(g::text, 8, '0'), $2, $3, $4, g, 1, 'phone.zip/DCIM/' || (g % 100) || '/IMG_' || lpad(g::text, 8, '0') || '.jpg',
            'x', 'IMG_' || g || '.jpg', 'jpg', CASE WHEN g % 97 = 0 THEN 'directory' ELSE 'file' END, 1000,
            CASE WHEN g % 97 = 0 THEN NULL ELSE encode(sha256(('c' || CASE WHEN g % 20 = 0 THEN g - 1 ELSE g END)::bytea), 'hex') END,
            (ARRAY['indexed', 'indexed', 'indexed', 'indexed', 'thumbnailed', 'described', 'identified', 'pending'])[1 + g % 8],
            CASE WHEN g % 37 = 0 THEN ARRAY['ext-mismatch'] ELSE ARRAY[]::text[] END
       FROM generate_series(1, $1::int) g`,
    [FILES, CASE, EV, uploads[0]!.rootFileId],
  );
  for (let g = 11; g <= FILES; g += 41) await index.failFile(`bench${String(g).padStart(8, '0')}`, { stage: 'thumbnail', code: 'corrupt-file', detail: 'cannot decode' });
  await index.setUnpack(uploads[0]!.rootFileId, 'failed', 12, { code: 'corrupt-file', detail: 'cut off in member 11', reason: 'truncated', membersRecorded: 10, membersDeclared: 40 });
  await index.recordDiskImage({
    fileId: uploads[1]!.rootFileId, caseId: CASE, evidenceId: EV, format: 'raw', mediaBytes: 1000, segmentCount: 1, segments: [], volumes: [], volumeProblems: [],
    ewfHeader: null, storedHashes: null, computedHashes: null, integrity: 'no-reference', mismatches: [], integrityDetail: null,
  });
  await sql.exec('VACUUM ANALYZE');
}

/** Milliseconds per statement, p50 and p95, with the counts' triggers on and off (see --writes). */
async function writeCost(sql: SqlClient): Promise<void> {
  const index = createPostgresIndex(sql);
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = ANY($1::text[])`, [COUNT_TRIGGERS]);
  if (rows[0]!.n !== COUNT_TRIGGERS.length) throw new Error('--writes needs the counts of migration 0130');
  const times: Record<'on' | 'off', { insert: number[]; move: number[]; batch: number[]; moveCpuUs: number; batchCpuUs: number }> = {
    on: { insert: [], move: [], batch: [], moveCpuUs: 0, batchCpuUs: 0 },
    off: { insert: [], move: [], batch: [], moveCpuUs: 0, batchCpuUs: 0 },
  };
  const cpuUs = (since: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(since);
    return d.user + d.system;
  };
  let next = 0;
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `p50 ${percentile(s, 50).toFixed(2)} / p95 ${percentile(s, 95).toFixed(2)} ms (${s.length})`;
  };
  for (let round = 0; round < 4; round++) {
    for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      for (const t of COUNT_TRIGGERS) await sql.exec(`ALTER TABLE files ${mode === 'on' ? 'ENABLE' : 'DISABLE'} TRIGGER ${t}`);
      const ids = Array.from({ length: WRITES / 4 }, () => `write${String(next++).padStart(8, '0')}`);
      let t = performance.now();
      await sql.query(
        `INSERT INTO files (file_id, case_id, evidence_id, parent_id, entry_index, depth, path, recorded_name, name, extension, entry_kind, size, stage)
         SELECT id, $2, $3, NULL, NULL, 1, 'written/' || id, id, id, 'jpg', 'file', 10, 'pending' FROM unnest($1::text[]) id`,
        [ids, CASE, EV],
      );
      times[mode].insert.push(performance.now() - t);
      let cpu = process.cpuUsage();
      for (const id of ids) {
        t = performance.now();
        await index.advanceFile(id, 'thumbnailed');
        times[mode].move.push(performance.now() - t);
      }
      times[mode].moveCpuUs += cpuUs(cpu);
      cpu = process.cpuUsage();
      for (let i = 0; i < ids.length; i += 100) {
        t = performance.now();
        await index.markIndexedBatch({ caseId: CASE, evidenceId: EV }, ids.slice(i, i + 100));
        times[mode].batch.push(performance.now() - t);
      }
      times[mode].batchCpuUs += cpuUs(cpu);
    }
  }
  for (const t of COUNT_TRIGGERS) await sql.exec(`ALTER TABLE files ENABLE TRIGGER ${t}`);
  for (const mode of ['on', 'off'] as const) {
    const m = times[mode];
    console.log(
      `write cost, counts ${mode}: move one file ${stats(m.move)}, host CPU ${(m.moveCpuUs / 1000 / m.move.length).toFixed(2)} ms; ` +
        `index a batch of 100 ${stats(m.batch)}, host CPU ${(m.batchCpuUs / 1000 / m.batch.length).toFixed(2)} ms; ` +
        `insert ${WRITES / 4} files ${stats(times[mode].insert)}; ${loadAverage()}`,
    );
  }
}

async function main(): Promise<void> {
  const baseUrl = loadTestSettings().databaseUrl;
  if (!baseUrl && !PGLITE) throw new Error('set DATABASE_URL to a PostgreSQL server, or pass --pglite');
  const db = PGLITE ? 'pglite (memory)' : `exhibit_bench_status_${randomBytes(4).toString('hex')}`;
  const url = new URL(baseUrl ?? 'postgres://unused/');
  if (!PGLITE) {
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    url.pathname = `/${db}`;
  }
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-bench-status-'));
  const raw = await openSqlClient(PGLITE ? { kind: 'pglite', dataDir: 'memory://' } : { kind: 'postgres', url: url.toString(), entraAuth: false });
  try {
    await migrate(raw);
    await seed(raw);
    const counter = { statements: 0 };
    const sql = countingSqlClient(raw, counter);
    const access = createPostgresAccessStore(sql);
    await access.assign(CASE, 'ivy', { by: 'bench' });
    const api = createApi({
      index: createPostgresIndex(sql),
      access,
      blobs: {} as BlobStore, // the status reads no blob
      custody: { record: async () => {} },
      tokens: createLocalTokenVerifier({ keyDir }),
      containers: { evidence: 'evidence', derived: 'derived' },
      logger: createRootLogger({ level: 'silent' }),
    });
    const token = (await issueLocalToken({ user: 'ivy', roles: ['investigator'], ttlMs: 3_600_000 }, { keyDir })).token;
    const call = async () => {
      const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/evidence/${EV}/status`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    // Warm-up; the first call also writes the read audit's first entry of its window.
    for (let i = 0; i < 10; i++) await call();
    const body = await call();
    if (DUMP) await writeFile(DUMP, `${JSON.stringify(body, null, 2)}\n`);
    const before = counter.statements;
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await call();
      times.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    times.sort((a, b) => a - b);
    const b = body as { files: { total: number }; failures: unknown[]; findings: unknown[]; complete: boolean };
    console.log(
      `${db}, ${FILES} members (${b.files.total} files, ${b.failures.length} failures, ${b.findings.length} findings, complete ${b.complete}), ${CALLS} calls: ` +
        `${((counter.statements - before) / CALLS).toFixed(1)} statements per call, host CPU ${((cpu.user + cpu.system) / 1000 / CALLS).toFixed(2)} ms per call ` +
        `(user ${(cpu.user / 1000 / CALLS).toFixed(2)}), latency p50 ${percentile(times, 50).toFixed(2)} ms p95 ${percentile(times, 95).toFixed(2)} ms; ${loadAverage()}`,
    );
    if (WRITES > 0) await writeCost(raw);
  } finally {
    await raw.close();
    await rm(keyDir, { recursive: true, force: true });
    if (KEEP && !PGLITE) console.log(`kept database ${db}`);
    else if (!PGLITE) {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    }
  }
}

await main();
