import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, ExhibitError, LIMITS, type BlobStore, type HashMessage, type QueueName, type StageOutcome } from '@exhibit/core';
import { runDeadLetter, runMessage } from '../src/stage-runner.js';
import { unpackStage } from '../src/unpack.stage.js';
import { hasTool } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { limitsWith, uploadEvidence, type Harness } from './fixtures/archives/unpack-harness.js';
import { closeImageHarness, countingImageStore, digestsOf, openImageHarness, uploadExt4Image, type ImageReadCounts } from './fixtures/disk/uploaded-image.support.js';

/**
 * An uploaded disk image of at least LIMITS.resumableHashMinBytes is hashed in
 * its unpack's single read like a smaller one (unpack.stage.ts UploadPass):
 * when its listing ends before the end of the image (free space after the
 * last file), the pass saves its hash states and the hash stage reads on from
 * them (hash.stage.ts hashResumably), so the image is read from storage about
 * once. Test-sized: an 8 MiB threshold and a 40 MiB raw ext4 image built by
 * mke2fs, through the stage runner against Azurite and PGlite, every message
 * the runner sends for the root delivered as the bus would.
 */
let h: Harness;
const logger = createRootLogger({ level: (process.env.BU_LOG as 'info') ?? 'silent' });
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger });
/** Large from 8 MiB: the 40 MiB image below is one; a checkpoint every MiB of the hash stage's own read. */
const LARGE_FROM_8_MIB = limitsWith({ resumableHashMinBytes: 8 * 1024 * 1024, hashCheckpointBytes: 1024 * 1024 });
const missing = ['mke2fs'].filter((t) => !hasTool(t));
const missingEwf = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].filter((t) => !hasTool(t));
let dir: string;

beforeAll(async () => {
  ({ h, dir } = await openImageHarness(inject('storageConnectionString'), 'exhibit-large-image-one-read-'));
});
afterAll(() => closeImageHarness(h, dir));

const sentFor = (queue: QueueName, fileId: string) => h.bus.sent.filter((s) => s.queue === queue && (s.message.body as { fileId?: string }).fileId === fileId);

/** A raw ext4 image of `count` files of `fileBytes` each in `sizeKiB` (the rest free space, at its end), uploaded and ingested. */
const uploadImage = (name: string, count: number, fileBytes: number, sizeKiB: number) => uploadExt4Image(h, dir, name, count, fileBytes, sizeKiB);

/** Bytes storage returned of one blob (ranged reads and streams), and the offsets streams to the blob's end opened at. */
type ReadCounts = ImageReadCounts & { toEndFrom: number[] };

/**
 * Delivers the upload's hash message, then every hash and unpack message the runner sends for the root, each once, in
 * the order sent; `intercept` may take a delivery over (return true: not delivered by the loop).
 */
