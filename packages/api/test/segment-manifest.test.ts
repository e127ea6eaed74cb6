import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LIMITS, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
import { uploadRegistrationSchema } from '../src/response-schemas.js';
import { callAs, createApiFixture, seedCase, type ApiFixture } from './api-fixture.js';

/**
 * A split disk image's segment manifest, declared with its first segment's
 * registration (POST /cases/{caseId}/uploads, `segments`; docs/disk-images.md,
 * "Split images"): stored for the pipeline, idempotent, and refused as hostile
 * input when it is not one set in order within the limits.
 */
let f: ApiFixture;
let api: Api;

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  await f.access.assign('SEG-1', 'erin', { by: 'setup', role: 'examiner' });
  await seedCase(f, 'SEG-1', 'RECEIVED');
});

afterAll(async () => {
  await f?.dispose();
});

const call = (user: string, roles: Role[], req: Partial<ApiRequest> & { path: string }) => callAs(f, api, user, roles, req);

const md5 = (c: string) => c.repeat(32);
const set = (n = 3, stem = 'card.E') => Array.from({ length: n }, (_, i) => ({ fileName: `${stem}${String(i + 1).padStart(2, '0')}`, size: 1000 - (i === n - 1 ? 1 : 0) }));
const register = (body: Record<string, unknown>, evidenceId = 'EX01', user = 'erin') =>
  call(user, ['examiner'], { method: 'POST', path: '/cases/SEG-1/uploads', body: { evidenceId, ...body } });

describe('a segment manifest at registration', () => {
  it('is stored with the first segment, with per-segment hashes (lower-cased), idempotent, and in the upload custody entry', async () => {
    const segments = set().map((s, i) => ({ ...s, md5: md5('ABCDEF'[i]!) }));
    f.custodyEvents.length = 0;
    const res = await register({ fileName: 'card.E01', size: 1000, segments });
    expect(res.status).toBe(201);
    expect(f.custodyEvents.find((e) => e.action === 'upload')?.details).toMatchObject({
      registered: true,
      segmentManifest: segments.map((s) => ({ ...s, md5: s.md5.toLowerCase() })),
    });
    const body = uploadRegistrationSchema.parse(res.json);
    expect(body.segments).toEqual(segments.map((s) => ({ ...s, md5: s.md5.toLowerCase() })));
    const stored = await f.index.getSegmentManifest('SEG-1/EX01/card.E01');
    expect(stored.map((e) => [e.blobName, e.position, e.size, e.md5, e.declaredBy])).toEqual(
      segments.map((s, i) => [`SEG-1/EX01/${s.fileName}`, i + 1, s.size, s.md5.toLowerCase(), 'erin']),
    );
    const again = await register({ fileName: 'card.E01', size: 1000, segments });
    expect(again.status).toBe(200);
    // The later segments are registered as before; one with another size than declared is refused.
    expect((await register({ fileName: 'card.E02', size: 1000 })).status).toBe(201);
    const wrongSize = await register({ fileName: 'card.E03', size: 5 });
    expect(wrongSize.status).toBe(409);
    expect(wrongSize.json.error.message).toMatch(/declared in the segment manifest of SEG-1\/EX01\/card\.E01 with 999 bytes/);
    // Declared otherwise: a conflict, never a change.
    const other = await register({ fileName: 'card.E01', size: 1000, segments: set(4) });
    expect(other.status).toBe(409);
    expect((await f.index.getSegmentManifest('SEG-1/EX01/card.E01')).length).toBe(3);
  });

  it('may come with a later registration of the first segment, before any segment was received (201 then, 200 once the same)', async () => {
    expect((await register({ fileName: 'disk.001', size: 10 }, 'LATER')).status).toBe(201);
    const segments = [{ fileName: 'disk.001', size: 10 }, { fileName: 'disk.002', size: 4 }];
    const declared = await register({ fileName: 'disk.001', size: 10, segments }, 'LATER');
    expect(declared.status).toBe(201);
    expect(declared.json.segments).toEqual(segments);
    expect((await register({ fileName: 'disk.001', size: 10, segments }, 'LATER')).status).toBe(200);
  });

  it('is refused when a segment was received before the set was declared', async () => {
    await seedCase(f, 'SEG-1', 'LATE');
    // seedCase received phone.zip; a set naming it cannot be declared (and phone.zip is no segment name anyway: declare a received raw set).
    await f.index.recordUpload({
      caseId: 'SEG-1', evidenceId: 'LATE', blobName: 'SEG-1/LATE/disk.002', fileName: 'disk.002', rootFileId: 'late-2', size: 10, etag: '"0x1"',
      versionId: null, contentType: null, lastModified: new Date(0).toISOString(), acquisition: {},
    });
    const res = await register({ fileName: 'disk.001', size: 10, segments: [{ fileName: 'disk.001', size: 10 }, { fileName: 'disk.002', size: 10 }] }, 'LATE');
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/SEG-1\/LATE\/disk\.002 was received before its set was declared/);
    expect(await f.index.getSegmentManifest('SEG-1/LATE/disk.001')).toEqual([]);
  });

  it('validates the manifest as hostile input: names, order, one set, duplicates, sizes, hashes, count, first entry', async () => {
    const first = { fileName: 'disk.001', size: 10 };
    const cases: Array<[string, unknown[], RegExp]> = [
      ['one segment', [first], /at least 2|too_small|>=2/i],
      ['a gap', [first, { fileName: 'disk.003', size: 10 }], /segment 3; the manifest lists segments 1, 2, 3/],
      ['out of order', [first, { fileName: 'disk.003', size: 10 }, { fileName: 'disk.002', size: 10 }], /is segment 3/],
      ['another set', [first, { fileName: 'other.002', size: 10 }], /not a segment of the set of disk\.001/],
      ['another width', [first, { fileName: 'disk.0002', size: 10 }], /not a segment of the set/],
      ['a repeat', [first, first], /declared twice/],
      ['not a segment name', [first, { fileName: 'disk.img', size: 10 }], /not a segment of the set/],
      ['a folder in a name', [first, { fileName: '../disk.002', size: 10 }], /file name/],
      ['an empty segment', [first, { fileName: 'disk.002', size: 0 }], /too_small|positive|>0/i],
      ['a bad hash', [first, { fileName: 'disk.002', size: 10, sha256: 'zz' }], /64 hex digits/],
      ['an unknown field', [first, { fileName: 'disk.002', size: 10, crc: '1' }], /unrecognized|crc/i],
      ['first entry not the file', [{ fileName: 'disk.001', size: 11 }, { fileName: 'disk.002', size: 10 }], /segments\[0\] must be the file registered/],
    ];
    for (const [what, segments, message] of cases) {
      const res = await register({ fileName: 'disk.001', size: 10, segments }, 'BAD');
      expect(res.status, what).toBe(400);
      expect(JSON.stringify(res.json), what).toMatch(message);
    }
    const tooMany = Array.from({ length: LIMITS.maxDeclaredImageSegments + 1 }, (_, i) => ({ fileName: `d.${String(i + 1).padStart(4, '0')}`, size: 1 }));
    expect((await register({ fileName: 'd.0001', size: 1, segments: tooMany }, 'BAD')).status).toBe(400);
    expect(await f.index.getSegmentManifest('SEG-1/BAD/disk.001')).toEqual([]);
  });
});

