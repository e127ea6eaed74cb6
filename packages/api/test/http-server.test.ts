import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRootLogger, ExhibitError } from '@exhibit/core';
import { createApi } from '../src/api.js';
import { startHttpServer, type HttpServerHandle } from '../src/http-server.node.js';
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/** The node:http adapter on a free port, in front of the real API. */
let f: ApiFixture;
let server: HttpServerHandle;
let seed: SeededCase;
let token: string;
let supervisorToken: string;
const logLines: string[] = [];

beforeAll(async () => {
  const logger = createRootLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  f = await createApiFixture(inject('storageConnectionString'), { logger });
  seed = await seedCase(f, 'CASE-H');
  await f.access.assign('CASE-H', 'erin', { by: 'setup' });
  await f.access.assign('CASE-H', 'sam', { by: 'setup' });
  token = await f.token('erin', ['examiner']);
  supervisorToken = await f.token('sam', ['supervisor']);
  server = await startHttpServer(createApi(f.deps), { host: '127.0.0.1', port: 0, logger });
});

afterAll(async () => {
  await server?.close();
  await f?.dispose();
});

const auth = (t = token) => ({ authorization: `Bearer ${t}` });

describe('node:http adapter', () => {
  it('listens on the port it was given (0 = a free one) under /api', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/api`);
  });

  it('serves the OpenAPI document without a token', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/cases/{caseId}/files/{fileId}/thumbnail');
  });

  it('answers /api itself with an index and /api/docs with a readable page, without a token', async () => {
    for (const url of [server.url, `${server.url}/`]) {
      const index = await fetch(url);
      expect(index.status).toBe(200);
      expect(await index.json()).toMatchObject({ openapi: '/api/openapi.json', docs: '/api/docs' });
    }
    const docs = await fetch(`${server.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await docs.text()).toContain('GET /cases/{caseId}/timeline');
  });

  it('streams an export over HTTP, its SHA-256 matching the custody entry', async () => {
    const before = f.custodyEvents.length;
    const res = await fetch(`${server.url}/cases/CASE-H/export?format=csv`, { headers: auth() });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const { createHash } = await import('node:crypto');
    const exports = f.custodyEvents.slice(before).filter((e) => e.action === 'export');
    expect(exports).toHaveLength(1);
    expect(exports[0]!.details).toMatchObject({ exportId: res.headers.get('x-exhibit-export-id'), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, complete: true });
  });

  it('answers 401 in JSON without a token, and the caller with one', async () => {
    const anonymous = await fetch(`${server.url}/me`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    const me = await fetch(`${server.url}/me`, { headers: auth() });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: 'erin', roles: ['examiner'], cases: ['CASE-H'] });
  });

  it('echoes a sane request id and replaces anything else', async () => {
    const given = await fetch(`${server.url}/me`, { headers: { ...auth(), 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const odd = await fetch(`${server.url}/me`, { headers: { ...auth(), 'x-request-id': 'x'.repeat(200) } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('streams a thumbnail', async () => {
    const res = await fetch(`${server.url}/cases/CASE-H/files/${seed.photoFileId}/thumbnail`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(seed.thumbnailBytes)).toBe(true);
  });

  it('parses query strings and rejects repeated parameters', async () => {
    const ok = await fetch(`${server.url}/cases/CASE-H/files?kind=image&limit=5`, { headers: auth() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ total: 1, limit: 5 });
    const repeated = await fetch(`${server.url}/cases/CASE-H/files?kind=image&kind=video`, { headers: auth() });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toMatchObject({ error: { details: { repeated: ['kind'] } } });
  });

  it('reads JSON bodies, and refuses other types, bad JSON and oversized bodies', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${server.url}/cases/CASE-H/assignments`, { method: 'POST', headers: { ...auth(supervisorToken), 'content-type': type }, body });
    const created = await post(JSON.stringify({ user: 'ivan', role: 'investigator' }));
    expect(created.status).toBe(201);
    expect((await post('{"user":')).status).toBe(400);
    expect((await post('user=ivan', 'application/x-www-form-urlencoded')).status).toBe(400);
    const big = await post(JSON.stringify({ user: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);
    const removed = await fetch(`${server.url}/cases/CASE-H/assignments/ivan`, { method: 'DELETE', headers: auth(supervisorToken) });
    expect(removed.status).toBe(204);
    expect(await removed.text()).toBe('');
  });

  it('answers paths outside /api with the same 404', async () => {
    for (const p of ['/', '/apix', '/api-docs', '/cases']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.json()).toEqual({ error: { code: 'not-found', message: 'not found' } });
    }
  });

  it('hands out download links to itself that work without a token, and never logs their tickets', async () => {
    const res = await fetch(`${server.url}/cases/CASE-H/files/${seed.photoFileId}/download`, { headers: auth() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { url: string; kind: string };
    expect(body.kind).toBe('api-ticket');
    expect(body.url.startsWith(`${server.url}/cases/CASE-H/files/${seed.photoFileId}/content?ticket=`)).toBe(true);
    const fetched = await fetch(body.url);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(seed.photoBytes)).toBe(true);
    const ticket = new URL(body.url).searchParams.get('ticket')!;
    expect(logLines.join('')).not.toContain(ticket);
  });

  // Regression: a body cut short on purpose (an export whose caller was unassigned) was logged at error
  // level as "response failed", like a fault; any other failure of a body still is.
  it('export-revoked-logged-as-response-failure', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = createRootLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) } });
    const failing = (err: Error) => ({
      routes: [],
      handle: async () => ({
        status: 200,
        headers: { 'content-type': 'text/csv' },
        body: Readable.from(
          (async function* () {
            yield Buffer.from('fileId\r\n');
            await new Promise((r) => setTimeout(r, 20));
            throw err;
          })(),
        ),
      }),
    });
    for (const [err, level, msg] of [
      [new ExhibitError('aborted', "export cut short: the caller's access to the case was revoked"), 30, 'response cut short'],
      [new ExhibitError('index-unavailable', 'connection reset'), 50, 'response failed'],
    ] as const) {
      const s = await startHttpServer(failing(err), { host: '127.0.0.1', port: 0, logger });
      try {
        const res = await fetch(`${s.url}/cases/C/export`);
        await expect(res.arrayBuffer()).rejects.toThrow();
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await s.close();
      }
      expect(lines.filter((l) => l.level >= 30).map((l) => `${l.level} ${l.msg}`)).toContain(`${level} ${msg}`);
      lines.length = 0;
    }
  });

  it('logs requests without tokens or Authorization headers', () => {
    const text = logLines.join('');
    expect(text).toContain('"msg":"api request"');
    expect(text).toContain('"route":"getMe"');
    expect(text).not.toContain(token);
    expect(text).not.toContain(supervisorToken.split('.')[2]!);
    expect(text.toLowerCase()).not.toContain('authorization');
  });
});
