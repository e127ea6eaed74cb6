import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { memberFileId, type Role } from '@exhibit/core';
import { HashSetStore } from '@exhibit/index';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest, ApiResponse } from '../src/api.types.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { evidenceStatusSchema } from '../src/response-schemas.js';
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/** What the routes return and record, against a real index and blob storage. */
let f: ApiFixture;
let api: Api;
let seed: SeededCase;
let other: SeededCase;
const tokenCache = new Map<string, string>();

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  seed = await seedCase(f, 'CASE-1');
  // A second evidence item in the same case: case-wide actions reach both logs.
  await seedCase(f, 'CASE-1', 'EX02');
  other = await seedCase(f, 'CASE-2');
  await f.access.assign('CASE-1', 'erin', { by: 'setup' });
  await f.access.assign('CASE-1', 'ivan', { by: 'setup' });
  await f.access.assign('CASE-1', 'sam', { by: 'setup' });
  await f.access.assign('CASE-2', 'olga', { by: 'setup' });
  // Holds two roles in the token but is on this case as investigator only.
  await f.access.assign('CASE-1', 'nora', { by: 'setup', role: 'investigator' });
});

afterAll(async () => {
  await f?.dispose();
});

async function as(user: string, roles: Role[]): Promise<string> {
  const k = `${user}:${roles.join(',')}`;
  if (!tokenCache.has(k)) tokenCache.set(k, await f.token(user, roles));
  return tokenCache.get(k)!;
}

async function call(req: Partial<ApiRequest> & { path: string }, bearer?: string): Promise<ApiResponse & { json: any; bytes?: Buffer }> {
  const headers: Record<string, string | undefined> = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await api.handle({ method: 'GET', query: new URLSearchParams(), headers, ...req });
  if (res.body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return { ...res, json: undefined, bytes: Buffer.concat(chunks) };
  }
  return { ...res, json: res.body };
}

const examiner = () => as('erin', ['examiner']);

