import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NewRejectedBlob, Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest, ApiResponse } from '../src/api.types.js';
import { rejectedBlobListSchema } from '../src/response-schemas.js';
import { createApiFixture, type ApiFixture } from './api-fixture.js';

/** GET /admin/rejected-blobs against a real index; who may call it is also in route-access.test.ts. */
let f: ApiFixture;
let api: Api;

function rejected(blobName: string, over: Partial<NewRejectedBlob> = {}): NewRejectedBlob {
  return {
    container: f.deps.containers.evidence,
    blobName,
    etag: '"0x8DC0001"',
    size: 10,
    lastModified: '2024-05-01T10:00:00.000Z',
    reason: 'not-evidence-name',
    detail: 'at the container root: the name has no <caseId>/<evidenceId>/ prefix',
    ...over,
  };
}

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  for (const [i, name] of ['old.jpg', 'middle.jpg', 'new.jpg'].entries()) {
    await f.index.recordRejectedBlob(rejected(name));
    // Apart in time without waiting: "newest first" is by first sighting.
    await f.sql.query('UPDATE rejected_blobs SET first_seen_at = first_seen_at + make_interval(mins => $2) WHERE blob_name = $1', [name, i]);
  }
  // Seen again: counted, not listed twice, and not moved up the list.
  await f.index.recordRejectedBlob(rejected('old.jpg'));
});

afterAll(async () => {
  await f?.dispose();
});

async function call(req: Partial<ApiRequest> & { path: string }, roles?: Role[]): Promise<ApiResponse & { json: any }> {
  const headers: Record<string, string | undefined> = {};
  if (roles) headers.authorization = `Bearer ${await f.token(`user-${roles.join('-')}`, roles)}`;
  const res = await api.handle({ method: 'GET', query: new URLSearchParams(), headers, ...req });
  return { ...res, json: res.body };
}

const list = (query = '') => call({ path: '/admin/rejected-blobs', query: new URLSearchParams(query) }, ['admin']);

describe('GET /admin/rejected-blobs', () => {
  it('lists rejected blobs newest first with their reason, detail and count', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(rejectedBlobListSchema.safeParse(res.json).success).toBe(true);
    expect(res.json).toMatchObject({ total: 3, limit: 50, offset: 0 });
    expect(res.json.items.map((r: { blobName: string }) => r.blobName)).toEqual(['new.jpg', 'middle.jpg', 'old.jpg']);
    expect(res.json.items[2]).toMatchObject({
      container: f.deps.containers.evidence,
      etag: '"0x8DC0001"',
      size: 10,
      lastModified: '2024-05-01T10:00:00.000Z',
      reason: 'not-evidence-name',
      detail: expect.stringMatching(/container root/),
      seenCount: 2,
    });
  });

  it('pages with limit and offset', async () => {
    const first = await list('limit=2');
    const second = await list('limit=2&offset=2');
    expect(first.json.items.map((r: { blobName: string }) => r.blobName)).toEqual(['new.jpg', 'middle.jpg']);
    expect(second.json).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(second.json.items.map((r: { blobName: string }) => r.blobName)).toEqual(['old.jpg']);
  });

  it.each(['limit=0', 'limit=501', 'offset=-1', 'limit=ten', 'reason=not-evidence-name'])('refuses %s with 400', async (query) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'invalid-argument' } });
  });

  it('is for admins only: 403 for the other roles, 401 without a token', async () => {
    for (const role of ['examiner', 'investigator', 'supervisor'] as const) {
      const res = await call({ path: '/admin/rejected-blobs' }, [role]);
      expect(res.status, role).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'forbidden' } });
    }
    expect((await call({ path: '/admin/rejected-blobs' })).status).toBe(401);
  });

  it('is in the OpenAPI document with its paging parameters', async () => {
    const doc = (await call({ path: '/openapi.json' })).json as {
      paths: Record<string, { get?: { operationId: string; parameters: Array<{ name: string; in: string }> } }>;
    };
    const op = doc.paths['/admin/rejected-blobs']?.get;
    expect(op?.operationId).toBe('listRejectedBlobs');
    expect(op?.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['limit', 'offset']);
  });
});
