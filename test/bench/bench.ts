/**
 * `npm run bench [-- --pairs 3 --photos N --videos M --megapixels 12 --deflate --database-url URL --member-cache-mib M --concurrency C --poll-ms P --cpu-prof --io-stats --keep --prepare]`
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
 * embedded PGlite. `--concurrency` and `--poll-ms` set EXHIBIT_CONCURRENCY and
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
import { uploadWithPlainClient } from '../support/e2e-client.js';
import { renderComparison, renderResults, type BenchResults, type PairResult } from './bench-results.js';
import { BENCH_OUT_DIR, BENCH_ROOT, runMeasuredHost, startBenchRun } from './bench-host.support.js';
import { buildCorpus, type Corpus } from './corpus.builder.js';
import { medianPairIndex } from './pair-ratios.summary.js';
import { missingToolsMessage } from './shell-baseline.parser.js';
import { runShellBaseline, type BaselineRun } from './shell-baseline.reference.js';
import { timeSha256sum } from './sha256sum.reference.js';
import { measureWorkFloor } from './work-floor.reference.js';

const ROOT = BENCH_ROOT;
const OUT_DIR = BENCH_OUT_DIR;
const CASE = 'BENCH-001';
const EVIDENCE = 'PHONE01';
const ARCHIVE_NAME = 'phone-extraction.zip';

const say = (line = '') => process.stdout.write(`${line}\n`);

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${value}`);
  return n;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string' },
      photos: { type: 'string' },
      videos: { type: 'string' },
      megapixels: { type: 'string' },
      deflate: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'poll-ms': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'io-stats': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      prepare: { type: 'boolean', default: false },
      'timeout-min': { type: 'string' },
      'database-url': { type: 'string' },
      'member-cache-mib': { type: 'string' },
    },
    strict: true,
  });
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
    ioStats: values['io-stats'],
    keep: values.keep,
    prepare: values.prepare,
    timeoutMs: positiveInt('timeout-min', values['timeout-min'], 60) * 60_000,
    /** Index on a real PostgreSQL server instead of the embedded PGlite. */
    databaseUrl: values['database-url'] ?? null,
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

async function runHost(options: Options, corpus: Corpus, stamp: string) {
  // Read before the clock starts: the upload is timed, reading the local copy is not.
  const archive = await readFile(corpus.archiveFile);
  return runMeasuredHost({
    ...options,
    stamp,
    caseId: CASE,
    evidenceId: EVIDENCE,
    upload: async (h) => {
      say(`uploading ${ARCHIVE_NAME} (${(archive.length / 1e6).toFixed(0)} MB) and waiting for the pipeline…`);
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${EVIDENCE}/${ARCHIVE_NAME}`, archive, {
        examiner: 'bench',
        acquisition_sha256: corpus.archiveSha256,
      });
    },
    check: (status, items) => checkAgainstCorpus(corpus, status, items),
  });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { startedAt, stamp, loadAvgAtStart } = await startBenchRun();

  const ffmpeg = options.videos > 0 ? (await locate('ffmpeg')).path : 'ffmpeg';
  const corpus = await buildCorpus({ ...options, cacheDir: path.join(OUT_DIR, 'corpus'), ffmpeg, log: say });
  say(`corpus: ${corpus.members.length} members, ${(corpus.memberBytes / 1e6).toFixed(0)} MB ${corpus.fromCache ? '(cached)' : `(built in ${(corpus.buildMs / 1000).toFixed(0)} s)`}`);
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
  let baselineMissing: string[] | null = null;
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
    const run = await runHost(options, corpus, `${stamp}-pair${i}`);
    say(`  ${(run.endToEndMs / 1000).toFixed(1)} s, ${(corpus.members.length / (run.endToEndMs / 1000)).toFixed(2)} files/s`);
    runs.push({ run, baseline });
  }

  const pairs: PairResult[] = runs.map(({ run, baseline }) => ({
    baseline: baseline === null ? null : { wallMs: baseline.wallMs, filesPerSec: baseline.filesPerSec, cpuMsPerFile: baseline.cpuMsPerFile, steps: baseline.report.steps, failures: baseline.report.failures },
    exhibit: {
      endToEndMs: run.endToEndMs,
      filesPerSec: corpus.members.length / (run.endToEndMs / 1000),
      hostCpuMsPerFile: (run.cpu.hostSec * 1000) / corpus.members.length,
      hostAndAzuriteCpuMsPerFile: ((run.cpu.hostSec + run.cpu.azuriteSec) * 1000) / corpus.members.length,
      io: run.io,
      hostPeakRssBytes: run.memory.hostPeakRssBytes,
      hostHwmBytes: run.memory.hostHwmBytes,
      azuritePeakRssBytes: run.memory.azuritePeakRssBytes,
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
      perFileSec: (run.cpu.hostSec + run.cpu.azuriteSec) / corpus.members.length,
      ceilingFilesPerSec: (os.availableParallelism() * corpus.members.length) / (run.cpu.hostSec + run.cpu.azuriteSec),
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
  say(renderComparison(results, baselineMissing === null ? null : missingToolsMessage(baselineMissing)));

  if (pairs.some((p) => !p.exhibit.correct)) {
    say('\nThe pipeline did not process every file correctly in every run; the figures above are not a valid benchmark.');
    process.exitCode = 1;
  }
}

function isCorrect(c: BenchResults['check'], corpus: Corpus): boolean {
  return c.complete && c.failed === 0 && c.sha256Mismatches.length === 0 && c.missingMembers.length === 0 && c.filesInIndex === corpus.members.length + 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
