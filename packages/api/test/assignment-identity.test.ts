import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROLES, roleWithin, type Role } from '@exhibit/core';
import { ROUTE_TABLE } from '../src/route-table.js';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest, Principal, TokenVerifier } from '../src/api.types.js';
import { createApiFixture, seedCase, type ApiFixture } from './api-fixture.js';

/**
 * Who an assignment is for, through the API (PGlite index, Azurite):
 * - UPNs compare case-insensitively; an unassignment that removes nothing says so (404);
 * - Entra callers are matched by object id once their assignment is bound (first sign-in),
 *   not by the mutable preferred_username.
 *
 * Entra principals come from a stand-in verifier (a token 'entra.<base64url JSON>' verifies to what
 * createEntraTokenVerifier makes of such claims; entra-token.test.ts covers the claims themselves).
 * Other tokens are the fixture's local ones.
 */
let f: ApiFixture;
let api: Api;

const CASE = 'ID-CASE-1';
const OID_HANA = '0a0a0a0a-1111-2222-3333-444444444444';
const OID_OTHER = '0b0b0b0b-1111-2222-3333-444444444444';

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  const local = f.deps.tokens;
  const tokens: TokenVerifier = {
    async verify(token) {
      if (!token.startsWith('entra.')) return local.verify(token);
      const { oid, upn, roles } = JSON.parse(Buffer.from(token.slice('entra.'.length), 'base64url').toString('utf8')) as { oid: string; upn: string; roles: Role[] };
      const principal: Principal = { user: upn, objectId: oid, roles, authKind: 'entra' };
      return principal;
    },
  };
  api = createApi({ ...f.deps, tokens });
  await seedCase(f, CASE);
  await f.access.assign(CASE, 'sam', { by: 'setup', role: 'supervisor' });
});

afterAll(async () => {
  await f?.dispose();
});

