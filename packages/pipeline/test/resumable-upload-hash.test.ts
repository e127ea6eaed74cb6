import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createRootLogger, LIMITS, type BlobStore, type HashMessage, type OutgoingMessage, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { hashStage, recordEvidenceChanged } from '../src/hash.stage.js';
import { RESUMABLE_HASH_ENGINE } from '../src/resumable-hash.js';
import { redrive, runDeadLetter, runMessage } from '../src/stage-runner.js';
import { queuesAwaited } from '../src/stage-graph.js';
import { createWatchdogStore } from '@exhibit/index';
import { hasTool, pseudoRandom } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { createHarness, limitsWith, sha256, uploadEvidence, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The hash of an upload too large for one stage invocation (a 500 GB-2 TB disk
 * image) is taken resumably (hash.stage.ts hashResumably): states saved in the
 * index every checkpoint, a continuation message before the deadline, read on
 * from the checkpoint pinned to the ETag. An archive or disk image that large
 * is not hashed by that chain beside its unpack: its unpack's single read
 * hashes it (resumably), and the chain only reads on from the states that
 * read saved when its listing ended early or the unpack was given up on (so
 * the re-drive and watchdog cases of the chain itself are on large plain
 * files here). With tiny limits, through the stage runner, against Azurite
 * and PGlite, delivering every message the runner sends as the bus would.
 */
let h: Harness;
/** Bytes the stages took from each blob read, and the offsets reads started at. */
const reads = { bytes: 0, opened: [] as number[] };
/** When set, every read is slowed (a blob stream slower than the deadline allows). */
let throttle: { chunkBytes: number; delayMs: number } | null = null;
/** When set, the next read fails after this many bytes (storage dropping the connection). */
let failAfter: number | null = null;

/**
 * Tiny limits: resumable from 1 MiB, a checkpoint every 256 KiB, and time up at once for the hash (each invocation stops at
 * its first checkpoint). Not for the unpack: its continue point (unpackContinueMarginMs, 2 min by default, more than this
 * deadline) would stop it after its first member; its continuation beside a resumable hash is tested on its own below.
 */
const TINY = { resumableHashMinBytes: 1024 * 1024, hashCheckpointBytes: 256 * 1024, stageDeadlineMs: 60_000, hashContinueMarginMs: 60_000, unpackContinueMarginMs: 0 };

function instrumented(store: BlobStore): BlobStore {
  return Object.create(store, {
    openRead: {
      value: async (...args: Parameters<BlobStore['openRead']>) => {
        const [, options] = args;
        // Whole-blob streams from an offset (the hash's); identification's and listings' ranged reads name a count.
        if (options?.count === undefined) reads.opened.push(options?.offset ?? 0);
        const stream: Readable = await store.openRead(...args);
        let out: Readable = stream;
        if (failAfter !== null) {
          let left = failAfter;
          failAfter = null;
          out = stream.pipe(
            new Transform({
              transform(chunk: Buffer, _e, cb) {
                if (chunk.length > left) return cb(new Error('connection reset by storage'));
                left -= chunk.length;
                cb(null, chunk);
              },
            }),
          );
        }
        if (throttle) {
          const { chunkBytes, delayMs } = throttle;
          const signal = options?.abortSignal;
          out = out.pipe(
            new Transform({
              transform(chunk: Buffer, _e, cb) {
                void (async () => {
                  for (let i = 0; i < chunk.length; i += chunkBytes) {
                    await sleep(delayMs, undefined, signal ? { signal } : {});
                    this.push(chunk.subarray(i, i + chunkBytes));
                  }
                })().then(() => cb(), cb);
              },
            }),
          );
        }
        out.on('data', (c: Buffer) => {
          reads.bytes += c.length;
        });
        out.on('close', () => stream.destroy());
        return out;
      },
    },
  }) as BlobStore;
}

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.blobs = instrumented(h.deps.blobs);
  h.deps.identifier = new FileTypeIdentifier();
  // Warm: the identifier's first run loads its modules, longer than the tiny deadline below allows.
  const warm = await upload('warm.bin', randomBytes(1000));
  await runMessage(h.deps, 'hash', { body: warm, messageId: `hash:${warm.fileId}`, deliveryCount: 1 }, inv());
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => {
  h.deps.limits = limitsWith(TINY);
  throttle = null;
  failAfter = null;
});

const logger = createRootLogger({ level: 'silent' });
const inv = (invocationId = randomBytes(4).toString('hex')) => ({ invocationId, logger });
const hashesOf = (data: Buffer) => ({
  md5: createHash('md5').update(data).digest('hex'),
  sha1: createHash('sha1').update(data).digest('hex'),
  sha256: sha256(data),
});
const custodyOf = (evidenceId: string, action: string) => h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === action);
const hashSends = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'hash' && (s.message.body as { fileId?: string }).fileId === fileId);

const upload = (fileName: string, data: Buffer): Promise<HashMessage> => uploadEvidence(h, fileName, data);

/**
 * Delivers, once each in the order sent, every hash message for `fileId` not in `done` (each added to it as it goes)
 * until none is left: what is still in flight, as the bus would deliver it.
 */
async function deliverRest(fileId: string, done: Set<string>, deliver: (sent: OutgoingMessage) => Promise<unknown>): Promise<void> {
  for (let n = 0; ; n++) {
    const next = hashSends(fileId).find((s) => !done.has(s.message.messageId));
    if (!next) return;
    if (n > 50) throw new Error('hash chain did not end');
    done.add(next.message.messageId);
    await deliver(next.message);
  }
}

/** The upload's hash recorded, `data`'s, once (one custody entry), and its saved progress gone with it. */
async function expectHashedOnce(message: HashMessage, data: Buffer): Promise<void> {
  const up = (await h.index.getUpload(message.blobName))!;
  expect(up.hashes).toEqual(hashesOf(data));
  expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
  expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
}

interface Delivery {
  messageId: string;
  deliveryCount: number;
  outcome?: StageOutcome;
  thrown?: unknown;
}

/**
 * Delivers the upload's first hash message and then every hash message the
 * runner sends for it, as the bus would: a throw is a redelivery of the same
 * message (deliveryCount + 1) up to maxDeliveryCount, then its dead letter.
 */
