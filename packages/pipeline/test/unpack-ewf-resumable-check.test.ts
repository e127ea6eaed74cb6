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
import { RESUMABLE_HASH_ENGINE } from '../src/resumable-hash.js';
import { hasTool } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard, offsetInImage, tamperEwfMedia, type MemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { addArchive, createHarness, limitsWith, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The EWF stored-hash check taken across unpack attempts (docs/disk-images.md,
 * "The EWF stored-hash check across attempts"), through the stage runner
 * against Azurite and PGlite, on small E01s made by ewfacquire with the
 * limits shrunk: `resumableImageCheckMinBytes` 1 MiB makes the check
 * resumable, `hashCheckpointBytes` 4 MiB saves every 4 MiB of media, and a
 * `hashContinueMarginMs` longer than the deadline stops each attempt at its
 * first checkpoint. Verdicts are compared with ewfinfo's stored hashes and
 * ewfverify's computed ones.
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

type EwfToolHashes = { stored: { md5?: string; sha1?: string }; computed: { md5?: string; sha1?: string } };
/** Per E01 path: the files are written once (the card in beforeAll, the tampered copy once) and never changed after. */
const ewfToolsSeen = new Map<string, EwfToolHashes>();

/** ewfinfo's stored MD5/SHA-1 and ewfverify's computed ones for an E01 (each file's run once: ewfverify reads all its media). */
function ewfTools(e01: string): EwfToolHashes {
  let known = ewfToolsSeen.get(e01);
  if (!known) ewfToolsSeen.set(e01, (known = runEwfTools(e01)));
  return known;
}

function runEwfTools(e01: string): EwfToolHashes {
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
  it('regression: ewf-stored-hash-check-cut-off-at-deadline — an E01 whose media takes longer than one deadline to read is verified, not stopped deadline-exceeded', async () => {
    // Before: the check read the whole media in the attempt that records the image; media that outlasts one deadline (a
    // 150-300 GB image and more in Azure; here ~34 MB read at 300 ms per 1-MiB read, an 8 s deadline) was cut off there.
    const archive = await addArchive(h, 'slow.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const plain = h.deps.blobs;
    // In-order (follow) reads of the blob, the media's and files' data, are slow; structure reads (readRange) are not.
    h.deps.blobs = Object.create(plain, {
      openRead: { value: async (...a: Parameters<BlobStore['openRead']>) => { await sleep(300); return plain.openRead(...a); } },
    }) as BlobStore;
    let runs: Array<{ messageId: string; outcome: StageOutcome }>;
    try {
      runs = await deliverAll(archive.fileId, limitsWith({ stageDeadlineMs: 8_000, unpackContinueMarginMs: 0, hashContinueMarginMs: 6_000, resumableImageCheckMinBytes: 1024 * 1024, hashCheckpointBytes: CHECKPOINT }));
    } finally {
      h.deps.blobs = plain;
    }
    const tools = ewfTools(card.e01);
    expect(tools.stored.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
      format: 'ewf',
      integrity: 'verified',
      mismatches: [],
      storedHashes: tools.stored,
      computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1, sha256: sha256(readFileSync(card.raw)) },
    });
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });
    expect(runs.some((r) => CHECK_KEY.test(keyOf(r.messageId)))).toBe(true);
    const verified = custodyOf(archive.evidenceId, 'image-hash-verified');
    expect(verified).toHaveLength(1);
    expect(verified[0]!.tools).toContainEqual(expect.objectContaining({ name: 'hash-wasm' }));
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('checked over several continuations (one per checkpoint), each reading on from the saved media offset; the verdict equals ewfinfo/ewfverify, recorded once', async () => {
    const archive = await addArchive(h, 'card.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const checkReads: number[] = [];
    const runs = await deliverAll(archive.fileId, EVERY_CHECKPOINT, async () => {
      const saved = (await h.index.getImageCheckCheckpoint(archive.fileId))?.offsetBytes;
      if (saved !== undefined) checkReads.push(saved);
    });
    const media = readFileSync(card.raw);
    const keys = runs.map((r) => keyOf(r.messageId));
    expect(new Set(keys).size).toBe(keys.length);
    const checks = keys.filter((k) => CHECK_KEY.test(k)).map((k) => Number(CHECK_KEY.exec(k)![2]));
    // Every checkpoint's offset, then the media's end (the last attempt lists the image and records the verdict).
    const expected = [];
    for (let at = CHECKPOINT; at < media.length; at += CHECKPOINT) expected.push(at);
    expected.push(media.length);
    expect(checks).toEqual(expected);
    // The check-only attempts record nothing; the members are recorded once, by the first attempt.
    const members = await h.index.listChildren(archive.fileId);
    expect(h.inserted.filter((f) => f.parentId === archive.fileId)).toHaveLength(members.length);
    for (const p of photos) expect(members.find((m) => m.path === `card.E01!/${p.path}`)?.sha256).toBe(sha256(p.bytes));
    const tools = ewfTools(card.e01);
    expect(tools.computed).toEqual(tools.stored);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
      integrity: 'verified',
      storedHashes: tools.stored,
      computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1, sha256: sha256(media) },
      volumes: [{ fileSystem: 'fat32', problem: null }],
    });
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'done', summary: { memberCount: members.length } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('a check continuation delivered again (after it sent its own, and after the chain went on) sends the latest key again; nothing is recorded twice', async () => {
    const archive = await addArchive(h, 'again.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    h.deps.limits = EVERY_CHECKPOINT;
    const deliver = async (i: number, deliveryCount: number) => {
      const m = unpackMessagesOf(archive.fileId)[i]!.message;
      return runMessage(h.deps, 'unpack', { body: m.body, messageId: m.messageId, deliveryCount }, inv());
    };
    try {
      await deliver(0, 1);
      await deliver(1, 1);
      await deliver(2, 1);
      const before = unpackMessagesOf(archive.fileId).map((s) => keyOf(s.message.messageId));
      expect(before.slice(1).every((k) => CHECK_KEY.test(k))).toBe(true);
      // The second check continuation again, then the first, then the listing attempt: each sends the latest key.
      expect(await deliver(2, 2)).toMatchObject({ status: 'skipped', reason: 'waiting' });
      expect(await deliver(1, 2)).toMatchObject({ status: 'skipped', reason: 'waiting' });
      expect(await deliver(0, 2)).toMatchObject({ status: 'skipped', reason: 'waiting' });
      const after = unpackMessagesOf(archive.fileId).map((s) => keyOf(s.message.messageId));
      expect(after.slice(before.length)).toEqual([before.at(-1), before.at(-1), before.at(-1)]);
      // The saved progress did not move back.
      expect((await h.index.getImageCheckCheckpoint(archive.fileId))?.offsetBytes).toBe(3 * CHECKPOINT);
    } finally {
      h.deps.limits = LIMITS;
    }
    // The bus keeps one message per id: the rest of the chain, once each.
    await deliverAll(archive.fileId, EVERY_CHECKPOINT);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    const members = await h.index.listChildren(archive.fileId);
    expect(h.inserted.filter((f) => f.parentId === archive.fileId)).toHaveLength(members.length);
  }, 300_000);

  it('an uploaded E01 whose hash is left to its unpack: verified across check continuations (no single read in them), the upload\'s hash then taken by the hash stage', async () => {
    const data = readFileSync(card.e01);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const blobName = `case-1/${evidenceId}/upload.E01`;
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const fileId = rootFileId(blobName);
    const hashMessages = () => h.bus.sent.filter((s) => s.queue === 'hash' && (s.message.body as { blobName?: string }).blobName === blobName);
    const deliverHashes = async (from: number) => {
      for (const s of hashMessages().slice(from)) await runMessage(h.deps, 'hash', { body: s.message.body, messageId: s.message.messageId, deliveryCount: 1 }, inv());
    };
    h.deps.limits = EVERY_CHECKPOINT;
    try {
      await deliverHashes(0);
    } finally {
      h.deps.limits = LIMITS;
    }
    expect((await h.index.getFile(fileId))!.unpack).toBe('pending');
    const hashesBefore = hashMessages().length;
    const runs = await deliverAll(fileId, EVERY_CHECKPOINT);
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 } });
    // The unpack ended without the upload's hash: sent back to the hash stage, which takes it.
    expect(hashMessages().length).toBeGreaterThan(hashesBefore);
    h.deps.limits = EVERY_CHECKPOINT;
    try {
      await deliverHashes(hashesBefore);
    } finally {
      h.deps.limits = LIMITS;
    }
    expect(await h.index.getUpload(blobName)).toMatchObject({ integrity: 'verified' });
    expect(custodyOf(evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(evidenceId, 'unpacked')).toHaveLength(1);
    // The unpack's entry says where the upload's hash was taken, and names none it did not take.
    expect(custodyOf(evidenceId, 'unpacked')[0]).toMatchObject({ details: { uploadHashTakenByHashStage: true } });
    expect(custodyOf(evidenceId, 'unpacked')[0]!.details).not.toHaveProperty('uploadHashedInThisRead');
    expect(custodyOf(evidenceId, 'unpacked')[0]!.subject).not.toHaveProperty('sha256');
  }, 300_000);

  it('an image check chain that ends without a pass deletes the single read\'s saved hash state its listing attempts left (the hash stage hashes from byte 0)', async () => {
    const data = readFileSync(card.e01);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const blobName = `case-1/${evidenceId}/upload-row.E01`;
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const fileId = rootFileId(blobName);
    const hashMessages = () => h.bus.sent.filter((s) => s.queue === 'hash' && (s.message.body as { blobName?: string }).blobName === blobName);
    for (const s of hashMessages()) await runMessage(h.deps, 'hash', { body: s.message.body, messageId: s.message.messageId, deliveryCount: 1 }, inv());
    const etag = (await h.index.getUpload(blobName))!.etag;
    let seeded = false;
    // The upload above singleReadResumableMinBytes (1 here): only then can a pass have left a row (none is deleted below it).
    await deliverAll(fileId, limitsWith({ ...CHECK_LIMITS, singleReadResumableMinBytes: 1 }), async (run) => {
      if (seeded || !CHECK_KEY.test(keyOf(run.messageId))) return;
      // As an earlier listing attempt's pass would have left it when it continued.
      seeded = (await h.index.saveHashCheckpoint({ rootFileId: fileId, etag, engine: RESUMABLE_HASH_ENGINE, restarts: 0, offsetBytes: 1024, states: { md5: 'AA==', sha1: 'AA==', sha256: 'AA==' } })) === 'saved';
    });
    expect(seeded).toBe(true);
    expect(await h.index.getDiskImage(fileId)).toMatchObject({ integrity: 'verified' });
    expect((await h.index.getUpload(blobName))!.integrity).toBe('pending');
    expect(await h.index.getHashCheckpoint(fileId, etag)).toBeNull();
  }, 300_000);

  it('regression: check-chain-saves-unused-upload-hash-state — the listing attempt of an uploaded E01 that goes on as its check chain saves no state of its pass (no later attempt reads one)', async () => {
    // Before: that attempt saved its pass's hash states before its continuation point, though the chain's attempts read no
    // pass and its last leaves the upload's hash to the hash stage, from byte 0.
    const data = readFileSync(card.e01);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const blobName = `case-1/${evidenceId}/upload-unused.E01`;
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const fileId = rootFileId(blobName);
    for (const s of h.bus.sent.filter((m) => m.queue === 'hash' && (m.message.body as { blobName?: string }).blobName === blobName)) {
      await runMessage(h.deps, 'hash', { body: s.message.body, messageId: s.message.messageId, deliveryCount: 1 }, inv());
    }
    expect((await h.index.getFile(fileId))!.unpack).toBe('pending');
    const index = h.deps.index;
    let saves = 0;
    h.deps.index = Object.create(index, {
      saveHashCheckpoint: {
        value: (...a: Parameters<typeof index.saveHashCheckpoint>) => {
          saves += 1;
          return index.saveHashCheckpoint(...a);
        },
      },
    });
    let runs: Array<{ messageId: string; outcome: StageOutcome }>;
    try {
      // The pass hashes resumably (singleReadResumableMinBytes 1); the listing ends in the first attempt, the check goes on.
      runs = await deliverAll(fileId, limitsWith({ ...CHECK_LIMITS, singleReadResumableMinBytes: 1 }));
    } finally {
      h.deps.index = index;
    }
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    expect(await h.index.getDiskImage(fileId)).toMatchObject({ integrity: 'verified' });
    expect(saves).toBe(0);
    expect(await h.index.getHashCheckpoint(fileId, (await h.index.getUpload(blobName))!.etag)).toBeNull();
  }, 300_000);

  it('the watchdog: an image whose check saved progress within the stall time is not stalled, a stalled member beside it still is', async () => {
    const archive = await addArchive(h, 'watched.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    h.deps.limits = EVERY_CHECKPOINT;
    try {
      // The listing attempt (members recorded) and one check continuation, which saves progress now.
      for (const i of [0, 1]) {
        const m = unpackMessagesOf(archive.fileId)[i]!.message;
        await runMessage(h.deps, 'unpack', { body: m.body, messageId: m.messageId, deliveryCount: 1 }, inv());
      }
    } finally {
      h.deps.limits = LIMITS;
    }
    expect((await h.index.getImageCheckCheckpoint(archive.fileId))?.offsetBytes).toBe(2 * CHECKPOINT);
    // Nothing in the item has moved for an hour (say the members' analyse messages were lost), but the check saved just now.
    await h.sql.query(`UPDATE files SET updated_at = now() - interval '1 hour' WHERE case_id = $1 AND evidence_id = $2`, [archive.caseId, archive.evidenceId]);
    const store = createWatchdogStore(h.sql);
    const stalledHere = async () => (await store.listStalledFiles({ stallMs: 60_000, limit: 10_000 })).filter((f) => f.evidenceId === archive.evidenceId).map((f) => f.fileId);
    const members = (await h.index.listChildren(archive.fileId)).filter((m) => m.stage === 'pending').map((m) => m.fileId);
    expect(members.length).toBeGreaterThan(0);
    expect((await stalledHere()).sort()).toEqual([...members].sort());
    // Once the check's progress stops moving too, the image's unpack is what stalled.
    await h.sql.query(`UPDATE image_check_checkpoints SET updated_at = now() - interval '1 hour' WHERE file_id = $1`, [archive.fileId]);
    expect(await stalledHere()).toContain(archive.fileId);

    // regression: ewf-check-moved-redrive-reused-earlier-redrive-id — the re-drive key names the file's last move
    // (redrive-<n>-<moved ms>) and the stuck record says since when: an image's check progress is that move, as it is
    // what resets the re-drive count; the file's own updated_at (an hour older here) would repeat an earlier re-drive's
    // id, which duplicate detection drops, and state a wrong time in the record.
    await h.sql.query(`UPDATE image_check_checkpoints SET updated_at = now() - interval '20 minutes' WHERE file_id = $1`, [archive.fileId]);
    const image = (await store.listStalledFiles({ stallMs: 60_000, limit: 10_000 })).find((f) => f.fileId === archive.fileId)!;
    const row = (await h.sql.query<{ updated_at: Date | string }>(`SELECT updated_at FROM image_check_checkpoints WHERE file_id = $1`, [archive.fileId])).rows[0]!;
    expect(Date.parse(image.movedAt)).toBe(new Date(row.updated_at).getTime());
    expect(Date.parse(image.movedAt)).toBeGreaterThan(Date.parse(image.updatedAt));
  }, 300_000);

  it('a modified image (one media byte flipped, its chunk checksum fixed) is still a mismatch across continuations, flagged and in custody once', async () => {
    const at = offsetInImage(card.raw, photos[1]!.bytes) + 100;
    const tampered = path.join(dir, 'tampered.E01');
    tamperEwfMedia(card.e01, card.raw, tampered, at);
    const archive = await addArchive(h, 'tampered.E01', readFileSync(tampered), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const runs = await deliverAll(archive.fileId, EVERY_CHECKPOINT);
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    const tools = ewfTools(tampered);
    expect(tools.computed.md5).not.toBe(tools.stored.md5);
    const changedMedia = Buffer.from(readFileSync(card.raw));
    changedMedia[at] = changedMedia[at]! ^ 0xff;
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
      integrity: 'mismatch',
      mismatches: ['md5', 'sha1'],
      storedHashes: tools.stored,
      computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1, sha256: sha256(changedMedia) },
    });
    expect((await h.index.getFile(archive.fileId))!.flags).toContain('image-hash-mismatch');
    expect(custodyOf(archive.evidenceId, 'image-hash-mismatch')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(0);
  }, 300_000);

  it('a damaged image (one media byte flipped, its chunk checksum left broken) checked resumably is recorded as damaged: failed with the chunk named, flagged and in custody once', async () => {
    // Sibling of ewf-damaged-chunk-check-unrecorded (unpack-disk-image.test.ts) on the resumable check's path.
    const at = offsetInImage(card.raw, photos[1]!.bytes) + 100;
    const damaged = path.join(dir, 'damaged.E01');
    tamperEwfMedia(card.e01, card.raw, damaged, at, undefined, { checksum: 'left-broken' });
    const archive = await addArchive(h, 'damaged.E01', readFileSync(damaged), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    await deliverAll(archive.fileId, EVERY_CHECKPOINT);
    const image = await h.index.getDiskImage(archive.fileId);
    expect(image).toMatchObject({ integrity: 'failed', mismatches: [], computedHashes: null, storedHashes: ewfTools(card.e01).stored });
    expect(image!.integrityDetail).toMatch(/^the media could not be read whole to check the stored hashes: .*EWF chunk \d+: Adler-32 mismatch/);
    expect((await h.index.getFile(archive.fileId))!.flags).toContain('image-media-damaged');
    expect(custodyOf(archive.evidenceId, 'image-media-damaged')).toEqual([expect.objectContaining({ details: expect.objectContaining({ integrity: 'failed', detail: image!.integrityDetail }) })]);
    expect(custodyOf(archive.evidenceId, 'image-hash-mismatch')).toHaveLength(0);
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(0);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('a segment blob changed between check attempts ends the check: the image\'s verdict is failed and the unpack stops evidence-changed, never joining hashes of two blobs', async () => {
    const archive = await addArchive(h, 'changed.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const source = { container: h.deps.containers.evidence, name: `${archive.caseId}/${archive.evidenceId}/changed.E01` };
    let replaced = false;
    const runs = await deliverAll(archive.fileId, EVERY_CHECKPOINT, async (run) => {
      // After the second check attempt, the blob is written again (the same bytes, a new ETag).
      if (!replaced && CHECK_KEY.test(keyOf(run.messageId))) {
        replaced = true;
        await h.deps.blobs.upload(source, readFileSync(card.e01));
      }
    });
    expect(replaced).toBe(true);
    const image = await h.index.getDiskImage(archive.fileId);
    expect(image).toMatchObject({ integrity: 'failed', computedHashes: null });
    expect(image!.integrityDetail).toContain('the stored-hash check was stopped (evidence-changed)');
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'evidence-changed' });
    const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
    expect(status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack')).toMatchObject({ code: 'evidence-changed' });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(0);
    expect(custodyOf(archive.evidenceId, 'image-hash-mismatch')).toHaveLength(0);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('saved states that do not load start the check over from offset 0 (restart-1 keys), at most maxHashRestarts times, and it still verifies', async () => {
    const archive = await addArchive(h, 'restart.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    let damaged = false;
    const runs = await deliverAll(archive.fileId, EVERY_CHECKPOINT, async () => {
      const saved = await h.index.getImageCheckCheckpoint(archive.fileId);
      if (!damaged && saved && saved.offsetBytes >= 2 * CHECKPOINT) {
        damaged = true;
        await h.sql.query(`UPDATE image_check_checkpoints SET md5_state = $2 WHERE file_id = $1`, [archive.fileId, Buffer.from('not a state').toString('base64')]);
      }
    });
    expect(damaged).toBe(true);
    const keys = runs.map((r) => keyOf(r.messageId));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.some((k) => k.endsWith(':restart-1'))).toBe(true);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);

    // Past the bound: the check is given up on and recorded failed (hash-state-unusable), never re-read for ever.
    const again = await addArchive(h, 'unusable.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [again]);
    await deliverAll(again.fileId, limitsWith({ ...CHECK_LIMITS, maxHashRestarts: 1 }), async () => {
      const saved = await h.index.getImageCheckCheckpoint(again.fileId);
      if (saved && saved.offsetBytes === CHECKPOINT) {
        await h.sql.query(`UPDATE image_check_checkpoints SET md5_state = $2 WHERE file_id = $1`, [again.fileId, Buffer.from('not a state').toString('base64')]);
      }
    });
    const failedImage = await h.index.getDiskImage(again.fileId);
    expect(failedImage).toMatchObject({ integrity: 'failed' });
    expect(failedImage!.integrityDetail).toContain('the stored-hash check was given up (hash-state-unusable)');
    expect(await checkpointRow(again.fileId)).toBeNull();
  }, 300_000);

  it('regression: ewf-check-final-attempt-fault-after-verdict-stalls-unpack — a retryable fault after the verdict is recorded and before the unpack is: the redelivery finishes the unpack, never starting the check over under a key already sent', async () => {
    // Before: the final attempt deleted the saved progress once the image was recorded; a fault before its unpacked custody
    // and setUnpack left a redelivery with no progress, which started the check over at restart 0 and sent the chain's first
    // check key again (dropped by the bus's duplicate window): the unpack stayed pending.
    const archive = await addArchive(h, 'fault.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const record = h.deps.custody.record.bind(h.deps.custody);
    let faulted = false;
    h.deps.custody.record = async (event) => {
      if (!faulted && event.action === 'unpacked' && event.evidenceId === archive.evidenceId) {
        faulted = true;
        throw new ExhibitError('storage-unavailable', 'fault between the image record and the unpack record');
      }
      return record(event);
    };
    const delivered = new Set<string>();
    const keys: string[] = [];
    h.deps.limits = EVERY_CHECKPOINT;
    try {
      for (let i = 0; i < 200; i++) {
        const next = unpackMessagesOf(archive.fileId).find((s) => !delivered.has(s.message.messageId));
        if (!next) break;
        // The bus drops a message whose id it has seen: only an id new to it is delivered.
        delivered.add(next.message.messageId);
        keys.push(keyOf(next.message.messageId));
        const body = { body: next.message.body, messageId: next.message.messageId };
        try {
          await runMessage(h.deps, 'unpack', { ...body, deliveryCount: 1 }, inv());
        } catch {
          // The retryable fault: the same message delivered again.
          await runMessage(h.deps, 'unpack', { ...body, deliveryCount: 2 }, inv());
        }
      }
    } finally {
      h.deps.limits = LIMITS;
      h.deps.custody.record = record;
    }
    expect(faulted).toBe(true);
    expect(unpackMessagesOf(archive.fileId).map((s) => keyOf(s.message.messageId))).toEqual(keys);
    expect((await h.index.getFile(archive.fileId))!.unpack).toBe('done');
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('regression: ewf-check-started-after-budget-stop-records-zero-members — the unpack-time budget running out in the listing stops the listing there, with the members it recorded (the image\'s check goes on to its verdict)', async () => {
    // Before: the resumable check started after a budget stop (off the budget's clock) and continued; the next attempt met the
    // spent budget before opening the image and recorded the unpack failed with `membersRecorded: 0` though members were recorded.
    // Deterministic (no timed budget): each attempt records one member (its continue point passed at once), and after the
    // attempt that recorded the second the item's unpack time is used up (claimBudget), so the listing stops there.
    const archive = await addArchive(h, 'budget-stop.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    let spent = false;
    const runs = await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, unpackContinueMarginMs: 200_000 }), async () => {
      if (spent || (await h.index.listChildren(archive.fileId)).length < 2) return;
      spent = true;
      await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
    });
    expect(spent).toBe(true);
    const members = await h.index.listChildren(archive.fileId);
    expect(members).toHaveLength(2);
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
    expect((await h.index.getFile(archive.fileId))!.unpack).toBe('failed');
    const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
    expect(status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack')?.archive).toMatchObject({ reason: 'budget-exceeded', membersRecorded: 2 });
    // The image opened and its listing began: its stored-hash check goes on to the verdict, recorded once
    // (ewf-check-verdict-lost-when-unpack-budget-spent).
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    const unpacked = custodyOf(archive.evidenceId, 'unpacked');
    expect(unpacked).toHaveLength(1);
    expect(unpacked[0]!.details).toMatchObject({ memberCount: 2, stoppedBy: { reason: 'budget-exceeded' } });
    expect(h.inserted.filter((f) => f.parentId === archive.fileId)).toHaveLength(2);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('regression: ewf-check-verdict-lost-when-unpack-budget-spent — a check chain whose item\'s unpack-time budget is spent after its listing goes on to the verdict, recorded once; the listing, ended in full, is not called stopped', async () => {
    // Before: every check continuation met the spent budget first and stopped the unpack budget-exceeded: neither verified nor
    // mismatch was ever recorded for the image (the check is not charged to the budget; the listing before it was).
    const archive = await addArchive(h, 'spent.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    let spent = false;
    const runs = await deliverAll(archive.fileId, EVERY_CHECKPOINT, async () => {
      // After the listing attempt (it started the check): the item's unpack time is used up.
      if (!spent) {
        spent = true;
        await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
      }
    });
    expect(runs[0]!.outcome).toMatchObject({ status: 'skipped', reason: 'waiting' });
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
      integrity: 'verified',
      storedHashes: tools.stored,
      computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1, sha256: sha256(readFileSync(card.raw)) },
      volumes: [{ fileSystem: 'fat32', problem: null }],
    });
    const members = await h.index.listChildren(archive.fileId);
    expect(members.length).toBeGreaterThan(photos.length);
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'done', summary: { memberCount: members.length } });
    expect(h.inserted.filter((f) => f.parentId === archive.fileId)).toHaveLength(members.length);
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('regression: ewf-check-verdict-lost-when-listing-stopped-by-budget — a listing stopped budget-exceeded still gets its image\'s stored-hash verdict; the stop and its member count stay, both shown in the status', async () => {
    // Before: a budget stop in the listing started no check, and a chain meeting the spent budget stopped before its verdict:
    // the image was never recorded. The item's entry budget (3) stops the listing in its first attempt, deterministically;
    // then the unpack time is spent too (the check chain's last attempt walks the recorded members only), or not (it lists
    // again and meets the entry budget again).
    for (const spendTime of [true, false]) {
      const archive = await addArchive(h, `stopped-${spendTime}.E01`, readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [archive]);
      let first = true;
      const runs = await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, minBudgetEntries: 3, maxBudgetEntries: 3 }), async () => {
        if (first && spendTime) await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        first = false;
      });
      const members = await h.index.listChildren(archive.fileId);
      expect(members).toHaveLength(3);
      expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
      const tools = ewfTools(card.e01);
      expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
        integrity: 'verified',
        storedHashes: tools.stored,
        computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 },
      });
      expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
      expect((await h.index.getFile(archive.fileId))!.unpack).toBe('failed');
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      expect(status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack')?.archive).toMatchObject({ reason: 'budget-exceeded', membersRecorded: 3 });
      expect(status?.diskImages.find((d) => d.fileId === archive.fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5 } });
      expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
      const unpacked = custodyOf(archive.evidenceId, 'unpacked');
      expect(unpacked).toHaveLength(1);
      expect(unpacked[0]!.details).toMatchObject({ memberCount: 3, stoppedBy: { reason: 'budget-exceeded' } });
      expect(h.inserted.filter((f) => f.parentId === archive.fileId)).toHaveLength(3);
      expect(await checkpointRow(archive.fileId)).toBeNull();
    }
  }, 300_000);

  it('regression: ewf-verdict-lost-when-budget-spent-between-listing-and-check — a listing over several attempts leaves the image\'s end to a plain continuation; the budget spent before it runs still gets the image its stored-hash verdict, and the custody entry is of the members recorded', async () => {
    // Before: the plain `unpack-continue:N` (not a check chain) met the spent budget before opening the image and stopped
    // budget-exceeded: no verdict, no image record, and a custody entry of 0 hashed members with the Merkle root of none.
    // Reference: the card listed in one attempt (check not resumable), its members' count and Merkle root.
    const ref = await addArchive(h, 'gap-ref.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [ref]);
    await deliverAll(ref.fileId, limitsWith({}));
    const total = (await h.index.listChildren(ref.fileId)).length;
    const refDetails = custodyOf(ref.evidenceId, 'unpacked')[0]!.details as { merkleRoot: string; hashedMembers: number };
    expect(total).toBeGreaterThan(photos.length);
    expect(refDetails.hashedMembers).toBeGreaterThan(0);
    // The check chain takes the verdict (an image below resumableImageCheckMinBytes too:
    // small-e01-verdict-lost-when-budget-spent-at-image-end).
    const archive = await addArchive(h, 'gap-true.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    let spent = false;
    // Each attempt records one member (its continue point passed at once); the listing's end leaves the image's end to one more.
    const runs = await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, unpackContinueMarginMs: 200_000 }), async () => {
      if (spent) return;
      const key = keyOf(unpackMessagesOf(archive.fileId).at(-1)!.message.messageId);
      if (key === `unpack-continue:${total}` && (await h.index.listChildren(archive.fileId)).length === total) {
        spent = true;
        // Another archive of the item used its unpack time up before the image's end runs.
        await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
      }
    });
    expect(spent).toBe(true);
    const unpacked = custodyOf(archive.evidenceId, 'unpacked');
    expect(unpacked).toHaveLength(1);
    expect(unpacked[0]!.details).toMatchObject({ format: 'disk-image', memberCount: total, hashedMembers: refDetails.hashedMembers, merkleRoot: refDetails.merkleRoot });
    expect(await checkpointRow(archive.fileId)).toBeNull();
    expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
      integrity: 'verified',
      storedHashes: tools.stored,
      computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 },
      volumes: [{ fileSystem: 'fat32', problem: null }],
    });
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'done', summary: { memberCount: total } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
  }, 600_000);

  it('regression: uploaded-e01-verdict-lost-when-budget-spent-between-listing-and-check — an uploaded E01 whose hash its own unpack takes (not identified yet) also gets its verdict when the budget is spent before its check', async () => {
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

  it('regression: budget-stopped-volume-recorded-with-wrong-entries — an image whose listing the entries budget stopped is recorded with its volume\'s file system and the entries taken (the members recorded), not the one the listing ended on', async () => {
    // Before: the volume was recorded `{ fileSystem: null, entries: 4 }` for 3 members recorded (the reader counted the entry
    // the walk ended on, and named the file system only at the volume's end, which a stopped listing never reaches). The
    // entries budget (3) stops the listing; the unpack time is then spent (the last attempt walks the recorded members only)
    // or not (it lists again and meets the entries budget again).
    for (const spendTime of [true, false]) {
      const archive = await addArchive(h, `volume-${spendTime}.E01`, readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [archive]);
      let first = true;
      await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, minBudgetEntries: 3, maxBudgetEntries: 3 }), async () => {
        if (first && spendTime) await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        first = false;
      });
      expect(await h.index.listChildren(archive.fileId)).toHaveLength(3);
      expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified', volumes: [{ fileSystem: 'fat32', entries: 3, problem: null }] });
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      expect(status?.diskImages.find((d) => d.fileId === archive.fileId)?.volumes).toMatchObject([{ fileSystem: 'fat32', entries: 3 }]);
      expect(status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack')?.archive).toMatchObject({ reason: 'budget-exceeded', membersRecorded: 3 });
    }
  }, 300_000);

  it('regression: budget-stop-detail-names-time-budget-when-entries-budget-stopped-listing — a listing the entries budget stopped, the unpack time spent after it, is said stopped by the entries budget (as a listing meeting it says)', async () => {
    const archive = await addArchive(h, 'detail.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    let first = true;
    await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, minBudgetEntries: 3, maxBudgetEntries: 3 }), async () => {
      if (first) await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
      first = false;
    });
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
    const stoppedBy = (custodyOf(archive.evidenceId, 'unpacked')[0]!.details as { stoppedBy: { reason: string; detail: string } }).stoppedBy;
    expect(stoppedBy.reason).toBe('budget-exceeded');
    expect(stoppedBy.detail).toMatch(/^the evidence item's entr\w* budget \(3\) is used up/);
    expect(stoppedBy.detail).not.toMatch(/unpack-time/);
  }, 300_000);

  it('regression: listing-stop-named-time-budget-when-archive-limit-stopped-it — a listing stopped by a per-archive limit, or by an item budget not used up to its last unit, its unpack time spent after it, is recorded with that stop (reason, limit and count), in custody and status alike', async () => {
    // Before: the check chain's last attempt met the spent time budget, walked the recorded members, and named what stopped
    // the listing from the budget as it stood then: only an item budget used up to its last unit was found, anything else
    // was called the unpack-time budget, and a listing stopped on its last entry (the member the limit failed is recorded)
    // was called done. Each case stops the listing in its first attempt, deterministically (the second photo does not fit,
    // or the third, the last entry); the unpack time is spent after it.
    const cases = [
      { name: 'archive-expanded', limits: { maxArchiveExpandedBytes: 500_000 }, reason: 'limit-exceeded', detail: /^archive expands beyond maxArchiveExpandedBytes \(500000 bytes\)/ },
      { name: 'item-written', limits: { minBudgetWrittenBytes: 500_000, maxBudgetWrittenBytes: 500_000 }, reason: 'budget-exceeded', detail: /^the evidence item's derived-bytes-written budget \(500000\) is used up/ },
      { name: 'archive-expanded-last-entry', limits: { maxArchiveExpandedBytes: 1_000_000 }, reason: 'limit-exceeded', detail: /^archive expands beyond maxArchiveExpandedBytes \(1000000 bytes\)/ },
    ];
    for (const c of cases) {
      const archive = await addArchive(h, `limit-${c.name}.E01`, readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [archive]);
      let first = true;
      const runs = await deliverAll(archive.fileId, limitsWith({ ...CHECK_LIMITS, ...c.limits }), async () => {
        if (first) await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        first = false;
      });
      expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
      expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
      const members = await h.index.listChildren(archive.fileId);
      const unpacked = custodyOf(archive.evidenceId, 'unpacked');
      expect(unpacked).toHaveLength(1);
      const stoppedBy = (unpacked[0]!.details as { stoppedBy: { reason: string; detail: string } }).stoppedBy;
      expect(stoppedBy.detail).toMatch(c.detail);
      expect(stoppedBy.reason).toBe(c.reason);
      expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      const failure = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
      expect(failure?.archive).toMatchObject({ reason: c.reason, membersRecorded: members.length });
      expect(failure?.detail).toMatch(c.detail);
      expect(failure?.detail).toContain(`(${members.length} members recorded`);

      // The same limit, the time never spent: the same stop, carried too (before, the expanded-bytes case's last attempt
      // listed again past the member the limit failed and recorded the unpack done).
      const ref = await addArchive(h, `limit-ref-${c.name}.E01`, readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [ref]);
      await deliverAll(ref.fileId, limitsWith({ ...CHECK_LIMITS, ...c.limits }));
      const refDetails = custodyOf(ref.evidenceId, 'unpacked')[0]!.details as { stoppedBy?: { reason: string; detail: string }; memberCount: number };
      expect(refDetails.stoppedBy).toEqual(stoppedBy);
      expect(refDetails.memberCount).toBe(members.length);
    }
  }, 600_000);

  it('regression: small-e01-verdict-lost-when-budget-spent-at-image-end — an E01 below resumableImageCheckMinBytes gets its stored-hash verdict when the unpack-time budget is spent before its check, its listing ended in full or stopped by the budget', async () => {
    // Before: below resumableImageCheckMinBytes the check is read in one go at the image's end, charged to the unpack-time
    // budget: a spent budget stopped the unpack with no verdict and no image record. Now it is taken as a large image's is
    // (resumable, across attempts, not charged to the budget), each attempt's reading bounded by its deadline.
    const ref = await addArchive(h, 'small-ref.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [ref]);
    await deliverAll(ref.fileId, limitsWith({}));
    const total = (await h.index.listChildren(ref.fileId)).length;
    const refDetails = custodyOf(ref.evidenceId, 'unpacked')[0]!.details as { merkleRoot: string; hashedMembers: number };
    const tools = ewfTools(card.e01);
    // Small: never resumable by its size. Each attempt records one member (its continue point passed at once).
    const limits = limitsWith({ ...CHECK_LIMITS, unpackContinueMarginMs: 200_000, resumableImageCheckMinBytes: 2 ** 50 });
    for (const when of ['between-listing-and-check', 'in-listing'] as const) {
      const archive = await addArchive(h, `small-${when}.E01`, readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
      await sendWork(h.deps, 'unpack', [archive]);
      let spent = false;
      const runs = await deliverAll(archive.fileId, limits, async () => {
        if (spent) return;
        const recorded = (await h.index.listChildren(archive.fileId)).length;
        const key = keyOf(unpackMessagesOf(archive.fileId).at(-1)!.message.messageId);
        if (when === 'in-listing' ? recorded >= 2 : key === `unpack-continue:${total}` && recorded === total) {
          spent = true;
          await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        }
      });
      expect(spent).toBe(true);
      expect(runs.filter((r) => CHECK_KEY.test(keyOf(r.messageId))).length).toBeGreaterThan(3);
      expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({
        integrity: 'verified',
        storedHashes: tools.stored,
        computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1, sha256: sha256(readFileSync(card.raw)) },
        volumes: [{ fileSystem: 'fat32', problem: null }],
      });
      const verified = custodyOf(archive.evidenceId, 'image-hash-verified');
      expect(verified).toHaveLength(1);
      expect(verified[0]!.tools).toContainEqual(expect.objectContaining({ name: 'hash-wasm' }));
      const unpacked = custodyOf(archive.evidenceId, 'unpacked');
      expect(unpacked).toHaveLength(1);
      if (when === 'between-listing-and-check') {
        // The listing had ended in full: not called stopped.
        expect(runs.at(-1)!.outcome).toMatchObject({ status: 'done', summary: { memberCount: total } });
        expect(unpacked[0]!.details).toMatchObject({ memberCount: total, hashedMembers: refDetails.hashedMembers, merkleRoot: refDetails.merkleRoot });
      } else {
        expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
        expect(unpacked[0]!.details).toMatchObject({ memberCount: 2, stoppedBy: { reason: 'budget-exceeded' } });
        const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
        expect(status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack')?.archive).toMatchObject({ reason: 'budget-exceeded', membersRecorded: 2 });
        expect(status?.diskImages.find((d) => d.fileId === archive.fileId)).toMatchObject({ integrity: 'verified' });
      }
      expect(await checkpointRow(archive.fileId)).toBeNull();
    }
  }, 600_000);

  it('regression: budget-walk-queried-index-per-member-and-decided-upload-type-twice — the walk over recorded members uses the rows loaded once; an unidentified upload meeting the spent budget has its type decided once', async () => {
    // Before: the walk of a check chain's last attempt (the budget spent) asked the index for each member twice (the
    // reader's isRecorded, the stage's member row) though every row was loaded; and an upload not identified yet that met
    // the spent budget was identified twice (once to see it is a disk image, once to open it).
    const archive = await addArchive(h, 'walk-rows.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const index = h.deps.index;
    let memberReads = 0;
    const memberReadsPerRun: number[] = [];
    h.deps.index = Object.create(index, {
      getFile: {
        value: async (fileId: string) => {
          if (fileId !== archive.fileId) memberReads += 1;
          return index.getFile(fileId);
        },
      },
    });
    let spent = false;
    try {
      await deliverAll(archive.fileId, EVERY_CHECKPOINT, async () => {
        memberReadsPerRun.push(memberReads);
        memberReads = 0;
        if (!spent) {
          spent = true;
          await h.index.claimBudget(archive, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        }
      });
    } finally {
      h.deps.index = index;
    }
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified' });
    expect((await h.index.listChildren(archive.fileId)).length).toBeGreaterThan(photos.length);
    // The last attempt walked every recorded member (the image's volume record counts them) without a query per member.
    expect(memberReadsPerRun.at(-1)).toBe(0);

    // An uploaded raw image whose hash its unpack takes: not identified when the spent budget meets it.
    const data = readFileSync(card.raw);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const blobName = `case-1/${evidenceId}/card.img`;
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const fileId = rootFileId(blobName);
    const limits = limitsWith({ ...CHECK_LIMITS, unpackContinueMarginMs: 200_000 });
    h.deps.limits = limits;
    try {
      for (const s of h.bus.sent.filter((m) => m.queue === 'hash' && (m.message.body as { blobName?: string }).blobName === blobName)) {
        await runMessage(h.deps, 'hash', { body: s.message.body, messageId: s.message.messageId, deliveryCount: 1 }, inv());
      }
    } finally {
      h.deps.limits = LIMITS;
    }
    expect((await h.index.getFile(fileId))!.unpack).toBe('pending');
    const identifier = h.deps.identifier;
    let identified = 0;
    const identifiedPerRun: number[] = [];
    h.deps.identifier = Object.create(identifier, {
      identify: {
        value: (...a: Parameters<typeof identifier.identify>) => {
          identified += 1;
          return identifier.identify(...a);
        },
      },
    }) as typeof identifier;
    spent = false;
    const root = (await h.index.getFile(fileId))!;
    let runs: Array<{ messageId: string; outcome: StageOutcome }>;
    try {
      runs = await deliverAll(fileId, limits, async () => {
        identifiedPerRun.push(identified);
        identified = 0;
        if (!spent && (await h.index.listChildren(fileId)).length >= 2) {
          spent = true;
          await h.index.claimBudget(root, 'unpackMs', 10 ** 12, Number.MAX_SAFE_INTEGER);
        }
      });
    } finally {
      h.deps.identifier = identifier;
    }
    expect(spent).toBe(true);
    expect(runs.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
    const status = await h.index.evidenceStatus(root.caseId, root.evidenceId);
    expect(status?.failures.find((f) => f.fileId === fileId && f.stage === 'unpack')?.archive).toMatchObject({ reason: 'budget-exceeded', membersRecorded: 2 });
    // Each attempt identified the upload once, the one that met the spent budget too.
    expect(identifiedPerRun.at(-1)).toBe(1);
    expect(Math.max(...identifiedPerRun)).toBe(1);
  }, 600_000);

  it('regression: image-check-row-read-several-times-per-attempt — each attempt of a check chain reads the check\'s saved row at most once, and the chain still verifies', async () => {
    // Before: a check continuation read the row three times (hashed whole? recorded? resume from), the final attempt three.
    const archive = await addArchive(h, 'reads.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const read = h.index.getImageCheckCheckpoint.bind(h.index);
    let reads = 0;
    h.index.getImageCheckCheckpoint = async (fileId) => {
      if (fileId === archive.fileId) reads += 1;
      return read(fileId);
    };
    const perAttempt: number[] = [];
    try {
      await deliverAll(archive.fileId, EVERY_CHECKPOINT, () => {
        perAttempt.push(reads);
        reads = 0;
      });
    } finally {
      h.index.getImageCheckCheckpoint = read;
    }
    expect(perAttempt.length).toBeGreaterThan(3);
    expect(Math.max(...perAttempt)).toBe(1);
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

  it('regression: image-check-continuation-keyed-on-unsaved-progress — a check attempt whose save another delivery\'s further progress refused sends no continuation keyed on its own offset; the chain still verifies', async () => {
    // Before: saveImageCheckCheckpoint said true whenever the unpack was pending, written or not: the attempt sent
    // `image-check:<its offset>` though the row held another delivery's further progress.
    const archive = await addArchive(h, 'overtaken.E01', readFileSync(card.e01), { mime: DISK_IMAGE_MIMES.ewf });
    await sendWork(h.deps, 'unpack', [archive]);
    const delivered = new Set<string>();
    const deliver = async (m: { body: unknown; messageId: string }, deliveryCount = 1) => {
      delivered.add(m.messageId);
      return runMessage(h.deps, 'unpack', { body: m.body, messageId: m.messageId, deliveryCount }, inv());
    };
    h.deps.limits = EVERY_CHECKPOINT;
    const read = h.index.getImageCheckCheckpoint.bind(h.index);
    const save = h.index.saveImageCheckCheckpoint.bind(h.index);
    try {
      await deliver(unpackMessagesOf(archive.fileId)[0]!.message);
      await deliver(unpackMessagesOf(archive.fileId)[1]!.message);
      const third = unpackMessagesOf(archive.fileId)[2]!.message;
      const from = Number(CHECK_KEY.exec(keyOf(third.messageId))![2]);
      // Just before this attempt's save, another delivery saved further (its states, not loadable by this build: the chain starts over later).
      h.index.saveImageCheckCheckpoint = async (checkpoint) => {
        h.index.saveImageCheckCheckpoint = save;
        await h.sql.query(`UPDATE image_check_checkpoints SET offset_bytes = $2, md5_state = $3 WHERE file_id = $1`, [checkpoint.fileId, from + 2 * CHECKPOINT, Buffer.from('not a state').toString('base64')]);
        return save(checkpoint);
      };
      const sentBefore = unpackMessagesOf(archive.fileId).length;
      expect(await deliver(third)).toMatchObject({ status: 'skipped', reason: 'waiting' });
      const sent = unpackMessagesOf(archive.fileId).slice(sentBefore).map((m) => keyOf(m.message.messageId));
      expect(sent).not.toContain(`unpack-continue:${CHECK_KEY.exec(keyOf(third.messageId))![1]}:image-check:${from + CHECKPOINT}`);
      expect(sent.every((k) => k === keyOf(third.messageId))).toBe(true);
      expect((await read(archive.fileId))?.offsetBytes).toBe(from + 2 * CHECKPOINT);
      // The delivery that saved further is this message's own again (its lock lapsed): it goes on from the row.
      await deliver(third, 2);
      for (let i = 0; i < 200; i++) {
        const next = unpackMessagesOf(archive.fileId).find((m) => !delivered.has(m.message.messageId));
        if (!next) break;
        await deliver(next.message);
      }
    } finally {
      h.index.saveImageCheckCheckpoint = save;
      h.deps.limits = LIMITS;
    }
    const tools = ewfTools(card.e01);
    expect(await h.index.getDiskImage(archive.fileId)).toMatchObject({ integrity: 'verified', computedHashes: { md5: tools.computed.md5, sha1: tools.computed.sha1 } });
    expect(custodyOf(archive.evidenceId, 'image-hash-verified')).toHaveLength(1);
    expect(custodyOf(archive.evidenceId, 'unpacked')).toHaveLength(1);
    expect(await checkpointRow(archive.fileId)).toBeNull();
  }, 300_000);

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
