/**
 * Known-file benchmarks (issue 14; figures in docs/benchmarks.md). Not a test:
 * prints figures, asserts nothing about time.
 *
 *   npm run bench:hashsets -- [--db postgres://postgres@127.0.0.1:5432/test] [--rows 1000000]
 *                             [--files 2000] [--pdq 100000] [--queries 200]
 *                             [--skip import,match,nsrl,pdq,pdq-server,pdq-pglite] [--import-on server|pglite|both]
 *
 * 1. Import rate (rows/s) of a generated md5sum list and of a generated
 *    SQLite database in the NSRL RDS v3 layout, each `--rows` rows, into a
 *    fresh database on the PostgreSQL server, through the HashSetStore the CLI
 *    uses (hashing, parse + COPY, indexing, re-match). Reference in the same
 *    run: `psql \copy` of the same md5sum file into a one-column table of the
 *    same database (the server's COPY of those bytes, with no parsing).
 * 2. Matching overhead per file: the index stage's one statement
 *    (matchFileAgainstHashSets) for `--files` files with the large sets
 *    enabled, against the same files with no set enabled, in `--rounds`
 *    alternating rounds (disabling a set withdraws its matches, so each
 *    enabled round matches afresh); prints the median slowdown.
 * 3. PDQ similar-image query latency (p50/p95, maxDistance 31) over `--pdq`
 *    stored hashes in one case: on the server (no pgvector here: exact scan)
 *    and on PGlite (pgvector HNSW).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { NewFile } from '@exhibit/core';
import { HashSetStore, openSqlClient, PostgresIndex, type ImportProgress, type SqlClient } from '@exhibit/index';
import { member, newUpload, rootFile } from '../../packages/index/test/fixtures.js';
import { writeNsrlRdsV3, type NsrlRow } from '../../samples/lib/nsrl-rds.writer.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    rows: { type: 'string', default: '1000000' },
    files: { type: 'string', default: '2000' },
    pdq: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    skip: { type: 'string', default: '' },
    // Where the import part runs: the PostgreSQL server, the embedded PGlite, or both (matching runs on the first).
    'import-on': { type: 'string', default: 'server' },
  },
});
const ROWS = Number(values.rows);
const FILES = Number(values.files);
const PDQ = Number(values.pdq);
const QUERIES = Number(values.queries);
const ROUNDS = Math.max(1, Number(values.rounds));
const skip = new Set(values.skip!.split(',').filter(Boolean));
const seed = randomBytes(8).toString('hex');
const hex = (alg: string, s: string) => createHash(alg).update(s).digest('hex');
const fmt = (n: number) => Math.round(n).toLocaleString('en-GB');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-hashsets-bench-'));
const admin = new pg.Client({ connectionString: values.db });
await admin.connect();
const created: string[] = [];
/** The URL of the last database freshServerDb made (the psql reference copies into it). */
let freshUrl = '';
async function freshServerDb(): Promise<SqlClient> {
  const name = `exhibit_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  created.push(name);
  const url = new URL(values.db!);
  url.pathname = `/${name}`;
  freshUrl = url.toString();
  const sql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
  await new PostgresIndex(sql).migrate();
  return sql;
}

console.log(`hash-set benchmarks: node ${process.version}, server ${(await admin.query('SHOW server_version')).rows[0].server_version}, ${(await import('node:os')).cpus().length} CPUs, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);

async function writeText(file: string, rows: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < rows; i += 10_000) {
    let text = '';
    for (let j = i; j < Math.min(rows, i + 10_000); j++) text += line(j);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Imports `file` as the set `name`, prints its rate and phases; returns the whole import's wall time (ms). */
async function timedImport(sets: HashSetStore, file: string, name: string): Promise<number> {
  const phases = new Map<string, number>();
  let phase: string | null = null;
  let at = performance.now();
  const onProgress = (p: ImportProgress) => {
    if (p.phase === phase) return;
    const now = performance.now();
    if (phase) phases.set(phase, now - at);
    phase = p.phase;
    at = now;
  };
  const t = performance.now();
  const result = await sets.import(file, { name, kind: 'known-good', importedBy: 'bench', onProgress });
  const total = performance.now() - t;
  if (phase) phases.set(phase, performance.now() - at);
  const load = phases.get('loading') ?? NaN;
  console.log(
    `  ${name}: ${fmt(result.set.rowCount)} rows (${((await stat(file)).size / 1048576).toFixed(0)} MiB, ${result.set.format}) in ${(total / 1000).toFixed(1)} s: ` +
      `${fmt(ROWS / (total / 1000))} rows/s overall, load (parse + COPY) ${fmt(ROWS / (load / 1000))} rows/s; ` +
      [...phases].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', '),
  );
  return total;
}

