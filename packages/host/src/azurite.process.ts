import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExhibitError, type Logger } from '@exhibit/core';

export interface AzuriteOptions {
  location: string;
  blobPort: number;
  queuePort: number;
  /** Table is unused but Azurite always binds it; keep it off the other ports. */
  tablePort?: number;
  startTimeoutMs?: number;
  logger?: Logger;
}

export interface RunningAzurite {
  blobPort: number;
  queuePort: number;
  pid: number;
  /** Settles when the process ends, however it ends (its exit code, or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

interface PidFile {
  pid: number;
  blobPort: number;
  queuePort: number;
}

const require = createRequire(import.meta.url);
const PID_FILE = 'azurite.pid.json';
/** Loaded into the Azurite process: stops it when the channel to its host closes. */
const PRELOAD = fileURLToPath(new URL('./azurite.preload.cjs', import.meta.url));

function azuriteEntry(): string {
  const pkg = require.resolve('azurite/package.json');
  return path.join(path.dirname(pkg), 'dist', 'src', 'azurite.js');
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port held open until released; the seam lets a test hand out the port a real draw rarely repeats. */
export interface HeldPort {
  port: number;
  release(): Promise<void>;
}

function holdPort(port: number): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      resolve({ port: bound, release: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

/** The first port of the kernel's ephemeral range, from which it hands out ports for bind(0) and outgoing connections. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux: the IANA range's start
  }
  return 49152;
}

/**
 * A free port below the ephemeral range, tried at random. A port the kernel draws (bind to port 0, an outgoing
 * connection, Azurite's table port, the index process's wire server) comes from the ephemeral range, so one drawn
 * here cannot be handed to another socket of the same stack between this draw and its own bind: an API port drawn
 * from the ephemeral range and bound only after Azurite and the index process had started could be taken by them.
 */
async function holdPortBelowEphemeral(): Promise<HeldPort> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1024, high - 12_287);
  for (let attempt = 0; attempt < 64; attempt += 1) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    try {
      return await holdPort(port);
    } catch {
      // in use (another stack's, or a service's): try another
    }
  }
  return holdPort(0);
}

export interface FreePortsOptions {
  /** Ports chosen but perhaps not yet bound, which a draw must not return. */
  avoid?: readonly number[];
  hold?: () => Promise<HeldPort>;
}

/**
 * `count` different free TCP ports on loopback below the ephemeral range, none of them in `avoid`. Every port drawn is
 * held open until all are drawn: a port closed straight away may be handed out again by the
 * next draw, and one drawn equal to a port chosen but not yet bound (Azurite's table port
 * equal to its queue port) made Azurite fail with EADDRINUSE.
 */
export async function freePorts(count: number, options: FreePortsOptions = {}): Promise<number[]> {
  const avoid = options.avoid ?? [];
  const hold = options.hold ?? holdPortBelowEphemeral;
  const held: HeldPort[] = [];
  const ports: number[] = [];
  try {
    // Bounded: each draw holds its port, so an avoided port can come back at most once.
    for (let draw = 0; ports.length < count && draw < count + avoid.length + 8; draw += 1) {
      const drawn = await hold();
      held.push(drawn);
      if (drawn.port > 0 && !avoid.includes(drawn.port) && !ports.includes(drawn.port)) ports.push(drawn.port);
    }
  } finally {
    await Promise.all(held.map((drawn) => drawn.release()));
  }
  if (ports.length < count) throw new ExhibitError('storage-unavailable', `could not find ${count} free ports on loopback`);
  return ports;
}

/** Any free TCP port on loopback, for tests that run several stacks at once. */
export async function freePort(options: FreePortsOptions = {}): Promise<number> {
  const [port] = await freePorts(1, options);
  return port!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The Azurite this data folder's pid file names, if it is still running and is ours. */
function readOwnAzurite(location: string): PidFile | null {
  try {
    const file = JSON.parse(readFileSync(path.join(location, PID_FILE), 'utf8')) as PidFile;
    if (!Number.isInteger(file.pid) || !alive(file.pid)) return null;
    // Guard against a recycled pid: it must be an Azurite serving this folder.
    const cmdline = readFileSync(`/proc/${file.pid}/cmdline`, 'utf8');
    return cmdline.includes('azurite') && cmdline.includes(location) ? file : null;
  } catch {
    return null;
  }
}

async function stopPid(pid: number, graceMs = 8000): Promise<void> {
  if (!alive(pid)) return;
  // SIGTERM lets Azurite flush its metadata database to disk.
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops the Azurite still running for a data folder, if any (tests clean up with it). */
export async function stopAzuriteFor(location: string): Promise<void> {
  const own = readOwnAzurite(location);
  if (own) await stopPid(own.pid);
}

/**
 * Starts Azurite (blob + queue) with its data under `location`, so state
 * survives a restart of the host.
 *
 * Azurite lives and dies with the process that started it. It runs in its own
 * process group, so a Ctrl+C in the terminal reaches only the host, which
 * finishes its work in progress before stopping Azurite. And it is tied to the
 * host by an IPC channel (azurite.preload.cjs): when the host goes, however
 * it goes (even SIGKILL), the channel closes and Azurite shuts down by itself,
 * gracefully, since it keeps part of its metadata in memory and writes it on
 * shutdown. An Azurite still found running for this folder (still shutting
 * down after its host died, or left by an older version) is stopped first.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  await mkdir(options.location, { recursive: true });
  const orphan = readOwnAzurite(options.location);
  if (orphan) {
    options.logger?.info({ pid: orphan.pid }, 'stopping the Azurite left running for this data folder by an earlier host');
    await stopPid(orphan.pid);
  }
  if ((await portOpen(options.blobPort)) || (await portOpen(options.queuePort))) {
    throw new ExhibitError(
      'storage-unavailable',
      `port ${options.blobPort} or ${options.queuePort} is already in use; stop the other Azurite or set EXHIBIT_AZURITE_BLOB_PORT / EXHIBIT_AZURITE_QUEUE_PORT`,
    );
  }
  const tablePort = options.tablePort ?? (await freePort({ avoid: [options.blobPort, options.queuePort] }));
  const args = [
    '--require', PRELOAD,
    azuriteEntry(),
    '--location', options.location,
    '--blobPort', String(options.blobPort),
    '--queuePort', String(options.queuePort),
    '--tablePort', String(tablePort),
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  const logPath = path.join(options.location, 'azurite.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd, 'ipc'], detached: true });
  closeSync(logFd);
  // Neither the process nor the channel (which exists only to close when this process ends) keeps the host alive.
  child.unref();
  child.channel?.unref();
  child.on('error', (err) => options.logger?.warn({ err: err.message }, 'azurite process channel error'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  if (pid === undefined) throw new ExhibitError('storage-unavailable', 'azurite could not be started');
  await writeFile(path.join(options.location, PID_FILE), JSON.stringify({ pid, blobPort: options.blobPort, queuePort: options.queuePort }));

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!(await portOpen(options.blobPort)) || !(await portOpen(options.queuePort))) {
    if (!alive(pid)) {
      let tail = '';
      try {
        tail = readFileSync(logPath, 'utf8').slice(-2000);
      } catch {
        // no log
      }
      throw new ExhibitError('storage-unavailable', `azurite failed to start: ${tail.trim()}`);
    }
    if (Date.now() > deadline) {
      await stopPid(pid, 0);
      throw new ExhibitError('timeout', 'azurite did not start in time');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  options.logger?.info({ blobPort: options.blobPort, queuePort: options.queuePort, pid }, 'azurite started');
  return { blobPort: options.blobPort, queuePort: options.queuePort, pid, exited, stop: () => stopOwn(options.location, pid) };
}

async function stopOwn(location: string, pid: number): Promise<void> {
  await stopPid(pid);
  await rm(path.join(location, PID_FILE), { force: true });
}