describe('a segment manifest and its registration', () => {
  /** The same API whose registration insert first runs `before` (a failure, or another user winning the race). */
  const apiWith = (before: (r: { blobName: string }) => Promise<void>): Api => {
    const access = Object.create(f.deps.access) as typeof f.deps.access;
    access.registerUpload = async (r) => {
      await before(r);
      return f.deps.access.registerUpload(r);
    };
    return createApi({ ...f.deps, access });
  };
  const registerVia = (via: Api, user: string, evidenceId: string, segments: Array<{ fileName: string; size: number }>) =>
    callAs(f, via, user, ['examiner'], { method: 'POST', path: '/cases/SEG-1/uploads', body: { evidenceId, fileName: segments[0]!.fileName, size: segments[0]!.size, segments } });

  it('regression: a registration that fails leaves no manifest; the retry records the manifest in the upload custody entry', async () => {
    const segments = set(2);
    let fail = true;
    const failing = apiWith(async () => {
      if (fail) throw new Error('database went away');
    });
    expect((await registerVia(failing, 'erin', 'RETRY', segments)).status).toBe(500);
    expect(await f.index.getSegmentManifest('SEG-1/RETRY/card.E01')).toEqual([]);
    fail = false;
    f.custodyEvents.length = 0;
    expect((await registerVia(failing, 'erin', 'RETRY', segments)).status).toBe(201);
    expect(f.custodyEvents.filter((e) => e.action === 'upload').map((e) => e.details)).toEqual([expect.objectContaining({ registered: true, segmentManifest: segments })]);
  });

  it('regression: the loser of a registration race (409) declares no manifest; the winner then declares its own', async () => {
    await f.access.assign('SEG-1', 'bob', { by: 'setup', role: 'examiner' });
    const segments = set(2);
    // erin's registration lands between bob's check and bob's insert.
    const racing = apiWith(async (r) => {
      await f.deps.access.registerUpload({ blobName: r.blobName, caseId: 'SEG-1', evidenceId: 'RACE', fileName: 'card.E01', size: segments[0]!.size, uploadedBy: 'erin' });
    });
    f.custodyEvents.length = 0;
    expect((await registerVia(racing, 'bob', 'RACE', segments)).status).toBe(409);
    expect(await f.index.getSegmentManifest('SEG-1/RACE/card.E01')).toEqual([]);
    expect((await registerVia(api, 'erin', 'RACE', segments)).status).toBe(201);
    expect((await f.index.getSegmentManifest('SEG-1/RACE/card.E01')).map((e) => e.declaredBy)).toEqual(['erin', 'erin']);
    // The manifest added to erin's existing registration has its own custody entry.
    expect(f.custodyEvents.filter((e) => e.action === 'upload').map((e) => e.details)).toEqual([expect.objectContaining({ segmentManifest: segments })]);
  });
});
