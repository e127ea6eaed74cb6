import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import { allFilesOf, crashPhoto, crashZip } from '../support/crash-corpus.js';
import { ApiClient, uploadWithPlainClient } from '../support/e2e-client.js';
import { isRunning } from '../support/process-tree.js';
import { startAzurite } from '../../packages/host/src/azurite.process.js';

const CASE = 'AZCRASH-001';
const EVIDENCE = 'EX01';
/**
 * Small enough for a loaded 2-core machine by default; EXHIBIT_E2E_CRASH_PHOTOS=2500 runs
 * the size once, by hand (a measurement, minutes long, not part of npm test).
 */
const PHOTOS = Number(process.env.EXHIBIT_E2E_CRASH_PHOTOS ?? 60);


function azuritePid(h: HostProcessEnv): number | null {
  try {
    return (JSON.parse(readFileSync(path.join(h.dataDir, 'azurite', 'azurite.pid.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

/**
 * kill -9 of the storage emulator under a running host: the host must notice,
 * start it again on the same data, and the work must finish with nothing lost
 * (Azurite keeps its metadata in memory and saves it every few seconds, so a
 * hard kill loses its latest queue messages and blob writes; the watchdog and
 * the pipeline's idempotent stages must make up for them).
 */
describe('kill -9 of Azurite under a running host', () => {
  let h: HostProcessEnv | undefined;
  let host: HostProcess | undefined;

  afterAll(async () => {
    await host?.stop();
    if (h && !process.env.KEEP_E2E_DATA) await removeHostEnv(h);
    else if (h) console.log(`kept ${h.dataDir}`);
  });

  it('restarts storage and completes the evidence item with every member indexed, thumbnails readable and custody verifying', async () => {
    h = await allocateHostEnv({
      // A stall is short here so lost messages are re-driven within the test; re-drives are
      // many before a file is given up on, so a slow machine never fails a file as stuck.
      EXHIBIT_WATCHDOG_STALL_MS: '6000',
      EXHIBIT_WATCHDOG_INTERVAL_MS: '1500',
      EXHIBIT_WATCHDOG_MAX_REDRIVES: '40',
    });
    const entries = await Promise.all(Array.from({ length: PHOTOS }, async (_, i) => ({ name: `DCIM/IMG_${String(i).padStart(4, '0')}.jpg`, data: await crashPhoto(i, { width: 480, height: 360 }) })));
    const archive = await crashZip(entries, (i) => i % 2 === 0);

    // The evidence is on disk before the host starts (uploaded to an Azurite of the test's own on
    // the host's folder, stopped cleanly): a hard kill loses Azurite's last few seconds of writes, and
    // losing the examiner's upload would be the storage's loss, not work for the host to make up.
    const seeding = await startAzurite({ location: path.join(h.dataDir, 'azurite'), blobPort: h.blobPort, queuePort: h.queuePort });
    await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${EVIDENCE}/phone.zip`, archive, {
      acquisition_sha256: createHash('sha256').update(archive).digest('hex'),
    });
    await seeding.stop();

    host = await startHostProcess(h);
    const admin = await ApiClient.login(h, 'azcrash-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'sam', role: 'supervisor' });
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);

    for (;;) {
      const res = await sam.request('GET', `/cases/${CASE}/evidence/${EVIDENCE}/status`);
      if (res.status === 200) {
        const s = (await res.json()) as any;
        if (s.complete) throw new Error('processing finished before Azurite could be killed; make the corpus larger');
        if (s.files.byStage.indexed >= 3) break;
      } else {
        await res.body?.cancel();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = azuritePid(h);
    expect(first).not.toBeNull();
    process.kill(first!, 'SIGKILL');

    // The host notices and starts Azurite again on the same folder and ports.
    const restartDeadline = Date.now() + 60_000;
    let second: number | null = null;
    while (Date.now() < restartDeadline) {
      second = azuritePid(h);
      if (second !== null && second !== first && isRunning(second)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(second).not.toBe(first);
    expect(isRunning(second!)).toBe(true);
    expect(host.child.exitCode).toBeNull();

    const final = (await sam.waitComplete(CASE, [EVIDENCE], Math.max(120_000, PHOTOS * 400)))[EVIDENCE];
    expect(final.complete).toBe(true);
    expect(final.failures).toEqual([]);
    expect(final.uploads[0].integrity).toBe('verified');

    const files = (await allFilesOf(sam, CASE, EVIDENCE)).filter((i: any) => i.file.entryKind === 'file');
    const paths = files.map((i: any) => i.file.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect([...paths].sort()).toEqual(['phone.zip', ...entries.map((e) => `phone.zip!/${e.name}`)].sort());
    for (const item of files) expect(item.file.stage, item.file.path).toBe('indexed');
    for (const e of entries) {
      const item = files.find((i: any) => i.file.path === `phone.zip!/${e.name}`);
      expect(item.file.sha256).toBe(createHash('sha256').update(e.data).digest('hex'));
      expect(item.content.thumbnailStatus).toBe('done');
    }

    // Every thumbnail the index calls done is readable: the watchdog re-makes any the crash lost,
    // so poll a bounded while for those it has not reached yet.
    const readDeadline = Date.now() + 60_000;
    let unreadable: string[] = [];
    for (;;) {
      unreadable = [];
      for (const item of files) {
        if (item.content.thumbnailStatus !== 'done') continue;
        const res = await sam.request('GET', `/cases/${CASE}/files/${item.file.fileId}/thumbnail`);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200 || body.subarray(0, 2).toString('hex') !== 'ffd8') unreadable.push(`${item.file.path}: ${res.status}`);
      }
      if (unreadable.length === 0 || Date.now() > readDeadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(unreadable).toEqual([]);

    const verify = await sam.get(`/cases/${CASE}/custody/verify`);
    expect(verify.ok, JSON.stringify(verify).slice(0, 2000)).toBe(true);

    const log = readFileSync(path.join(h.dataDir, 'logs', 'host.log'), 'utf8');
    const count = (msg: string) => log.split('\n').filter((l) => l.includes(msg)).length;
    // What the crash cost and what made up for it, for whoever reads the test output.
    console.log(
      `azurite crash: ${count('work stalled; re-sent its stage message')} re-drives, ` +
        `${count('thumbnail recorded as done is missing')} missing thumbnails found, ${count('attempt failed; will retry')} retried attempts, ` +
        `${count('custody log in storage had lost its newest entries')} custody logs restored`,
    );
    expect(log).toContain('azurite exited unexpectedly');
    expect(log).toContain('azurite restarted on the same data folder');
  });
});
