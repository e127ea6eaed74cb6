import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { CliError } from '../cli-error.js';
import { apiPath, createApiClient } from './api-client.js';

/** A tiny stand-in server: answers by path, echoes what it received. */
let server: Server;
let baseUrl: string;
let lastRequest: IncomingMessage | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    lastRequest = req;
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/api/echo':
        return json(200, { authorization: req.headers.authorization ?? null, query: Object.fromEntries(url.searchParams) });
      case '/api/cases/C%201/evidence':
        return json(200, { seen: url.pathname });
      case '/api/unauth':
        return json(401, { error: { code: 'unauthenticated', message: 'token expired' } });
      case '/api/bad':
        return json(400, { error: { code: 'invalid-argument', message: 'query: unknown parameter frob' } });
      case '/api/forbidden':
        return json(403, { error: { code: 'forbidden', message: 'supervisors only' } });
      case '/api/busy':
        return json(503, { error: { code: 'index-unavailable', message: 'temporarily unavailable, retry later' } });
      case '/api/html':
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('<html>bad gateway</html>');
      case '/api/jpeg':
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        return res.end(Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
      default:
        return json(404, { error: { code: 'not-found', message: 'not found' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('ApiClient', () => {
  it('sends the bearer token and the query, and parses JSON', async () => {
    const api = createApiClient({ baseUrl: `${baseUrl}/`, token: 'tok.en' });
    const body = await api.getJson<{ authorization: string; query: Record<string, string> }>('/echo', {
      query: { kind: 'image', hasGps: true, limit: 5, make: undefined },
    });
    expect(body).toEqual({ authorization: 'Bearer tok.en', query: { kind: 'image', hasGps: 'true', limit: '5' } });
    expect(lastRequest?.headers.accept).toBe('application/json');
  });

  it('sends no Authorization header without a token', async () => {
    const body = await createApiClient({ baseUrl, token: undefined }).getJson<{ authorization: string | null }>('/echo');
    expect(body.authorization).toBeNull();
  });

  it('escapes path segments', async () => {
    expect(apiPath('cases', 'C 1', 'evidence')).toBe('/cases/C%201/evidence');
    expect(await createApiClient({ baseUrl, token: 't' }).getJson(apiPath('cases', 'C 1', 'evidence'))).toEqual({ seen: '/api/cases/C%201/evidence' });
  });

  it('downloads bytes with their content type', async () => {
    const { bytes, contentType } = await createApiClient({ baseUrl, token: 't' }).getBytes('/jpeg');
    expect(contentType).toBe('image/jpeg');
    expect([...bytes]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
  });

  it('turns HTTP errors into typed errors with readable messages', async () => {
    const api = createApiClient({ baseUrl, token: 't' });
    await expect(api.getJson('/unauth')).rejects.toSatisfy((e) => isExhibitError(e, 'unauthenticated') && /run `npm run exhibit -- login --user NAME --role ROLE`/.test((e as Error).message));
    await expect(api.getJson('/bad')).rejects.toSatisfy((e) => isExhibitError(e, 'invalid-argument') && /unknown parameter frob/.test((e as Error).message));
    await expect(api.getJson('/forbidden')).rejects.toSatisfy((e) => isExhibitError(e, 'forbidden') && /supervisors only/.test((e as Error).message));
    await expect(api.getJson('/cases/C9/evidence/E9/status')).rejects.toSatisfy(
      (e) => isExhibitError(e, 'not-found') && /not assigned/.test((e as Error).message),
    );
    await expect(api.getJson('/busy')).rejects.toSatisfy((e) => e instanceof CliError && /temporarily unavailable/.test(e.message));
    await expect(api.getJson('/html')).rejects.toSatisfy((e) => e instanceof CliError && /502/.test(e.message));
  });

  it('explains a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const api = createApiClient({ baseUrl: `http://127.0.0.1:${port}/api`, token: 't' });
    await expect(api.getJson('/cases')).rejects.toSatisfy(
      (e) => e instanceof CliError && e.code === 'api-unreachable' && /ECONNREFUSED.*is the local host running\? start it with npm start/.test(e.message),
    );
  });
});
