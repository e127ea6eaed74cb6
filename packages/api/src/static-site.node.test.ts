import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticSite, safeRelativePath } from './static-site.node.js';

async function text(body: unknown): Promise<string> {
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body);
}

describe('static site (the built review app)', () => {
  let root: string;
  let outside: string;
  beforeAll(async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'exhibit-site-'));
    root = path.join(base, 'dist');
    outside = path.join(base, 'secret.txt');
    await mkdir(path.join(root, 'assets'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(root, 'assets', 'index-DQq6g7bk.js'), 'console.log(1)');
    await writeFile(path.join(root, 'assets', 'index-D8IOx74X.css'), 'body{}');
    await writeFile(path.join(root, 'favicon.svg'), '<svg/>');
    await writeFile(outside, 'not for you');
    await symlink(outside, path.join(root, 'assets', 'link-AAAAAAAA.txt'));
  });
  afterAll(async () => {
    await rm(path.dirname(root), { recursive: true, force: true });
  });
  const get = (p: string, method = 'GET') => createStaticSite({ rootDir: root })({ method, path: p, headers: {} });

  it('serves hashed assets with their content type, immutable for a year', async () => {
    const js = await get('/assets/index-DQq6g7bk.js');
    expect(js.status).toBe(200);
    expect(js.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers?.['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(await text(js.body)).toBe('console.log(1)');
    expect((await get('/assets/index-D8IOx74X.css')).headers?.['content-type']).toBe('text/css; charset=utf-8');
    const svg = await get('/favicon.svg');
    expect(svg.headers?.['content-type']).toBe('image/svg+xml');
    expect(svg.headers?.['cache-control']).toBe('no-cache');
  });

  it('answers app routes with index.html (revalidated), and a missing asset with 404', async () => {
    for (const p of ['/', '/cases', '/cases/C1/files/abc', '/cases/C%201/gallery']) {
      const r = await get(p);
      expect(r.status).toBe(200);
      expect(r.headers?.['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers?.['cache-control']).toBe('no-cache');
      expect(r.headers?.['content-security-policy']).toContain("default-src 'self'");
      expect(await text(r.body)).toContain('<title>app</title>');
    }
    expect((await get('/assets/index-00000000.js')).status).toBe(404);
    expect((await get('/robots.txt')).status).toBe(404);
  });

  it('never leaves its folder: dot segments, encoded slashes, backslashes, dot files, symbolic links', async () => {
    for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets%2f..%2f..%2fsecret.txt', '/..%5csecret.txt', '/.env', '/%00', '/%zz']) {
      const r = await get(p);
      expect({ p, status: r.status }).toEqual({ p, status: 404 });
    }
    const link = await get('/assets/link-AAAAAAAA.txt');
    expect(link.status).toBe(404);
    expect(safeRelativePath('/a/./b')).toBeNull();
    expect(safeRelativePath('/a//b')).toBe('/a/b');
  });

  it('takes GET and HEAD only; HEAD has the headers and no body', async () => {
    const head = await get('/assets/index-DQq6g7bk.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    expect(head.headers?.['content-length']).toBe('14');
    const post = await get('/cases', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers?.allow).toBe('GET, HEAD');
  });

  it('says how to build the app when it is not built', async () => {
    const r = await createStaticSite({ rootDir: path.join(root, 'nope') })({ method: 'GET', path: '/', headers: {} });
    expect(r.status).toBe(503);
    expect(await text(r.body)).toContain('npm run build');
  });
});
