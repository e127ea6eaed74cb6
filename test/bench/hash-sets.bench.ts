/**
 * Known-file benchmarks (issue 14; figures in docs/benchmarks.md). Not a test:
 * prints figures, asserts nothing about time.
 *
 *   npm run bench:hashsets -- [--db postgres://postgres@127.0.0.1:5432/test] [--rows 1000000]
 *                             [--files 2000] [--pdq 100000] [--pdq-list N] [--pdq-db NAME] [--pdq-reuse] [--explain] [--queries 200]
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
 * 3. PDQ, on the server (`--pdq-db` names its database) and on PGlite: a PDQ
 *    list of `--pdq-list` synthetic hashes imported (rows/s, phases), `--pdq`
 *    synthetic hashes stored for one case's pictures, then similar-image query
 *    latency (p50/p95, maxDistance 31) and PDQ-list matching per content, each
 *    by the old exact scan and by multi-index hashing in the same run
 *    (alternating), with the two methods' results compared.
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
import type { SimilarResult } from '@exhibit/core';
import { hexOfBits, similarByPdq } from '../../packages/index/src/index-store.pdq.js';
import { pdqMatchSelect, pdqSets } from '../../packages/index/src/hash-sets/pdq-match.js';
import { member, newUpload, rootFile } from '../../packages/index/test/fixtures.js';
import { writeNsrlRdsV3, type NsrlRow } from '../../samples/lib/nsrl-rds.writer.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    rows: { type: 'string', default: '1000000' },
    files: { type: 'string', default: '2000' },
    pdq: { type: 'string', default: '100000' },
    // Hashes in the PDQ list matched against (default: as many as --pdq).
    'pdq-list': { type: 'string' },
    // The server database of the PDQ part (created, dropped when done); default a random name.
    'pdq-db': { type: 'string' },
    // Print the plans of one similar search (where its time goes).
    explain: { type: 'boolean', default: false },
    // Query the hashes an interrupted run of the same --pdq left in --pdq-db (no import, no load).
    'pdq-reuse': { type: 'boolean', default: false },
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
const PDQ_LIST = Number(values['pdq-list'] ?? values.pdq);
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
  /**
   * Synthetic PDQ hashes, deterministic from the run's seed: 90 % uniform random,
   * 10 % in clusters of 10 near-duplicates (each member 1-30 random bits from its
   * cluster's first), and 1,000 copies of one hash (skew: a picture shared a
   * thousand times). One buffer of 32 bytes per hash, not an object each.
   */
  function syntheticPdq(count: number, label: string): Buffer {
    const out = Buffer.alloc(count * 32);
    const clustered = Math.floor(count / 10);
    let state = createHash('sha256').update(`${seed}/${label}`).digest();
    const next = () => (state = createHash('sha256').update(state).digest());
    for (let i = 0; i < count; i++) {
      const at = out.subarray(i * 32, i * 32 + 32);
      if (i < 1000) {
        if (i === 0) next().copy(at);
        else out.copy(at, 0, 0, 32);
      } else if (i < 1000 + clustered && (i - 1000) % 10 !== 0) {
        const center = i - ((i - 1000) % 10);
        out.copy(at, 0, center * 32, center * 32 + 32);
        const r = next();
        const bits = 1 + (r[0]! % 30);
        const seen = new Set<number>();
        for (let k = 1; seen.size < bits; k++) {
          const bit = r[k % 32]! ^ (k * 37 & 255);
          if (seen.has(bit)) continue;
          seen.add(bit);
          at[bit >> 3]! ^= 0x80 >> (bit & 7);
        }
      } else next().copy(at);
    }
    return out;
  }
  const MIX = 'mix: 90 % uniform random, 10 % in clusters of 10 near-duplicates (1-30 bits from the cluster\'s first), 1,000 copies of one hash';
  const hashAt = (all: Buffer, i: number) => all.subarray(i * 32, i * 32 + 32);
  const flip = (h: Buffer, bits: number) => {
    const b = Buffer.from(h);
    // Distinct positions (25 is odd, so k·25 mod 256 never repeats for k < 256): exactly `bits` apart.
    for (let k = 0; k < bits; k++) {
      const bit = (h[0]! + k * 25) & 255;
      b[bit >> 3]! ^= 0x80 >> (bit & 7);
    }
    return b;
  };
  let stored = syntheticPdq(PDQ, 'contents');
  let listed = syntheticPdq(PDQ_LIST, 'list');

  /**
   * --pdq-reuse: the hashes a killed run of the same size left in --pdq-db (its seed is gone), read back by
   * the index their names carry (DCIM/<i>.jpg, listed-<i>.jpg), so queries are made as in that run.
   */
  async function reuseLoaded(sql: SqlClient): Promise<number> {
    const { rows: sets } = await sql.query<{ set_id: number }>(`SELECT set_id FROM hash_sets WHERE name = 'bench-pdq'`);
    const setId = Number(sets[0]!.set_id);
    stored = Buffer.alloc(PDQ * 32);
    listed = Buffer.alloc(PDQ_LIST * 32);
    const { rows: c } = await sql.query<{ i: number; h: string }>(
      `SELECT substring(f.path from '([0-9]+)\\.jpg$')::int AS i, p.pdq::text AS h
         FROM files f JOIN content_pdq p ON p.sha256 = f.sha256 WHERE f.case_id = 'PDQBENCH'`,
    );
    for (const r of c) Buffer.from(hexOfBits(r.h), 'hex').copy(stored, Number(r.i) * 32);
    const { rows: l } = await sql.query<{ i: number; h: string }>(
      `SELECT substring(extra ->> 'label' from '([0-9]+)\\.jpg$')::int AS i, pdq::text AS h FROM hash_set_hashes WHERE set_id = $1`, [setId],
    );
    for (const r of l) Buffer.from(hexOfBits(r.h), 'hex').copy(listed, Number(r.i) * 32);
    console.log(`  reusing ${fmt(c.length)} content hashes and ${fmt(l.length)} listed hashes left in the database`);
    return setId;
  }

  /** The PDQ list as a file (`<hash>,<quality>,<label>`), imported through the HashSetStore the CLI uses, before any content: the re-match has nothing to do. */
  async function importList(sql: SqlClient): Promise<{ ms: number; phases: string; setId: number }> {
    const file = path.join(dir, 'list.pdq');
    await writeText(file, PDQ_LIST, (i) => `${hashAt(listed, i).toString('hex')},100,listed-${i}.jpg\n`);
    const phases = new Map<string, number>();
    let phase: string | null = null;
    let at = performance.now();
    const t = performance.now();
    const r = await new HashSetStore(sql, { custody: { record: async () => {} }, toolVersion: 'bench' }).import(file, {
      name: 'bench-pdq', kind: 'notable', importedBy: 'bench', format: 'pdq-list',
      onProgress: (p) => {
        if (p.phase === phase) return;
        const now = performance.now();
        if (phase) phases.set(phase, now - at);
        phase = p.phase;
        at = now;
      },
    });
    if (phase) phases.set(phase, performance.now() - at);
    return { ms: performance.now() - t, phases: [...phases].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', '), setId: r.set.setId };
  }

  /** Contents, files and content_pdq of one case, bulk-loaded; the GIN index is built once after the load (as after a restore). */
  async function loadPdq(sql: SqlClient): Promise<{ loadMs: number; indexMs: number }> {
    const t = performance.now();
    const index = new PostgresIndex(sql);
    const { rows: mih } = await sql.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'content_pdq_mih_idx'`);
    await sql.exec('DROP INDEX content_pdq_mih_idx');
    const up = newUpload('PDQBENCH', 'EV1', 'pictures.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    await index.insertFiles([root]);
    const BATCH = 5000;
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
        [shas, Array.from({ length: n }, (_, k) => hashAt(stored, i + k).toString('hex'))],
      );
    }
    const loadMs = performance.now() - t;
    const i0 = performance.now();
    await sql.transaction(async (tx) => {
      await tx.exec(`SET LOCAL maintenance_work_mem = '256MB'; ${mih[0]!.indexdef}`);
    });
    const indexMs = performance.now() - i0;
    await sql.exec('ANALYZE content_pdq; ANALYZE files;');
    return { loadMs, indexMs };
  }

  const sameItems = (a: SimilarResult, b: SimilarResult) => JSON.stringify(a.items) === JSON.stringify(b.items);
  const line = (name: string, xs: number[]) => `${name} p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms`;
  const loadNow = async () => (await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ');

  async function queryPdq(label: string, sql: SqlClient, reuse = false): Promise<void> {
    const load0 = await loadNow();
    let list = { setId: 0 };
    if (reuse) list.setId = await reuseLoaded(sql);
    else {
      const imported = await importList(sql);
      list = imported;
      console.log(`  ${label}: PDQ list of ${fmt(PDQ_LIST)} hashes imported in ${(imported.ms / 1000).toFixed(1)} s (${fmt(PDQ_LIST / (imported.ms / 1000))} rows/s; ${imported.phases})`);
      const load = await loadPdq(sql);
      console.log(`  ${label}: ${fmt(PDQ)} content hashes loaded in ${(load.loadMs / 1000).toFixed(1)} s, GIN index built in ${(load.indexMs / 1000).toFixed(1)} s`);
    }
    const { rows: size } = await sql.query<{ t: string; i: string }>(
      `SELECT pg_size_pretty(pg_relation_size('content_pdq')) AS t, pg_size_pretty(pg_relation_size('content_pdq_mih_idx')) AS i`,
    );
    console.log(`  ${label}: content_pdq ${size[0]!.t}, its GIN index ${size[0]!.i}`);
    const times = { scan: [] as number[], mih: [] as number[] };
    const kinds = { near: { scan: [] as number[], mih: [] as number[] }, cluster: { scan: [] as number[], mih: [] as number[] }, far: { scan: [] as number[], mih: [] as number[] } };
    let found = 0;
    let differ = 0;
    let nearCount = 0;
    for (let q = 0; q < QUERIES; q++) {
      // A third a stored picture with 10 bits changed (a resized copy), a third a cluster's member (about 10 results), a third unrelated.
      const kind = (['near', 'cluster', 'far'] as const)[q % 3]!;
      const hash = kind === 'near' ? flip(hashAt(stored, 1000 + Math.floor(PDQ / 10) + ((q * 7919) % (PDQ - 1000 - Math.floor(PDQ / 10)))), 10)
        : kind === 'cluster' ? hashAt(stored, 1000 + ((q * 104729) % Math.floor(PDQ / 10)))
        : createHash('sha256').update(`${seed}/query/${q}`).digest();
      const query = { hash: hash.toString('hex'), caseIds: ['PDQBENCH'], maxDistance: 31, limit: 100 };
      const results: Partial<Record<'scan' | 'mih', SimilarResult>> = {};
      // Alternating which runs first, so the shared machine's drift hits both alike.
      for (const method of q % 2 === 0 ? (['scan', 'mih'] as const) : (['mih', 'scan'] as const)) {
        const t = performance.now();
        results[method] = await similarByPdq(sql, query, { method });
        const ms = performance.now() - t;
        times[method].push(ms);
        kinds[kind][method].push(ms);
      }
      if (!sameItems(results.scan!, results.mih!)) differ += 1;
      if (kind === 'near') {
        nearCount += 1;
        if (results.mih!.items.some((it) => it.distance === 10)) found += 1;
      }
    }
    console.log(`  ${label}: similar search, ${QUERIES} queries (maxDistance 31, limit 100), load ${load0} → ${await loadNow()}:`);
    for (const method of ['scan', 'mih'] as const) {
      console.log(`    ${method === 'scan' ? 'old, exact scan (bit_count)' : 'new, multi-index hashing   '} ${line('all', times[method])}; ` +
        `${line('near copies', kinds.near[method])}; ${line('cluster', kinds.cluster[method])}; ${line('unrelated', kinds.far[method])}`);
    }
    console.log(`    p50 ratio scan / mih ${(pct(times.scan, 50) / pct(times.mih, 50)).toFixed(1)}x; results differing between the two: ${differ}; near copies found ${found}/${nearCount}`);
    if (values.explain) {
      // Where a query's time goes: the plans of one near copy's search, by the index.
      const h = flip(hashAt(stored, PDQ - 1), 10).toString('hex');
      await sql.transaction(async (tx) => {
        await tx.exec('SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0');
        const { rows } = await tx.query<Record<string, string>>(
          `EXPLAIN (ANALYZE) SELECT p.sha256 FROM content_pdq p WHERE pdq_mih_chunks(p.pdq) && pdq_mih_probe($1::bit(256), '{0,1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192,16384,32768}') AND bit_count(p.pdq # $1::bit(256)) <= 31`, ['x' + h]);
        console.log(rows.map((r) => String(Object.values(r)[0])).filter((l) => !/Cond|Filter:/.test(l)).join('\n'));
      });
      const { rows } = await sql.query<Record<string, string>>(
        `EXPLAIN (ANALYZE) SELECT f.sha256, f.file_id, row_number() OVER (PARTITION BY f.sha256 ORDER BY f.case_id, f.path, f.file_id) AS n
           FROM files f WHERE f.sha256 = ANY($1::text[]) AND f.case_id = ANY($2::text[])`, [[hex('sha256', `${seed}/pic/${PDQ - 1}`)], ['PDQBENCH']]);
      console.log(rows.map((r) => Object.values(r)[0]).join('\n'));
    }

    // List matching per content: the statement the index stage runs per PDQ list, for one content, by each method.
    const [set] = await pdqSets(sql, 's.set_id = $1', [list.setId]);
    const matchTimes = { scan: [] as number[], mih: [] as number[] };
    let matchDiffer = 0;
    let matched = 0;
    const MATCHES = Math.max(10, Math.floor(QUERIES / 2));
    const { rows: sample } = await sql.query<{ sha256: string }>(
      `SELECT sha256 FROM content_pdq ORDER BY sha256 LIMIT $1`, [MATCHES],
    );
    // Half the sampled contents get a hash 8 bits from a listed one (a match), half keep their own (mostly none).
    for (const [k, s] of sample.entries()) {
      if (k % 2 === 0) await new PostgresIndex(sql).setPdq(s.sha256, [{ frame: 0, hash: flip(hashAt(listed, 1000 + ((k * 7919) % (PDQ_LIST - 1000))), 8).toString('hex'), quality: 90 }]);
    }
    for (const [k, s] of sample.entries()) {
      const out: Partial<Record<'scan' | 'mih', string>> = {};
      for (const method of k % 2 === 0 ? (['scan', 'mih'] as const) : (['mih', 'scan'] as const)) {
        const t = performance.now();
        const { rows } = await sql.query(`SELECT sha256, pdq_distance, pdq_frame, pdq_label FROM (${pdqMatchSelect({ ...set!, method }, 'p.sha256 = $1')}) m`, [s.sha256]);
        matchTimes[method].push(performance.now() - t);
        out[method] = JSON.stringify(rows);
        if (method === 'mih' && rows.length > 0) matched += 1;
      }
      if (out.scan !== out.mih) matchDiffer += 1;
    }
    console.log(`  ${label}: PDQ list matching per content (${fmt(PDQ_LIST)} listed hashes, max distance 31, ${sample.length} contents, ${matched} matched), load ${await loadNow()}:`);
    console.log(`    old, exact scan ${line('', matchTimes.scan)}; new, multi-index hashing ${line('', matchTimes.mih)}; ratio p50 ${(pct(matchTimes.scan, 50) / pct(matchTimes.mih, 50)).toFixed(1)}x; differing ${matchDiffer}`);
  }

  console.log(`PDQ similar-image search and list matching, one case of ${fmt(PDQ)} pictures and a list of ${fmt(PDQ_LIST)} hashes (${MIX}):`);
  if (!skip.has('pdq-server')) {
    const name = values['pdq-db'] ?? `exhibit_bench_pdq_${randomBytes(4).toString('hex')}`;
    if (!values['pdq-reuse']) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
    }
    created.push(name);
    const url = new URL(values.db!);
    url.pathname = `/${name}`;
    const pgSql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
    try {
      await new PostgresIndex(pgSql).migrate();
      await queryPdq('PostgreSQL server', pgSql, values['pdq-reuse']);
    } finally {
      await pgSql.close();
    }
  }
  if (!skip.has('pdq-pglite')) {
    const lite = await openSqlClient({ kind: 'pglite', dataDir: path.join(dir, 'pglite') });
    try {
      await new PostgresIndex(lite).migrate();
      await queryPdq('PGlite', lite);
    } finally {
      await lite.close();
    }
  }
}

for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin.end();
await rm(dir, { recursive: true, force: true });
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
