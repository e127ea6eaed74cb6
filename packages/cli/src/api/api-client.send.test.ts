import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor } from '../cli-error.js';
import { createApiClient } from './api-client.js';

/** POST/DELETE with JSON, and the error codes the access and download commands depend on. */
let server: Server;
let baseUrl: string;
const received: Array<{ method: string; path: string; contentType: string | undefined; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      received.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/api/created') return json(201, { ok: true });
      if (path === '/api/gone') {
        res.writeHead(204);
        return res.end();
      }
      if (path === '/api/taken') return json(409, { error: { code: 'conflict', message: 'C1/E1/a.zip was registered for upload by another user' } });
      if (path === '/api/tampered') return json(500, { error: { code: 'hash-mismatch', message: 'the bytes read do not have the recorded SHA-256' } });
      if (path === '/api/bytes') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '3', 'x-exhibit-sha256': 'ab'.repeat(32) });
        return res.end(Buffer.from([1, 2, 3]));
      }
      return json(404, { error: { code: 'not-found', message: 'not found' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('ApiClient.send and openStream', () => {
  const client = () => createApiClient({ baseUrl, token: 'tok' });

  it('POSTs JSON and returns the status with the parsed body', async () => {
    const res = await client().send<{ ok: boolean }>('POST', '/created', { body: { user: 'ivy', role: null } });
    expect(res).toEqual({ status: 201, body: { ok: true } });
    expect(received.at(-1)).toEqual({ method: 'POST', path: '/api/created', contentType: 'application/json', body: '{"user":"ivy","role":null}' });
  });

  it('DELETEs without a body; 204 gives no body', async () => {
    const res = await client().send('DELETE', '/gone');
    expect(res).toEqual({ status: 204, body: undefined });
    expect(received.at(-1)).toMatchObject({ method: 'DELETE', contentType: undefined, body: '' });
  });

  it("turns 409 into a conflict with the API's message (exit 1), and a hash mismatch into an integrity failure (exit 3)", async () => {
    const taken = await client().send('POST', '/taken', { body: {} }).catch((e: unknown) => e);
    expect(taken).toMatchObject({ code: 'conflict', message: 'C1/E1/a.zip was registered for upload by another user' });
    expect(exitCodeFor(taken)).toBe(EXIT.error);
    const tampered = await client().openStream('/tampered').catch((e: unknown) => e);
    expect(tampered).toMatchObject({ code: 'hash-mismatch' });
    expect(exitCodeFor(tampered)).toBe(EXIT.integrity);
  });

  it('leaves the body of a stream unread, with its headers', async () => {
    const res = await client().openStream('/bytes');
    expect(res.headers.get('x-exhibit-sha256')).toBe('ab'.repeat(32));
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([1, 2, 3]));
  });
});
