import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ExhibitError, LIMITS, loadConfig, rootFileId, type BlobStore, type HashMessage, type Limits } from '@exhibit/core';
import { runIngest, runMessage } from '@exhibit/pipeline';
import { watchdog, type App } from '../src/index.js';
import { inv, logger, openAppFixture, type AppFixture } from './app-fixture.js';

/**
 * A declared split image's later segments left by a stalled unpack that
 * claimed them, against the runtime's own watchdog (docs/disk-images.md, "Who
 * reads a segment for its hash"): the hash stages take them over once the
 * claim is older than segmentHashClaimHoldMs, before the watchdog fails them
 * as `stuck`. Here in the runtime (the composition root over the pipeline):
 * pipeline tests do not import it.
 */

const has = (tool: string) => {
  try {
    execFileSync('which', [tool], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const limitsWith = (overrides: Partial<Record<keyof Limits, number>>): Limits => ({ ...LIMITS, ...overrides }) as unknown as Limits;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.skipIf(!['mkfs.fat', 'mcopy', 'split'].every(has))('a split set behind a stalled unpack (Azurite + PGlite, the runtime\'s watchdog)', () => {
  let fixture: AppFixture;
  let dir: string;
  let app: App;

  beforeAll(async () => {
    fixture = await openAppFixture('ss');
    app = fixture.app;
    dir = mkdtempSync(path.join(os.tmpdir(), 'exhibit-split-stall-set-'));
    const img = path.join(dir, 'card.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'STALL', img, '6144']);
    writeFileSync(path.join(dir, 'payload'), randomBytes(2_600_000));
    execFileSync('mcopy', ['-i', img, path.join(dir, 'payload'), '::/big.bin']);
    execFileSync('split', ['-b', '2500000', '-d', '-a', '3', '--numeric-suffixes=1', img, path.join(dir, 'card.')]);
  }, 120_000);

  afterAll(async () => {
    await fixture?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('claim-held-by-stalled-unpack-later-segments-failed-stuck: an unpack that claimed the later segments and stalled leaves them to their hash stages once its claim is older than segmentHashClaimHoldMs, before the watchdog fails them as stuck', async () => {
    const deps = app.stageDeps;
    const segments = readdirSync(dir).filter((f) => /^card\.\d{3}$/.test(f)).sort();
    expect(segments).toHaveLength(3);
    const ev = { caseId: `SS${randomBytes(3).toString('hex')}`, evidenceId: `ev-${randomBytes(4).toString('hex')}` };
    const blobOf = (name: string) => `${ev.caseId}/${ev.evidenceId}/${name}`;
    const bytesOf = (name: string) => readFileSync(path.join(dir, name));
    const hashMessageOf = (name: string): HashMessage => ({ ...ev, fileId: rootFileId(blobOf(name)), blobName: blobOf(name) });
    // What the API does at the first segment's registration with the set's manifest.
    await app.sql.query(`INSERT INTO upload_registrations (blob_name, case_id, evidence_id, file_name, size, uploaded_by) VALUES ($1, $2, $3, $4, $5, 'examiner-1')`, [
      blobOf(segments[0]!), ev.caseId, ev.evidenceId, segments[0], bytesOf(segments[0]!).length,
    ]);
    await app.index.declareSegmentManifest(
      segments.map((n, i) => ({ fileName: n, size: bytesOf(n).length, sha256: sha256(bytesOf(n)), ...ev, blobName: blobOf(n), firstBlobName: blobOf(segments[0]!), position: i + 1, declaredBy: 'examiner-1' })),
    );
    const hashOf = (limits: Parameters<typeof limitsWith>[0], name: string) =>
      runMessage({ ...deps, limits: limitsWith(limits) }, 'hash', { body: hashMessageOf(name), messageId: `hash:${rootFileId(blobOf(name))}:recheck`, deliveryCount: 1 }, inv());
    const arrive = async (name: string) => {
      const data = bytesOf(name);
      // Written as an upload is (the evidence container is read-only to the pipeline).
      await fixture.upload(blobOf(name), data, { metadata: { acquisition_sha256: sha256(data) } });
      await runIngest(deps, { container: deps.containers.evidence, blobName: blobOf(name) }, { logger, messageId: `ingest:${name}`, deliveryCount: 1 });
      return runMessage(deps, 'hash', { body: hashMessageOf(name), messageId: `hash:${rootFileId(blobOf(name))}`, deliveryCount: 1 }, inv());
    };
    const later = segments.slice(1);
    for (const name of later) expect(await arrive(name)).toEqual({ status: 'skipped', reason: 'waiting' });
    expect(await arrive(segments[0]!)).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    // The unpack claims every later segment, then its invocation is lost at its first read of one (the host gone).
    const controller = new AbortController();
    const blobs: BlobStore = Object.create(deps.blobs, {
      openRead: {
        value: async (...args: Parameters<BlobStore['openRead']>) => {
          const stream: Readable = await deps.blobs.openRead(...args);
          if (args[0].name === blobOf(later[0]!)) stream.once('data', () => controller.abort(new ExhibitError('aborted', 'the host shut down')));
          return stream;
        },
      },
    });
    const first = { ...ev, fileId: rootFileId(blobOf(segments[0]!)) };
    await expect(runMessage({ ...deps, blobs }, 'unpack', { body: first, messageId: `unpack:${first.fileId}`, deliveryCount: 1 }, { ...inv(), abortSignal: controller.signal })).rejects.toThrow();
    for (const name of later) expect((await app.index.getUpload(blobOf(name)))?.integrity).toBe('pending');
    // Their wait over, the claim fresh: left to the unpack (a redelivery of it reads them).
    for (const name of later) expect(await hashOf({ segmentSetWaitMs: 0 }, name)).toEqual({ status: 'skipped', reason: 'waiting' });
    // The watchdog, its stall time and re-drives scaled down as the claim's hold is below: nothing in the item moves, re-driven.
    const options = { stallMs: 1, maxRedrives: 1, thumbnailSample: 0 };
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await watchdog(app, inv(), options)).toMatchObject({ stuck: 0 });
    // The claim older than its hold (0 here, below the watchdog's 1 ms × 1): the hash stages hash the segments.
    // Before: 'waiting' as long as the stalled unpack stays pending, and the next pass failed them as stuck.
    for (const name of later) expect.soft(await hashOf({ segmentSetWaitMs: 0, segmentHashClaimHoldMs: 0 }, name)).toMatchObject({ status: 'done', summary: { integrity: 'verified' } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await watchdog(app, inv(), options);
    for (const name of later) {
      expect((await app.index.getFile(rootFileId(blobOf(name))))?.stage, name).not.toBe('failed');
      expect((await app.index.getUpload(blobOf(name)))?.integrity, name).toBe('verified');
    }
  }, 180_000);
});

describe('split-set waits against the watchdog\'s default horizon', () => {
  it('segment-waits-outlast-watchdog-horizon: segmentSetWaitMs and segmentHashClaimHoldMs stay below the default stall time × (re-drives + 1), and the hold above one delivery', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'exhibit-split-horizon-'));
    try {
      const { watchdog: defaults } = loadConfig({ EXHIBIT_STORAGE_CONNECTION_STRING: inject('storageConnectionString'), EXHIBIT_DATA_DIR: dataDir }, { cwd: dataDir });
      // A waiting later segment is hashed after the later of its wait (from the set's receipts) and its claim's hold (from
      // the unpack's last move), each a move of its item: both end before the watchdog fails the item's work as stuck.
      const horizon = defaults.stallMs * (defaults.maxRedrives + 1);
      expect(LIMITS.segmentSetWaitMs).toBeLessThan(horizon);
      expect(LIMITS.segmentHashClaimHoldMs).toBeLessThan(horizon);
      // An unpack delivery picked up at once after its predecessor's move still hashes the segments it holds.
      expect(LIMITS.stageDeadlineMs + LIMITS.stageDeadlineGraceMs).toBeLessThan(LIMITS.segmentHashClaimHoldMs);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
