import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntryText, segmentName, verifyCustody } from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

const CASE = 'R1';
let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});

const entryOf = (line: string) => {
  const p = parseEntryText(line);
  if (!p.ok) throw new Error(p.detail);
  return p.entry;
};

async function seed(evidenceId: string, log = fx.newLog()): Promise<{ name: string; lines: string[] }> {
  for (let n = 1; n <= 8; n++) await log.record(stageEvent(CASE, evidenceId, n));
  const name = segmentName(CASE, evidenceId, 0);
  return { name, lines: await fx.readLog(name) };
}

async function verifyOne(evidenceId: string) {
  return (await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, evidenceId, containers: fx.containers })).items[0]!;
}

/**
 * Storage that loses its newest writes in a crash (Azurite killed hard) can drop the last
 * entries of a custody log while their index rows stay. The next write appends the same
 * signed lines again from the index and records that it did.
 */
describe('custody log whose newest entries storage lost', () => {
  it('a new writer appends the lost lines again byte for byte, records the restoration, and the log verifies', async () => {
    const { name, lines } = await seed('cold');
    await fx.rewriteLog(name, lines.slice(0, 7));
    expect((await verifyOne('cold')).firstBreak).toMatchObject({ reason: 'truncated' });

    await fx.newLog().record(stageEvent(CASE, 'cold', 9));
    const after = await fx.readLog(name);
    expect(after.slice(0, lines.length)).toEqual(lines);
    const restoration = entryOf(after[lines.length]!);
    expect(restoration).toMatchObject({ action: 'log-restored', details: { segment: 0, fromSeq: 7, entries: lines.length - 7 } });
    expect(entryOf(after[lines.length + 1]!).action).toBe('stage-completed');
    expect(after).toHaveLength(lines.length + 2);
    expect((await verifyOne('cold')).ok).toBe(true);
  });

  it('the writer that wrote them notices on its next append and restores them the same way', async () => {
    const log = fx.newLog();
    const { name, lines } = await seed('warm', log);
    await fx.rewriteLog(name, lines.slice(0, 5));
    await log.record(stageEvent(CASE, 'warm', 9));
    const after = await fx.readLog(name);
    expect(after.slice(0, lines.length)).toEqual(lines);
    // Found while appending the new entry, so the restoration is recorded just after it.
    expect(after.slice(lines.length).map((l) => entryOf(l).action).sort()).toEqual(['log-restored', 'stage-completed']);
    expect(after.map(entryOf).find((e) => e.action === 'log-restored')).toMatchObject({ details: { fromSeq: 5, entries: lines.length - 5 } });
    expect((await verifyOne('warm')).ok).toBe(true);
  });

  it('a line the index holds that is not what was signed is not appended: verify still reports the break', async () => {
    const { name, lines } = await seed('doctored');
    await fx.rewriteLog(name, lines.slice(0, 6));
    // Someone with database access edits the kept copy of entry 7.
    await fx.sql.query(`UPDATE custody_lines SET line = replace(line, '"n":7', '"n":70') WHERE case_id = $1 AND evidence_id = 'doctored' AND seq = 7`, [CASE]);
    await fx.newLog().record(stageEvent(CASE, 'doctored', 9));
    const after = await fx.readLog(name);
    // Entry 6 chained and verified, so it is back; entry 7 is not.
    expect(after.slice(0, 7)).toEqual(lines.slice(0, 7));
    expect(after.some((l) => l === lines[7])).toBe(false);
    expect((await verifyOne('doctored')).ok).toBe(false);
  });
});
