import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
import { callAs, createApiFixture, type ApiFixture } from './api-fixture.js';

/**
 * The longest names registration takes: ids of 64 characters and a file name of
 * 255 (the API's limit), here random CJK, 3 bytes of UTF-8 a character, which a
 * b-tree cannot compress. upload_registrations and image_segment_manifests are
 * keyed by the blob name itself: this is the bound that keeps their index rows
 * (903 and 907 bytes measured, docs/operations.md "Name lengths") under 2,704.
 */
let f: ApiFixture;
let api: Api;
const CASE = `C${'c'.repeat(63)}`;
const EVIDENCE = `E${'e'.repeat(63)}`;

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  await f.access.assign(CASE, 'erin', { by: 'setup', role: 'examiner' });
});

afterAll(async () => {
  await f?.dispose();
});

const cjk = (chars: number) => Array.from({ length: chars }, () => String.fromCodePoint(0x4e00 + Math.floor(Math.random() * 20_000))).join('');
const call = (user: string, roles: Role[], req: Partial<ApiRequest> & { path: string }) => callAs(f, api, user, roles, req);
const register = (body: Record<string, unknown>) => call('erin', ['examiner'], { method: 'POST', path: `/cases/${CASE}/uploads`, body: { evidenceId: EVIDENCE, ...body } });

describe('registration at the longest names it takes', () => {
  it('registers a 255-character incompressible file name under 64-character ids, with its segment manifest', async () => {
    const stem = cjk(251);
    const segments = ['E01', 'E02'].map((ext, i) => ({ fileName: `${stem}.${ext}`, size: 1000 - i }));
    expect(segments[0]!.fileName).toHaveLength(255);
    const res = await register({ fileName: segments[0]!.fileName, size: 1000, segments });
    expect(res.status, JSON.stringify(res.json).slice(0, 300)).toBe(201);
    const blobName = `${CASE}/${EVIDENCE}/${segments[0]!.fileName}`;
    expect(Buffer.byteLength(blobName)).toBe(64 + 1 + 64 + 1 + 251 * 3 + 4);
    expect((await f.access.getUploadRegistration(blobName))?.fileName).toBe(segments[0]!.fileName);
    expect((await f.index.getSegmentManifest(blobName)).map((s) => s.fileName)).toEqual(segments.map((s) => s.fileName));
    expect((await register({ fileName: segments[0]!.fileName, size: 1000, segments })).status).toBe(200);
  });

  it('refuses a file name of 256 characters with a 400 naming the field, before anything is written', async () => {
    const fileName = cjk(256);
    const res = await register({ fileName, size: 1 });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toMatch(/fileName/);
    expect(await f.access.getUploadRegistration(`${CASE}/${EVIDENCE}/${fileName}`)).toBeNull();
  });
});
