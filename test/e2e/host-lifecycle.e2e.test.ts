import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcessEnv } from '../support/host-process.js';
import { descendants, eventually, isRunning, portListening, stopAndWait } from '../support/process-tree.js';
import { folderSnapshot } from '../support/folder-snapshot.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOCK = 'host.lock';

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Runs `npm start` as the README says, in its own process group so a test can clean up after a failure. */
function npmStart(h: HostProcessEnv): Started {
  const child = spawn('npm', ['start'], { cwd: ROOT, env: h.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => out };
}

async function waitReady(h: HostProcessEnv, started: Started): Promise<void> {
  const ready = await eventually(async () => {
    if (started.child.exitCode !== null) throw new Error(`npm start exited early (${started.child.exitCode}):\n${started.output()}`);
    try {
      const res = await fetch(`${h.apiUrl}/openapi.json`);
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }, 120_000);
  if (!ready) throw new Error(`npm start did not become ready:\n${started.output()}`);
}

function lockRecord(h: HostProcessEnv): { pid: number; ports: { api: number; blob?: number; queue?: number } } {
  return JSON.parse(readFileSync(path.join(h.dataDir, LOCK), 'utf8'));
}

function azuritePid(h: HostProcessEnv): number {
  return (JSON.parse(readFileSync(path.join(h.dataDir, 'azurite', 'azurite.pid.json'), 'utf8')) as { pid: number }).pid;
}

/** The index process serving PGlite (packages/host/src/index.process.ts), from its pid file. */
function indexProcess(h: HostProcessEnv): { pid: number; port: number } {
  return JSON.parse(readFileSync(path.join(h.dataDir, 'index-process.json'), 'utf8')) as { pid: number; port: number };
}

/** Nothing of the stack is left: no process of its tree runs, nothing listens on its ports (the index process's included). */
async function expectNothingLeft(h: HostProcessEnv, pids: number[], extraPorts: number[] = []): Promise<void> {
  // Each process has exited by the time the one above it has (the host waits for Azurite);
  // the bounded wait only absorbs the kernel reaping and releasing sockets.
  await eventually(() => pids.every((p) => !isRunning(p)), 10_000);
  expect(pids.filter((p) => isRunning(p))).toEqual([]);
  for (const port of [h.apiPort, h.blobPort, h.queuePort, ...extraPorts]) {
    await eventually(async () => !(await portListening(port)), 5_000);
    expect(await portListening(port), `port ${port}`).toBe(false);
  }
}

/**
 * One local stack per data folder, and stopping leaves nothing behind: issue
 * 10 found a second `npm start` writing into the running stack's PGlite, and
 * `kill <npm start>` leaving the host and Azurite holding their ports.
 */
describe.skipIf(process.platform !== 'linux')('local host lifecycle (npm start, second start, signals)', () => {
  let h: HostProcessEnv | undefined;
  const spawned: ChildProcess[] = [];

  afterEach(async () => {
    // After a failure, whatever is left of a tree started here (its leader may be gone already).
    for (const c of spawned.splice(0)) {
      for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
        try {
          process.kill(-c.pid!, signal);
        } catch {
          // nothing left in that group
        }
      }
    }
    if (h) await removeHostEnv(h);
    h = undefined;
  });

  it('a second npm start on a folder in use is refused without writing anything; SIGTERM to npm start then leaves nothing', async () => {
    h = await allocateHostEnv();
    const first = npmStart(h);
    spawned.push(first.child);
    await waitReady(h, first);
    const hostPid = lockRecord(h).pid;
    const tree = descendants(first.child.pid!);
    const azurite = azuritePid(h);
    const index = indexProcess(h);
    // `npm start` execs node: a signal to npm reaches the host, the host's Azurite and index process are in the tree.
    expect(tree).toContain(hostPid);
    expect(tree).toContain(azurite);
    expect(tree).toContain(index.pid);
    expect(await portListening(index.port)).toBe(true);

    // Freeze the running stack so that any change to the folder can only come from the second start
    // (waiting until every thread is seen stopped: kill() returns before the signal takes effect).
    const frozen = descendants(first.child.pid!);
    await stopAndWait(frozen);
    let refusedOutput: string;
    let refusedExit: { code: number | null; signal: NodeJS.Signals | null };
    let before: string;
    let after: string;
    try {
      before = folderSnapshot(h.dataDir);
      const second = npmStart(h);
      spawned.push(second.child);
      refusedExit = await second.exited;
      refusedOutput = second.output();
      after = folderSnapshot(h.dataDir);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    expect(refusedExit.code, refusedOutput).not.toBe(0);
    expect(refusedOutput).toContain(`in use by another Exhibit host (pid ${hostPid}`);
    expect(refusedOutput).toContain(`API port ${h.apiPort}, Azurite blob port ${h.blobPort}, queue port ${h.queuePort}`);
    expect(refusedOutput).not.toContain('Exhibit local stack');
    expect(after).toBe(before);
    expect(existsSync(path.join(h.dataDir, 'pglite'))).toBe(true);
    // The first stack is unharmed.
    const res = await fetch(`${h.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    await res.body?.cancel();

    process.kill(first.child.pid!, 'SIGTERM');
    const exit = await first.exited;
    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    await expectNothingLeft(h, [hostPid, ...tree], [index.port]);
    expect(existsSync(path.join(h.dataDir, 'index-process.json'))).toBe(false);
    expect(existsSync(path.join(h.dataDir, LOCK))).toBe(false);
  });

  it('Ctrl+C in the terminal of npm start (SIGINT to its process group) stops the host and its Azurite, releasing ports and lock', async () => {
    h = await allocateHostEnv();
    const started = npmStart(h);
    spawned.push(started.child);
    await waitReady(h, started);
    const hostPid = lockRecord(h).pid;
    const tree = descendants(started.child.pid!);
    expect(tree).toContain(azuritePid(h));
    const index = indexProcess(h);
    expect(tree).toContain(index.pid);
    // npm is the group leader, as a shell makes it; Azurite runs in a group of its own so that
    // the host can finish its work in progress with storage still up.
    process.kill(-started.child.pid!, 'SIGINT');
    const exit = await started.exited;
    expect(exit, started.output()).toEqual({ code: 0, signal: null });
    await expectNothingLeft(h, [hostPid, ...tree], [index.port]);
    expect(existsSync(path.join(h.dataDir, LOCK))).toBe(false);
  });

  it('after SIGKILL to the host, its Azurite saves its state and stops by itself; the next start takes over the stale lock; SIGTERM to it leaves nothing', async () => {
    h = await allocateHostEnv();
    let host = await startHostProcess(h);
    spawned.push(host.child);
    const azurite = azuritePid(h);
    const index = indexProcess(h);
    // Written just before the kill, so it is still only in Azurite's memory unless Azurite saves on the way out.
    const container = BlobServiceClient.fromConnectionString(h.storageConnectionString).getContainerClient('lifecycle-check');
    await container.createIfNotExists();
    await container.getBlockBlobClient('written-before-the-kill.txt').uploadData(Buffer.from('still here'));

    const killed = host.child.pid!;
    process.kill(killed, 'SIGKILL');
    await new Promise((r) => host.child.once('exit', r));
    expect(await eventually(() => !isRunning(azurite), 30_000)).toBe(true);
    // The index process too: its channel to the host closed, it closed PGlite and exited.
    expect(await eventually(() => !isRunning(index.pid), 30_000)).toBe(true);
    await expectNothingLeft(h, [killed, azurite, index.pid], [index.port]);
    expect(lockRecord(h).pid).toBe(killed);

    host = await startHostProcess(h);
    spawned.push(host.child);
    expect(host.output()).toContain(`the previous host, pid ${killed}, did not stop cleanly`);
    expect(lockRecord(h).pid).toBe(host.child.pid);
    const text = (await container.getBlockBlobClient('written-before-the-kill.txt').downloadToBuffer()).toString();
    expect(text).toBe('still here');

    const tree = descendants(host.child.pid!);
    expect(tree).toContain(azuritePid(h));
    const index2 = indexProcess(h);
    expect(tree).toContain(index2.pid);
    const exited = new Promise<number | null>((r) => host.child.once('exit', (code) => r(code)));
    process.kill(host.child.pid!, 'SIGTERM');
    expect(await exited, host.output()).toBe(0);
    await expectNothingLeft(h, [host.child.pid!, ...tree], [index2.port]);
    expect(existsSync(path.join(h.dataDir, LOCK))).toBe(false);
  });
});
