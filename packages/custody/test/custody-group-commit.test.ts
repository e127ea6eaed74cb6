import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, type AppendLog, type CustodyEvent } from '@exhibit/core';
import { CUSTODY_LIMITS, parseEntryText, segmentName, verifyCustody, type CustodyEntry, type CustodySql } from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

/**
 * Group commit (issue 13): appends to one log that arrive while a write to it is in
 * flight go out together, as one append block of individually chained and signed
 * lines and one index statement. Over Azurite and a PGlite index copy.
 */
const CASE = 'G1';
let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});


/** A new writer (nothing cached), as another process would be; parts of it replaced where a test needs. */
const writer: CustodyFixture['newLog'] = (parts) => fx.newLog(parts);

const linesIn = (data: Buffer) => data.toString('utf8').split('\n').length - 1;

/** The real append log, with appends counted, held while `gate` is set and, with `failGroups`, the next append of several lines refused. */
function watchedAppendLog() {
  const real = fx.appendLog;
  const state = { appends: 0, failGroups: false, gate: null as Promise<void> | null };
  const appendLog: AppendLog = {
    container: real.container,
    head: (...a) => real.head(...a),
    create: (...a) => real.create(...a),
    read: (...a) => real.read(...a),
    list: (...a) => real.list(...a),
    getDocument: (...a) => real.getDocument(...a),
    putDocument: (...a) => real.putDocument(...a),
    async append(name, data, options) {
      state.appends++;
      if (state.gate) await state.gate;
      if (state.failGroups && linesIn(data) > 1) {
        state.failGroups = false;
        throw new ExhibitError('storage-unavailable', 'append refused (injected)');
      }
      return real.append(name, data, options);
    },
  };
  return { appendLog, state };
}

/**
 * The real index, with custody inserts counted and, with `failGroups`, the next insert of
 * several entries failing: the process gone between a group's block append and its index statement.
 */
function watchedSql() {
  const state = { inserts: 0, failGroups: false };
  const sql: CustodySql = {
    query: (async (text: string, params?: unknown[]) => {
      if (/INSERT INTO custody_entries/.test(text)) {
        state.inserts++;
        // 15 parameters an entry (custody-index.sql.ts).
        if (state.failGroups && (params?.length ?? 0) > 15) {
          state.failGroups = false;
          throw new ExhibitError('index-unavailable', 'connection lost (injected)');
        }
      }
      return fx.sql.query(text, params as never);
    }) as CustodySql['query'],
  };
  return { sql, state };
}

async function entriesOf(evidenceId: string, segment = 0): Promise<CustodyEntry[]> {
  return (await fx.readLog(segmentName(CASE, evidenceId, segment))).map((line) => {
    const parsed = parseEntryText(line);
    if (!parsed.ok) throw new Error(parsed.detail);
    return parsed.entry;
  });
}

async function indexedSeqs(evidenceId: string): Promise<number[]> {
  const { rows } = await fx.sql.query<{ seq: number | string }>(`SELECT seq FROM custody_entries WHERE case_id = $1 AND evidence_id = $2 ORDER BY seq`, [CASE, evidenceId]);
  return rows.map((r) => Number(r.seq));
}

async function keptLines(evidenceId: string): Promise<number> {
  const { rows } = await fx.sql.query<{ n: number | string }>(`SELECT count(*) AS n FROM custody_lines WHERE case_id = $1 AND evidence_id = $2`, [CASE, evidenceId]);
  return Number(rows[0]!.n);
}

async function verifyOne(evidenceId: string) {
  return (await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, evidenceId, containers: fx.containers })).items[0]!;
}

const view = (evidenceId: string, n: number): CustodyEvent => ({ caseId: CASE, evidenceId, action: 'thumbnail-view', actor: `user-${n % 7}`, details: { n } });

