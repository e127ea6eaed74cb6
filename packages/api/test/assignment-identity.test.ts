import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Role } from '@exhibit/core';
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
    const alice = entra('0c0c0c0c-1111-2222-3333-444444444444', 'alice@contoso.example');
    expect((await evidence(alice)).status).toBe(200);

    // Assigning the same UPN typed differently is the same assignment, not a second one.
    const again = await asSam({ method: 'POST', path: `/cases/${CASE}/assignments`, body: { user: 'ALICE@contoso.example' } });
    expect(again).toMatchObject({ status: 200, body: { changed: false, assignment: { user: 'Alice@Contoso.example' } } });

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
});
