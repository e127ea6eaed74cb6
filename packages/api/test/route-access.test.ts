import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HashSetStore } from '@exhibit/index';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ROLES, type FileTag, type Role } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { AccessRule, ApiDeps, ApiRequest, ApiResponse, RouteDef } from '../src/api.types.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { createApiFixture, seedCase, seedLooseFiles, seedStoredMember, type ApiFixture, type SeededCase, type SeededLooseFile, type SeededStoredMember } from './api-fixture.js';

/**
 * The authorisation matrix, generated from the route table: every route ×
 * every role × (assigned, not assigned, no token, bad token) against a real
 * index and real blob storage.
 *
 * EXPECTATIONS states the intended policy of each route, written here and
 * not read from the route, so a route whose declared rule drifts from the
 * policy fails, and a route without an entry fails: a new route cannot ship
 * without its access being decided and tested.
 */
interface Expectation {
  policy: AccessRule;
  request(seed: SeededCase): { path: string; query?: string; body?: unknown };
  /** State the request needs, made before each call (not through the API). */
  before?(seed: SeededCase): Promise<void>;
  /** Statuses an allowed caller may get. */
  ok: number[];
  /** More checks on an allowed caller's response. */
  verify?(res: ApiResponse & { json: unknown }): Promise<void>;
}

/** A ZIP member stored uncompressed in CASE-1 (read in place): what the download routes must give, byte for byte, and no more. */
let member: SeededStoredMember;
/** A WebM in CASE-1, identified as video: what the playback routes serve. */
let video: SeededLooseFile;

const ALL: Role[] = [...ROLES];

/** A tag the PATCH and DELETE rows act on (DELETE puts it back after each allowed call). */
let matrixTag: FileTag;
/** An export recorded in the real custody log (and so in its index copy). */
const MATRIX_EXPORT_ID = '0b7f4c1e-8d1a-4c39-9a51-4a5e2f1d0c77';
const TAG_WRITERS: Role[] = ['investigator', 'examiner', 'supervisor'];