describe('custody group commit', () => {
  it('concurrent appends to one log go out as one append block and one index statement, each entry chained and signed, in arrival order', async () => {
    const a = watchedAppendLog();
    const i = watchedSql();
    const log = writer({ appendLog: a.appendLog, sql: i.sql });
    await Promise.all(Array.from({ length: 50 }, (_, n) => log.record(view('burst', n))));
    const entries = await entriesOf('burst');
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 51 }, (_, n) => n));
    // The first caller's write found nothing in flight and went alone; the 49 that arrived meanwhile went together.
    expect(entries.slice(1).map((e) => e.details.n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(a.state.appends).toBe(2);
    expect(i.state.inserts).toBe(2);
    expect((await fx.appendLog.head(segmentName(CASE, 'burst', 0)))?.blockCount).toBe(2);
    expect(await indexedSeqs('burst')).toEqual(entries.map((e) => e.seq));
    expect(await keptLines('burst')).toBe(51);
    expect(await verifyOne('burst')).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 51, indexEntries: 51 });
  });

  it('a group is bounded by maxGroupEntries and by the segment: more waiting entries go out in the next blocks, seq still in arrival order', async () => {
    const a = watchedAppendLog();
    const log = writer({ appendLog: a.appendLog });
    const n = CUSTODY_LIMITS.maxGroupEntries + 44;
    await Promise.all(Array.from({ length: n }, (_, k) => log.record(view('bounded', k))));
    const entries = await entriesOf('bounded');
    expect(entries.slice(1).map((e) => e.details.n)).toEqual(Array.from({ length: n }, (_, k) => k));
    // 1 alone, then maxGroupEntries, then the remaining 43.
    expect(a.state.appends).toBe(3);
    expect(await verifyOne('bounded')).toMatchObject({ ok: true, verifiedEntries: n + 1, indexEntries: n + 1 });

    const small = writer({ rolloverEntries: 10 });
    await Promise.all(Array.from({ length: 25 }, (_, k) => small.record(view('rolled', k))));
    const item = await verifyOne('rolled');
    expect(item.firstBreak).toBeNull();
    expect(item.segments.every((s) => s.entries <= 10)).toBe(true);
    expect(item.verifiedEntries).toBe(25 + item.segments.length);
  });

  it('an eventKey sent twice in one group is written once and settles both callers; one already in the log is not written again', async () => {
    const log = writer();
    await log.record(stageEvent(CASE, 'dupes', 0));
    const a = watchedAppendLog();
    let release!: () => void;
    a.state.gate = new Promise<void>((r) => (release = r));
    const held = writer({ appendLog: a.appendLog });
    // Hold the first write so that the rest gather into one group behind it.
    const first = held.record(view('dupes', 100));
    for (let k = 0; k < 200 && a.state.appends === 0; k++) await new Promise((r) => setTimeout(r, 10));
    expect(a.state.appends).toBe(1);
    const results = Promise.all([1, 2, 1, 0, 3, 2].map((k) => held.record(stageEvent(CASE, 'dupes', k))));
    a.state.gate = null;
    release();
    await Promise.all([first, results]);
    // The held write, then one for the group (f0 was in the log already, f1 and f2 came twice).
    expect(a.state.appends).toBe(2);
    const keys = (await entriesOf('dupes')).flatMap((e) => (e.eventKey ? [e.eventKey] : []));
    expect(keys.sort()).toEqual(['identify:f0', 'identify:f1', 'identify:f2', 'identify:f3']);
    expect(await verifyOne('dupes')).toMatchObject({ ok: true, firstBreak: null });
  });

  it("a group whose append fails rejects every member's caller with the typed error, and none of them is in the log", async () => {
    const a = watchedAppendLog();
    const log = writer({ appendLog: a.appendLog });
    await log.record(view('fails', 0));
    a.state.failGroups = true;
    // The first goes alone (nothing in flight); the 11 that arrive meanwhile are one group, whose append fails.
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, n) => log.record(view('fails', n + 1))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', ...Array.from({ length: 11 }, () => 'rejected')]);
    for (const s of settled.slice(1)) expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'storage-unavailable' });
    expect((await entriesOf('fails')).map((e) => e.details.n ?? null)).toEqual([null, 0, 1]);
    await log.record(view('fails', 99));
    expect((await entriesOf('fails')).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(await verifyOne('fails')).toMatchObject({ ok: true, verifiedEntries: 4, indexEntries: 4 });
  });

  it('regression fixture group-appended-then-index-failed: a crash between the block append and its index statement is caught up whole by the next writer, and no eventKey is written twice', async () => {
    const i = watchedSql();
    const before = writer({ sql: i.sql });
    await before.record(stageEvent(CASE, 'crash', 0));
    i.state.failGroups = true;
    const group = Array.from({ length: 8 }, (_, n) => stageEvent(CASE, 'crash', n + 1));
    const settled = await Promise.allSettled(group.map((e) => before.record(e)));
    // The first went alone and is in both; the group of 7 behind it landed in the log, its index copy
    // did not. The log is the record: every caller is told its entry was recorded (a rejection made
    // a keyless view answer 503 and its retry record the view twice).
    expect(settled.map((s) => s.status)).toEqual(Array.from({ length: 8 }, () => 'fulfilled'));
    expect((await entriesOf('crash')).length).toBe(10);
    expect(await indexedSeqs('crash')).toEqual([0, 1, 2]);

    // The restarted process (a new writer) is sent the same events again (the pipeline redelivers) and one more.
    const after = writer();
    await Promise.all([...group, stageEvent(CASE, 'crash', 9)].map((e) => after.record(e)));
    const entries = await entriesOf('crash');
    expect(entries.map((e) => e.eventKey ?? null)).toEqual([null, ...Array.from({ length: 10 }, (_, n) => `identify:f${n}`)]);
    expect(await indexedSeqs('crash')).toEqual(entries.map((e) => e.seq));
    expect(await keptLines('crash')).toBe(entries.length);
    expect(await verifyOne('crash')).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 11, indexEntries: 11 });
  });

  it('keyless views whose index copy failed are resolved once (no retry, no second entry), and the same process copies them with its next write', async () => {
    const i = watchedSql();
    const log = writer({ sql: i.sql });
    await log.record(view('keyless', 0));
    i.state.failGroups = true;
    const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, n) => log.record(view('keyless', n + 1))));
    expect(settled.map((s) => s.status)).toEqual(Array.from({ length: 6 }, () => 'fulfilled'));
    expect(await indexedSeqs('keyless')).toEqual([0, 1, 2]);
    await log.record(view('keyless', 7));
    const entries = await entriesOf('keyless');
    expect(entries.slice(1).map((e) => e.details.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await indexedSeqs('keyless')).toEqual(entries.map((e) => e.seq));
    expect(await verifyOne('keyless')).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 9, indexEntries: 9 });
  });

  it('a group block storage lost whole (Azurite killed hard) is appended again from the index copy and the log verifies', async () => {
    const log = writer();
    await log.record(view('lost-block', 0));
    await Promise.all(Array.from({ length: 6 }, (_, n) => log.record(view('lost-block', n + 1))));
    const name = segmentName(CASE, 'lost-block', 0);
    const lines = await fx.readLog(name);
    expect(lines).toHaveLength(8);
    await fx.rewriteLog(name, lines.slice(0, 3));
    await writer().record(view('lost-block', 7));
    const after = await fx.readLog(name);
    expect(after.slice(0, 8)).toEqual(lines);
    expect(after.slice(8).map((l) => (parseEntryText(l) as { entry: CustodyEntry }).entry.action)).toEqual(['log-restored', 'thumbnail-view']);
    expect(await verifyOne('lost-block')).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 10 });
  });

  it('several processes, each appending groups to the same log at once, keep one unforked chain (conditional appends)', async () => {
    const writers = Array.from({ length: 4 }, () => writer());
    await Promise.all(writers.map((w, k) => Promise.all(Array.from({ length: 30 }, (_, n) => w.record(stageEvent(CASE, 'rivals', k * 100 + n))))));
    const entries = await entriesOf('rivals');
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 121 }, (_, n) => n));
    expect(new Set(entries.slice(1).map((e) => e.eventKey)).size).toBe(120);
    expect(await verifyOne('rivals')).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 121, indexEntries: 121 });
  });

  it('a caller that gives up while its entry is still waiting is rejected and its entry is not written; the others are', async () => {
    const a = watchedAppendLog();
    let release!: () => void;
    a.state.gate = new Promise<void>((r) => (release = r));
    const log = writer({ appendLog: a.appendLog });
    const first = log.record(view('abort', 0));
    for (let k = 0; k < 200 && a.state.appends === 0; k++) await new Promise((r) => setTimeout(r, 10));
    const gone = new AbortController();
    const waiting = log.record(view('abort', 1), { abortSignal: gone.signal });
    const stays = log.record(view('abort', 2));
    gone.abort(new Error('shutting down'));
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    a.state.gate = null;
    release();
    await Promise.all([first, stays]);
    expect((await entriesOf('abort')).map((e) => e.details.n ?? null)).toEqual([null, 0, 2]);
  });
});
