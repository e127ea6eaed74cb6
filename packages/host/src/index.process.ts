import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExhibitError, errorMessage, type Logger } from '@exhibit/core';
import { IDENTIFY_REQUEST_CODE } from '@exhibit/index';
import { bootId, procStat } from './data-folder.lock.js';
import type { IndexProcessOpen, IndexProcessReply } from './index-process.main.js';

/** The host waits this long for PGlite to open (a first start creates the database) before giving up. */
export const INDEX_PROCESS_START_TIMEOUT_MS = 120_000;
/** After SIGTERM, the index process has this long to end its session and close PGlite before SIGKILL. */
export const INDEX_PROCESS_STOP_GRACE_MS = 20_000;
/** How long one identify request may take before it counts as unanswered (a busy index process answers none). */
const IDENTIFY_TIMEOUT_MS = 2_000;
/**
 * How long a start waits for a recorded index process that is alive but does not answer (PGlite busy on a long
 * statement blocks its event loop) to answer or exit, before refusing to start: its data directory may be open.
 */
export const INDEX_PROCESS_BUSY_WAIT_MS = 60_000;
const PID_FILE = 'index-process.json';
const ENTRY = fileURLToPath(new URL('./index-process.main.ts', import.meta.url));
/** The user name the host connects as; the server does not check it, the password is what counts. */
const INDEX_USER = 'exhibit';

export interface IndexProcessOptions {
  /** PGlite's data directory (<data dir>/pglite, as when PGlite ran in the host). */
  pgliteDir: string;
  /** Where the pid file lives (the data folder). */
  stateDir: string;
  /** The index process's log (JSON lines). */
  logFile: string;
  logger?: Logger;
  logLevel?: string;
  /** How often the index process logs its RSS and PGlite's WebAssembly memory (EXHIBIT_INDEX_MEMORY_LOG_MS); 0 or absent: never. */
  memoryLogMs?: number;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** See INDEX_PROCESS_BUSY_WAIT_MS. */
  busyWaitMs?: number;
  /**
   * Told once when a start begins waiting for a recorded index process that is alive but does not answer, or is still
   * opening the index (`port` null) (the terminal says so: a silent minute looks like a hang).
   */
  onBusyWait?: (info: { pid: number; port: number | null; waitMs: number }) => void;
}

export interface RunningIndexProcess {
  pid: number;
  port: number;
  /** For the node-postgres adapter: the URL carries no password; `password` is given apart. */
  database: { kind: 'postgres'; url: string; entraAuth: false; password: string; maxConnections: 1; connectTimeoutMs: 0; idleTimeoutMs: 0 };
  /** Settles when the process ends, however it ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

interface PidFile {
  pid: number;
  /** Null in the claim written before the process opens PGlite: it serves on no port yet. */
  port: number | null;
  instanceId: string;
  /**
   * The process's kernel start time (/proc/<pid>/stat) and this boot's id, where /proc exists: a claim with no port has
   * no identify to ask, and these tell its process from a later one given the same pid (after a reboot, most likely).
   */
  pidStartTicks?: number | null;
  bootId?: string | null;
}

/** Written aside, then renamed into place: a host killed mid-write leaves the earlier record or this one, never half of one. */
async function writePidFile(stateDir: string, record: PidFile): Promise<void> {
  const aside = path.join(stateDir, `${PID_FILE}.tmp`);
  await writeFile(aside, JSON.stringify(record));
  await rename(aside, path.join(stateDir, PID_FILE));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is someone else's, so not an index process this user started.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Asks whatever listens on `port` for its instance id (IDENTIFY_REQUEST_CODE).
 * Portable (no /proc): a live pid is taken for the index process only when its
 * recorded port answers with the id this data folder recorded, so a recycled
 * pid is never signalled.
 */
export async function identifyIndexProcess(port: number, timeoutMs = IDENTIFY_TIMEOUT_MS): Promise<string | null> {
  const answer = await askIdentity(port, timeoutMs);
  return answer.kind === 'answered' ? answer.id : null;
}

/**
 * What the recorded port said: `refused` is the only answer that shows nothing listens there; `unanswered`
 * (a timeout, a reset, an over-long reply) says nothing about whether the recorded process holds PGlite.
 */
type IdentifyAnswer = { kind: 'answered'; id: string } | { kind: 'refused' } | { kind: 'unanswered' };

async function askIdentity(port: number, timeoutMs: number): Promise<IdentifyAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (value: IdentifyAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done({ kind: 'unanswered' }), timeoutMs);
    socket.once('connect', () => {
      const req = Buffer.alloc(8);
      req.writeUInt32BE(8, 0);
      req.writeUInt32BE(IDENTIFY_REQUEST_CODE, 4);
      socket.write(req);
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length > 256) done({ kind: 'unanswered' });
    });
    socket.once('end', () => done({ kind: 'answered', id: Buffer.concat(chunks).toString('utf8') }));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'unanswered' }));
  });
}

