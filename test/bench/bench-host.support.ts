/**
 * What the benches share about a measured local host: waiting for an evidence
 * item to complete, and the counter snapshots of the measuring preloads
 * (sql-stats.preload.mjs, azurite-requests.preload.mjs) with Azurite's ports
 * named. Used by bench.ts (ZIP of camera photos) and disk-image.bench.ts.
 */
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import type { AzuriteRequestStat, IoFigures, SqlStat } from './bench-results.js';
import { summariseHostLog } from './host-log.parser.js';
import { diffRows, indexStatements, queueOperations, storageReads } from './io-figures.summary.js';
import { cpuBetween, cpuSnapshot, LibvipsThreadTracker, startCpuSeries } from './process-cpu.meter.js';
import { startMemorySampler } from './process-memory.sampler.js';

const say = (line = '') => process.stdout.write(`${line}\n`);

export const BENCH_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the benches write results, run logs, profiles and cached corpora (git-ignored). */
export const BENCH_OUT_DIR = path.join(BENCH_ROOT, 'bench-out');

/** The start of a bench run: Linux only (memory and CPU come from /proc), its time stamp and load average, bench-out/runs made. */
export async function startBenchRun(): Promise<{ startedAt: Date; stamp: string; loadAvgAtStart: number[] }> {
  if (process.platform !== 'linux') throw new Error('the benchmark reads memory from /proc and needs Linux');
  const startedAt = new Date();
  await mkdir(path.join(BENCH_OUT_DIR, 'runs'), { recursive: true });
  return { startedAt, stamp: startedAt.toISOString().replace(/[:.]/g, '-'), loadAvgAtStart: os.loadavg() };
}

