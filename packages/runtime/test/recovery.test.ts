import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedNames, ExhibitError, QUEUES, type BlobRef, type BlobStore, type EvidenceStatus } from '@exhibit/core';
import { handleDeadLetter, handleQueueMessage, reconcile, watchdog, type App } from '../src/index.js';
import { derivedBlobState } from '../src/watchdog.js';
import { inv, openAppFixture, zipOf, type AppFixture } from './app-fixture.js';

const MAX_DELIVERIES = 5;

/** Storage that answers every write of one blob name with an error, as Azurite's HTTP 500s did. */
function refusingWritesTo(inner: BlobStore, refused: (ref: BlobRef) => boolean): BlobStore & { refusals: number } {
  const wrapper = Object.create(inner) as BlobStore & { refusals: number };
  wrapper.refusals = 0;
  const refuse = (ref: BlobRef) => {
    wrapper.refusals += 1;
    throw new ExhibitError('storage-unavailable', `HTTP 500 InternalError writing ${ref.name}`);
  };
  wrapper.upload = async (ref, data, options) => (refused(ref) ? refuse(ref) : inner.upload(ref, data, options));
  wrapper.copy = async (from, to, options) => (refused(to) ? refuse(to) : inner.copy(from, to, options));
  return wrapper;
}

describe('no stuck work, nothing hidden (Azurite + PGlite)', () => {
  let fixture: AppFixture;
  let app: App;
  const caseId = `RC${randomBytes(3).toString('hex')}`;
  const statusesSeen: EvidenceStatus[] = [];

  beforeAll(async () => {
    fixture = await openAppFixture('rc');
    app = fixture.app;
  });

  afterAll(async () => {
    await fixture?.close();
  });

  const upload = (blobName: string, bytes: Buffer) => fixture.upload(blobName, bytes);

  /**
   * The trigger's part, without waiting out back-offs: deliver every queued message, complete on
   * return, redeliver on a throw, dead-letter after MAX_DELIVERIES, and hand dead letters to their
   * function. Records each evidence status seen between rounds.
   */
  async function drain(evidence: { caseId: string; evidenceId: string }, maxRounds = 80): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const queue of QUEUES) {
        for (const m of await app.bus.receive(queue, { maxMessages: 16, lockMs: 120_000 })) {
          any = true;
          try {
            await handleQueueMessage(app, queue, { body: m.body, messageId: m.messageId, deliveryCount: m.deliveryCount }, inv());
            await m.complete();
          } catch (err) {
            if (m.deliveryCount >= MAX_DELIVERIES) await m.deadLetter(err instanceof ExhibitError ? err.code : 'unexpected-error', String(err));
            else await m.abandon({ retryAfterMs: 0 });
          }
        }
        for (const dl of await app.bus.receiveDeadLettered(queue, { maxMessages: 16 })) {
          any = true;
          await handleDeadLetter(app, queue, { body: dl.body, messageId: dl.messageId, reason: dl.reason, description: dl.description }, inv());
          await dl.complete();
        }
      }
      const status = await app.index.evidenceStatus(evidence.caseId, evidence.evidenceId);
      if (status) statusesSeen.push(status);
      if (!any) return;
    }
    throw new Error('queues did not drain');
  }

  it('a member copy that storage refuses every time: the item is never complete without a visible failure', async () => {
    const evidenceId = 'COPY500';
    const members = await Promise.all(
      [0, 1, 2].map(async (i) => ({
        name: `DCIM/IMG_${i}.jpg`,
        data: await sharp({ create: { width: 64 + i, height: 48, channels: 3, background: { r: 10 * i, g: 100, b: 200 } } }).jpeg().toBuffer(),
      })),
    );
    const refusedName = derivedNames.content((await import('node:crypto')).createHash('sha256').update(members[1]!.data).digest('hex'));
    const real = app.stageDeps.blobs;
    const refusing = refusingWritesTo(real, (ref) => ref.name === refusedName || ref.name.startsWith('staging/'));
    app.stageDeps.blobs = refusing;
    try {
      await upload(`${caseId}/${evidenceId}/phone.zip`, await zipOf(members));
      statusesSeen.length = 0;
      await reconcile(app, inv());
      await drain({ caseId, evidenceId });
    } finally {
      app.stageDeps.blobs = real;
    }
    expect(refusing.refusals).toBeGreaterThanOrEqual(MAX_DELIVERIES);
    // At no point did the status claim completion while hiding the lost member.
    for (const s of statusesSeen) if (s.complete) expect(s.failures.length).toBeGreaterThan(0);
    const final = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(final.complete).toBe(true);
    const archive = final.failures.find((f) => f.path === 'phone.zip');
    expect(archive, JSON.stringify(final.failures)).toBeDefined();
    expect(archive!.stage).toBe('unpack');
    expect(archive!.archive?.reason).toBe('dead-lettered');
    expect(archive!.detail).toMatch(/HTTP 500/);
    // The member storage refused is not among the indexed files.
    expect(final.files.byStage.indexed).toBeLessThan(1 + members.length);
  });

  it('work whose message was lost is re-driven, and failed as stuck if it still does not move', async () => {
    const evidenceId = 'LOST';
    await upload(`${caseId}/${evidenceId}/photo.jpg`, await sharp({ create: { width: 32, height: 32, channels: 3, background: '#123456' } }).jpeg().toBuffer());
    await reconcile(app, inv());
    // The hash message is lost (storage crashed before saving it).
    for (const m of await app.bus.receive('hash', { maxMessages: 32, lockMs: 120_000 })) await m.complete();
    const backdate = () =>
      app.sql.query(`UPDATE files SET updated_at = now() - interval '1 hour', redriven_at = CASE WHEN redriven_at IS NULL THEN NULL ELSE now() - interval '30 minutes' END WHERE case_id = $1 AND evidence_id = $2`, [caseId, evidenceId]);
    await backdate();

    const first = await watchdog(app, inv(), { stallMs: 60_000, maxRedrives: 1, thumbnailSample: 0 });
    expect(first.redriven).toBeGreaterThanOrEqual(1);
    const resent = await app.bus.receive('hash', { maxMessages: 32, lockMs: 120_000 });
    expect(resent.map((m) => (m.body as { evidenceId: string }).evidenceId)).toContain(evidenceId);
    // Lost again: the second pass gives up with a visible reason.
    for (const m of resent) await m.complete();
    await backdate();
    const second = await watchdog(app, inv(), { stallMs: 60_000, maxRedrives: 1, thumbnailSample: 0 });
    expect(second.stuck).toBeGreaterThanOrEqual(1);
    const status = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(status.complete).toBe(true);
    expect(status.failures).toEqual([expect.objectContaining({ path: 'photo.jpg', stage: 'hash', code: 'stuck' })]);
  });

  it('regression: watchdog-repeated-pass-resent-every-stalled-file-under-new-ids — a repeat of a re-drive keeps its id; the next re-drive, or one after a move, gets another', async () => {
    const evidenceId = 'REPEAT';
    await upload(`${caseId}/${evidenceId}/photo.jpg`, await sharp({ create: { width: 33, height: 31, channels: 3, background: '#345678' } }).jpeg().toBuffer());
    await reconcile(app, inv());
    for (const m of await app.bus.receive('hash', { maxMessages: 32, lockMs: 120_000 })) await m.complete();
    const moved = new Date(Date.now() - 3_600_000);
    const files = `case_id = $1 AND evidence_id = $2`;
    await app.sql.query(`UPDATE files SET updated_at = $3, redriven_at = NULL, redrives = 0 WHERE ${files}`, [caseId, evidenceId, moved]);
    const fileId = (await app.sql.query<{ file_id: string }>(`SELECT file_id FROM files WHERE ${files}`, [caseId, evidenceId])).rows[0]!.file_id;
    /** One watchdog pass; the ids of the hash messages it sent for this item (taken off the queue). */
    const pass = async () => {
      await watchdog(app, inv(), { stallMs: 60_000, maxRedrives: 5, thumbnailSample: 0 });
      const ids: string[] = [];
      for (const m of await app.bus.receive('hash', { maxMessages: 32, lockMs: 120_000 })) {
        if ((m.body as { evidenceId: string }).evidenceId === evidenceId) ids.push(m.messageId);
        await m.complete();
      }
      return ids;
    };
    const first = await pass();
    expect(first).toEqual([`hash:${fileId}:redrive-1-${moved.getTime()}`]);
    // The pass's count was lost (cut short by its deadline before markRedriven, or markRedriven failed): the next pass
    // repeats the same re-drive, under the same id, which Service Bus drops as a repeat within its window.
    await app.sql.query(`UPDATE files SET redriven_at = NULL, redrives = 0 WHERE ${files}`, [caseId, evidenceId]);
    expect(await pass()).toEqual(first);
    // Counted, and a stall time later still not moved: the second re-drive, a new id.
    await app.sql.query(`UPDATE files SET redriven_at = now() - interval '30 minutes' WHERE ${files}`, [caseId, evidenceId]);
    expect(await pass()).toEqual([`hash:${fileId}:redrive-2-${moved.getTime()}`]);
    // The file moved since (and stalled again): its count starts over, its id is new all the same.
    const movedAgain = new Date(Date.now() - 1_800_000);
    await app.sql.query(`UPDATE files SET updated_at = $3, redriven_at = now() - interval '45 minutes' WHERE ${files}`, [caseId, evidenceId, movedAgain]);
    expect(await pass()).toEqual([`hash:${fileId}:redrive-1-${movedAgain.getTime()}`]);
  });

  it('a recently moved evidence item is not re-driven (a long queue is not a stall)', async () => {
    const evidenceId = 'BUSY';
    await upload(`${caseId}/${evidenceId}/photo.jpg`, await sharp({ create: { width: 30, height: 30, channels: 3, background: '#654321' } }).jpeg().toBuffer());
    await reconcile(app, inv());
    const pass = await watchdog(app, inv(), { stallMs: 60_000, maxRedrives: 1, thumbnailSample: 0 });
    const mine = await app.sql.query<{ redrives: number }>(`SELECT redrives FROM files WHERE case_id = $1 AND evidence_id = $2`, [caseId, evidenceId]);
    expect(mine.rows.every((r) => Number(r.redrives) === 0)).toBe(true);
    expect(pass.stuck).toBe(0);
    await drain({ caseId, evidenceId });
    expect((await app.index.evidenceStatus(caseId, evidenceId))!.complete).toBe(true);
  });

  it('regression: azurite-killed-mid-write-keeps-a-thumbnail-record-without-its-data — a listed blob whose bytes cannot be read is unreadable, not present', async () => {
    const ref: BlobRef = { container: app.config.containers.derived, name: `thumbnails/probe-${randomBytes(4).toString('hex')}.jpg` };
    await app.blobs.upload(ref, Buffer.from([0xff, 0xd8, 0xff, 0xd9]), { contentType: 'image/jpeg' });
    expect(await derivedBlobState(app.blobs, ref)).toBe('readable');
    // Azurite after kill -9: the blob's record survived, its data did not (a read answers 500).
    const lostData: BlobStore = Object.assign(Object.create(app.blobs) as BlobStore, {
      readRange: async (r: BlobRef, ...rest: Parameters<BlobStore['readRange']> extends [BlobRef, ...infer T] ? T : never) =>
        r.name === ref.name ? Promise.reject(new ExhibitError('storage-unavailable', `download ${r.name}: 500 InternalError`)) : app.blobs.readRange(r, ...rest),
    });
    expect(await derivedBlobState(lostData, ref)).toBe('unreadable');
    await app.blobs.delete(ref);
    expect(await derivedBlobState(app.blobs, ref)).toBe('missing');
    // Storage not answering at all is a fault to retry, never a verdict on the blob.
    const down: BlobStore = Object.assign(Object.create(app.blobs) as BlobStore, {
      readRange: async () => Promise.reject(new ExhibitError('storage-unavailable', 'connect ECONNREFUSED')),
      exists: async () => Promise.reject(new ExhibitError('storage-unavailable', 'connect ECONNREFUSED')),
    });
    await expect(derivedBlobState(down, ref)).rejects.toMatchObject({ code: 'storage-unavailable' });
  });

  it('a thumbnail the index records as done but storage lost is made again', async () => {
    const evidenceId = 'THUMB';
    await upload(`${caseId}/${evidenceId}/photo.jpg`, await sharp({ create: { width: 200, height: 100, channels: 3, background: '#aa2211' } }).jpeg().toBuffer());
    await reconcile(app, inv());
    await drain({ caseId, evidenceId });
    const page = await app.index.search({ caseId, evidenceId, limit: 10 } as never);
    const item = page.items.find((i) => i.file.path === 'photo.jpg')!;
    expect(item.content?.thumbnailStatus).toBe('done');
    const thumb = item.content!.thumbnail!;
    await app.blobs.delete(thumb);
    expect(await app.blobs.exists(thumb)).toBe(false);

    let missing = 0;
    for (let pass = 0; pass < 20 && missing === 0; pass++) missing += (await watchdog(app, inv(), { stallMs: 3_600_000, maxRedrives: 3, thumbnailSample: 1000 })).thumbnailsMissing;
    expect(missing).toBeGreaterThanOrEqual(1);
    await drain({ caseId, evidenceId });
    expect(await app.blobs.exists(thumb)).toBe(true);
    const status = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(status.complete).toBe(true);
    expect(status.failures).toEqual([]);
  });
});
