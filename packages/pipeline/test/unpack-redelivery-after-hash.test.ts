import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, rootFileId, type CustodyEvent, type FileMessage, type HashMessage, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { runIngest, runMessage } from '../src/stage-runner.js';
import { hasTool, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard } from '../src/disk/test-support/memory-card.builder.js';
import { createHarness, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression `unpack-redelivery-after-hash-empty-mime`: an uploaded disk image
 * left by the hash stage to its unpack, whose single read records the upload's
 * hash (content record, root file's SHA-256, integrity, custody), and then the
 * process stops before the unpack records its end. The redelivered unpack
 * found the root hashed and took its type from the content record, whose MIME
 * is still empty (analyse has not run: it runs after the unpack), so the image
 * was opened as an archive and failed for good with "not a ZIP, TAR or TAR.GZ
 * archive (type unknown)": an E01, a raw image and a split set alike, on main
 * too. Through the stage runner with the real identifier, Azurite and PGlite.
 */
const tools = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire', 'split'];
let h: Harness;
let dir = '';
const photos = Array.from({ length: 4 }, (_, i) => ({ path: `DCIM/100MEDIA/IMG_000${i}.JPG`, bytes: pseudoRandom(2_000_000 + i, 2100 + i), modified: new Date('2025-06-01T14:30:10Z') }));
let e01 = '';
let raw = '';
let split: string[] = [];

beforeAll(async () => {
  if (!tools.every(hasTool)) return;
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
  dir = mkdtempSync(path.join(tmpdir(), 'exhibit-redelivery-after-hash-'));
  const card = buildMemoryCard(dir, photos, [], { sizeKiB: 34_000, compression: 'none' });
  e01 = card.e01;
  raw = card.raw;
  run('split', ['-b', String(12 * 1024 * 1024), '-d', '-a', '3', '--numeric-suffixes=1', card.raw, path.join(dir, 'set.')]);
  split = readdirSync(dir).filter((f) => /^set\.\d{3}$/.test(f)).sort().map((f) => path.join(dir, f));
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });

async function deliver(queue: 'hash' | 'unpack', body: FileMessage | HashMessage, deliveryCount = 1): Promise<StageOutcome> {
  return runMessage(h.deps, queue, { body, messageId: `${queue}:${body.fileId}`, deliveryCount }, inv());
}

/** A blob written (with its declared SHA-256, as `exhibit upload` sends it), ingested and hashed: the hash stage's outcome. */
async function arrive(ev: { caseId: string; evidenceId: string }, file: string, name = path.basename(file)): Promise<{ message: HashMessage; hashed: StageOutcome }> {
  const data = readFileSync(file);
  const blobName = `${ev.caseId}/${ev.evidenceId}/${name}`;
  await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, data, { metadata: { acquisition_sha256: sha256(data) } });
  await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
  const message = { ...ev, blobName, fileId: rootFileId(blobName) };
  return { message, hashed: await deliver('hash', message) };
}

/**
 * Runs `body`, with the process "stopping" right after the upload hash of
 * `blobName` is recorded (its custody entry is the last thing recordUploadHash
 * writes): the unpack throws there, as a crash would end it, and is redelivered.
 */
async function crashingAfterHashOf<T>(blobName: string, body: () => Promise<T>): Promise<T> {
  const record = h.custody.record.bind(h.custody);
  h.custody.record = async (event: CustodyEvent) => {
    await record(event);
    if (event.action === 'integrity-verified' && event.subject?.blobName === blobName) throw new Error('process stopped after the upload hash was recorded');
  };
  try {
    return await body();
  } finally {
    h.custody.record = record;
  }
}

const custodyOf = (evidenceId: string, action: string, blobName?: string) =>
  h.custody.events.filter((e) => e.evidenceId === evidenceId && e.action === action && (blobName === undefined || e.subject?.blobName === blobName));
const sentFor = (queue: string, fileId: string) => h.bus.sent.filter((s) => s.queue === queue && JSON.stringify(s.message.body).includes(fileId));

describe.skipIf(!tools.every(hasTool))('unpack-redelivery-after-hash-empty-mime: an unpack redelivered after its read recorded the upload hash still opens the disk image', () => {
  for (const kind of ['E01', 'raw image', 'split raw set'] as const) {
    it(`${kind}: redelivered, it lists the files, records the unpack once, and sends the image (and its segments) on to analyse`, async () => {
      const ev = { caseId: 'case-1', evidenceId: `ev-${randomBytes(4).toString('hex')}` };
      const files = kind === 'E01' ? [e01] : kind === 'raw image' ? [raw] : split;
      expect(files.length).toBeGreaterThan(0);
      if (kind === 'split raw set') expect(files.length).toBeGreaterThan(2);
      // The later segments arrive first (as `exhibit upload` sends them) and are hashed by the hash stage;
      // then the first, which is left to its unpack (docs/disk-images.md "Split sets").
      const later: HashMessage[] = [];
      for (const file of files.slice(1)) {
        const { message, hashed } = await arrive(ev, file);
        expect(hashed, message.blobName).toMatchObject({ status: 'done' });
        later.push(message);
      }
      const first = await arrive(ev, files[0]!);
      expect(first.hashed, kind).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
      const unpack = { caseId: ev.caseId, evidenceId: ev.evidenceId, fileId: first.message.fileId };

      await crashingAfterHashOf(first.message.blobName, async () => {
        await expect(deliver('unpack', unpack)).rejects.toThrow(/process stopped/);
      });
      // The window: the upload's hash recorded, the unpack not over, the root not identified yet (its content has no MIME).
      expect((await h.index.getUpload(first.message.blobName))?.integrity).toBe('verified');
      const root = (await h.index.getFile(first.message.fileId))!;
      expect(root).toMatchObject({ unpack: 'pending', stage: 'pending', sha256: sha256(readFileSync(files[0]!)) });
      expect((await h.index.getContent(root.sha256!))?.mime ?? null).toBeNull();

      const outcome = await deliver('unpack', unpack, 2);
      // Before the fix: { status: 'failed', code: 'unsupported-format', detail: 'not a ZIP, TAR or TAR.GZ archive (type unknown)' }.
      expect(outcome, kind).toMatchObject({ status: 'done', summary: { format: 'disk-image', failedMembers: 0 } });
      const children = await h.index.listChildren(first.message.fileId);
      expect(children.filter((c) => c.entryKind === 'file').map((c) => c.sha256).sort()).toEqual(photos.map((p) => sha256(p.bytes)).sort());
      if (kind === 'E01') expect((await h.index.getDiskImage(first.message.fileId))?.integrity).toBe('verified');
      if (kind === 'split raw set') expect((await h.index.getDiskImage(first.message.fileId))?.segmentCount).toBe(files.length);
      expect(custodyOf(ev.evidenceId, 'unpacked')).toHaveLength(1);
      // Every segment hashed once, custody once each.
      for (const file of files) {
        const blobName = `${ev.caseId}/${ev.evidenceId}/${path.basename(file)}`;
        expect((await h.index.getUpload(blobName))?.integrity, blobName).toBe('verified');
        expect(custodyOf(ev.evidenceId, 'integrity-verified', blobName), blobName).toHaveLength(1);
      }
      // The image goes on to analyse (the crash came before the first run sent it), and each later segment once (from its hash stage).
      expect(sentFor('analyse', first.message.fileId).filter((s) => !JSON.stringify(s.message.body).includes('fileIds'))).toHaveLength(1);
      for (const message of later) expect(sentFor('analyse', message.fileId), message.blobName).toHaveLength(1);
      expect((await h.index.getFile(first.message.fileId))?.unpack).toBe('done');
    }, 240_000);
  }
});
