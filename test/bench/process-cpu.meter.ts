import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time of the host tree and of the whole machine, from /proc (Linux).
 * Wall time on a shared machine depends on what else runs; CPU seconds per
 * file do much less, so they tell whether a throughput target is reachable
 * on N cores at all (N ÷ CPU seconds per file is the ceiling).
 */

export interface CpuSnapshot {
  /** Host node process, plus the children it has reaped (ffmpeg, ffprobe). */
  hostSec: number;
  azuriteSec: number;
  /** All CPUs of the machine: time not idle, and all time. */
  machineBusySec: number;
  machineTotalSec: number;
}

export interface CpuUsage {
  hostSec: number;
  azuriteSec: number;
  /** Share of the machine's CPU time that was busy, ours and everyone else's. */
  machineBusyShare: number;
  /** Share of the machine's CPU time used by the host tree. */
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

/** utime + stime (+ cutime + cstime when `withReapedChildren`), in seconds; 0 for a process that is gone. */
function processCpuSec(pid: number, withReapedChildren: boolean): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    const at = (field: number) => Number(fields[field - 3]);
    const ticks = at(14) + at(15) + (withReapedChildren ? at(16) + at(17) : 0);
    return ticks / clockTicks();
  } catch {
    return 0;
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

export function cpuSnapshot(hostPid: number, azuritePids: readonly number[]): CpuSnapshot {
  const machine = machineCpuSec();
  return {
    hostSec: processCpuSec(hostPid, true),
    azuriteSec: azuritePids.reduce((s, pid) => s + processCpuSec(pid, false), 0),
    machineBusySec: machine.busy,
    machineTotalSec: machine.total,
  };
}

export function cpuBetween(from: CpuSnapshot, to: CpuSnapshot): CpuUsage {
  const total = to.machineTotalSec - from.machineTotalSec;
  const hostSec = to.hostSec - from.hostSec;
  const azuriteSec = to.azuriteSec - from.azuriteSec;
  return {
    hostSec,
    azuriteSec,
    machineBusyShare: total > 0 ? (to.machineBusySec - from.machineBusySec) / total : 0,
    treeShare: total > 0 ? (hostSec + azuriteSec) / total : 0,
  };
}