/**
 * The reference for the import rate: psql's \copy of the same file into a
 * one-column text table (each line one value; the generated lines hold no tab
 * or backslash), so the server's COPY of the same bytes with no parsing, in
 * the same database and run. Null when psql is not installed.
 */
async function psqlCopyReference(file: string, url: string): Promise<number | null> {
  const { spawnSync } = await import('node:child_process');
  const run = (command: string) => spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', command], { encoding: 'utf8' });
  const created = run('CREATE TABLE bench_copy_reference (line text)');
  if (created.error) return null;
  if (created.status !== 0) throw new Error(`psql: ${created.stderr}`);
  const t = performance.now();
  const copied = run(`\\copy bench_copy_reference (line) FROM '${file.replace(/'/g, "''")}'`);
  const ms = performance.now() - t;
  if (copied.status !== 0) throw new Error(`psql \\copy: ${copied.stderr}`);
  run('DROP TABLE bench_copy_reference');
  return ms;
}

const md5List = path.join(dir, 'list.md5');
const nsrlDb = path.join(dir, 'rds.db');
let server: SqlClient | null = null;
try {
  if (!skip.has('import') || !skip.has('match')) {
    let t = performance.now();
    await writeText(md5List, ROWS, (i) => `${hex('md5', `${seed}/md5/${i}`)}  evidence/file_${i}.bin\n`);
    function* nsrlRows(): Generator<NsrlRow> {
      for (let i = 0; i < ROWS; i++) {
        const s = `${seed}/nsrl/${i}`;
        yield { sha256: hex('sha256', s), sha1: hex('sha1', s), md5: hex('md5', s), fileName: `system32/file_${i}.dll`, size: i, packageId: i % 1000 };
      }
    }
    if (!skip.has('nsrl')) writeNsrlRdsV3(nsrlDb, { version: '2026.12.1', buildSet: 'bench', releaseDate: '2026-12-01', description: 'synthetic' }, nsrlRows());
    console.log(`generated ${fmt(ROWS)}-row md5sum list${skip.has('nsrl') ? '' : ' and NSRL-RDS-v3-layout SQLite'} in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const targets = values['import-on'] === 'both' ? ['server', 'pglite'] : [values['import-on']!];
    for (const target of targets.slice(1)) {
      const lite = await openSqlClient({ kind: 'pglite', dataDir: path.join(dir, `pglite-import-${target}`) });
      try {
        await new PostgresIndex(lite).migrate();
        console.log('import into PGlite:');
        await timedImport(new HashSetStore(lite), md5List, 'bench-md5sum');
        if (!skip.has('nsrl')) await timedImport(new HashSetStore(lite), nsrlDb, 'bench-nsrl');
      } finally {
        await lite.close();
      }
    }
    server = targets[0] === 'pglite' ? await openSqlClient({ kind: 'pglite', dataDir: path.join(dir, 'pglite-import') }) : await freshServerDb();
    if (targets[0] === 'pglite') await new PostgresIndex(server).migrate();
    const sets = new HashSetStore(server);
    console.log(targets[0] === 'pglite' ? 'import into PGlite:' : `import into PostgreSQL (${values.db}):`);
    const importMs = await timedImport(sets, md5List, 'bench-md5sum');
    if (targets[0] === 'server') {
      const refMs = await psqlCopyReference(md5List, freshUrl);
      console.log(refMs === null
        ? '  reference: psql not found, none measured'
        : `  reference, psql \\copy of the same file into a one-column table: ${(refMs / 1000).toFixed(1)} s (${fmt(ROWS / (refMs / 1000))} rows/s); the import takes ${(importMs / refMs).toFixed(2)} × its time`);
    }
    if (!skip.has('nsrl')) await timedImport(sets, nsrlDb, 'bench-nsrl');
    console.log(`  peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);

    if (!skip.has('match')) {
      // Files indexed after the import, as the pipeline indexes them: one in ten holds a listed MD5 or SHA-256.
      const index = new PostgresIndex(server);
      const up = newUpload('BENCH', 'EV1', 'bench.zip');
      await index.recordUpload(up);
      const root = rootFile(up);
      const files: NewFile[] = [root];
      const contents: Array<{ sha256: string; md5: string; sha1: string }> = [];
      for (let i = 0; i < FILES; i++) {
        const listed = i % 10 === 0;
        const s = `${seed}/file/${i}`;
        const content = listed && i % 20 === 0
          ? { sha256: hex('sha256', `${seed}/nsrl/${i * 37}`), md5: hex('md5', `${seed}/nsrl/${i * 37}`), sha1: hex('sha1', `${seed}/nsrl/${i * 37}`) }
          : { sha256: hex('sha256', s), md5: listed ? hex('md5', `${seed}/md5/${i * 41}`) : hex('md5', s), sha1: hex('sha1', s) };
        contents.push(content);
        files.push(member(root, i, `f/${i}.bin`, { sha256: content.sha256 }));
      }
      for (let i = 0; i < files.length; i += 1000) await index.insertFiles(files.slice(i, i + 1000));
      for (const c of contents) await index.ensureContent({ ...c, size: 100, source: { container: 'derived', name: `content/${c.sha256}` } });
      const ids = files.slice(1).map((f) => f.fileId);

      const pass = async () => {
        const times: number[] = [];
        let matched = 0;
        for (const id of ids) {
          const t0 = performance.now();
          matched += (await index.matchFileAgainstHashSets(id)).length > 0 ? 1 : 0;
          times.push(performance.now() - t0);
        }
        return { times, matched, mean: times.reduce((a, b) => a + b, 0) / times.length };
      };
      const setNames = skip.has('nsrl') ? ['bench-md5sum'] : ['bench-md5sum', 'bench-nsrl'];
      const toggle = async (on: boolean) => {
        for (const name of setNames) await sets.setEnabled(name, on);
      };
      // Alternating rounds, each order in turn, so drift of the shared machine's load hits both sides alike.
      const rounds: Array<{ withSets: Awaited<ReturnType<typeof pass>>; none: Awaited<ReturnType<typeof pass>> }> = [];
      for (let r = 0; r < ROUNDS; r++) {
        let withSets: Awaited<ReturnType<typeof pass>>;
        let none: Awaited<ReturnType<typeof pass>>;
        if (r % 2 === 0) {
          withSets = await pass();
          await toggle(false);
          none = await pass();
          await toggle(true);
        } else {
          await toggle(false);
          none = await pass();
          await toggle(true);
          withSets = await pass();
        }
        rounds.push({ withSets, none });
      }
      await pass(); // records the matches again if the last round ended with their withdrawal
      const again = await pass();
      const median = (xs: number[]) => pct(xs, 50);
      const ms = (x: { times: number[]; mean: number }) => `mean ${x.mean.toFixed(3)} ms, p50 ${pct(x.times, 50).toFixed(3)} ms, p95 ${pct(x.times, 95).toFixed(3)} ms`;
      const hashes = setNames.length * ROWS;
      console.log(`matching per file (matchFileAgainstHashSets, ${fmt(FILES)} files, ${fmt(hashes)} hashes in ${setNames.length} set(s), ${ROUNDS} alternating rounds):`);
      rounds.forEach(({ withSets, none }, r) => {
        console.log(`  round ${r + 1}: sets enabled (first match) ${ms(withSets)} (${withSets.matched} files matched); no set enabled ${ms(none)} (${none.matched} matched)`);
      });
      console.log(`  sets enabled, matches already recorded (a redelivery): ${ms(again)}`);
      // Means follow the slowest statements (the shared machine's stalls); the per-round medians less so: both are printed.
      for (const [label, of] of [['mean', (x: { mean: number }) => x.mean], ['p50', (x: { times: number[] }) => pct(x.times, 50)]] as const) {
        const diffs = rounds.map(({ withSets, none }) => of(withSets) - of(none));
        const slowdowns = rounds.map(({ withSets, none }) => (of(withSets) / of(none) - 1) * 100);
        console.log(
          `  median over rounds (per-file ${label}): ${fmt(hashes)} known hashes cost ${median(diffs).toFixed(3)} ms per file ` +
            `(${median(slowdowns).toFixed(1)} % of the statement itself; rounds from ${Math.min(...diffs).toFixed(3)} to ${Math.max(...diffs).toFixed(3)} ms)`,
        );
      }
    }
  }
} finally {
  await server?.close();
}