async function runHashChain(message: HashMessage, options: { firstId?: string; limit?: number; between?: (d: Delivery) => Promise<void> } = {}): Promise<{ deliveries: Delivery[]; deadLettered: string[] }> {
  const deliveries: Delivery[] = [];
  const deadLettered: string[] = [];
  const done = new Set<string>();
  const queue: string[] = [options.firstId ?? `hash:${message.fileId}`];
  const sentBefore = new Set(hashSends(message.fileId).map((s) => s.message.messageId));
  while (queue.length > 0) {
    if (deliveries.length > (options.limit ?? 100)) throw new Error('hash chain did not end');
    const messageId = queue.shift()!;
    done.add(messageId);
    for (let deliveryCount = 1; ; deliveryCount++) {
      const d: Delivery = { messageId, deliveryCount };
      deliveries.push(d);
      try {
        d.outcome = await runMessage(h.deps, 'hash', { body: message, messageId, deliveryCount }, inv());
        break;
      } catch (err) {
        d.thrown = err;
        if (deliveryCount >= LIMITS.maxDeliveryCount) {
          deadLettered.push(messageId);
          await runDeadLetter(h.deps, 'hash', { body: message, messageId, reason: 'MaxDeliveryCountExceeded', description: String(err) }, inv());
          break;
        }
      }
    }
    await options.between?.(deliveries.at(-1)!);
    for (const s of hashSends(message.fileId)) {
      const id = s.message.messageId;
      if (!done.has(id) && !sentBefore.has(id) && !queue.includes(id)) queue.push(id);
    }
  }
  return { deliveries, deadLettered };
}

