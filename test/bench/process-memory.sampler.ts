import { readFileSync, readdirSync } from 'node:fs';

/**
 * Resident memory of a process tree read from /proc (Linux only). The host
 * node process is the pipeline; Azurite is its child and stands in for Azure
 * Storage, so it is reported separately, as is the index process (PGlite
 * serving the host over loopback, which stands in for Azure Database for
 * PostgreSQL); anything else the host starts (ffmpeg, ffprobe) is counted as
 * "tools".
 */

export interface MemoryPeaks {
  /** Largest VmRSS seen in the 100-ms samples. */
  hostPeakRssBytes: number;
  azuritePeakRssBytes: number;
  /** The index process (0 with --database-url: no index process). */
  indexPeakRssBytes: number;
  /** Largest host + index process at one sample: what PGlite in the host used to cost in one process. */
  hostAndIndexPeakRssBytes: number;
  /** Largest sum of VmRSS over the other descendants at one sample. */
  toolsPeakRssBytes: number;
  /** Largest sum over the whole tree at one sample. */
  treePeakRssBytes: number;
  /** Kernel high-water marks (VmHWM), read when sampling stops: catches spikes between samples. */
  hostHwmBytes: number | null;
  azuriteHwmBytes: number | null;
  indexHwmBytes: number | null;
  samples: number;
  /** One point per second (the largest of that second), to show whether memory grows with the run. */
  series: Array<{ tSec: number; hostRssBytes: number; azuriteRssBytes: number; indexRssBytes: number; toolsRssBytes: number }>;
}

export interface MemorySampler {
  /** Azurite's pid(s) seen so far, for the CPU meter. */
  azuritePids(): number[];
  /** The index process's pid(s) seen so far, for the CPU meter. */
  indexPids(): number[];
  stop(): MemoryPeaks;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null; // exited between listing and reading
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) for (const c of text.split(/\s+/)) out.push(Number(c));
    }
  } catch {
    // process gone
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const all: number[] = [];
  const stack = childrenOf(pid);
  while (stack.length > 0) {
    const p = stack.pop()!;
    all.push(p);
    stack.push(...childrenOf(p));
  }
  return all;
}

function kindOf(pid: number): 'azurite' | 'index' | 'tool' {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // Azurite's entry script (node_modules/azurite/dist/src/azurite.js), not any argument naming 'azurite': a checkout
    // path may (/work/wt/azurite-cost), and then the index process would pass for Azurite.
    if (cmdline.split('\0').some((a) => /[\\/]azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(a))) return 'azurite';
    // packages/host/src/index-process.main.ts
    if (cmdline.includes('index-process.main')) return 'index';
    return 'tool';
  } catch {
    return 'tool';
  }
}

export function startMemorySampler(hostPid: number, options: { intervalMs?: number } = {}): MemorySampler {
  const startedAt = performance.now();
  const peaks: MemoryPeaks = {
    hostPeakRssBytes: 0,
    azuritePeakRssBytes: 0,
    indexPeakRssBytes: 0,
    hostAndIndexPeakRssBytes: 0,
    toolsPeakRssBytes: 0,
    treePeakRssBytes: 0,
    hostHwmBytes: null,
    azuriteHwmBytes: null,
    indexHwmBytes: null,
    samples: 0,
    series: [],
  };
  const azuritePids = new Set<number>();
  const indexPids = new Set<number>();
  const kinds = new Map<number, 'azurite' | 'index' | 'tool'>();

  const sample = () => {
    const host = statusField(hostPid, 'VmRSS') ?? 0;
    let azurite = 0;
    let index = 0;
    let tools = 0;
    for (const pid of descendantsOf(hostPid)) {
      // Classify each pid once: cmdline does not change, and reading it every 100 ms is waste.
      let kind = kinds.get(pid);
      if (!kind) {
        kind = kindOf(pid);
        kinds.set(pid, kind);
        if (kind === 'azurite') azuritePids.add(pid);
        if (kind === 'index') indexPids.add(pid);
      }
      const rss = statusField(pid, 'VmRSS') ?? 0;
      if (kind === 'azurite') azurite += rss;
      else if (kind === 'index') index += rss;
      else tools += rss;
    }
    peaks.samples += 1;
    peaks.hostPeakRssBytes = Math.max(peaks.hostPeakRssBytes, host);
    peaks.azuritePeakRssBytes = Math.max(peaks.azuritePeakRssBytes, azurite);
    peaks.indexPeakRssBytes = Math.max(peaks.indexPeakRssBytes, index);
    peaks.hostAndIndexPeakRssBytes = Math.max(peaks.hostAndIndexPeakRssBytes, host + index);
    peaks.toolsPeakRssBytes = Math.max(peaks.toolsPeakRssBytes, tools);
    peaks.treePeakRssBytes = Math.max(peaks.treePeakRssBytes, host + azurite + index + tools);
    const tSec = Math.floor((performance.now() - startedAt) / 1000);
    const last = peaks.series.at(-1);
    if (last?.tSec === tSec) {
      last.hostRssBytes = Math.max(last.hostRssBytes, host);
      last.azuriteRssBytes = Math.max(last.azuriteRssBytes, azurite);
      last.indexRssBytes = Math.max(last.indexRssBytes, index);
      last.toolsRssBytes = Math.max(last.toolsRssBytes, tools);
    } else {
      peaks.series.push({ tSec, hostRssBytes: host, azuriteRssBytes: azurite, indexRssBytes: index, toolsRssBytes: tools });
    }
  };

  sample();
  const timer = setInterval(sample, options.intervalMs ?? 100);
  return {
    azuritePids: () => [...azuritePids],
    indexPids: () => [...indexPids],
    stop() {
      clearInterval(timer);
      sample();
      peaks.hostHwmBytes = statusField(hostPid, 'VmHWM');
      const azuriteHwms = [...azuritePids].map((pid) => statusField(pid, 'VmHWM')).filter((v): v is number => v !== null);
      peaks.azuriteHwmBytes = azuriteHwms.length > 0 ? Math.max(...azuriteHwms) : null;
      const indexHwms = [...indexPids].map((pid) => statusField(pid, 'VmHWM')).filter((v): v is number => v !== null);
      peaks.indexHwmBytes = indexHwms.length > 0 ? Math.max(...indexHwms) : null;
      return peaks;
    },
  };
}
