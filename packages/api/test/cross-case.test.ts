import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { derivedNames, memberFileId, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest, RouteDef } from '../src/api.types.js';
import { createApiFixture, seedCase, seedLooseFiles, seedStoredMember, type ApiFixture, type SeededCase, type SeededLooseFile, type SeededStoredMember } from './api-fixture.js';

/**
 * No response for one case carries anything of another case, even when the two
 * hold the same content (identical content is analysed once, in one `contents`
 * row, whose source is wherever it was first seen).
 *
 * Regression: case B's investigator saw `content.source.name` = `<case A>/…/stored.zip`,
 * the name of another case's evidence, in the file view and in search.
 *
 * Generated from the route table: every case-scoped route is called for case B
 * by a caller assigned to B in every role the route allows, and the response
 * (JSON or bytes) must not contain any identifier of case A.
 */
let f: ApiFixture;
let api: Api;
let a: SeededStoredMember;
let b: SeededCase;
/** Case B's occurrence of the content case A holds in place inside its archive. */
let sharedFileId: string;
/** A video case A holds as an upload of its own, and case B's occurrence of it: the playback routes answer only for video and audio. */
let aVideo: SeededLooseFile;
let sharedVideoFileId: string;

const CASE_A = 'ALPHA-CASE-7Q';
const EVIDENCE_A = 'ALPHA-EX-9Z';
const CASE_B = 'BRAVO-CASE-3K';
const EVIDENCE_B = 'BRAVO-EX-5M';
const EVIDENCE_A_VIDEO = 'ALPHA-VID-4W';

/**
 * Case B's archive member `entryIndex`, at `recordedName` in it, holding `bytes` (whose SHA-256 is `sha256`) as a
 * deflated member's copy in derived/: the content a case A file holds, seen again in case B. Its file id.
 */
async function copyIntoCaseB(entryIndex: number, recordedName: string, bytes: Buffer, sha256: string): Promise<string> {
  const copy = { container: f.deps.containers.derived, name: derivedNames.content(sha256) };
  await f.blobs.upload(copy, bytes, { contentType: 'application/octet-stream' });
  const fileId = memberFileId(b.rootFileId, entryIndex);
  const name = recordedName.split('/').pop()!;
  await f.index.insertFiles([
    {
      fileId,
      caseId: CASE_B,
      evidenceId: EVIDENCE_B,
      parentId: b.rootFileId,
      entryIndex,
      depth: 1,
      path: `phone.zip!/${recordedName}`,
      recordedName,
      name,
      extension: name.split('.').pop()!,
      entryKind: 'file',
      size: bytes.length,
      sha256,
      source: copy,
      archiveTimes: {},
      flags: [],
      stage: 'pending',
      failure: null,
    },
  ]);
  await f.index.advanceFile(fileId, 'indexed');
  return fileId;
}

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  a = await seedStoredMember(f, CASE_A, EVIDENCE_A);
  b = await seedCase(f, CASE_B, EVIDENCE_B);
  // B's archive holds the same bytes as A's stored member, copied out to derived/ as a
  // deflated member would be: same SHA-256, so the one contents row (source: A's archive) serves both.
  sharedFileId = await copyIntoCaseB(7, 'Pictures/same.jpg', a.memberBytes, a.memberSha256);
  const thumbnail = { container: f.deps.containers.derived, name: derivedNames.thumbnail(a.memberSha256, 't320q80') };
  await f.blobs.upload(thumbnail, Buffer.from([0xff, 0xd8, 0xff, 0xdb, 1, 2, 3]), { contentType: 'image/jpeg' });
  // An embedded EXIF preview too, so the preview route has something of the shared content to answer with.
  const preview = { container: f.deps.containers.derived, name: derivedNames.embeddedPreview(a.memberSha256) };
  await f.blobs.upload(preview, Buffer.from([0xff, 0xd8, 0xff, 0xdb, 4, 5, 6]), { contentType: 'image/jpeg' });
  await f.index.setThumbnail(a.memberSha256, { status: 'done', blob: thumbnail, source: 'image', preview, tools: [{ name: 'sharp', version: '0.34.0' }] });
  // The same for a video (its contents row's source is A's upload), for the playback routes.
  [aVideo] = (await seedLooseFiles(f, CASE_A, [
    { evidenceId: EVIDENCE_A_VIDEO, fileName: 'alpha-clip.webm', bytes: Buffer.from(`webm stand-in of ${CASE_A}`), mime: 'video/webm', detectedExt: 'webm', kind: 'video' },
  ])) as [SeededLooseFile];
  sharedVideoFileId = await copyIntoCaseB(8, 'Movies/same.webm', aVideo.bytes, aVideo.sha256);
  expect((await f.index.getContent(aVideo.sha256))?.source.name).toBe(aVideo.blobName);
  const content = await f.index.getContent(a.memberSha256);
  // The premise: the shared row points into case A's archive.
  expect(content?.source.name).toBe(a.blobName);
});