async function call(token: string, req: Partial<ApiRequest> & { path: string }) {
  return api.handle({ method: 'GET', query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` }, ...req } as ApiRequest);
}
const asSam = async (req: Partial<ApiRequest> & { path: string }) => call(await f.token('sam', ['supervisor']), req);
const entra = (oid: string, upn: string, roles: Role[] = ['investigator']) => `entra.${Buffer.from(JSON.stringify({ oid, upn, roles })).toString('base64url')}`;
const evidence = (token: string) => call(token, { path: `/cases/${CASE}/evidence` });

describe('assignment identity', () => {
  it('upn-case-differs-unassign-answered-204-changed-nothing', async () => {
    const assigned = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'Alice@Contoso.example' } });
    expect(assigned.status).toBe(201);
    // Assigning the same UPN typed differently is the same assignment, not a second one.
    const again = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'ALICE@contoso.example' } });
    expect(again).toMatchObject({ status: 200, body: { changed: false, assignment: { user: 'Alice@Contoso.example' } } });
    const alice = entra('0c0c0c0c-1111-2222-3333-444444444444', 'alice@contoso.example');
    expect((await evidence(alice)).status).toBe(200);

    const removed = await asSam({ method: 'DELETE', path: `/cases/${CASE}/assignments/alice%40contoso.example` });
    expect(removed.status).toBe(204);
    expect((await evidence(alice)).status).toBe(404);
    const listed = await asSam({ path: `/cases/${CASE}/assignments` });
    expect((listed.body as { assignments: Array<{ user: string }> }).assignments.map((a) => a.user)).toEqual(['sam']);
    const custody = f.custodyEvents.filter((e) => e.action === 'assignment-change').map((e) => e.details);
    expect(custody.at(-1)).toMatchObject({ change: 'unassigned', user: 'Alice@Contoso.example' });
  });

  it('unassign-of-nobody-answered-204: a removal that removed nothing is a 404, not success', async () => {
    const res = await asSam({ method: 'DELETE', path: `/cases/${CASE}/assignments/nobody%40contoso.example` });
    expect(res.status).toBe(404);
    expect(f.custodyEvents.filter((e) => e.action === 'assignment-change' && e.details.user === 'nobody@contoso.example')).toEqual([]);
  });

  it('entra-access-decided-by-mutable-preferred-username: the oid of the first sign-in holds the assignment', async () => {
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'hana@contoso.example' } })).status).toBe(201);
    // Hana signs in: her assignment is bound to her object id (shown to supervisors).
    expect((await evidence(entra(OID_HANA, 'Hana@Contoso.example'))).status).toBe(200);
    const listed = (await asSam({ path: `/cases/${CASE}/assignments` })).body as { assignments: Array<{ user: string; objectId?: string }> };
    expect(listed.assignments.find((a) => a.user === 'hana@contoso.example')?.objectId).toBe(OID_HANA);
    // Renamed in Entra: same object id, new UPN, still on the case (and it is in /me).
    const renamed = entra(OID_HANA, 'hana.kato@contoso.example');
    expect((await evidence(renamed)).status).toBe(200);
    expect(((await call(renamed, { path: '/me' })).body as { cases: string[] }).cases).toEqual([CASE]);
    // Her old UPN reissued to someone else: not assigned, and the case is invisible to them.
    const newcomer = entra(OID_OTHER, 'hana@contoso.example');
    expect((await evidence(newcomer)).status).toBe(404);
    expect(((await call(newcomer, { path: '/me' })).body as { cases: string[] }).cases).toEqual([]);
    // Custody names the object id beside the UPN.
    const read = f.custodyEvents.filter((e) => e.actor === 'hana.kato@contoso.example').at(-1);
    expect(read?.details).toMatchObject({ objectId: OID_HANA, authKind: 'entra' });
    // The supervisor removes her by the name assigned: the renamed holder loses access.
    expect((await asSam({ method: 'DELETE', path: `/cases/${CASE}/assignments/HANA%40contoso.example` })).status).toBe(204);
    expect((await evidence(renamed)).status).toBe(404);
  });

  it('signin-bind-merge-changed-roles-without-custody: a sign-in that binds or merges writes assignment-change entries and never widens', async () => {
    const OID_ALICE = 'eeeeeeee-0000-0000-0000-000000000006';
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'alice5@contoso.example', role: 'investigator' } })).status).toBe(201);
    const before = f.custodyEvents.length;
    const alice = entra(OID_ALICE, 'alice5@contoso.example', ['investigator', 'examiner']);
    expect((await evidence(alice)).status).toBe(200);
    const bound = f.custodyEvents.slice(before).filter((e) => e.action === 'assignment-change');
    expect(bound.map((e) => [e.actor, e.details.change, e.details.user, e.details.role, e.details.previousRole, e.details.objectId])).toEqual([
      ['alice5@contoso.example', 'bound', 'alice5@contoso.example', 'investigator', 'investigator', OID_ALICE],
    ]);
    expect(bound[0]?.eventKey).toMatch(/^assignment-history:\d+$/);
    // Renamed to mallory5@ (same oid); a supervisor assigns that name with the token's roles.
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'mallory5@contoso.example', role: null } })).status).toBe(201);
    const mid = f.custodyEvents.length;
    const mallory = entra(OID_ALICE, 'mallory5@contoso.example', ['investigator', 'examiner']);
    expect((await evidence(mallory)).status).toBe(200);
    const merged = f.custodyEvents.slice(mid).filter((e) => e.action === 'assignment-change');
    expect(merged.map((e) => [e.details.change, e.details.user, e.details.role, e.details.previousRole, e.details.objectId])).toEqual([
      ['merged', 'mallory5@contoso.example', 'investigator', null, OID_ALICE],
    ]);
    // Still an investigator only here: no downloads (examiners' right) through the null-role name.
    const listed = (await asSam({ path: `/cases/${CASE}/assignments` })).body as { assignments: Array<{ user: string; role: Role | null }> };
    expect(listed.assignments.filter((a) => a.user.endsWith('5@contoso.example'))).toEqual([expect.objectContaining({ user: 'alice5@contoso.example', role: 'investigator' })]);
    // Nothing left pending; a second request writes nothing more.
    expect(await f.access.pendingAssignmentCustody({ limit: 10 })).toEqual([]);
    const after = f.custodyEvents.length;
    expect((await evidence(mallory)).status).toBe(200);
    expect(f.custodyEvents.slice(after).filter((e) => e.action === 'assignment-change')).toEqual([]);
    // A bind made outside a request (left pending) is written at start-up.
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'pia@contoso.example' } })).status).toBe(201);
    await f.access.getAssignment(CASE, { name: 'pia@contoso.example', objectId: OID_OTHER });
    expect(await api.recordPendingAssignmentChanges()).toEqual({ written: 1, failedCases: [] });
    expect(f.custodyEvents.at(-1)).toMatchObject({ action: 'assignment-change', details: { change: 'bound', user: 'pia@contoso.example', objectId: OID_OTHER } });
  });

  it('pending-assignment-entry-lacks-userobjectid: a sign-in\'s entry names the assignment\'s account as request-made entries do (userObjectId), objectId staying the actor\'s', async () => {
    const OID_QUIN = '2e2e2e2e-2222-3333-4444-555555555555';
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'quin@contoso.example', role: 'investigator' } })).status).toBe(201);
    const before = f.custodyEvents.length;
    expect((await evidence(entra(OID_QUIN, 'quin@contoso.example'))).status).toBe(200);
    const bound = f.custodyEvents.slice(before).filter((e) => e.action === 'assignment-change');
    expect(bound).toHaveLength(1);
    // The actor is the account signing in: both keys name it, each meaning what it means everywhere.
    expect(bound[0]).toMatchObject({ actor: 'quin@contoso.example', details: { change: 'bound', user: 'quin@contoso.example', userObjectId: OID_QUIN, objectId: OID_QUIN, recordedFor: 'sign-in' } });
    // The same key as a supervisor's change of that assignment (by object id), whose objectId is absent (a local supervisor).
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: OID_QUIN, role: 'examiner' } })).status).toBe(200);
    const changed = f.custodyEvents.filter((e) => e.action === 'assignment-change').at(-1);
    expect(changed?.details).toMatchObject({ change: 'role-changed', userObjectId: OID_QUIN });
    expect(changed?.details).not.toHaveProperty('objectId');
  });

  it('pending-custody-failure-blocks-supervisor-diagnosis: supervisor/audit reads answer while pending assignment custody cannot be written; data routes stay closed', async () => {
    const CASE_P = 'ID-CASE-PENDING';
    const OID_Q = '1c1c1c1c-2222-3333-4444-555555555555';
    await seedCase(f, CASE_P);
    await f.access.assign(CASE_P, 'sam', { by: 'setup', role: 'supervisor' });
    await f.access.assign(CASE_P, 'quinn@contoso.example', { by: 'sam', role: 'investigator' });
    // Bound outside a request: pending until the API writes its custody entry.
    await f.access.getAssignment(CASE_P, { name: 'quinn@contoso.example', objectId: OID_Q });
    const custody = {
      ...f.deps.custody,
      async record(...args: Parameters<typeof f.deps.custody.record>) {
        if (args[0].action === 'assignment-change') throw new Error('custody storage unreachable');
        return f.deps.custody.record(...args);
      },
    };
    const down = createApi({ ...f.deps, custody });
    const sam = await f.token('sam', ['supervisor']);
    const get = (path: string) => down.handle({ method: 'GET', query: new URLSearchParams(), headers: { authorization: `Bearer ${sam}` }, path } as ApiRequest);
    expect((await get(`/cases/${CASE_P}/evidence`)).status).toBeGreaterThanOrEqual(500);
    expect((await get(`/cases/${CASE_P}/assignments`)).status).toBe(200);
    expect((await get(`/cases/${CASE_P}/access-events`)).status).toBe(200);
    expect((await get(`/cases/${CASE_P}/custody/verify?rehash=false`)).status).not.toBeGreaterThanOrEqual(500);
    // pending-custody-startup-pass-all-or-nothing: the start-up pass goes case by case; a failing case is left, others written.
    await f.access.assign('ID-CASE-PENDING-2', 'rae@contoso.example', { by: 'sam', role: 'investigator' });
    await f.access.getAssignment('ID-CASE-PENDING-2', { name: 'rae@contoso.example', objectId: '1d1d1d1d-2222-3333-4444-555555555555' });
    const failing = { ...custody, async record(...args: Parameters<typeof f.deps.custody.record>) {
      if (args[0].action === 'assignment-change' && args[0].caseId === CASE_P) throw new Error('custody storage unreachable');
      return f.deps.custody.record(...args);
    } };
    await seedCase(f, 'ID-CASE-PENDING-2');
    expect(await createApi({ ...f.deps, custody: failing }).recordPendingAssignmentChanges()).toEqual({ written: 1, failedCases: [CASE_P] });
    expect(await f.access.pendingAssignmentCustody({ caseIds: ['ID-CASE-PENDING-2'], limit: 10 })).toEqual([]);
    // Still pending: written once custody is reachable.
    expect(await f.access.pendingAssignmentCustody({ caseIds: [CASE_P], limit: 10 })).toHaveLength(1);
    expect((await call(sam, { path: `/cases/${CASE_P}/evidence` })).status).toBe(200);
    expect(await f.access.pendingAssignmentCustody({ caseIds: [CASE_P], limit: 10 })).toEqual([]);
  });

  it('custody-report-omits-pending-assignment-changes-silently: a report answered while assignment changes wait for custody says how many, and the next one has them written first', async () => {
    const CASE_R = 'ID-CASE-REPORT';
    await seedCase(f, CASE_R);
    await f.access.assign(CASE_R, 'sam', { by: 'setup', role: 'supervisor' });
    await f.access.assign(CASE_R, 'ria@contoso.example', { by: 'sam', role: 'investigator' });
    // Bound outside a request: pending until the API writes its custody entry.
    await f.access.getAssignment(CASE_R, { name: 'ria@contoso.example', objectId: '2c2c2c2c-2222-3333-4444-555555555555' });
    const failing = {
      async record(...args: Parameters<typeof f.custodyLog.record>) {
        if (args[0].action === 'assignment-change') throw new Error('custody storage unreachable');
        return f.custodyLog.record(...args);
      },
    };
    const sam = await f.token('sam', ['supervisor']);
    const get = (a: Api, path: string, query = '') => a.handle({ method: 'GET', query: new URLSearchParams(query), headers: { authorization: `Bearer ${sam}` }, path } as ApiRequest);
    const down = createApi({ ...f.deps, custody: failing });
    const report = await get(down, `/cases/${CASE_R}/custody/report`);
    expect(report.status).toBe(200);
    const body = report.body as { assignmentChangesPending?: number; notes?: string[]; items: Array<{ entries?: Array<{ action: string }> }> };
    expect(body.items.flatMap((i) => i.entries ?? []).filter((e) => e.action === 'assignment-change')).toEqual([]);
    expect(body.assignmentChangesPending).toBe(1);
    expect(body.notes?.join('\n')).toMatch(/1 assignment change .*still pending custody/);
    const html = await get(down, `/cases/${CASE_R}/custody/report`, 'format=html');
    expect(Buffer.from(html.body as Buffer).toString('utf8')).toMatch(/1 assignment change .*still pending custody/);
    const verify = (await get(down, `/cases/${CASE_R}/custody/verify`, 'rehash=false')).body as { assignmentChangesPending?: number };
    expect(verify.assignmentChangesPending).toBe(1);
    // Custody reachable: the entries are written before the report is read, and it has them.
    const up = createApi({ ...f.deps, custody: f.custodyLog });
    const written = (await get(up, `/cases/${CASE_R}/custody/report`)).body as typeof body;
    expect(written.assignmentChangesPending).toBeUndefined();
    expect(written.notes ?? []).not.toContainEqual(expect.stringMatching(/pending custody/));
    expect(written.items.flatMap((i) => i.entries ?? []).filter((e) => e.action === 'assignment-change')).toHaveLength(1);
  });

  it('custody-report-pending-count-misses-bind-during-read: a sign-in binding while the logs are read is named in the report and the verification', async () => {
    const CASE_D = 'ID-CASE-REPORT-DURING';
    await seedCase(f, CASE_D);
    await f.access.assign(CASE_D, 'sam', { by: 'setup', role: 'supervisor' });
    let n = 0;
    // Each read binds one more name outside any request while the logs are being read: its entry is not in them.
    const binding = {
      ...f.custodyLog,
      async report(...args: Parameters<typeof f.custodyLog.report>) {
        const result = await f.custodyLog.report(...args);
        const name = `dur${++n}@contoso.example`;
        await f.access.assign(CASE_D, name, { by: 'sam', role: 'investigator' });
        await f.access.getAssignment(CASE_D, { name, objectId: `2d2d2d2${n}-2222-3333-4444-555555555555` });
        return result;
      },
      async verify(...args: Parameters<typeof f.custodyLog.verify>) {
        const result = await f.custodyLog.verify(...args);
        const name = `dur${++n}@contoso.example`;
        await f.access.assign(CASE_D, name, { by: 'sam', role: 'investigator' });
        await f.access.getAssignment(CASE_D, { name, objectId: `2d2d2d2${n}-2222-3333-4444-555555555555` });
        return result;
      },
    };
    const a = createApi({ ...f.deps, extensions: { ...f.deps.extensions, custodyAudit: binding } });
    const sam = await f.token('sam', ['supervisor']);
    const get = (path: string, query = '') => a.handle({ method: 'GET', query: new URLSearchParams(query), headers: { authorization: `Bearer ${sam}` }, path } as ApiRequest);
    const report = (await get(`/cases/${CASE_D}/custody/report`)).body as { assignmentChangesPending?: number; notes?: string[] };
    expect(report.assignmentChangesPending).toBe(1);
    expect(report.notes?.join('\n')).toMatch(/1 assignment change .*still pending custody/);
    // The next request writes that one first; the one bound during this read is named.
    const verify = (await get(`/cases/${CASE_D}/custody/verify`, 'rehash=false')).body as { assignmentChangesPending?: number };
    expect(verify.assignmentChangesPending).toBe(1);
    // Written here, so later tests' passes find nothing of this case.
    expect(await api.recordPendingAssignmentChanges()).toEqual({ written: 1, failedCases: [] });
  });

  it('pending-custody-startup-pass-unstoppable: the host\'s shutdown stops the start-up pass promptly, its time limit too, and a later pass writes the rest', async () => {
    const cases = ['ID-CASE-STOP-1', 'ID-CASE-STOP-2', 'ID-CASE-STOP-3'];
    for (const [i, c] of cases.entries()) {
      await seedCase(f, c);
      await f.access.assign(c, `stu${i}@contoso.example`, { by: 'sam', role: 'investigator' });
      await f.access.getAssignment(c, { name: `stu${i}@contoso.example`, objectId: `5a5a5a5${i}-2222-3333-4444-555555555555` });
    }
    // A custody store that takes 2 s an entry (a slow or retrying store), ending early only when told to.
    let started = 0;
    const slow = {
      async record(event: Parameters<typeof f.deps.custody.record>[0], options: { abortSignal?: AbortSignal } = {}) {
        started++;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, 2_000);
          options.abortSignal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(options.abortSignal!.reason);
          }, { once: true });
        });
        return f.deps.custody.record(event);
      },
    };
    const slowApi = createApi({ ...f.deps, custody: slow });
    const shutdown = new AbortController();
    const t0 = Date.now();
    const pass = slowApi.recordPendingAssignmentChanges({ abortSignal: shutdown.signal });
    while (started === 0) await new Promise((r) => setTimeout(r, 5));
    shutdown.abort();
    expect(await pass).toMatchObject({ written: 0, failedCases: [], stopped: 'shutdown' });
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(started).toBe(1);
    // Its own time limit ends it too.
    const t1 = Date.now();
    expect(await slowApi.recordPendingAssignmentChanges({ maxMs: 100 })).toMatchObject({ failedCases: [], stopped: 'time-limit' });
    expect(Date.now() - t1).toBeLessThan(1_500);
    expect(await f.access.pendingAssignmentCustody({ caseIds: cases, limit: 10 })).toHaveLength(3);
    // The next start writes all of them.
    expect(await api.recordPendingAssignmentChanges()).toEqual({ written: 3, failedCases: [] });
    expect(await f.access.pendingAssignmentCustody({ caseIds: cases, limit: 10 })).toEqual([]);
  });

  it('renamed-uploader-409-on-own-upload: a re-registration is the registrant\'s by object id, not by the UPN string', async () => {
    const OID_U = '1a1a1a1a-2222-3333-4444-555555555555';
    const register = (token: string) =>
      call(token, { method: 'POST', path: '/cases/UP-CASE-1/uploads', body: { evidenceId: 'EV1', fileName: 'disk.bin', size: 10 } });
    expect((await register(entra(OID_U, 'uma@contoso.example', ['examiner']))).status).toBe(201);
    // Renamed in Entra before retrying: the same person's registration (200, nothing new).
    const again = await register(entra(OID_U, 'uma.r@contoso.example', ['examiner']));
    expect(again).toMatchObject({ status: 200, body: { uploadedBy: 'uma@contoso.example' } });
    expect(again.body).not.toHaveProperty('uploadedByObjectId');
    // Someone else assigned to the case, even under her old UPN's spelling, is not the registrant.
    await f.access.assign('UP-CASE-1', 'vic@contoso.example', { by: 'setup' });
    expect((await register(entra('1b1b1b1b-2222-3333-4444-555555555555', 'vic@contoso.example', ['examiner']))).status).toBe(409);
  });

  it('pre-0210-registration-matched-by-reused-upn: a registration without an object id is bound as its name\'s assignment is, never continued by a new holder of the name', async () => {
    const CASE_U = 'UP-CASE-2';
    const OID_WES = '3a3a3a3a-2222-3333-4444-555555555555';
    const OID_NEW = '3b3b3b3b-2222-3333-4444-555555555555';
    // Registered before 0210 (no object id stored); wes's assignment is bound to him since.
    await f.access.assign(CASE_U, 'wes@contoso.example', { by: 'setup', role: 'examiner' });
    await f.access.registerUpload({ blobName: `${CASE_U}/EV1/disk.bin`, caseId: CASE_U, evidenceId: 'EV1', fileName: 'disk.bin', size: 10, uploadedBy: 'wes@contoso.example' });
    await f.access.getAssignment(CASE_U, { name: 'wes@contoso.example', objectId: OID_WES });
    const register = (token: string) =>
      call(token, { method: 'POST', path: `/cases/${CASE_U}/uploads`, body: { evidenceId: 'EV1', fileName: 'disk.bin', size: 10 } });
    // His old UPN given to someone else, who is on the case by object id: not the registrant.
    await f.access.assign(CASE_U, OID_NEW, { by: 'setup', role: 'examiner' });
    expect((await register(entra(OID_NEW, 'WES@contoso.example', ['examiner']))).status).toBe(409);
    expect((await f.access.getUploadRegistration(`${CASE_U}/EV1/disk.bin`))?.uploadedByObjectId).toBeUndefined();
    // Wes himself, renamed: his registration, bound to him now.
    expect(await register(entra(OID_WES, 'wes.w@contoso.example', ['examiner']))).toMatchObject({ status: 200, body: { uploadedBy: 'wes@contoso.example' } });
    expect((await f.access.getUploadRegistration(`${CASE_U}/EV1/disk.bin`))?.uploadedByObjectId).toBe(OID_WES);
    expect((await register(entra(OID_NEW, 'wes@contoso.example', ['examiner']))).status).toBe(409);
  });

  it('pre-0210-registrant-assigned-by-oid-409-on-own-upload: the registrant, on the case by object id, continues his own registration', async () => {
    const OID_XAV = '3c3c3c3c-2222-3333-4444-555555555555';
    const OID_NEW = '3d3d3d3d-2222-3333-4444-555555555555';
    const sam = await f.token('sam', ['supervisor']);
    const asSamOn = (req: Partial<ApiRequest> & { path: string }) => call(sam, req);
    const registerOn = (c: string, token: string) =>
      call(token, { method: 'POST', path: `/cases/${c}/uploads`, body: { evidenceId: 'EV1', fileName: 'disk.bin', size: 10 } });
    const preRegistered = async (c: string) => {
      await seedCase(f, c);
      await f.access.assign(c, 'sam', { by: 'setup', role: 'supervisor' });
      await f.access.assign(c, 'xav@contoso.example', { by: 'setup', role: 'examiner' });
      // Registered before 0210: no object id stored.
      await f.access.registerUpload({ blobName: `${c}/EV1/disk.bin`, caseId: c, evidenceId: 'EV1', fileName: 'disk.bin', size: 10, uploadedBy: 'xav@contoso.example' });
    };
    const xav = entra(OID_XAV, 'xav@contoso.example', ['examiner']);

    // R1b: also assigned by object id; his first sign-in (this upload) merges the name's assignment into it.
    const R1B = 'UP-CASE-R1B';
    await preRegistered(R1B);
    expect((await asSamOn({ method: 'POST', path: `/cases/${R1B}/assignments`, body: { user: OID_XAV, role: 'examiner' } })).status).toBe(201);
    expect(await registerOn(R1B, xav)).toMatchObject({ status: 200, body: { uploadedBy: 'xav@contoso.example' } });
    expect((await f.access.getUploadRegistration(`${R1B}/EV1/disk.bin`))?.uploadedByObjectId).toBe(OID_XAV);

    // R1: the name's assignment (bound at his sign-in) replaced by one by object id, as the docs advise.
    const R1 = 'UP-CASE-R1';
    await preRegistered(R1);
    expect((await call(xav, { path: `/cases/${R1}/evidence` })).status).toBe(200);
    expect((await asSamOn({ method: 'DELETE', path: `/cases/${R1}/assignments/xav%40contoso.example` })).status).toBe(204);
    expect((await asSamOn({ method: 'POST', path: `/cases/${R1}/assignments`, body: { user: OID_XAV, role: 'examiner' } })).status).toBe(201);
    expect((await call(xav, { path: `/cases/${R1}/evidence` })).status).toBe(200);
    // A new holder of his UPN, on the case by object id too, is still not the registrant.
    expect((await asSamOn({ method: 'POST', path: `/cases/${R1}/assignments`, body: { user: OID_NEW, role: 'examiner' } })).status).toBe(201);
    expect((await registerOn(R1, entra(OID_NEW, 'xav@contoso.example', ['examiner']))).status).toBe(409);
    // Renamed since: still his.
    expect(await registerOn(R1, entra(OID_XAV, 'xav.x@contoso.example', ['examiner']))).toMatchObject({ status: 200, body: { uploadedBy: 'xav@contoso.example' } });
    expect((await f.access.getUploadRegistration(`${R1}/EV1/disk.bin`))?.uploadedByObjectId).toBe(OID_XAV);
  });

  it('pre-0210-registration-bound-to-later-holder-of-reassigned-name: the name given again and bound by its new holder does not make him the registrant', async () => {
    const C = 'UP-CASE-REUSE';
    const OID_OLD = '3e3e3e3e-2222-3333-4444-555555555555';
    const OID_NEW = '3f3f3f3f-2222-3333-4444-555555555555';
    await seedCase(f, C);
    await f.access.assign(C, 'yan@contoso.example', { by: 'setup', role: 'examiner' });
    await f.access.registerUpload({ blobName: `${C}/EV1/disk.bin`, caseId: C, evidenceId: 'EV1', fileName: 'disk.bin', size: 10, uploadedBy: 'yan@contoso.example' });
    // The registrant signs in (bound), leaves; the UPN is reused and the name assigned again, bound by its new holder.
    expect((await call(entra(OID_OLD, 'yan@contoso.example', ['examiner']), { path: `/cases/${C}/evidence` })).status).toBe(200);
    await f.access.unassign(C, 'yan@contoso.example', { by: 'setup' });
    await f.access.assign(C, 'yan@contoso.example', { by: 'setup', role: 'examiner' });
    const newHolder = entra(OID_NEW, 'yan@contoso.example', ['examiner']);
    expect((await call(newHolder, { path: `/cases/${C}/evidence` })).status).toBe(200);
    expect((await call(newHolder, { method: 'POST', path: `/cases/${C}/uploads`, body: { evidenceId: 'EV1', fileName: 'disk.bin', size: 10 } })).status).toBe(409);
    expect((await f.access.getUploadRegistration(`${C}/EV1/disk.bin`))?.uploadedByObjectId).toBeUndefined();
  });

  it('unassign-bound-name-removed-oid-unrecorded: unassigning by a bound name removes the account it is bound to and custody names that object id', async () => {
    const OID_IVY = '4a4a4a4a-2222-3333-4444-555555555555';
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'ivy@contoso.example', role: 'investigator' } })).status).toBe(201);
    const ivy = entra(OID_IVY, 'ivy.renamed@contoso.example');
    expect((await evidence(entra(OID_IVY, 'ivy@contoso.example'))).status).toBe(200);
    // The UPN now someone else's: they hold nothing through it, so the name can only mean Ivy's assignment.
    const newHolder = entra('4b4b4b4b-2222-3333-4444-555555555555', 'ivy@contoso.example');
    expect((await evidence(newHolder)).status).toBe(404);
    expect((await asSam({ method: 'DELETE', path: `/cases/${CASE}/assignments/Ivy%40contoso.example` })).status).toBe(204);
    expect((await evidence(ivy)).status).toBe(404);
    const entry = f.custodyEvents.filter((e) => e.action === 'assignment-change').at(-1);
    expect(entry?.details).toMatchObject({ change: 'unassigned', user: 'ivy@contoso.example', previousRole: 'investigator', userObjectId: OID_IVY });
    // By object id: the same entry shape.
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: OID_IVY } })).status).toBe(201);
    expect(f.custodyEvents.at(-1)?.details).toMatchObject({ change: 'assigned', user: OID_IVY, userObjectId: OID_IVY });
    expect((await asSam({ method: 'DELETE', path: `/cases/${CASE}/assignments/${OID_IVY.toUpperCase()}` })).status).toBe(204);
    expect(f.custodyEvents.at(-1)?.details).toMatchObject({ change: 'unassigned', user: OID_IVY, userObjectId: OID_IVY });
  });

  it('reused-upn-assign-changed-old-holders-role: assigning a name bound to an object id is a 409 naming it', async () => {
    const OLD = '0f0f0f0f-1111-2222-3333-444444444444';
    expect((await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'bo@contoso.example', role: 'examiner' } })).status).toBe(201);
    expect((await evidence(entra(OLD, 'bo@contoso.example', ['examiner']))).status).toBe(200);
    const res = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'BO@contoso.example', role: 'investigator' } });
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).toContain(OLD);
    // bound-name-reassign-same-role-409: the same name and role again is an idempotent 200 showing the binding.
    const again = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'BO@contoso.example', role: 'examiner' } });
    expect(again.status).toBe(200);
    expect(JSON.stringify(again.body)).toContain(OLD);
    const braced = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: `{${OLD}}` } });
    expect(braced.status).toBe(400);
  });
});

it('merge-kept-role-wider-than-access-rules-say: roleWithin (what merges keep) agrees with every route rule', () => {
  // a within b must mean: every route allowing a allows b (else a merge keeping a could widen).
  for (const a of ROLES) {
    for (const b of ROLES) {
      const within = ROUTE_TABLE.flat().every((r) => r.access === 'public' || !r.access.roles.includes(a) || r.access.roles.includes(b));
      if (roleWithin(a, b)) expect(within, `${a} within ${b}`).toBe(true);
    }
  }
});
