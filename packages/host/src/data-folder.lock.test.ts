import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ExhibitError } from '@exhibit/core';
import { acquireDataFolderLock, DATA_FOLDER_LOCK_FILE, type DataFolderLock, type DataFolderLockRecord } from './data-folder.lock.js';
import { folderSnapshot } from '../../../test/support/folder-snapshot.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LOCK_MODULE = new URL('./data-folder.lock.ts', import.meta.url).href;
const PORTS = { api: 7171, blob: 10100, queue: 10101 };

const dirs: string[] = [];
const held: DataFolderLock[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const l of held.splice(0)) l.release();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-lock-'));
  dirs.push(dir);
  return dir;
}

async function acquire(dir: string, ports = PORTS): Promise<DataFolderLock> {
  const lock = await acquireDataFolderLock(dir, ports);
  held.push(lock);
  return lock;
}

function readLock(dir: string): DataFolderLockRecord {
  return JSON.parse(readFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), 'utf8')) as DataFolderLockRecord;
}


async function refusal(promise: Promise<unknown>): Promise<ExhibitError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExhibitError);
  expect((err as ExhibitError).code).toBe('conflict');
  return err as ExhibitError;
}

/**
 * A separate process that takes the lock through the real module, prints
 * `locked <pid it took over from|null>` or `refused <message>`, and holds on
 * until killed. With `barrier`, it waits for a line on stdin first.
 */
