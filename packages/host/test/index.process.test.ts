import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { identifyIndexProcess, startIndexProcess, stopStaleIndexProcess, type RunningIndexProcess } from '../src/index.process.js';

const dirs: string[] = [];
const running: RunningIndexProcess[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-index-process-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string): Promise<RunningIndexProcess> {
  const r = await startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), stopGraceMs: 10_000 });
  running.push(r);
  return r;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The index processes this test runner started and that still run (pgrep: Linux and macOS). */
function indexProcessesOfThisRunner(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'index-process.main'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function client(r: RunningIndexProcess, password = r.database.password): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: r.port, user: 'exhibit', database: 'postgres', password });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('the index process', () => {
  it('serves PGlite with the per-start password only, keeps the data across a restart, and frees its port on stop', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const first = await start(dir);
    const c = await client(first);
    await c.query('CREATE TABLE kept (v text)');
    await c.query('INSERT INTO kept VALUES ($1)', ['across restarts']);
    await c.end();
    await expect(client(first, 'not-the-password')).rejects.toMatchObject({ code: '28P01' });
    // Nothing secret where other users can read it: not in the pid file, not in the log.
    expect(readFileSync(path.join(dir, 'index-process.json'), 'utf8')).not.toContain(first.database.password);
    expect(first.database.url).not.toContain(first.database.password);

    await first.stop();
    expect(alive(first.pid)).toBe(false);
    expect(await portListening(first.port)).toBe(false);
    expect(existsSync(path.join(dir, 'index-process.json'))).toBe(false);
    expect(readFileSync(path.join(dir, 'logs', 'index-process.log'), 'utf8')).not.toContain(first.database.password);

    const second = await start(dir);
    expect(second.database.password).not.toBe(first.database.password);
    const d = await client(second);
    expect((await d.query('SELECT v FROM kept')).rows).toEqual([{ v: 'across restarts' }]);
    await d.end();
  });

  it('an index process killed hard is seen to exit (the host learns of it from `exited`)', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const r = await start(dir);
    process.kill(r.pid, 'SIGKILL');
    expect(await r.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('a stale index process left on the folder is found by its port and instance id (no /proc) and stopped before a new one opens PGlite', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const stale = await start(dir);
    const record = JSON.parse(readFileSync(path.join(dir, 'index-process.json'), 'utf8')) as { instanceId: string };
    expect(await identifyIndexProcess(stale.port)).toBe(record.instanceId);
    // A new start on the same folder (as after a host crash that left the process running).
    const fresh = await start(dir);
    expect(await stale.exited).toMatchObject({ code: 0 });
    expect(fresh.pid).not.toBe(stale.pid);
    const c = await client(fresh);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
  });

  it('a pid file naming a live process that is not an index process (a recycled pid) is not signalled', async () => {
    const dir = await tempDir();
    // This test runner's own pid, on a port where nothing answers the identify request.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    writeFileSync(path.join(dir, 'index-process.json'), JSON.stringify({ pid: process.pid, port, instanceId: 'gone' }));
    expect(await stopStaleIndexProcess(dir)).toBeNull();
    expect(existsSync(path.join(dir, 'index-process.json'))).toBe(false);
  });

  it('stale-busy-index-process-opened-twice: a recorded index process too busy to answer is neither forgotten nor opened beside', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const first = await start(dir);
    const pidFile = readFileSync(path.join(dir, 'index-process.json'), 'utf8');
    const c = await client(first);
    // A long statement: PGlite runs it on the index process's event loop, so the identify request goes unanswered.
    const busy = c.query('SELECT pg_sleep(8)');
    await new Promise((r) => setTimeout(r, 500));
    await expect(stopStaleIndexProcess(dir, { busyWaitMs: 1_000 })).rejects.toThrow(new RegExp(`index process ${first.pid} `));
    expect(readFileSync(path.join(dir, 'index-process.json'), 'utf8')).toBe(pidFile);
    // The wait is told (npm start prints it: a silent minute looked like a hang), once.
    const waits: Array<{ pid: number; port: number | null }> = [];
    await expect(
      startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), busyWaitMs: 1_000, onBusyWait: (info) => waits.push(info) }),
    ).rejects.toThrow(/still running/);
    expect(waits).toEqual([expect.objectContaining({ pid: first.pid })]);
    expect(readFileSync(path.join(dir, 'index-process.json'), 'utf8')).toBe(pidFile);
    expect(alive(first.pid)).toBe(true);
    await busy;
    await c.end();
  });

  it('index-dir-opened-twice-when-host-restarted-during-first-open: a start while an index process is still opening the directory waits for it and refuses, never opens beside it', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const before = indexProcessesOfThisRunner();
    const first = startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), stopGraceMs: 10_000 });
    first.catch(() => undefined);
    // The index process has begun opening PGlite: a first open creates the index in `pglite.creating` and renames it to
    // `pglite` only at the end, so either folder shows the open has begun. Stopped there, it stays mid-open whatever the
    // machine's speed, as when its host is killed during a first open that takes seconds.
    let opening: number | undefined;
    while (opening === undefined || !['pglite', 'pglite.creating'].some((d) => existsSync(path.join(dir, d)))) {
      opening ??= indexProcessesOfThisRunner().find((pid) => !before.includes(pid));
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(opening, 'SIGSTOP');
    try {
      const waits: Array<{ pid: number; port: number | null }> = [];
      await expect(
        startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), busyWaitMs: 1_000, onBusyWait: (info) => waits.push(info) }),
      ).rejects.toThrow(/still running/);
      expect(waits).toEqual([expect.objectContaining({ pid: opening })]);
      // No second index process was left on the directory.
      expect(indexProcessesOfThisRunner().filter((pid) => !before.includes(pid))).toEqual([opening]);
    } finally {
      process.kill(opening, 'SIGCONT');
    }
    const r = await first;
    running.push(r);
    const c = await client(r);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
  });

  it('recycled-pid-in-index-claim-refuses-start: a claim with no port whose pid now names another live process is stale, and the start goes ahead without waiting', { timeout: 120_000, skip: !existsSync('/proc/self/stat') }, async () => {
    const dir = await tempDir();
    // An unrelated live process holding the claim's pid, as after a reboot or a container restart.
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const startTicks = Number(readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
      const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      // The claim's own process started at another time: the pid was given again.
      writeFileSync(path.join(dir, 'index-process.json'), JSON.stringify({ pid: other.pid, port: null, instanceId: 'gone', pidStartTicks: startTicks - 1, bootId }));
      const waits: Array<{ pid: number; port: number | null }> = [];
      const r = await startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), stopGraceMs: 10_000, busyWaitMs: 1_000, onBusyWait: (info) => waits.push(info) });
      running.push(r);
      expect(waits).toEqual([]);
      expect(alive(other.pid!)).toBe(true);
      // A claim from before a reboot, and one naming the host itself, are as stale.
      for (const claim of [
        { pid: other.pid, port: null, instanceId: 'gone', pidStartTicks: startTicks, bootId: 'an-earlier-boot' },
        { pid: process.pid, port: null, instanceId: 'gone' },
      ]) {
        const stateDir = await tempDir();
        writeFileSync(path.join(stateDir, 'index-process.json'), JSON.stringify(claim));
        expect(await stopStaleIndexProcess(stateDir, { busyWaitMs: 1_000, onBusyWait: (info) => waits.push(info) })).toBeNull();
        expect(existsSync(path.join(stateDir, 'index-process.json'))).toBe(false);
      }
      expect(waits).toEqual([]);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('index-killed-during-first-creation-never-opens-again: an index process killed hard while PGlite first creates its data folder leaves an index the next start opens', { timeout: 180_000 }, async () => {
    const dir = await tempDir();
    const before = indexProcessesOfThisRunner();
    const first = startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile: path.join(dir, 'logs', 'index-process.log'), stopGraceMs: 10_000 });
    const failed = first.then(() => null, (err: unknown) => err);
    // PGlite's creation has begun writing the database's files (wherever it writes them).
    let creating: number | undefined;
    const begun = () => ['pglite', 'pglite.creating'].some((d) => existsSync(path.join(dir, d, 'base')) || existsSync(path.join(dir, d, 'global')));
    while (creating === undefined || !begun()) {
      creating ??= indexProcessesOfThisRunner().find((pid) => !before.includes(pid));
      await new Promise((r) => setTimeout(r, 5));
    }
    process.kill(creating, 'SIGKILL');
    expect(await failed).toBeInstanceOf(Error);
    const r = await start(dir);
    const c = await client(r);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
    expect(existsSync(path.join(dir, 'pglite.creating'))).toBe(false);
  });

  it('creation-heap-held-beside-the-index: once a first start serves, the index process holds one PGlite heap, not also the closed one that created the database', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const logFile = path.join(dir, 'logs', 'index-process.log');
    const r = await startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile, stopGraceMs: 10_000, memoryLogMs: 50 });
    running.push(r);
    let memory: { externalBytes: number; wasmMemoryBytes: number } | undefined;
    for (let tries = 0; memory === undefined && tries < 400; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"index process memory"'));
      if (lines[0]) memory = JSON.parse(lines[0]) as { externalBytes: number; wasmMemoryBytes: number };
    }
    expect(memory?.wasmMemoryBytes).toBeGreaterThan(0);
    // Node counts every WebAssembly memory it holds as external: the creation's (as large as the index's) when it was
    // not yet collected, so ~2.1 times the heap against ~1.05 (the rest is a few MiB of buffers).
    expect(memory!.externalBytes / memory!.wasmMemoryBytes).toBeLessThan(1.5);
  });

  it('an index that cannot be opened fails the start with the reason, and leaves no process', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    // A file where PGlite's data directory should be.
    writeFileSync(path.join(dir, 'pglite'), 'not a directory');
    await expect(start(dir)).rejects.toThrow(/could not open the index|exited while starting/);
    // Its claim on the directory went with it: the next start neither waits for it nor refuses.
    expect(existsSync(path.join(dir, 'index-process.json'))).toBe(false);
  });

  it('logs its RSS and the size of PGlite\'s WebAssembly memory when asked (EXHIBIT_INDEX_MEMORY_LOG_MS)', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const logFile = path.join(dir, 'logs', 'index-process.log');
    const r = await startIndexProcess({ pgliteDir: path.join(dir, 'pglite'), stateDir: dir, logFile, stopGraceMs: 10_000, memoryLogMs: 100 });
    running.push(r);
    const memoryLines = () =>
      (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter((l) => l.includes('"index process memory"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (let polls = 0; polls < 600 && memoryLines().length < 2; polls++) await new Promise((resolve) => setTimeout(resolve, 100));
    await r.stop();
    const lines = memoryLines();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) {
      expect(l.rssBytes).toBeGreaterThan(0);
      // Whole pages of 64 KiB: the WebAssembly memory's size, never the null logged without PGlite's module.
      expect(Number(l.wasmMemoryBytes) % 65_536).toBe(0);
      expect(l.wasmMemoryBytes).toBeGreaterThan(0);
    }
  });
});