afterAll(async () => {
  await f?.dispose();
});

/** Everything that names case A: ids, blob names, file ids, its archive's name. */
function caseAIdentifiers(): string[] {
  return [CASE_A, EVIDENCE_A, a.blobName, a.rootFileId, a.memberFileId, 'stored.zip', 'IMG_0002.jpg', EVIDENCE_A_VIDEO, aVideo.blobName, aVideo.fileId, 'alpha-clip.webm'];
}

let uploads = 0;
let tags = 0;
/** Routes on a tag or an export of case B get one made first, by the same user, through the API. */
async function requestFor(route: RouteDef, token: string): Promise<{ path: string; query?: URLSearchParams; body?: unknown } | null> {
  let path = route.path
    .replace('{caseId}', CASE_B)
    .replace('{evidenceId}', EVIDENCE_B)
    // The playback routes answer only for video and audio (409 for a photo): they get B's occurrence of A's video.
    .replace('{fileId}', /\/playback(-link)?$/.test(route.path) ? sharedVideoFileId : sharedFileId)
    .replace('{sha256}', a.memberSha256)
    .replace('{user}', 'visitor');
  const auth = { authorization: `Bearer ${token}` };
  if (path.includes('{tagId}')) {
    const made = await api.handle({
      method: 'POST',
      path: `/cases/${CASE_B}/tags`,
      query: new URLSearchParams(),
      headers: { ...auth, 'content-type': 'application/json' },
      body: { fileId: sharedFileId, tag: `setup-${++tags}` },
    } as ApiRequest);
    expect(made.status, text(made.body)).toBe(201);
    path = path.replace('{tagId}', (made.body as { tag: { tagId: string } }).tag.tagId);
  }
  if (path.includes('{exportId}')) {
    const made = await api.handle({ method: 'GET', path: `/cases/${CASE_B}/export`, query: new URLSearchParams({ format: 'json' }), headers: auth } as ApiRequest);
    expect(made.status).toBe(200);
    await drain(made.body);
    path = path.replace('{exportId}', String(made.headers?.['x-exhibit-export-id']));
  }
  if (path.includes('{')) throw new Error(`route ${route.method} ${route.path} has a parameter this test does not fill: add it`);
  if (route.method === 'POST' && route.path.endsWith('/assignments')) return { path, body: { user: 'visitor', role: 'investigator' } };
  // Removing a name that holds no assignment is a 404 (nothing changed): remove a real one.
  if (route.method === 'DELETE' && route.path.endsWith('/assignments/{user}')) await f.access.assign(CASE_B, 'visitor', { by: 'setup' });
  if (route.method === 'POST' && route.path.endsWith('/uploads')) return { path, body: { evidenceId: EVIDENCE_B, fileName: `upload-${++uploads}.bin`, size: 3 } };
  if (route.method === 'GET' && route.path.endsWith('/files')) return { path, query: new URLSearchParams({ limit: '500' }) };
  if (route.method === 'POST' && route.path.endsWith('/tags')) return { path, body: { fileId: sharedFileId, tag: `checked-${++tags}`, note: 'seen' } };
  if (route.method === 'PATCH' && route.path.endsWith('/tags/{tagId}')) return { path, body: { note: 'changed' } };
  return { path };
}

function text(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (Buffer.isBuffer(body)) return body.toString('latin1');
  if (typeof body === 'object' && typeof (body as { pipe?: unknown }).pipe === 'function') return '(stream)';
  return JSON.stringify(body);
}

async function drain(body: unknown): Promise<string> {
  if (body && typeof body === 'object' && Symbol.asyncIterator in (body as object)) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('latin1');
  }
  return text(body);
}