/** Polls the evidence status until complete; `completedAt` is performance.now() at the poll that saw it. */
export async function waitForCompletion(
  client: ApiClient,
  caseId: string,
  evidenceId: string,
  timeoutMs: number,
): Promise<{ completedAt: number; status: any; polls: number }> {
  const deadline = performance.now() + timeoutMs;
  let lastReport = 0;
  for (let polls = 1; ; polls++) {
    const res = await client.request('GET', `/cases/${caseId}/evidence/${evidenceId}/status`);
    const now = performance.now();
    if (res.status === 200) {
      const status = (await res.json()) as any;
      if (status.complete) return { completedAt: now, status, polls };
      if (now - lastReport > 5000) {
        lastReport = now;
        const byStage = Object.entries(status.files.byStage as Record<string, number>)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ');
        say(`  … ${status.files.total} files known (${byStage})`);
      }
    } else {
      await res.body?.cancel();
    }
    if (now > deadline) throw new Error(`evidence not complete after ${timeoutMs / 60_000} min`);
    // Each status call costs the host index queries, so poll no faster than the
    // e2e helper does; the host's own completion time is taken from its log.
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every file of an evidence item (known-good ones too, which the review hides by default), by pages of 500, sorted by path. */
export async function listFiles(client: ApiClient, caseId: string, evidenceId: string): Promise<any[]> {
  const items: any[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await client.get(`/cases/${caseId}/files?evidenceId=${evidenceId}&includeKnownGood=true&limit=500&offset=${offset}&sort=path`);
    items.push(...page.items);
    if (page.items.length < 500) return items;
  }
}

/**
 * Asks the measuring preloads of the host and Azurite for a snapshot of their
 * counters (SIGUSR2; they install the handler, see the preloads) and reads it.
 * Only processes that loaded the preloads are signalled: without the handler,
 * SIGUSR2 would end them.
 */
export async function markCounters(dir: string, n: number, hostPid: number, azuritePids: readonly number[]) {
  process.kill(hostPid, 'SIGUSR2');
  for (const pid of azuritePids) process.kill(pid, 'SIGUSR2');
  const read = async <T>(file: string): Promise<T[]> => {
    const deadline = performance.now() + 10_000;
    for (;;) {
      try {
        await access(file);
        return JSON.parse(await readFile(file, 'utf8')) as T[];
      } catch (err) {
        // Written synchronously by the handler, so a half-written file is not seen twice in a row.
        if (performance.now() > deadline) throw new Error(`no counter snapshot ${file}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const sql = await read<SqlStat>(path.join(dir, `mark-${n}-sql-stats-${hostPid}.json`));
  const requests: AzuriteRequestStat[] = [];
  for (const pid of azuritePids) requests.push(...(await read<AzuriteRequestStat>(path.join(dir, `mark-${n}-azurite-requests-${pid}.json`))));
  return { sql, requests };
}

/** The preload only knows ports; the bench knows which is which. */
export function nameServices(rows: AzuriteRequestStat[] | null, h: HostProcessEnv): AzuriteRequestStat[] | null {
  const names: Record<string, string> = { [h.blobPort]: 'blob', [h.queuePort]: 'queue' };
  return rows?.map((r) => ({ ...r, kind: r.kind.replace(/^(\S+)/, (port) => names[port] ?? `port ${port}`) })) ?? null;
}

/** NODE_OPTIONS and variables that load the counting preloads (and the CPU profiler when asked) into the host and Azurite. */
export function measuringEnv(root: string, profileDir: string, options: { cpuProfile: boolean; memoryBreakdownMs?: number | null }): NodeJS.ProcessEnv {
  // Node 20 refuses --cpu-prof in NODE_OPTIONS; preloads start the profiler
  // and count SQL and requests instead. Azurite inherits the environment
  // too, so its CPU profile and request counts land next to the host's.
  const memoryBreakdown = options.memoryBreakdownMs != null;
  const preloads = [
    ...(options.cpuProfile ? ['test/bench/cpu-profile.preload.mjs'] : []),
    ...(memoryBreakdown ? ['test/bench/memory-breakdown.preload.mjs'] : []),
    'test/bench/sql-stats.preload.mjs',
    'test/bench/azurite-requests.preload.mjs',
  ].map((p) => `--import ${path.join(root, p)}`);
  return {
    NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', ...preloads].join(' ').trim(),
    EXHIBIT_BENCH_PROFILE_DIR: profileDir,
    EXHIBIT_BENCH_IO_STATS: 'true',
    ...(memoryBreakdown ? { EXHIBIT_BENCH_MEMORY_BREAKDOWN_MS: String(options.memoryBreakdownMs) } : {}),
  };
}

export interface MeasuredHostOptions<Check> {
  /** Names the run's profile folder and host log copy. */
  stamp: string;
  caseId: string;
  evidenceId: string;
  pollMs: number | null;
  concurrency: number | null;
  databaseUrl: string | null;
  /** EXHIBIT_MEMBER_CACHE_MIB when set. */
  memberCacheMib?: number | null;
  cpuProfile: boolean;
  /** Milliseconds between memory-breakdown.preload.mjs's samples of the host (a diagnostic: it perturbs the run); null or absent: off. */
  memoryBreakdownMs?: number | null;
  ioStats: boolean;
  keep: boolean;
  timeoutMs: number;
  /** Uploads the evidence; timed from its start to the evidence's completion. */
  upload: (h: HostProcessEnv) => Promise<void>;
  /** Checks the pipeline's results against what the bench built. */
  check: (status: any, items: any[]) => Check;
  /** Before the host starts, with its data folder made (the known-hashes bench puts its index copy there). */
  beforeStart?: (h: HostProcessEnv) => Promise<void>;
  /** CPU seconds the run spent outside the host tree, read at completion (the index server's backends), or null. */
  externalCpuSec?: () => Promise<number | null>;
}

/**
 * One measured run of the local host: start it with the counting preloads,
 * upload, wait for completion, then take memory (100-ms samples of the host and
 * Azurite), CPU, the preloads' storage/queue/index counters between upload
 * start and completion, the per-stage table of the host log, and the check.
 */
export async function runMeasuredHost<Check>(options: MeasuredHostOptions<Check>) {
  const { caseId: CASE, evidenceId: EVIDENCE } = options;
  const OUT_DIR = BENCH_OUT_DIR;
  // The statement and request counters run in every run: the per-file figures come from them.
  const profileDir = path.join(OUT_DIR, 'profiles', options.stamp);
  await mkdir(profileDir, { recursive: true });
  // The product's poll interval (config default), not the tests' faster one, unless asked.
  const extraEnv: NodeJS.ProcessEnv = { EXHIBIT_LOG_LEVEL: 'debug', EXHIBIT_POLL_INTERVAL_MS: options.pollMs === null ? undefined : String(options.pollMs) };
  if (options.concurrency !== null) extraEnv.EXHIBIT_CONCURRENCY = String(options.concurrency);
  if (options.databaseUrl !== null) extraEnv.DATABASE_URL = options.databaseUrl;
  if (options.memberCacheMib != null) extraEnv.EXHIBIT_MEMBER_CACHE_MIB = String(options.memberCacheMib);
  Object.assign(extraEnv, measuringEnv(BENCH_ROOT, profileDir, { cpuProfile: options.cpuProfile, memoryBreakdownMs: options.memoryBreakdownMs ?? null }));
  const h: HostProcessEnv = await allocateHostEnv(extraEnv);
  let host: HostProcess | undefined;
  const stopOnSignal = () => {
    void (async () => {
      await host?.stop();
      if (!options.keep) await removeHostEnv(h);
      process.exit(130);
    })();
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    await options.beforeStart?.(h);
    say(`starting the local host (data in ${h.dataDir})…`);
    // A loaded machine (other benches on the same two cores) can take more than the default 90 s to start the stack.
    host = await startHostProcess(h, { readyTimeoutMs: 300_000 });
    const sampler = startMemorySampler(host.child.pid!);
    const admin = await ApiClient.login(h, 'bench-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'bench', role: 'supervisor' });
    const client = await ApiClient.login(h, 'bench', ['supervisor']);
    const hostPid = host.child.pid!;
    const azuritePids = sampler.azuritePids();
    if (azuritePids.length === 0) throw new Error('no Azurite process found under the host');
    const atStart = await markCounters(profileDir, 1, hostPid, azuritePids);
    const externalAtStart = (await options.externalCpuSec?.()) ?? null;
    const cpuAtStart = cpuSnapshot(hostPid, sampler.azuritePids(), sampler.indexPids());
    const libvips = new LibvipsThreadTracker(hostPid);
    const cpuSeries = startCpuSeries(hostPid, () => sampler.azuritePids(), () => sampler.indexPids());
    const uploadStart = performance.now();
    const uploadStartEpochMs = Date.now();
    await options.upload(h);
    const uploadEnd = performance.now();
    const { completedAt, status, polls } = await waitForCompletion(client, CASE, EVIDENCE, options.timeoutMs);
    const cpu = { ...cpuBetween(cpuAtStart, cpuSnapshot(hostPid, sampler.azuritePids(), sampler.indexPids()), libvips.stop()), series: cpuSeries.stop() };
    const externalAtEnd = (await options.externalCpuSec?.()) ?? null;
    const memory = sampler.stop();
    const loadAvgAtEnd = os.loadavg();
    const atComplete = await markCounters(profileDir, 2, hostPid, azuritePids);
    // What one status call costs the index and the host's CPU, to tell the bench's own polling from the pipeline's work.
    const probeCalls = 5;
    const indexPids = sampler.indexPids();
    const cpuBeforeProbe = cpuSnapshot(hostPid, azuritePids, indexPids);
    for (let i = 0; i < probeCalls; i++) await client.get(`/cases/${CASE}/evidence/${EVIDENCE}/status`);
    const cpuAfterProbe = cpuSnapshot(hostPid, azuritePids, indexPids);
    const statusPollHostSec = (cpuAfterProbe.hostSec - cpuBeforeProbe.hostSec) / probeCalls;
    const statusPollIndexSec = (cpuAfterProbe.indexSec - cpuBeforeProbe.indexSec) / probeCalls;
    const afterProbe = await markCounters(profileDir, 3, hostPid, azuritePids);
    // What the host costs doing nothing (queue polling, timers, its runtime's housekeeping): the part of its CPU
    // that follows the run's wall time, not its files, so a loaded machine's longer run costs more per file.
    const IDLE_MS = 5000;
    const idleFrom = cpuSnapshot(hostPid, azuritePids, indexPids);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleTo = cpuSnapshot(hostPid, azuritePids, indexPids);
    const idleSec = (performance.now() - idleStart) / 1000;
    const idle = {
      hostSecPerSec: (idleTo.hostSec - idleFrom.hostSec) / idleSec,
      azuriteSecPerSec: (idleTo.azuriteSec - idleFrom.azuriteSec) / idleSec,
      indexSecPerSec: (idleTo.indexSec - idleFrom.indexSec) / idleSec,
    };
    const sqlInRun = diffRows(atStart.sql, atComplete.sql, (r) => r.sql);
    const requestsInRun = nameServices(diffRows(atStart.requests, atComplete.requests, (r) => r.kind), h)!;
    const index = indexStatements(sqlInRun);
    const perStatusPoll = indexStatements(diffRows(atComplete.sql, afterProbe.sql, (r) => r.sql)).statements / probeCalls;
    const io: IoFigures = {
      storage: storageReads(requestsInRun),
      queue: queueOperations(requestsInRun),
      index: { ...index, statusPolls: polls, statementsPerStatusPoll: perStatusPoll, pipelineStatements: Math.max(0, index.statements - polls * perStatusPoll) },
    };
    say(`complete after ${((completedAt - uploadStart) / 1000).toFixed(1)} s; checking results…`);
    const items = await listFiles(client, CASE, EVIDENCE);
    await host.stop();
    host = undefined;

    const hostLog = path.join(OUT_DIR, 'runs', `${options.stamp}-host.log`);
    await mkdir(path.dirname(hostLog), { recursive: true });
    await copyFile(path.join(h.dataDir, 'logs', 'host.log'), hostLog);
    // The index process's log (its memory lines with EXHIBIT_INDEX_MEMORY_LOG_MS); absent with --database-url.
    await copyFile(path.join(h.dataDir, 'logs', 'index-process.log'), path.join(OUT_DIR, 'runs', `${options.stamp}-index-process.log`)).catch(() => undefined);
    const log = summariseHostLog(await readFile(hostLog, 'utf8'));
    return {
      uploadMs: uploadEnd - uploadStart,
      processingMs: completedAt - uploadEnd,
      endToEndMs: completedAt - uploadStart,
      completeLoggedMs: log.completeLoggedAt === null ? null : log.completeLoggedAt - uploadStartEpochMs,
      uploadStartEpochMs,
      check: options.check(status, items),
      memory,
      cpu,
      /**
       * The bench's own status polls while it waited (each costs the host an index
       * snapshot of ~15 statements and an API call) and the host CPU one costs,
       * measured on an idle host right after completion: the part of the host's CPU
       * that is the bench's, not the pipeline's (docs/benchmarks.md).
       */
      statusPolls: { polls, hostSecEach: statusPollHostSec, indexSecEach: statusPollIndexSec },
      /** CPU seconds per second of the idle host and Azurite, measured for 5 s after completion (nothing queued). */
      idle,
      /** CPU seconds outside the host tree between upload start and completion (externalCpuSec), or null. */
      externalCpuSec: externalAtStart === null || externalAtEnd === null ? null : externalAtEnd - externalAtStart,
      log,
      loadAvgAtEnd,
      io,
      sqlStats: options.ioStats ? sqlInRun : null,
      azuriteRequests: options.ioStats ? requestsInRun : null,
      artefacts: {
        hostLog,
        dataDir: options.keep ? h.dataDir : null,
        cpuProfileDir: options.cpuProfile ? profileDir : null,
        memoryBreakdown: options.memoryBreakdownMs != null ? path.join(profileDir, `memory-${hostPid}.jsonl`) : null,
      },
    };
  } finally {
    await host?.stop();
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    if (!options.keep) await removeHostEnv(h);
  }
}
