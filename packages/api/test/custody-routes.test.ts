import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
import { segmentName } from '@exhibit/custody';
import { createAzureAppendLog } from '@exhibit/storage';
import { custodyVerificationSchema } from '../src/routes/custody.routes.js';
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/** The custody routes over a real custody log (Azurite append blobs, PGlite index copy). */
let f: ApiFixture;
let api: Api;
let seed: SeededCase;
let supervisor: string;

const HOSTILE = '<script>alert("x")</script>';

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  seed = await seedCase(f, 'CUST-1');
  await f.access.assign('CUST-1', 'sue', { by: 'setup' });
  supervisor = await f.token('sue', ['supervisor']);
  const base = { caseId: seed.caseId, evidenceId: seed.evidenceId, actor: 'service:exhibit-pipeline' };
  await f.custodyLog.record({ ...base, action: 'received', subject: { blobName: seed.blobName }, details: { name: HOSTILE }, eventKey: 'received' });
  await f.custodyLog.record({ ...base, action: 'integrity-verified', subject: { blobName: seed.blobName, fileId: seed.rootFileId, sha256: seed.rootSha256 }, details: {}, eventKey: 'hash' });
  await f.custodyLog.record({ ...base, action: 'view', actor: `"><img src=x onerror=alert(1)>`, details: {} });
});

afterAll(async () => {
  await f?.dispose();
});

async function call(req: Partial<ApiRequest> & { path: string }) {
  return api.handle({ method: 'GET', query: new URLSearchParams(), headers: { authorization: `Bearer ${supervisor}` }, ...req });
}

describe('custody routes', () => {
  it('verifies the case from storage, re-hashing the evidence, and records who verified', async () => {
    const before = f.custodyEvents.length;
    const res = await call({ path: `/cases/${seed.caseId}/custody/verify` });
    expect(res.status).toBe(200);
    const body = custodyVerificationSchema.parse(res.body);
    expect(body.ok).toBe(true);
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ evidenceId: seed.evidenceId, verifiedEntries: 4, firstBreak: null });
    expect(body.items[0]!.evidence).toEqual([expect.objectContaining({ blobName: seed.blobName, ok: true, actualSha256: seed.rootSha256 })]);
    expect(f.custodyEvents.slice(before)).toEqual([
      expect.objectContaining({ action: 'verify', actor: 'sue', evidenceId: seed.evidenceId, details: expect.objectContaining({ kind: 'verify', ok: true }) }),
    ]);
  });

  it('gives a printable HTML report in which nothing from the log becomes markup', async () => {
    const res = await call({ path: `/cases/${seed.caseId}/custody/report`, query: new URLSearchParams({ format: 'html' }) });
    expect(res.status).toBe(200);
    expect(res.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers?.['content-security-policy']).toContain("default-src 'none'");
    const html = (res.body as Buffer).toString('utf8');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    const json = custodyVerificationSchema.parse((await call({ path: `/cases/${seed.caseId}/custody/report` })).body);
    for (const entry of json.items[0]!.entries!) expect(html).toContain(entry.hash);
  });

  it('reports a modified evidence blob as the first break of its item', async () => {
    await f.blobs.upload({ container: f.deps.containers.evidence, name: seed.blobName }, Buffer.from('replaced'));
    const res = await call({ path: `/cases/${seed.caseId}/custody/verify`, query: new URLSearchParams({ evidenceId: seed.evidenceId }) });
    const body = custodyVerificationSchema.parse(res.body);
    expect(body.ok).toBe(false);
    expect(body.items[0]!.firstBreak).toMatchObject({ reason: 'evidence-modified', seq: 2 });
    const quick = custodyVerificationSchema.parse((await call({ path: `/cases/${seed.caseId}/custody/verify`, query: new URLSearchParams({ rehash: 'false' }) })).body);
    expect(quick.ok).toBe(true);
  });

  it('answers 404 for an evidence item without a custody log', async () => {
    const res = await call({ path: `/cases/${seed.caseId}/custody/verify`, query: new URLSearchParams({ evidenceId: 'NOPE' }) });
    expect(res.status).toBe(404);
  });

  describe('every break reported, none hiding the others', () => {
    // An API whose own audit entries go to the real custody log, as in production: a damaged
    // log then refuses the 'verify' entry, which once failed the whole case with 409.
    let audited: Api;
    const CASE = 'CUST-2';
    beforeAll(async () => {
      audited = createApi({ ...f.deps, custody: f.custodyLog });
      for (const evidenceId of ['EX01', 'EX02', 'EX03']) {
        const seeded = await seedCase(f, CASE, evidenceId);
        await f.custodyLog.record({
          caseId: CASE,
          evidenceId,
          actor: 'service:exhibit-pipeline',
          action: 'received',
          subject: { blobName: seeded.blobName },
          details: {},
          eventKey: `received:${evidenceId}`,
        });
      }
      await f.access.assign(CASE, 'sue', { by: 'setup' });
      const appendLog = appendLogFor();
      // EX02: a line cut in the middle (a writer that died mid-append, or a tamper).
      const ex02 = segmentName(CASE, 'EX02', 0);
      const head = (await appendLog.head(ex02))!;
      await appendLog.append(ex02, Buffer.from('{"seq":1,"time":"2026-'), { appendPosition: head.length, ifMatch: head.etag });
      // EX03: its whole log deleted; the index copy still knows it.
      await f.blobs.delete({ container: f.custodyContainer, name: segmentName(CASE, 'EX03', 0) });
    });

    function appendLogFor() {
      return createAzureAppendLog({ connectionString: inject('storageConnectionString'), container: f.custodyContainer });
    }

    const verify = async (query: Record<string, string> = {}) =>
      audited.handle({
        method: 'GET',
        path: `/cases/${CASE}/custody/verify`,
        query: new URLSearchParams(query),
        headers: { authorization: `Bearer ${supervisor}` },
      });

    it('reports each item separately: a cut line and a deleted log are breaks of their own item only', async () => {
      const res = await verify({ rehash: 'false' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const body = custodyVerificationSchema.parse(res.body);
      expect(body.ok).toBe(false);
      const byId = new Map(body.items.map((i) => [i.evidenceId, i]));
      expect([...byId.keys()].sort()).toEqual(['EX01', 'EX02', 'EX03']);
      expect(byId.get('EX01')).toMatchObject({ ok: true, firstBreak: null, auditRecorded: true });
      const ex02 = byId.get('EX02')!;
      // The break is at the cut line: just after the last whole entry.
      expect(ex02).toMatchObject({ ok: false, auditRecorded: false, firstBreak: { segment: segmentName(CASE, 'EX02', 0), line: ex02.verifiedEntries + 1 } });
      expect(ex02.verifiedEntries).toBeGreaterThan(0);
      expect(['unparseable', 'truncated']).toContain(ex02.firstBreak!.reason);
      expect(byId.get('EX03')).toMatchObject({ ok: false, auditRecorded: false, firstBreak: { reason: 'missing-log' } });
      // Nothing was written where the deleted log was: the writer does not start it again at seq 0.
      expect(await appendLogFor().head(segmentName(CASE, 'EX03', 0))).toBeNull();
    });

    it('reports a deleted log for a single-item verify instead of 404', async () => {
      const res = await verify({ evidenceId: 'EX03', rehash: 'false' });
      expect(res.status).toBe(200);
      const body = custodyVerificationSchema.parse(res.body);
      expect(body.items).toEqual([expect.objectContaining({ evidenceId: 'EX03', ok: false, firstBreak: expect.objectContaining({ reason: 'missing-log' }) })]);
    });
  });
});
