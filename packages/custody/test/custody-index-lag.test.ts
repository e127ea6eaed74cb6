import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, type AppendLog } from '@exhibit/core';
import { segmentName, verifyCustody, type CustodySql } from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

/**
 * The index copy (custody_entries) is written after the append blob. An intact
 * log must never verify as tampered because an index row is late (another
 * writer's insert still in flight) or was never written by the writer that
 * appended the line (its answer lost to an abort), while a forged entry still
 * breaks it (custody-tamper.test.ts).
 */
const CASE = 'L1';
let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});


/** A writer of its own (as another API request handler or process would have), over the shared storage and index. */
/** A new writer (nothing cached), as another process would be; parts of it replaced where a test needs. */
const writer: CustodyFixture['newLog'] = (parts) => fx.newLog(parts);

/** SQL whose custody_entries inserts wait until released: an index copy still being written. */
function heldIndex() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = 0;
  const sql: CustodySql = {
    query: (async (text: string, params?: unknown[]) => {
      if (/INSERT INTO custody_entries/.test(text)) {
        held++;
        await gate;
      }
      return fx.sql.query(text, params as never);
    }) as CustodySql['query'],
  };
  return { sql, release, held: () => held };
}

async function verifyOne(evidenceId: string, extra: { indexGraceMs?: number } = {}) {
  return (await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, evidenceId, containers: fx.containers, ...extra })).items[0]!;
}

async function until(test: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(test()).toBe(true);
}

describe('custody verification while the index copy lags the log', () => {
  it('regression: an append whose answer was lost to a client abort left a hole in the index copy, and verify called the intact log "inserted"', async () => {
    let loseNextAnswer = false;
    const real = fx.appendLog;
    const appendLog: AppendLog = {
      container: real.container,
      head: (...a) => real.head(...a),
      create: (...a) => real.create(...a),
      read: (...a) => real.read(...a),
      list: (...a) => real.list(...a),
      getDocument: (...a) => real.getDocument(...a),
      putDocument: (...a) => real.putDocument(...a),
      async append(name, data, options) {
        const head = await fx.appendLog.append(name, data, { ...options, abortSignal: undefined } as typeof options);
        if (loseNextAnswer) {
          loseNextAnswer = false;
          // The block landed, but the caller only sees the request cancelled (the HTTP client went away).
          throw new ExhibitError('aborted', 'custody append aborted');
        }
        return head;
      },
    };
    const log = writer({ appendLog });
    for (let n = 1; n <= 3; n++) await log.record(stageEvent(CASE, 'aborted', n));
    loseNextAnswer = true;
    await expect(log.record(stageEvent(CASE, 'aborted', 4, { eventKey: undefined }))).rejects.toThrow();
    for (let n = 5; n <= 6; n++) await log.record(stageEvent(CASE, 'aborted', n));
    const lines = await fx.readLog(segmentName(CASE, 'aborted', 0));
    expect(lines).toHaveLength(7);
    const item = await verifyOne('aborted');
    expect(item.firstBreak).toBeNull();
    expect(item).toMatchObject({ ok: true, verifiedEntries: 7, lastSeq: 6, indexEntries: 7 });
    // The entry whose writer never heard back is in the index copy too: listings and reports show it.
    const indexed = await writer().entries({ caseId: CASE, evidenceId: 'aborted' });
    expect(indexed.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("regression: another writer's newer index row landed before this writer's, and verify called the entry in between \"inserted\"", async () => {
    const b = writer();
    await b.record(stageEvent(CASE, 'two-writers', 1)); // seq 0-1; b's tail is cached
    const slow = heldIndex();
    const a = writer({ sql: slow.sql });
    const aWrite = a.record(stageEvent(CASE, 'two-writers', 2)); // seq 2 appended, its index row held
    await until(() => slow.held() > 0);
    await b.record(stageEvent(CASE, 'two-writers', 3)); // b loses the race, then appends seq 3
    try {
      const during = await verifyOne('two-writers');
      expect(during.firstBreak).toBeNull();
      expect(during).toMatchObject({ ok: true, verifiedEntries: 4, lastSeq: 3 });
    } finally {
      slow.release();
      await aWrite;
    }
    expect(await verifyOne('two-writers')).toMatchObject({ ok: true, verifiedEntries: 4, indexEntries: 4 });
  });

  it('regression: verify ran between an append and its index row, and called the newest entry "inserted"', async () => {
    await writer().record(stageEvent(CASE, 'pending', 1));
    const slow = heldIndex();
    const a = writer({ sql: slow.sql });
    const aWrite = a.record(stageEvent(CASE, 'pending', 2));
    await until(() => slow.held() > 0);
    // The index row lands while verification is under way.
    setTimeout(() => slow.release(), 200);
    const item = await verifyOne('pending', { indexGraceMs: 10_000 });
    await aWrite;
    expect(item.firstBreak).toBeNull();
    expect(item).toMatchObject({ ok: true, verifiedEntries: 3, lastSeq: 2 });
  });

  it('a hole left in the index copy by an earlier writer is vouched for by the next indexed entry, and reported as such', async () => {
    const log = writer();
    for (let n = 1; n <= 5; n++) await log.record(stageEvent(CASE, 'old-hole', n));
    await fx.sql.query(`DELETE FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 AND seq = 3`, [CASE, 'old-hole']);
    const item = await verifyOne('old-hole');
    expect(item).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 6, indexGaps: [{ fromSeq: 3, toSeq: 3 }] });
  });

  it('an entry appended at the end that the index copy never records is still reported', async () => {
    await writer().record(stageEvent(CASE, 'never-indexed', 1));
    const slow = heldIndex();
    const a = writer({ sql: slow.sql });
    const aWrite = a.record(stageEvent(CASE, 'never-indexed', 2));
    await until(() => slow.held() > 0);
    try {
      const item = await verifyOne('never-indexed', { indexGraceMs: 300 });
      expect(item.firstBreak).toMatchObject({ reason: 'inserted', seq: 2, line: 3 });
    } finally {
      slow.release();
      await aWrite;
    }
  });
});
