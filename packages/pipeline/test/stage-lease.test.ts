import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, type BlobStore, type IndexStore, type OutgoingMessage } from '@exhibit/core';
import { runDeadLetter, runMessage, sendWork } from '../src/stage-runner.js';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { addArchive, createHarness, limitsWith, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The stage lease, through the stage runner with Azurite and PGlite. On the
 * 4 GiB image bench unpack continuations were sent again (the reconcile
 * timer's resend of an upload hashed in the unpack's read) while their first
 * delivery still ran: each twin read the image again from its saved offset
 * (1.57 times the image's bytes in all) and charged its time to the item's
 * budget. A redelivery after a lost lock makes the same twin.
 */
let h: Harness;
const inv = (invocationId = randomBytes(4).toString('hex')) => ({ invocationId, logger: createRootLogger({ level: 'silent' }) });
const unpackSentFor = (fileId: string) => h.bus.sent.filter((s) => s.queue === 'unpack' && (s.message.body as { fileId?: string }).fileId === fileId).map((s) => s.message);

/** `store` whose reads of evidence blobs are counted, and wait for `gate` when one is given. */
function evidenceReads(store: BlobStore, evidence: string, gate?: { reached: () => void; open: Promise<void> }): { blobs: BlobStore; reads: { count: number } } {
  const reads = { count: 0 };
  const wrap = <K extends 'openRead' | 'readRange' | 'getProperties'>(k: K) => ({
    value: async (...a: unknown[]) => {
      if ((a[0] as { container: string }).container === evidence) {
        reads.count += 1;
        if (gate) {
          gate.reached();
          await gate.open;
        }
      }
      return (store[k] as (...x: unknown[]) => unknown).apply(store, a);
    },
  });
  return { blobs: Object.create(store, { openRead: wrap('openRead'), readRange: wrap('readRange'), getProperties: wrap('getProperties') }) as BlobStore, reads };
}

async function archiveWithMessage(name: string): Promise<{ archive: { caseId: string; evidenceId: string; fileId: string }; first: OutgoingMessage }> {
  const zip = await zipOf([
    { name: 'a.txt', data: Buffer.from(`alpha ${name}`) },
    { name: 'b.txt', data: Buffer.from(`beta ${name}`) },
  ]);
  const archive = await addArchive(h, name, zip);
  await sendWork(h.deps, 'unpack', [archive]);
  return { archive, first: unpackSentFor(archive.fileId)[0]! };
}

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
});

afterAll(async () => {
  await h?.close();
});

