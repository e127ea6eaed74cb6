import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, LIMITS, QUEUES } from '@exhibit/core';
import { handleDeadLetter, handleQueueMessage, reconcile, type App } from '../src/index.js';
import { DATABASE_URL, pgliteMemory, postgresServer, type Target } from '../../index/test/targets.js';
import { inv, openAppFixture, type AppFixture } from './app-fixture.js';

/**
 * Evidence named as long as Azure Storage allows (1,024 characters), through
 * the real blob path: Azurite, the reconcile pass the local watcher runs, the
 * stage queues, the custody log, and the index on PGlite and on the server.
 * No blob may be unrecordable because of its name, nor stop its siblings.
 */

const MAX_DELIVERIES = 5;

/** Random CJK: 3 bytes of UTF-8 a character, incompressible to a b-tree, as a hostile name can be. */
const cjk = (chars: number) => Array.from({ length: chars }, () => String.fromCodePoint(0x4e00 + Math.floor(Math.random() * 20_000))).join('');
/** Random lower-case letters: one byte a character. */
const ascii = (chars: number) => Array.from({ length: chars }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

const targets: Target[] = [pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])];

describe.each(targets)('evidence with long blob names, end to end on $name', (target) => {
  let fixture: AppFixture;
  let app: App;
  const caseId = `LN${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    const database = await target.create();
    // Each target's app lists its own evidence container: the rejected-name tests' root blobs are no other run's.
    fixture = await openAppFixture('ln', database.kind === 'postgres' ? { databaseUrl: database.url } : {});
    app = fixture.app;
  });

  afterAll(async () => {
    await fixture?.close();
    await target.dispose();
  });

  const upload = (blobName: string, bytes: Buffer) => fixture.upload(blobName, bytes);

  const jpeg = (seed: number) => sharp({ create: { width: 40 + seed, height: 30, channels: 3, background: { r: seed, g: 90, b: 160 } } }).jpeg().toBuffer();

  /** The trigger's part: deliver, complete on return, redeliver on a throw, dead-letter after MAX_DELIVERIES. */
  async function drain(maxRounds = 60): Promise<void> {
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
      if (!any) return;
    }
    throw new Error('queues did not drain');
  }

  const custodyActions = async (evidenceId: string, blobName: string) =>
    (await app.custody.entries({ caseId, evidenceId, limit: 1000 })).filter((e) => e.subject.blobName === blobName).map((e) => e.action);

  it('records a 1,024-character incompressible name whole, with its sibling, received, hashed and indexed (long-unicode-blob-name-not-recorded)', async () => {
    const evidenceId = 'CJK';
    const prefix = `${caseId}/${evidenceId}/`;
    const longName = `${prefix}${cjk(LIMITS.maxBlobNameChars - prefix.length - 4)}.jpg`;
    expect(longName.length).toBe(LIMITS.maxBlobNameChars);
    expect(Buffer.byteLength(longName)).toBeGreaterThan(2_704);
    const sibling = `${prefix}sibling.jpg`;
    await upload(longName, await jpeg(1));
    await upload(sibling, await jpeg(2));

    // The container is this run's own: the pass lists these two and no other test file's blobs.
    expect(await reconcile(app, inv())).toMatchObject({ listed: 2 });
    await drain();

    for (const name of [longName, sibling]) {
      const recorded = await app.index.getUpload(name);
      expect(recorded?.blobName, name.slice(0, 40)).toBe(name);
      expect(recorded?.integrity).toBe('no-reference');
      expect(await custodyActions(evidenceId, name)).toEqual(expect.arrayContaining(['received', 'integrity-verified']));
    }
    const status = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(status.complete).toBe(true);
    expect(status.failures).toEqual([]);
    expect(status.uploads.map((u) => u.fileName).sort()).toEqual([longName.slice(prefix.length), 'sibling.jpg'].sort());
    expect(status.files.byStage.indexed).toBe(2);
    // Received once: a second pass (the watcher, a redelivered event) neither adds nor refuses.
    await reconcile(app, inv(), { known: new Map() });
    expect((await custodyActions(evidenceId, longName)).filter((a) => a === 'received')).toHaveLength(1);
  });

  it('records custody for a 1,024-character ASCII name, whose event keys would be over 512 characters (long-blob-name-custody-key-refused)', async () => {
    const evidenceId = 'ASCII';
    const prefix = `${caseId}/${evidenceId}/`;
    const longName = `${prefix}${ascii(LIMITS.maxBlobNameChars - prefix.length - 4)}.jpg`;
    await upload(longName, await jpeg(3));
    await upload(`${prefix}sibling.jpg`, await jpeg(4));

    await reconcile(app, inv());
    await drain();

    expect((await app.index.getUpload(longName))?.integrity).toBe('no-reference');
    const actions = await custodyActions(evidenceId, longName);
    expect(actions.filter((a) => a === 'received')).toHaveLength(1);
    expect(actions.filter((a) => a === 'integrity-verified')).toHaveLength(1);
    const status = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(status.complete).toBe(true);
    expect(status.failures).toEqual([]);
    expect(status.files.byStage.indexed).toBe(2);
    await reconcile(app, inv(), { known: new Map() });
    expect((await custodyActions(evidenceId, longName)).filter((a) => a === 'received')).toHaveLength(1);
  });

  it('records a long incompressible name that is not evidence as rejected, once (long-unicode-rejected-blob-not-recorded)', async () => {
    // Dropped at the container root: no case, so the rejected-blob list is its only record.
    const name = `${cjk(LIMITS.maxBlobNameChars - 4)}.jpg`;
    await upload(name, await jpeg(5));
    await reconcile(app, inv());
    await reconcile(app, inv(), { known: new Map() });
    const { items } = await app.index.listRejectedBlobs({ limit: 1000 });
    const mine = items.filter((r) => r.blobName === name);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ reason: 'not-evidence-name', seenCount: 2 });
  });

  it('rejects, with the limit as its reason, a name longer than Azure Storage allows (Azurite does not check)', async () => {
    const evidenceId = 'OVER';
    const prefix = `${caseId}/${evidenceId}/`;
    const overName = `${prefix}${cjk(LIMITS.maxBlobNameChars - prefix.length + 10)}.jpg`;
    await upload(overName, await jpeg(6));
    await upload(`${prefix}sibling.jpg`, await jpeg(7));
    await reconcile(app, inv());
    await drain();

    expect(await app.index.getUpload(overName)).toBeNull();
    const { items } = await app.index.listRejectedBlobs({ limit: 1000 });
    const mine = items.filter((r) => r.blobName === overName);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.reason).toBe('not-evidence-name');
    expect(mine[0]!.detail).toMatch(/1,038 characters.*at most 1,024/);
    const status = (await app.index.evidenceStatus(caseId, evidenceId))!;
    expect(status.complete).toBe(true);
    expect(status.uploads.map((u) => u.fileName)).toEqual(['sibling.jpg']);
  });
});
