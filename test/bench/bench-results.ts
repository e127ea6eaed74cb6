import type { MemberCacheFigures, StageTiming } from './host-log.parser.js';
import type { IndexStatements, QueueOperations, StorageReads } from './io-figures.summary.js';
import { formatRatio, median, pairRatio, ratioLine } from './pair-ratios.summary.js';
import type { CpuSeriesPoint, CpuUsage } from './process-cpu.meter.js';
import type { MemoryPeaks } from './process-memory.sampler.js';
import type { BaselineStep } from './shell-baseline.parser.js';
import type { ReferenceTiming } from './sha256sum.reference.js';
import type { WorkFloor } from './work-floor.reference.js';

export interface SqlStat {
  sql: string;
  count: number;
  totalMs: number;
}

export interface AzuriteRequestStat {
  /** `<service> <method> <operation>`, e.g. `queue GET queue messages (empty)`. */
  kind: string;
  count: number;
  totalMs: number;
  inBytes: number;
  outBytes: number;
}

/** Counted between upload start and completion (see io-figures.summary.ts). */
export interface IoFigures {
  storage: StorageReads;
  queue: QueueOperations;
  index: IndexStatements & {
    /** Status calls the bench made while waiting, and what one costs the index (measured after completion). */
    statusPolls: number;
    statementsPerStatusPoll: number;
    /** statements − statusPolls × statementsPerStatusPoll: the pipeline's own. */
    pipelineStatements: number;
  };
}

/** One shell baseline run and the Exhibit run after it. */
export interface PairResult {
  /** Null when the baseline's tools are missing. */
  baseline: { wallMs: number; filesPerSec: number; cpuMsPerFile: number | null; steps: BaselineStep[]; failures: Record<string, number> } | null;
  exhibit: {
    endToEndMs: number;
    filesPerSec: number;
    /** Host process (with the ffmpeg/ffprobe it ran) CPU ms per member. */
    hostCpuMsPerFile: number;
    /** The part of hostCpuMsPerFile that served the bench's own status polls (polls × one poll's CPU, measured after completion); absent in older results. */
    statusPollsHostCpuMsPerFile?: number;
    /** What the host costs idle (ms of CPU per s, measured after completion) times the run's wall time, per file: the time-driven part; absent in older results. */
    idleHostCpuMsPerFile?: number;
    idleHostCpuMsPerSec?: number;
    hostAndAzuriteCpuMsPerFile: number;
    io: IoFigures;
    hostPeakRssBytes: number;
    hostHwmBytes: number | null;
    azuritePeakRssBytes: number;
    /** The index process serving PGlite (0 with --database-url); absent in older results. */
    indexPeakRssBytes?: number;
    hostAndIndexPeakRssBytes?: number;
    correct: boolean;
  };
}

