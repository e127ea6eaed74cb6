import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { rootFileId, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiResponse } from '../src/api.types.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { downloadSchema, fileDetailSchema } from '../src/response-schemas.js';
import { createApiFixture, seedCase, seedStoredMember, type ApiFixture, type SeededCase, type SeededStoredMember } from './api-fixture.js';

/**
 * Files read in place: a ZIP member stored uncompressed has no blob of its
 * own, only a span of the evidence archive. The download URL then grants the
 * archive, and the response and the custody log say which bytes are the file.
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

async function call(path: string, roles: Role[] = ['examiner']): Promise<ApiResponse & { json: any }> {
  const token = await f.token('erin', roles);
  const res = await api.handle({ method: 'GET', path, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
  return { ...res, json: res.body };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('download of a member read in place', () => {
  it("gives the archive's URL with the member's range, and the ranged bytes are exactly the file", async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.memberFileId}/download`);
    expect(res.status).toBe(200);
    const body = downloadSchema.parse(res.json);
    const range = { offset: stored.memberOffset, length: stored.memberBytes.length };
    expect(stored.memberOffset).toBeGreaterThan(0);
    expect(body).toMatchObject({ fileName: 'IMG_0002.jpg', size: stored.memberBytes.length, sha256: stored.memberSha256, range });

    const url = new URL(body.url);
    expect(url.searchParams.get('sp')).toBe('r');
    expect(decodeURIComponent(url.pathname)).toMatch(new RegExp(`/${f.deps.containers.evidence}/${stored.blobName}$`));
    const got = await fetch(url, { headers: { range: `bytes=${range.offset}-${range.offset + range.length - 1}` } });
    expect(got.status).toBe(206);
    const bytes = Buffer.from(await got.arrayBuffer());
    expect(sha256(bytes)).toBe(body.sha256);
    expect(bytes.equals(stored.memberBytes)).toBe(true);
    // What the URL grants without the header: the whole archive, as the description says.
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.equals(stored.zipBytes)).toBe(true);
  });

  it('records the container, blob and range granted, and does not name the archive as the subject blob', async () => {
    f.custodyEvents.length = 0;
    expect((await call(`/cases/CASE-3/files/${stored.memberFileId}/download`, ['supervisor'])).status).toBe(200);
    expect(f.custodyEvents).toHaveLength(1);
    const event = f.custodyEvents[0]!;
    expect(event).toMatchObject({ action: 'download', caseId: 'CASE-3', evidenceId: 'EX01' });
    // The archive's name next to the member's hash would read as the archive's hash.
    expect(event.subject).toEqual({ fileId: stored.memberFileId, sha256: stored.memberSha256 });
    expect(event.details).toMatchObject({
      container: f.deps.containers.evidence,
      blobName: stored.blobName,
      range: { offset: stored.memberOffset, length: stored.memberBytes.length },
    });
    expect(JSON.stringify(event)).not.toContain('sig=');
  });

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

  it("says null for a file that is its whole blob, and records that", async () => {
    f.custodyEvents.length = 0;
    const res = await call(`/cases/CASE-3/files/${stored.rootFileId}/download`);
    expect(downloadSchema.parse(res.json).range).toBeNull();
    expect(f.custodyEvents[0]!.details).toMatchObject({ blobName: stored.blobName, range: null });
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
    expect(res.json.range).toEqual({ offset: stored.memberOffset, length: stored.memberBytes.length });
  });

  it("never grants another case's archive, though the content is the same", async () => {
    const fileId = await occurrenceWithoutSource('CASE-4', elsewhere.evidenceId, rootFileId(elsewhere.blobName), 7);
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const res = await call(`/cases/CASE-4/files/${fileId}/download`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual(NOT_FOUND_BODY);
    expect(f.touched).not.toContain('blobs.readUrl');
    expect(f.custodyEvents).toEqual([]);
  });
});
