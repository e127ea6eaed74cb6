/**
 * `npm run bench:disk [-- --size-gib 4 --files 20000 --pairs 3 --e01 --no-same-work --database-url URL --concurrency C --poll-ms P --timeout-min M --cpu-prof --memory-breakdown MS --io-stats --keep --prepare]`
 *
 * Issue 15's disk-image benchmark: a raw ext4 image of `--size-gib` GiB with
 * `--files` files, mostly photos (disk-corpus.builder.ts; cached under
 * bench-out/disk), processed end to end by the local host, against a shell
 * baseline on the same image in the same run (disk-baseline.sh:
 * `tsk_recover -a`, then `hashdeep -c md5,sha1,sha256 -j 2 -r`), the two run
 * alternately in `--pairs` pairs. Prints per pair both wall times, the host's
 * peak RSS and bytes read from storage per image byte, then the median pair's
 * stage table, and last the line `Exhibit wall time ÷ shell baseline wall
 * time (median of N pairs): R`. Before it, three lines say how much of the gap
 * is the work itself: Exhibit ÷ the issue baseline, Exhibit ÷ the same-work
 * reference (disk-same-work.sh, run in each pair after the baseline unless
 * `--no-same-work`: the baseline plus hashing the image, exiftool on every
 * file and a vipsthumbnail of every photo), and the work floor ÷ the issue
 * baseline (work-floor.reference.ts on photos read out of the image: the
 * least wall time any implementation could take here), each with both sides'
 * wall time and CPU. With `--e01` the image is acquired with
 * `ewfacquire -c fast` and the E01 is what is uploaded and what the baseline
 * reads (libewf in TSK); read ÷ image is then over the E01's bytes. The host is measured as `npm run bench`
 * measures it (bench-host.support.ts). `--database-url` puts the index on
 * that PostgreSQL server, as in production, instead of the host's PGlite: the
 * URL names a database the bench creates for each run and drops after it
 * (bench-database.support.ts; `--keep` keeps the last one); the server
 * backends' CPU is then reported beside the host's. A benchmark, not a test: it exits
 * non-zero only when the pipeline did not list every file with its SHA-256.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { uploadFileWithPlainClient } from '../support/e2e-client.js';
import { renderStageTable } from './bench-results.js';
import { createRunDatabase } from './bench-database.support.js';
import { BENCH_OUT_DIR, BENCH_ROOT, runMeasuredHost, startBenchRun } from './bench-host.support.js';
import { buildDiskCorpus, diskCorpusAsEwf, type DiskCorpus } from './disk-corpus.builder.js';
import {
  checkImageFiles,
  diskFloorWork,
  floorRatioLine,
  HOST_PEAK_RSS_GOAL_BYTES,
  medianWallPairIndex,
  READ_PER_IMAGE_BYTE_GOAL,
  readPerImageByte,
  sidesRatioLine,
  wallRatioLine,
  type SideFigures,
} from './disk-figures.summary.js';
import { readImageFile } from './image-file.reader.js';
import { missingToolsMessage } from './shell-baseline.parser.js';
import { runShellBaseline, type BaselineRun } from './shell-baseline.reference.js';
import { measureWorkCosts } from './work-floor.reference.js';
import { workFloorCpuMs } from './work-floor.summary.js';

const SCRIPT = fileURLToPath(new URL('./disk-baseline.sh', import.meta.url));
const SAME_WORK_SCRIPT = fileURLToPath(new URL('./disk-same-work.sh', import.meta.url));
/** Photos the work floor times (hashing and thumbnailing each), read out of the image. */
const FLOOR_PHOTO_SAMPLE = 20;
const CASE = 'BENCH-DISK';
const EVIDENCE = 'DISK01';
/** The evidence as uploaded: the raw image, or (--e01) its E01. */
interface Evidence {
  name: 'disk.img' | 'disk.E01';
  file: string;
  bytes: number;
  sha256: string;
}
const GiB = 1024 ** 3;
const MiB = 1024 * 1024;

const say = (line = '') => process.stdout.write(`${line}\n`);

