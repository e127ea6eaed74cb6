import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, type HashMessage, type OutgoingMessage } from '@exhibit/core';
import { FileTypeIdentifier } from '@exhibit/media';
import { runMessage } from '../src/stage-runner.js';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { createHarness, uploadEvidence, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression `reconcile-resend-of-pending-upload-starts-copy-chain-beside-live-unpack`:
 * an uploaded archive hashed in its unpack's read stays integrity `pending`
 * until that unpack records the hash, so from 30 min after receipt the
 * reconcile timer offered it again every pass. Its hash message answered
 * "hashed in the unpack's read" and sent the unpack's message again; that
 * delivery found the unpack continued and re-sent the latest continuation,
 * which found the live attempt's stage lease and deferred, sending copies of
 * itself until the unpack ended (one chain per pass; on the local queue they
 * never merge). Through the stage runner with the real identifier, Azurite and
 * PGlite: while the unpack's lease is live the hash message sends nothing; with
 * none (or an expired one) it sends the unpack's message as it always did.
 */
let h: Harness;
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });
const sentFor = (queue: string, fileId: string): OutgoingMessage[] =>
  h.bus.sent.filter((s) => s.queue === queue && (s.message.body as { fileId?: string }).fileId === fileId).map((s) => s.message);

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.identifier = new FileTypeIdentifier();
});

afterAll(async () => {
  await h?.close();
});

/** A ZIP uploaded and ingested: its first hash message. */
async function arrive(fileName: string): Promise<HashMessage> {
  const data = await zipOf([
    { name: 'a.txt', data: Buffer.from(`alpha ${fileName}`) },
    { name: 'b.txt', data: Buffer.from(`beta ${fileName}`) },
  ]);
  return uploadEvidence(h, fileName, data);
}

/** The hash message delivered again, as the reconcile pass's re-offer of the still-pending upload delivers it. */
const offerAgain = (message: HashMessage, pass: number) =>
  runMessage(h.deps, 'hash', { body: message, messageId: `reconcile:${message.blobName}:${pass}`, deliveryCount: 1 }, inv());

describe('hash message delivered again while its unpack runs', () => {
  it('reconcile-resend-of-pending-upload-starts-copy-chain-beside-live-unpack', async () => {
    const message = await arrive('live.zip');
    const first = await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(first).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack' } });
    expect(sentFor('unpack', message.fileId)).toHaveLength(1);
    expect((await h.index.getUpload(message.blobName))?.integrity).toBe('pending');

    // The unpack that message started runs: its lease on the archive (the key the runner takes) is live.
    const live = { queue: 'unpack', subjectId: message.fileId, holder: 'running-unpack' };
    expect(await h.index.acquireStageLease({ ...live, messageId: `unpack:${message.fileId}` }, 10 * 60_000)).toMatchObject({ acquired: true });
    expect(await h.index.stageLeaseHeld(live)).toBe(true);

    const sentBefore = h.bus.sent.length;
    const resent = await offerAgain(message, 1);
    expect(resent).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(sentFor('unpack', message.fileId)).toHaveLength(1);
    // Nothing else was sent for it either (no analyse, no hash continuation): the live unpack sends the archive on.
    expect(h.bus.sent.slice(sentBefore).filter((s) => (s.message.body as { fileId?: string }).fileId === message.fileId)).toEqual([]);
    expect((await h.index.getUpload(message.blobName))?.integrity).toBe('pending');
  });

  it('with no live unpack lease (none, or a dead holder\'s expired one) the unpack\'s message is sent again as before', async () => {
    const message = await arrive('idle.zip');
    await runMessage(h.deps, 'hash', { body: message, messageId: `hash:${message.fileId}`, deliveryCount: 1 }, inv());
    expect(sentFor('unpack', message.fileId)).toHaveLength(1);

    expect(await offerAgain(message, 1)).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack' } });
    expect(sentFor('unpack', message.fileId)).toHaveLength(2);

    // A holder that died: its lease expired (taken for 0 ms: expired as soon as written, on the index's clock).
    const dead = { queue: 'unpack', subjectId: message.fileId, holder: 'dead-unpack' };
    expect(await h.index.acquireStageLease({ ...dead, messageId: `unpack:${message.fileId}` }, 0)).toMatchObject({ acquired: true });
    expect(await h.index.stageLeaseHeld(dead)).toBe(false);
    expect(await offerAgain(message, 2)).toMatchObject({ status: 'done', summary: { hashedBy: 'unpack' } });
    expect(sentFor('unpack', message.fileId)).toHaveLength(3);

    // Another queue's live lease on the item is not the unpack's.
    const hashLease = { queue: 'hash', subjectId: message.fileId, holder: 'other-hash' };
    await h.index.acquireStageLease({ ...hashLease, messageId: `hash:${message.fileId}` }, 10 * 60_000);
    expect(await h.index.stageLeaseHeld({ queue: 'unpack', subjectId: message.fileId })).toBe(false);
    await h.index.releaseStageLease(hashLease);
  });
});
