/**
 * `npm run bench [-- --pairs 3 --photos N --videos M --megapixels 12 --deflate --database-url URL --known-hashes N --member-cache-mib M --concurrency C --poll-ms P --cpu-prof --memory-breakdown MS --io-stats --keep --prepare]`
 *
 * Throughput and memory of the local stack on a phone-extraction-like ZIP of
 * camera-size JPEGs, against a shell baseline doing the same work with
 * standard tools (shell-baseline.sh: hashdeep, unzip, exiftool,
 * vipsthumbnail, ffmpeg), run alternately with Exhibit in `--pairs` pairs on
 * the same corpus; the median of the pairs' ratios is printed last, on a line
 * of its own. `sha256sum` on the same bytes and the work floor
 * (work-floor.reference.ts) are the other yardsticks. Per file it also prints
 * CPU against the work floor, bytes read from storage against the evidence
 * bytes, queue operations and index statements (counted by the preloads
 * between upload start and completion), and peak memory. docs/benchmarks.md
 * explains every figure. A benchmark, not a test: nothing here asserts a
 * time. It exits non-zero only when the pipeline did not process every file
 * correctly, because then the figures would mean nothing.
 *
 * Members are stored, not deflated, by default: phone extractions carry
 * already-compressed media (JPEG, H.264) that deflate cannot shrink, and
 * extraction tools commonly store them; `--deflate` measures the other case.
 *
 * `--database-url` runs the index on that PostgreSQL server instead of the
 * embedded PGlite: the URL names a database the bench creates for each run
 * and drops after it (bench-database.support.ts; `--keep` keeps the last). `--known-hashes N` measures issue 14's "throughput with N
 * known hashes loaded against none" instead of the shell baseline: a
 * synthetic N-row list (plus rows that match some members) is imported once,
 * then Exhibit runs with the set enabled and disabled alternately in
 * `--pairs` pairs (runKnownHashes); with `--database-url` the URL names a
 * database the bench creates and drops (`--keep` keeps it, and `--prepare`
 * only imports and keeps it for later runs). `--concurrency` and `--poll-ms` set EXHIBIT_CONCURRENCY and
 * EXHIBIT_POLL_INTERVAL_MS (default: the product's defaults). `--prepare`
 * only builds (and caches) the corpus; `--keep` keeps the host's data folder.
 * `--cpu-prof` writes V8 CPU profiles of the host and Azurite (read them with
 * cpu-profile.summary.ts): it perturbs the timings, so use it to find causes,
 * not for the figures. The statement and request counters always run (they
 * cost a map update per call); `--io-stats` prints their full tables.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { locate } from '../../samples/lib/tools.js';
import { uploadFileWithPlainClient, uploadWithPlainClient } from '../support/e2e-client.js';
import { renderComparison, renderResults, type BenchResults, type PairResult } from './bench-results.js';
import { createRunDatabase } from './bench-database.support.js';
import { BENCH_OUT_DIR, BENCH_ROOT, runMeasuredHost, startBenchRun, type MeasuredHostOptions } from './bench-host.support.js';
import { buildCorpus, type Corpus } from './corpus.builder.js';
import { prepareKnownHashes } from './known-hashes.support.js';
import { knownHashesLine, medianPairIndex } from './pair-ratios.summary.js';
import { missingToolsMessage } from './shell-baseline.parser.js';
import { runShellBaseline, type BaselineRun } from './shell-baseline.reference.js';
import { timeSha256sum } from './sha256sum.reference.js';
import { measureWorkFloor } from './work-floor.reference.js';

const ROOT = BENCH_ROOT;
const OUT_DIR = BENCH_OUT_DIR;
const CASE = 'BENCH-001';
const EVIDENCE = 'PHONE01';
const ARCHIVE_NAME = 'phone-extraction.zip';
/** Node's readFile refuses files of 2 GiB and more. */
const MAX_READ_WHOLE_BYTES = 2 ** 31;