function parseOptions() {
  const { values } = parseArgs({
    options: {
      'size-gib': { type: 'string' },
      files: { type: 'string' },
      pairs: { type: 'string' },
      concurrency: { type: 'string' },
      'poll-ms': { type: 'string' },
      'timeout-min': { type: 'string' },
      e01: { type: 'boolean', default: false },
      // On by default: at the issue's 4 GiB it adds minutes to a pair whose Exhibit run takes tens of minutes (docs/benchmarks.md).
      'same-work': { type: 'boolean', default: true },
      'no-same-work': { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'memory-breakdown': { type: 'string' },
      'io-stats': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      prepare: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, value: string | undefined, fallback: number, whole = true) => {
    const n = value === undefined ? fallback : Number(value);
    if (!(n > 0) || (whole && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${whole ? 'whole ' : ''}number, got ${value}`);
    return n;
  };
  return {
    sizeGiB: num('size-gib', values['size-gib'], 4, false),
    files: num('files', values.files, 20_000),
    pairs: num('pairs', values.pairs, 3),
    concurrency: values.concurrency === undefined ? null : num('concurrency', values.concurrency, 4),
    pollMs: values['poll-ms'] === undefined ? null : num('poll-ms', values['poll-ms'], 1000),
    timeoutMs: num('timeout-min', values['timeout-min'], 120) * 60_000,
    e01: values.e01,
    sameWork: values['same-work'] && !values['no-same-work'],
    cpuProfile: values['cpu-prof'],
    ioStats: values['io-stats'],
    keep: values.keep,
    prepare: values.prepare,
    /** Index on a real PostgreSQL server instead of the embedded PGlite: a database the bench creates and drops per run. */
    databaseUrl: values['database-url'] ?? null,
    /** Milliseconds between the diagnostic memory-breakdown samples (memory-breakdown.preload.mjs); null: off. */
    memoryBreakdownMs: values['memory-breakdown'] === undefined ? null : num('memory-breakdown', values['memory-breakdown'], 1000),
  };
}

type Options = ReturnType<typeof parseOptions>;

async function runHost(options: Options, corpus: DiskCorpus, evidence: Evidence, stamp: string, keepDatabase: boolean) {
  const database = options.databaseUrl === null ? null : await createRunDatabase(options.databaseUrl, say);
  try {
    return await runMeasuredHost({
      ...options,
      ...(database ? { databaseUrl: database.databaseUrl, externalCpuSec: () => database.indexServerCpuSec() } : {}),
      stamp,
      caseId: CASE,
      evidenceId: EVIDENCE,
      upload: async (h) => {
        say(`uploading ${evidence.name} (${(evidence.bytes / GiB).toFixed(2)} GiB) and waiting for the pipeline…`);
        await uploadFileWithPlainClient(h.storageConnectionString, `${CASE}/${EVIDENCE}/${evidence.name}`, evidence.file, {
          examiner: 'bench',
          acquisition_sha256: evidence.sha256,
        });
      },
      check: (status, items) => checkImageFiles(evidence.name, corpus.files, status, items),
    });
  } finally {
    await database?.finish({ keep: keepDatabase });
  }
}

const referenceCpuSec = (r: BaselineRun) => (r.report.childrenCpuSec === null ? null : r.report.childrenCpuSec + (r.report.shellCpuSec ?? 0));

/** Runs one shell reference on the evidence (in a fresh work folder) and prints its wall time, steps, CPU and failures. */
async function runReference(label: string, script: string, evidenceFile: string, members: number) {
  say(label);
  const outcome = await runShellBaseline(evidenceFile, { workDir: path.join(BENCH_OUT_DIR, 'disk-baseline-work'), members, script });
  if (outcome.kind === 'missing-tools') {
    say(missingToolsMessage(outcome.missingTools));
    return outcome;
  }
  const { run } = outcome;
  const cpu = referenceCpuSec(run);
  const failures = Object.entries(run.report.failures).map(([step, n]) => `${step} ${n}`);
  say(
    `  ${s(run.wallMs)} (${run.report.steps.map((st) => `${st.name} ${s(st.wallMs)}`).join(', ')}), CPU ${cpu === null ? 'n/a' : `${cpu.toFixed(1)} s`}` +
      (failures.length ? `; failed: ${failures.join(', ')}` : ''),
  );
  return outcome;
}

/**
 * The work floor of the image (work-floor.reference.ts): hash and thumbnail
 * CPU timed on photos read out of the image, times the image's bytes and
 * photos. Printed with its parts so the line it feeds can be checked.
 */
async function measureDiskWorkFloor(corpus: DiskCorpus, evidence: Evidence) {
  const photos = corpus.files.filter((f) => f.kind === 'photo').slice(0, FLOOR_PHOTO_SAMPLE);
  const sample = photos.map((f) => ({ name: path.basename(f.path), read: () => readImageFile(evidence.file, f) }));
  const costs = await measureWorkCosts({ hash: sample, photos: sample });
  const work = diskFloorWork(evidence.bytes, corpus.files);
  const cores = os.availableParallelism();
  const cpuMs = workFloorCpuMs(costs, work);
  say(
    `work floor: hash ${costs.hashCpuMsPerMB.toFixed(2)} CPU ms/MB × ${(work.hashedBytes / 1e6).toFixed(0)} MB (image + its files), ` +
      `thumbnail ${costs.thumbnailCpuMsPerPhoto.toFixed(1)} CPU ms/photo (${costs.photosSampled} sampled) × ${work.photos} photos = ${(cpuMs / 1000).toFixed(1)} s CPU on ${cores} cores`,
  );
  return { ...costs, ...work, cores, cpuMs };
}

type PairRow = { baselineMs: number | null; baselineCpuSec: number | null; sameWorkMs: number | null; sameWorkCpuSec: number | null; exhibitMs: number; exhibitCpuSec: number };

/** The three lines that say how much of Exhibit's ratio to the issue baseline is the work itself (disk-figures.summary.ts). */
function workLines(rows: readonly PairRow[], floor: { cpuMs: number; cores: number } | null): string[] {
  const exhibit = { name: 'Exhibit', sides: rows.map((r): SideFigures => ({ wallMs: r.exhibitMs, cpuSec: r.exhibitCpuSec })) };
  // Without the baseline (its tools missing) there is nothing to divide by; the last line says why.
  if (rows.some((r) => r.baselineMs === null)) return [];
  const baseline = { name: 'issue baseline', sides: rows.map((r): SideFigures => ({ wallMs: r.baselineMs!, cpuSec: r.baselineCpuSec })) };
  const lines = [sidesRatioLine('Exhibit ÷ issue baseline', exhibit, baseline)];
  if (rows.every((r) => r.sameWorkMs !== null)) {
    lines.push(sidesRatioLine('Exhibit ÷ same-work reference', exhibit, { name: 'same-work reference', sides: rows.map((r) => ({ wallMs: r.sameWorkMs!, cpuSec: r.sameWorkCpuSec })) }));
  } else lines.push('Exhibit ÷ same-work reference: not run (--no-same-work, or its tools are missing)');
  if (floor) lines.push(floorRatioLine(floor, baseline.sides));
  return lines;
}

const mib = (b: number | null) => (b === null ? 'n/a' : `${(b / MiB).toFixed(0)} MiB`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const options = parseOptions();
  const { startedAt, stamp, loadAvgAtStart } = await startBenchRun();

  const corpus = await buildDiskCorpus({ imageBytes: Math.round(options.sizeGiB * GiB), files: options.files, cacheDir: path.join(BENCH_OUT_DIR, 'disk'), log: say });
  say(
    `image: ${corpus.imageFile}, ${(corpus.imageBytes / GiB).toFixed(2)} GiB, ${corpus.files.length} files ` +
      `(${corpus.plan.photos} photos, ${((100 * corpus.photoBytes) / corpus.imageBytes).toFixed(0)}% of the image; ${corpus.plan.documents} documents; ${corpus.plan.paddingFiles} padding files) ` +
      `${corpus.fromCache ? '(cached)' : `(built in ${(corpus.buildMs / 1000).toFixed(0)} s)`}`,
  );
  const ewf = options.e01 ? await diskCorpusAsEwf(corpus, say) : null;
  if (ewf) say(`E01: ${ewf.e01File}, ${(ewf.e01Bytes / GiB).toFixed(2)} GiB ${ewf.fromCache ? '(cached)' : ''}`);
  const evidence: Evidence = ewf
    ? { name: 'disk.E01', file: ewf.e01File, bytes: ewf.e01Bytes, sha256: ewf.e01Sha256 }
    : { name: 'disk.img', file: corpus.imageFile, bytes: corpus.imageBytes, sha256: corpus.imageSha256 };
  if (options.prepare) return;

  let missing: string[] | null = null;
  let sameWorkMissing: string[] | null = options.sameWork ? null : [];
  const runs: Array<{ baseline: BaselineRun | null; sameWork: BaselineRun | null; run: Awaited<ReturnType<typeof runHost>> }> = [];
  for (let i = 1; i <= options.pairs; i++) {
    let baseline: BaselineRun | null = null;
    if (missing === null) {
      const outcome = await runReference(`pair ${i}/${options.pairs}: shell baseline (tsk_recover -a, hashdeep)…`, SCRIPT, evidence.file, corpus.files.length);
      if (outcome.kind === 'missing-tools') missing = outcome.missingTools;
      else baseline = outcome.run;
    }
    let sameWork: BaselineRun | null = null;
    if (sameWorkMissing === null) {
      const outcome = await runReference(
        `pair ${i}/${options.pairs}: same-work reference (hashdeep on the image, tsk_recover -a, hashdeep, exiftool, vipsthumbnail)…`,
        SAME_WORK_SCRIPT,
        evidence.file,
        corpus.files.length,
      );
      if (outcome.kind === 'missing-tools') sameWorkMissing = outcome.missingTools;
      else sameWork = outcome.run;
    }
    say(`pair ${i}/${options.pairs}: Exhibit…`);
    const run = await runHost(options, corpus, evidence, `${stamp}-disk-pair${i}`, options.keep && i === options.pairs);
    say(
      `  ${s(run.endToEndMs)} (upload ${s(run.uploadMs)}), host peak RSS ${mib(run.memory.hostPeakRssBytes)}, index process ${mib(run.memory.indexPeakRssBytes)}, ` +
        `host + index ${mib(run.memory.hostAndIndexPeakRssBytes)}, correct: ${run.check.correct}`,
    );
    runs.push({ baseline, sameWork, run });
  }
  // Measured once, after the pairs, on photos read out of the image: the costs do not depend on which pair.
  const floor = missing === null ? await measureDiskWorkFloor(corpus, evidence) : null;

  const wallPairs = runs.filter((r) => r.baseline !== null).map((r) => ({ baselineMs: r.baseline!.wallMs, exhibitMs: r.run.endToEndMs }));
  const detailed = wallPairs.length === runs.length ? medianWallPairIndex(wallPairs) : 0;
  const pairRows = runs.map(({ baseline, sameWork, run }, i) => ({
    pair: i + 1,
    baselineMs: baseline?.wallMs ?? null,
    baselineSteps: baseline?.report.steps ?? null,
    baselineCpuSec: baseline ? referenceCpuSec(baseline) : null,
    sameWorkMs: sameWork?.wallMs ?? null,
    sameWorkSteps: sameWork?.report.steps ?? null,
    sameWorkCpuSec: sameWork ? referenceCpuSec(sameWork) : null,
    sameWorkFailures: sameWork?.report.failures ?? null,
    /** Host, index process, index server backends (--database-url) and Azurite. */
    exhibitCpuSec: run.cpu.hostSec + run.cpu.indexSec + (run.externalCpuSec ?? 0) + run.cpu.azuriteSec,
    exhibitMs: run.endToEndMs,
    uploadMs: run.uploadMs,
    hostPeakRssBytes: run.memory.hostPeakRssBytes,
    hostHwmBytes: run.memory.hostHwmBytes,
    azuritePeakRssBytes: run.memory.azuritePeakRssBytes,
    indexPeakRssBytes: run.memory.indexPeakRssBytes,
    indexHwmBytes: run.memory.indexHwmBytes,
    hostAndIndexPeakRssBytes: run.memory.hostAndIndexPeakRssBytes,
    treePeakRssBytes: run.memory.treePeakRssBytes,
    storageReadBytes: run.io.storage.bytes,
    readPerImageByte: readPerImageByte(run.io.storage.bytes, evidence.bytes),
    evidenceReadPerImageByte: readPerImageByte(run.io.storage.byContainer['evidence'] ?? 0, evidence.bytes),
    hostCpuSec: run.cpu.hostSec,
    /** The index process (PGlite); 0 with --database-url, whose server backends are indexServerCpuSec. */
    indexProcessCpuSec: run.cpu.indexSec,
    indexServerCpuSec: run.externalCpuSec,
    azuriteCpuSec: run.cpu.azuriteSec,
    correct: run.check.correct,
  }));
  const run = runs[detailed]!.run;
  const results = {
    command: `npm run bench:disk -- ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    machine: { nproc: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', totalRamBytes: os.totalmem(), node: process.version, loadAvgAtStart, loadAvgAtEnd: os.loadavg() },
    image: { file: corpus.imageFile, bytes: corpus.imageBytes, files: corpus.files.length, plan: corpus.plan, fileBytes: corpus.fileBytes, photoBytes: corpus.photoBytes },
    database: options.databaseUrl === null ? 'pglite' : 'postgres',
    uploaded: evidence,
    pairs: pairRows,
    workFloor: floor,
    detailedPair: detailed + 1,
    detailed: {
      check: run.check,
      memory: run.memory,
      cpu: { ...run.cpu, series: undefined },
      io: run.io,
      stages: run.log.stages.map((st) => ({ ...st, fromSec: (st.firstStartAt - run.uploadStartEpochMs) / 1000, toSec: (st.lastEndAt - run.uploadStartEpochMs) / 1000 })),
      logProblems: run.log.problems,
      memberCache: run.log.memberCache,
      sqlStats: run.sqlStats,
      azuriteRequests: run.azuriteRequests,
      artefacts: run.artefacts,
    },
  };
  const json = JSON.stringify(results, null, 2);
  await writeFile(path.join(BENCH_OUT_DIR, 'disk-results.json'), json);
  await writeFile(path.join(BENCH_OUT_DIR, 'runs', `${stamp}-disk-${options.sizeGiB}gib-f${options.files}${options.e01 ? '-e01' : ''}.json`), json);

  say('');
  say(`load average at start ${loadAvgAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${results.machine.loadAvgAtEnd.map((l) => l.toFixed(2)).join(' ')} (${results.machine.nproc} CPUs)`);
  say(`uploaded ${evidence.name}, ${evidence.bytes} bytes; read ÷ image is over those bytes (evidence: the evidence container only); index: ${results.database === 'pglite' ? 'PGlite in the index process' : 'PostgreSQL server'}`);
  say('| pair | baseline | same-work reference | Exhibit | of which upload | host peak RSS | index process peak RSS | host + index (one sample) | Azurite peak RSS | whole tree | host CPU | index process CPU | read ÷ image | evidence read ÷ image | correct |');
  say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of pairRows) {
    say(
      `| ${p.pair} | ${p.baselineMs === null ? 'n/a' : s(p.baselineMs)} | ${p.sameWorkMs === null ? 'n/a' : s(p.sameWorkMs)} | ${s(p.exhibitMs)} | ${s(p.uploadMs)} | ${mib(p.hostPeakRssBytes)} | ${mib(p.indexPeakRssBytes)} | ${mib(p.hostAndIndexPeakRssBytes)} | ` +
        `${mib(p.azuritePeakRssBytes)} | ${mib(p.treePeakRssBytes)} | ${p.hostCpuSec.toFixed(0)} s | ${p.indexProcessCpuSec.toFixed(0)} s | ${p.readPerImageByte.toFixed(2)} | ${p.evidenceReadPerImageByte.toFixed(2)} | ${p.correct} |`,
    );
  }
  say('');
  say(
    `pair ${detailed + 1} in detail: host CPU ${run.cpu.hostSec.toFixed(0)} s (main thread ${run.cpu.hostMainThreadSec.toFixed(0)} s, libvips ${run.cpu.hostLibvipsSec.toFixed(0)} s), Azurite CPU ${run.cpu.azuriteSec.toFixed(0)} s, index process CPU ${run.cpu.indexSec.toFixed(0)} s` +
      `${run.externalCpuSec === null ? '' : `, index server backends ${run.externalCpuSec.toFixed(0)} s`}`,
  );
  say(`storage reads ${(run.io.storage.bytes / GiB).toFixed(2)} GiB in ${run.io.storage.requests} GETs (${Object.entries(run.io.storage.byContainer).map(([c, b]) => `${c} ${(b / GiB).toFixed(2)} GiB`).join(', ')}); queue ops ${run.io.queue.total}; index statements ${run.io.index.statements}`);
  say(`files in the index under the image: ${run.check.filesInIndex}; missing ${run.check.missing.length}; SHA-256 mismatches ${run.check.sha256Mismatches.length}; failed ${run.check.failed}`);
  // The reasons, printed and in the results file: the host's data folder (and its log) is removed after the run.
  for (const f of run.check.failures.slice(0, 20)) say(`  failed: ${f.path}: ${f.stage} ${f.code}: ${f.detail}`);
  if (run.check.failures.length > 20) say(`  … and ${run.check.failures.length - 20} more failures in disk-results.json`);
  say(renderStageTable(results.detailed.stages));
  if (options.ioStats) {
    // Counts per file of the image: deterministic for the same image and code, so before/after comparisons need no quiet machine.
    const perFile = (n: number) => (n / corpus.files.length).toFixed(3);
    say('');
    say(`Azurite requests, upload start → complete (--io-stats; per file of ${corpus.files.length})`);
    say('| requests | per file | total time | kind |');
    say('|---|---|---|---|');
    for (const q of run.azuriteRequests ?? []) say(`| ${q.count} | ${perFile(q.count)} | ${s(q.totalMs)} | ${q.kind} |`);
    say('');
    say(`Index statements, upload start → complete (--io-stats; per file; the bench's own status polls included: ${run.statusPolls.polls} polls)`);
    say('| statements | per file | total time | statement |');
    say('|---|---|---|---|');
    for (const q of (run.sqlStats ?? []).slice(0, 25)) say(`| ${q.count} | ${perFile(q.count)} | ${s(q.totalMs)} | ${q.sql.slice(0, 110).replace(/\s+/g, ' ').replace(/\|/g, '\\|')} |`);
  }
  const mc = run.log.memberCache;
  if (mc) {
    // Analyse's second read of a member is what the member-bytes cache saves; its misses are most of what read ÷ image has over 1.
    say(
      `member-bytes cache: ${mc.hits} hits, ${mc.misses} misses (${(mc.missBytes / 1e6).toFixed(1)} MB read from storage by analyse)` +
        (mc.atLastUnpack ? `; at the last unpack: ${Object.entries(mc.atLastUnpack).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''),
    );
  }
  say('');
  say(`host peak RSS (largest of the pairs): ${mib(Math.max(...pairRows.map((p) => p.hostPeakRssBytes)))} (goal < ${mib(HOST_PEAK_RSS_GOAL_BYTES)})`);
  say(
    `index process peak RSS (largest of the pairs): ${mib(Math.max(...pairRows.map((p) => p.indexPeakRssBytes)))}; ` +
      `host + index at one sample: ${mib(Math.max(...pairRows.map((p) => p.hostAndIndexPeakRssBytes)))}`,
  );
  say(`storage bytes read ÷ image bytes (median pair): ${pairRows[detailed]!.readPerImageByte.toFixed(2)} (goal ≤ ${READ_PER_IMAGE_BYTE_GOAL})`);
  say(`written: ${path.relative(BENCH_ROOT, path.join(BENCH_OUT_DIR, 'disk-results.json'))}`);
  for (const line of workLines(pairRows, floor)) say(line);
  say(missing === null ? wallRatioLine(wallPairs) : missingToolsMessage(missing));
  if (pairRows.some((p) => !p.correct)) {
    say('\nThe pipeline did not list every file of the image with its SHA-256 in every run; the figures above are not a valid benchmark.');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:disk: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
