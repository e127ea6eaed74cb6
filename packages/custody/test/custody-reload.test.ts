import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootLogger, ExhibitError, type AppendLog, type CustodyEvent } from '@exhibit/core';
import { createCustodyLog, CUSTODY_LIMITS, parseEntryText, segmentName, verifyCustody, type CustodyEntry, type CustodySql, type Signer } from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

/**
 * Writers that reload their tail (a rival appended more than they read back) and slow
 * signers (Key Vault): over Azurite and a PGlite index copy.
 */
const CASE = 'R1';
let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});

const logger = createRootLogger({ level: 'silent' });

/** A new writer (nothing cached), as another process would be; parts of it replaced where a test needs. */
const writer: CustodyFixture['newLog'] = (parts) => fx.newLog(parts);

/** The real index, the next custody insert failing once `failNext` is set: a process gone between its append and its index copy. */
function failingSql() {
  const state = { failNext: false };
  const sql: CustodySql = {
    query: (async (text: string, params?: unknown[]) => {
      if (state.failNext && /INSERT INTO custody_entries/.test(text)) {
        state.failNext = false;
        throw new ExhibitError('index-unavailable', 'connection lost (injected)');
      }
      return fx.sql.query(text, params as never);
    }) as CustodySql['query'],
  };
  return { sql, state };
}

/** The real append log, counting the lines of each append block. */
function countingAppendLog() {
  const real = fx.appendLog;
  const blocks: number[] = [];
  const appendLog: AppendLog = {
    container: real.container,
    head: (...a) => real.head(...a),
    create: (...a) => real.create(...a),
    read: (...a) => real.read(...a),
    list: (...a) => real.list(...a),
    getDocument: (...a) => real.getDocument(...a),
    putDocument: (...a) => real.putDocument(...a),
    append(name, data, options) {
      blocks.push(data.toString('utf8').split('\n').length - 1);
      return real.append(name, data, options);
    },
  };
  return { appendLog, blocks };
}

/** A remote signer's stand-in: `delayMs` a signature, as Key Vault takes 15-50 ms. */
function slowSigner(inner: Signer, delayMs: number): Signer {
  return {
    keyId: inner.keyId,
    algorithm: inner.algorithm,
    publicKeyJwk: inner.publicKeyJwk,
    remote: true,
    async sign(bytes, options) {
      await sleep(delayMs);
      return inner.sign(bytes, options);
    },
  };
}

async function entriesOf(evidenceId: string): Promise<CustodyEntry[]> {
  return (await fx.readLog(segmentName(CASE, evidenceId, 0))).map((line) => {
    const parsed = parseEntryText(line);
    if (!parsed.ok) throw new Error(parsed.detail);
    return parsed.entry;
  });
}

async function indexedSeqs(evidenceId: string): Promise<number[]> {
  const { rows } = await fx.sql.query<{ seq: number | string }>(`SELECT seq FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 ORDER BY seq`, [CASE, evidenceId]);
  return rows.map((r) => Number(r.seq));
}

async function verifyOne(evidenceId: string) {
  return (await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, evidenceId, containers: fx.containers })).items[0]!;
}

const bulky = (evidenceId: string, n: number): CustodyEvent => ({ ...stageEvent(CASE, evidenceId, n), details: { stage: 'identify', n, note: 'x'.repeat(30 * 1024) } });