describe('not found means the same thing for everyone', () => {
  it('answers an unassigned case, a missing case, a missing file and another case\'s file identically', async () => {
    const responses = [
      await call({ path: `/cases/CASE-2/evidence` }, await examiner()),
      await call({ path: `/cases/NO-SUCH-CASE/evidence` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/f${'0'.repeat(31)}` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/${other.photoFileId}` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/${other.photoFileId}/thumbnail` }, await examiner()),
      await call({ path: `/cases/CASE-1/evidence/NOPE/status` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/${seed.noThumbnailFileId}/thumbnail` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/${other.photoFileId}/embedded-preview` }, await examiner()),
      await call({ path: `/cases/CASE-1/files/${seed.noThumbnailFileId}/embedded-preview` }, await examiner()),
    ];
    for (const r of responses) {
      expect(r.status).toBe(404);
      expect(r.json).toEqual(NOT_FOUND_BODY);
      expect(Object.keys(r.headers ?? {}).sort()).toEqual(['cache-control', 'x-request-id']);
    }
  });

  it('does not validate parameters for a case the caller cannot see', async () => {
    const res = await call({ path: '/cases/CASE-2/files', query: new URLSearchParams('colour=red') }, await examiner());
    expect(res.status).toBe(404);
    const own = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams('colour=red&size=9') }, await examiner());
    expect(own.status).toBe(400);
    expect(own.json.error.details).toEqual({ unknown: ['colour', 'size'] });
  });
});

describe('cases and evidence', () => {
  it('lists only the caller\'s cases with evidence counts', async () => {
    const res = await call({ path: '/cases' }, await examiner());
    expect(res.status).toBe(200);
    expect(res.json.cases).toEqual([
      { caseId: 'CASE-1', role: null, assignedAt: expect.any(String), assigned: true, evidence: 2, files: 4, complete: expect.any(Boolean) },
    ]);
    const me = await call({ path: '/me' }, await as('nora', ['examiner', 'investigator']));
    expect(me.json).toMatchObject({ user: 'nora', roles: ['examiner', 'investigator'], authKind: 'local', cases: ['CASE-1'] });
  });

  it('lists evidence items and returns the status of one', async () => {
    const list = await call({ path: '/cases/CASE-1/evidence' }, await examiner());
    expect(list.json.items.map((i: { evidenceId: string }) => i.evidenceId)).toEqual(['EX01', 'EX02']);
    const status = await call({ path: '/cases/CASE-1/evidence/EX01/status' }, await examiner());
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ caseId: 'CASE-1', evidenceId: 'EX01', files: { total: 2 } });
    expect(status.json.uploads[0].blobName).toBe(seed.blobName);
  });
});

describe('search', () => {
  it('passes the filters to the index and records the search in every evidence item it covers', async () => {
    f.custodyEvents.length = 0;
    const res = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams('kind=image&make=canon&bbox=-44,-23,-43,-22&limit=1') }, await examiner());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0].content.metadata.gps).toEqual({ lat: -22.9068, lon: -43.1729 });
    expect(f.custodyEvents.map((e) => [e.action, e.actor, e.caseId, e.evidenceId])).toEqual([
      ['search', 'erin', 'CASE-1', 'EX01'],
      ['search', 'erin', 'CASE-1', 'EX02'],
    ]);
    expect(f.custodyEvents[0]!.details).toMatchObject({ query: { kind: 'image', make: 'canon', bbox: [-44, -23, -43, -22], limit: 1 }, total: 2, returned: 1 });

    f.custodyEvents.length = 0;
    const one = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams('evidenceId=EX02&path=img_0001') }, await examiner());
    expect(one.json.total).toBe(1);
    expect(one.json.items[0].file.evidenceId).toBe('EX02');
    expect(f.custodyEvents.map((e) => e.evidenceId)).toEqual(['EX02']);
  });

  it('finds by hash and never returns another case\'s files', async () => {
    const res = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams(`hash=${other.photoSha256.toUpperCase()}`) }, await examiner());
    expect(res.json.total).toBe(0);
  });

  it('finds by the first 12 hex digits of a SHA-256 (as the CLI prints it) and refuses fewer than 8 with a 400', async () => {
    const res = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams(`hash=${seed.photoSha256.slice(0, 12)}`) }, await examiner());
    expect(res.status).toBe(200);
    expect(res.json.items.map((i: { file: { fileId: string } }) => i.file.fileId)).toContain(seed.photoFileId);
    expect(res.json.items.every((i: { file: { sha256: string } }) => i.file.sha256.startsWith(seed.photoSha256.slice(0, 12)))).toBe(true);
    const short = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams(`hash=${seed.photoSha256.slice(0, 7)}`) }, await examiner());
    expect(short.status).toBe(400);
    expect(short.json.error.message).toMatch(/hash: must be 8 to 64 hex digits/);
  });

  it('pages by cursor into the whole result, and refuses a cursor altered or made for another search with a typed 400', async () => {
    const whole = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams('limit=500') }, await examiner());
    expect(whole.json).toMatchObject({ totalIsLowerBound: false, nextCursor: null });
    const all = whole.json.items.map((i: { file: { fileId: string } }) => i.file.fileId);
    expect(all.length).toBeGreaterThan(2);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const q: URLSearchParams = new URLSearchParams('limit=2');
      if (cursor) q.set('cursor', cursor);
      const page = await call({ path: '/cases/CASE-1/files', query: q }, await examiner());
      expect(page.status).toBe(200);
      expect(page.json.total).toBe(all.length);
      paged.push(...page.json.items.map((i: { file: { fileId: string } }) => i.file.fileId));
      cursor = page.json.nextCursor;
    } while (cursor && paged.length <= all.length);
    expect(paged).toEqual(all);

    const first = (await call({ path: '/cases/CASE-1/files', query: new URLSearchParams('limit=1') }, await examiner())).json.nextCursor as string;
    const body = JSON.parse(Buffer.from(first, 'base64url').toString('utf8'));
    const reasonOf = async (query: string) => {
      const res = await call({ path: '/cases/CASE-1/files', query: new URLSearchParams(query) }, await examiner());
      expect(res.status, query).toBe(400);
      return res.json.error.details?.cursor;
    };
    const forged = (change: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...body, ...change })).toString('base64url');
    expect(await reasonOf(`cursor=${forged({ k: 'zzz' })}`)).toBe('tampered');
    expect(await reasonOf(`cursor=${forged({ f: 'another-file' })}`)).toBe('tampered');
    expect(await reasonOf(`cursor=${first.slice(0, -3)}`)).toMatch(/malformed|tampered/);
    expect(await reasonOf('cursor=not%20a%20cursor')).toBe('malformed');
    expect(await reasonOf(`cursor=${forged({ v: 99 })}`)).toBe('unsupported-version');
    expect(await reasonOf(`cursor=${first}&sort=name`)).toBe('other-query');
    expect(await reasonOf(`cursor=${first}&kind=image`)).toBe('other-query');
    expect(await reasonOf(`cursor=${first}&offset=2`)).toBe('with-offset');
    // Another case's search, however intact the cursor: refused, never a page.
    await f.access.assign('CASE-2', 'erin', { by: 'test' });
    try {
      expect((await call({ path: '/cases/CASE-2/files', query: new URLSearchParams(`cursor=${first}`) }, await examiner())).json.error.details.cursor).toBe('other-query');
    } finally {
      await f.access.unassign('CASE-2', 'erin', { by: 'test' });
    }
  });
});

describe('search: long member paths', () => {
  /**
   * Regression long-member-path-cursor-refused: the cursor carried the whole
   * path, so a member path past ~9 KB (long names nested) gave a cursor this
   * API refused, and the gallery and `exhibit search --cursor` stopped paging.
   */
  it('long-member-path-cursor-refused: pages paths of 12 KB, 20 KB and CJK by cursor in path and name order, cursors under the limit', async () => {
    await seedCase(f, 'CASE-LONG');
    await f.access.assign('CASE-LONG', 'erin', { by: 'test' });
    const bases = [`phone.zip!/${'a/'.repeat(3000)}inner.zip!/${'b'.repeat(6000)}`, `phone.zip!/${'c/'.repeat(10_000)}`, `phone.zip!/${'写真/'.repeat(1000)}`];
    const rows = bases.flatMap((base, i) => ['1.jpg', '2.JPG', '2.jpg'].map((tail, j) => ({ r: [`long-${i}${j}`, `${base}${tail}`, j === 0 ? `${'名'.repeat(1400)}${tail}` : tail] })));
    await f.sql.query(
      `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, stage)
       SELECT r[1], 'CASE-LONG', 'EX01', 2, r[2], 'x', r[3], 'file', 'indexed' FROM jsonb_to_recordset($1::jsonb) AS x(r text[])`,
      [JSON.stringify(rows)],
    );
    const fileIds = (res: { json: any }) => res.json.items.map((i: { file: { fileId: string } }) => i.file.fileId) as string[];
    try {
      for (const sort of ['path', 'name']) {
        for (const order of ['asc', 'desc']) {
          const all = fileIds(await call({ path: '/cases/CASE-LONG/files', query: new URLSearchParams(`sort=${sort}&order=${order}&limit=500`) }, await examiner()));
          expect(all.length).toBeGreaterThanOrEqual(rows.length);
          const paged: string[] = [];
          let cursor: string | null = null;
          do {
            const q: URLSearchParams = new URLSearchParams(`sort=${sort}&order=${order}&limit=2`);
            if (cursor) q.set('cursor', cursor);
            const page = await call({ path: '/cases/CASE-LONG/files', query: q }, await examiner());
            expect(page.status, `${sort} ${order}`).toBe(200);
            paged.push(...fileIds(page));
            cursor = page.json.nextCursor;
            if (cursor) expect(cursor.length).toBeLessThanOrEqual(1024);
          } while (cursor && paged.length <= all.length);
          expect(paged, `${sort} ${order}`).toEqual(all);
        }
      }
      // A cursor naming its row alone, whose file is then gone: a typed 400, never an empty last page.
      const asc = fileIds(await call({ path: '/cases/CASE-LONG/files', query: new URLSearchParams('limit=500') }, await examiner()));
      const at = asc.findIndex((id) => id === 'long-10');
      const page = await call({ path: '/cases/CASE-LONG/files', query: new URLSearchParams(`limit=${at + 1}`) }, await examiner());
      expect(JSON.parse(Buffer.from(page.json.nextCursor, 'base64url').toString('utf8'))).not.toHaveProperty('k');
      await f.sql.query(`DELETE FROM files WHERE case_id = 'CASE-LONG' AND file_id = 'long-10'`);
      const gone = await call({ path: '/cases/CASE-LONG/files', query: new URLSearchParams(`limit=${at + 1}&cursor=${page.json.nextCursor}`) }, await examiner());
      expect(gone.status).toBe(400);
      expect(gone.json.error.details.cursor).toBe('position-gone');
    } finally {
      await f.access.unassign('CASE-LONG', 'erin', { by: 'test' });
    }
  });
});

describe('one file', () => {
  it('returns the file, its content and provenance up to the upload, and records the view', async () => {
    f.custodyEvents.length = 0;
    const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}` }, await as('ivan', ['investigator']));
    expect(res.status).toBe(200);
    expect(res.json.file).toMatchObject({ fileId: seed.photoFileId, path: 'phone.zip!/DCIM/IMG_0001.jpg' });
    expect(res.json.content).toMatchObject({ sha256: seed.photoSha256, mime: 'image/jpeg' });
    // Where the capture time came from, the modification time apart, the declared size apart from the real one.
    expect(res.json.content.metadata).toMatchObject({
      takenAt: { source: 'EXIF:DateTimeOriginal' },
      modifiedAt: { local: '2023-08-01T10:00:00', source: 'EXIF:ModifyDate' },
      width: 480,
      declaredWidth: 2272,
      findings: [{ flag: 'size-mismatch', detail: 'EXIF declares 2272x1704; the image is 480x360' }],
    });
    const { provenance } = res.json;
    expect(provenance.complete).toBe(true);
    expect(provenance.chain.map((l: { fileId: string; sha256: string }) => [l.fileId, l.sha256])).toEqual([
      [seed.photoFileId, seed.photoSha256],
      [seed.rootFileId, seed.rootSha256],
    ]);
    expect(provenance.chain[0].tools).toMatchObject({ metadata: [{ name: 'exifr', version: '7.1.3' }] });
    expect(provenance.upload).toMatchObject({ blobName: seed.blobName, hashes: { sha256: seed.rootSha256 }, acquisition: { examiner: 'DC Test' } });
    expect(f.custodyEvents).toEqual([
      expect.objectContaining({
        action: 'view',
        actor: 'ivan',
        caseId: 'CASE-1',
        evidenceId: 'EX01',
        subject: { fileId: seed.photoFileId, sha256: seed.photoSha256, blobName: expect.stringContaining(seed.photoSha256) },
      }),
    ]);
  });

  it('streams the thumbnail bytes from the derived container and records it', async () => {
    f.custodyEvents.length = 0;
    const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}/thumbnail` }, await examiner());
    expect(res.status).toBe(200);
    expect(res.headers?.['content-type']).toBe('image/jpeg');
    expect(res.bytes?.equals(seed.thumbnailBytes)).toBe(true);
    expect(f.custodyEvents.map((e) => e.action)).toEqual(['thumbnail-view']);
  });

  it('streams the embedded EXIF preview stored beside the thumbnail, records it as a thumbnail-view of the preview, and shows where it is', async () => {
    f.custodyEvents.length = 0;
    const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}/embedded-preview` }, await examiner());
    expect(res.status).toBe(200);
    expect(res.headers?.['content-type']).toBe('image/jpeg');
    expect(res.bytes?.equals(seed.previewBytes)).toBe(true);
    expect(f.custodyEvents.map((e) => [e.action, e.details.image])).toEqual([['thumbnail-view', 'embedded-preview']]);
    const detail = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}` }, await examiner());
    expect(detail.json.content.embeddedPreview).toEqual({ container: expect.any(String), name: expect.stringMatching(/^previews\/.+\.exif-ifd1\.jpg$/) });
  });

  it('hands out a short-lived, read-only link to exactly that file, and records the download without the link', async () => {
    f.custodyEvents.length = 0;
    const before = Date.now();
    const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}/download` }, await as('sam', ['supervisor']));
    expect(res.status).toBe(200);
    const expiresAt = Date.parse(res.json.expiresAt);
    expect(expiresAt - before).toBeGreaterThan(0);
    expect(expiresAt - before).toBeLessThanOrEqual(15 * 60_000 + 1000);
    expect(res.json).toMatchObject({ kind: 'api-ticket', range: null });
    const url = new URL(res.json.url, 'http://api.invalid');
    const path = url.pathname.replace(/^\/api/, '');
    const got = await call({ path, query: url.searchParams });
    expect(got.status).toBe(200);
    // Small files come back checked in full, as a Buffer.
    expect(Buffer.isBuffer(got.json) && got.json.equals(seed.photoBytes)).toBe(true);
    // Read-only: the link names a GET route and nothing else.
    expect((await call({ method: 'PUT', path, query: url.searchParams, body: 'overwritten' })).status).toBe(405);
    expect(f.custodyEvents.map((e) => [e.action, e.details.delivery])).toEqual([
      ['download', 'url'],
      ['download', 'stream'],
    ]);
    expect(f.custodyEvents[0]).toMatchObject({ action: 'download', actor: 'sam', subject: { fileId: seed.photoFileId }, details: { range: null } });
    expect(JSON.stringify(f.custodyEvents)).not.toContain(url.searchParams.get('ticket')!);
  });

  it('signs a storage SAS, read-only and for that blob, only for whole-blob files over the proxy limit', async () => {
    f.deps.downloadSasOverBytes = 0;
    try {
      f.custodyEvents.length = 0;
      const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}/download` }, await as('sam', ['supervisor']));
      expect(res.json.kind).toBe('storage-sas');
      const url = new URL(res.json.url);
      expect(url.searchParams.get('sp')).toBe('r');
      expect(url.searchParams.get('sr')).toBe('b');
      const got = await fetch(url);
      expect(Buffer.from(await got.arrayBuffer()).equals(seed.photoBytes)).toBe(true);
      const write = await fetch(url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwritten' });
      expect(write.status).toBe(403);
      expect((await (await fetch(url)).arrayBuffer()).byteLength).toBe(seed.photoBytes.length);
      expect(f.custodyEvents).toHaveLength(1);
      expect(JSON.stringify(f.custodyEvents[0])).not.toContain('sig=');
    } finally {
      delete f.deps.downloadSasOverBytes;
    }
  });

  it('lets an assignment narrow the roles of the token', async () => {
    const nora = await as('nora', ['examiner', 'investigator']);
    expect((await call({ path: `/cases/CASE-1/files/${seed.photoFileId}` }, nora)).status).toBe(200);
    const download = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}/download` }, nora);
    expect(download.status).toBe(403);
    // Assigned with a role the token does not hold: nothing is allowed.
    await f.access.assign('CASE-1', 'paul', { by: 'setup', role: 'supervisor' });
    expect((await call({ path: '/cases/CASE-1/evidence' }, await as('paul', ['examiner']))).status).toBe(403);
  });
});