describe('resumable hash of a large upload', () => {
  it('huge-upload-hash-cut-off-at-deadline-never-verified', async () => {
    // A blob stream slower than the deadline allows: read whole, the hash would be cut off on every delivery and dead-lettered.
    const data = randomBytes(2 * 1024 * 1024 + 12345);
    const message = await upload('disk.bin', data);
    throttle = { chunkBytes: 64 * 1024, delayMs: 80 };
    // 34 chunks of 80 ms: at least 2.7 s to read, against a 2 s deadline; time up 400 ms in, stop by 1.2 s at the latest.
    // At a quarter of these times (200 ms between time up and the deadline's grace) a checkpoint write on a loaded machine
    // outlasted the grace and the read was aborted (a helper's run at load 16-20, stop 32).
    h.deps.limits = limitsWith({ ...TINY, stageDeadlineMs: 2_000, stageDeadlineGraceMs: 800, hashContinueMarginMs: 1_600 });
    const before = reads.bytes;

    const { deliveries, deadLettered } = await runHashChain(message);

    expect(deliveries.filter((d) => d.thrown).map((d) => String(d.thrown))).toEqual([]);
    expect(deadLettered).toEqual([]);
    expect(deliveries.every((d) => d.deliveryCount === 1 && d.thrown === undefined)).toBe(true);
    expect(deliveries.length).toBeGreaterThan(1);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toEqual(hashesOf(data));
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')[0]).toMatchObject({ eventKey: `hash:${message.blobName}:${up.etag}`, tools: [{ name: 'exhibit-pipeline' }, { name: 'hash-wasm' }] });
    // Each continuation read on from where the last stopped: at most one checkpoint interval read again per continuation.
    expect(reads.bytes - before).toBeLessThanOrEqual(data.length + deliveries.length * TINY.hashCheckpointBytes);
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    // The root goes on to analyse once hashed.
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
  });

  it('splits over continuations keyed on their offsets, each delivered once; the digest equals node:crypto; the checkpoint row goes', async () => {
    const data = randomBytes(1024 * 1024 + 300_001);
    const message = await upload('memory.dmp', data);
    const before = reads.bytes;
    const opened = reads.opened.length;
    let rowsSeen = 0;
    let lastMoved = '';
    const { deliveries, deadLettered } = await runHashChain(message, {
      between: async (d) => {
        if (d.outcome?.status === 'done' && d.outcome.summary?.['continuing']) {
          const row = await h.index.getHashCheckpoint(message.fileId, (await h.index.getUpload(message.blobName))!.etag);
          expect(row?.offsetBytes).toBe(d.outcome.summary['hashedBytes']);
          // Progress for the watchdog: the checkpoint row moved (index-store.watchdog.ts reads it for the root's hash).
          const moved = (await h.sql.query<{ at: string }>(`SELECT to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM upload_hash_checkpoints WHERE root_file_id = $1`, [message.fileId])).rows[0]!.at;
          expect(moved > lastMoved).toBe(true);
          lastMoved = moved;
          rowsSeen += 1;
        }
      },
    });
    expect(deadLettered).toEqual([]);
    // Time is up at once: each invocation stops at its first checkpoint, 256 KiB on.
    const k = TINY.hashCheckpointBytes;
    expect(deliveries.map((d) => d.messageId)).toEqual([
      `hash:${message.fileId}`,
      ...[1, 2, 3, 4, 5].map((i) => `hash:${message.fileId}:hash-continue:${i * k}`),
    ]);
    expect(deliveries.every((d) => d.deliveryCount === 1)).toBe(true);
    expect(rowsSeen).toBe(5);
    expect(reads.opened.slice(opened)).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * k));
    expect(reads.bytes - before).toBeLessThanOrEqual(data.length + deliveries.length * k);
    await expectHashedOnce(message, data);

    // A continuation delivered again after the hash is recorded does nothing again.
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}:hash-continue:${k}`, deliveryCount: 2 }, inv())).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
  });

  it('a redelivery after a fault reads on from the saved progress, not from byte 0', async () => {
    const data = randomBytes(1024 * 1024 + 777);
    const message = await upload('crash.dd', data);
    const k = TINY.hashCheckpointBytes;
    const opened = reads.opened.length;
    // The second invocation (from k) loses its connection 100,000 bytes in.
    let n = 0;
    const { deliveries, deadLettered } = await runHashChain(message, {
      between: async () => {
        n += 1;
        if (n === 1) failAfter = 100_000;
      },
    });
    expect(deadLettered).toEqual([]);
    const failedOnce = deliveries.filter((d) => d.thrown !== undefined);
    expect(failedOnce).toHaveLength(1);
    expect(failedOnce[0]).toMatchObject({ messageId: `hash:${message.fileId}:hash-continue:${k}`, deliveryCount: 1 });
    // The redelivery started where the failed attempt's progress was saved, not at 0 nor back at its checkpoint.
    const starts = reads.opened.slice(opened);
    expect(starts[1]).toBe(k);
    expect(starts[2]).toBeGreaterThan(k);
    expect(starts.slice(1)).not.toContain(0);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toEqual(hashesOf(data));
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
  });

  it('an ETag change between continuations ends in evidence-changed, no hash recorded, progress forgotten', async () => {
    const data = randomBytes(1024 * 1024 + 5);
    const message = await upload('changed.raw', data);
    const ref = { container: h.deps.containers.evidence, name: message.blobName };
    const etag = (await h.index.getUpload(message.blobName))!.etag;
    let n = 0;
    const { deliveries, deadLettered } = await runHashChain(message, {
      between: async () => {
        n += 1;
        // After the second invocation: the same name, other bytes (of the same length).
        if (n === 2) await h.deps.blobs.upload(ref, randomBytes(data.length));
      },
    });
    expect(deadLettered).toEqual([]);
    expect(deliveries).toHaveLength(3);
    expect(deliveries[2]!.outcome).toMatchObject({ status: 'failed', code: 'evidence-changed' });
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes ?? null).toBeNull();
    expect(up.integrity).not.toBe('verified');
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(0);
    expect(custodyOf(message.evidenceId, 'evidence-changed')).toHaveLength(1);
    expect(await h.index.getHashCheckpoint(message.fileId, etag)).toBeNull();
    expect((await h.index.getFile(message.fileId))!.stage).toBe('failed');
  });

  it('evidence-changed-save-racing-the-failure-leaves-no-checkpoint', async () => {
    // A trailing chain's checkpoint save that lands just before the upload's hash is failed (still pending:
    // it inserts) must not outlive the failure: the rows are deleted after the failure is recorded.
    const data = randomBytes(1024 * 1024 + 5);
    const message = await upload('changed-race.raw', data);
    const up = (await h.index.getUpload(message.blobName))!;
    const index = h.deps.index;
    const failUploadHash = index.failUploadHash;
    index.failUploadHash = async (...args: Parameters<typeof failUploadHash>) => {
      await index.saveHashCheckpoint({ rootFileId: up.rootFileId, etag: up.etag, engine: RESUMABLE_HASH_ENGINE, restarts: 0, offsetBytes: 4096, states: { md5: 'a', sha1: 'b', sha256: 'c' } });
      return failUploadHash.apply(index, args);
    };
    try {
      expect(await recordEvidenceChanged(h.deps, up)).toMatchObject({ status: 'failed', code: 'evidence-changed' });
    } finally {
      index.failUploadHash = failUploadHash;
    }
    expect(await h.index.getHashCheckpoint(up.rootFileId, up.etag)).toBeNull();
  });

  it('below the threshold nothing changes: one read, node:crypto, no checkpoint', async () => {
    const data = randomBytes(1024 * 1024 - 1);
    const message = await upload('small.bin', data);
    const { deliveries } = await runHashChain(message);
    expect(deliveries).toHaveLength(1);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toEqual(hashesOf(data));
    expect(custodyOf(message.evidenceId, 'integrity-verified')[0]).toMatchObject({ tools: [{ name: 'exhibit-pipeline' }, { name: 'node:crypto/openssl' }] });
  });

  it('a large ZIP is hashed in its unpack\'s single read: the hash stage only marks it and sends it on, no chain of its own; the unpack records the hash and sends the archive on once', async () => {
    const members = Array.from({ length: 5 }, (_, i) => ({ name: `DCIM/IMG_${i}.jpg`, data: randomBytes(300_000 + i), compress: false }));
    const zip = await zipOf(members);
    const message = await upload('phone.zip', zip);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    const opened = reads.opened.length;
    const first = await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(first).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    expect(hashSends(message.fileId).filter((s) => s.message.messageId.includes(':hash-continue:'))).toHaveLength(0);
    const unpacked = await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(unpacked).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 5, failedMembers: 0 } });
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toEqual(hashesOf(zip));
    const verified = custodyOf(message.evidenceId, 'integrity-verified');
    expect(verified).toHaveLength(1);
    // Resumable at this size (its hash could have gone on in the hash stage): hash-wasm's.
    expect(verified[0]!.tools?.map((t) => t.name)).toContain('hash-wasm');
    expect(custodyOf(message.evidenceId, 'unpacked')[0]!.details).toMatchObject({ uploadHashedInThisRead: true });
    // One stream to the blob's end, the unpack's pass from byte 0 (the central directory's few bytes after its listing
    // drained in the same read): the hash stage read nothing of its own, and nothing was sent back to it.
    expect(reads.opened.slice(opened)).toEqual([0]);
    expect(hashSends(message.fileId).filter((s) => s.message.messageId.endsWith(':after-unpack'))).toHaveLength(0);
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
  });

  it('a large ZIP whose unpack continues past its deadlines: each attempt\'s pass resumes the hash from the states the one before saved; each member once, the hash once, the archive sent on once', async () => {
    const members = Array.from({ length: 4 }, (_, i) => ({ name: `CONT/c${i}.bin`, data: randomBytes(300_000 + i), compress: false }));
    const zip = await zipOf(members);
    const message = await upload('continued.zip', zip);
    const opened = reads.opened.length;
    const first = await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(first).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    // The unpack's continue point at once: every attempt records one member and continues (unpack-continue:<n>).
    h.deps.limits = limitsWith({ ...TINY, unpackContinueMarginMs: TINY.stageDeadlineMs });
    const unpackSends = () => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === message.fileId);
    const delivered = new Set<string>();
    const outcomes: StageOutcome[] = [];
    const savedOffsets: number[] = [];
    const etag = (await h.index.getUpload(message.blobName))!.etag;
    for (;;) {
      const next = unpackSends().find((s) => !delivered.has(s.message.messageId));
      if (!next) break;
      delivered.add(next.message.messageId);
      outcomes.push(await runMessage(h.deps, 'unpack', { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv()));
      const row = await h.index.getHashCheckpoint(message.fileId, etag);
      if (row) savedOffsets.push(row.offsetBytes);
      if (outcomes.length > 50) throw new Error('continuations do not end');
    }
    expect(outcomes.at(-1)).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 4, failedMembers: 0 } });
    expect(unpackSends().slice(1).map((s) => /:unpack-continue:(\d+)$/.exec(s.message.messageId)?.[1])).toEqual(['1', '2', '3']);
    // Every continuing attempt saved its states (never moving back), and each later pass started where they were: no
    // byte streamed twice (here the first pass ran ahead of its listing to the end of the ZIP, so the later passes had
    // nothing left to read).
    expect(savedOffsets).toHaveLength(3);
    expect(savedOffsets[0]).toBeGreaterThan(0);
    for (const [i, offset] of savedOffsets.entries()) if (i > 0) expect(offset).toBeGreaterThanOrEqual(savedOffsets[i - 1]!);
    const streams = reads.opened.slice(opened);
    expect(streams[0]).toBe(0);
    expect(new Set(streams).size).toBe(streams.length);
    const recorded = (await h.index.listChildren(message.fileId)).sort((a, b) => (a.entryIndex ?? 0) - (b.entryIndex ?? 0));
    expect(recorded.map((m) => [m.name, m.sha256])).toEqual(members.map((m) => [path.basename(m.name), sha256(m.data)]));
    const analysed = h.bus.sent.filter((s) => s.queue === 'analyse').flatMap((s) => {
      const body = s.message.body as { fileId?: string; files?: Array<{ fileId: string }> };
      return body.files ? body.files.map((f) => f.fileId) : body.fileId ? [body.fileId] : [];
    });
    expect(recorded.map((m) => analysed.filter((id) => id === m.fileId).length)).toEqual([1, 1, 1, 1]);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toEqual(hashesOf(zip));
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    // Hashed once, in the unpack's read; never sent back to hash; the archive sent on once, by the unpack's last attempt.
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')[0]!.details).toMatchObject({ uploadHashedInThisRead: true, hashResumedFromBytes: savedOffsets.at(-1) });
    expect(hashSends(message.fileId).filter((s) => s.message.messageId.endsWith(':after-unpack') || s.message.messageId.includes(':hash-continue:'))).toHaveLength(0);
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
  });

  it('a hash message delivered again while its large archive\'s unpack is pending (a redelivery, a watchdog re-drive) reads nothing and starts no hash beside the unpack', async () => {
    const members = Array.from({ length: 4 }, (_, i) => ({ name: `DOCS/f${i}.bin`, data: randomBytes(300_000 + i), compress: false }));
    const zip = await zipOf(members);
    const message = await upload('docs.zip', zip);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    const opened = reads.opened.length;
    await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 2 }, inv())).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 1, movedAtMs: 5 });
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}:redrive-1-5`, deliveryCount: 1 }, inv())).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    expect(reads.opened.slice(opened)).toEqual([]);
    expect(hashSends(message.fileId).filter((s) => s.message.messageId.includes(':hash-continue:'))).toHaveLength(0);
    expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
    const unpacked = await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(unpacked).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 4 } });
    expect((await h.index.getUpload(message.blobName))!.hashes).toEqual(hashesOf(zip));
    expect(reads.opened.slice(opened)).toEqual([0]);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
  });

  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].every(hasTool))(
    'a large disk image (E01) is sent to its unpack and hashed in its read, its stored hashes checked; the root goes on once hashed',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-resumable-e01-'));
      try {
        const files = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/IMG_000${i}.JPG`, bytes: pseudoRandom(200_000 + i, 77 + i), modified: new Date('2025-06-01T14:30:10Z') }));
        const e01 = readFileSync(buildMemoryCard(dir, files, [], { sizeKiB: 34_000 }).e01);
        h.deps.limits = limitsWith({ ...TINY, resumableHashMinBytes: 64 * 1024, hashCheckpointBytes: 64 * 1024 });
        const message = await upload('card.E01', e01);
        const opened = reads.opened.length;
        const first = await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
        expect(first).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
        expect(h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
        const unpacked = await runMessage(h.deps, 'unpack', { body: { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId }, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv());
        expect(unpacked).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });
        const children = await h.index.listChildren(message.fileId);
        expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort()).toEqual(files.map((f) => sha256(f.bytes)).sort());
        // The stored-hash check reads the media to its end through the pass: the upload is hashed in the same read.
        const up = (await h.index.getUpload(message.blobName))!;
        expect(up.integrity).toBe('verified');
        expect(up.hashes).toEqual(hashesOf(e01));
        expect(custodyOf(message.evidenceId, 'unpacked')[0]!.details).toMatchObject({ uploadHashedInThisRead: true });
        expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
        expect(reads.opened.slice(opened)).toEqual([0]);
        expect(hashSends(message.fileId).filter((s) => s.message.messageId.endsWith(':after-unpack') || s.message.messageId.includes(':hash-continue:'))).toHaveLength(0);
        expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
  /** A large ZIP whose first hash delivery marked it and sent it to its unpack (which hashes it in its read). */
  async function largeZipSentToUnpack(fileName: string) {
    const members = Array.from({ length: 4 }, (_, i) => ({ name: `G/f${i}.bin`, data: randomBytes(300_000 + i), compress: false }));
    const zip = await zipOf(members);
    const message = await upload(fileName, zip);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    expect((await h.index.getFile(message.fileId))!.unpack).toBe('pending');
    return { zip, message, file };
  }

  /** The item settled: nothing pending, complete once in custody, no false `stuck`; the watchdog's re-send of the unpack changes nothing. */
  async function expectSettledAfterHashFailure(message: HashMessage, file: { caseId: string; evidenceId: string; fileId: string }, code: string, members = 0) {
    const root = (await h.index.getFile(message.fileId))!;
    expect(root.stage).toBe('failed');
    expect(root.failure).toMatchObject({ stage: 'hash', code });
    expect(root.unpack).toBe('failed');
    expect(await h.index.hasPendingWork(message.caseId, message.evidenceId)).toBe(false);
    expect((await h.index.evidenceStatus(message.caseId, message.evidenceId))!.complete).toBe(true);
    expect(await h.index.listChildren(message.fileId)).toHaveLength(members);
    // A re-send (the watchdog's, or a redelivery) finds it settled.
    expect(await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 2 }, inv())).toMatchObject({ status: 'skipped', reason: 'already-done' });
    expect((await h.index.getFile(message.fileId))!.unpack).toBe('failed');
    expect(custodyOf(message.evidenceId, 'processing-complete')).toHaveLength(1);
    expect(h.custody.events.filter((e) => e.evidenceId === message.evidenceId && (e.eventKey ?? '').startsWith('stuck:'))).toHaveLength(0);
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(0);
  }

  it('large-zip-changed-before-its-unpack-left-unpack-pending-then-failed-stuck — found by the unpack\'s own read now: evidence-changed, no hash, the unpack failed, the item settled', async () => {
    const { zip, message, file } = await largeZipSentToUnpack('changed-before-unpack.zip');
    // The blob changes after the first hash message, before the unpack has run.
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: message.blobName }, randomBytes(zip.length));
    await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv());
    await expectSettledAfterHashFailure(message, file, 'evidence-changed');
    expect((await h.index.getUpload(message.blobName))!.hashes ?? null).toBeNull();
    expect(custodyOf(message.evidenceId, 'evidence-changed')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(0);
  });

  it('a large ZIP whose saved hash state is unusable past LIMITS.maxHashRestarts: its unpack\'s read hashes it whole on node:crypto\'s threads (never from the unusable state)', async () => {
    const { zip, message, file } = await largeZipSentToUnpack('state-unusable-before-unpack.zip');
    const up = (await h.index.getUpload(message.blobName))!;
    await h.index.saveHashCheckpoint({ rootFileId: up.rootFileId, etag: up.etag, engine: 'hash-wasm@0.0.0', restarts: LIMITS.maxHashRestarts, offsetBytes: 4096, states: { md5: 'a', sha1: 'b', sha256: 'c' } });
    expect(await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 4 } });
    const after = (await h.index.getUpload(message.blobName))!;
    expect(after.integrity).toBe('verified');
    expect(after.hashes).toEqual(hashesOf(zip));
    expect(custodyOf(message.evidenceId, 'integrity-verified')[0]!.tools?.map((t) => t.name)).toContain('node:crypto/openssl');
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
  });

  it('unpack-closed-after-hash-failed-counted-its-recorded-members-as-zero', async () => {
    const { message, file } = await largeZipSentToUnpack('dead-hash-mid-unpack.zip');
    // An unpack invocation cut off midway had recorded a member; then a hash message of the upload (re-sent beside the
    // pending unpack) was dead-lettered, failing the root.
    const root = (await h.index.getFile(message.fileId))!;
    await h.index.insertFiles([{ ...root, fileId: `${root.fileId}-m0`, parentId: root.fileId, entryIndex: 0, depth: 1, path: `${root.path}/G/f0.bin`, recordedName: 'G/f0.bin', name: 'f0.bin', extension: 'bin', stage: 'pending', failure: null }]);
    await runDeadLetter(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, reason: 'MaxDeliveryCountExceeded', description: 'storage kept failing' }, inv());
    expect(await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 2 }, inv())).toMatchObject({ status: 'skipped' });
    const { rows } = await h.sql.query<{ unpack: string; recorded: number; detail: string }>(
      `SELECT unpack, unpack_members_recorded AS recorded, unpack_failure_detail AS detail FROM files WHERE file_id = $1`,
      [message.fileId],
    );
    expect(rows[0]).toMatchObject({ unpack: 'failed', recorded: 1 });
    expect(rows[0]!.detail).toContain('1 member recorded');
  });

  it('large-zip-hash-dead-lettered-before-its-unpack-left-unpack-pending-then-failed-stuck', async () => {
    const { message, file } = await largeZipSentToUnpack('dead-hash-before-unpack.zip');
    await runDeadLetter(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, reason: 'MaxDeliveryCountExceeded', description: 'storage kept failing' }, inv());
    const unpacked = await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(unpacked).toMatchObject({ status: 'skipped' });
    await expectSettledAfterHashFailure(message, file, 'dead-lettered');
    expect(custodyOf(message.evidenceId, 'stage-failed')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'unpacked')).toHaveLength(0);
  });
  it('hash-state-that-does-not-load-failed-the-hash-on-every-delivery', async () => {
    // A state another hash-wasm build wrote (each is stamped with its WebAssembly binary) or a damaged one: load() throws.
    const data = randomBytes(1024 * 1024 + 99);
    const message = await upload('foreign-state.raw', data);
    const opened = reads.opened.length;
    let n = 0;
    const { deliveries, deadLettered } = await runHashChain(message, {
      between: async () => {
        n += 1;
        if (n === 1) await h.sql.query(`UPDATE upload_hash_checkpoints SET md5_state = 'AAAAAA' || substr(md5_state, 7) WHERE root_file_id = $1`, [message.fileId]);
      },
    });
    expect(deliveries.filter((d) => d.thrown).map((d) => String(d.thrown))).toEqual([]);
    expect(deadLettered).toEqual([]);
    // The second invocation found the state unusable and started over from byte 0 (then on, by continuations), under keys
    // that name the start over: the offsets come round again and a repeated key would be dropped as a duplicate.
    expect(reads.opened.slice(opened, opened + 2)).toEqual([0, 0]);
    const k = TINY.hashCheckpointBytes;
    expect(deliveries.map((d) => d.messageId)).toEqual([
      `hash:${message.fileId}`,
      `hash:${message.fileId}:hash-continue:${k}`,
      ...[1, 2, 3, 4].map((i) => `hash:${message.fileId}:hash-continue:${i * k}:restart-1`),
    ]);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('verified');
    expect(up.hashes).toEqual(hashesOf(data));
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
  });

  it('hash-state-that-never-loads-restarted-the-hash-for-ever', async () => {
    // Every saved state is unusable (say, damaged by each save): each start over would re-read the whole blob,
    // for ever. Past LIMITS.maxHashRestarts the hash fails, with its typed code, like any other hash failure.
    const data = randomBytes(1024 * 1024 + 77);
    const message = await upload('never-loads.raw', data);
    const { deliveries, deadLettered } = await runHashChain(message, {
      limit: 40,
      between: async () => {
        await h.sql.query(`UPDATE upload_hash_checkpoints SET md5_state = 'AAAAAA' || substr(md5_state, 7) WHERE root_file_id = $1`, [message.fileId]);
      },
    });
    expect(deliveries.filter((d) => d.thrown).map((d) => String(d.thrown))).toEqual([]);
    expect(deadLettered).toEqual([]);
    expect(deliveries.at(-1)!.outcome).toMatchObject({ status: 'failed', code: 'hash-state-unusable' });
    expect(deliveries.at(-1)!.messageId).toBe(`hash:${message.fileId}:hash-continue:${TINY.hashCheckpointBytes}:restart-${LIMITS.maxHashRestarts}`);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes ?? null).toBeNull();
    const { rows } = await h.sql.query<{ code: string }>(`SELECT hash_failure_code AS code FROM uploads WHERE blob_name = $1`, [message.blobName]);
    expect(rows[0]!.code).toBe('hash-state-unusable');
    expect((await h.index.getFile(message.fileId))!).toMatchObject({ stage: 'failed', failure: { stage: 'hash', code: 'hash-state-unusable' } });
    expect(custodyOf(message.evidenceId, 'stage-failed')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(0);
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    expect(await h.index.hasPendingWork(message.caseId, message.evidenceId)).toBe(false);
  });

  it('hash-state-saved-by-another-hash-wasm-version-is-not-resumed', async () => {
    // A deploy bumped hash-wasm between two continuations: the row names the engine that wrote it, and this one starts over.
    const data = randomBytes(1024 * 1024 + 5);
    const message = await upload('other-version.raw', data);
    const opened = reads.opened.length;
    let n = 0;
    const { deliveries, deadLettered } = await runHashChain(message, {
      between: async () => {
        n += 1;
        if (n === 1) await h.sql.query(`UPDATE upload_hash_checkpoints SET engine = 'hash-wasm@0.0.1' WHERE root_file_id = $1`, [message.fileId]);
      },
    });
    expect(deadLettered).toEqual([]);
    expect(deliveries.every((d) => d.thrown === undefined)).toBe(true);
    expect(reads.opened.slice(opened, opened + 2)).toEqual([0, 0]);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toEqual(hashesOf(data));
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(custodyOf(message.evidenceId, 'integrity-verified')[0]!.tools).toContainEqual({ name: 'hash-wasm', version: RESUMABLE_HASH_ENGINE.slice('hash-wasm@'.length) });
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
  });

  it('trailing-hash-chain-left-its-checkpoint-row-after-the-hash-was-recorded', async () => {
    // Two chains at once (a redelivery or watchdog re-drive beside a continuation): the other one ends the hash while this
    // one reads; at its next checkpoint this one finds the hash recorded and stops, saving and reading nothing more.
    const data = randomBytes(1024 * 1024 + 4321);
    const message = await upload('two-chains.dmp', data);
    const index = h.deps.index;
    const save = index.saveHashCheckpoint.bind(index);
    let other: Awaited<ReturnType<typeof runHashChain>> | null = null;
    const trailing = { saves: 0 };
    h.deps.index = Object.create(index, {
      saveHashCheckpoint: {
        value: async (c: Parameters<typeof save>[0]) => {
          trailing.saves += 1;
          // The first checkpoint of the trailing delivery: meanwhile the other chain runs to its end.
          if (other === null) {
            h.deps.index = index;
            other = await runHashChain(message);
          }
          return save(c);
        },
      },
    });
    const before = reads.bytes;
    let outcome: StageOutcome;
    // No stage lease (it would keep the other chain from running beside this one): what this tests is the guard beneath
    // it, which a lease lost to a stalled index leaves on its own.
    const limits = h.deps.limits;
    h.deps.limits = { ...limits, stageLeaseMs: 0 };
    try {
      outcome = await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 2 }, inv());
    } finally {
      h.deps.index = index;
      h.deps.limits = limits;
    }
    expect(other!.deadLettered).toEqual([]);
    expect(outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(trailing.saves).toBe(1);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.hashes).toEqual(hashesOf(data));
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toBeNull();
    expect((await h.sql.query(`SELECT 1 FROM upload_hash_checkpoints WHERE root_file_id = $1`, [message.fileId])).rows).toHaveLength(0);
    expect(custodyOf(message.evidenceId, 'integrity-verified')).toHaveLength(1);
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && (s.message.body as { fileId?: string }).fileId === message.fileId)).toHaveLength(1);
    // The trailing delivery read one checkpoint interval (the other chain read the whole upload once) and no more.
    expect(reads.bytes - before).toBeLessThanOrEqual(data.length + other!.deliveries.length * TINY.hashCheckpointBytes + TINY.hashCheckpointBytes);
  });

  it('hash-save-reported-pending-when-row-not-written — a delivery whose save another delivery\'s further progress refused stops, sending no continuation keyed on its own offset', async () => {
    // Before: the save answered only whether the hash was pending; the delivery behind went on as if saved and sent
    // `hash-continue:<its offset>`, a second chain beside the one further on.
    const data = randomBytes(1024 * 1024 + 4321);
    const message = await upload('behind.dmp', data);
    const index = h.deps.index;
    const save = index.saveHashCheckpoint.bind(index);
    const answers: string[] = [];
    h.deps.index = Object.create(index, {
      saveHashCheckpoint: {
        value: async (c: Parameters<typeof save>[0]) => {
          // Another delivery of the same message saved two checkpoints further just before (its states are its own).
          if (answers.length === 0) await save({ ...c, offsetBytes: c.offsetBytes + 2 * TINY.hashCheckpointBytes });
          const answer = await save(c);
          answers.push(answer);
          return answer;
        },
      },
    });
    let result: Awaited<ReturnType<typeof hashStage>>;
    try {
      result = await hashStage(h.deps, message, { logger, messageId: `hash:${message.fileId}:hash-continue:0`, deliveryCount: 1 });
    } finally {
      h.deps.index = index;
    }
    expect(result.again).toBeUndefined();
    expect(result.outcome).toEqual({ status: 'skipped', reason: 'superseded' });
    expect(answers).toEqual(['behind']);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('pending');
    expect(await h.index.getHashCheckpoint(message.fileId, up.etag)).toMatchObject({ offsetBytes: 3 * TINY.hashCheckpointBytes });
  });

  it('hash-checkpoint-delete-run-for-upload-too-small-to-have-one — recording the hash of an upload below both resumable thresholds runs no delete of checkpoint rows; one at the threshold still does', async () => {
    const index = h.deps.index;
    const deletes: string[] = [];
    h.deps.index = Object.create(index, {
      deleteHashCheckpoints: {
        value: async (rootFileId: string) => {
          deletes.push(rootFileId);
          return index.deleteHashCheckpoints(rootFileId);
        },
      },
    });
    try {
      // singleReadResumableMinBytes 512 KiB here: below it no writer ever saves a row for the upload.
      h.deps.limits = limitsWith({ ...TINY, singleReadResumableMinBytes: 512 * 1024 });
      const small = await upload('small.bin', randomBytes(512 * 1024 - 1));
      expect(await runMessage(h.deps, 'hash', { body: small, messageId: `hash:${small.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done' });
      expect((await h.index.getUpload(small.blobName))!.integrity).toBe('verified');
      expect(deletes).toEqual([]);
      // At the unpack's pass threshold a row may exist (its pass saves from there): deleted when the hash is recorded.
      const atThreshold = await upload('threshold.bin', randomBytes(512 * 1024));
      expect(await runMessage(h.deps, 'hash', { body: atThreshold, messageId: `hash:${atThreshold.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done' });
      expect(deletes).toEqual([atThreshold.fileId]);
    } finally {
      h.deps.index = index;
    }
  });

  it('hash-ignored-the-runners-deadline-and-ran-past-it', async () => {
    // The runner's deadline (ctx.deadlineAt) falls before a full stageDeadlineMs from the stage's own start (the
    // runner took the message earlier): the hash must stop short of the runner's, which is the one that aborts.
    const data = randomBytes(1024 * 1024 + 4321);
    const message = await upload('late.bin', data);
    h.deps.limits = limitsWith({ ...TINY, stageDeadlineMs: 10 * 60_000, hashContinueMarginMs: 2_000 });
    const result = await hashStage(h.deps, message, { logger, messageId: `hash:${message.fileId}`, deliveryCount: 1, deadlineAt: Date.now() + 2_000 });
    expect(result.again?.messageKey).toBe(`hash-continue:${TINY.hashCheckpointBytes}`);
    const up = (await h.index.getUpload(message.blobName))!;
    expect(up.integrity).toBe('pending');
    expect((await h.index.getHashCheckpoint(message.fileId, up.etag))?.offsetBytes).toBe(TINY.hashCheckpointBytes);
  });

  it('storage-too-slow-to-reach-a-checkpoint-stops-mid-interval-and-continues-from-there', async () => {
    // Checkpoints further apart than one invocation reads: each stops halfway into its margin wherever it is, saves, continues.
    const data = randomBytes(3 * 1024 * 1024 + 4097);
    const message = await upload('slow.bin', data);
    throttle = { chunkBytes: 16 * 1024, delayMs: 10 };
    h.deps.limits = limitsWith({ ...TINY, resumableHashMinBytes: 512 * 1024, hashCheckpointBytes: 64 * 1024 * 1024, stageDeadlineMs: 2_000, stageDeadlineGraceMs: 500, hashContinueMarginMs: 1_600 });
    const opened = reads.opened.length;
    const { deliveries, deadLettered } = await runHashChain(message);
    expect(deliveries.filter((d) => d.thrown).map((d) => String(d.thrown))).toEqual([]);
    expect(deadLettered).toEqual([]);
    expect(deliveries.length).toBeGreaterThan(1);
    // Each continuation starts where the last stopped, mid-interval (never at a checkpoint multiple, never back at 0).
    const starts = reads.opened.slice(opened);
    expect(starts[0]).toBe(0);
    expect(starts.slice(1).every((at, i) => at > starts[i]! && at % (64 * 1024 * 1024) !== 0)).toBe(true);
    expect(deliveries.slice(1).map((d) => d.messageId)).toEqual(starts.slice(1).map((at) => `hash:${message.fileId}:hash-continue:${at}`));
    await expectHashedOnce(message, data);
  });
  it.skipIf(!['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].every(hasTool))('checkpoint-moving-the-root-hid-member-stalls-from-the-watchdog', async () => {
    // A large disk image whose listing ended early (its files at the start): the unpack hands the rest of the hash on to
    // the hash stage, whose chain reads on for hours; its members' analyse stalls, and the hash's checkpoints must not hide that.
    const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-resumable-watch-'));
    try {
      const files = Array.from({ length: 3 }, (_, i) => ({ path: `DCIM/IMG_000${i}.JPG`, bytes: pseudoRandom(200_000 + i, 31 + i), modified: new Date('2025-06-01T14:30:10Z') }));
      const raw = readFileSync(buildMemoryCard(dir, files, []).raw);
      const message = await upload('watched.dd', raw);
      const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
      expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack' } });
      const opened = reads.opened.length;
      expect(await runMessage(h.deps, 'unpack', { body: file, messageId: `unpack:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { format: 'disk-image' } });
      const etag = (await h.index.getUpload(message.blobName))!.etag;
      const handedOnAt = (await h.index.getHashCheckpoint(message.fileId, etag))!.offsetBytes;
      expect(handedOnAt).toBeGreaterThan(0);
      expect(handedOnAt).toBeLessThan(raw.length - TINY.hashCheckpointBytes);
      expect(custodyOf(message.evidenceId, 'unpacked')[0]!.details).toMatchObject({ uploadHashTakenByHashStage: true });
      expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:after-unpack`);
      // Nothing in the item has moved for an hour (the members' analyse messages were lost) ...
      await h.sql.query(`UPDATE files SET updated_at = now() - interval '1 hour' WHERE case_id = $1 AND evidence_id = $2`, [message.caseId, message.evidenceId]);
      // ... but the hash goes on, from where the unpack's read stopped: it saves its next checkpoint now.
      expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}:after-unpack`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { continuing: true } });
      expect(reads.opened.slice(opened)).toEqual([0, handedOnAt]);
      const store = createWatchdogStore(h.sql);
      const stalledHere = async () => (await store.listStalledFiles({ stallMs: 60_000, limit: 10_000 })).filter((f) => f.evidenceId === message.evidenceId);
      const stalled = await stalledHere();
      // The members are found stalled (re-driven to analyse); the root is not: its hash moves, and nothing else of it waits.
      const members = await h.index.listChildren(message.fileId);
      // (Its directory is recorded indexed: nothing of it waits.)
      const waiting = members.filter((m) => m.entryKind === 'file');
      expect(waiting).toHaveLength(3);
      expect(stalled.map((f) => f.fileId).sort()).toEqual(waiting.map((c) => c.fileId).sort());
      expect(stalled.every((f) => f.stage === 'pending' && queuesAwaited({ ...f, hashPending: false }).includes('analyse'))).toBe(true);
      // Once the checkpoint stops moving too, the root's hash is what stalled: re-driven to hash.
      await h.sql.query(`UPDATE upload_hash_checkpoints SET updated_at = now() - interval '1 hour' WHERE root_file_id = $1`, [message.fileId]);
      const root = (await stalledHere()).find((f) => f.fileId === message.fileId);
      expect(root?.upload).toMatchObject({ hashPending: true, hashMoving: false });
      expect(queuesAwaited({ stage: root!.stage, unpack: root!.unpack, hashPending: true, hashMoving: root!.upload!.hashMoving })).toEqual(['hash']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hash-chain-redrive-resent-the-dead-continuation-key-dropped-as-a-repeat — a large plain file\'s chain dies twice; each re-drive reads on from the saved progress under ids never sent before', async () => {
    // Every message sent for it is within Service Bus's duplicate-detection window (1 hour; the stall time is 30 min), so a
    // repeated id is dropped: the re-drive and the continuation it sends must be new ids, or the chain stays dead.
    const k = TINY.hashCheckpointBytes;
    const data = randomBytes(5 * k + 321);
    const message = await upload('redriven.bin', data);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    const opened = reads.opened.length;
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv())).toMatchObject({ status: 'done', summary: { continuing: true } });
    // The chain's message `hash-continue:<k>` is sent and lost.
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${k}`);
    const window = new Set(hashSends(message.fileId).map((s) => s.message.messageId));
    /** Delivers, once each, the hash messages sent since that the window does not drop; `lose` ones are sent and lost. */
    const deliverNew = async (lose: (id: string) => boolean = () => false) => {
      const delivered: string[] = [];
      for (;;) {
        const next = hashSends(message.fileId).find((s) => !window.has(s.message.messageId));
        if (!next) return delivered;
        window.add(next.message.messageId);
        if (lose(next.message.messageId)) continue;
        delivered.push(next.message.messageId);
        await runMessage(h.deps, 'hash', { body: message, messageId: next.message.messageId, deliveryCount: 1 }, inv());
        if (delivered.length > 50) throw new Error('hash chain did not end');
      }
    };
    const moved = Date.now();
    const t1 = 'redrive-1-' + moved;
    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 1, movedAtMs: moved });
    // The re-drive runs (k to 2k); the continuation it sends is lost as well: the chain is dead again.
    expect(await deliverNew((id) => id !== `hash:${message.fileId}:${t1}`)).toEqual([`hash:${message.fileId}:${t1}`]);
    expect((await h.index.getUpload(message.blobName))!.integrity).toBe('pending');
    const t2 = 'redrive-2-' + moved;
    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 2, movedAtMs: moved });
    const delivered = await deliverNew();
    expect(delivered.slice(0, 2)).toEqual([`hash:${message.fileId}:${t2}`, `hash:${message.fileId}:hash-continue:${3 * k}`]);
    await expectHashedOnce(message, data);
    // Each delivery read on from the saved progress: every interval streamed once.
    expect(reads.opened.slice(opened)).toEqual([0, k, 2 * k, 3 * k, 4 * k, 5 * k]);
  });

  it('regression: hash-redrive-redelivered-after-the-chain-moved-forked-a-second-chain — on a large plain file a re-drive beside the live chain, delivered again, reads on from the chain\'s saved progress: no interval read twice, the hash recorded once', async () => {
    const k = TINY.hashCheckpointBytes;
    const data = randomBytes(6 * k + 99);
    const message = await upload('forked.bin', data);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    const run = (messageId: string, deliveryCount = 1) => runMessage(h.deps, 'hash', { body: message, messageId, deliveryCount }, inv());
    const opened = reads.opened.length;
    await run(`hash:${message.fileId}`);
    // `hash-continue:<k>` is live (sent, not yet delivered) when the watchdog re-drives.
    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 1, movedAtMs: 7 });
    await run(`hash:${message.fileId}:redrive-1-7`);
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${2 * k}`);
    // The live chain moves on; then the re-drive is delivered again (its lock lost).
    await run(`hash:${message.fileId}:hash-continue:${k}`);
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${3 * k}`);
    await run(`hash:${message.fileId}:redrive-1-7`, 2);
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${4 * k}`);
    // Everything still in flight delivered once: the messages go on from the row, and whichever comes after the end stops.
    const done = new Set([`hash:${message.fileId}`, `hash:${message.fileId}:redrive-1-7`, `hash:${message.fileId}:hash-continue:${k}`]);
    await deliverRest(message.fileId, done, (m) => run(m.messageId));
    await expectHashedOnce(message, data);
    // Every stream started where the saved progress was, each offset once: nothing hashed twice, whichever message ran.
    expect(reads.opened.slice(opened)).toEqual([0, k, 2 * k, 3 * k, 4 * k, 5 * k, 6 * k]);
  });

  it('regression: held-copy-of-a-hash-redrive-continues-under-the-plain-key — on a large plain file a re-drive deferred to another delivery\'s lease runs later as a held copy and reads on from the saved progress', async () => {
    // A large file's hash chain dies (its `hash-continue:<k>` is lost). The watchdog's re-drive arrives while another
    // delivery of the item holds its hash lease (here the reconcile pass's re-offer of the still-pending upload, its first
    // hash message again, held up in its read of the saved point): the re-drive does no work and sends a held copy.
    const k = TINY.hashCheckpointBytes;
    const data = randomBytes(4 * k + 5);
    const message = await upload('held-redrive.bin', data);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${k}`);
    // Sent and lost; every id sent so far is within Service Bus's duplicate-detection window.
    const window = new Set(hashSends(message.fileId).map((s) => s.message.messageId));

    let reached!: () => void;
    const holding = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const index = Object.create(h.deps.index, {
      getHashCheckpoint: {
        value: async (...a: Parameters<typeof h.deps.index.getHashCheckpoint>) => {
          reached();
          await opened;
          return h.deps.index.getHashCheckpoint(...a);
        },
      },
    }) as typeof h.deps.index;
    const holder = runMessage({ ...h.deps, index }, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv('stray-holder'));
    await holding;

    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 1, movedAtMs: 11 });
    const redriveId = `hash:${message.fileId}:redrive-1-11`;
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(redriveId);
    window.add(redriveId);
    expect(await runMessage(h.deps, 'hash', { body: message, messageId: redriveId, deliveryCount: 1 }, inv())).toEqual({ status: 'skipped', reason: 'held-by-another-delivery' });
    const copy = hashSends(message.fileId).at(-1)!.message;
    expect(copy.body).toMatchObject({ held: { of: redriveId, generation: 1, priorDeliveries: 0 } });
    window.add(copy.messageId);

    open();
    await holder;
    // The holder read on from k and sent the next point's key (new: the chain lives again).
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${2 * k}`);
    // The copy, delivered once the lease is free, reads on from the row too; then every message the window does not drop
    // is delivered once, and the hash is recorded once.
    await runMessage(h.deps, 'hash', { body: copy.body, messageId: copy.messageId, deliveryCount: 1 }, inv());
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${3 * k}`);
    await deliverRest(message.fileId, window, (m) => runMessage(h.deps, 'hash', { body: m.body, messageId: m.messageId, deliveryCount: 1 }, inv()));
    await expectHashedOnce(message, data);
  });

  it('a held copy of a hash re-drive that already ran, on a large plain file: it reads on from the saved progress (no interval twice), the hash recorded once', async () => {
    const k = TINY.hashCheckpointBytes;
    const data = randomBytes(5 * k + 17);
    const message = await upload('held-redrive-ran.bin', data);
    const file = { caseId: message.caseId, evidenceId: message.evidenceId, fileId: message.fileId };
    const run = (messageId: string, deliveryCount = 1, body: unknown = message) => runMessage(h.deps, 'hash', { body, messageId, deliveryCount }, inv());
    const opened = reads.opened.length;
    await run(`hash:${message.fileId}`);
    await redrive(h.deps, { ...file, blobName: message.blobName }, ['hash'], { count: 1, movedAtMs: 13 });
    const redriveId = `hash:${message.fileId}:redrive-1-13`;
    // The re-drive runs and sends its continuation, then its lock is lost: delivered again while another delivery holds
    // the lease, it defers as a held copy.
    await run(redriveId);
    expect(hashSends(message.fileId).at(-1)!.message.messageId).toBe(`hash:${message.fileId}:hash-continue:${2 * k}`);
    const lease = { queue: 'hash' as const, subjectId: message.fileId, holder: 'live-chain' };
    expect(await h.index.acquireStageLease({ ...lease, messageId: `hash:${message.fileId}:hash-continue:${2 * k}` }, 60_000)).toMatchObject({ acquired: true });
    expect(await run(redriveId, 2)).toEqual({ status: 'skipped', reason: 'held-by-another-delivery' });
    const copy = hashSends(message.fileId).at(-1)!.message;
    expect(copy.body).toMatchObject({ held: { of: redriveId, generation: 1, priorDeliveries: 1 } });
    await h.index.releaseStageLease(lease);
    await run(`hash:${message.fileId}:hash-continue:${2 * k}`);
    await run(copy.messageId, 1, copy.body);
    const done = new Set([`hash:${message.fileId}`, redriveId, copy.messageId, `hash:${message.fileId}:hash-continue:${2 * k}`]);
    await deliverRest(message.fileId, done, (m) => run(m.messageId));
    await expectHashedOnce(message, data);
    expect(reads.opened.slice(opened)).toEqual([0, k, 2 * k, 3 * k, 4 * k, 5 * k]);
  });

  it('a moving resumable hash beside a pending unpack: the watchdog re-sends the unpack only, never the hash', () => {
    expect(queuesAwaited({ stage: 'pending', unpack: 'pending', hashPending: true, hashMoving: true })).toEqual(['unpack']);
    expect(queuesAwaited({ stage: 'pending', unpack: 'pending', hashPending: true, hashMoving: false })).toEqual(['hash', 'unpack']);
  });
});
