import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { zipOf } from './fixtures/archives/archive-fixtures.js';
import { addArchive, createHarness, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The archive parser threads' deadline through the unpack stage (Azurite +
 * PGlite): surveying a central directory of 60,000 records is real work for
 * yauzl in one step. With the open budget shrunk to 1 ms it runs out there,
 * every run: the thread is stopped, the archive fails with 'parse-timeout'
 * (status shows the same detail every run), another archive unpacked right
 * after is unaffected, and the event loop kept turning all along.
 */

const ENTRIES = 60_000;

describe('unpack stage: archive parser deadline', () => {
  let h: Harness;
  let crowded: Buffer;

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    crowded = await zipOf(Array.from({ length: ENTRIES }, (_, i) => ({ name: `d${i}`, directory: true })));
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  async function unpack(fileName: string, data: Buffer, limits: Partial<Record<keyof Harness['deps']['limits'], number>> = {}) {
    const archive = await addArchive(h, fileName, data);
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 1);
    try {
      const outcome = await unpackStage({ ...h.deps, limits: { ...h.deps.limits, ...limits } as Harness['deps']['limits'] }, archive, h.ctx);
      const members = await h.index.listChildren(archive.fileId);
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      const stop = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
      return { outcome, members, stop, ticks };
    } finally {
      clearInterval(ticker);
    }
  }

  it('regression: zip-60000-entry-central-directory-over-a-1-ms-budget — the archive fails with parse-timeout, the same reason every run; the next archive unpacks; the event loop kept turning', async () => {
    const first = await unpack('crowded-1.zip', crowded, { archiveOpenTimeoutMs: 1 });
    expect(first.outcome).toMatchObject({ status: 'failed', code: 'parse-timeout' });
    expect(first.stop?.detail).toMatch(/^zip reader \(end record and central directory\) did not finish within its 1 ms budget and was stopped \(0 members recorded before the stop/);
    expect(first.members).toHaveLength(0);
    // The parser held its own thread, never this one: timers fired while it worked.
    expect(first.ticks).toBeGreaterThan(0);

    const second = await unpack('crowded-2.zip', crowded, { archiveOpenTimeoutMs: 1 });
    expect(second.outcome).toEqual(first.outcome);
    expect(second.stop?.detail).toBe(first.stop?.detail);

    // One bad file fails only itself.
    const fine = await unpack('fine.zip', await zipOf([{ name: 'a.txt', data: Buffer.from('alpha') }, { name: 'b.txt', data: Buffer.from('beta') }]));
    expect(fine.outcome).toMatchObject({ status: 'done' });
    expect(fine.members.map((m) => m.name).sort()).toEqual(['a.txt', 'b.txt']);
  }, 180_000);
});