describe('stage lease (runner, Azurite + PGlite)', () => {
  it('twin-delivery-runs-unpack-twice-while-first-holds-it', async () => {
    const { archive, first } = await archiveWithMessage('twin.zip');
    const evidence = h.deps.containers.evidence;
    let reached!: () => void;
    const holderReading = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const holder = evidenceReads(h.deps.blobs, evidence, { reached, open: opened });
    const twin = evidenceReads(h.deps.blobs, evidence);
    const input = { body: first.body, messageId: first.messageId, deliveryCount: 1 };

    // The first delivery is reading the archive when its message, its lock lost, is delivered again.
    const holderRun = runMessage({ ...h.deps, blobs: holder.blobs }, 'unpack', input, inv('holder-invocation'));
    await holderReading;
    const twinOutcome = await runMessage({ ...h.deps, blobs: twin.blobs }, 'unpack', { ...input, deliveryCount: 2 }, inv());
    // Before: the twin unpacked the archive beside the first delivery, reading it again.
    expect(twinOutcome).toEqual({ status: 'skipped', reason: 'held-by-another-delivery' });
    expect(twin.reads.count).toBe(0);
    // It did not lose the message: a copy, for when the holder's lease expires, under an id of its own.
    const copies = unpackSentFor(archive.fileId).filter((m) => m.messageId !== first.messageId);
    expect(copies).toHaveLength(1);
    const copy = copies[0]!;
    expect(copy.messageId).toMatch(new RegExp(`^${first.messageId}:held-[0-9a-f]{32}$`));
    // The same work, marked as a copy: the original id (the stage's), its generation, the deliveries before it.
    expect(copy.body).toEqual({ ...(first.body as object), held: { of: first.messageId, generation: 1, priorDeliveries: 1 } });
    expect(copy.scheduledAt!.getTime()).toBeGreaterThan(Date.now());
    // A third delivery finding the same holder sends the same copy: on Service Bus duplicate detection drops the
    // repeat; the local storage queue has none, so there both copies are delivered and defer to each other (harmless).
    await runMessage({ ...h.deps, blobs: twin.blobs }, 'unpack', { ...input, deliveryCount: 3 }, inv());
    expect(unpackSentFor(archive.fileId).filter((m) => m.messageId !== first.messageId).map((m) => m.messageId)).toEqual([copy.messageId, copy.messageId]);
    // A copy that finds the same holder still running sends the next generation, under another id.
    await runMessage({ ...h.deps, blobs: twin.blobs }, 'unpack', { body: copy.body, messageId: copy.messageId, deliveryCount: 1 }, inv());
    const deeper = unpackSentFor(archive.fileId).at(-1)!;
    expect(deeper.messageId).not.toBe(copy.messageId);
    expect(deeper.body).toEqual({ ...(first.body as object), held: { of: first.messageId, generation: 2, priorDeliveries: 1 } });

    open();
    expect(await holderRun).toMatchObject({ status: 'done', summary: { memberCount: 2 } });
    // The copy, delivered later, goes through the stage as any redelivery: the work is over, nothing is read or done again.
    const late = evidenceReads(h.deps.blobs, evidence);
    expect(await runMessage({ ...h.deps, blobs: late.blobs }, 'unpack', { body: copy.body, messageId: copy.messageId, deliveryCount: 1 }, inv())).toEqual({
      status: 'skipped',
      reason: 'already-done',
    });
    expect(late.reads.count).toBe(0);
    expect(await h.index.listChildren(archive.fileId)).toHaveLength(2);
    expect(h.custody.events.filter((e) => e.eventKey === `unpacked:${archive.fileId}`)).toHaveLength(1);
    // The twin is no failure: no custody entry of one, nothing on the file.
    expect(h.custody.events.filter((e) => e.action === 'stage-failed' && (e.subject as { fileId?: string }).fileId === archive.fileId)).toEqual([]);
    expect((await h.index.getFile(archive.fileId))?.failure).toBeNull();
    // Released at the end of the attempt: the item is free.
    expect(await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'next', messageId: 'x' }, 60_000)).toMatchObject({ acquired: true });
  });

  // A continuation re-driven deep into an image's check has an id near Service Bus's 128 characters: its copy's id,
  // the original's with a suffix, passed the limit, and the copy was not sent (logged only).
  it('held-copy-of-a-long-id-not-sent', async () => {
    const { archive, first } = await archiveWithMessage('long-id.zip');
    const longId = `${first.messageId}:${'k'.repeat(128 - first.messageId.length - 1)}`;
    expect(longId).toHaveLength(128);
    await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'live-holder', messageId: first.messageId }, 60_000);
    const before = unpackSentFor(archive.fileId).length;
    expect(await runMessage(h.deps, 'unpack', { body: first.body, messageId: longId, deliveryCount: 1 }, inv())).toEqual({
      status: 'skipped',
      reason: 'held-by-another-delivery',
    });
    const copies = unpackSentFor(archive.fileId).slice(before);
    expect(copies).toHaveLength(1);
    expect(copies[0]!.messageId.length).toBeLessThanOrEqual(128);
    expect((copies[0]!.body as { held?: { of: string } }).held?.of).toBe(longId);
    await h.index.releaseStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'live-holder' });
  });

  // The local storage-queue bus carries a message id of any length; the mark capped its `of` at Service Bus's 128, so
  // the copy of a longer id was sent and then failed its own mark on delivery (invalid-message): the work dropped.
  it('held-copy-of-an-id-over-128-characters-fails-its-own-mark', async () => {
    const { archive, first } = await archiveWithMessage('over-128.zip');
    const longId = `${first.messageId}:${'k'.repeat(140 - first.messageId.length - 1)}`;
    expect(longId).toHaveLength(140);
    await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'live-holder', messageId: first.messageId }, 60_000);
    const before = unpackSentFor(archive.fileId).length;
    expect(await runMessage(h.deps, 'unpack', { body: first.body, messageId: longId, deliveryCount: 1 }, inv())).toEqual({
      status: 'skipped',
      reason: 'held-by-another-delivery',
    });
    const copy = unpackSentFor(archive.fileId).slice(before)[0]!;
    // The holder died: its lease gone, the copy does the work.
    await h.index.releaseStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'live-holder' });
    expect(await runMessage(h.deps, 'unpack', { body: copy.body, messageId: copy.messageId, deliveryCount: 1 }, inv())).toMatchObject({
      status: 'done',
      summary: { memberCount: 2 },
    });
    expect((await h.index.getFile(archive.fileId))?.unpack).toBe('done');
  });

  // A stage that hangs on every run (it ignores its abort): each run ends in a throw and a redelivery, which meets the
  // hung run's lease (kept renewed while it runs), completes as a skip and sends a copy; each copy started again at
  // delivery 1, so the bus's limit was never reached and only the watchdog's `stuck` (hours) ended it.
  it('stage-hanging-on-every-run-never-dead-lettered', async () => {
    const { archive, first } = await archiveWithMessage('hangs.zip');
    // Every read of the evidence hangs for good.
    const { blobs } = evidenceReads(h.deps.blobs, h.deps.containers.evidence, { reached: () => {}, open: new Promise<void>(() => {}) });
    const deps = { ...h.deps, blobs, limits: limitsWith({ stageDeadlineMs: 200, stageDeadlineGraceMs: 50, stageLeaseMs: 150 }) };
    const max = deps.limits.maxDeliveryCount;
    // The bus's part: deliver when due, complete on return, redeliver on a throw, dead-letter after `max` deliveries.
    type Delivery = { body: unknown; messageId: string; deliveryCount: number; dueAt: number };
    const queue: Delivery[] = [{ body: first.body, messageId: first.messageId, deliveryCount: 1, dueAt: 0 }];
    let deadLetteredBy: 'bus' | 'runner' | null = null;
    for (let delivery = 0; delivery < 8 * max && queue.length > 0 && !deadLetteredBy; delivery++) {
      const next = queue.shift()!;
      await sleep(Math.max(0, next.dueAt - Date.now()));
      const sentBefore = h.bus.sent.length;
      try {
        const outcome = await runMessage(deps, 'unpack', next, inv());
        if (outcome.status === 'failed' && outcome.code === 'dead-lettered') deadLetteredBy = 'runner';
        for (const s of h.bus.sent.slice(sentBefore)) {
          if (s.queue === 'unpack') queue.push({ body: s.message.body, messageId: s.message.messageId, deliveryCount: 1, dueAt: s.message.scheduledAt?.getTime() ?? 0 });
        }
      } catch (err) {
        if (next.deliveryCount < max) queue.push({ ...next, deliveryCount: next.deliveryCount + 1, dueAt: 0 });
        else {
          await runDeadLetter(deps, 'unpack', { body: next.body, messageId: next.messageId, reason: 'MaxDeliveryCountExceeded', description: String(err) }, inv());
          deadLetteredBy = 'bus';
        }
      }
    }
    // The runner itself gave the chain up (the bus never does: each copy starts at delivery 1 and completes as a skip).
    expect(deadLetteredBy).toBe('runner');
    // Given up on with a reason status, API and CLI show: the archive's unpack failed, dead-lettered.
    const file = await h.index.getFile(archive.fileId);
    expect(file?.unpack).toBe('failed');
    expect(h.custody.events.filter((e) => e.eventKey === `dead-letter:unpack:${archive.fileId}`)).toHaveLength(1);
  });

  it('lease-of-crashed-holder-blocks-item-forever', async () => {
    const { archive, first } = await archiveWithMessage('crashed.zip');
    // A delivery took the lease and its process died: nothing renews or releases it.
    await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'crashed-invocation', messageId: first.messageId }, 1);
    await sleep(50);
    // Its message, delivered again once its lock expired, takes the expired lease over and does the work.
    const outcome = await runMessage(h.deps, 'unpack', { body: first.body, messageId: first.messageId, deliveryCount: 2 }, inv());
    expect(outcome).toMatchObject({ status: 'done', summary: { memberCount: 2 } });
    expect(await h.index.listChildren(archive.fileId)).toHaveLength(2);
  });
  // A lease renewal that never answers (a half-open connection to the index): release waited for it, outside the
  // stage's deadline, so the invocation never ended and its message was never let go.
  it('release-waits-forever-for-a-hung-renewal-past-the-stage-deadline', async () => {
    const { first } = await archiveWithMessage('hung-renewal.zip');
    let renewals = 0;
    const index = Object.create(h.index, {
      renewStageLease: {
        value: () => {
          renewals += 1;
          return new Promise<boolean>(() => {});
        },
      },
    }) as IndexStore;
    // The stage's reads are slowed so that a renewal beat (a third of the lease) comes while it runs.
    const store = h.deps.blobs;
    const blobs = Object.create(store, {
      openRead: {
        value: async (...a: unknown[]) => {
          await sleep(300);
          return (store.openRead as (...x: unknown[]) => unknown).apply(store, a);
        },
      },
    }) as BlobStore;
    const deps = { ...h.deps, index, blobs, limits: limitsWith({ stageLeaseMs: 150, stageDeadlineMs: 2_000, stageDeadlineGraceMs: 500 }) };
    const run = runMessage(deps, 'unpack', { body: first.body, messageId: first.messageId, deliveryCount: 1 }, inv('hung-renewal-holder'));
    // Deadline and grace are 2.5 s: an invocation still running at 10 s is one that does not end.
    const ended = await Promise.race([run.then(() => 'ended', () => 'ended'), sleep(10_000).then(() => 'still running')]);
    expect(renewals).toBeGreaterThan(0);
    expect(ended).toBe('ended');
  });

  // The stage ignores its abort and the runner stops waiting for it at deadline + grace; the stage still runs. Its
  // lease must stay: a redelivery of its message would otherwise take the item and run beside it.
  it('lease-released-while-stage-still-runs-after-grace', async () => {
    const { archive, first } = await archiveWithMessage('zombie.zip');
    let reached!: () => void;
    const stuck = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const { blobs } = evidenceReads(h.deps.blobs, h.deps.containers.evidence, { reached, open: opened });
    const deps = { ...h.deps, blobs, limits: limitsWith({ stageDeadlineMs: 300, stageDeadlineGraceMs: 100 }) };
    const holder = runMessage(deps, 'unpack', { body: first.body, messageId: first.messageId, deliveryCount: 1 }, inv('zombie-holder'));
    await expect(holder).rejects.toThrow(/did not stop within/);
    await stuck;
    const twin = await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'redelivery', messageId: first.messageId }, 60_000);
    expect(twin).toMatchObject({ acquired: false, holder: 'zombie-holder' });
    // Once the stage settles, its lease is released (not left to lapse for minutes).
    open();
    let taken = false;
    for (let i = 0; i < 100 && !taken; i++) {
      await sleep(50);
      taken = (await h.index.acquireStageLease({ queue: 'unpack', subjectId: archive.fileId, holder: 'redelivery', messageId: first.messageId }, 60_000)).acquired;
    }
    expect(taken).toBe(true);
  });
});
