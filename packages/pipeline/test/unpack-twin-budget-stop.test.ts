import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, DISK_IMAGE_MIMES, LIMITS, type BlobStore, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { runMessage, sendWork } from '../src/stage-runner.js';
import { buildExt4 } from '../src/disk/test-support/memory-card.builder.js';
import { addArchive, createHarness, limitsWith, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The twin W reads its first few evidence blobs at once, then each slowly, so its ~10 s of budget stops it after a member.
 * With 2.5 s (and 5-s slow reads) a machine at load 7 on 2 cores spent the budget opening the E01, before any member
 * (`stopped after 0 members`, CI at stop 32): the budget is slack for opening the image; the slow read is what ends it.
 */
const W_FAST_READS = 4;
const W_SLOW_READ_MS = 15_000;
const W_BUDGET_LEFT_MS = 10_000;

let h: Harness;
let dir: string;
let e01: string;
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });
const unpackMessagesOf = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === fileId);
const keyOf = (messageId: string) => messageId.split(':').slice(2).join(':');

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
  dir = mkdtempSync(path.join(tmpdir(), 'twin-stop-'));
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 12; i++) files[`f${i}.bin`] = randomBytes(50_000 + i);
  const img = buildExt4(mkdtempSync(path.join(dir, 'ext-')), files, 8192);
  execFileSync('ewfacquire', ['-u', '-t', path.join(dir, 'img'), '-c', 'none', '-d', 'sha1', img], { stdio: 'ignore' });
  e01 = path.join(dir, 'img.E01');
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('twin listing attempts', () => {
  // W stops on the time budget after one member and wins the continuation point (carrying its stop); L lists every member
  // but loses the point race. The chain's last attempt walks past W's point: the carried stop no longer holds.
  it('twin-budget-stop-overrides-complete-listing', async () => {
    // No stage lease (it would keep W from running beside L): what this tests is the guard beneath it, which a lease
    // lost to a stalled index leaves on its own.
    const limits = limitsWith({ stageLeaseMs: 0, stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: 1024 * 1024, minBudgetUnpackMs: 600_000, maxBudgetUnpackMs: 600_000 });
    h.deps.limits = limits;
    const archive = await addArchive(h, 'twin.E01', readFileSync(e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const first = unpackMessagesOf(archive.fileId)[0]!.message;
    const plain = h.deps.blobs;
    const evidence = h.deps.containers.evidence;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let gated!: () => void;
    const lGated = new Promise<void>((r) => (gated = r));
    const gate = <K extends 'openRead' | 'readRange' | 'getProperties'>(k: K) => ({
      value: async (...a: unknown[]) => {
        const ref = a[0] as { container: string };
        if (ref.container === evidence) {
          gated();
          await released;
        }
        return (plain[k] as (...x: unknown[]) => unknown).apply(plain, a);
      },
    });
    const lBlobs = Object.create(plain, { openRead: gate('openRead'), readRange: gate('readRange'), getProperties: gate('getProperties') }) as BlobStore;
    const slow = <K extends 'openRead' | 'readRange'>(k: K) => ({
      value: async (...a: unknown[]) => {
        const ref = a[0] as { container: string };
        if (ref.container === evidence) {
          wReads += 1;
          if (wReads > W_FAST_READS) await sleep(W_SLOW_READ_MS);
        }
        return (plain[k] as (...x: unknown[]) => unknown).apply(plain, a);
      },
    });
    let wReads = 0;
    const wBlobs = Object.create(plain, { openRead: slow('openRead') }) as BlobStore;
    const input = { body: first.body, messageId: first.messageId, deliveryCount: 1 };
    const lRun = runMessage({ ...h.deps, blobs: lBlobs, limits }, 'unpack', input, inv());
    await lGated;
    // Another archive of the item spends the unpack time: the twin starts with W_BUDGET_LEFT_MS left.
    await h.index.claimBudget(archive, 'unpackMs', 600_000 - W_BUDGET_LEFT_MS, Number.MAX_SAFE_INTEGER);
    const w = await runMessage({ ...h.deps, blobs: wBlobs, limits }, 'unpack', { ...input, deliveryCount: 2 }, inv());
    // W stopped on the budget after a member and continued (the chain's point is its, carrying its stop).
    expect(w).toMatchObject({ status: 'skipped' });
    expect((await h.index.listChildren(archive.fileId)).length).toBeLessThan(3);
    release();
    await lRun;
    const delivered = new Set<string>([first.messageId]);
    const runs: Array<{ key: string; outcome: StageOutcome }> = [];
    try {
      for (;;) {
        const next = unpackMessagesOf(archive.fileId).find((s) => !delivered.has(s.message.messageId));
        if (!next) break;
        delivered.add(next.message.messageId);
        const outcome = await runMessage(h.deps, 'unpack', { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv());
        runs.push({ key: keyOf(next.message.messageId), outcome });
        if (runs.length > 100) throw new Error('no end');
      }
    } finally {
      h.deps.limits = LIMITS;
    }
    const members = await h.index.listChildren(archive.fileId);
    const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
    const failure = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
    expect(members.length).toBe(12 + 0 + members.filter((m) => !m.name.startsWith('f')).length);
    // Every member is recorded: nothing is missing, so the unpack is not said to have stopped before any.
    expect(failure).toBeUndefined();
  }, 300_000);
});