async function runRoot(message: HashMessage, intercept?: (queue: QueueName, messageId: string, body: unknown) => Promise<boolean>): Promise<Array<{ queue: QueueName; messageId: string; outcome?: StageOutcome }>> {
  const runs: Array<{ queue: QueueName; messageId: string; outcome?: StageOutcome }> = [];
  const first = `hash:${message.fileId}`;
  const delivered = new Set<string>([`hash|${first}`]);
  runs.push({ queue: 'hash', messageId: first, outcome: await runMessage(h.deps, 'hash', { body: message, messageId: first, deliveryCount: 1 }, inv()) });
  for (;;) {
    const next = h.bus.sent.find(
      (s) => (s.queue === 'hash' || s.queue === 'unpack') && (s.message.body as { fileId?: string }).fileId === message.fileId && !delivered.has(`${s.queue}|${s.message.messageId}`),
    );
    if (!next) return runs;
    delivered.add(`${next.queue}|${next.message.messageId}`);
    if (await intercept?.(next.queue, next.message.messageId, next.message.body)) {
      runs.push({ queue: next.queue, messageId: next.message.messageId });
      continue;
    }
    const outcome = await runMessage(h.deps, next.queue, { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv());
    runs.push({ queue: next.queue, messageId: next.message.messageId, outcome });
    if (runs.length > 100) throw new Error('the root\'s messages do not end');
  }
}

describe.skipIf(missing.length > 0)(`a large uploaded disk image hashed in its unpack's single read${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`, () => {
  // Before: an upload of at least resumableHashMinBytes was hashed by the hash stage in a read of its own beside its
  // unpack's listing (1.98x the image read here; 1.92x for the 8 GiB bench image).
  it('regression: large-disk-image-read-twice-hash-beside-unpack — a listing that ends before the image does saves the hash states; the hash stage reads only the rest', async () => {
    // Two 12 MiB files in 40 MiB: the listing is over well before the end of the image (free space after the files).
    const { message, image } = await uploadImage('large.img', 2, 12 * 1024 * 1024, 40 * 1024);
    expect(image.length).toBeGreaterThanOrEqual(LARGE_FROM_8_MIB.resumableHashMinBytes);
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    h.deps.limits = LARGE_FROM_8_MIB;
    h.deps.blobs = countingImageStore(plain, message.blobName, counts);
    let runs: Awaited<ReturnType<typeof runRoot>>;
    try {
      runs = await runRoot(message);
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
    const ratio = counts.bytes / image.length;
    if (process.env.BU_LOG) console.log({ runs: runs.map((r) => [r.queue, r.messageId, r.outcome?.status]), read: counts.bytes, toEndFrom: counts.toEndFrom, image: image.length, ratio });
    expect(ratio).toBeLessThanOrEqual(1.2);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toMatchObject(digestsOf(image));
    // The unpack's pass from byte 0, then the hash stage's read from where the pass stopped (not from byte 0 again).
    expect(counts.toEndFrom[0]).toBe(0);
    expect(counts.toEndFrom.length).toBe(2);
    expect(counts.toEndFrom[1]).toBeGreaterThan(0);
    expect(counts.toEndFrom[1]).toBeLessThan(image.length);
    expect(runs.map((r) => r.queue)).toEqual(['hash', 'unpack', 'hash']);
    // The row goes with the recorded hash; one integrity entry, hash-wasm's; the unpack says the hash stage took the rest.
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    const verified = h.custody.events.filter((e) => e.evidenceId === message.evidenceId && e.action === 'integrity-verified');
    expect(verified).toHaveLength(1);
    expect(verified[0]!.tools?.map((t) => t.name)).toContain('hash-wasm');
    const unpacked = h.custody.events.filter((e) => e.evidenceId === message.evidenceId && e.action === 'unpacked');
    expect(unpacked).toHaveLength(1);
    expect(unpacked[0]!.details).toMatchObject({ uploadHashTakenByHashStage: true });
    expect(unpacked[0]!.details).not.toHaveProperty('uploadHashedInThisRead');
    // The image goes on to analyse once, after its hash.
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
    const recorded = await h.index.listChildren(message.fileId);
    expect(recorded.filter((m) => m.path.includes('docs/file-'))).toHaveLength(2);
  }, 240_000);

  it('a dead-lettered unpack of a large image, after an attempt that continued: the hash stage reads on from the state its read saved, the hash the whole image\'s', async () => {
    const { message, image } = await uploadImage('large-dead.img', 3, 4 * 1024 * 1024, 20 * 1024);
    const etag = (await h.index.getUpload(message.blobName))!.etag;
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    // Every unpack attempt continues after its first member (the continue point at once).
    h.deps.limits = limitsWith({ resumableHashMinBytes: 8 * 1024 * 1024, hashCheckpointBytes: 1024 * 1024, stageDeadlineMs: 120_000, unpackContinueMarginMs: 120_000, hashContinueMarginMs: 10_000 });
    h.deps.blobs = countingImageStore(plain, message.blobName, counts);
    let savedAt = -1;
    try {
      await runRoot(message, async (queue, messageId, body) => {
        if (queue !== 'unpack' || !messageId.includes(':unpack-continue:')) return false;
        // The first continuation is given up on instead of delivered (its deliveries kept crashing).
        savedAt = (await h.index.getHashCheckpoint(message.fileId, etag))!.offsetBytes;
        await runDeadLetter(h.deps, 'unpack', { body, messageId, reason: 'MaxDeliveryCountExceeded', description: 'attempt 5: crashed' }, inv());
        return true;
      });
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
    expect(savedAt).toBeGreaterThan(0);
    expect((await h.index.getFile(message.fileId))!.unpack).toBe('failed');
    // The pass from byte 0, then the hash stage from the saved offset: no byte before it read again for the hash.
    expect(counts.toEndFrom).toEqual([0, savedAt]);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toMatchObject(digestsOf(image));
    expect(await h.index.getHashCheckpoint(message.fileId, etag)).toBeNull();
    expect(h.custody.events.filter((e) => e.evidenceId === message.evidenceId && e.action === 'integrity-verified')).toHaveLength(1);
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
  }, 240_000);

  it('an unpack delivered again after it handed the hash on (a crash before its send): the saved state is kept for the hash stage, which reads only the rest once', async () => {
    const { message, image } = await uploadImage('large-again.img', 2, 4 * 1024 * 1024, 20 * 1024);
    const etag = (await h.index.getUpload(message.blobName))!.etag;
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    h.deps.limits = LARGE_FROM_8_MIB;
    h.deps.blobs = countingImageStore(plain, message.blobName, counts);
    let handedOnAt = -1;
    try {
      await runRoot(message, async (queue, messageId, body) => {
        if (queue !== 'hash' || !messageId.endsWith(':after-unpack') || handedOnAt >= 0) return false;
        handedOnAt = (await h.index.getHashCheckpoint(message.fileId, etag))!.offsetBytes;
        // The unpack's message again (its lock lost after the end was recorded): nothing read, the state kept, the upload sent on again.
        const again = await runMessage(h.deps, 'unpack', { body: { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId }, messageId: `unpack:${message.fileId}`, deliveryCount: 2 }, inv());
        expect(again).toMatchObject({ status: 'skipped', reason: 'already-done' });
        expect((await h.index.getHashCheckpoint(message.fileId, etag))!.offsetBytes).toBe(handedOnAt);
        await runMessage(h.deps, 'hash', { body, messageId, deliveryCount: 1 }, inv());
        return true;
      });
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
    expect(handedOnAt).toBeGreaterThan(0);
    expect(counts.toEndFrom).toEqual([0, handedOnAt]);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toMatchObject(digestsOf(image));
    expect(h.custody.events.filter((e) => e.evidenceId === message.evidenceId && e.action === 'integrity-verified')).toHaveLength(1);
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
  }, 240_000);
});

describe.skipIf(missing.length > 0)(`a large image whose pass cannot hand on or is cut off${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`, () => {
  it('regression: large-image-past-restart-bound-fails-though-hashed-from-zero — its saved state unusable past LIMITS.maxHashRestarts, the listing ending early: the pass (from byte 0, on the threads) drains and records the hash', async () => {
    const { message, image } = await uploadImage('large-bound.img', 2, 4 * 1024 * 1024, 40 * 1024);
    const up0 = (await h.index.getUpload(message.blobName))!;
    await h.index.saveHashCheckpoint({ rootFileId: up0.rootFileId, etag: up0.etag, engine: 'hash-wasm@0.0.0', restarts: LIMITS.maxHashRestarts, offsetBytes: 4096, states: { md5: 'a', sha1: 'b', sha256: 'c' } });
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    h.deps.limits = LARGE_FROM_8_MIB;
    h.deps.blobs = countingImageStore(plain, message.blobName, counts);
    try {
      await runRoot(message);
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
    const up = (await h.index.getUpload(message.blobName))!;
    const root = (await h.index.getFile(message.fileId))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toEqual(digestsOf(image));
    expect(root.failure ?? null).toBeNull();
    // One stream to the end, the pass's from byte 0: nothing read again by the hash stage.
    expect(counts.toEndFrom).toEqual([0]);
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
  }, 240_000);

  it('regression: large-archive-drain-cut-by-deadline-rereads-from-zero — a large image whose final drain (the rest within hashCheckpointBytes) the deadline cuts: the pass saves its states, the hash stage reads on from them', async () => {
    const { message, image } = await uploadImage('large-drain-cut.img', 2, 4 * 1024 * 1024, 24 * 1024);
    // Large from 8 MiB; the rest after the listing (free space, under 24 MiB) within one checkpoint interval: drained, not handed on.
    const limits = limitsWith({ resumableHashMinBytes: 8 * 1024 * 1024, hashCheckpointBytes: 32 * 1024 * 1024 });
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    h.deps.limits = limits;
    try {
      expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack' } });
      const sent = sentFor('unpack', message.fileId)[0]!;
      // The unpack's runtime signal fires (a timeout) once the pass is within 1 MiB of the image's end: the listing over
      // (free space there), the pass draining for the hash.
      const runtime = new AbortController();
      const near = image.length - 1024 * 1024;
      h.deps.blobs = Object.create(plain, {
        openRead: {
          value: async (...args: Parameters<BlobStore['openRead']>) => {
            const stream = await plain.openRead(...args);
            if (args[0].name !== message.blobName || args[1]?.count !== undefined) return stream;
            async function* cut(): AsyncGenerator<Buffer> {
              let read = args[1]?.offset ?? 0;
              for await (const chunk of stream as AsyncIterable<Buffer>) {
                read += chunk.length;
                if (read >= near && !runtime.signal.aborted) runtime.abort(new ExhibitError('timeout', 'the stage deadline (test)'));
                yield chunk;
              }
            }
            return Readable.from(cut(), { objectMode: false });
          },
        },
      });
      try {
        await unpackStage(h.deps, sent.message.body as Parameters<typeof unpackStage>[1], { ...h.ctx, messageId: sent.message.messageId, deliveryCount: 1, deadlineAt: Date.now() + 3_600_000, abortSignal: runtime.signal });
      } finally {
        h.deps.blobs = plain;
      }
      expect(runtime.signal.aborted).toBe(true);
      const etag = (await h.index.getUpload(message.blobName))!.etag;
      expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
      const row = await h.index.getHashCheckpoint(message.fileId, etag);
      expect(row?.offsetBytes ?? 0).toBeGreaterThan(0);
      const unpacked = h.custody.events.filter((e) => e.evidenceId === message.evidenceId && e.action === 'unpacked');
      expect(unpacked).toHaveLength(1);
      expect(unpacked[0]!.details).toMatchObject({ uploadHashTakenByHashStage: true });
      // The hash message again (a re-drive): the hash stage reads on from the pass's saved states, not from byte 0.
      h.deps.blobs = countingImageStore(plain, message.blobName, counts);
      await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 2 }, inv());
      const delivered = new Set<string>();
      for (let i = 0; i < 20; i += 1) {
        const next = sentFor('hash', message.fileId).find((s) => s.message.messageId.includes(':hash-continue:') && !delivered.has(s.message.messageId));
        if (!next) break;
        delivered.add(next.message.messageId);
        await runMessage(h.deps, 'hash', { body: message, messageId: next.message.messageId, deliveryCount: 1 }, inv());
      }
      expect(counts.toEndFrom).toEqual([row!.offsetBytes]);
      const up = (await h.index.getUpload(message.blobName))!;
      expect(up.integrity).toBe('verified');
      expect(up.hashes).toEqual(digestsOf(image));
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
  }, 240_000);
});

describe.skipIf(missingEwf.length > 0)(`a large E01 whose stored-hash check goes on in a chain of its own${missingEwf.length > 0 ? ` (missing ${missingEwf.join(', ')})` : ''}`, () => {
  it('the upload\'s hash waits for the check chain, then the hash stage reads on from the listing pass\'s saved state: both verdicts recorded once, nothing left pending', async () => {
    const photos = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/IMG_000${i}.JPG`, bytes: randomBytes(300_000 + i), modified: new Date('2025-06-01T14:30:10Z') }));
    const e01 = readFileSync(buildMemoryCard(mkdtempSync(path.join(dir, 'card-')), photos, [], { compression: 'none' }).e01);
    const message = await uploadEvidence(h, 'card.E01', e01);
    const { evidenceId, blobName } = message;
    const etag = (await h.index.getUpload(blobName))!.etag;
    const counts: ReadCounts = { bytes: 0, toEndFrom: [] };
    const plain = h.deps.blobs;
    // Large from 8 MiB; the check resumable from 1 MiB of media, stopping at every 4 MiB checkpoint (its margin past the
    // deadline); the hash stage's continuations likewise.
    h.deps.limits = limitsWith({ resumableHashMinBytes: 8 * 1024 * 1024, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: 4 * 1024 * 1024, stageDeadlineMs: 120_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 150_000 });
    h.deps.blobs = countingImageStore(plain, blobName, counts);
    let savedAt = -1;
    let hashStageStreams: number[] | null = null;
    let checkAttempts = 0;
    try {
      await runRoot(message, async (queue, messageId, body) => {
        if (queue === 'unpack' && messageId.includes(':image-check:')) {
          checkAttempts += 1;
          // While the check chain runs the upload's hash waits, its states saved by the listing's pass.
          expect((await h.index.getUpload(blobName))!.integrity).toBe('pending');
          savedAt = (await h.index.getHashCheckpoint(message.fileId, etag))!.offsetBytes;
        }
        if (queue !== 'hash' || !messageId.endsWith(':after-unpack') || hashStageStreams) return false;
        const streams = counts.toEndFrom.length;
        await runMessage(h.deps, 'hash', { body, messageId, deliveryCount: 1 }, inv());
        hashStageStreams = counts.toEndFrom.slice(streams);
        return true;
      });
    } finally {
      h.deps.blobs = plain;
      h.deps.limits = LIMITS;
    }
    if (process.env.BU_LOG) console.log({ savedAt, hashStageStreams, checkAttempts, toEndFrom: counts.toEndFrom, read: counts.bytes, image: e01.length });
    expect(checkAttempts).toBeGreaterThan(1);
    expect(savedAt).toBeGreaterThan(0);
    // The hash stage read nothing before where the listing's pass had saved its states (here the pass had reached the
    // end of the blob: it read nothing at all, only digested).
    expect(hashStageStreams).not.toBeNull();
    expect(hashStageStreams!.every((offset) => offset >= savedAt)).toBe(true);
    const up = (await h.index.getUpload(blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toMatchObject(digestsOf(e01));
    expect(await h.index.getHashCheckpoint(message.fileId, etag)).toBeNull();
    expect(await h.index.getDiskImage(message.fileId)).toMatchObject({ integrity: 'verified' });
    const custody = (action: string) => h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === action);
    expect(custody('image-hash-verified')).toHaveLength(1);
    expect(custody('integrity-verified')).toHaveLength(1);
    expect(custody('unpacked')).toHaveLength(1);
    expect(custody('unpacked')[0]!.details).toMatchObject({ uploadHashTakenByHashStage: true });
    expect(sentFor('analyse', message.fileId)).toHaveLength(1);
    expect((await h.index.getFile(message.fileId))!.unpack).toBe('done');
  }, 300_000);
});
