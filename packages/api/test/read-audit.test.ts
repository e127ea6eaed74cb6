import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRootLogger, type CustodyEvent, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiResponse } from '../src/api.types.js';
import { API_LIMITS } from '../src/api-limits.js';
import { createApiFixture, seedCase, type ApiFixture } from './api-fixture.js';

/**
 * Every read of case data leaves a custody entry: the first read of a group
 * (user, case, evidence item or whole case, route) at once, repeats within
 * the window counted and carried by the next entry. The clock is injected.
 */
let f: ApiFixture;
let api: Api;
let clock = new Date('2026-01-01T10:00:00.000Z');
const hostLog: Array<Record<string, unknown>> = [];
const tokens = new Map<string, string>();

const WINDOW = API_LIMITS.readAuditWindowMs;
const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

beforeAll(async () => {
  const logger = createRootLogger({ level: 'info', destination: { write: (line: string) => void hostLog.push(JSON.parse(line) as Record<string, unknown>) } });
  f = await createApiFixture(inject('storageConnectionString'), { logger });
  f.deps.now = () => clock;
  api = createApi(f.deps);
  await seedCase(f, 'CASE-1');
  await seedCase(f, 'CASE-1', 'EX02');
  await seedCase(f, 'CASE-2');
  await f.access.assign('CASE-1', 'sam', { by: 'setup' });
  await f.access.assign('CASE-1', 'ivan', { by: 'setup' });
  await f.access.assign('CASE-2', 'sam', { by: 'setup' });
  // A case with no evidence yet: someone is assigned, nothing received.
  await f.access.assign('CASE-EMPTY', 'sam', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

beforeEach(() => {
  // Each test starts after every window of the previous one has ended.
  advance(10 * WINDOW);
});

async function token(user: string, roles: Role[]): Promise<string> {
  const k = `${user}:${roles.join(',')}`;
  if (!tokens.has(k)) tokens.set(k, await f.token(user, roles));
  return tokens.get(k)!;
}

async function get(path: string, user: string, roles: Role[]): Promise<ApiResponse> {
  const res = await api.handle({ method: 'GET', path, query: new URLSearchParams(), headers: { authorization: `Bearer ${await token(user, roles)}` } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

/** Custody 'read' entries written while `fn` ran. */
async function readsDuring(fn: () => Promise<unknown>): Promise<CustodyEvent[]> {
  const before = f.custodyEvents.length;
  await fn();
  return f.custodyEvents.slice(before).filter((e) => e.action === 'read');
}

const where = (events: CustodyEvent[]) => events.map((e) => `${e.actor} ${e.caseId}/${e.evidenceId} ${String(e.details.route)}`).sort();

describe('the first read of every read route is recorded at once', () => {
  it('status: in the log of that evidence item', async () => {
    const reads = await readsDuring(() => get('/cases/CASE-1/evidence/EX01/status', 'sam', ['supervisor']));
    expect(where(reads)).toEqual(['sam CASE-1/EX01 getEvidenceStatus']);
    expect(reads[0]!.details).toMatchObject({ repeatsSincePrevious: 0, authKind: 'local', roles: ['supervisor'] });
  });

  it('evidence list and assignment list: in the log of every evidence item of the case', async () => {
    expect(where(await readsDuring(() => get('/cases/CASE-1/evidence', 'sam', ['supervisor'])))).toEqual([
      'sam CASE-1/EX01 listEvidence',
      'sam CASE-1/EX02 listEvidence',
    ]);
    expect(where(await readsDuring(() => get('/cases/CASE-1/assignments', 'sam', ['supervisor'])))).toEqual([
      'sam CASE-1/EX01 listAssignments',
      'sam CASE-1/EX02 listAssignments',
    ]);
  });

  it('/cases: in every case listed, including the ones an admin sees without being assigned', async () => {
    expect(where(await readsDuring(() => get('/cases', 'sam', ['supervisor'])))).toEqual([
      'sam CASE-1/EX01 listCases',
      'sam CASE-1/EX02 listCases',
      'sam CASE-2/EX01 listCases',
    ]);
    const admin = await readsDuring(() => get('/cases', 'ada', ['admin']));
    expect(where(admin)).toEqual(['ada CASE-1/EX01 listCases', 'ada CASE-1/EX02 listCases', 'ada CASE-2/EX01 listCases']);
    expect(admin[0]!.details).toMatchObject({ assigned: false, roles: ['admin'] });
  });

  it('a case with no evidence has no custody log: the read goes to the host log', async () => {
    hostLog.length = 0;
    const reads = await readsDuring(() => get('/cases/CASE-EMPTY/assignments', 'sam', ['supervisor']));
    expect(reads).toEqual([]);
    expect(hostLog.filter((l) => l.audit === 'read')).toEqual([
      expect.objectContaining({ caseId: 'CASE-EMPTY', user: 'sam', route: 'listAssignments', msg: 'read of a case with no evidence items (no custody log to write to)' }),
    ]);
  });

  it('each user and each route is its own group', async () => {
    const reads = await readsDuring(async () => {
      await get('/cases/CASE-1/evidence/EX01/status', 'sam', ['supervisor']);
      await get('/cases/CASE-1/evidence/EX01/status', 'ivan', ['investigator']);
      await get('/cases/CASE-1/evidence/EX02/status', 'ivan', ['investigator']);
      await get('/cases/CASE-1/evidence', 'ivan', ['investigator']);
    });
    expect(where(reads)).toEqual([
      'ivan CASE-1/EX01 getEvidenceStatus',
      'ivan CASE-1/EX01 listEvidence',
      'ivan CASE-1/EX02 getEvidenceStatus',
      'ivan CASE-1/EX02 listEvidence',
      'sam CASE-1/EX01 getEvidenceStatus',
    ]);
  });
});

describe('reads that answered without a custody entry', () => {
  // Regression: GET …/exports/{exportId} showed an export's SHA-256, size, producer and time, read from
  // the custody index, and wrote nothing: the one case-scoped read route that left no entry.
  it('export-record-read-unrecorded', async () => {
    const exportId = '5d0c6f4e-2b1a-4c7e-9f3d-8a6b1c2d3e4f';
    for (const evidenceId of ['EX01', 'EX02']) {
      await f.custodyLog.record({
        caseId: 'CASE-1',
        evidenceId,
        action: 'export',
        actor: 'ivan',
        details: { exportId, format: 'csv', sha256: 'b'.repeat(64), bytes: 10, items: 1, producedAt: '2026-01-01T00:00:00.000Z' },
      });
    }
    const reads = await readsDuring(() => get(`/cases/CASE-1/exports/${exportId}`, 'sam', ['supervisor']));
    expect(where(reads)).toEqual(['sam CASE-1/EX01 getExport', 'sam CASE-1/EX02 getExport']);
    expect(reads[0]!.details).toMatchObject({ exportId, repeatsSincePrevious: 0, roles: ['supervisor'] });
  });

  // Regression: a 304 to If-None-Match (`*`, or the ETag, which is the SHA-256 itself) told any reader of
  // the case whether it holds a content with a thumbnail, hash by hash, and wrote nothing.
  it('content-thumbnail-not-modified-probe-unrecorded', async () => {
    const photo = (await f.index.search({ caseId: 'CASE-1', kind: 'image', limit: 1 })).items[0]!.file.sha256!;
    const reads = await readsDuring(async () => {
      for (const tag of ['*', `"${photo}"`]) {
        const res = await api.handle({
          method: 'GET',
          path: `/cases/CASE-1/contents/${photo}/thumbnail`,
          query: new URLSearchParams(),
          headers: { authorization: `Bearer ${await token('ivan', ['investigator'])}`, 'if-none-match': tag },
        });
        expect(res.status).toBe(304);
      }
    });
    // The first probe at once, in the log of every item holding the content; the second counted in its window.
    expect(where(reads)).toEqual(['ivan CASE-1/EX01 getContentThumbnail', 'ivan CASE-1/EX02 getContentThumbnail']);
    expect(reads[0]!.details).toMatchObject({ sha256: photo, notModified: true, repeatsSincePrevious: 0 });
    expect(f.custodyEvents.filter((e) => e.action === 'thumbnail-view' && e.actor === 'ivan')).toEqual([]);
    // The counted repeat is written now, not by a later test's sweep.
    await api.flush();
  });

  // Regression: the window of a 304 probe was keyed (user, case, '*', route) only, so a probe of content A
  // within five minutes of one of content B was counted against B's entry: no entry named A, and an item
  // holding only A got nothing.
  it('content-thumbnail-probe-of-second-content-counted-against-first', async () => {
    const a = await seedCase(f, 'CASE-3', 'EX01');
    await seedCase(f, 'CASE-3', 'EX02');
    const b = await seedCase(f, 'CASE-Q');
    expect(b.photoSha256).not.toBe(a.photoSha256);
    // B is held in CASE-3 by EX02 only; A by EX01 and EX02.
    await f.sql.query(
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, size, sha256, stage)
       VALUES ('only-b', 'CASE-3', 'EX02', 0, 'zz/b.jpg', 'b.jpg', 'b.jpg', 'file', $2, $1, 'indexed')`,
      [b.photoSha256, b.photoBytes.length],
    );
    await f.access.assign('CASE-3', 'ivan', { by: 'setup' });
    const reads = await readsDuring(async () => {
      for (const sha of [b.photoSha256, a.photoSha256]) {
        const res = await api.handle({
          method: 'GET',
          path: `/cases/CASE-3/contents/${sha}/thumbnail`,
          query: new URLSearchParams(),
          headers: { authorization: `Bearer ${await token('ivan', ['investigator'])}`, 'if-none-match': '*' },
        });
        expect(res.status).toBe(304);
      }
    });
    expect(reads.map((e) => `${e.evidenceId} ${String(e.details.sha256).slice(0, 8)}`)).toEqual([
      `EX02 ${b.photoSha256.slice(0, 8)}`,
      `EX01 ${a.photoSha256.slice(0, 8)}`,
      `EX02 ${a.photoSha256.slice(0, 8)}`,
    ]);
    for (const e of reads) expect(e.details).toMatchObject({ notModified: true, repeatsSincePrevious: 0 });
  });

  // Regression: the same for GET …/exports/{exportId}: reading export Y right after export X was counted
  // as a repeat of X, and no entry named Y.
  it('export-record-read-of-second-export-counted-against-first', async () => {
    const ids = ['7e2f8b6a-4d3c-4e9a-9b5f-0c8d3e4f5a6b', '8f3a9c7b-5e4d-4fab-8c6a-1d9e4f5a6b7c'];
    for (const exportId of ids) {
      await f.custodyLog.record({
        caseId: 'CASE-2',
        evidenceId: 'EX01',
        action: 'export',
        actor: 'ivan',
        details: { exportId, format: 'csv', sha256: 'b'.repeat(64), bytes: 10, items: 1, producedAt: '2026-01-01T00:00:00.000Z' },
      });
    }
    const reads = await readsDuring(async () => {
      for (const exportId of ids) await get(`/cases/CASE-2/exports/${exportId}`, 'sam', ['supervisor']);
    });
    expect(reads.map((e) => e.details.exportId)).toEqual(ids);
  });
});

describe('polling is summarised, and no read is lost', () => {
  it('counts repeats within the window and carries them on the next entry after it', async () => {
    const path = '/cases/CASE-1/evidence/EX01/status';
    const first = await readsDuring(() => get(path, 'ivan', ['investigator']));
    expect(first).toHaveLength(1);
    const repeatTimes: string[] = [];
    const repeats = await readsDuring(async () => {
      for (let i = 0; i < 4; i += 1) {
        advance(WINDOW / 5);
        repeatTimes.push(clock.toISOString());
        await get(path, 'ivan', ['investigator']);
      }
    });
    // 4 × window/5 is still inside the window.
    expect(repeats).toEqual([]);
    advance(WINDOW / 5);
    const next = await readsDuring(() => get(path, 'ivan', ['investigator']));
    expect(next).toHaveLength(1);
    expect(next[0]!.details).toMatchObject({
      route: 'getEvidenceStatus',
      repeatsSincePrevious: 4,
      firstRepeatAt: repeatTimes[0],
      lastRepeatAt: repeatTimes[3],
    });
    // That entry opened a new window: the count starts again.
    advance(WINDOW);
    const after = await readsDuring(() => get(path, 'ivan', ['investigator']));
    expect(after[0]!.details).toMatchObject({ repeatsSincePrevious: 0 });
    expect(after[0]!.details).not.toHaveProperty('firstRepeatAt');
  });

  it('writes the count of a group nobody reads again as a summary, at the next request after the window', async () => {
    await get('/cases/CASE-2/evidence', 'sam', ['supervisor']);
    advance(1000);
    await get('/cases/CASE-2/evidence', 'sam', ['supervisor']);
    advance(1000);
    await get('/cases/CASE-2/evidence', 'sam', ['supervisor']);
    advance(WINDOW);
    // Someone else, another route: the sweep writes sam's summary on the way.
    const reads = await readsDuring(() => get('/cases/CASE-1/evidence/EX02/status', 'ivan', ['investigator']));
    const summary = reads.filter((e) => e.actor === 'sam');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ caseId: 'CASE-2', evidenceId: 'EX01', details: { route: 'listEvidence', summary: true, repeatsSincePrevious: 2 } });
    // Written once: the next read of sam's group is a fresh first look.
    const again = await readsDuring(() => get('/cases/CASE-2/evidence', 'sam', ['supervisor']));
    expect(again.map((e) => e.details.repeatsSincePrevious)).toEqual([0]);
  });

  it('fails the read when its first entry cannot be written, and writes it at the next read', async () => {
    const path = '/cases/CASE-2/evidence/EX01/status';
    const custody = f.deps.custody;
    f.deps.custody = {
      async record() {
        throw Object.assign(new Error('custody log unavailable'), { code: 'ECONNRESET' });
      },
    };
    try {
      const res = await api.handle({ method: 'GET', path, query: new URLSearchParams(), headers: { authorization: `Bearer ${await token('sam', ['supervisor'])}` } });
      expect(res.status).toBeGreaterThanOrEqual(500);
    } finally {
      f.deps.custody = custody;
    }
    const reads = await readsDuring(() => get(path, 'sam', ['supervisor']));
    expect(where(reads)).toEqual(['sam CASE-2/EX01 getEvidenceStatus']);
  });
});

describe('in the signed custody log', () => {
  it("is a 'read' entry the real log accepts, verifies and reports, with its repeat count", async () => {
    // The same API over the real, signed, hash-chained log instead of the list recorder.
    const real = createApi({ ...f.deps, custody: f.custodyLog });
    const as = async (path: string) =>
      real.handle({ method: 'GET', path, query: new URLSearchParams(path.includes('report') ? 'format=json' : ''), headers: { authorization: `Bearer ${await token('sam', ['supervisor'])}` } });
    expect((await as('/cases/CASE-1/evidence/EX02/status')).status).toBe(200);
    advance(1000);
    expect((await as('/cases/CASE-1/evidence/EX02/status')).status).toBe(200);
    advance(WINDOW);
    expect((await as('/cases/CASE-1/evidence/EX02/status')).status).toBe(200);
    const report = await as('/cases/CASE-1/custody/report');
    expect(report.status).toBe(200);
    const body = report.body as { ok: boolean; items: Array<{ evidenceId: string; ok: boolean; entries?: Array<{ action: string; actor: string; details: Record<string, unknown> }> }> };
    const item = body.items.find((i) => i.evidenceId === 'EX02')!;
    expect(item.ok).toBe(true);
    const reads = (item.entries ?? []).filter((e) => e.action === 'read');
    expect(reads.map((e) => [e.actor, e.details.route, e.details.repeatsSincePrevious])).toEqual([
      ['sam', 'getEvidenceStatus', 0],
      ['sam', 'getEvidenceStatus', 1],
    ]);
  });
});
