import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** Parent pid and state of a process from /proc/<pid>/stat; null when there is no such process. */
function procStat(pid: number): { ppid: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** True while `pid` is a running process (a zombie waiting to be reaped has stopped running). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(pid);
  return stat === null ? process.platform !== 'linux' : stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * Stops each of `pids` with SIGSTOP and waits until every thread of each is seen stopped: the
 * signal is delivered asynchronously, so right after kill() a loaded machine may still run the
 * process for a while (and let it write). Linux only; throws after `timeoutMs`.
 */
export async function stopAndWait(pids: number[], timeoutMs = 10_000): Promise<void> {
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  const deadline = Date.now() + timeoutMs;
  const allStopped = (pid: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return true; // gone: it cannot write either
    }
    return tasks.every((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
        return state === 'T' || state === 't' || state === 'Z' || state === 'X';
      } catch {
        return true; // the thread ended
      }
    });
  };
  while (!pids.every(allStopped)) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} not all stopped after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every process below `pid` (children, grandchildren, … whatever their process group). Linux only. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(name));
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function eventually(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
