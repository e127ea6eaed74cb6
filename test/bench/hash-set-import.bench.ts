/**
 * Hash-set import rate (issue 14): a synthetic one-hash-per-line list of N
 * distinct SHA-256 digests imported into a PostgreSQL server through the
 * same HashSetStore the CLI uses, with the server's own COPY as the
 * reference measured in the same run. Prints rows/s per phase and the peak
 * RSS of this process. Not a test: run by hand.
 *
 *   npx tsx test/bench/hash-set-import.bench.ts postgres://postgres@127.0.0.1:5432/test [rows=20000000]
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { createPostgresIndex, HashSetStore, openSqlClient, type ImportProgress } from '@exhibit/index';

const [baseUrl = 'postgres://postgres@127.0.0.1:5432/test', rowsArg = '20000000'] = process.argv.slice(2);
const rows = Number(rowsArg);

async function writeList(file: string): Promise<void> {
  const out = createWriteStream(file);
  const seed = randomBytes(16);
  const batch = 10_000;
  for (let i = 0; i < rows; i += batch) {
    let text = '';
    for (let j = i; j < Math.min(rows, i + batch); j++) text += createHash('sha256').update(seed).update(String(j)).digest('hex') + '\n';
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-hashset-bench-'));
const db = `exhibit_hashset_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${db}`);
const url = new URL(baseUrl);
url.pathname = `/${db}`;
try {
  const file = path.join(dir, 'list.txt');
  let t = performance.now();
  await writeList(file);
  console.log(`wrote ${rows.toLocaleString('en-GB')} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const sql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
  await createPostgresIndex(sql).migrate();
  const phases = new Map<string, number>();
  let phase: string | null = null;
  let phaseStart = performance.now();
  const onProgress = (p: ImportProgress) => {
    if (p.phase === phase) return;
    const now = performance.now();
    if (phase) phases.set(phase, now - phaseStart);
    phase = p.phase;
    phaseStart = now;
  };
  t = performance.now();
  const result = await new HashSetStore(sql).import(file, { name: 'bench', kind: 'known-good', importedBy: 'bench', onProgress });
  const total = performance.now() - t;
  if (phase) phases.set(phase, performance.now() - phaseStart);
  const load = phases.get('loading') ?? NaN;
  console.log(`imported ${result.set.rowCount.toLocaleString('en-GB')} rows in ${(total / 1000).toFixed(1)} s: ${Math.round(rows / (total / 1000)).toLocaleString('en-GB')} rows/s overall`);
  for (const [name, ms] of phases) console.log(`  ${name.padEnd(10)} ${(ms / 1000).toFixed(1)} s`);
  console.log(`  load (parse + COPY) ${Math.round(rows / (load / 1000)).toLocaleString('en-GB')} rows/s`);

  // Reference, same run: psql's \copy of the same file into a bare text table (no parsing, no checks, no indexes).
  const ref = new pg.Client({ connectionString: url.toString() });
  await ref.connect();
  await ref.query('CREATE UNLOGGED TABLE ref_copy (sha256 text)');
  t = performance.now();
  execFileSync('psql', [url.toString(), '-qc', `\\copy ref_copy FROM '${file}'`]);
  const refMs = performance.now() - t;
  console.log(`  reference: psql \\copy of the same file ${Math.round(rows / (refMs / 1000)).toLocaleString('en-GB')} rows/s; our load is ${(refMs / load).toFixed(2)}x its rate`);
  await ref.end();
  await sql.close();
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}