if (!skip.has('pdq')) {
  const flip = (h: Buffer, bits: number) => {
    const b = Buffer.from(h);
    // Distinct positions (25 is odd, so k·25 mod 256 never repeats for k < 256): exactly `bits` apart.
    for (let k = 0; k < bits; k++) {
      const bit = (h[0]! + k * 25) & 255;
      b[bit >> 3]! ^= 0x80 >> (bit & 7);
    }
    return b;
  };
  const hashes: Buffer[] = Array.from({ length: PDQ }, (_, i) => createHash('sha256').update(`${seed}/pdq/${i}`).digest());
  async function loadPdq(sql: SqlClient): Promise<{ loadMs: number; indexMs: number | null }> {
    const t = performance.now();
    const index = new PostgresIndex(sql);
    // An HNSW index is built once after the bulk load (as after a restore), not row by row.
    const { rows: hnsw } = await sql.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'content_pdq_hnsw_idx'`);
    if (hnsw[0]) await sql.exec('DROP INDEX content_pdq_hnsw_idx');
    const up = newUpload('PDQBENCH', 'EV1', 'pictures.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    await index.insertFiles([root]);
    const BATCH = 2000;
    for (let i = 0; i < PDQ; i += BATCH) {
      const n = Math.min(BATCH, PDQ - i);
      const shas = Array.from({ length: n }, (_, k) => hex('sha256', `${seed}/pic/${i + k}`));
      await sql.query(
        `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, kind)
         SELECT s, substr(s, 1, 32), substr(s, 1, 40), 100, 'derived', 'content/' || s, 'image' FROM unnest($1::text[]) AS s`,
        [shas],
      );
      await index.insertFiles(shas.map((sha256, k) => member(root, i + k, `DCIM/${i + k}.jpg`, { sha256 })));
      await sql.query(
        `INSERT INTO content_pdq (sha256, frame, pdq, quality)
         SELECT s, 0, ('x' || h)::bit(256), 90 FROM unnest($1::text[], $2::text[]) AS u(s, h)`,
        [shas, hashes.slice(i, i + n).map((h) => h.toString('hex'))],
      );
    }
    const loadMs = performance.now() - t;
    let indexMs: number | null = null;
    if (hnsw[0]) {
      const i0 = performance.now();
      await sql.exec(hnsw[0].indexdef);
      indexMs = performance.now() - i0;
    }
    await sql.exec('ANALYZE content_pdq; ANALYZE files;');
    return { loadMs, indexMs };
  }
  async function queryPdq(label: string, sql: SqlClient, load: { loadMs: number; indexMs: number | null }): Promise<void> {
    const index = new PostgresIndex(sql);
    const near: number[] = [];
    const far: number[] = [];
    let method = '';
    let found = 0;
    for (let q = 0; q < QUERIES; q++) {
      // Half the queries are a stored picture with 10 bits changed (a resized copy), half unrelated.
      const isNear = q % 2 === 0;
      const hash = isNear ? flip(hashes[(q * 7919) % PDQ]!, 10) : createHash('sha256').update(`${seed}/query/${q}`).digest();
      const t = performance.now();
      const r = await index.similarByPdq({ hash: hash.toString('hex'), caseIds: ['PDQBENCH'], maxDistance: 31, limit: 100 });
      (isNear ? near : far).push(performance.now() - t);
      method = r.method;
      if (isNear && r.items.some((it) => it.distance === 10)) found += 1;
    }
    const all = [...near, ...far];
    console.log(
      `  ${label} (${method}, ${fmt(PDQ)} hashes loaded in ${(load.loadMs / 1000).toFixed(1)} s${load.indexMs === null ? '' : `, HNSW index built in ${(load.indexMs / 1000).toFixed(1)} s`}): ${QUERIES} queries p50 ${pct(all, 50).toFixed(1)} ms, p95 ${pct(all, 95).toFixed(1)} ms ` +
        `(near copies p50 ${pct(near, 50).toFixed(1)} / p95 ${pct(near, 95).toFixed(1)} ms, found ${found}/${near.length}; unrelated p50 ${pct(far, 50).toFixed(1)} / p95 ${pct(far, 95).toFixed(1)} ms)`,
    );
  }
  console.log(`PDQ similar-image search, maxDistance 31, limit 100, one case of ${fmt(PDQ)} pictures:`);
  if (!skip.has('pdq-server')) {
    const pgSql = await freshServerDb();
    try {
      await queryPdq('PostgreSQL server', pgSql, await loadPdq(pgSql));
    } finally {
      await pgSql.close();
    }
  }
  if (!skip.has('pdq-pglite')) {
    const lite = await openSqlClient({ kind: 'pglite', dataDir: path.join(dir, 'pglite') });
    try {
      await new PostgresIndex(lite).migrate();
      await queryPdq('PGlite', lite, await loadPdq(lite));
    } finally {
      await lite.close();
    }
  }
}

for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin.end();
await rm(dir, { recursive: true, force: true });
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
