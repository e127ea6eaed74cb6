import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';

/**
 * One local stack per data folder. PGlite is single-process and Azurite keeps
 * part of its state in memory, so two hosts on one folder corrupt it; the
 * second must be refused before it opens anything there.
 *
 * The lock is a file in the data folder naming its holder. It is created
 * atomically (written aside, then hard-linked into place, so nobody ever
 * reads it half-written) and removed on a clean exit. A host that died
 * without removing it (SIGKILL, power cut) leaves a stale lock: its pid is
 * gone, or now belongs to another process (told apart by the kernel's start
 * time of the pid), and the next start takes it over.
 */
export const DATA_FOLDER_LOCK_FILE = 'host.lock';

export interface DataFolderLockPorts {
  api: number;
  /** Azurite's ports, when the host runs its own. */
  blob?: number;
  queue?: number;
}

export interface DataFolderLockRecord {
  pid: number;
  hostname: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat), where /proc exists; tells a recycled pid from the holder. */
  pidStartTicks: number | null;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot is stale whatever its pid. */
  bootId: string | null;
  startedAt: string;
  ports: DataFolderLockPorts;
  /** Tells this holder's lock from a later one with the same pid. */
  token: string;
}

export interface DataFolderLock {
  readonly path: string;
  readonly record: DataFolderLockRecord;
  /** The holder of the stale lock this one replaced, if any (a host that did not stop cleanly). */
  readonly tookOverFrom: DataFolderLockRecord | null;
  /** Removes the lock if it is still ours. Synchronous, so it can run in an 'exit' handler. */
  release(): void;
}

type Existing = { kind: 'absent' } | { kind: 'held'; record: DataFolderLockRecord } | { kind: 'unreadable'; text: string };

const TAKEOVER_MUTEX_STALE_MS = 10_000;
const TAKEOVER_WAIT_MS = 20_000;

/** Kernel start time and state of a process, from /proc/<pid>/stat; null where there is no /proc or no such process. */
export function procStat(pid: number): { startTicks: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0] ?? '';
    const startTicks = Number(fields[19]);
    return Number.isSafeInteger(startTicks) ? { startTicks, state } : null;
  } catch {
    return null;
  }
}

/** This boot's id (/proc/sys/kernel/random/boot_id); null where there is no /proc. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is DataFolderLockRecord {
  const r = value as Partial<DataFolderLockRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isSafeInteger(r.pid) &&
    (r.pid ?? 0) > 0 &&
    typeof r.hostname === 'string' &&
    typeof r.token === 'string' &&
    typeof r.ports === 'object' &&
    r.ports !== null
  );
}

function readExisting(lockPath: string): Existing {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw new ExhibitError('conflict', `cannot read the data folder lock ${lockPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) return { kind: 'held', record: parsed };
  } catch {
    // falls through
  }
  return { kind: 'unreadable', text };
}

/** 'alive' when the recorded process still runs here, 'dead' when it certainly does not, 'elsewhere' when it ran on another machine. */
export function holderState(record: DataFolderLockRecord): 'alive' | 'dead' | 'elsewhere' {
  if (record.hostname !== os.hostname()) return 'elsewhere';
  const boot = bootId();
  if (boot && record.bootId && boot !== record.bootId) return 'dead';
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user; only ESRCH says it is gone.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  const now = procStat(record.pid);
  if (now) {
    if (now.state === 'Z' || now.state === 'X') return 'dead';
    if (record.pidStartTicks !== null && now.startTicks !== record.pidStartTicks) return 'dead';
  }
  return 'alive';
}

function describePorts(ports: DataFolderLockPorts): string {
  const parts = [`API port ${ports.api}`];
  if (ports.blob !== undefined) parts.push(`Azurite blob port ${ports.blob}`);
  if (ports.queue !== undefined) parts.push(`queue port ${ports.queue}`);
  return parts.join(', ');
}

function busy(dataDir: string, lockPath: string, record: DataFolderLockRecord, where: 'alive' | 'elsewhere'): ExhibitError {
  const holder = `pid ${record.pid}${where === 'elsewhere' ? ` on ${record.hostname}` : ''}, started ${record.startedAt}; ${describePorts(record.ports)}`;
  const advice =
    where === 'elsewhere'
      ? `If no Exhibit host runs on ${record.hostname} any more, delete ${lockPath}.`
      : `Stop it first (Ctrl+C in its terminal, or kill ${record.pid}), or start this one with another EXHIBIT_DATA_DIR and other ports.`;
  return new ExhibitError('conflict', `the data folder ${dataDir} is in use by another Exhibit host (${holder}). ${advice}`, {
    details: { holder: record, lockPath },
  });
}

