import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LIMITS, PIPELINE_ACTOR } from '@exhibit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import { allFilesOf, crashPhoto, crashZip } from '../support/crash-corpus.js';
import { ApiClient, uploadWithPlainClient } from '../support/e2e-client.js';

const CASE = 'CRASH-001';
const EVIDENCE = 'EX01';
/** EXHIBIT_E2E_CRASH_PHOTOS=2500 runs the size once, by hand (minutes long, not part of npm test). */
const PHOTOS = Number(process.env.EXHIBIT_E2E_CRASH_PHOTOS ?? 80);


/**
 * Pulling the plug on the local host mid-run (SIGKILL to the host; its Azurite
 * then saves its state and stops by itself) and starting it again must finish
 * the job: no file lost, none twice.
 */
describe('crash and restart of the local host', () => {
  let h: HostProcessEnv | undefined;
  let host: HostProcess | undefined;

  afterAll(async () => {
    await host?.stop();
    if (h) await removeHostEnv(h);
  });

  it('finishes after a kill -9 in the middle of processing with no file lost and no duplicates', async () => {
    h = await allocateHostEnv();
    const entries = await Promise.all(Array.from({ length: PHOTOS }, async (_, i) => ({ name: `DCIM/IMG_${String(i).padStart(4, '0')}.jpg`, data: await crashPhoto(i, { width: 640, height: 480 }) })));
    const archive = await crashZip(entries);

    host = await startHostProcess(h);
    await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${EVIDENCE}/phone.zip`, archive, {
      acquisition_sha256: createHash('sha256').update(archive).digest('hex'),
    });
    const admin = await ApiClient.login(h, 'crash-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'sam', role: 'supervisor' });
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);

    // Wait until the unpack is under way or done and some files are finished, but not all.
    let killedAt: any;
    for (;;) {
      const res = await sam.request('GET', `/cases/${CASE}/evidence/${EVIDENCE}/status`);
      if (res.status === 200) {
        const s = (await res.json()) as any;
        if (s.complete) throw new Error('processing finished before the host could be killed; make the corpus larger');
        if (s.files.byStage.indexed >= 3) {
          killedAt = s;
          break;
        }
      } else {
        await res.body?.cancel();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await host.kill();
    expect(killedAt.complete).toBe(false);

    host = await startHostProcess(h);
    const final = (await sam.waitComplete(CASE, [EVIDENCE], Math.max(240_000, PHOTOS * 400)))[EVIDENCE];
    expect(final.complete).toBe(true);
    expect(final.failures).toEqual([]);
    expect(final.uploads[0].integrity).toBe('verified');

    const files = (await allFilesOf(sam, CASE, EVIDENCE)).filter((i: any) => i.file.entryKind === 'file');
    const paths = files.map((i: any) => i.file.path);
    expect(new Set(paths).size).toBe(paths.length);
    const expected = ['phone.zip', ...entries.map((e) => `phone.zip!/${e.name}`)].sort();
    expect(paths.sort()).toEqual(expected);
    for (const item of files) expect(item.file.stage, item.file.path).toBe('indexed');
    for (const e of entries) {
      const item = files.find((i: any) => i.file.path === `phone.zip!/${e.name}`);
      expect(item.file.sha256).toBe(createHash('sha256').update(e.data).digest('hex'));
      expect(item.content.thumbnailStatus).toBe('done');
    }
    // Every thumbnail is readable and the custody log verifies after the crash.
    for (const item of files) {
      if (item.content?.thumbnailStatus !== 'done') continue;
      const res = await sam.request('GET', `/cases/${CASE}/files/${item.file.fileId}/thumbnail`);
      const body = Buffer.from(await res.arrayBuffer());
      expect({ path: item.file.path, status: res.status, jpeg: body.subarray(0, 2).toString('hex') }).toEqual({ path: item.file.path, status: 200, jpeg: 'ffd8' });
    }
    const verify = await sam.get(`/cases/${CASE}/custody/verify`);
    expect(verify.ok, JSON.stringify(verify).slice(0, 2000)).toBe(true);
  });
});

/** The host's JSON log lines (pino, written asynchronously: the file may lag the process by a few lines). */
async function logLines(h: HostProcessEnv): Promise<any[]> {
  const text = await readFile(path.join(h.dataDir, 'logs', 'host.log'), 'utf8').catch(() => '');
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line)] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Per-file work travels in batch messages (stage-runner.ts). A kill -9 while a
 * batch is half done must lose no file and do none twice: the redelivered
 * batch routes its finished files again and splits the rest off, and every
 * custody entry is written once.
 */
describe('crash of the local host in the middle of a batch', () => {
  const CASE_B = 'CRASH-002';
  let h: HostProcessEnv | undefined;
  let host: HostProcess | undefined;

  afterAll(async () => {
    await host?.stop();
    if (h) await removeHostEnv(h);
  });

  it('finishes every file exactly once, with every custody entry once, after a kill -9 between two files of a batch', async () => {
    // Debug level: the runner logs each file of a batch as it finishes, which tells the test when to pull the plug.
    h = await allocateHostEnv({ EXHIBIT_LOG_LEVEL: 'debug' });
    const count = Math.max(PHOTOS, LIMITS.batchMaxFiles * 3);
    const entries = await Promise.all(Array.from({ length: count }, async (_, i) => ({ name: `DCIM/IMG_${String(i).padStart(4, '0')}.jpg`, data: await crashPhoto(i, { width: 800, height: 600 }) })));
    const archive = await crashZip(entries);

    host = await startHostProcess(h);
    await uploadWithPlainClient(h.storageConnectionString, `${CASE_B}/${EVIDENCE}/phone.zip`, archive, {
      acquisition_sha256: createHash('sha256').update(archive).digest('hex'),
    });

    // Kill as soon as an analyse batch has finished some of its files but not all of them.
    let midBatch: any;
    const deadline = Date.now() + 180_000;
    while (!midBatch) {
      if (Date.now() > deadline) throw new Error(`no batch was seen half done:\n${host.output().slice(-2000)}`);
      const lines = await logLines(h);
      midBatch = lines.find((l) => l.msg === 'batch file finished' && l.stage === 'analyse' && l.file >= 1 && l.file < l.of - 1);
      if (lines.some((l) => l.msg === 'evidence processing complete')) throw new Error('processing finished before the host could be killed; make the corpus larger');
      if (!midBatch) await new Promise((r) => setTimeout(r, 20));
    }
    await host.kill();

    host = await startHostProcess(h);
    const admin = await ApiClient.login(h, 'crash-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE_B}/assignments`, { user: 'sam', role: 'supervisor' });
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);
    const final = (await sam.waitComplete(CASE_B, [EVIDENCE], Math.max(240_000, count * 400)))[EVIDENCE];
    expect(final.complete).toBe(true);
    expect(final.failures).toEqual([]);
    expect(final.uploads[0].integrity).toBe('verified');

    // The half-done batch came back after the restart: its finished files were routed again, the rest split off.
    const after = await logLines(h);
    const redelivered = after.filter((l) => l.msg === 'batch delivered again: routing its finished files, splitting off the rest');
    expect(redelivered.length).toBeGreaterThan(0);
    expect(redelivered.some((l) => l.finished >= 1 && l.splitOff >= 1), JSON.stringify(redelivered)).toBe(true);

    const files = (await allFilesOf(sam, CASE_B, EVIDENCE)).filter((i: any) => i.file.entryKind === 'file');
    const paths = files.map((i: any) => i.file.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.sort()).toEqual(['phone.zip', ...entries.map((e) => `phone.zip!/${e.name}`)].sort());
    for (const item of files) expect(item.file.stage, item.file.path).toBe('indexed');
    for (const e of entries) {
      const item = files.find((i: any) => i.file.path === `phone.zip!/${e.name}`);
      expect(item.file.sha256).toBe(createHash('sha256').update(e.data).digest('hex'));
      expect(item.content.thumbnailStatus).toBe('done');
    }

    // Custody: every pipeline event once, and the log verifies.
    const report = await sam.get(`/cases/${CASE_B}/custody/report?format=json`);
    expect(report.ok, JSON.stringify(report).slice(0, 2000)).toBe(true);
    const pipelineEntries = report.items.flatMap((i: any) => i.entries).filter((e: any) => e.actor === PIPELINE_ACTOR);
    const keys = pipelineEntries.map((e: any) => `${e.action} ${JSON.stringify(e.subject)}`);
    expect(keys.filter((k: string, i: number) => keys.indexOf(k) !== i)).toEqual([]);
    const actions = pipelineEntries.map((e: any) => e.action).sort();
    expect(actions).toEqual(['integrity-verified', 'processing-complete', 'received', 'unpacked']);
    expect(pipelineEntries.find((e: any) => e.action === 'unpacked').details).toMatchObject({ memberCount: count, failedMembers: 0, hashedMembers: count });
  });
});