/**
 * Whether the pid of a claim with no port certainly no longer is the process that wrote it: it is this process (a host
 * is never its own index process), the machine rebooted since, or the pid's start time differs from the recorded one.
 * Where /proc is missing nothing tells, and the claim is taken as still held.
 */
function claimOutlived(file: PidFile): boolean {
  if (file.pid === process.pid) return true;
  const boot = bootId();
  if (boot && file.bootId && boot !== file.bootId) return true;
  const now = procStat(file.pid);
  if (!now) return false;
  if (now.state === 'Z' || now.state === 'X') return true;
  return typeof file.pidStartTicks === 'number' && now.startTicks !== file.pidStartTicks;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitGone(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitGone(pid, 5_000);
}

/**
 * Stops a process this host started, through its ChildProcess: its exit is known from the object, never asked of the pid
 * (which, once the process has exited and been reaped, may name another process). Resolves whether it exited.
 */
async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<boolean> {
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(ended()), ms).unref())]);
  if (ended()) return true;
  child.kill('SIGTERM');
  if (await within(graceMs)) return true;
  child.kill('SIGKILL');
  return within(5_000);
}

/**
 * Stops the index process a crashed host left on this data folder, if one is
 * still running: it normally stops by itself when its host's channel closes,
 * but may still be closing PGlite, or be stuck. Only a process that answers on
 * its recorded port with its recorded instance id is signalled.
 *
 * The pid file is removed (the data directory taken for free) only when the
 * recorded pid is gone or its port refuses the connection. A live pid whose
 * port accepts but does not answer with the recorded id (PGlite busy on a long
 * statement blocks the index process's event loop; or something answers that
 * is not ours) may still hold PGlite open: it is asked again until it answers or
 * exits, for up to `busyWaitMs`, and then the start is refused, never opened
 * beside it and never signalled. So is a live pid recorded with no port (the
 * claim written before its process opened PGlite: its host died during the
 * open, which may still be going on); there is nothing to ask, only its exit to
 * wait for, unless /proc shows the pid is no longer the claim's process (see
 * claimOutlived): then the claim is stale and removed.
 *
 * Safe only behind the data-folder lock (data-folder.lock.ts): reading the claim,
 * judging it and removing it is not atomic, and the lock is what keeps a second
 * host from doing the same at the same time.
 */