/** Puts `record` at `lockPath` only if nothing is there. False when something is. */
function createExclusive(lockPath: string, record: DataFolderLockRecord): boolean {
  const temp = `${lockPath}.${record.pid}.${record.token}.tmp`;
  writeFileSync(temp, JSON.stringify(record), { flag: 'wx' });
  try {
    linkSync(temp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  } finally {
    unlinkSync(temp);
  }
  // A file system without hard links: O_EXCL create. A reader may then see it empty
  // for an instant, which readLock waits out.
  try {
    writeFileSync(lockPath, JSON.stringify(record), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Replaces the (stale) lock at `lockPath` with `record` in one rename. Only under the takeover mutex. */
function replace(lockPath: string, record: DataFolderLockRecord): void {
  const temp = `${lockPath}.${record.pid}.${record.token}.tmp`;
  writeFileSync(temp, JSON.stringify(record), { flag: 'wx' });
  try {
    renameSync(temp, lockPath);
  } catch (err) {
    unlinkSync(temp);
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `body` (synchronous, so it holds the mutex for milliseconds) while
 * holding `<lock>.takeover`, a directory created atomically. Two starts that
 * both found the same stale lock must not both replace it; this makes the
 * check and the replacement one step. A mutex left by a process killed inside
 * that step is removed once it is clearly older than the step can take.
 */
async function withTakeoverMutex<T>(lockPath: string, body: () => T): Promise<T> {
  const mutex = `${lockPath}.takeover`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(mutex);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - statSync(mutex).mtimeMs > TAKEOVER_MUTEX_STALE_MS) rmdirSync(mutex);
    } catch {
      // gone already, or removed by another waiter
    }
    if (Date.now() > deadline) throw new ExhibitError('conflict', `another start is taking over the data folder lock ${lockPath}; try again`);
    await sleep(50);
  }
  try {
    return body();
  } finally {
    rmdirSync(mutex);
  }
}

/**
 * Takes the data folder's lock, creating the folder if need be (and nothing
 * else in it). Throws ExhibitError 'conflict' naming the running holder's pid
 * and ports when another live host has it; reads only, in that case.
 */
export async function acquireDataFolderLock(dataDir: string, ports: DataFolderLockPorts): Promise<DataFolderLock> {
  const lockPath = path.join(dataDir, DATA_FOLDER_LOCK_FILE);
  const own = procStat(process.pid);
  const record: DataFolderLockRecord = {
    pid: process.pid,
    hostname: os.hostname(),
    pidStartTicks: own?.startTicks ?? null,
    bootId: bootId(),
    startedAt: new Date().toISOString(),
    ports,
    token: randomUUID(),
  };

  /** Reads the lock; an unreadable one is given a moment (an O_EXCL create being written) before it counts as stale. */
  const readLock = async (): Promise<Existing> => {
    let existing = readExisting(lockPath);
    for (let i = 0; i < 10 && existing.kind === 'unreadable'; i++) {
      await sleep(100);
      existing = readExisting(lockPath);
    }
    return existing;
  };
  const refuseIfLive = (existing: Existing) => {
    if (existing.kind !== 'held') return;
    const state = holderState(existing.record);
    if (state !== 'dead') throw busy(dataDir, lockPath, existing.record, state);
  };

  for (let attempt = 0; attempt < 20; attempt++) {
    const existing = await readLock();
    // Checked before anything is written, so a refused start leaves the folder as it found it.
    refuseIfLive(existing);
    if (existing.kind === 'absent') {
      mkdirSync(dataDir, { recursive: true });
      if (createExclusive(lockPath, record)) return handle(lockPath, record, null);
      continue; // another start created it in between: look again
    }
    const took = await withTakeoverMutex(lockPath, () => {
      const now = readExisting(lockPath);
      refuseIfLive(now);
      if (now.kind === 'absent') return createExclusive(lockPath, record) ? { previous: null } : null;
      if (now.kind === 'held' && existing.kind === 'held' && now.record.token !== existing.record.token) return null; // changed: look again
      replace(lockPath, record);
      return { previous: now.kind === 'held' ? now.record : null };
    });
    if (took) return handle(lockPath, record, took.previous);
  }
  throw new ExhibitError('conflict', `could not take the data folder lock ${lockPath}: it kept changing (several starts at once?)`);
}

function handle(lockPath: string, record: DataFolderLockRecord, tookOverFrom: DataFolderLockRecord | null): DataFolderLock {
  let released = false;
  return {
    path: lockPath,
    record,
    tookOverFrom,
    release() {
      if (released) return;
      released = true;
      const now = readExisting(lockPath);
      // Never remove a lock that is no longer ours (someone judged us dead and took over).
      if (now.kind === 'held' && now.record.token === record.token) {
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      }
    },
  };
}
