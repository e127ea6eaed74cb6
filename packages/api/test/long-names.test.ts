import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import { API_LIMITS } from '../src/api-limits.js';
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

// Regression upload-custody-entry-over-limit-lost: a manifest of long names filling the 64 KiB body
// made the registration's custody entry larger than the custody log takes (64 KiB). The registration
// and manifest were written first, the entry refused (413), and a retry found both there and recorded
// nothing (200): the upload's custody entry was lost for good.
describe('a segment manifest of long names, through the real custody log', () => {
  const stem = cjk(251);
  const manifestOf = (n: number) => Array.from({ length: n }, (_, i) => ({ fileName: `${stem}.E${String(i + 1).padStart(2, '0')}`, size: 1000 }));
  const postAs = (evidenceId: string, segments: Array<{ fileName: string; size: number }>) =>
    callAs(f, createApi({ ...f.deps, custody: f.custodyLog }), 'erin', ['examiner'], {
      method: 'POST',
      path: `/cases/${CASE}/uploads`,
      body: { evidenceId, fileName: segments[0]!.fileName, size: 1000, segments },
    });
  const uploadEntries = async (evidenceId: string) => (await f.custodyLog.entries({ caseId: CASE, evidenceId, limit: 100 })).filter((e) => e.action === 'upload');

  it('is refused before anything is written when it would not fit in the custody entry, however often it is sent', async () => {
    // As many segments as the 64 KiB request body holds.
    const bodyOf = (segments: Array<{ fileName: string; size: number }>) => ({ evidenceId: 'BIGSET', fileName: segments[0]!.fileName, size: 1000, segments });
    let n = 2;
    while (Buffer.byteLength(JSON.stringify(bodyOf(manifestOf(n + 1)))) <= API_LIMITS.maxBodyBytes) n++;
    const segments = manifestOf(n);
    expect(Buffer.byteLength(JSON.stringify(bodyOf(segments)))).toBeGreaterThan(API_LIMITS.maxBodyBytes - 1_000);
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await postAs('BIGSET', segments);
      expect(res.status).toBe(413);
      expect(JSON.stringify(res.json)).toMatch(/custody entry/);
    }
    expect(await f.access.getUploadRegistration(`${CASE}/BIGSET/${segments[0]!.fileName}`)).toBeNull();
    expect(await f.index.getSegmentManifest(`${CASE}/BIGSET/${segments[0]!.fileName}`)).toEqual([]);
  });

  it('is registered with its custody entry at the largest manifest the limit takes', async () => {
    let n = 2;
    // The longest manifest whose entry fits: about 1 KiB under the limit for the rest of what the API measures.
    while (Buffer.byteLength(JSON.stringify(manifestOf(n + 1))) <= API_LIMITS.maxUploadCustodyBytes - 2_000) n++;
    const segments = manifestOf(n);
    const res = await postAs('MAXSET', segments);
    expect(res.status, JSON.stringify(res.json).slice(0, 300)).toBe(201);
    const entries = await uploadEntries('MAXSET');
    expect(entries).toHaveLength(1);
    expect((entries[0]!.details['segmentManifest'] as unknown[]).length).toBe(n);
  });
});
