import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { caseListSchema, uploadRegistrationSchema } from '../src/response-schemas.js';
import { callAs, createApiFixture, seedCase, type ApiFixture } from './api-fixture.js';

/**
 * A new user's first hour: an examiner uploads a case nobody has heard of,
 * and must be able to see it afterwards (and nobody else); an admin must be
 * able to see every case, including one nobody is assigned to.
 */
let f: ApiFixture;
let api: Api;

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  // Evidence that arrived straight in storage (Storage Explorer, AzCopy): received, nobody assigned.
  await seedCase(f, 'ORPHAN-1');
  await seedCase(f, 'KNOWN-1');
  await f.access.assign('KNOWN-1', 'sam', { by: 'setup', role: 'supervisor' });
});

afterAll(async () => {
  await f?.dispose();
});

const call = (user: string, roles: Role[], req: Partial<ApiRequest> & { path: string }) => callAs(f, api, user, roles, req);

const register = (user: string, caseId: string, body: Record<string, unknown> = {}, roles: Role[] = ['examiner']) =>
  call(user, roles, { method: 'POST', path: `/cases/${caseId}/uploads`, body: { evidenceId: 'EX01', fileName: 'phone.zip', size: 1234, ...body } });

describe('GET /cases for an admin', () => {
  it('lists every case, assigned or not, with its assignees, and says the admin is not assigned', async () => {
    const res = await call('ada', ['admin'], { path: '/cases' });
    expect(res.status).toBe(200);
    const body = caseListSchema.parse(res.json);
    const byId = Object.fromEntries(body.cases.map((c) => [c.caseId, c]));
    expect(byId['ORPHAN-1']).toEqual({
      caseId: 'ORPHAN-1',
      role: null,
      assignedAt: null,
      assigned: false,
      assignees: 0,
      claimedBy: null,
      evidence: 1,
      files: 2,
      complete: true,
    });
    expect(byId['KNOWN-1']).toMatchObject({ assigned: false, assignees: 1 });
  });

  it('still shows other roles only their own cases', async () => {
    const res = await call('sam', ['supervisor'], { path: '/cases' });
    expect(res.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['KNOWN-1']);
    expect(res.json.cases[0]).not.toHaveProperty('assignees');
    const nobody = await call('zed', ['examiner', 'supervisor', 'investigator'], { path: '/cases' });
    expect(nobody.json).toEqual({ cases: [] });
  });
});