export async function stopStaleIndexProcess(
  stateDir: string,
  options: { logger?: Logger; graceMs?: number; busyWaitMs?: number; onBusyWait?: IndexProcessOptions['onBusyWait'] } = {},
): Promise<number | null> {
  const pidFile = path.join(stateDir, PID_FILE);
  let file: PidFile;
  try {
    file = JSON.parse(readFileSync(pidFile, 'utf8')) as PidFile;
  } catch {
    return null;
  }
  const deadline = Date.now() + (options.busyWaitMs ?? INDEX_PROCESS_BUSY_WAIT_MS);
  let logged = false;
  for (;;) {
    if (!Number.isInteger(file.pid) || !alive(file.pid)) break;
    // A claim whose pid now names another process is stale (regression recycled-pid-in-index-claim-refuses-start).
    if (file.port === null && claimOutlived(file)) break;
    const answer: IdentifyAnswer = typeof file.port === 'number' ? await askIdentity(file.port, IDENTIFY_TIMEOUT_MS) : { kind: 'unanswered' };
    if (answer.kind === 'refused') break;
    if (answer.kind === 'answered' && answer.id === file.instanceId) {
      options.logger?.warn({ pid: file.pid, port: file.port }, 'stopping the index process an earlier host left running on this data folder');
      await terminate(file.pid, options.graceMs ?? INDEX_PROCESS_STOP_GRACE_MS);
      if (alive(file.pid)) throw new ExhibitError('index-unavailable', `the index process ${file.pid} left on ${stateDir} did not stop; stop it, then start again`);
      await rm(pidFile, { force: true });
      return file.pid;
    }
    if (!alive(file.pid)) break;
    // Told before the deadline is checked: a first identify can itself outlast a short wait.
    if (!logged) {
      logged = true;
      options.logger?.warn({ pid: file.pid, port: file.port, answer: answer.kind }, 'the index process recorded on this data folder is alive but does not answer; waiting for it');
      options.onBusyWait?.({ pid: file.pid, port: file.port, waitMs: Math.max(0, deadline - Date.now()) });
    }
    if (Date.now() >= deadline) {
      const doing = typeof file.port === 'number' ? `does not answer on port ${file.port}` : 'was opening the index when last recorded';
      throw new ExhibitError(
        'index-unavailable',
        `the index process ${file.pid} recorded in ${pidFile} is still running and ${doing}; it may hold the index open. ` +
          `Wait for it to finish, or stop process ${file.pid}; if ${file.pid} is not an Exhibit index process, delete ${pidFile}. Then start again.`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await rm(pidFile, { force: true });
  return null;
}

/**
 * Starts the index process (index-process.main.ts) on `pgliteDir` and waits
 * until it serves. Like Azurite it runs in its own process group, so a Ctrl+C
 * reaches only the host, which stops it after its own work; and it is tied to
 * the host by its IPC channel, which also carries the per-start password.
 */
export async function startIndexProcess(options: IndexProcessOptions): Promise<RunningIndexProcess> {
  await mkdir(options.stateDir, { recursive: true });
  await mkdir(path.dirname(options.logFile), { recursive: true });
  await stopStaleIndexProcess(options.stateDir, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.busyWaitMs !== undefined ? { busyWaitMs: options.busyWaitMs } : {}),
    ...(options.onBusyWait ? { onBusyWait: options.onBusyWait } : {}),
  });

  const password = randomBytes(32).toString('base64url');
  const instanceId = randomUUID();
  const logFd = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, ['--max-semi-space-size=8', '--import', 'tsx', ENTRY], { stdio: ['ignore', logFd, logFd, 'ipc'], detached: true });
  closeSync(logFd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (err) => options.logger?.warn({ err: err.message }, 'index process channel error'));
  const pid = child.pid;
  if (pid === undefined) throw new ExhibitError('index-unavailable', 'the index process could not be started');

  const open: IndexProcessOpen = { type: 'open', dataDir: options.pgliteDir, password, instanceId, logLevel: options.logLevel ?? 'info', memoryLogMs: options.memoryLogMs ?? 0 };
  const timeoutMs = options.startTimeoutMs ?? INDEX_PROCESS_START_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let port: number;
  try {
    // The data directory is claimed before the process opens it (on the `open` message, sent only then): a host killed
    // during the open, which takes seconds on a first start, leaves the claim, and its next start waits for that process
    // instead of opening the directory beside it (regression index-dir-opened-twice-when-host-restarted-during-first-open).
    // Its start time and the boot id let a later start tell a recycled pid from it (claimOutlived).
    await writePidFile(options.stateDir, { pid, port: null, instanceId, pidStartTicks: procStat(pid)?.startTicks ?? null, bootId: bootId() });
    child.send(open);
    port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: IndexProcessReply) => {
        if (m.type === 'ready') resolve(m.port);
        else reject(new ExhibitError('index-unavailable', `the index process could not open the index: ${m.message}`));
      });
      void exited.then(({ code, signal }) => reject(new ExhibitError('index-unavailable', `the index process exited while starting (${signal ?? `code ${code}`}); see ${options.logFile}`)));
      timer = setTimeout(() => reject(new ExhibitError('timeout', `the index process did not start within ${timeoutMs} ms; see ${options.logFile}`)), timeoutMs);
    });
  } catch (err) {
    // Its claim goes with it; a process that would not stop keeps the directory claimed. Whatever happens here, the
    // error thrown is the start's own.
    if (await stopChild(child, exited, options.stopGraceMs ?? INDEX_PROCESS_STOP_GRACE_MS)) {
      await rm(path.join(options.stateDir, PID_FILE), { force: true }).catch((rmErr: unknown) =>
        options.logger?.warn({ err: errorMessage(rmErr) }, 'could not remove the index process pid file'),
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // Neither the process nor its channel keeps the host alive.
  child.unref();
  child.channel?.unref();
  await writePidFile(options.stateDir, { pid, port, instanceId, pidStartTicks: procStat(pid)?.startTicks ?? null, bootId: bootId() });
  options.logger?.info({ pid, port }, 'index process started');

  let stopping: Promise<void> | undefined;
  return {
    pid,
    port,
    database: { kind: 'postgres', url: `postgres://${INDEX_USER}@127.0.0.1:${port}/postgres`, entraAuth: false, password, maxConnections: 1, connectTimeoutMs: 0, idleTimeoutMs: 0 },
    exited,
    stop() {
      stopping ??= (async () => {
        await stopChild(child, exited, options.stopGraceMs ?? INDEX_PROCESS_STOP_GRACE_MS);
        await exited;
        await rm(path.join(options.stateDir, PID_FILE), { force: true }).catch((err: unknown) =>
          options.logger?.warn({ err: errorMessage(err) }, 'could not remove the index process pid file'),
        );
      })();
      return stopping;
    },
  };
}
