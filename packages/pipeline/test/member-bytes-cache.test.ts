import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createRootLogger,
  type FileIdentifier,
  type HashMessage,
  type MetadataExtractor,
  type StageOutcome,
  type Thumbnailer,
} from '@exhibit/core';
import { MemoryMemberBytesCache } from '@exhibit/storage';
import { runMessage } from '../src/stage-runner.js';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { addArchive, countingReads, createHarness, limitsWith, sha256, uploadEvidence, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Issue 12: the members of an unpacked archive are analysed from the bytes the
 * unpack just read (the member-bytes cache), not read from storage again.
 * Through the stage runner against Azurite and PGlite; the media adapters are
 * stand-ins that read the whole file (as sharp and exifr do for an image), so
 * every byte analyse needs goes through the source it is given.
 */
let h: Harness;
/** Body bytes of every blob read (ranged reads open a stream too). */
const reads = { bytes: 0 };

const identifier: FileIdentifier = {
  tools: async () => [{ name: 'stand-in-identifier', version: '1' }],
  identify: async (source) => {
    const head = (await source.read(0, 4)).toString('latin1');
    if (head === 'JPEG') return { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', findings: [] };
    if (head.startsWith('PK')) return { mime: 'application/zip', detectedExt: 'zip', kind: 'archive', findings: [] };
    return { mime: null, detectedExt: null, kind: 'other', findings: [] };
  },
  extensionMismatch: () => false,
};
const readAll = (source: { size: number; read(offset: number, length: number): Promise<Buffer> }) => source.read(0, source.size);
const metadata: MetadataExtractor = {
  tools: async () => [{ name: 'stand-in-metadata', version: '1' }],
  image: async (source) => {
    const bytes = await readAll(source);
    return { make: `bytes ${sha256(bytes).slice(0, 16)}`, raw: {} };
  },
  video: async () => ({ raw: {} }),
  audio: async () => ({ raw: {} }),
};
const thumbnailer: Thumbnailer = {
  tools: async () => [{ name: 'stand-in-thumbnailer', version: '1' }],
  recipe: 'test',
  image: async (source) => {
    await readAll(source);
    return { jpeg: Buffer.from('thumb'), width: 4, height: 3, from: 'image', findings: [] };
  },
  video: async () => ({ jpeg: Buffer.from('thumb'), width: 4, height: 3, from: 'image', findings: [] }),
};

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
  h.deps.blobs = countingReads(h.deps.blobs, reads);
  h.deps.identifier = identifier;
  h.deps.metadata = metadata;
  h.deps.thumbnailer = thumbnailer;
});

afterAll(async () => {
  await h?.close();
});

const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger: createRootLogger({ level: 'silent' }) });

const upload = (fileName: string, data: Buffer): Promise<HashMessage> => uploadEvidence(h, fileName, data);

const deliver = (queue: 'hash' | 'unpack' | 'analyse', body: object, id: string): Promise<StageOutcome> =>
  runMessage(h.deps, queue, { body, messageId: `${queue}:${id}`, deliveryCount: 1 }, inv());

/** Hashes and unpacks the upload, then runs every analyse message unpack's members were sent in; the bytes analyse read. */
async function unpackThenAnalyse(message: HashMessage): Promise<number> {
  await deliver('hash', message, message.fileId);
  const sentBefore = h.bus.sent.length;
  expect(await deliver('unpack', message, message.fileId)).toMatchObject({ status: 'done' });
  const batches = h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'analyse' && (s.message.body as { fileIds?: string[] }).fileIds);
  expect(batches.length).toBeGreaterThan(0);
  const before = reads.bytes;
  for (const batch of batches) expect(await deliver('analyse', batch.message.body as object, batch.message.messageId)).toMatchObject({ status: 'done' });
  return reads.bytes - before;
}

const members = () => [
  // Stored: read in place from the evidence blob.
  ...Array.from({ length: 6 }, (_, i) => ({ name: `DCIM/IMG_${i}.jpg`, data: Buffer.concat([Buffer.from('JPEG'), randomBytes(150_000 + i)]), compress: false })),
  // Deflated: stored in derived/ by unpack.
  ...Array.from({ length: 3 }, (_, i) => ({ name: `docs/note-${i}.txt`, data: Buffer.from(`note ${i} `.repeat(20_000)), compress: true })),
  { name: 'DCIM/IMG_D.jpg', data: Buffer.concat([Buffer.from('JPEG'), Buffer.alloc(300_000, 7)]), compress: true },
];

