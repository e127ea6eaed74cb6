import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, rootFileId, type DeclaredSegment, type FileMessage, type HashMessage, type StageOutcome } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { fls, missingTools, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { segmentSetState } from '../src/disk/segment-set.wait.js';
import { runIngest, runMessage } from '../src/stage-runner.js';
import { createHarness, limitsWith, sha256, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * A split raw image whose segment manifest was declared at registration
 * (docs/disk-images.md, "Split images"), through the real stages: ingest,
 * hash, analyse (the real identifier) and unpack via the stage runner, against
 * Azurite and PGlite. The first segment arriving before the others waits
 * (a scheduled re-check, nothing recorded) and then reads the whole set; a
 * segment whose declared hash differs is that upload's acquisition mismatch;
 * a segment still missing after the wait fails the image with segment-missing
 * naming it; a later segment without its first is an orphan in the status.
 */

const missing = missingTools();

describe.skipIf(missing.length > 0)('a split image declared with a segment manifest', () => {
  let h: Harness;
  let dir = '';
  const p = (name: string) => path.join(dir, name);
  let names: string[] = [];
  const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    h.deps.identifier = new FileTypeIdentifier();
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-manifest-'));
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'DECL', p('card.img'), '6144']);
    writeFileSync(p('payload'), pseudoRandom(2_600_000, 31));
    run('mcopy', ['-i', p('card.img'), p('payload'), '::/big.bin']);
    writeFileSync(p('payload'), Buffer.from('note\n'));
    run('mcopy', ['-i', p('card.img'), p('payload'), '::/note.txt']);
    run('split', ['-b', '2500000', '-d', '-a', '3', '--numeric-suffixes=1', p('card.img'), p('card.')]);
    names = readdirSync(dir).filter((f) => /^card\.\d{3}$/.test(f)).sort();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const item = () => ({ caseId: 'case-1', evidenceId: `ev-${randomBytes(4).toString('hex')}` });
  const blobOf = (ev: { caseId: string; evidenceId: string }, name: string) => `${ev.caseId}/${ev.evidenceId}/${name}`;
  const manifestOf = (overrides: Record<string, Partial<DeclaredSegment>> = {}): DeclaredSegment[] =>
    names.map((n) => ({ fileName: n, size: readFileSync(p(n)).length, sha256: sha256(readFileSync(p(n))), ...overrides[n] }));

  /** What the API does at registration of the first segment with `segments`. */
  async function declare(ev: { caseId: string; evidenceId: string }, segments: DeclaredSegment[]) {
    const firstBlobName = blobOf(ev, segments[0]!.fileName);
    // The registration first (the manifest is stored only once it is the caller's), as the API records it.
    await h.sql.query(`INSERT INTO upload_registrations (blob_name, case_id, evidence_id, file_name, size, uploaded_by) VALUES ($1, $2, $3, $4, $5, 'examiner-1')`, [
      firstBlobName, ev.caseId, ev.evidenceId, segments[0]!.fileName, segments[0]!.size,
    ]);
    await h.index.declareSegmentManifest(
      segments.map((s, i) => ({ ...s, ...ev, blobName: blobOf(ev, s.fileName), firstBlobName, position: i + 1, declaredBy: 'examiner-1' })),
    );
  }

  async function deliver(queue: 'hash' | 'analyse' | 'unpack', body: FileMessage | HashMessage): Promise<StageOutcome> {
    return runMessage(h.deps, queue, { body, messageId: `${queue}:${body.fileId}`, deliveryCount: 1 }, inv());
  }

  /**
   * A segment's blob is written, then ingested and hashed. The first segment, a raw image, is marked for unpacking
   * by the hash stage and hashed in its unpack's own read (hash.stage.ts); a later one declared in a manifest is left
   * to that unpack too (its hash stage re-checks later: docs/disk-images.md, "Split sets"); an undeclared one is hashed here.
   */
  async function arrive(ev: { caseId: string; evidenceId: string }, name: string): Promise<FileMessage> {
    const blobName = blobOf(ev, name);
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: blobName }, readFileSync(p(name)));
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName }, h.ctx);
    const file = { ...ev, fileId: rootFileId(blobName) };
    const hashed = await deliver('hash', { ...file, blobName });
    const declared = await h.index.getDeclaredSegment(blobName);
    if (name.endsWith('.001')) expect(hashed).toEqual({ status: 'done', summary: { hashedBy: 'unpack', kind: 'archive' } });
    // (With no wait at all, hashed here at once.)
    else if (declared && declared.position > 1 && h.deps.limits.segmentSetWaitMs > 0) expect(hashed).toEqual({ status: 'skipped', reason: 'waiting' });
    else expect(hashed).toMatchObject({ summary: { sha256: sha256(readFileSync(p(name))) } });
    return file;
  }

  it('the first segment arriving before the others waits (a scheduled re-check, nothing recorded), then reads every declared segment', async () => {
    const ev = item();
    await declare(ev, manifestOf());
    const first = await arrive(ev, names[0]!);
    expect((await h.index.getFile(first.fileId))?.unpack).toBe('pending');

    const sentBefore = h.bus.sent.length;
    expect(await deliver('unpack', first)).toEqual({ status: 'skipped', reason: 'waiting' });
    // The same message again, later, under another id (not dropped as a repeat); nothing recorded for the image.
    const again = h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'unpack');
    expect(again).toHaveLength(1);
    expect(again[0]!.message).toMatchObject({ body: first, messageId: expect.stringMatching(/segment-wait:[0-9a-f]{12}:1$/), scheduledAt: expect.any(Date) });
    expect((await h.index.getFile(first.fileId))?.unpack).toBe('pending');
    expect(await h.index.listChildren(first.fileId)).toEqual([]);
    expect(await h.index.getDiskImage(first.fileId)).toBeNull();
    const waiting = await h.index.evidenceStatus(ev.caseId, ev.evidenceId);
    expect(waiting?.imageSegments.declared).toEqual([
      expect.objectContaining({ firstSegment: names[0], missing: names.slice(1), segments: names.map((n, i) => ({ fileName: n, size: readFileSync(p(n)).length, received: i === 0 })) }),
    ]);
    expect(waiting?.complete).toBe(false);

    for (const name of names.slice(1)) await arrive(ev, name);
    expect(await deliver('unpack', first)).toMatchObject({ status: 'done' });
    const members = (await h.index.listChildren(first.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(fls(names.map(p)).map((e) => e.path));
    expect(members.find((m) => m.path.endsWith('!/big.bin'))?.sha256).toBe(sha256(pseudoRandom(2_600_000, 31)));
    expect(await h.index.getDiskImage(first.fileId)).toMatchObject({ format: 'split-raw', segmentCount: names.length });
    // Every segment was checked against its declared SHA-256 when it was hashed, in the unpack's read of it.
    for (const name of names) expect((await h.index.getUpload(blobOf(ev, name)))?.integrity).toBe('verified');
    expect((await h.index.evidenceStatus(ev.caseId, ev.evidenceId))?.imageSegments.declared[0]?.missing).toEqual([]);
  }, 120_000);

  it("segment-wait-redelivered-chains-multiply: a waiting first segment's unpack message delivered twice schedules one re-check, and each re-check one next", async () => {
    const ev = item();
    await declare(ev, manifestOf());
    const first = await arrive(ev, names[0]!);
    const waiting = { status: 'skipped', reason: 'waiting' };
    const rechecks = () =>
      new Set(h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as FileMessage).fileId === first.fileId && s.message.messageId.includes('segment-wait')).map((s) => s.message.messageId));
    const twice = async (messageId: string) => {
      for (const deliveryCount of [1, 2]) {
        expect(await runMessage(h.deps, 'unpack', { body: first, messageId, deliveryCount }, inv())).toEqual(waiting);
        // A redelivery comes later (a lost lock, a crash after the send): never in the same millisecond.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await twice(`unpack:${first.fileId}`);
    // Before: keyed on the millisecond it was due, each delivery began its own chain of re-checks.
    expect(rechecks().size).toBe(1);
    const [recheck] = [...rechecks()];
    // The re-check delivered twice: one next re-check, under neither its own id nor an earlier one (both would be dropped as repeats).
    await twice(recheck!);
    expect(rechecks().size).toBe(2);
    const next = [...rechecks()].find((id) => id !== recheck)!;
    await twice(next);
    expect(rechecks().size).toBe(3);
    expect([...rechecks()].filter((id) => id !== recheck && id !== next)).toHaveLength(1);
  }, 120_000);

  it("a segment whose declared hash differs (segment 3) is reported as that upload's acquisition-hash mismatch; the image is still read", async () => {
    const ev = item();
    const wrong = createHash('md5').update('not the segment').digest('hex');
    await declare(ev, manifestOf({ [names[2]!]: { md5: wrong } }));
    for (const name of names.slice(1)) await arrive(ev, name);
    const first = await arrive(ev, names[0]!);
    // Hashed, and checked against the declared hashes, in the unpack's read of the set.
    expect(await deliver('unpack', first)).toMatchObject({ status: 'done' });
    const third = await h.index.getUpload(blobOf(ev, names[2]!));
    expect(third).toMatchObject({ integrity: 'mismatch', mismatches: ['md5'], acquisition: { md5: wrong, sha256: sha256(readFileSync(p(names[2]!))) } });
    const custody = h.custody.events.find((e) => e.action === 'integrity-mismatch' && e.subject?.blobName === blobOf(ev, names[2]!));
    expect(custody?.details).toMatchObject({ mismatches: ['md5'], declared: { md5: wrong } });
    expect((await h.index.getUpload(blobOf(ev, names[1]!)))?.integrity).toBe('verified');
  }, 120_000);

  it('a segment still missing after the wait fails the image with segment-missing naming it, the same on every run', async () => {
    const ev = item();
    await declare(ev, manifestOf());
    const limits = h.deps.limits;
    h.deps.limits = limitsWith({ segmentSetWaitMs: 0 });
    try {
      await arrive(ev, names[1]!);
      const first = await arrive(ev, names[0]!);
      const outcome = await deliver('unpack', first);
      expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
      const detail = (outcome as { detail: string }).detail;
      expect(detail).toContain(`1 of the 3 segments declared for ${names[0]} did not arrive`);
      expect(detail).toContain(`: ${names[2]} [segment-missing]`);
      expect(detail).not.toContain(names[1]!);
      expect(await deliver('unpack', first)).toMatchObject({ status: 'skipped', reason: 'already-done' });
      const status = await h.index.evidenceStatus(ev.caseId, ev.evidenceId);
      expect(status?.failures.find((f) => f.fileId === first.fileId)).toMatchObject({ stage: 'unpack', code: 'corrupt-file', detail: expect.stringContaining(detail) });
      expect(status?.imageSegments.declared[0]?.missing).toEqual([names[2]]);
    } finally {
      h.deps.limits = limits;
    }
  }, 120_000);

  it('regression: a slow segment registered after the last receipt keeps the set waiting (segment-missing counted from the receipt failed a set still being sent)', async () => {
    const ev = item();
    await declare(ev, manifestOf());
    await arrive(ev, names[1]!);
    await arrive(ev, names[0]!);
    const firstBlobName = blobOf(ev, names[0]!);
    const wait = limitsWith({ segmentSetWaitMs: 60 * 60_000 });
    const received = Math.max(...(await Promise.all(names.slice(0, 2).map(async (n) => Date.parse((await h.index.getUpload(blobOf(ev, n)))!.receivedAt)))));
    const now = received + 2 * wait.segmentSetWaitMs;
    // Without a registration, two hours after the last receipt: missing.
    expect(await segmentSetState(h.index, firstBlobName, wait, now)).toMatchObject({ kind: 'failed' });
    // The third segment registered 90 min after the last receipt (its upload still running): waiting, 30 min after it.
    await h.sql.query(`INSERT INTO upload_registrations (blob_name, case_id, evidence_id, file_name, size, uploaded_by, registered_at) VALUES ($1, $2, $3, $4, 1, 'examiner-1', $5)`, [
      blobOf(ev, names[2]!), ev.caseId, ev.evidenceId, names[2], new Date(received + 1.5 * wait.segmentSetWaitMs).toISOString(),
    ]);
    expect(await segmentSetState(h.index, firstBlobName, wait, now)).toMatchObject({ kind: 'waiting', missing: [names[2]] });
    const failed = await segmentSetState(h.index, firstBlobName, wait, received + 2.5 * wait.segmentSetWaitMs);
    expect(failed).toMatchObject({ kind: 'failed' });
    expect((failed as { error: Error }).error.message).toContain(`did not arrive within 60 min of the last one received or registered: ${names[2]}`);
  }, 120_000);

  it('a received segment whose size is not the declared one fails the image with segment-size-mismatch', async () => {
    const ev = item();
    const declared = manifestOf();
    declared[1] = { ...declared[1]!, size: declared[1]!.size + 1 };
    await declare(ev, declared);
    for (const name of names.slice(1)) await arrive(ev, name);
    const first = await arrive(ev, names[0]!);
    const outcome = await deliver('unpack', first);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect((outcome as { detail: string }).detail).toMatch(new RegExp(`segment 2 of ${names[0]!.replace('.', '\\.')} \\(${names[1]!.replace('.', '\\.')}\\) holds \\d+ bytes; its manifest declared \\d+ \\[segment-size-mismatch\\]`));
  }, 120_000);

  it('a blob of the set that the manifest does not declare is not read as part of the image (segment-from-another-image)', async () => {
    const ev = item();
    // Declared as two segments; the third piece arrives anyway.
    await declare(ev, manifestOf().slice(0, 2));
    for (const name of names.slice(1)) await arrive(ev, name);
    const first = await arrive(ev, names[0]!);
    const outcome = await deliver('unpack', first);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect((outcome as { detail: string }).detail).toContain(`${blobOf(ev, names[2]!)} is in the evidence item but not in the set declared for ${blobOf(ev, names[0]!)} (2 segments) [segment-from-another-image]`);
  }, 120_000);

  it("a declared split E01's first segment, hashed in its own unpack's read, does not wait for its own hash (regression: waited-for-itself-until-segment-missing)", async () => {
    run('ewfacquire', ['-u', '-t', p('split'), '-c', 'none', '-S', '1MiB', '-d', 'sha1', p('card.img')]);
    const e01 = readdirSync(dir).filter((f) => /^split\.E\d{2}$/.test(f)).sort();
    expect(e01.length).toBeGreaterThan(2);
    const ev = item();
    await declare(ev, e01.map((n) => ({ fileName: n, size: readFileSync(p(n)).length, sha256: sha256(readFileSync(p(n))) })));
    for (const name of e01.slice(1)) await arrive(ev, name);
    const firstName = blobOf(ev, e01[0]!);
    await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: firstName }, readFileSync(p(e01[0]!)));
    await runIngest(h.deps, { container: h.deps.containers.evidence, blobName: firstName }, h.ctx);
    const first = { ...ev, fileId: rootFileId(firstName) };
    expect(await deliver('hash', { ...first, blobName: firstName })).toMatchObject({ status: 'done' });
    // Left to the unpack's single read: not hashed yet, and the set is still complete enough to read.
    expect((await h.index.getUpload(firstName))?.integrity).toBe('pending');
    expect(await deliver('unpack', first)).toMatchObject({ status: 'done' });
    const members = (await h.index.listChildren(first.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(fls(e01.map(p)).map((e) => e.path));
    expect(await h.index.getDiskImage(first.fileId)).toMatchObject({ segmentCount: e01.length });
    // The first segment's declared SHA-256 was checked in that read.
    for (const name of e01) expect((await h.index.getUpload(blobOf(ev, name)))?.integrity).toBe('verified');
  }, 120_000);

  it('a later segment whose first segment has not arrived is shown as an orphan waiting for it, declared or not', async () => {
    const declaredItem = item();
    await declare(declaredItem, manifestOf());
    await arrive(declaredItem, names[1]!);
    expect((await h.index.evidenceStatus(declaredItem.caseId, declaredItem.evidenceId))?.imageSegments).toMatchObject({
      orphans: [{ fileName: names[1], firstSegment: names[0] }],
      declared: [{ firstSegment: names[0], missing: [names[0], names[2]] }],
    });
    const plain = item();
    await arrive(plain, names[2]!);
    expect((await h.index.evidenceStatus(plain.caseId, plain.evidenceId))?.imageSegments).toEqual({ declared: [], orphans: [{ fileName: names[2], firstSegment: names[0] }] });
    // Once the first arrives, it is no orphan.
    await arrive(plain, names[0]!);
    expect((await h.index.evidenceStatus(plain.caseId, plain.evidenceId))?.imageSegments.orphans).toEqual([]);
  }, 120_000);
});