describe('assignments', () => {
  it('assigns, changes, lists and removes, recording each change once per evidence item', async () => {
    const sup = await as('sam', ['supervisor']);
    f.custodyEvents.length = 0;
    const created = await call({ method: 'POST', path: '/cases/CASE-1/assignments', body: { user: 'quinn@example.org', role: 'investigator' } }, sup);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ changed: true, assignment: { user: 'quinn@example.org', role: 'investigator', assignedBy: 'sam' } });
    const again = await call({ method: 'POST', path: '/cases/CASE-1/assignments', body: { user: 'quinn@example.org', role: 'investigator' } }, sup);
    expect(again.status).toBe(200);
    expect(again.json.changed).toBe(false);
    const changed = await call({ method: 'POST', path: '/cases/CASE-1/assignments', body: { user: 'quinn@example.org' } }, sup);
    expect(changed.status).toBe(200);
    expect(changed.json.assignment.role).toBeNull();

    const list = await call({ path: '/cases/CASE-1/assignments' }, sup);
    expect(list.json.assignments.map((a: { user: string }) => a.user)).toContain('quinn@example.org');

    const removed = await call({ method: 'DELETE', path: `/cases/CASE-1/assignments/${encodeURIComponent('quinn@example.org')}` }, sup);
    expect(removed.status).toBe(204);
    expect(removed.body).toBeUndefined();
    // Again: nothing to remove, and the answer says so (no custody entry either).
    expect((await call({ method: 'DELETE', path: '/cases/CASE-1/assignments/quinn%40example.org' }, sup)).status).toBe(404);

    expect(f.custodyEvents.map((e) => [e.action, e.evidenceId, e.details.change])).toEqual([
      ['assignment-change', 'EX01', 'assigned'],
      ['assignment-change', 'EX02', 'assigned'],
      ['assignment-change', 'EX01', 'role-changed'],
      ['assignment-change', 'EX02', 'role-changed'],
      // The list is a read of the case (read-audit.test.ts covers those entries).
      ['read', 'EX01', undefined],
      ['read', 'EX02', undefined],
      ['assignment-change', 'EX01', 'unassigned'],
      ['assignment-change', 'EX02', 'unassigned'],
    ]);
    expect((await f.access.assignmentHistory('CASE-1')).filter((h) => h.user === 'quinn@example.org').map((h) => h.action)).toEqual([
      'assigned',
      'role-changed',
      'unassigned',
    ]);
  });

  it('lets an admin assign on a case with no evidence yet, and the assignee then sees it', async () => {
    const admin = await as('ada', ['admin']);
    const res = await call({ method: 'POST', path: '/cases/NEW-CASE/assignments', body: { user: 'erin' } }, admin);
    expect(res.status).toBe(201);
    expect((await call({ path: '/cases/NEW-CASE/evidence' }, await examiner())).json).toEqual({ caseId: 'NEW-CASE', items: [] });
    // The admin manages the case but does not see its data without an assignment.
    expect((await call({ path: '/cases/NEW-CASE/evidence' }, admin)).status).toBe(404);
  });

  it('rejects bad bodies and names the problems', async () => {
    const sup = await as('sam', ['supervisor']);
    const cases: Array<[unknown, RegExp]> = [
      [{ user: '' }, /user/],
      [{ user: 'x', role: 'owner' }, /role/],
      [{ user: 'x', extra: 1 }, /unknown body parameters: extra/],
      [{ user: 'line\nbreak' }, /user/],
      [undefined, /body/],
    ];
    for (const [body, message] of cases) {
      const res = await call({ method: 'POST', path: '/cases/CASE-1/assignments', ...(body === undefined ? {} : { body }) }, sup);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toMatch(message);
    }
  });
});

