import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiResponse } from '../src/api.types.js';
import { API_LIMITS } from '../src/api-limits.js';
import { downloadSchema } from '../src/response-schemas.js';
import { createApiFixture, seedStoredMember, type ApiFixture, type SeededStoredMember } from './api-fixture.js';

/**
 * Unassigning a user takes back the download links they were given: each
 * fetch of a link checks the user's current assignment, and the unassignment
 * deletes their tickets. Only a storage SAS (whole-blob files over the proxy
 * limit) outlives an unassignment, for at most its shorter lifetime.
 */
let f: ApiFixture;
let api: Api;
let stored: SeededStoredMember;
let clock = new Date('2026-02-01T09:00:00.000Z');
const CASE = 'CASE-R';

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  f.deps.now = () => clock;
  api = createApi(f.deps);
  stored = await seedStoredMember(f, CASE);
  await f.access.assign(CASE, 'sam', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

beforeEach(async () => {
  await f.access.assign(CASE, 'erin', { by: 'setup', role: null });
});

async function as(user: string, roles: Role[], method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const token = await f.token(user, roles);
  return api.handle({ method, path, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` }, ...(body ? { body } : {}) });
}

async function linkFor(fileId: string): Promise<string> {
  const res = await as('erin', ['examiner'], 'GET', `/cases/${CASE}/files/${fileId}/download`);
  expect(res.status).toBe(200);
  const body = downloadSchema.parse(res.body);
  expect(body.kind).toBe('api-ticket');
  return body.url;
}

/** Fetches an API link the way a browser would: no token, only the URL. */
async function fetchLink(url: string): Promise<{ status: number; bytes: Buffer }> {
  const u = new URL(url, 'http://api.invalid');
  const res = await api.handle({ method: 'GET', path: u.pathname.replace(/^\/api/, ''), query: u.searchParams, headers: {} });
  if (res.status !== 200) return { status: res.status, bytes: Buffer.alloc(0) };
  const chunks: Buffer[] = [];
  if (Buffer.isBuffer(res.body)) chunks.push(res.body);
  else for await (const c of res.body as Readable) chunks.push(c as Buffer);
  return { status: 200, bytes: Buffer.concat(chunks) };
}

describe('a download link after its user is unassigned', () => {
  it('fails at once, also if they are assigned again; a new link works', async () => {
    const url = await linkFor(stored.memberFileId);
    expect((await fetchLink(url)).bytes.equals(stored.memberBytes)).toBe(true);

    expect((await as('sam', ['supervisor'], 'DELETE', `/cases/${CASE}/assignments/erin`)).status).toBe(204);
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const after = await fetchLink(url);
    expect(after.status).toBe(401);
    // Refused before any evidence was read or any download recorded.
    expect(f.touched.filter((t) => t.startsWith('blobs.'))).toEqual([]);
    expect(f.custodyEvents.filter((e) => e.action === 'download')).toEqual([]);

    expect((await as('sam', ['supervisor'], 'POST', `/cases/${CASE}/assignments`, { user: 'erin' })).status).toBe(201);
    expect((await fetchLink(url)).status).toBe(401);
    expect((await fetchLink(await linkFor(stored.memberFileId))).status).toBe(200);
  });

  it('is checked against the current assignment on every fetch: narrowed to a role that may not download, it is refused', async () => {
    const url = await linkFor(stored.memberFileId);
    expect((await as('sam', ['supervisor'], 'POST', `/cases/${CASE}/assignments`, { user: 'erin', role: 'investigator' })).status).toBe(200);
    expect((await fetchLink(url)).status).toBe(403);
    expect((await as('sam', ['supervisor'], 'POST', `/cases/${CASE}/assignments`, { user: 'erin', role: null })).status).toBe(200);
    expect((await fetchLink(url)).status).toBe(200);
  });

  // Regression: the link was stored after the access check, unconditionally. An unassignment that landed
  // between the two (it deletes the user's links) left the new one standing, and assigning the user again
  // within its lifetime brought it back to life, which is what deleting the links is there to prevent.
  it('download-link-issued-during-unassignment-revived-by-reassignment', async () => {
    const racing = new Proxy(f.access, {
      get(target, prop, receiver) {
        if (prop === 'issueDownloadTicket') {
          return async (ticket: Parameters<typeof f.access.issueDownloadTicket>[0]) => {
            // The supervisor's unassignment commits between the access check and the link being stored.
            await f.access.unassign(CASE, 'erin', { by: 'sam' });
            return target.issueDownloadTicket(ticket);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const racingApi = createApi({ ...f.deps, access: racing });
    const token = await f.token('erin', ['examiner']);
    const issued = await racingApi.handle({ method: 'GET', path: `/cases/${CASE}/files/${stored.memberFileId}/download`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
    await f.access.assign(CASE, 'erin', { by: 'sam', role: null });
    // No link outlives the unassignment: none is handed out (the caller is not assigned when it would be stored)…
    expect(issued.status).toBe(404);
    // …and none is left in the store for the assignment that follows.
    const { rows } = await f.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM download_tickets WHERE case_id = $1 AND user_name = $2', [CASE, 'erin']);
    expect(rows[0]!.n).toBe(0);
  });

  it('ends when it expires', async () => {
    const url = await linkFor(stored.memberFileId);
    clock = new Date(clock.getTime() + API_LIMITS.downloadUrlTtlMs - 1);
    expect((await fetchLink(url)).status).toBe(200);
    clock = new Date(clock.getTime() + 1);
    expect((await fetchLink(url)).status).toBe(401);
  });
});

describe('repeated fetches of a download link', () => {
  it('are each recorded, under the user the link was issued to', async () => {
    const url = await linkFor(stored.memberFileId);
    f.custodyEvents.length = 0;
    for (let i = 0; i < 3; i += 1) expect((await fetchLink(url)).status).toBe(200);
    const downloads = f.custodyEvents.filter((e) => e.action === 'download');
    expect(downloads).toHaveLength(3);
    for (const e of downloads) {
      expect(e).toMatchObject({ actor: 'erin', caseId: CASE, subject: { fileId: stored.memberFileId }, details: { delivery: 'stream', authKind: 'ticket' } });
    }
    expect(new Set(downloads.map((e) => e.details.ticketId)).size).toBe(1);
  });
});

describe('a storage SAS (whole-blob files over the proxy limit)', () => {
  it('cannot be revoked: its worst-case window after an unassignment is its lifetime, downloadSasTtlMs', async () => {
    f.deps.downloadSasOverBytes = 0;
    try {
      const issuedAt = clock.getTime();
      const res = await as('erin', ['examiner'], 'GET', `/cases/${CASE}/files/${stored.rootFileId}/download`);
      const body = downloadSchema.parse(res.body);
      expect(body.kind).toBe('storage-sas');
      expect(Date.parse(body.expiresAt) - issuedAt).toBe(API_LIMITS.downloadSasTtlMs);
      expect(API_LIMITS.downloadSasTtlMs).toBeLessThan(API_LIMITS.downloadUrlTtlMs);
      // The signed expiry (storage's clock, not the injected one) is no later than that lifetime from now.
      const signedExpiry = Date.parse(new URL(body.url).searchParams.get('se')!);
      expect(signedExpiry).toBeLessThanOrEqual(Date.now() + API_LIMITS.downloadSasTtlMs + API_LIMITS.tokenClockToleranceSec * 1000);
      expect((await as('sam', ['supervisor'], 'DELETE', `/cases/${CASE}/assignments/erin`)).status).toBe(204);
      // Storage still honours it until then: that is the documented window.
      expect((await fetch(body.url)).status).toBe(200);
    } finally {
      delete f.deps.downloadSasOverBytes;
    }
  });
});
