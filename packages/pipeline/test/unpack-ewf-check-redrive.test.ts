import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, DISK_IMAGE_MIMES, ExhibitError, LIMITS, rootFileId, type BlobStore, type Limits, type StageOutcome } from '@exhibit/core';
import { createWatchdogStore } from '@exhibit/index';
import { FileTypeIdentifier } from '@exhibit/media';
import { redrive, runIngest, runMessage, sendWork } from '../src/stage-runner.js';
import { hasTool } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard, offsetInImage, tamperEwfMedia, type MemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { addArchive, createHarness, limitsWith, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * An image's resumable EWF stored-hash check chain (docs/disk-images.md, "The EWF stored-hash check across attempts")
 * beside the other continuation rules merged with it: a watchdog re-drive mid-chain, late repeats of plain and re-drive
 * keys, a continuation point deleted while the unpack is pending, and the point's text (no member-cache waits counted
 * from the check's own reads). Through the stage runner against Azurite and PGlite, on a small E01 from ewfacquire, with
 * the limits shrunk so the check continues at every 4 MiB checkpoint.
 */
let h: Harness;
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: (process.env.BU_LOG as 'info') ?? 'silent' }) });
const CHECKPOINT = 4 * 1024 * 1024;
/** Listing in one attempt (unpackContinueMarginMs 0); the check stops at every checkpoint (soft point passed at once, hard point 45 s on). */
const CHECK_LIMITS = { stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: CHECKPOINT };
const EVERY_CHECKPOINT = limitsWith(CHECK_LIMITS);

const missing = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire', 'ewfinfo', 'ewfverify'].filter((t) => !hasTool(t));
let dir: string;
let card: MemoryCard;
const photos = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_${i}.JPG`, bytes: randomBytes(400_000 + i), modified: new Date('2025-06-01T14:30:10Z') }));

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
  dir = mkdtempSync(path.join(tmpdir(), 'exhibit-ewf-check-'));
  // Uncompressed: the media is read from ~34 MB of blob, and a chunk can be tampered with (tamperEwfMedia).
  if (missing.length === 0) card = buildMemoryCard(dir, photos, [], { compression: 'none' });
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unpackMessagesOf = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === fileId);
const custodyOf = (evidenceId: string, action: string) => h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === action);
const keyOf = (messageId: string) => messageId.split(':').slice(2).join(':');
const CHECK_KEY = /^unpack-continue:(\d+):image-check:(\d+)(?::restart-(\d+))?$/;

/** Delivers every unpack message sent for `fileId`, each once, in the order sent, until none is left. */
async function deliverAll(fileId: string, limits: Limits, afterEach?: (run: { messageId: string; outcome: StageOutcome }) => void | Promise<void>): Promise<Array<{ messageId: string; outcome: StageOutcome }>> {
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
      await afterEach?.(runs.at(-1)!);
      if (runs.length > 200) throw new Error('continuations do not end');
    }
  } finally {
    h.deps.limits = LIMITS;
  }
}

/** ewfinfo's stored MD5/SHA-1 and ewfverify's computed ones for an E01. */
function ewfTools(e01: string): { stored: { md5?: string; sha1?: string }; computed: { md5?: string; sha1?: string } } {
  const info = execFileSync('ewfinfo', [e01]).toString();
  const field = (text: string, label: string) => new RegExp(`${label}:\\s+([0-9a-f]+)`).exec(text)?.[1]?.trim();
  let verified = '';
  try {
    verified = execFileSync('ewfverify', ['-q', '-d', 'sha1', e01]).toString();
  } catch (err) {
    // ewfverify exits 1 on a mismatch; its report is still on stdout.
    verified = String((err as { stdout?: Buffer }).stdout ?? '');
  }
  return {
    stored: { md5: field(info, 'MD5'), sha1: field(info, 'SHA1') },
    computed: { md5: field(verified, 'MD5 hash calculated over data'), sha1: field(verified, 'SHA1 hash calculated over data') },
  };
}

async function checkpointRow(fileId: string): Promise<unknown> {
  return h.index.getImageCheckCheckpoint(fileId);
}

describe.skipIf(missing.length > 0)('the EWF stored-hash check of a large image is taken across unpack attempts', () => {
  it('regression: ewf-check-time-recorded-as-member-cache-waits — a check chain re-driven, repeated late and its point deleted while pending ends once, and its points carry no member-cache wait it did not make', async () => {
    const archive = await addArchive(h, 'rv.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const point = { container: h.deps.containers.derived, name: `staging/${archive.fileId}/unpack-continue` };
    h.deps.limits = EVERY_CHECKPOINT;
    const log: string[] = [];
    const points: string[] = [];
    const deliver = async (m: { body: unknown; messageId: string }, deliveryCount = 1) => {
      const o = await runMessage(h.deps, 'unpack', { body: m.body, messageId: m.messageId, deliveryCount }, inv());
      if (await h.deps.blobs.exists(point)) points.push((await h.deps.blobs.readRange(point, 0, 100)).toString());
      log.push(`${keyOf(m.messageId)} -> ${JSON.stringify(o)} | sent ${keyOf(unpackMessagesOf(archive.fileId).at(-1)!.message.messageId)} | point ${(await h.deps.blobs.exists(point)) ? (await h.deps.blobs.readRange(point, 0, 100)).toString() : '-'}`);
      return o;
    };
    try {
      await deliver(unpackMessagesOf(archive.fileId)[0]!.message);
      await deliver(unpackMessagesOf(archive.fileId)[1]!.message);
      await deliver(unpackMessagesOf(archive.fileId)[2]!.message);
      const chk = unpackMessagesOf(archive.fileId).at(-1)!.message;
      // redrive while chain in check phase; the latest check message "lost"
      await redrive(h.deps, archive, ['unpack'], { count: 1, movedAtMs: 42 });
      await deliver(unpackMessagesOf(archive.fileId).at(-1)!.message);
      const suffixed = unpackMessagesOf(archive.fileId).at(-1)!.message;
      await deliver(suffixed);
      // late delivery of the lost plain check message (now behind)
      await deliver(chk, 2);
      // late delivery of the suffixed one again
      await deliver(suffixed, 2);
      // point deleted while pending (simulate) then the latest message
      const latest = unpackMessagesOf(archive.fileId).at(-1)!.message;
      await h.deps.blobs.delete(point);
      await deliver(latest);
      // drain
      const delivered = new Set(unpackMessagesOf(archive.fileId).slice(0, -1).map((s) => s.message.messageId));
      for (let i = 0; i < 100; i++) {
        const next = unpackMessagesOf(archive.fileId).find((s) => !delivered.has(s.message.messageId));
        if (!next) break;
        delivered.add(next.message.messageId);
        await deliver(next.message);
      }
      await deliver(chk, 3);
      await deliver(suffixed, 3);
    } finally {
      h.deps.limits = LIMITS;
      if (process.env.EXHIBIT_TEST_LOG) console.log(log.join('\n'));
    }
    // No member cache in this harness: a ` w<ms>` in the point would be the check's own read time counted as cache waits.
    expect(points.length).toBeGreaterThan(0);
    for (const text of points) expect(text).not.toMatch(/ w\d+/);
    expect(points.some((text) => / c\d+r\d+$/.test(text))).toBe(true);
    expect((await h.index.getFile(archive.fileId))!.unpack).toBe('done');
    expect(await h.deps.blobs.exists(point)).toBe(false);
    expect(await checkpointRow(archive.fileId)).toBeNull();
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
  }, 300_000);
});