const say = (line = '') => process.stdout.write(`${line}\n`);

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${value}`);
  return n;
}

const USAGE = `npm run bench -- [options]   (docs/benchmarks.md explains every figure)
  --pairs N            pairs of runs, alternately (default 3)
  --photos N           12-MP camera photos in the corpus ZIP (default 150)
  --videos N           videos in the corpus (default 3)
  --megapixels M       photo size (default 12)
  --deflate            deflate the members (default: stored, as extraction tools store media)
  --database-url URL   the index on this PostgreSQL server instead of PGlite: URL names a database the bench
                       creates for each run and drops after it (--keep keeps the last)
  --known-hashes N     instead of the shell baseline: import a synthetic N-row known-hash list once (plus rows that
                       match 12 members) and run Exhibit with it enabled and disabled alternately; prints the median
                       ratios of files/s and CPU per file. With --database-url, URL names a database the bench
                       creates and drops (keeps it with --keep; --prepare only imports it)
  --member-cache-mib M the member-bytes cache's budget (EXHIBIT_MEMBER_CACHE_MIB; default 32, 0 turns it off)
  --concurrency C      EXHIBIT_CONCURRENCY of the host
  --poll-ms P          EXHIBIT_POLL_INTERVAL_MS of the host
  --cpu-prof           V8 CPU profiles of the host and Azurite (perturbs the timings)
  --memory-breakdown MS  every MS ms, the host's memory by mapping and by V8 isolate, to
                       bench-out/profiles/<run>/memory-<pid>.jsonl (memory-breakdown.summary.ts; perturbs the run)
  --io-stats           full tables of index statements and storage/queue requests
  --keep               keep the host's data folder (and a --known-hashes template)
  --prepare            only build the corpus (and a --known-hashes template)
  --timeout-min M      give up on a run after M minutes (default 60)
  --no-baseline        skip the shell baseline (for memory runs: the ratio line then says skipped)
  --help               this text`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', default: false },
      pairs: { type: 'string' },
      photos: { type: 'string' },
      videos: { type: 'string' },
      megapixels: { type: 'string' },
      deflate: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'poll-ms': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'memory-breakdown': { type: 'string' },
      'io-stats': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      prepare: { type: 'boolean', default: false },
      'timeout-min': { type: 'string' },
      'no-baseline': { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      'known-hashes': { type: 'string' },
      'member-cache-mib': { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    say(USAGE);
    process.exit(0);
  }
  const megapixels = Number(values.megapixels ?? 12);
  if (!(megapixels > 0 && megapixels <= 50)) throw new Error(`--megapixels must be in (0, 50], got ${values.megapixels}`);
  const pairs = positiveInt('pairs', values.pairs, 3);
  if (pairs < 1) throw new Error('--pairs must be at least 1');
  return {
    /** Shell baseline and Exhibit runs, alternately. */
    pairs,
    photos: positiveInt('photos', values.photos, 150),
    videos: positiveInt('videos', values.videos, 3),
    megapixels,
    deflate: values.deflate,
    concurrency: values.concurrency === undefined ? null : positiveInt('concurrency', values.concurrency, 4),
    pollMs: values['poll-ms'] === undefined ? null : positiveInt('poll-ms', values['poll-ms'], 1000),
    cpuProfile: values['cpu-prof'],
    /** Milliseconds between the diagnostic memory-breakdown samples; null: off. */
    memoryBreakdownMs: values['memory-breakdown'] === undefined ? null : positiveInt('memory-breakdown', values['memory-breakdown'], 1000),
    ioStats: values['io-stats'],
    keep: values.keep,
    prepare: values.prepare,
    timeoutMs: positiveInt('timeout-min', values['timeout-min'], 60) * 60_000,
    /** Skip the shell baseline (memory and flatness runs, where only Exhibit's figures are wanted). */
    noBaseline: values['no-baseline'],
    /** Index on a real PostgreSQL server instead of the embedded PGlite. */
    databaseUrl: values['database-url'] ?? null,
    /** Rows of a synthetic known-hash list: pairs with the set enabled and disabled instead of against the shell baseline. */
    knownHashes: values['known-hashes'] === undefined ? null : positiveInt('known-hashes', values['known-hashes'], 0),
    /** The member-bytes cache's budget (EXHIBIT_MEMBER_CACHE_MIB); null: the product's default. */
    memberCacheMib: values['member-cache-mib'] === undefined ? null : positiveInt('member-cache-mib', values['member-cache-mib'], 32),
  };
}

type Options = ReturnType<typeof parseOptions>;

function checkAgainstCorpus(corpus: Corpus, status: any, items: any[]): BenchResults['check'] {
  const files = items.filter((i) => i.file.entryKind === 'file');
  const byPath = new Map(files.map((i) => [i.file.path as string, i]));
  const sha256Mismatches: string[] = [];
  const missingMembers: string[] = [];
  for (const m of corpus.members) {
    const item = byPath.get(`${ARCHIVE_NAME}!/${m.name}`);
    if (!item) missingMembers.push(m.name);
    else if (item.file.sha256 !== m.sha256) sha256Mismatches.push(m.name);
  }
  const thumbnails: Record<string, number> = {};
  for (const i of files.filter((f) => f.file.path !== ARCHIVE_NAME)) {
    const t = String(i.content?.thumbnailStatus ?? 'none');
    thumbnails[t] = (thumbnails[t] ?? 0) + 1;
  }
  return {
    complete: Boolean(status.complete),
    filesInIndex: files.length,
    indexed: status.files.byStage.indexed,
    failed: status.files.byStage.failed,
    failures: status.failures,
    thumbnails,
    sha256Mismatches,
    missingMembers,
    integrity: status.uploads.map((u: any) => `${u.fileName}: ${u.integrity}`),
  };
}

async function runHost(options: Options, corpus: Corpus, stamp: string, extra: Pick<MeasuredHostOptions<unknown>, 'beforeStart' | 'externalCpuSec'> = {}) {
  // Read before the clock starts: the upload is timed, reading the local copy is not. A ZIP of 2 GiB or more
  // (600 photos) cannot be one Buffer (readFile refuses it): it is uploaded from the file, read as it goes.
  const archive = corpus.archiveBytes < MAX_READ_WHOLE_BYTES ? await readFile(corpus.archiveFile) : null;
  return runMeasuredHost({
    ...options,
    stamp,
    caseId: CASE,
    evidenceId: EVIDENCE,
    upload: async (h) => {
      say(`uploading ${ARCHIVE_NAME} (${(corpus.archiveBytes / 1e6).toFixed(0)} MB${archive ? '' : ', from the file'}) and waiting for the pipeline…`);
      const blobName = `${CASE}/${EVIDENCE}/${ARCHIVE_NAME}`;
      const metadata = { examiner: 'bench', acquisition_sha256: corpus.archiveSha256 };
      if (archive) await uploadWithPlainClient(h.storageConnectionString, blobName, archive, metadata);
      else await uploadFileWithPlainClient(h.storageConnectionString, blobName, corpus.archiveFile, metadata);
    },
    check: (status, items) => ({ ...checkAgainstCorpus(corpus, status, items), knownGood: Number(status.knownFiles?.knownGood ?? Number.NaN) }),
    ...extra,
  });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { startedAt, stamp, loadAvgAtStart } = await startBenchRun();

  const ffmpeg = options.videos > 0 ? (await locate('ffmpeg')).path : 'ffmpeg';
  const corpus = await buildCorpus({ ...options, cacheDir: path.join(OUT_DIR, 'corpus'), ffmpeg, log: say });
  say(`corpus: ${corpus.members.length} members, ${(corpus.memberBytes / 1e6).toFixed(0)} MB ${corpus.fromCache ? '(cached)' : `(built in ${(corpus.buildMs / 1000).toFixed(0)} s)`}`);
  if (options.knownHashes !== null) return runKnownHashes(options, corpus, options.knownHashes, { stamp, startedAt, loadAvgAtStart });
  if (options.prepare) return;

  // The reference runs before the host starts, so the two never compete for the CPU.
  say('timing sha256sum on the same bytes…');
  const memberFiles = corpus.members.map((m) => m.file);
  const reference = {
    members: await timeSha256sum(memberFiles, { label: '<extracted members>' }),
    archive: await timeSha256sum([corpus.archiveFile], { label: '<archive>' }),
    membersAndArchive: await timeSha256sum([...memberFiles, corpus.archiveFile], { label: '<members + archive>' }),
  };
  say('timing the work no pipeline can skip (hashing twice, decoding photos)…');
  const floor = await measureWorkFloor(corpus.members, corpus.archiveBytes, { photoSample: 20 });

  // Alternately, so that the machine's drift (other work on a shared machine) hits both sides alike.
  const baselineFfmpeg = await locate('ffmpeg').then(
    (f) => f.path,
    () => 'ffmpeg',
  );
  let baselineMissing: string[] | null = options.noBaseline ? [] : null;
  const skippedMessage = (missing: string[]) => (options.noBaseline ? 'shell baseline skipped (--no-baseline)' : missingToolsMessage(missing));
  const runs: Array<{ run: Awaited<ReturnType<typeof runHost>>; baseline: BaselineRun | null }> = [];
  for (let i = 1; i <= options.pairs; i++) {
    let baseline: BaselineRun | null = null;
    if (baselineMissing === null) {
      say(`pair ${i}/${options.pairs}: shell baseline…`);
      const outcome = await runShellBaseline(corpus.archiveFile, { workDir: path.join(OUT_DIR, 'baseline-work'), ffmpeg: baselineFfmpeg, members: corpus.members.length });
      if (outcome.kind === 'missing-tools') {
        baselineMissing = outcome.missingTools;
        say(missingToolsMessage(baselineMissing));
      } else {
        baseline = outcome.run;
        say(`  ${(baseline.wallMs / 1000).toFixed(1)} s, ${baseline.filesPerSec.toFixed(2)} files/s (${baseline.report.steps.map((st) => `${st.name} ${(st.wallMs / 1000).toFixed(1)} s`).join(', ')})`);
      }
    }
    say(`pair ${i}/${options.pairs}: Exhibit…`);
    const database = options.databaseUrl === null ? null : await createRunDatabase(options.databaseUrl, say);
    const run = await runHost({ ...options, ...(database ? { databaseUrl: database.databaseUrl } : {}) }, corpus, `${stamp}-pair${i}`, database ? { externalCpuSec: () => database.indexServerCpuSec() } : {}).finally(
      () => database?.finish({ keep: options.keep && i === options.pairs }),
    );
    say(`  ${(run.endToEndMs / 1000).toFixed(1)} s, ${(corpus.members.length / (run.endToEndMs / 1000)).toFixed(2)} files/s`);
    runs.push({ run, baseline });
  }

  const pairs: PairResult[] = runs.map(({ run, baseline }) => ({
    baseline: baseline === null ? null : { wallMs: baseline.wallMs, filesPerSec: baseline.filesPerSec, cpuMsPerFile: baseline.cpuMsPerFile, steps: baseline.report.steps, failures: baseline.report.failures },
    exhibit: {
      endToEndMs: run.endToEndMs,
      filesPerSec: corpus.members.length / (run.endToEndMs / 1000),
      hostCpuMsPerFile: (run.cpu.hostSec * 1000) / corpus.members.length,
      statusPollsHostCpuMsPerFile: (run.statusPolls.polls * run.statusPolls.hostSecEach * 1000) / corpus.members.length,
      idleHostCpuMsPerFile: (run.idle.hostSecPerSec * (run.endToEndMs / 1000) * 1000) / corpus.members.length,
      idleHostCpuMsPerSec: run.idle.hostSecPerSec * 1000,
      hostAndAzuriteCpuMsPerFile: ((run.cpu.hostSec + run.cpu.azuriteSec) * 1000) / corpus.members.length,
      io: run.io,
      hostPeakRssBytes: run.memory.hostPeakRssBytes,
      hostHwmBytes: run.memory.hostHwmBytes,
      azuritePeakRssBytes: run.memory.azuritePeakRssBytes,
      indexPeakRssBytes: run.memory.indexPeakRssBytes,
      hostAndIndexPeakRssBytes: run.memory.hostAndIndexPeakRssBytes,
      correct: isCorrect(run.check, corpus),
    },
  }));
  // The run printed in full: the one whose ratio is the median (or, without a baseline, whose files/s is).
  const detailed =
    baselineMissing === null
      ? medianPairIndex(pairs.map((p) => ({ baselineFilesPerSec: p.baseline!.filesPerSec, exhibitFilesPerSec: p.exhibit.filesPerSec })))
      : medianPairIndex(pairs.map((p) => ({ baselineFilesPerSec: 1, exhibitFilesPerSec: p.exhibit.filesPerSec })));
  const run = runs[detailed]!.run;
  const seconds = run.endToEndMs / 1000;
  const memberMBPerSec = corpus.memberBytes / 1e6 / seconds;
  const photoSizes = corpus.members.filter((m) => m.kind === 'photo').map((m) => m.bytes);
  const results: BenchResults = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalRamBytes: os.totalmem(),
      node: process.version,
      kernel: os.release(),
      loadAvgAtStart,
      loadAvgAtEnd: run.loadAvgAtEnd,
    },
    parameters: {
      pairs: options.pairs,
      photos: options.photos,
      videos: options.videos,
      megapixels: options.megapixels,
      deflate: options.deflate,
      concurrency: options.concurrency,
      pollMs: options.pollMs,
      database: options.databaseUrl === null ? 'pglite' : 'postgres',
      memberCacheMib: options.memberCacheMib,
      cpuProfile: options.cpuProfile,
      ioStats: options.ioStats,
    },
    corpus: {
      archiveFile: corpus.archiveFile,
      archiveBytes: corpus.archiveBytes,
      members: corpus.members.length,
      memberBytes: corpus.memberBytes,
      frame: corpus.frame,
      photoBytes: {
        min: photoSizes.length ? Math.min(...photoSizes) : 0,
        mean: photoSizes.length ? photoSizes.reduce((s, b) => s + b, 0) / photoSizes.length : 0,
        max: photoSizes.length ? Math.max(...photoSizes) : 0,
      },
      fromCache: corpus.fromCache,
      buildMs: corpus.buildMs,
    },
    detailedPair: detailed + 1,
    run: {
      uploadMs: run.uploadMs,
      processingMs: run.processingMs,
      endToEndMs: run.endToEndMs,
      completeLoggedMs: run.completeLoggedMs,
      filesPerSec: corpus.members.length / seconds,
      memberMBPerSec,
    },
    cpu: {
      ...run.cpu,
      // The index process's CPU counts: it is PGlite's, which ran in the host before it had a process of its own.
      perFileSec: (run.cpu.hostSec + run.cpu.azuriteSec + run.cpu.indexSec) / corpus.members.length,
      ceilingFilesPerSec: (os.availableParallelism() * corpus.members.length) / (run.cpu.hostSec + run.cpu.azuriteSec + run.cpu.indexSec),
    },
    check: run.check,
    stages: run.log.stages.map((st) => ({ ...st, fromSec: (st.firstStartAt - run.uploadStartEpochMs) / 1000, toSec: (st.lastEndAt - run.uploadStartEpochMs) / 1000 })),
    logProblems: run.log.problems,
    memberCache: run.log.memberCache,
    memory: run.memory,
    io: run.io,
    sqlStats: run.sqlStats,
    azuriteRequests: run.azuriteRequests,
    reference: { ...reference, ratio: memberMBPerSec / reference.members.mbPerSec, floor },
    baseline: { missingTools: baselineMissing, ffmpeg: baselineFfmpeg },
    pairs,
    artefacts: run.artefacts,
  };

  const json = JSON.stringify(results, null, 2);
  await writeFile(path.join(OUT_DIR, 'results.json'), json);
  await writeFile(path.join(OUT_DIR, 'runs', `${stamp}-p${options.photos}.json`), json);
  say(renderResults(results));
  say(`\nwritten: ${path.relative(ROOT, path.join(OUT_DIR, 'results.json'))}`);
  say('');
  // Last, so the ratio line ends the output.
  say(renderComparison(results, baselineMissing === null ? null : skippedMessage(baselineMissing)));

  if (pairs.some((p) => !p.exhibit.correct)) {
    say('\nThe pipeline did not process every file correctly in every run; the figures above are not a valid benchmark.');
    process.exitCode = 1;
  }
}

/**
 * `--known-hashes N`: the synthetic list imported once (known-hashes.support.ts),
 * then Exhibit with the set enabled and disabled alternately, the order
 * swapped every pair, each run on its own copy of the index. Prints a row per
 * run and, last, the median ratios (knownHashesLine). `--prepare` stops after
 * the import and keeps the template.
 */
async function runKnownHashes(options: Options, corpus: Corpus, rows: number, run: { stamp: string; startedAt: Date; loadAvgAtStart: number[] }): Promise<void> {
  const known = await prepareKnownHashes({ rows, databaseUrl: options.databaseUrl, members: corpus.members, outDir: OUT_DIR, keep: options.keep || options.prepare, log: say });
  const runs: KnownHashesRunResult[] = [];
  try {
    if (options.prepare) return;
    for (let i = 1; i <= options.pairs; i++) {
      // Enabled first in odd pairs, disabled first in even ones: drift over a pair hits both sides alike.
      for (const enabled of i % 2 === 1 ? [true, false] : [false, true]) {
        say(`pair ${i}/${options.pairs}: Exhibit with the known hashes ${enabled ? 'enabled' : 'disabled'}…`);
        const copy = await known.forRun(enabled);
        try {
          const r = await runHost({ ...options, databaseUrl: copy.databaseUrl }, corpus, `${run.stamp}-known${i}-${enabled ? 'on' : 'off'}`, {
            beforeStart: copy.beforeStart,
            externalCpuSec: copy.indexServerCpuSec,
          });
          const hashSetIndexScans = await copy.hashSetIndexScans();
          const files = corpus.members.length;
          const cpuSec = r.cpu.hostSec + r.cpu.azuriteSec + r.cpu.indexSec + (r.externalCpuSec ?? 0);
          const result: KnownHashesRunResult = {
            pair: i,
            enabled,
            endToEndMs: r.endToEndMs,
            filesPerSec: files / (r.endToEndMs / 1000),
            cpuMsPerFile: (cpuSec * 1000) / files,
            hostCpuMsPerFile: (r.cpu.hostSec * 1000) / files,
            indexServerCpuMsPerFile: r.externalCpuSec === null ? null : (r.externalCpuSec * 1000) / files,
            statementsPerFile: r.io.index.pipelineStatements / files,
            azuriteCpuMsPerFile: (r.cpu.azuriteSec * 1000) / files,
            queueOpsPerFile: r.io.queue.total / files,
            emptyReceives: r.io.queue.emptyReceives,
            storageReadsPerFile: r.io.storage.requests / files,
            knownGood: r.check.knownGood,
            hashSetIndexScans,
            correct: isCorrect(r.check, corpus) && r.check.knownGood === (enabled ? known.plantedMembers : 0),
            loadAvgAtEnd: r.loadAvgAtEnd,
          };
          runs.push(result);
          say(
            `  ${(r.endToEndMs / 1000).toFixed(1)} s, ${result.filesPerSec.toFixed(2)} files/s, CPU ${result.cpuMsPerFile.toFixed(0)} ms/file` +
              `${result.indexServerCpuMsPerFile === null ? '' : ` (index server ${result.indexServerCpuMsPerFile.toFixed(1)})`}, known-good files ${result.knownGood}` +
              `${hashSetIndexScans === null ? '' : `, set index scans ${hashSetIndexScans}`}` +
              `${result.correct ? '' : ' — NOT AS EXPECTED'}, load ${r.loadAvgAtEnd.map((l) => l.toFixed(1)).join(' ')}`,
          );
        } finally {
          await copy.finish();
        }
      }
    }
  } finally {
    await known.close();
  }
  const pairs = Array.from({ length: options.pairs }, (_, k) => {
    const on = runs.find((r) => r.pair === k + 1 && r.enabled)!;
    const off = runs.find((r) => r.pair === k + 1 && !r.enabled)!;
    return { withFilesPerSec: on.filesPerSec, withoutFilesPerSec: off.filesPerSec, withCpuMsPerFile: on.cpuMsPerFile, withoutCpuMsPerFile: off.cpuMsPerFile };
  });
  const results = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: run.startedAt.toISOString(),
    loadAvgAtStart: run.loadAvgAtStart,
    loadAvgAtEnd: os.loadavg(),
    database: options.databaseUrl === null ? 'pglite' : 'postgres',
    knownHashes: rows,
    plantedMembers: known.plantedMembers,
    import: known.importStats,
    corpus: { members: corpus.members.length, memberBytes: corpus.memberBytes },
    runs,
  };
  const file = path.join(OUT_DIR, 'runs', `${run.stamp}-known-hashes-${rows}.json`);
  await writeFile(file, JSON.stringify(results, null, 2));
  say('');
  say(`Known hashes (${rows.toLocaleString('en-GB')} rows + ${known.plantedMembers} planted, index ${results.database}), ${corpus.members.length} members; load average ${run.loadAvgAtStart.map((l) => l.toFixed(1)).join(' ')} at start, ${results.loadAvgAtEnd.map((l) => l.toFixed(1)).join(' ')} at end.`);
  for (const r of runs) {
    say(
      `  pair ${r.pair} ${r.enabled ? 'enabled ' : 'disabled'}  ${(r.endToEndMs / 1000).toFixed(1).padStart(6)} s  ${r.filesPerSec.toFixed(2)} files/s  CPU ${r.cpuMsPerFile.toFixed(0)} ms/file` +
        ` (host ${r.hostCpuMsPerFile.toFixed(0)}, Azurite ${r.azuriteCpuMsPerFile.toFixed(0)}${r.indexServerCpuMsPerFile === null ? '' : `, index server ${r.indexServerCpuMsPerFile.toFixed(1)}`})` +
        `  queue ops/file ${r.queueOpsPerFile.toFixed(1)} (+${r.emptyReceives} empty receives)  blob GETs/file ${r.storageReadsPerFile.toFixed(1)}  statements/file ${r.statementsPerFile.toFixed(1)}  known-good files ${r.knownGood}${r.hashSetIndexScans === null ? '' : `  set index scans ${r.hashSetIndexScans}`}`,
    );
  }
  say(`written: ${path.relative(ROOT, file)}`);
  say('');
  say(knownHashesLine(rows, pairs));
  if (runs.some((r) => !r.correct)) {
    say('\nA run did not process every file correctly, or did not report the planted matches (enabled) or reported matches (disabled); the figures are not valid.');
    process.exitCode = 1;
  }
}

interface KnownHashesRunResult {
  pair: number;
  enabled: boolean;
  endToEndMs: number;
  filesPerSec: number;
  /** Host + Azurite + index server backends (PostgreSQL). */
  cpuMsPerFile: number;
  hostCpuMsPerFile: number;
  indexServerCpuMsPerFile: number | null;
  statementsPerFile: number;
  /** Azurite's share of cpuMsPerFile, and the requests it answered (to tell the set's cost from Azurite's). */
  azuriteCpuMsPerFile: number;
  queueOpsPerFile: number;
  emptyReceives: number;
  storageReadsPerFile: number;
  knownGood: number;
  /** Index scans of the set's partition during the run (server only): 0 when disabling stops the lookups. */
  hashSetIndexScans: number | null;
  correct: boolean;
  loadAvgAtEnd: number[];
}

function isCorrect(c: BenchResults['check'], corpus: Corpus): boolean {
  return c.complete && c.failed === 0 && c.sha256Mismatches.length === 0 && c.missingMembers.length === 0 && c.filesInIndex === corpus.members.length + 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