function lockInChild(dir: string, barrier = false): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
  const script = `
    import { acquireDataFolderLock } from ${JSON.stringify(LOCK_MODULE)};
    if (${barrier}) {
      process.stdout.write('ready\\n');
      await new Promise((r) => process.stdin.once('data', r));
    }
    try {
      const lock = await acquireDataFolderLock(${JSON.stringify(dir)}, { api: 1 });
      process.stdout.write('locked ' + JSON.stringify(lock.tookOverFrom ? lock.tookOverFrom.pid : null) + '\\n');
    } catch (err) {
      process.stdout.write('refused ' + err.message + '\\n');
    }
    setInterval(() => {}, 60000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  const line = (test: (l: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const found = out.split('\n').find((l, i, all) => i < all.length - 1 && test(l));
        if (found !== undefined) resolve(found);
        return found !== undefined;
      };
      if (look()) return;
      child.stdout!.on('data', look);
      child.once('exit', (code, signal) => reject(new Error(`lock child exited (${code ?? signal}) before answering: ${out}`)));
    });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const ready = line((l) => l === 'ready').then(() => undefined);
  const result = line((l) => l.startsWith('locked') || l.startsWith('refused'));
  // Awaited by the tests that need them; a child killed afterwards must not count as an unhandled rejection.
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return { child, ready, result };
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('data folder lock (one local stack per data folder)', () => {
  it('on a folder that does not exist yet, creates it with the lock and nothing else; the lock names pid, ports and start', async () => {
    const dir = path.join(await tempDir(), 'data');
    const lock = await acquire(dir);
    expect(readdirSync(dir)).toEqual([DATA_FOLDER_LOCK_FILE]);
    const record = readLock(dir);
    expect(record).toMatchObject({ pid: process.pid, hostname: os.hostname(), ports: PORTS, token: lock.record.token });
    expect(Date.parse(record.startedAt)).not.toBeNaN();
    expect(lock.tookOverFrom).toBeNull();
  });

  it('refuses a second start while the holder lives, naming its pid and ports, and writes nothing', async () => {
    const dir = await tempDir();
    await acquire(dir);
    writeFileSync(path.join(dir, 'index.db'), 'state of the running stack');
    const before = folderSnapshot(dir);
    const err = await refusal(acquireDataFolderLock(dir, { api: 1, blob: 2, queue: 3 }));
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain('API port 7171');
    expect(err.message).toContain('Azurite blob port 10100');
    expect(err.message).toContain('queue port 10101');
    expect(err.message).toContain(dir);
    expect(folderSnapshot(dir)).toBe(before);
  });

  it('is removed on release, after which the next start takes it', async () => {
    const dir = await tempDir();
    const first = await acquire(dir);
    first.release();
    expect(existsSync(path.join(dir, DATA_FOLDER_LOCK_FILE))).toBe(false);
    const second = await acquire(dir);
    expect(second.tookOverFrom).toBeNull();
    expect(readLock(dir).token).toBe(second.record.token);
  });

  it('a lock left by a host killed with SIGKILL is stale and taken over', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const { child, result } = lockInChild(dir);
    expect(await result).toBe('locked null');
    expect(readLock(dir).pid).toBe(child.pid);
    // While it lives, it is refused.
    await refusal(acquireDataFolderLock(dir, PORTS));
    await killHard(child);

    const lock = await acquire(dir);
    expect(lock.tookOverFrom?.pid).toBe(child.pid);
    expect(readLock(dir)).toMatchObject({ pid: process.pid, token: lock.record.token });
    expect(readdirSync(dir)).toEqual([DATA_FOLDER_LOCK_FILE]);
  });

  it.skipIf(!existsSync('/proc/self/stat'))('tells a recycled pid from the holder by its start time', async () => {
    const dir = await tempDir();
    const mine = await acquire(await tempDir());
    const ticks = mine.record.pidStartTicks;
    expect(ticks).toEqual(expect.any(Number));
    // A live process with the recorded pid and start time: the holder.
    const live: DataFolderLockRecord = { ...mine.record, token: 'holder', startedAt: '2026-01-01T00:00:00.000Z' };
    writeFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), JSON.stringify(live));
    await refusal(acquireDataFolderLock(dir, PORTS));
    // The same pid started at another time: a different process that reuses the pid of a dead holder.
    writeFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), JSON.stringify({ ...live, pidStartTicks: ticks! + 1 }));
    const lock = await acquire(dir);
    expect(lock.tookOverFrom?.token).toBe('holder');
  });

  it('refuses a lock held on another machine and says how to clear it', async () => {
    const dir = await tempDir();
    const record: DataFolderLockRecord = {
      pid: 4242,
      hostname: `${os.hostname()}-elsewhere`,
      pidStartTicks: 1,
      bootId: null,
      startedAt: '2026-01-01T00:00:00.000Z',
      ports: { api: 7071 },
      token: 'remote',
    };
    writeFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), JSON.stringify(record));
    const err = await refusal(acquireDataFolderLock(dir, PORTS));
    expect(err.message).toContain(`pid 4242 on ${record.hostname}`);
    expect(err.message).toContain(`delete ${path.join(dir, DATA_FOLDER_LOCK_FILE)}`);
  });

  it('takes over an unreadable lock file (not a record) after giving a writer a moment', async () => {
    const dir = await tempDir();
    writeFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), '{"pid": 12');
    const lock = await acquire(dir);
    expect(readLock(dir).token).toBe(lock.record.token);
  });

  it('release leaves alone a lock that is no longer its own', async () => {
    const dir = await tempDir();
    const lock = await acquire(dir);
    const other = { ...lock.record, token: 'someone-else' };
    writeFileSync(path.join(dir, DATA_FOLDER_LOCK_FILE), JSON.stringify(other));
    lock.release();
    expect(readLock(dir).token).toBe('someone-else');
  });

  it('several starts racing for one stale lock: exactly one wins, the others name it', { timeout: 90_000 }, async () => {
    const dir = await tempDir();
    const first = lockInChild(dir);
    expect(await first.result).toBe('locked null');
    await killHard(first.child);

    const racers = Array.from({ length: 4 }, () => lockInChild(dir, true));
    // Every racer has loaded the module and waits at the barrier; release them together.
    await Promise.all(racers.map((r) => r.ready));
    for (const r of racers) r.child.stdin!.write('go\n');
    const results = await Promise.all(racers.map((r) => r.result));
    const winners = racers.filter((_, i) => results[i]!.startsWith('locked'));
    expect(winners).toHaveLength(1);
    const winnerPid = winners[0]!.child.pid!;
    expect(readLock(dir).pid).toBe(winnerPid);
    expect(results.find((r) => r.startsWith('locked'))).toBe(`locked ${first.child.pid}`);
    for (const r of results.filter((x) => x.startsWith('refused'))) expect(r).toContain(`pid ${winnerPid}`);
  });
});