describe('no cross-case data in any response', () => {
  it('every case-scoped route, for every role it allows, answers case B with nothing of case A', async () => {
    const caseScoped = api.routes.filter((r) => r.access !== 'public' && r.access.caseScoped);
    expect(caseScoped.length).toBeGreaterThan(8);
    const checked: string[] = [];
    for (const route of caseScoped) {
      if (route.access === 'public') continue;
      for (const role of route.access.roles as Role[]) {
        const user = `b-${role}`;
        await f.access.assign(CASE_B, user, { by: 'setup' });
        const token = await f.token(user, [role]);
        const req = await requestFor(route, token);
        if (!req) continue;
        const res = await api.handle({
          method: route.method,
          path: req.path,
          query: req.query ?? new URLSearchParams(),
          headers: { authorization: `Bearer ${token}`, ...(req.body ? { 'content-type': 'application/json' } : {}) },
          ...(req.body ? { body: req.body } : {}),
        } as ApiRequest);
        // This fixture records custody into a list, not the custody index that an export's record is
        // read back from, so that one route answers 404 here (its 200 is tested in review-routes.test.ts
        // against a real log); its body is still checked for case A below.
        const expectedMissing = route.path.endsWith('/exports/{exportId}') && res.status === 404;
        if (!expectedMissing) expect(res.status, `${route.method} ${route.path} as ${role}: ${text(res.body).slice(0, 300)}`).toBeLessThan(400);
        // A file's bytes (thumbnail, content) are the shared content itself, which here happens to
        // hold case A's name as text: the bytes are the same for both cases, so only what the API
        // says about them (JSON bodies, headers) is checked.
        const binary = Buffer.isBuffer(res.body) || (res.body !== null && typeof res.body === 'object' && Symbol.asyncIterator in (res.body as object));
        const seen = (binary ? '' : await drain(res.body)) + JSON.stringify(res.headers ?? {});
        if (binary) await drain(res.body);
        for (const id of caseAIdentifiers()) {
          expect(seen.includes(id), `${route.method} ${route.path} as ${role} names case A (${id}): ${seen.slice(0, 400)}`).toBe(false);
        }
        checked.push(`${route.method} ${route.path} ${role}`);
      }
    }
    // The routes that carry content are among those checked.
    expect(checked.some((c) => c.startsWith('GET /cases/{caseId}/files/{fileId} '))).toBe(true);
    expect(checked.some((c) => c.startsWith('GET /cases/{caseId}/files '))).toBe(true);
  });

  it("shows case B's own source for the shared content, where its bytes are for case B", async () => {
    await f.access.assign(CASE_B, 'b-reader', { by: 'setup' });
    const token = await f.token('b-reader', ['investigator']);
    const res = await api.handle({
      method: 'GET',
      path: `/cases/${CASE_B}/files/${sharedFileId}`,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body = res.body as { file: { source: unknown }; content: { source: unknown; sha256: string } };
    expect(body.content.sha256).toBe(a.memberSha256);
    expect(body.content.source).toEqual(body.file.source);
  });
});

describe('exports stay in their case', () => {
  // Regression: the JSON export wrote each row's content as the index holds it, whose source is where
  // the bytes were first seen: case A's archive `ALPHA-CASE-7Q/ALPHA-EX-9Z/stored.zip`, in case B's report.
  it('export-json-names-other-case-source', async () => {
    await f.access.assign(CASE_B, 'b-exporter', { by: 'setup' });
    const token = await f.token('b-exporter', ['investigator']);
    for (const format of ['json', 'csv', 'html']) {
      const res = await api.handle({
        method: 'GET',
        path: `/cases/${CASE_B}/export`,
        query: new URLSearchParams({ format, hash: a.memberSha256 }),
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, format).toBe(200);
      const body = await drain(res.body);
      // The shared content is in the report (the premise), by its hash.
      expect(body, format).toContain(a.memberSha256);
      for (const id of caseAIdentifiers()) expect(body.includes(id), `${format} export names case A (${id})`).toBe(false);
      if (format === 'json') {
        const items = (JSON.parse(body) as { items: Array<{ file: { fileId: string; source: unknown }; content: { source: unknown } }> }).items;
        expect(items.map((i) => i.file.fileId)).toEqual([sharedFileId]);
        // The content as case B holds it: its own copy.
        expect(items[0]!.content.source).toEqual(items[0]!.file.source);
      }
    }
  });
});

describe('download links stay in their case', () => {
  it("a link to case B's file opens nothing of case A, even for a user assigned to both", async () => {
    const user = 'both-cases-examiner';
    await f.access.assign(CASE_A, user, { by: 'setup' });
    await f.access.assign(CASE_B, user, { by: 'setup' });
    const token = await f.token(user, ['examiner']);
    const issued = await api.handle({
      method: 'GET',
      path: `/cases/${CASE_B}/files/${sharedFileId}/download`,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
    });
    expect(issued.status).toBe(200);
    const link = new URL((issued.body as { url: string }).url, 'http://api.invalid');
    expect(link.pathname).not.toContain(CASE_A);
    for (const path of [`/cases/${CASE_A}/files/${a.memberFileId}/content`, `/cases/${CASE_A}/files/${sharedFileId}/content`]) {
      const res = await api.handle({ method: 'GET', path, query: link.searchParams, headers: {} });
      expect(res.status, path).toBe(401);
    }
    const own = await api.handle({ method: 'GET', path: link.pathname.replace(/^\/api/, ''), query: link.searchParams, headers: {} });
    expect(own.status).toBe(200);
    await drain(own.body);
  });
});