const EXPECTATIONS: Record<string, Expectation> = {
  'GET /openapi.json': { policy: 'public', request: () => ({ path: '/openapi.json' }), ok: [200] },
  'GET /docs': {
    policy: 'public',
    request: () => ({ path: '/docs' }),
    ok: [200],
    async verify(res) {
      expect(res.headers?.['content-type']).toMatch(/^text\/html/);
      expect(String(res.json)).toContain('/cases/{caseId}/map');
    },
  },
  'GET /': { policy: 'public', request: () => ({ path: '/' }), ok: [200] },
  'GET /cases/{caseId}/map': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/map`, query: 'kind=image&zoom=3' }),
    ok: [200],
    async verify(res) {
      expect(res.json).toMatchObject({ total: 1, clusters: [{ count: 1, fileId: seed.photoFileId }] });
    },
  },
  'GET /cases/{caseId}/timeline': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/timeline`, query: 'bucket=day' }),
    ok: [200],
    async verify(res) {
      expect(res.json).toMatchObject({ bucket: 'day', withTakenAt: 1, buckets: [{ start: '2023-07-14T00:00:00', withOffset: 1, withoutOffset: 0 }] });
    },
  },
  'GET /cases/{caseId}/contents/{sha256}/thumbnail': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/contents/${s.photoSha256}/thumbnail` }),
    ok: [200],
    async verify(res) {
      expect(Buffer.isBuffer(res.json) && res.json.equals(seed.thumbnailBytes)).toBe(true);
      expect(res.headers?.['cache-control']).toBe('private, max-age=31536000, immutable');
    },
  },
  'GET /cases/{caseId}/files/{fileId}/custody': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${s.photoFileId}/custody` }),
    ok: [200],
  },
  'GET /cases/{caseId}/tags': { policy: { roles: ALL, caseScoped: true }, request: (s) => ({ path: `/cases/${s.caseId}/tags` }), ok: [200] },
  // Every allowed role adds the same tag: the first gets 201, the others 409 (the file already has it).
  'POST /cases/{caseId}/tags': {
    policy: { roles: TAG_WRITERS, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/tags`, body: { fileId: s.photoFileId, tag: 'matrix-added', note: 'seen' } }),
    ok: [201, 409],
  },
  'PATCH /cases/{caseId}/tags/{tagId}': {
    policy: { roles: TAG_WRITERS, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/tags/${matrixTag.tagId}`, body: { note: 'changed by the matrix' } }),
    ok: [200],
  },
  'DELETE /cases/{caseId}/tags/{tagId}': {
    policy: { roles: TAG_WRITERS, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/tags/${matrixTag.tagId}` }),
    ok: [204],
    async verify() {
      await f.deps.extensions!.review!.restoreTag(matrixTag);
    },
  },
  'GET /cases/{caseId}/export': {
    policy: { roles: TAG_WRITERS, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/export`, query: 'format=csv&kind=image' }),
    ok: [200],
    async verify(res) {
      // The header, then the two images of CASE-1 (the photo and the stored member) in path order.
      const lines = String(res.json).trim().split('\r\n');
      expect(lines).toHaveLength(3);
      expect(lines[1]).toContain(seed.photoSha256);
      expect(lines[2]).toContain(member.memberSha256);
    },
  },
  'GET /cases/{caseId}/exports/{exportId}': {
    policy: { roles: TAG_WRITERS, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/exports/${MATRIX_EXPORT_ID}` }),
    ok: [200],
  },
  'GET /cases/{caseId}/access-events': {
    policy: { roles: ['supervisor'], caseScoped: true, answersWithCustodyPending: true },
    request: (s) => ({ path: `/cases/${s.caseId}/access-events`, query: 'action=export' }),
    ok: [200],
    async verify(res) {
      expect((res.json as { items: Array<{ details: { exportId?: string } }> }).items.some((i) => i.details.exportId === MATRIX_EXPORT_ID)).toBe(true);
    },
  },
  'GET /me': { policy: { roles: ALL, caseScoped: false }, request: () => ({ path: '/me' }), ok: [200] },
  'GET /cases': { policy: { roles: ALL, caseScoped: false }, request: () => ({ path: '/cases' }), ok: [200] },
  'GET /cases/{caseId}/evidence': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/evidence` }),
    ok: [200],
  },
  'GET /cases/{caseId}/evidence/{evidenceId}/status': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/evidence/${s.evidenceId}/status` }),
    ok: [200],
  },
  'GET /cases/{caseId}/files': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files`, query: 'kind=image&hasGps=true' }),
    ok: [200],
  },
  'GET /cases/{caseId}/files/{fileId}': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${s.photoFileId}` }),
    ok: [200],
  },
  'GET /cases/{caseId}/files/{fileId}/similar': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${s.photoFileId}/similar`, query: 'maxDistance=31&scope=assigned' }),
    ok: [200],
  },
  'GET /cases/{caseId}/files/{fileId}/thumbnail': {
    policy: { roles: ALL, caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${s.photoFileId}/thumbnail` }),
    ok: [200],
  },
  'GET /cases/{caseId}/files/{fileId}/embedded-preview': {
    policy: { roles: ['examiner', 'supervisor'], caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${s.photoFileId}/embedded-preview` }),
    ok: [200],
    async verify(res) {
      expect(res.headers?.['content-type']).toBe('image/jpeg');
      expect(Buffer.isBuffer(res.json) && res.json.equals(seed.previewBytes)).toBe(true);
    },
  },
  'GET /cases/{caseId}/files/{fileId}/download': {
    policy: { roles: ['examiner', 'supervisor'], caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${member.memberFileId}/download` }),
    ok: [200],
    async verify(res) {
      // The link is fetched with no token, and gives the member and nothing of the archive around it (a Range is of the member, cut at its end).
      const url = new URL((res.json as { url: string }).url, 'http://api.invalid');
      const fetched = await call({ path: url.pathname.replace(/^\/api/, ''), query: url.searchParams, headers: { range: `bytes=0-${member.zipBytes.length}` } });
      expect(fetched.status).toBe(206);
      expect(Buffer.isBuffer(fetched.json) && fetched.json.equals(member.memberBytes)).toBe(true);
    },
  },
  'GET /cases/{caseId}/files/{fileId}/playback-link': {
    policy: { roles: ['examiner', 'supervisor'], caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${video.fileId}/playback-link` }),
    ok: [200],
    async verify(res) {
      const url = new URL((res.json as { url: string }).url, 'http://api.invalid');
      const fetched = await call({ path: url.pathname.replace(/^\/api/, ''), query: url.searchParams, headers: { range: 'bytes=0-' } });
      expect(fetched.status).toBe(206);
      expect(fetched.headers?.['content-type']).toBe('video/webm');
      expect(Buffer.isBuffer(fetched.json) && fetched.json.equals(video.bytes)).toBe(true);
    },
  },
  'GET /cases/{caseId}/files/{fileId}/playback': {
    policy: { roles: ['examiner', 'supervisor'], caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${video.fileId}/playback` }),
    ok: [200],
    async verify(res) {
      expect(res.headers?.['content-disposition']).toBe('inline');
      expect(Buffer.isBuffer(res.json) && res.json.equals(video.bytes)).toBe(true);
    },
  },
  'GET /cases/{caseId}/files/{fileId}/content': {
    policy: { roles: ['examiner', 'supervisor'], caseScoped: true },
    request: (s) => ({ path: `/cases/${s.caseId}/files/${member.memberFileId}/content` }),
    ok: [200],
    async verify(res) {
      expect(Buffer.isBuffer(res.json) && res.json.equals(member.memberBytes)).toBe(true);
      expect(res.headers?.['content-length']).toBe(String(member.memberBytes.length));
    },
  },
  // newCaseRoles let an unassigned examiner in only on a case nobody knows; CASE-1 is known, so the matrix sees a 404
  // (the new-case rule has its own tests in case-claims.test.ts).
  'POST /cases/{caseId}/uploads': {
    policy: { roles: ['examiner'], caseScoped: true, newCaseRoles: ['examiner'] },
    request: (s) => ({ path: `/cases/${s.caseId}/uploads`, body: { evidenceId: 'EX09', fileName: 'matrix.bin', size: 3 } }),
    ok: [200, 201],
  },
  'GET /cases/{caseId}/assignments': {
    policy: { roles: ['supervisor', 'admin'], caseScoped: true, anyCaseRoles: ['admin'], answersWithCustodyPending: true },
    request: (s) => ({ path: `/cases/${s.caseId}/assignments` }),
    ok: [200],
  },
  'POST /cases/{caseId}/assignments': {
    policy: { roles: ['supervisor', 'admin'], caseScoped: true, anyCaseRoles: ['admin'] },
    request: (s) => ({ path: `/cases/${s.caseId}/assignments`, body: { user: 'visitor', role: 'investigator' } }),
    ok: [200, 201],
  },
  'DELETE /cases/{caseId}/assignments/{user}': {
    policy: { roles: ['supervisor', 'admin'], caseScoped: true, anyCaseRoles: ['admin'] },
    request: (s) => ({ path: `/cases/${s.caseId}/assignments/visitor` }),
    // Removing a name that holds no assignment is a 404 (nothing changed): each caller removes a real one.
    before: async (s) => void (await f.access.assign(s.caseId, 'visitor', { by: 'test-setup' })),
    ok: [204],
  },
  'GET /cases/{caseId}/custody/verify': {
    policy: { roles: ['supervisor'], caseScoped: true, answersWithCustodyPending: true },
    request: (s) => ({ path: `/cases/${s.caseId}/custody/verify` }),
    ok: [200],
  },
  'GET /cases/{caseId}/custody/report': {
    policy: { roles: ['supervisor'], caseScoped: true, answersWithCustodyPending: true },
    request: (s) => ({ path: `/cases/${s.caseId}/custody/report`, query: 'format=json' }),
    ok: [200],
  },
  'GET /admin/rejected-blobs': {
    policy: { roles: ['admin'], caseScoped: false },
    request: () => ({ path: '/admin/rejected-blobs', query: 'limit=10' }),
    ok: [200],
  },
  'GET /admin/hash-sets': {
    policy: { roles: ['admin'], caseScoped: false },
    request: () => ({ path: '/admin/hash-sets' }),
    ok: [200],
    async verify(res) {
      expect((res.json as { items: Array<{ name: string }> }).items.map((s) => s.name)).toEqual(['Route list']);
    },
  },
  'POST /admin/hash-sets/{name}/enable': {
    policy: { roles: ['admin'], caseScoped: false },
    request: () => ({ path: '/admin/hash-sets/Route%20list/enable' }),
    ok: [202],
  },
  'POST /admin/hash-sets/{name}/disable': {
    policy: { roles: ['admin'], caseScoped: false },
    request: () => ({ path: '/admin/hash-sets/Route%20list/disable' }),
    ok: [200],
  },
  // A name that is not there: the set the other routes use stays (removal itself is tested in packages/index/test/hash-sets.test.ts).
  'DELETE /admin/hash-sets/{name}': {
    policy: { roles: ['admin'], caseScoped: false },
    request: () => ({ path: '/admin/hash-sets/No%20such%20set' }),
    ok: [404],
  },
};

type Scenario = 'assigned' | 'unassigned' | 'no-token' | 'bad-token';
const SCENARIOS: Scenario[] = ['assigned', 'unassigned', 'no-token', 'bad-token'];

/** What the policy says a caller should get: 'ok', or an error status. */
function expectedOutcome(policy: AccessRule, role: Role, scenario: Scenario): 'ok' | 401 | 403 | 404 {
  if (policy === 'public') return 'ok';
  if (scenario === 'no-token' || scenario === 'bad-token') return 401;
  const roleAllowed = policy.roles.includes(role);
  if (!policy.caseScoped) return roleAllowed ? 'ok' : 403;
  if (scenario === 'unassigned' && !(policy.anyCaseRoles ?? []).includes(role)) return 404;
  return roleAllowed ? 'ok' : 403;
}

const key = (r: Pick<RouteDef, 'method' | 'path'>) => `${r.method} ${r.path}`;
const userFor = (role: Role, scenario: Scenario) => `${role}-${scenario}`;

// Filled in beforeAll; createApi only keeps the reference.
const deps = {} as ApiDeps;
const api = createApi(deps);

let f: ApiFixture;
let seed: SeededCase;
let other: SeededCase;
const tokens = new Map<string, string>();

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  Object.assign(deps, f.deps);
  seed = await seedCase(f, 'CASE-1');
  member = await seedStoredMember(f, 'CASE-1', 'EX02');
  video = (await seedLooseFiles(f, 'CASE-1', [
    { evidenceId: 'EX03', fileName: 'clip.webm', bytes: Buffer.from('\x1aE\xdf\xa3 webm stand-in', 'latin1'), mime: 'video/webm', detectedExt: 'webm', kind: 'video' },
  ]))[0]!;
  other = await seedCase(f, 'CASE-2');
  for (const role of ROLES) {
    await f.access.assign(seed.caseId, userFor(role, 'assigned'), { by: 'test-setup' });
    for (const scenario of ['assigned', 'unassigned'] as const) tokens.set(userFor(role, scenario), await f.token(userFor(role, scenario), [role]));
  }
  // Everyone assigned to CASE-1 is a stranger to CASE-2 except this one, so CASE-2 is known to exist.
  await f.access.assign(other.caseId, 'examiner-other', { by: 'test-setup' });
  matrixTag = await f.deps.extensions!.review!.addTag({ caseId: seed.caseId, fileId: seed.photoFileId, tag: 'matrix', note: 'for PATCH and DELETE', by: 'test-setup' });
  await f.custodyLog.record({
    caseId: seed.caseId,
    evidenceId: seed.evidenceId,
    action: 'export',
    actor: 'test-setup',
    details: { exportId: MATRIX_EXPORT_ID, format: 'csv', sha256: 'a'.repeat(64), bytes: 10, items: 1, producedAt: '2026-01-01T00:00:00.000Z' },
  });
  // A hash set for the /admin/hash-sets routes.
  const hashSets = new HashSetStore(f.sql, { custody: f.deps.custody, toolVersion: 'test' });
  deps.extensions = { ...deps.extensions, hashSets };
  const setDir = mkdtempSync(path.join(tmpdir(), 'route-access-set-'));
  writeFileSync(path.join(setDir, 'list.txt'), 'd41d8cd98f00b204e9800998ecf8427e\n');
  await hashSets.import(path.join(setDir, 'list.txt'), { name: 'Route list', kind: 'known-bad', importedBy: 'test-setup' });
  rmSync(setDir, { recursive: true, force: true });
  // Something for /admin/rejected-blobs to list (and for its schema to be checked against).
  await f.index.recordRejectedBlob({
    container: f.deps.containers.evidence,
    blobName: 'IMG_0001.JPG',
    etag: '"0x8DC0001"',
    size: 10,
    lastModified: '2024-05-01T10:00:00.000Z',
    reason: 'not-evidence-name',
    detail: 'at the container root: the name has no <caseId>/<evidenceId>/ prefix',
  });
});

afterAll(async () => {
  await f?.dispose();
});

async function call(req: Partial<ApiRequest> & { path: string }, bearer?: string): Promise<ApiResponse & { json: unknown }> {
  const headers: Record<string, string | undefined> = { ...req.headers };
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  const res = await api.handle({ method: 'GET', query: new URLSearchParams(), ...req, headers });
  let json: unknown = res.body;
  if (res.body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    json = Buffer.concat(chunks);
  }
  return { ...res, json };
}

describe('the route table', () => {
  it('gives every route an access rule and every route an expectation, and nothing else', () => {
    for (const route of api.routes) {
      expect(route.access, `${key(route)} has no access rule`).toBeDefined();
      expect(EXPECTATIONS[key(route)], `${key(route)} has no entry in EXPECTATIONS (route-access.test.ts)`).toBeDefined();
    }
    expect(Object.keys(EXPECTATIONS).sort()).toEqual(api.routes.map(key).sort());
  });

  it.each(api.routes.map((r) => [key(r), r] as const))('%s declares the intended policy', (_k, route) => {
    expect(route.access).toEqual(EXPECTATIONS[key(route)]?.policy);
  });
});

describe.each(api.routes.map((r) => [key(r), r] as const))('%s', (routeKey, route) => {
  it.each(ROLES.flatMap((role) => SCENARIOS.map((scenario) => [role, scenario] as const)))('%s, %s', async (role, scenario) => {
    const expectation = EXPECTATIONS[routeKey];
    expect(expectation, `no expectation for ${routeKey}`).toBeDefined();
    await expectation!.before?.(seed);
    const { path, query, body } = expectation!.request(seed);
    const bearer = scenario === 'no-token' ? undefined : scenario === 'bad-token' ? 'e30.e30.c2ln' : tokens.get(userFor(role, scenario));
    f.touched.length = 0;
    const res = await call({ method: route.method, path, query: new URLSearchParams(query ?? ''), ...(body ? { body } : {}) }, bearer);
    const outcome = expectedOutcome(expectation!.policy, role, scenario);

    if (outcome === 'ok') {
      expect(expectation!.ok, `${role}/${scenario}: ${JSON.stringify(res.json)}`).toContain(res.status);
      const schema = route.responses[res.status]?.schema;
      if (schema) {
        const parsed = schema.safeParse(res.json);
        expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues).slice(0, 500)).toBe(true);
      }
      await expectation!.verify?.(res);
      return;
    }
    expect(res.status, `${role}/${scenario}: ${JSON.stringify(res.json)}`).toBe(outcome);
    // Denied before any evidence data or blob was read.
    expect(f.touched).toEqual([]);
    if (outcome === 404) expect(res.json).toEqual(NOT_FOUND_BODY);
    if (outcome === 403) expect(res.json).toMatchObject({ error: { code: 'forbidden' } });
    if (outcome === 401) {
      expect(res.json).toMatchObject({ error: { code: 'unauthenticated' } });
      expect(res.headers?.['www-authenticate']).toBe('Bearer');
    }
  });
});

describe('what the matrix left in the custody log', () => {
  it('records data access only by assigned users with a permitted role', () => {
    const dataActions = new Set(['search', 'view', 'thumbnail-view', 'download', 'export']);
    const byAction = new Map<string, Set<string>>();
    for (const e of f.custodyEvents.filter((e) => dataActions.has(e.action))) {
      (byAction.get(e.action) ?? byAction.set(e.action, new Set()).get(e.action)!).add(e.actor);
      expect(e.caseId).toBe(seed.caseId);
      expect([seed.evidenceId, member.evidenceId, 'EX03']).toContain(e.evidenceId);
    }
    const assigned = ROLES.map((r) => userFor(r, 'assigned'));
    expect([...(byAction.get('search') ?? [])].sort()).toEqual([...assigned].sort());
    expect([...(byAction.get('view') ?? [])].sort()).toEqual([...assigned].sort());
    expect([...(byAction.get('thumbnail-view') ?? [])].sort()).toEqual([...assigned].sort());
    expect([...(byAction.get('download') ?? [])].sort()).toEqual(['examiner-assigned', 'supervisor-assigned']);
    expect([...(byAction.get('export') ?? [])].sort()).toEqual(['examiner-assigned', 'investigator-assigned', 'supervisor-assigned']);
    const bookmarks = f.custodyEvents.filter((e) => e.action === 'bookmark');
    expect(new Set(bookmarks.map((e) => e.actor))).toEqual(new Set(['examiner-assigned', 'investigator-assigned', 'supervisor-assigned']));
    // One add (the first POST), one change and one remove per allowed role.
    expect(bookmarks.filter((e) => e.details.op === 'add')).toHaveLength(1);
    expect(bookmarks.filter((e) => e.details.op === 'change')).toHaveLength(3);
    expect(bookmarks.filter((e) => e.details.op === 'remove')).toHaveLength(3);
  });

  it('records a read of the case for every allowed read of status, lists and /cases, and none for a refused one', () => {
    const reads = f.custodyEvents.filter((e) => e.action === 'read');
    const routesBy = new Map<string, Set<string>>();
    for (const e of reads) (routesBy.get(e.actor) ?? routesBy.set(e.actor, new Set()).get(e.actor)!).add(`${e.caseId} ${String(e.details.route)}`);
    const expected = new Map<string, string[]>();
    for (const role of ROLES) {
      const assigned = [
        `${seed.caseId} listCases`,
        `${seed.caseId} listEvidence`,
        `${seed.caseId} getEvidenceStatus`,
        `${seed.caseId} mapFiles`,
        `${seed.caseId} timelineFiles`,
        `${seed.caseId} listTags`,
        `${seed.caseId} getFileCustody`,
      ];
      if (role === 'supervisor' || role === 'admin') assigned.push(`${seed.caseId} listAssignments`);
      if (role === 'supervisor') assigned.push(`${seed.caseId} listAccessEvents`);
      // The roles that export read an export's record back (GET …/exports/{exportId}).
      if (TAG_WRITERS.includes(role)) assigned.push(`${seed.caseId} getExport`);
      // Admins see every case in /cases, and manage assignments of cases they are not assigned to.
      if (role === 'admin') assigned.push(`${other.caseId} listCases`);
      expected.set(userFor(role, 'assigned'), assigned.sort());
      if (role === 'admin') expected.set(userFor(role, 'unassigned'), [`${seed.caseId} listCases`, `${other.caseId} listCases`, `${seed.caseId} listAssignments`].sort());
    }
    expect(new Map([...routesBy].map(([user, set]) => [user, [...set].sort()]))).toEqual(expected);
  });
});