describe('requests that fit no route', () => {
  it('answers 404 for unknown paths and 405 with Allow for a wrong method', async () => {
    expect((await call({ path: '/nothing/here' })).json).toEqual(NOT_FOUND_BODY);
    const wrong = await call({ method: 'PUT', path: '/cases/CASE-1/assignments' }, await examiner());
    expect(wrong.status).toBe(405);
    expect(wrong.headers?.allow).toBe('GET, POST');
  });

  it('refuses a body on a route that takes none, and invalid path parameters', async () => {
    expect((await call({ path: '/me', body: { a: 1 } }, await examiner())).status).toBe(400);
    expect((await call({ path: '/cases/..%2F..%2Fetc/evidence' }, await examiner())).status).toBe(400);
  });
});

describe('evidence status: an archive whose unpack stopped', () => {
  it('lists the archive among the failures with its typed reason and how far it got, in the documented shape', async () => {
    const nestedId = memberFileId(other.rootFileId, 7);
    await f.index.insertFiles([
      {
        fileId: nestedId,
        caseId: 'CASE-2',
        evidenceId: 'EX01',
        parentId: other.rootFileId,
        entryIndex: 7,
        depth: 1,
        path: 'phone.zip!/backup.tar',
        recordedName: 'backup.tar',
        name: 'backup.tar',
        extension: 'tar',
        entryKind: 'file',
        size: 4096,
        sha256: other.rootSha256,
        source: null,
        archiveTimes: {},
        flags: [],
        stage: 'indexed',
        failure: null,
      },
    ]);
    await f.index.setUnpack(nestedId, 'pending');
    await f.index.setUnpack(nestedId, 'failed', 1, {
      code: 'corrupt-file',
      reason: 'truncated',
      detail: 'tar entry 1 ends before its declared 8589934591 bytes (the archive is truncated)',
      membersRecorded: 1,
      membersDeclared: null,
    });
    const status = await call({ path: '/cases/CASE-2/evidence/EX01/status' }, await as('olga', ['examiner']));
    expect(status.status).toBe(200);
    expect(evidenceStatusSchema.safeParse(status.json).success).toBe(true);
    expect(status.json.failures).toContainEqual({
      fileId: nestedId,
      path: 'phone.zip!/backup.tar',
      stage: 'unpack',
      code: 'corrupt-file',
      detail: 'tar entry 1 ends before its declared 8589934591 bytes (the archive is truncated)',
      archive: { reason: 'truncated', membersRecorded: 1, membersDeclared: null },
    });
  });
});