describe('registering an upload', () => {
  it('opens a new case for the examiner: assigned as examiner, recorded as uploader and claimant, in custody', async () => {
    f.custodyEvents.length = 0;
    const res = await register('erin', 'NEW-1');
    expect(res.status).toBe(201);
    const body = uploadRegistrationSchema.parse(res.json);
    expect(body).toMatchObject({ blobName: 'NEW-1/EX01/phone.zip', uploadedBy: 'erin', claimedCase: true, size: 1234 });
    expect(await f.access.getAssignment('NEW-1', 'erin')).toMatchObject({ role: 'examiner', assignedBy: 'erin' });
    expect(await f.access.assignmentHistory('NEW-1')).toMatchObject([{ user: 'erin', action: 'assigned', role: 'examiner', changedBy: 'erin' }]);
    expect(f.custodyEvents).toEqual([
      expect.objectContaining({
        caseId: 'NEW-1',
        evidenceId: 'EX01',
        action: 'upload',
        actor: 'erin',
        subject: { blobName: 'NEW-1/EX01/phone.zip' },
        details: expect.objectContaining({ registered: true, claimedCase: true, size: 1234 }),
      }),
    ]);
    const mine = await call('erin', ['examiner'], { path: '/cases' });
    expect(mine.json.cases).toEqual([expect.objectContaining({ caseId: 'NEW-1', role: 'examiner', assigned: true })]);
    const admin = await call('ada', ['admin'], { path: '/cases' });
    expect(admin.json.cases.find((c: { caseId: string }) => c.caseId === 'NEW-1')).toMatchObject({ claimedBy: 'erin', assignees: 1, evidence: 0 });
  });

  it('is idempotent for the same examiner, and registers more files of the case without claiming again', async () => {
    f.custodyEvents.length = 0;
    const again = await register('erin', 'NEW-1');
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ uploadedBy: 'erin', claimedCase: false });
    expect(f.custodyEvents).toEqual([]);
    const second = await register('erin', 'NEW-1', { evidenceId: 'EX02', fileName: 'card.tar' });
    expect(second.status).toBe(201);
    expect(second.json).toMatchObject({ blobName: 'NEW-1/EX02/card.tar', claimedCase: false });
    expect(await f.access.assignmentHistory('NEW-1')).toHaveLength(1);
  });

  it('never opens a case somebody already has: another examiner gets the same 404 as for any unassigned case', async () => {
    const res = await register('mallory', 'NEW-1', { fileName: 'other.zip' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual(NOT_FOUND_BODY);
    expect(await f.access.getAssignment('NEW-1', 'mallory')).toBeNull();
  });

  it('never opens a case whose evidence arrived without registration, nor one whose assignees were all removed', async () => {
    const orphan = await register('mallory', 'ORPHAN-1', { fileName: 'more.zip' });
    expect(orphan.status).toBe(404);
    expect(await f.access.listAssignments('ORPHAN-1')).toEqual([]);

    expect((await register('olga', 'GONE-1')).status).toBe(201);
    await f.access.unassign('GONE-1', 'olga', { by: 'ada' });
    expect((await register('mallory', 'GONE-1', { fileName: 'x.zip' })).status).toBe(404);
  });

  it('refuses a blob another user registered, and one that was received without registration (409)', async () => {
    await f.access.assign('NEW-1', 'eve', { by: 'ada', role: 'examiner' });
    const taken = await register('eve', 'NEW-1');
    expect(taken.status).toBe(409);
    expect(taken.json).toMatchObject({ error: { code: 'conflict' } });

    await f.access.assign('KNOWN-1', 'eve', { by: 'ada', role: 'examiner' });
    const received = await register('eve', 'KNOWN-1', { fileName: 'phone.zip' });
    expect(received.status).toBe(409);
    expect(received.json.error.message).toMatch(/already received/);
  });

  it('lets an assigned examiner register on an existing case; other roles cannot, and no role opens a case but examiner', async () => {
    expect((await register('eve', 'KNOWN-1', { fileName: 'new.zip' })).status).toBe(201);
    expect((await register('sam', 'KNOWN-1', { fileName: 'sam.zip' }, ['supervisor'])).status).toBe(403);
    // Examiner in the token, but narrowed to supervisor on this case.
    expect((await register('sam', 'KNOWN-1', { fileName: 'sam.zip' }, ['examiner', 'supervisor'])).status).toBe(403);
    for (const role of ['investigator', 'supervisor', 'admin'] as const) {
      const res = await register(`${role}-x`, `FRESH-${role}`, {}, [role]);
      expect(res.status, role).toBe(404);
      expect(await f.access.isNewCase(`FRESH-${role}`)).toBe(true);
    }
  });

  it('gives a new case to exactly one of two examiners racing for it', async () => {
    const results = await Promise.all([register('racer-a', 'RACE-1'), register('racer-b', 'RACE-1', { fileName: 'b.zip' })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 404]);
    const winner = results[0]!.status === 201 ? 'racer-a' : 'racer-b';
    expect((await f.access.listAssignments('RACE-1')).map((a) => a.user)).toEqual([winner]);
  });

  it('shows the registered uploader in the status and provenance of what was received, null for evidence that came without', async () => {
    await f.access.assign('ORPHAN-1', 'ivan', { by: 'ada' });
    const orphan = await call('ivan', ['investigator'], { path: '/cases/ORPHAN-1/evidence/EX01/status' });
    expect(orphan.json.uploads[0]).toMatchObject({ uploadedBy: null, acquisition: { examiner: 'DC Test' } });
    // A registered upload that then arrived (seeded here as the pipeline records it).
    expect((await register('erin', 'NEW-1', { evidenceId: 'EX03' })).status).toBe(201);
    const seeded = await seedCase(f, 'NEW-1', 'EX03');
    const status = await call('erin', ['examiner'], { path: '/cases/NEW-1/evidence/EX03/status' });
    expect(status.json.uploads[0]).toMatchObject({ blobName: 'NEW-1/EX03/phone.zip', uploadedBy: 'erin' });
    const detail = await call('erin', ['examiner'], { path: `/cases/NEW-1/files/${seeded.photoFileId}` });
    expect(detail.json.provenance.upload).toMatchObject({ blobName: 'NEW-1/EX03/phone.zip', uploadedBy: 'erin' });
  });

  it('validates the body: ids, a bare file name, a size', async () => {
    for (const body of [{ evidenceId: '../x' }, { fileName: 'a/b.zip' }, { fileName: '..' }, { fileName: 'a\u0000b' }, { size: -1 }, { size: 1.5 }, { extra: 1 }]) {
      const res = await register('erin', 'NEW-1', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});
