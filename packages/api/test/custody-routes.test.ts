import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
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
});