describe('known-file matches on the file detail', () => {
  it('lists the hash sets the content is in (set, version, kind, category, digest), after a re-match wrote their custody entries', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-api-known-'));
    const list = path.join(dir, 'series.csv');
    writeFileSync(list, `MD5;SHA256;Category\n;${seed.photoSha256};2\n`);
    const sets = new HashSetStore(f.sql, { custody: f.deps.custody, toolVersion: 'test' });
    f.custodyEvents.length = 0;
    try {
      const { set } = await sets.import(list, { name: 'Series', kind: 'notable', version: '3', categoryNames: { '2': 'Series B' }, importedBy: 'dc.smith' });
      // The re-match over the existing case wrote the match's custody entry for this file.
      expect(f.custodyEvents).toContainEqual(
        expect.objectContaining({ action: 'known-file-match', caseId: 'CASE-1', subject: { fileId: seed.photoFileId, sha256: seed.photoSha256 }, eventKey: `known:${seed.photoFileId}:${set.setId}` }),
      );
      const res = await call({ path: `/cases/CASE-1/files/${seed.photoFileId}` }, await as('ivan', ['investigator']));
      expect(res.status).toBe(200);
      expect(res.json.knownFileMatches).toEqual([
        { sha256: seed.photoSha256, setId: set.setId, name: 'Series', version: '3', kind: 'notable', category: 2, categoryName: 'Series B', matchedOn: 'sha256' },
      ]);
      const root = await call({ path: `/cases/CASE-1/files/${seed.rootFileId}` }, await as('ivan', ['investigator']));
      expect(root.json.knownFileMatches).toEqual([]);
    } finally {
      await sets.remove('Series');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