describe('members analysed from the unpack\'s read (member-bytes cache)', () => {
  it('a ZIP\'s members, stored and deflated, are analysed with no read of storage when the cache holds them', async () => {
    const cache = new MemoryMemberBytesCache({ maxMemberBytes: 1024 * 1024, budgetBytes: 64 * 1024 * 1024, maxAgeMs: 600_000, takerIdleMs: 60_000 });
    h.deps.memberBytes = cache;
    const entries = members();
    // A duplicate, stored: its content names the first copy's span, its own entry is taken all the same.
    entries.push({ name: 'DCIM/copy/IMG_0.jpg', data: entries[0]!.data, compress: false });
    const message = await upload('phone.zip', await zipOf(entries));

    expect(await unpackThenAnalyse(message)).toBe(0);
    expect(cache.stats()).toMatchObject({ hits: entries.length, misses: 0, offered: entries.length, refused: 0, heldBytes: 0, heldEntries: 0 });
    // Analysed from the right bytes: the stand-in metadata names the digest of what it read.
    for (const child of await h.index.listChildren(message.fileId)) {
      const entry = entries.find((e) => child.path.endsWith(e.name))!;
      const content = (await h.index.getContent(child.sha256!))!;
      expect(content.sha256).toBe(sha256(entry.data));
      if (entry.name.endsWith('.jpg')) expect(content.metadata).toMatchObject({ make: `bytes ${sha256(entry.data).slice(0, 16)}` });
      expect(child.stage).not.toBe('failed');
    }
  });

  it('without room in the cache, members are read from storage, with the same results', async () => {
    // A budget smaller than any member: every offer is refused.
    const cache = new MemoryMemberBytesCache({ maxMemberBytes: 1024 * 1024, budgetBytes: 1000, maxAgeMs: 600_000, takerIdleMs: 60_000 });
    h.deps.memberBytes = cache;
    const entries = members().map((e) => ({ ...e, data: Buffer.concat([e.data, Buffer.from('2')]) }));
    const message = await upload('card.zip', await zipOf(entries));

    const read = await unpackThenAnalyse(message);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: entries.length, refused: entries.length });
    // The images were read whole, the others' heads at least.
    expect(read).toBeGreaterThan(entries.filter((e) => e.name.endsWith('.jpg')).reduce((n, e) => n + e.data.length, 0));
    for (const child of await h.index.listChildren(message.fileId)) {
      const entry = entries.find((e) => child.path.endsWith(e.name))!;
      const content = (await h.index.getContent(child.sha256!))!;
      if (entry.name.endsWith('.jpg')) expect(content.metadata).toMatchObject({ make: `bytes ${sha256(entry.data).slice(0, 16)}` });
    }
  });

  /**
   * The analyse messages for members sent since `from` (index in h.bus.sent): batches, and a
   * single member's message when a flush handed off one alone (not the archive's own).
   */
  const analyseBatches = (from: number, archive: HashMessage) =>
    h.bus.sent.slice(from).filter((s) => {
      const body = s.message.body as { fileIds?: string[]; fileId?: string };
      return s.queue === 'analyse' && (body.fileIds !== undefined || (body.fileId !== undefined && body.fileId !== archive.fileId));
    });

  /** Every member recorded once, each analysed from its own bytes. */
  async function expectEveryMemberAnalysed(message: HashMessage, entries: Array<{ name: string; data: Buffer }>): Promise<void> {
    const children = await h.index.listChildren(message.fileId);
    expect(children.filter((c) => c.entryKind === 'file').map((c) => c.path.split('!/')[1]).sort()).toEqual(entries.map((e) => e.name).sort());
    for (const child of children) {
      const entry = entries.find((e) => child.path.endsWith(e.name))!;
      const content = (await h.index.getContent(child.sha256!))!;
      expect(content.sha256).toBe(sha256(entry.data));
      expect(content.metadata).toMatchObject({ make: `bytes ${sha256(entry.data).slice(0, 16)}` });
      expect(child.stage).not.toBe('failed');
    }
  }

  /**
   * Twelve photos of ~100 kB (a third deflated) uploaded and hashed, with a
   * cache that has room for about three of them.
   */
  async function pacedUpload(fileName: string, takerIdleMs: number) {
    const cache = new MemoryMemberBytesCache({ maxMemberBytes: 1024 * 1024, budgetBytes: 320_000, maxAgeMs: 600_000, takerIdleMs });
    h.deps.memberBytes = cache;
    const entries = Array.from({ length: 12 }, (_, i) => ({
      name: `DCIM/${fileName}_${i}.jpg`,
      data: Buffer.concat([Buffer.from('JPEG'), randomBytes(100_000 + i)]),
      compress: i % 3 === 2,
    }));
    const message = await upload(fileName, await zipOf(entries));
    await deliver('hash', message, message.fileId);
    return { cache, entries, message, sentBefore: h.bus.sent.length };
  }

  it('back-pressure: with a cache of a few members, unpack waits while analyse takes them, and every member hits', async () => {
    // Room for about three of twelve members: without waiting, nine would be refused and read again.
    const { cache, entries, message, sentBefore } = await pacedUpload('paced.zip', 60_000);
    let unpackEnded = false;
    const unpacking = deliver('unpack', message, message.fileId).finally(() => (unpackEnded = true));
    // This process's analyse, running beside the unpack: it takes each batch as the unpack hands it on.
    let delivered = 0;
    let analysedDuringUnpack = 0;
    while (!unpackEnded || delivered < analyseBatches(sentBefore, message).length) {
      const batch = analyseBatches(sentBefore, message)[delivered];
      if (!batch) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      delivered += 1;
      if (!unpackEnded) analysedDuringUnpack += 1;
      expect(await deliver('analyse', batch.message.body as object, batch.message.messageId)).toMatchObject({ status: 'done' });
    }
    expect(await unpacking).toMatchObject({ status: 'done' });

    // The unpack waited (several times) and handed its members on in more than one batch, before it ended.
    expect(cache.stats()).toMatchObject({ hits: entries.length, misses: 0, refused: 0, waitsGivenUp: 0, heldEntries: 0 });
    expect(cache.stats().waits).toBeGreaterThan(0);
    expect(analysedDuringUnpack).toBeGreaterThan(1);
    await expectEveryMemberAnalysed(message, entries);
  });

  /**
   * This process's analyse beside the unpack: delivers each analyse batch as it is handed on, `pauseMs`
   * before each (a slow analyse), until `done()` and every batch is delivered; how many ran while not done.
   */
  async function analyseBeside(sentBefore: number, message: HashMessage, done: () => boolean, pauseMs: number): Promise<number> {
    let delivered = 0;
    let duringUnpack = 0;
    while (!done() || delivered < analyseBatches(sentBefore, message).length) {
      const batch = analyseBatches(sentBefore, message)[delivered];
      if (!batch) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      await new Promise((r) => setTimeout(r, pauseMs));
      delivered += 1;
      if (!done()) duringUnpack += 1;
      expect(await deliver('analyse', batch.message.body as object, batch.message.messageId)).toMatchObject({ status: 'done' });
    }
    return duringUnpack;
  }

  it('regression: unpack-cache-wait-capped-while-analyse-takes — while analyse keeps taking, the unpack waits past memberCacheMaxWaitPerUnpackMs (its continue point bounds it), and every member hits', async () => {
    // The old per-attempt allowance made tiny (300 ms): a slow analyse (250 ms before each batch) makes the waits add up
    // past it. Before, the waits past it ended at once and the rest of the members were refused and read again.
    const saved = h.deps.limits;
    h.deps.limits = limitsWith({ memberCacheMaxWaitPerUnpackMs: 300 });
    try {
      const { cache, entries, message, sentBefore } = await pacedUpload('slow-analyse.zip', 60_000);
      let unpackEnded = false;
      const unpacking = deliver('unpack', message, message.fileId).finally(() => (unpackEnded = true));
      await analyseBeside(sentBefore, message, () => unpackEnded, 250);
      expect(await unpacking).toMatchObject({ status: 'done' });

      const stats = cache.stats();
      expect(stats).toMatchObject({ hits: entries.length, misses: 0, refused: 0, waitsGivenUp: 0, waitsCut: 0, heldEntries: 0 });
      expect(stats.waitedMs).toBeGreaterThan(300);
      await expectEveryMemberAnalysed(message, entries);
    } finally {
      h.deps.limits = saved;
    }
  });

  it('the continue point comes during a wait: the attempt continues in a new message, which waits on while analyse takes; every member recorded once, all but the cut ones hit', async () => {
    // The continue point 3 s into each attempt (deadline 8 s, margin 5 s); the idle bound (60 s) is far, so with nobody
    // taking, only the continue point ends a wait. An archive already hashed (not an upload hashed in the unpack's read,
    // whose waits stop short of a continuation, which would read the upload again): it loses nothing by continuing.
    const saved = h.deps.limits;
    h.deps.limits = limitsWith({ stageDeadlineMs: 8_000, stageDeadlineGraceMs: 2_000, unpackContinueMarginMs: 5_000 });
    try {
      const cache = new MemoryMemberBytesCache({ maxMemberBytes: 1024 * 1024, budgetBytes: 320_000, maxAgeMs: 600_000, takerIdleMs: 60_000 });
      h.deps.memberBytes = cache;
      const entries = Array.from({ length: 12 }, (_, i) => ({ name: `DCIM/cut_${i}.jpg`, data: Buffer.concat([Buffer.from('JPEG'), randomBytes(100_000 + i)]), compress: i % 3 === 2 }));
      const archive = await addArchive(h, 'cut.zip', await zipOf(entries));
      const message = { ...archive, blobName: '' };
      const sentBefore = h.bus.sent.length;
      const continuations = () => h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'unpack' && /:unpack-continue:\d+$/.test(s.message.messageId));
      const delivered = new Set<string>();
      /** Delivers the unpack message, then its continuations in turn, until one is not a continuation or `until()`. */
      const unpackUntil = async (until: () => boolean): Promise<StageOutcome> => {
        for (;;) {
          const next = delivered.size === 0 ? { message: { body: archive, messageId: `unpack:${archive.fileId}` } } : continuations().find((s) => !delivered.has(s.message.messageId));
          if (!next) throw new Error('the unpack neither ended nor continued');
          delivered.add(next.message.messageId);
          const outcome = await runMessage(h.deps, 'unpack', { body: next.message.body, messageId: next.message.messageId, deliveryCount: 1 }, inv());
          if (outcome.status !== 'skipped' || until()) return outcome;
          if (delivered.size > 30) throw new Error('continuations do not end');
        }
      };

      // Nobody takes: the attempt that fills the cache waits until its continue point ends the wait, then continues.
      // (On a loaded machine an attempt may reach its continue point before the cache is full: it continues without a wait.)
      const first = await unpackUntil(() => cache.stats().waitsCut > 0);
      expect(first).toEqual({ status: 'skipped', reason: 'waiting' });
      const cut = cache.stats();
      expect(cut).toMatchObject({ waits: 1, waitsGivenUp: 1, waitsCut: 1, waitsWithRoom: 0 });
      expect(cut.waitedMs).toBeGreaterThan(0);
      expect(continuations()).toHaveLength(delivered.size);
      // The continuation records the unpack's waits so far, for the next attempts' bound (memberCacheMaxWaitPerItemMs).
      const record = (await h.deps.blobs.readRange({ container: h.deps.containers.derived, name: `staging/${archive.fileId}/unpack-continue` }, 0, 60)).toString('utf8');
      expect(Number(/ w(\d+)$/.exec(record)?.[1])).toBeGreaterThan(0);

      // The continuations, with analyse beside them now: they wait while it takes.
      let ended = false;
      const unpacking = unpackUntil(() => false).finally(() => (ended = true));
      await analyseBeside(sentBefore, message, () => ended, 0);
      const final = await unpacking;
      expect(final).toMatchObject({ status: 'done', summary: { memberCount: entries.length, failedMembers: 0 } });

      const stats = cache.stats();
      // The member at which an attempt stopped to continue (its wait cut, or, when the point had come already, not made)
      // is recorded uncached if the cache was still full: read again by analyse. At most one per continuation; no other.
      expect(stats.refused).toBeLessThanOrEqual(continuations().length);
      expect(stats).toMatchObject({ misses: stats.refused, hits: entries.length - stats.refused, heldEntries: 0 });
      expect(stats.waitsGivenUp).toBe(stats.waitsCut);
      await expectEveryMemberAnalysed(message, entries);
    } finally {
      h.deps.limits = saved;
    }
  });

  it('back-pressure gives up when nobody takes (analyse elsewhere): the members are not cached, none is lost, analyse reads them', async () => {
    const { cache, entries, message, sentBefore } = await pacedUpload('elsewhere.zip', 50);

    // No analyse runs while the unpack does: its one wait gives up, and it does not wait again.
    expect(await deliver('unpack', message, message.fileId)).toMatchObject({ status: 'done' });
    const afterUnpack = cache.stats();
    expect(afterUnpack).toMatchObject({ waits: 1, waitsGivenUp: 1, waitsWithRoom: 0 });
    expect(afterUnpack.refused).toBeGreaterThan(0);
    expect(afterUnpack.heldEntries + afterUnpack.refused).toBe(entries.length);

    // Analysed later (as by another instance, or after a stall): the cached ones hit, the others are read from storage.
    for (const batch of analyseBatches(sentBefore, message)) expect(await deliver('analyse', batch.message.body as object, batch.message.messageId)).toMatchObject({ status: 'done' });
    expect(cache.stats()).toMatchObject({ hits: afterUnpack.heldEntries, misses: afterUnpack.refused, heldEntries: 0 });
    await expectEveryMemberAnalysed(message, entries);
  });
});