/** What one bench measured; written to bench-out/results.json as is. The single-run sections are those of the median pair. */
export interface BenchResults {
  command: string;
  startedAt: string;
  machine: {
    nproc: number;
    cpuModel: string;
    totalRamBytes: number;
    node: string;
    kernel: string;
    loadAvgAtStart: number[];
    loadAvgAtEnd: number[];
  };
  parameters: { pairs: number; photos: number; videos: number; megapixels: number; deflate: boolean; concurrency: number | null; pollMs: number | null; cpuProfile: boolean; ioStats: boolean; database: 'pglite' | 'postgres'; memberCacheMib?: number | null };
  corpus: {
    archiveFile: string;
    archiveBytes: number;
    members: number;
    memberBytes: number;
    frame: { width: number; height: number };
    photoBytes: { min: number; mean: number; max: number };
    fromCache: boolean;
    buildMs: number;
  };
  /** Which pair (from 1) the single-run sections below describe. */
  detailedPair: number;
  run: {
    uploadMs: number;
    /** From the end of the upload to the API reporting the evidence complete. */
    processingMs: number;
    /** From the start of the upload to complete: what the targets are measured on. */
    endToEndMs: number;
    /** When the host logged the evidence complete, from upload start: the API figure minus polling delay. */
    completeLoggedMs: number | null;
    filesPerSec: number;
    memberMBPerSec: number;
  };
  /** CPU used from upload start to complete. */
  cpu: CpuUsage & {
    /** Host (with reaped ffmpeg/ffprobe) + Azurite CPU seconds per member file. */
    perFileSec: number;
    /** nproc ÷ perFileSec: files/s if the tree had every core to itself and kept them all busy. */
    ceilingFilesPerSec: number;
    /** Once a second from upload start. */
    series: CpuSeriesPoint[];
  };
  check: {
    complete: boolean;
    filesInIndex: number;
    indexed: number;
    failed: number;
    failures: unknown[];
    /** Thumbnail status of the archive members. */
    thumbnails: Record<string, number>;
    sha256Mismatches: string[];
    missingMembers: string[];
    integrity: string[];
  };
  /** fromSec/toSec: when the stage first started and last finished, in seconds after upload start. */
  stages: Array<StageTiming & { fromSec: number; toSec: number }>;
  logProblems: Record<string, number>;
  /** The member-bytes cache's hits and misses in analyse (host-log.parser.ts); null when the log had none. */
  memberCache?: MemberCacheFigures | null;
  memory: MemoryPeaks;
  io: IoFigures;
  /** With --io-stats: statements sent to the embedded index, by text, most time first. */
  sqlStats: SqlStat[] | null;
  /** With --io-stats: requests Azurite served, by kind, most frequent first. */
  azuriteRequests: AzuriteRequestStat[] | null;
  reference: {
    members: ReferenceTiming;
    archive: ReferenceTiming;
    membersAndArchive: ReferenceTiming;
    /** Exhibit member MB/s ÷ sha256sum member MB/s. */
    ratio: number;
    floor: WorkFloor;
  };
  baseline: { missingTools: string[] | null; ffmpeg: string };
  pairs: PairResult[];
  artefacts: { hostLog: string; dataDir: string | null; cpuProfileDir: string | null; memoryBreakdown: string | null };
}

const MB = 1e6;
const MiB = 1024 * 1024;

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const mib = (bytes: number | null) => (bytes === null ? 'n/a' : `${(bytes / MiB).toFixed(0)} MiB`);
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The per-stage table of the host log (host-log.parser.ts), times from upload start; a note when the log had none. */
export function renderStageTable(stages: BenchResults['stages']): string {
  if (stages.length === 0) return "No 'message processed' lines with a queue and durationMs in the host log: no per-stage breakdown (has the stage runner's log line changed? see host-log.parser.ts).";
  return table(
    ['Stage (queue)', 'messages', 'total', 'mean', 'p50', 'p95', 'max', 'active from–to (after upload start)', 'outcomes'],
    stages.map((s) => [
      s.queue,
      String(s.count),
      sec(s.totalMs),
      `${s.meanMs.toFixed(0)} ms`,
      `${s.p50Ms} ms`,
      `${s.p95Ms} ms`,
      `${s.maxMs} ms`,
      `${s.fromSec.toFixed(1)}–${s.toSec.toFixed(1)} s`,
      Object.entries(s.statuses)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ]),
  );
}

