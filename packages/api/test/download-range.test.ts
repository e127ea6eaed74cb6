import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRootLogger, derivedNames, rootFileId, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import { defineRoute, type Api, type ApiResponse } from '../src/api.types.js';
import { locateFileBytes } from '../src/file-bytes.js';
import { readVerifiedFile } from '../src/file-delivery.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { startHttpServer } from '../src/http-server.node.js';
import { downloadSchema, fileDetailSchema } from '../src/response-schemas.js';
import { createApiFixture, indexedMemberRow, seedCase, seedMemberWithWrongHash, seedStoredMember, type ApiFixture, type SeededCase, type SeededStoredMember } from './api-fixture.js';

/**
 * Files read in place: a ZIP member stored uncompressed has no blob of its
 * own, only a span of the evidence archive. Whoever downloads it must get
 * that span and not one byte more: the URL route signs a copy that holds only
 * the member, the content route streams only the span, and neither ever
 * hands out the archive.
 */
let f: ApiFixture;
let api: Api;
let stored: SeededStoredMember;
let elsewhere: SeededCase;

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  stored = await seedStoredMember(f, 'CASE-3');
  elsewhere = await seedCase(f, 'CASE-4');
  await f.access.assign('CASE-3', 'erin', { by: 'setup' });
  await f.access.assign('CASE-4', 'erin', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

async function call(
  path: string,
  roles: Role[] = ['examiner'],
  extra: { query?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse & { json: any }> {
  const token = await f.token('erin', roles);
  const res = await api.handle({
    method: 'GET',
    path,
    query: new URLSearchParams(extra.query ?? ''),
    headers: { authorization: `Bearer ${token}`, ...extra.headers },
  });
  return { ...res, json: res.body };
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A second occurrence of the stored member's span recorded with a SHA-256 its bytes do not have (a damaged or tampered index row). */
const memberWithWrongHash = (entryIndex: number) => seedMemberWithWrongHash(f, stored, entryIndex);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Fetches a download link as a browser would, without a token: an API link
 * (`/api/…?ticket=`) through the API, a storage SAS from storage.
 */
async function fetchLink(url: string): Promise<{ status: number; bytes: Buffer; body: unknown }> {
  if (url.startsWith('/api/')) {
    const u = new URL(url, 'http://api.invalid');
    const res = await api.handle({ method: 'GET', path: u.pathname.slice('/api'.length), query: u.searchParams, headers: {} });
    return { status: res.status, bytes: res.status === 200 ? await bodyBytes(res.body) : Buffer.alloc(0), body: res.body };
  }
  const res = await fetch(url);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), body: undefined };
}

describe('download URL of a member read in place', () => {
  it('is an API link that gives exactly the member, never the archive, and copies nothing', async () => {
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`);
    expect(res.status).toBe(200);
    const body = downloadSchema.parse(res.json);
    expect(stored.memberOffset).toBeGreaterThan(0);
    expect(body).toMatchObject({ kind: 'api-ticket', fileName: 'IMG_0002.jpg', size: stored.memberBytes.length, sha256: stored.memberSha256, range: null });
    expect(body.url).toMatch(new RegExp(`^/api/cases/CASE-3/files/${stored.memberFileId}/content\\?ticket=[A-Za-z0-9_-]{43}$`));
    // Issuing reads and writes no blob: the bytes are read, and checked, when the link is fetched.
    expect(f.touched.filter((t) => t.startsWith('blobs.'))).toEqual([]);
    const fetched = await fetchLink(body.url);
    expect(fetched.status).toBe(200);
    expect(fetched.bytes.equals(stored.memberBytes)).toBe(true);
    // Nothing of the archive around the member (its neighbour's text) comes through the link.
    expect(fetched.bytes.includes(Buffer.from('notes for CASE-3'))).toBe(false);
    expect(await f.blobs.exists({ container: f.deps.containers.derived, name: derivedNames.content(stored.memberSha256) })).toBe(false);
  });

  it('records the issue with the ticket id, and each fetch as a download of the span by the same user', async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`, ['supervisor']);
    expect(res.status).toBe(200);
    expect(f.custodyEvents).toHaveLength(1);
    const issued = f.custodyEvents[0]!;
    expect(issued).toMatchObject({ action: 'download', actor: 'erin', caseId: 'CASE-3', evidenceId: 'EX01' });
    // The archive's name next to the member's hash would read as the archive's hash.
    expect(issued.subject).toEqual({ fileId: stored.memberFileId, sha256: stored.memberSha256 });
    expect(issued.details).toMatchObject({ delivery: 'url', kind: 'api-ticket', range: null, authKind: 'local' });
    const ticketId = issued.details.issuedTicketId as string;
    expect(ticketId).toMatch(/^[0-9a-f]{16}$/);
    // The link itself is a bearer secret and is never recorded.
    const ticket = new URL(res.json.url as string, 'http://api.invalid').searchParams.get('ticket')!;
    expect(JSON.stringify(issued)).not.toContain(ticket);

    for (let i = 0; i < 2; i += 1) expect((await fetchLink(res.json.url)).status).toBe(200);
    const fetches = f.custodyEvents.slice(1);
    expect(fetches).toHaveLength(2);
    for (const e of fetches) {
      expect(e).toMatchObject({
        action: 'download',
        actor: 'erin',
        details: {
          delivery: 'stream',
          authKind: 'ticket',
          ticketId,
          roles: ['supervisor'],
          container: f.deps.containers.evidence,
          blobName: stored.blobName,
          range: { offset: stored.memberOffset, length: stored.memberBytes.length },
        },
      });
    }
  });

  it('fails the fetch, and records no download, when the span does not hash to the recorded SHA-256', async () => {
    const fileId = await memberWithWrongHash(21);
    const wrongSha = (await f.index.getFile(fileId))!.sha256!;
    const res = await call(`/cases/CASE-3/files/${fileId}/download`);
    expect(res.status).toBe(200);
    f.custodyEvents.length = 0;
    const fetched = await fetchLink(res.json.url);
    expect(fetched.status).toBe(500);
    expect(fetched.body).toMatchObject({ error: { code: 'hash-mismatch' } });
    expect(f.custodyEvents).toEqual([]);
    expect(await f.blobs.exists({ container: f.deps.containers.derived, name: derivedNames.content(wrongSha) })).toBe(false);
  });

  it('is good for that file only', async () => {
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`);
    const u = new URL(res.json.url as string, 'http://api.invalid');
    const other = await api.handle({
      method: 'GET',
      path: `/cases/CASE-3/files/${stored.rootFileId}/content`,
      query: u.searchParams,
      headers: {},
    });
    expect(other.status).toBe(401);
    const garbage = await api.handle({ method: 'GET', path: u.pathname.slice(4), query: new URLSearchParams({ ticket: 'x'.repeat(43) }), headers: {} });
    expect(garbage.status).toBe(401);
  });
});

describe('content of a member read in place', () => {
  it('is exactly the member: length, hash, headers; the archive around it is never sent', async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/content`);
    expect(res.status).toBe(200);
    const bytes = await bodyBytes(res.body);
    expect(bytes.equals(stored.memberBytes)).toBe(true);
    expect(sha256(bytes)).toBe(stored.memberSha256);
    expect(res.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(stored.memberBytes.length),
      'content-disposition': `attachment; filename="IMG_0002.jpg"; filename*=UTF-8''IMG_0002.jpg`,
      'x-exhibit-sha256': stored.memberSha256,
    });
    expect(f.custodyEvents).toHaveLength(1);
    expect(f.custodyEvents[0]!.details).toMatchObject({
      delivery: 'stream',
      container: f.deps.containers.evidence,
      blobName: stored.blobName,
      range: { offset: stored.memberOffset, length: stored.memberBytes.length },
      verifiedBeforeSend: true,
    });
  });

  it('cannot be widened: a Range is of the file and cut at its end, offsets and lengths in the query are refused', async () => {
    const ranged = await call(`/cases/CASE-3/files/${stored.memberFileId}/content`, ['examiner'], { headers: { range: `bytes=0-${stored.zipBytes.length}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers?.['content-range']).toBe(`bytes 0-${stored.memberBytes.length - 1}/${stored.memberBytes.length}`);
    expect((await bodyBytes(ranged.body)).equals(stored.memberBytes)).toBe(true);
    for (const query of ['offset=0', 'length=999999', `range=bytes%3D0-${stored.zipBytes.length}`, 'count=1']) {
      f.touched.length = 0;
      const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/content`, ['examiner'], { query });
      expect(res.status, query).toBe(400);
      expect(f.touched.filter((t) => t.startsWith('blobs.'))).toEqual([]);
    }
  });

  it('refuses a span whose bytes do not hash to the recorded SHA-256, before sending anything or recording a download', async () => {
    const fileId = await memberWithWrongHash(22);
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${fileId}/content`);
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ error: { code: 'hash-mismatch' } });
    expect(f.custodyEvents).toEqual([]);
  });

  it('is refused to investigators like the URL', async () => {
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/content`, ['investigator']);
    expect(res.status).toBe(403);
  });
});

