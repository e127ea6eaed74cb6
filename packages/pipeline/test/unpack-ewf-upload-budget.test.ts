import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, DISK_IMAGE_MIMES, LIMITS, rootFileId, type Limits, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { runIngest, runMessage, sendWork } from '../src/stage-runner.js';
import { hasTool } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard, type MemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { addArchive, createHarness, limitsWith, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

let h: Harness;
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });
const CHECKPOINT = 4 * 1024 * 1024;
const CHECK_LIMITS = { stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: CHECKPOINT };
const missing = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire', 'ewfinfo', 'ewfverify'].filter((t) => !hasTool(t));
let dir: string;
let card: MemoryCard;
const photos = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_${i}.JPG`, bytes: randomBytes(400_000 + i), modified: new Date('2025-06-01T14:30:10Z') }));

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
  dir = mkdtempSync(path.join(tmpdir(), 'exhibit-upload-budget-'));
  if (missing.length === 0) card = buildMemoryCard(dir, photos, [], { compression: 'none' });
}, 120_000);
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const unpackMessagesOf = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === fileId);
const keyOf = (messageId: string) => messageId.split(':').slice(2).join(':');
async function deliverAll(fileId: string, limits: Limits, afterEach?: () => Promise<void>): Promise<Array<{ messageId: string; outcome: StageOutcome }>> {
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
      await afterEach?.();
      if (runs.length > 200) throw new Error('continuations do not end');
    }
  } finally {
    h.deps.limits = LIMITS;
  }
}

describe.skipIf(missing.length > 0)('an uploaded E01 hashed in its own unpack, its unpack budget spent before the check', () => {
  it('uploaded-e01-verdict-lost-when-budget-spent-between-listing-and-check', async () => {
    const ref = await addArchive(h, 'gap-ref.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [ref]);
    await deliverAll(ref.fileId, limitsWith({}));
    const total = (await h.index.listChildren(ref.fileId)).length;

    const data = readFileSync(card.e01);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const blobName = `case-1/${evidenceId}/upload.E01`;
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const fileId = rootFileId(blobName);
    const limits = limitsWith({ ...CHECK_LIMITS, unpackContinueMarginMs: 200_000, singleReadResumableMinBytes: 1 });
    const hashMessages = () => h.bus.sent.filter((s) => s.queue === 'hash' && (s.message.body as { blobName?: string }).blobName === blobName);
    h.deps.limits = limits;
    try {
      const done = new Set<string>();
      for (;;) {
        const s = hashMessages().find((m) => !done.has(m.message.messageId));
        if (!s) break;
        done.add(s.message.messageId);
        await runMessage(h.deps, 'hash', { body: s.message.body, messageId: s.message.messageId, deliveryCount: 1 }, inv());
      }
    } finally {
      h.deps.limits = LIMITS;
    }
    expect((await h.index.getFile(fileId))!.unpack).toBe('pending');

    let spent = false;
    const root = (await h.index.getFile(fileId))!;
    const runs = await deliverAll(fileId, limits, async () => {
      if (spent) return;
      const key = keyOf(unpackMessagesOf(fileId).at(-1)!.message.messageId);
      if (key === `unpack-continue:${total}` && (await h.index.listChildren(fileId)).length === total) {
        spent = true;
        await h.index.claimBudget(root, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
      }
    });
    const unpacked = h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === 'unpacked');
    expect(spent).toBe(true);
    expect(runs.length).toBeGreaterThan(1);
    // The verdict is recorded (main and the first fix: no image record at all), the custody entry names the image.
    expect(await h.index.getDiskImage(fileId)).toMatchObject({ integrity: 'verified' });
    expect(unpacked).toHaveLength(1);
    expect(unpacked[0]!.details).toMatchObject({ format: 'disk-image' });
    // No saved hash state is left behind, whoever ends up recording the upload's hash.
    expect(await h.index.getHashCheckpoint(fileId, (await h.index.getUpload(blobName))!.etag)).toBeNull();
  }, 600_000);
});
