import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRootLogger, derivedNames, memberFileId, rootFileId, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import { defineRoute, type Api, type ApiResponse } from '../src/api.types.js';
import { locateFileBytes } from '../src/file-bytes.js';
import { materialiseMember, readVerifiedFile } from '../src/file-delivery.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { startHttpServer } from '../src/http-server.node.js';
import { downloadSchema, fileDetailSchema } from '../src/response-schemas.js';
import { createApiFixture, seedCase, seedStoredMember, type ApiFixture, type SeededCase, type SeededStoredMember } from './api-fixture.js';

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
async function memberWithWrongHash(entryIndex: number): Promise<string> {
  const fileId = memberFileId(stored.rootFileId, entryIndex);
  const wrong = createHash('sha256').update(`not the member ${entryIndex}`).digest('hex');
  await f.index.insertFiles([
    {
      fileId,
      caseId: 'CASE-3',
      evidenceId: 'EX01',
      parentId: stored.rootFileId,
      entryIndex,
      depth: 1,
      path: `stored.zip!/wrong-${entryIndex}.jpg`,
      recordedName: `wrong-${entryIndex}.jpg`,
      name: `wrong-${entryIndex}.jpg`,
      extension: 'jpg',
      entryKind: 'file',
      size: stored.memberBytes.length,
      sha256: wrong,
      source: { container: f.deps.containers.evidence, name: stored.blobName, offset: stored.memberOffset },
      archiveTimes: {},
      flags: [],
      stage: 'indexed',
      failure: null,
    },
  ]);
  return fileId;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('download URL of a member read in place', () => {
  it('signs a copy in derived/ that holds exactly the member, never the archive', async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`);
    expect(res.status).toBe(200);
    const body = downloadSchema.parse(res.json);
    expect(stored.memberOffset).toBeGreaterThan(0);
    expect(body).toMatchObject({ fileName: 'IMG_0002.jpg', size: stored.memberBytes.length, sha256: stored.memberSha256, range: null });

    const url = new URL(body.url);
    expect(url.searchParams.get('sp')).toBe('r');
    const signed = decodeURIComponent(url.pathname);
    expect(signed).toMatch(new RegExp(`/${f.deps.containers.derived}/${derivedNames.content(stored.memberSha256)}$`));
    expect(signed).not.toContain(stored.blobName);
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.equals(stored.memberBytes)).toBe(true);
    // A Range header asking for more than the member gets at most the member: the blob holds nothing else.
    const wide = await fetch(url, { headers: { range: `bytes=0-${stored.zipBytes.length * 2}` } });
    const wideBytes = Buffer.from(await wide.arrayBuffer());
    expect(wideBytes.equals(stored.memberBytes)).toBe(true);
    // Nothing of the archive around the member (its neighbour's text) is readable through the URL.
    expect(whole.includes(Buffer.from('notes for CASE-3'))).toBe(false);
  });

  it('records the blob granted and the span it was copied from; the copy is made once', async () => {
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    expect((await call(`/cases/CASE-3/files/${stored.memberFileId}/download`, ['supervisor'])).status).toBe(200);
    expect(f.touched).not.toContain('blobs.upload');
    expect(f.custodyEvents).toHaveLength(1);
    const event = f.custodyEvents[0]!;
    expect(event).toMatchObject({ action: 'download', caseId: 'CASE-3', evidenceId: 'EX01' });
    // The archive's name next to the member's hash would read as the archive's hash.
    expect(event.subject).toEqual({ fileId: stored.memberFileId, sha256: stored.memberSha256 });
    expect(event.details).toMatchObject({
      delivery: 'url',
      container: f.deps.containers.derived,
      blobName: derivedNames.content(stored.memberSha256),
      range: null,
      copiedFrom: {
        container: f.deps.containers.evidence,
        blobName: stored.blobName,
        range: { offset: stored.memberOffset, length: stored.memberBytes.length },
      },
      copyCreated: false,
    });
    expect(JSON.stringify(event)).not.toContain('sig=');
  });

  it('copies nothing, signs nothing and records nothing when the span does not hash to the recorded SHA-256', async () => {
    const fileId = await memberWithWrongHash(21);
    const wrongSha = (await f.index.getFile(fileId))!.sha256!;
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const res = await call(`/cases/CASE-3/files/${fileId}/download`);
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ error: { code: 'hash-mismatch' } });
    expect(f.touched).not.toContain('blobs.readUrl');
    expect(f.custodyEvents).toEqual([]);
    expect(await f.blobs.exists({ container: f.deps.containers.derived, name: derivedNames.content(wrongSha) })).toBe(false);
  });
});

describe('copying a member for a URL', () => {
  it('refuses a member too large to copy within a request, before reading or writing anything', async () => {
    const file = (await f.index.getFile(stored.memberFileId))!;
    const bytes = locateFileBytes(file, null)!;
    f.touched.length = 0;
    const err = await materialiseMember(f.deps.blobs, 'derived-never', bytes, { length: file.size!, sha256: file.sha256! }, { maxBytes: file.size! - 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'limit-exceeded', details: { size: file.size, maxBytes: file.size! - 1 } });
    expect(f.touched).toEqual(['blobs.getProperties']);
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

  it('cannot be widened: a Range header is ignored, offsets and lengths in the query are refused', async () => {
    const ranged = await call(`/cases/CASE-3/files/${stored.memberFileId}/content`, ['examiner'], { headers: { range: `bytes=0-${stored.zipBytes.length}` } });
    expect(ranged.status).toBe(200);
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

  it("signs a file that is its whole blob as it is, and records that", async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.rootFileId}/download`);
    expect(downloadSchema.parse(res.json).range).toBeNull();
    expect(f.custodyEvents[0]!.details).toMatchObject({ blobName: stored.blobName, range: null, delivery: 'url' });
    expect(f.custodyEvents[0]!.details).not.toHaveProperty('copiedFrom');
    const whole = Buffer.from(await (await fetch(res.json.url)).arrayBuffer());
    expect(sha256(whole)).toBe(res.json.sha256);
  });
});

describe("a file with no source of its own, whose content is a span", () => {
  /** An occurrence recorded with its hash but no source: its bytes are found through the content row. */
  async function occurrenceWithoutSource(caseId: string, evidenceId: string, parentId: string, entryIndex: number): Promise<string> {
    const fileId = `f${createHash('sha256').update(`${caseId}/${evidenceId}/${entryIndex}`).digest('hex').slice(0, 31)}`;
    await f.index.insertFiles([
      {
        fileId,
        caseId,
        evidenceId,
        parentId,
        entryIndex,
        depth: 1,
        path: `x.zip!/copy-${entryIndex}.jpg`,
        recordedName: `copy-${entryIndex}.jpg`,
        name: `copy-${entryIndex}.jpg`,
        extension: 'jpg',
        entryKind: 'file',
        size: stored.memberBytes.length,
        sha256: stored.memberSha256,
        source: null,
        archiveTimes: {},
        flags: [],
        stage: 'indexed',
        failure: null,
      },
    ]);
    return fileId;
  }

  it("uses the content's span when this evidence item holds that archive", async () => {
    const fileId = await occurrenceWithoutSource('CASE-3', 'EX01', stored.rootFileId, 7);
    const res = await call(`/cases/CASE-3/files/${fileId}/download`);
    expect(res.status).toBe(200);
    expect(res.json.range).toBeNull();
    expect(Buffer.from(await (await fetch(res.json.url)).arrayBuffer()).equals(stored.memberBytes)).toBe(true);
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
