import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, DISK_IMAGE_MIMES, LIMITS, type Limits, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { runMessage, sendWork } from '../src/stage-runner.js';
import { buildExt4 } from '../src/disk/test-support/memory-card.builder.js';
import { addArchive, createHarness, limitsWith, type Harness } from './fixtures/archives/unpack-harness.js';

let h: Harness;
let dir: string;
let e01: string;
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });
const unpackMessagesOf = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === fileId);
const keyOf = (messageId: string) => messageId.split(':').slice(2).join(':');

async function deliverAll(fileId: string, limits: Limits) {
  const delivered = new Set<string>();
  const runs: Array<{ messageId: string; outcome: StageOutcome }> = [];
  h.deps.limits = limits;
  try {
    for (;;) {
      const next = unpackMessagesOf(fileId).find((s) => !delivered.has(s.message.messageId));
      if (!next) return runs;
      delivered.add(next.message.messageId);
      const outcome = await runMessage(h.deps, 'unpack', { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv());
      runs.push({ messageId: next.message.messageId, outcome });
      if (runs.length > 200) throw new Error('continuations do not end');
    }
  } finally {
    h.deps.limits = LIMITS;
  }
}

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
  dir = mkdtempSync(path.join(tmpdir(), 'carried-stop-'));
  // The files fill about 5.8 of the 8 MiB volume's 6.1 MiB free past its metadata (1.9 MiB), in whatever order mke2fs -d
  // takes them: the cut at 6 MiB loses blocks in use, so the volume has its cut-short finding (a cut losing only free
  // blocks is none: ext-volume-cut-short-free-space-fails-unpack).
  const files = { 'notes.txt': Buffer.from('kept before the cut\n'), 'photos/holiday.jpg': randomBytes(300_000), 'video/after-the-cut.mp4': randomBytes(5.5 * 1024 * 1024) };
  const cut = readFileSync(buildExt4(mkdtempSync(path.join(dir, 'ext-')), files, 8192)).subarray(0, 6 * 1024 * 1024);
  const raw = path.join(dir, 'cut.img');
  writeFileSync(raw, cut);
  execFileSync('ewfacquire', ['-u', '-t', path.join(dir, 'cut'), '-c', 'none', '-d', 'sha1', raw], { stdio: 'ignore' });
  e01 = path.join(dir, 'cut.E01');
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Regressions of a check chain's carried listing stop (an E01 of a cut-short ext4, its check taken resumably over attempts).
describe('carried stop of a broken volume', () => {
  // The chain's last attempt records the same volume findings as one attempt does: the carried stop is the listing's own,
  // never the volume stop diskImage sets, so diskImage works them out again.
  it('carried-volume-stop-recorded-as-members-unextracted', async () => {
    const details: Record<string, string | undefined> = {};
    const attempts: Record<string, number> = {};
    for (const chain of [false, true]) {
      const archive = await addArchive(h, `cut-${chain}.E01`, readFileSync(e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [archive]);
      const limits = limitsWith({ stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000, resumableImageCheckMinBytes: chain ? 1024 * 1024 : 2 ** 50, hashCheckpointBytes: 1024 * 1024 });
      const runs = await deliverAll(archive.fileId, limits);
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      const failure = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
      details[String(chain)] = failure?.detail;
      attempts[String(chain)] = runs.length;
    }
    // The chain went on over attempts of the check; the one-attempt unpack records the volume finding as no stop.
    expect(attempts['true']).toBeGreaterThan(2);
    expect(details['false']).toContain("every volume's listing ran to its end");
    expect(details['true']).toBe(details['false']);
  }, 300_000);

  // Only the chain's last attempt walks the recorded members, so only it loads them. The listing is stopped by the
  // entries limit, so the chain carries a stop (the case the rows were loaded for) and its last attempt records that stop.
  it('check-only-attempt-loads-every-member-row', async () => {
    const archive = await addArchive(h, `cut-count.E01`, readFileSync(e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const index = h.deps.index;
    let lists = 0;
    h.deps.index = Object.create(index, { listChildren: { value: async (id: string) => { if (id === archive.fileId) lists += 1; return index.listChildren(id); } } });
    const perRun: Array<[string, number]> = [];
    const limits = limitsWith({ stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: 1024 * 1024, maxArchiveEntries: 2 });
    const delivered = new Set<string>();
    h.deps.limits = limits;
    try {
      for (;;) {
        const next = unpackMessagesOf(archive.fileId).find((s) => !delivered.has(s.message.messageId));
        if (!next) break;
        delivered.add(next.message.messageId);
        lists = 0;
        await runMessage(h.deps, 'unpack', { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv());
        perRun.push([keyOf(next.message.messageId), lists]);
      }
    } finally {
      h.deps.limits = LIMITS;
      h.deps.index = index;
    }
    const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
    const failure = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
    expect(perRun.length).toBeGreaterThan(2);
    expect(failure?.detail).toContain('maxArchiveEntries (2)');
    // The check-only attempts (all but the first and the last) load no member rows.
    const checkOnly = perRun.slice(1, -1).map(([, n]) => n);
    expect(checkOnly).toEqual(checkOnly.map(() => 0));
  }, 300_000);
});
