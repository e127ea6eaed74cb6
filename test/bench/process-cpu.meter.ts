import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU time of the host tree and of the whole machine, from /proc (Linux).
 * Wall time on a shared machine depends on what else runs; CPU seconds per
 * file do much less, so they tell whether a throughput target is reachable
 * on N cores at all (N ÷ CPU seconds per file is the ceiling).
 */

export interface CpuSnapshot {
  /** Host node process, plus the children it has reaped (ffmpeg, ffprobe). */
  hostSec: number;
  /** Parts of hostSec: the JavaScript thread and the reaped children. */
  hostMainThreadSec: number;
  hostChildrenSec: number;
  azuriteSec: number;
  /** The index process (PGlite served over loopback; 0 with a PostgreSQL server). */
  indexSec: number;
  /** All CPUs of the machine: time not idle, and all time. */
  machineBusySec: number;
  machineTotalSec: number;
}

export interface CpuUsage {
  hostSec: number;
  /** The event loop thread: JavaScript, PGlite (WebAssembly), synchronous hashing. */
  hostMainThreadSec: number;
  /** sharp's libvips worker threads (decoding, resizing, encoding). */
  hostLibvipsSec: number;
  /** ffmpeg / ffprobe runs the host waited for. */
  hostChildrenSec: number;
  /** The rest: V8 GC and compiler helpers, the libuv pool, threads that have exited. */
  hostOtherThreadsSec: number;
  azuriteSec: number;
  /** The index process: PGlite's WebAssembly, the wire server and its runtime (0 with a PostgreSQL server). */
  indexSec: number;
  /** Share of the machine's CPU time that was busy, ours and everyone else's. */
  machineBusyShare: number;
  /** Share of the machine's CPU time used by the host tree (host, Azurite, index process). */
  treeShare: number;
}

let ticksPerSec: number | undefined;
function clockTicks(): number {
  if (ticksPerSec === undefined) {
    try {
      ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSec = 100; // USER_HZ on every mainstream Linux
    }
  }
  return ticksPerSec;
}

/** Own (utime + stime) and reaped children's (cutime + cstime) CPU seconds from a /proc stat file; zeros if gone. */
function statCpuSec(file: string): { own: number; children: number } {
  try {
    const text = readFileSync(file, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    const at = (field: number) => Number(fields[field - 3]);
    return { own: (at(14) + at(15)) / clockTicks(), children: (at(16) + at(17)) / clockTicks() };
  } catch {
    return { own: 0, children: 0 };
  }
}

/**
 * libvips starts and retires worker threads as it goes, so a before/after
 * snapshot misses most of them: sample every thread of the host every 100 ms
 * and keep the last CPU time seen per thread. (A thread's last < 100 ms
 * before it exits is lost; those seconds land in "other threads".)
 */
export class LibvipsThreadTracker {
  private readonly seen = new Map<string, { baseline: number; last: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 100);
  }

  private sample(initial: boolean): void {
    try {
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
        const comm = readFileSync(`/proc/${this.pid}/task/${tid}/comm`, 'utf8');
        if (!comm.startsWith('libvips')) continue;
        const cpu = statCpuSec(`/proc/${this.pid}/task/${tid}/stat`).own;
        const entry = this.seen.get(tid);
        // Threads born after the start count from zero; those already there from where they were.
        if (entry) entry.last = Math.max(entry.last, cpu);
        else this.seen.set(tid, { baseline: initial ? cpu : 0, last: cpu });
      }
    } catch {
      // process or thread gone
    }
  }

  stop(): number {
    this.sample(false);
    clearInterval(this.timer);
    return [...this.seen.values()].reduce((sum, t) => sum + t.last - t.baseline, 0);
  }
}

function machineCpuSec(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = values;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: (total - idle - iowait) / clockTicks(), total: total / clockTicks() };
}

export function cpuSnapshot(hostPid: number, azuritePids: readonly number[], indexPids: readonly number[] = []): CpuSnapshot {
  const machine = machineCpuSec();
  const host = statCpuSec(`/proc/${hostPid}/stat`);
  return {
    hostSec: host.own + host.children,
    hostMainThreadSec: statCpuSec(`/proc/${hostPid}/task/${hostPid}/stat`).own,
    hostChildrenSec: host.children,
    azuriteSec: azuritePids.reduce((s, pid) => s + statCpuSec(`/proc/${pid}/stat`).own, 0),
    indexSec: indexPids.reduce((s, pid) => s + statCpuSec(`/proc/${pid}/stat`).own, 0),
    machineBusySec: machine.busy,
    machineTotalSec: machine.total,
  };
}

export function cpuBetween(from: CpuSnapshot, to: CpuSnapshot, hostLibvipsSec: number): CpuUsage {
  const total = to.machineTotalSec - from.machineTotalSec;
  const hostSec = to.hostSec - from.hostSec;
  const azuriteSec = to.azuriteSec - from.azuriteSec;
  const indexSec = to.indexSec - from.indexSec;
  const hostMainThreadSec = to.hostMainThreadSec - from.hostMainThreadSec;
  const hostChildrenSec = to.hostChildrenSec - from.hostChildrenSec;
  return {
    hostSec,
    hostMainThreadSec,
    hostLibvipsSec,
    hostChildrenSec,
    hostOtherThreadsSec: Math.max(0, hostSec - hostMainThreadSec - hostLibvipsSec - hostChildrenSec),
    azuriteSec,
    indexSec,
    machineBusyShare: total > 0 ? (to.machineBusySec - from.machineBusySec) / total : 0,
    treeShare: total > 0 ? (hostSec + azuriteSec + indexSec) / total : 0,
  };
}

export interface CpuSeriesPoint {
  tSec: number;
  /** Percent of one core over the preceding second (200 = both cores of a 2-core machine). */
  hostPct: number;
  azuritePct: number;
  indexPct: number;
  /** All processes of the machine, same unit. */
  machinePct: number;
}

/** CPU use once a second, to see which phase of a run leaves cores idle. */
export function startCpuSeries(hostPid: number, azuritePids: () => readonly number[], indexPids: () => readonly number[] = () => []): { stop(): CpuSeriesPoint[] } {
  const points: CpuSeriesPoint[] = [];
  const startedAt = performance.now();
  let previous = cpuSnapshot(hostPid, azuritePids(), indexPids());
  let previousAt = startedAt;
  const tick = () => {
    const now = performance.now();
    const current = cpuSnapshot(hostPid, azuritePids(), indexPids());
    const seconds = (now - previousAt) / 1000;
    if (seconds > 0) {
      const pct = (sec: number) => Math.round((100 * sec) / seconds);
      points.push({
        tSec: Math.round((now - startedAt) / 1000),
        hostPct: pct(current.hostSec - previous.hostSec),
        azuritePct: pct(current.azuriteSec - previous.azuriteSec),
        indexPct: pct(current.indexSec - previous.indexSec),
        machinePct: pct(current.machineBusySec - previous.machineBusySec),
      });
    }
    previous = current;
    previousAt = now;
  };
  const timer = setInterval(tick, 1000);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return points;
    },
  };
}