export function renderResults(r: BenchResults): string {
  const out: string[] = [];
  out.push('');
  out.push(`Machine: ${r.machine.nproc} CPU (${r.machine.cpuModel}), ${(r.machine.totalRamBytes / 1024 ** 3).toFixed(1)} GiB RAM, node ${r.machine.node}; load average ${r.machine.loadAvgAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${r.machine.loadAvgAtEnd.map((l) => l.toFixed(2)).join(' ')} at end`);
  out.push(
    `Corpus:  ${r.parameters.photos} photos ${r.corpus.frame.width}x${r.corpus.frame.height} (${mb(r.corpus.photoBytes.min)}–${mb(r.corpus.photoBytes.max)}, mean ${mb(r.corpus.photoBytes.mean)}) + ${r.parameters.videos} videos; ` +
      `${r.corpus.members} members, ${mb(r.corpus.memberBytes)}; ZIP ${r.parameters.deflate ? 'deflate' : 'store'} ${mb(r.corpus.archiveBytes)}` +
      `; member-bytes cache ${r.parameters.memberCacheMib ?? 'default'} MiB`,
  );
  out.push('');
  out.push(`Pair ${r.detailedPair} of ${r.pairs.length} (the median one) in full:`);
  out.push('');
  out.push(
    table(
      ['End to end', 'value'],
      [
        ['upload (plain blob client)', sec(r.run.uploadMs)],
        ['processing (upload done → complete)', sec(r.run.processingMs)],
        ['end to end (upload start → complete)', sec(r.run.endToEndMs)],
        ['  host logged completion at', r.run.completeLoggedMs === null ? 'n/a' : sec(r.run.completeLoggedMs)],
        ['files/s (members)', r.run.filesPerSec.toFixed(2)],
        ['MB/s (member bytes)', r.run.memberMBPerSec.toFixed(1)],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['CPU (upload start → complete)', 'value'],
      [
        ['host process (+ ffmpeg/ffprobe it ran)', sec(r.cpu.hostSec * 1000)],
        ['  JavaScript thread (JS, PGlite, hashing)', sec(r.cpu.hostMainThreadSec * 1000)],
        ['  libvips threads (sharp)', sec(r.cpu.hostLibvipsSec * 1000)],
        ['  ffmpeg / ffprobe', sec(r.cpu.hostChildrenSec * 1000)],
        ['  other threads (GC, libuv pool)', sec(r.cpu.hostOtherThreadsSec * 1000)],
        ['Azurite', sec(r.cpu.azuriteSec * 1000)],
        ['index process (PGlite)', sec(r.cpu.indexSec * 1000)],
        ['CPU per member file', `${(r.cpu.perFileSec * 1000).toFixed(0)} ms`],
        [`ceiling on ${r.machine.nproc} cores (files/s)`, r.cpu.ceilingFilesPerSec.toFixed(1)],
        ['machine busy (everyone)', `${(r.cpu.machineBusyShare * 100).toFixed(0)} %`],
        ['of which this host tree', `${(r.cpu.treeShare * 100).toFixed(0)} %`],
      ],
    ),
  );
  out.push('');
  out.push(`CPU over time (5-s means, % of one core; ${r.machine.nproc * 100} % = all cores): host / Azurite / index process / whole machine`);
  for (let from = 0; from < r.cpu.series.length; from += 5) {
    const slice = r.cpu.series.slice(from, from + 5);
    const mean = (k: 'hostPct' | 'azuritePct' | 'indexPct' | 'machinePct') => Math.round(slice.reduce((s, p) => s + p[k], 0) / slice.length);
    out.push(`  ${String(from).padStart(4)}–${String(from + slice.length).padEnd(4)} s  ${String(mean('hostPct')).padStart(4)} / ${String(mean('azuritePct')).padStart(4)} / ${String(mean('indexPct')).padStart(4)} / ${String(mean('machinePct')).padStart(4)}`);
  }
  out.push('');
  out.push(renderStageTable(r.stages));
  out.push('');
  out.push(
    table(
      ['Memory', 'peak RSS (100-ms samples)', 'VmHWM'],
      [
        ['host (pipeline, node)', mib(r.memory.hostPeakRssBytes), mib(r.memory.hostHwmBytes)],
        ['Azurite (storage emulator)', mib(r.memory.azuritePeakRssBytes), mib(r.memory.azuriteHwmBytes)],
        ['index process (PGlite)', mib(r.memory.indexPeakRssBytes ?? 0), mib(r.memory.indexHwmBytes ?? null)],
        ['host + index process (sum at one sample)', mib(r.memory.hostAndIndexPeakRssBytes ?? 0), ''],
        ['other children (ffmpeg/ffprobe)', mib(r.memory.toolsPeakRssBytes), ''],
        ['whole tree (sum at one sample)', mib(r.memory.treePeakRssBytes), ''],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['Reference (warm cache)', 'files', 'bytes', 'wall', 'MB/s'],
      [r.reference.members, r.reference.archive, r.reference.membersAndArchive].map((t) => [t.command, String(t.files), mb(t.bytes), sec(t.wallMs), t.mbPerSec.toFixed(1)]),
    ),
  );
  out.push(`Exhibit MB/s ÷ sha256sum MB/s (members): ${r.reference.ratio.toFixed(3)}`);
  const f = r.reference.floor;
  out.push('');
  out.push(
    table(
      ['Work no pipeline can skip (one thread, this machine)', 'value'],
      [
        ['MD5 + SHA-1 + SHA-256, CPU per MB', `${f.hashCpuMsPerMB.toFixed(2)} ms`],
        [`photo thumbnail decode, CPU per photo (${f.photosSampled} sampled)`, `${f.thumbnailCpuMsPerPhoto.toFixed(1)} ms`],
        ['per member file (archive + member hashed, photo decoded)', `${f.cpuMsPerFile.toFixed(1)} ms`],
        [`ceiling on ${f.cores} cores if storage, queues and index were free`, `${f.ceilingFilesPerSec.toFixed(1)} files/s`],
        ['Exhibit end to end ÷ that ceiling', (r.run.filesPerSec / f.ceilingFilesPerSec).toFixed(2)],
      ],
    ),
  );
  if (r.sqlStats) {
    out.push('');
    out.push(
      table(
        ['Index statements, upload start → complete (--io-stats; time holds the connection)', 'count', 'total', 'mean'],
        r.sqlStats.slice(0, 20).map((q) => [q.sql.slice(0, 100), String(q.count), sec(q.totalMs), `${(q.totalMs / q.count).toFixed(1)} ms`]),
      ),
    );
  }
  if (r.azuriteRequests) {
    out.push('');
    out.push(
      table(
        ['Azurite requests, upload start → complete (--io-stats)', 'count', 'in', 'out', 'total time'],
        r.azuriteRequests.slice(0, 20).map((q) => [q.kind, String(q.count), mb(q.inBytes), mb(q.outBytes), sec(q.totalMs)]),
      ),
    );
  }
  out.push('');
  const c = r.check;
  out.push(
    `Check: ${c.complete ? 'complete' : 'NOT complete'}; ${c.filesInIndex} files in the index, ${c.indexed} indexed, ${c.failed} failed; ` +
      `member thumbnails ${Object.entries(c.thumbnails).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `${c.sha256Mismatches.length} SHA-256 mismatches, ${c.missingMembers.length} members missing; integrity ${c.integrity.join(', ')}`,
  );
  const mc = r.memberCache;
  if (mc) {
    const at = mc.atLastUnpack;
    out.push(
      `Member-bytes cache: ${mc.hits} hits (${(mc.hitBytes / 1e6).toFixed(1)} MB not read again), ${mc.misses} misses (${(mc.missBytes / 1e6).toFixed(1)} MB read from storage by analyse); ` +
        `hit rate ${mc.hits + mc.misses > 0 ? ((100 * mc.hits) / (mc.hits + mc.misses)).toFixed(0) : '-'} %` +
        (at ? `; at the last unpack: ${Object.entries(at).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''),
    );
  }
  const problems = Object.entries(r.logProblems);
  if (problems.length > 0) out.push(`Log warnings/errors: ${problems.map(([k, v]) => `${k} ×${v}`).join('; ')}`);
  out.push(`Host log: ${r.artefacts.hostLog}${r.artefacts.cpuProfileDir ? `; CPU profiles: ${r.artefacts.cpuProfileDir}` : ''}${r.artefacts.dataDir ? `; data kept in ${r.artefacts.dataDir}` : ''}`);
  return out.join('\n');
}

const ms = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(0)} ms`);
const perFile = (n: number, files: number) => (n / files).toFixed(2);

/**
 * The comparison with the shell baseline, over all pairs, and the per-file
 * figures the issue's targets are read from; ends with the ratio line.
 */
export function renderComparison(r: BenchResults, skipped: string | null): string {
  const out: string[] = [];
  const files = r.corpus.members;
  const withBaseline = r.pairs.every((p) => p.baseline !== null);
  out.push(`Shell baseline and Exhibit, alternately on the same corpus (${files} members, ZIP ${r.parameters.deflate ? 'deflate' : 'store'}, index ${r.parameters.database}).`);
  out.push(`This machine's ${r.machine.nproc} cores are shared with other work: load average ${r.machine.loadAvgAtStart.map((l) => l.toFixed(1)).join(' ')} at start. Read single pairs as noisy; the medians less so.`);
  out.push('');
  out.push(
    table(
      ['pair', 'baseline', 'files/s', 'CPU/file', 'Exhibit', 'files/s', 'host CPU/file', 'ratio', 'read ÷ evidence', 'queue ops/file', 'statements/file', 'host peak RSS'],
      r.pairs.map((p, i) => [
        String(i + 1),
        p.baseline ? sec(p.baseline.wallMs) : 'skipped',
        p.baseline ? p.baseline.filesPerSec.toFixed(2) : '',
        p.baseline ? ms(p.baseline.cpuMsPerFile) : '',
        sec(p.exhibit.endToEndMs),
        p.exhibit.filesPerSec.toFixed(2),
        ms(p.exhibit.hostCpuMsPerFile),
        p.baseline ? formatRatio(pairRatio({ baselineFilesPerSec: p.baseline.filesPerSec, exhibitFilesPerSec: p.exhibit.filesPerSec })) : '',
        (p.exhibit.io.storage.bytes / r.corpus.archiveBytes).toFixed(2),
        perFile(p.exhibit.io.queue.total, files),
        perFile(p.exhibit.io.index.pipelineStatements, files),
        mib(p.exhibit.hostPeakRssBytes),
      ]),
    ),
  );
  const steps = r.pairs.filter((p) => p.baseline).map((p) => p.baseline!.steps);
  if (steps.length > 0) {
    out.push('');
    const names = steps[0]!.map((st) => st.name);
    out.push(
      table(
        ['Shell baseline steps (one after another)', 'median wall', 'share'],
        names.map((name) => {
          const wall = median(steps.map((run) => run.find((st) => st.name === name)?.wallMs ?? 0));
          const total = median(r.pairs.map((p) => p.baseline!.wallMs));
          return [name, sec(wall), `${((100 * wall) / total).toFixed(0)} %`];
        }),
      ),
    );
    const failures = r.pairs.flatMap((p) => Object.entries(p.baseline!.failures).map(([k, v]) => `${k} ×${v}`));
    if (failures.length > 0) out.push(`Shell baseline failures: ${failures.join(', ')}`);
  }

  const m = (pick: (p: PairResult) => number) => median(r.pairs.map(pick));
  const floorMs = r.reference.floor.cpuMsPerFile;
  const hostCpu = m((p) => p.exhibit.hostCpuMsPerFile);
  const treeCpu = m((p) => p.exhibit.hostAndAzuriteCpuMsPerFile);
  const read = m((p) => p.exhibit.io.storage.bytes);
  const d = r.pairs[r.detailedPair - 1]!.exhibit.io;
  const byContainer = Object.entries(d.storage.byContainer)
    .sort((a, b) => b[1] - a[1])
    .map(([c, b]) => `${c} ${mb(b)}`)
    .join(', ');
  out.push('');
  out.push('Per file (medians of the pairs; Exhibit counted from upload start to completion):');
  const exhibitFps = m((p) => p.exhibit.filesPerSec);
  if (withBaseline) {
    const baselineFps = m((p) => p.baseline!.filesPerSec);
    out.push(`  files/s: Exhibit ${exhibitFps.toFixed(2)}, shell baseline ${baselineFps.toFixed(2)}; pair ratios ${r.pairs.map((p) => formatRatio(pairRatio({ baselineFilesPerSec: p.baseline!.filesPerSec, exhibitFilesPerSec: p.exhibit.filesPerSec }))).join(', ')}`);
    const baselineCpu = r.pairs.every((p) => p.baseline!.cpuMsPerFile !== null) ? m((p) => p.baseline!.cpuMsPerFile!) : null;
    out.push(`  CPU per file: shell baseline tools ${ms(baselineCpu)}`);
  } else {
    out.push(`  files/s: Exhibit ${exhibitFps.toFixed(2)}; shell baseline skipped`);
  }
  out.push(`  host CPU per file ÷ work floor per file: ${hostCpu.toFixed(0)} ms ÷ ${floorMs.toFixed(1)} ms = ${(hostCpu / floorMs).toFixed(2)} (host + Azurite ${treeCpu.toFixed(0)} ms: ${(treeCpu / floorMs).toFixed(2)})`);
  if (r.pairs.every((p) => p.exhibit.statusPollsHostCpuMsPerFile !== undefined)) {
    const polls = m((p) => p.exhibit.statusPollsHostCpuMsPerFile!);
    const own = m((p) => p.exhibit.hostCpuMsPerFile - p.exhibit.statusPollsHostCpuMsPerFile!);
    out.push(`    of which the bench's own status polls ${polls.toFixed(0)} ms (pair ${r.detailedPair}: ${d.index.statusPolls} polls); without them ${own.toFixed(0)} ms ÷ ${floorMs.toFixed(1)} ms = ${(own / floorMs).toFixed(2)}`);
  }
  if (r.pairs.every((p) => p.exhibit.idleHostCpuMsPerFile !== undefined)) {
    out.push(
      `    of which follows wall time, not files (the idle host's ${m((p) => p.exhibit.idleHostCpuMsPerSec!).toFixed(1)} ms of CPU per s × the run's length): ` +
        `${m((p) => p.exhibit.idleHostCpuMsPerFile!).toFixed(0)} ms`,
    );
  }
  out.push(
    `  bytes read from storage ÷ evidence bytes: ${mb(read)} ÷ ${mb(r.corpus.archiveBytes)} = ${(read / r.corpus.archiveBytes).toFixed(2)} ` +
      `(pair ${r.detailedPair}: ${d.storage.requests} blob GETs, ${mb(d.storage.rangedBytes)} of them ranged; by container ${byContainer || 'none'})`,
  );
  out.push(
    `  queue operations per file: ${perFile(m((p) => p.exhibit.io.queue.total), files)} ` +
      `(pair ${r.detailedPair}: ${d.queue.sends} sends, ${d.queue.receives} receives with messages, ${d.queue.deletes} deletes, ${d.queue.updates} updates; ` +
      `not counted: ${d.queue.emptyReceives} empty receives (polling), ${d.queue.other} other)`,
  );
  out.push(
    `  index statements per file: ${perFile(m((p) => p.exhibit.io.index.pipelineStatements), files)} ` +
      `(pair ${r.detailedPair}: ${d.index.statements} statements in ${d.index.transactions} transactions, less the bench's ${d.index.statusPolls} status polls × ${d.index.statementsPerStatusPoll.toFixed(1)} statements)`,
  );
  const peak = Math.max(...r.pairs.map((p) => p.exhibit.hostPeakRssBytes));
  const hwms = r.pairs.map((p) => p.exhibit.hostHwmBytes).filter((v): v is number => v !== null);
  out.push(
    `  peak memory: host RSS ${mib(peak)} (largest of ${r.pairs.length} runs; VmHWM ${hwms.length ? mib(Math.max(...hwms)) : 'n/a'}); ` +
      `Azurite ${mib(Math.max(...r.pairs.map((p) => p.exhibit.azuritePeakRssBytes)))}; ` +
      `index process ${mib(Math.max(...r.pairs.map((p) => p.exhibit.indexPeakRssBytes ?? 0)))}, host + index at one sample ${mib(Math.max(...r.pairs.map((p) => p.exhibit.hostAndIndexPeakRssBytes ?? 0)))}`,
  );
  out.push('');
  out.push(withBaseline ? ratioLine(r.pairs.map((p) => ({ baselineFilesPerSec: p.baseline!.filesPerSec, exhibitFilesPerSec: p.exhibit.filesPerSec }))) : (skipped ?? 'shell baseline skipped'));
  return out.join('\n');
}