describe('streamed check of a large file (verified as it goes)', () => {
  /** A route serving readVerifiedFile with the in-memory check switched off, as files over 16 MiB are served. */
  async function serveStreamed(fileId: string) {
    const file = (await f.index.getFile(fileId))!;
    const bytes = locateFileBytes(file, null)!;
    const module = [
      defineRoute({
        method: 'GET',
        path: '/streamed',
        operationId: 'streamed',
        summary: 'test',
        access: 'public',
        params: z.strictObject({}),
        query: z.strictObject({}),
        responses: { 200: { description: 'bytes', contentType: 'application/octet-stream' } },
        async handler() {
          const body = await readVerifiedFile(f.blobs, bytes, { length: file.size!, sha256: file.sha256! }, { verifyBeforeSendBytes: 0 });
          expect(Buffer.isBuffer(body)).toBe(false);
          return { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.size) }, body };
        },
      }),
    ];
    return startHttpServer(createApi(f.deps, { modules: [module] }), { host: '127.0.0.1', port: 0, logger: createRootLogger({ level: 'silent' }) });
  }

  it('sends exactly the span when it hashes right', async () => {
    const server = await serveStreamed(stored.memberFileId);
    try {
      const res = await fetch(`${server.url}/streamed`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(stored.memberBytes)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('cuts the connection short of Content-Length when it does not, so the client cannot take it for the file', async () => {
    const fileId = await memberWithWrongHash(23);
    const server = await serveStreamed(fileId);
    try {
      // The last chunk is held back until the hash is checked, so the connection closes before the body is complete: either
      // before the headers went out (a small file is one chunk) or part way through the body. Never a complete response.
      const outcome = await fetch(`${server.url}/streamed`).then(
        async (res) => {
          expect(res.headers.get('content-length')).toBe(String(stored.memberBytes.length));
          return res.arrayBuffer().then(
            (b) => `complete body of ${b.byteLength} bytes`,
            () => 'cut during the body',
          );
        },
        () => 'cut before the headers',
      );
      expect(['cut during the body', 'cut before the headers']).toContain(outcome);
    } finally {
      await server.close();
    }
  });
});

describe('the file a member sits in', () => {
  it('shows the offset wherever the source is shown: the file, its content and its provenance', async () => {
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}`);
    expect(res.status).toBe(200);
    const body = fileDetailSchema.parse(res.json);
    const span = { container: f.deps.containers.evidence, name: stored.blobName, offset: stored.memberOffset };
    expect(body.file.source).toEqual(span);
    expect(body.content?.source).toEqual(span);
    expect(body.provenance.chain[0]!.source).toEqual(span);
    expect(body.provenance.chain[1]!.source).toEqual({ container: f.deps.containers.evidence, name: stored.blobName });
    expect(body.provenance.complete).toBe(true);
  });

  it('links a file that is its whole blob through the API too', async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.rootFileId}/download`);
    expect(downloadSchema.parse(res.json)).toMatchObject({ kind: 'api-ticket', range: null });
    expect(f.custodyEvents[0]!.details).toMatchObject({ kind: 'api-ticket', range: null, delivery: 'url' });
    const whole = await fetchLink(res.json.url);
    expect(sha256(whole.bytes)).toBe(res.json.sha256);
  });

  it('signs a whole-blob file over the proxy limit with a storage SAS that expires sooner, and records the blob granted', async () => {
    f.deps.downloadSasOverBytes = stored.zipBytes.length - 1;
    try {
      f.custodyEvents.length = 0;
      const res = await call(`/cases/CASE-3/files/${stored.rootFileId}/download`);
      const body = downloadSchema.parse(res.json);
      expect(body.kind).toBe('storage-sas');
      const url = new URL(body.url);
      expect(url.searchParams.get('sp')).toBe('r');
      expect(decodeURIComponent(url.pathname)).toMatch(new RegExp(`/${f.deps.containers.evidence}/${stored.blobName}$`));
      expect(f.custodyEvents[0]!.details).toMatchObject({ kind: 'storage-sas', blobName: stored.blobName, range: null, delivery: 'url' });
      expect(JSON.stringify(f.custodyEvents[0])).not.toContain('sig=');
      expect(sha256((await fetchLink(body.url)).bytes)).toBe(body.sha256);
      // A member is never signed, whatever its size: its blob is the whole archive.
      f.deps.downloadSasOverBytes = 0;
      const member = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`);
      expect(downloadSchema.parse(member.json).kind).toBe('api-ticket');
    } finally {
      delete f.deps.downloadSasOverBytes;
    }
  });
});

describe("a file with no source of its own, whose content is a span", () => {
  /** An occurrence recorded with its hash but no source: its bytes are found through the content row. */
  async function occurrenceWithoutSource(caseId: string, evidenceId: string, parentId: string, entryIndex: number): Promise<string> {
    const fileId = `f${createHash('sha256').update(`${caseId}/${evidenceId}/${entryIndex}`).digest('hex').slice(0, 31)}`;
    await f.index.insertFiles([
      indexedMemberRow({ fileId, caseId, evidenceId, parentId, entryIndex, archiveName: 'x.zip', name: `copy-${entryIndex}.jpg`, size: stored.memberBytes.length, sha256: stored.memberSha256, source: null }),
    ]);
    return fileId;
  }

  it("uses the content's span when this evidence item holds that archive", async () => {
    const fileId = await occurrenceWithoutSource('CASE-3', 'EX01', stored.rootFileId, 7);
    const res = await call(`/cases/CASE-3/files/${fileId}/download`);
    expect(res.status).toBe(200);
    expect(res.json.range).toBeNull();
    expect((await fetchLink(res.json.url)).bytes.equals(stored.memberBytes)).toBe(true);
    const content = await call(`/cases/CASE-3/files/${fileId}/content`);
    expect((await bodyBytes(content.body)).equals(stored.memberBytes)).toBe(true);
  });

  it("never grants another case's archive, though the content is the same", async () => {
    const fileId = await occurrenceWithoutSource('CASE-4', elsewhere.evidenceId, rootFileId(elsewhere.blobName), 7);
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const res = await call(`/cases/CASE-4/files/${fileId}/download`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual(NOT_FOUND_BODY);
    const content = await call(`/cases/CASE-4/files/${fileId}/content`);
    expect(content.status).toBe(404);
    expect(f.touched).not.toContain('blobs.readUrl');
    expect(f.touched).not.toContain('blobs.openRead');
    expect(f.touched).not.toContain('blobs.upload');
    expect(f.custodyEvents).toEqual([]);
  });
});