describe('custody writer reload', () => {
  it('regression fixture reloaded-writer-duplicated-event-key-index-hole: a writer whose tail is more than maxDeltaReadBytes behind catches the index up before writing, so a rival entry whose index copy failed is not appended again', async () => {
    const ev = 'reload-hole';
    const a = writer();
    // A caches the tail.
    await a.record(stageEvent(CASE, ev, 0));
    const b = failingSql();
    const rival = writer({ sql: b.sql });
    for (let n = 1; n <= 70; n++) await rival.record(bulky(ev, n));
    expect(70 * 30 * 1024).toBeGreaterThan(CUSTODY_LIMITS.maxDeltaReadBytes);
    // The rival appends K; its index copy fails (the caller is still told: the log has it).
    b.state.failNext = true;
    const k = stageEvent(CASE, ev, 999);
    await rival.record(k);
    const kSeq = (await entriesOf(ev)).find((e) => e.eventKey === k.eventKey)!.seq;
    expect(await indexedSeqs(ev)).not.toContain(kSeq);

    // A, far behind, is sent K too (a redelivery) and one more.
    await a.record(k);
    await a.record(stageEvent(CASE, ev, 1000));
    const entries = await entriesOf(ev);
    expect(entries.filter((e) => e.eventKey === k.eventKey).map((e) => e.seq)).toEqual([kSeq]);
    expect(await indexedSeqs(ev)).toEqual(entries.map((e) => e.seq));
    const item = await verifyOne(ev);
    expect(item).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: entries.length, indexEntries: entries.length });
    expect(item.indexGaps).toBeUndefined();
  });

  it('verify counts the index rows: a hole in the index copy shows in indexEntries and as a gap with its seq', async () => {
    const ev = 'count-hole';
    const log = writer();
    for (let n = 1; n <= 5; n++) await log.record(stageEvent(CASE, ev, n));
    await fx.sql.query(`DELETE FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 AND seq = 3`, [CASE, ev]);
    const item = await verifyOne(ev);
    expect(item).toMatchObject({ verifiedEntries: 6, indexEntries: 5, indexGaps: [{ fromSeq: 3, toSeq: 3 }] });
  });

  it('a slow signer bounds each group; two writers on one log settle every caller once and the log verifies', async () => {
    const ev = 'slow-signer';
    const c = countingAppendLog();
    const signer = slowSigner(fx.signer, 20);
    const writers = [writer({ appendLog: c.appendLog, signer }), writer({ appendLog: c.appendLog, signer })];
    const settledCount = new Map<string, number>();
    await Promise.all(
      writers.map((w, k) =>
        Promise.all(
          Array.from({ length: 15 }, async (_, n) => {
            const event = stageEvent(CASE, ev, k * 100 + n);
            await w.record(event);
            settledCount.set(event.eventKey!, (settledCount.get(event.eventKey!) ?? 0) + 1);
          }),
        ),
      ),
    );
    expect([...settledCount.values()]).toEqual(Array.from({ length: 30 }, () => 1));
    // The segment start plus at most maxRemoteGroupEntries events a block.
    expect(Math.max(...c.blocks)).toBeLessThanOrEqual(1 + CUSTODY_LIMITS.maxRemoteGroupEntries);
    const entries = await entriesOf(ev);
    expect(entries).toHaveLength(31);
    expect(new Set(entries.slice(1).map((e) => e.eventKey)).size).toBe(30);
    expect(await verifyOne(ev)).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 31, indexEntries: 31 });
  });

  it("an entry's time is when it was submitted, never before the previous entry's", async () => {
    const ev = 'times';
    let clock = Date.parse('2026-01-01T00:00:10.000Z');
    const log = createCustodyLog({
      appendLog: fx.appendLog,
      blobs: fx.blobs,
      sql: fx.sql,
      signer: fx.signer,
      containers: fx.containers,
      logger,
      toolVersion: '0.0.0-test',
      now: () => new Date(clock),
    });
    await log.record(stageEvent(CASE, ev, 0));
    // Submitted at 10 s and 20 s; the clock reads 30 s by the time their block is built.
    const first = log.record(stageEvent(CASE, ev, 1));
    clock = Date.parse('2026-01-01T00:00:20.000Z');
    const second = log.record(stageEvent(CASE, ev, 2));
    clock = Date.parse('2026-01-01T00:00:30.000Z');
    await Promise.all([first, second]);
    // A clock that went back: the entry takes its predecessor's time.
    clock = Date.parse('2026-01-01T00:00:05.000Z');
    await log.record(stageEvent(CASE, ev, 3));
    const at = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000Z`;
    expect((await entriesOf(ev)).map((e) => e.time)).toEqual([at(10), at(10), at(10), at(20), at(20)]);
    expect(await verifyOne(ev)).toMatchObject({ ok: true, firstBreak: null });
  });
});
