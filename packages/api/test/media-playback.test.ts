import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApi } from '../src/api.js';
import type { Api, ApiResponse } from '../src/api.types.js';
import { createApiFixture, seedLooseFiles, type ApiFixture, type SeededLooseFile } from './api-fixture.js';

/**
 * GET …/playback and …/playback-link: a video or sound played in the review
 * app's <video>/<audio>, served inline as its media type, and nothing else
 * ever served for display from the app's origin (an HTML page in the evidence
 * would otherwise run as the app). The kind and type are what the index
 * identified from the bytes; names are chosen to contradict them.
 */
let f: ApiFixture;
let api: Api;
let video: SeededLooseFile;
let sound: SeededLooseFile;
let html: SeededLooseFile;
let htmlNamedMp4: SeededLooseFile;
let avi: SeededLooseFile;
let pending: SeededLooseFile;
const CASE = 'CASE-P1';

const HTML = Buffer.from('<!doctype html><html><body><script>fetch("/api/me")</script></body></html>');

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  const webm = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.from('webm stand-in '.repeat(200))]);
  const seeded = await seedLooseFiles(f, CASE, [
    // Named .html: the bytes said WebM, and the bytes decide.
    { evidenceId: 'EX01', fileName: 'clip.html', bytes: webm, mime: 'video/webm', detectedExt: 'webm', kind: 'video' },
    { evidenceId: 'EX02', fileName: 'voice.oga', bytes: Buffer.from('OggS opus stand-in'), mime: 'audio/ogg; codecs=opus', detectedExt: 'opus', kind: 'audio' },
    { evidenceId: 'EX03', fileName: 'page.html', bytes: HTML, mime: 'text/html', detectedExt: 'html', kind: 'document' },
    // An HTML page named as a video: identified by its bytes as what it is.
    { evidenceId: 'EX04', fileName: 'movie.mp4', bytes: Buffer.concat([HTML, Buffer.from(' ')]), mime: 'text/html', detectedExt: 'html', kind: 'other' },
    { evidenceId: 'EX05', fileName: 'old.avi', bytes: Buffer.from('RIFF....AVI LIST'), mime: 'video/vnd.avi', detectedExt: 'avi', kind: 'video' },
    { evidenceId: 'EX06', fileName: 'later.mp4', bytes: Buffer.from('not identified yet'), mime: null, detectedExt: null, kind: null },
  ]);
  [video, sound, html, htmlNamedMp4, avi, pending] = seeded as [SeededLooseFile, SeededLooseFile, SeededLooseFile, SeededLooseFile, SeededLooseFile, SeededLooseFile];
  await f.access.assign(CASE, 'erin', { by: 'setup' });
  await f.access.assign(CASE, 'ivy', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function get(path: string, options: { user?: string; roles?: ('examiner' | 'investigator' | 'supervisor')[]; headers?: Record<string, string>; query?: URLSearchParams; token?: false; baseUrl?: string } = {}): Promise<ApiResponse & { bytes: Buffer }> {
  const auth = options.token === false ? {} : { authorization: `Bearer ${await f.token(options.user ?? 'erin', options.roles ?? ['examiner'])}` };
  const res = await api.handle({ method: 'GET', path, query: options.query ?? new URLSearchParams(), headers: { ...auth, ...options.headers }, ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}) });
  return { ...res, bytes: Buffer.isBuffer(res.body) || (res.body && typeof (res.body as Readable).pipe === 'function') ? await bodyBytes(res.body) : Buffer.alloc(0) };
}

const playback = (file: SeededLooseFile) => `/cases/${CASE}/files/${file.fileId}/playback`;
const link = (file: SeededLooseFile) => `/cases/${CASE}/files/${file.fileId}/playback-link`;

const SAFETY = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

describe('playback: served inline only for video and audio identified from the bytes', () => {
  it('serves a video inline as its listed media type with nosniff, a sandbox CSP and CORP, whatever its name says', async () => {
    const res = await get(playback(video));
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ ...SAFETY, 'content-type': 'video/webm', 'accept-ranges': 'bytes', 'content-length': String(video.bytes.length) });
    // Regression playback-inline-named-after-evidence: it was `inline; filename="clip.html"`, so a browser that saved
    // the response instead of playing it saved the evidence's bytes as clip.html. No file name at all.
    expect(res.headers?.['content-disposition']).toBe('inline');
    expect(res.bytes.equals(video.bytes)).toBe(true);
  });

  it('serves one byte range as 206 with Content-Range, each part its own download entry marked playback', async () => {
    f.custodyEvents.length = 0;
    const res = await get(playback(video), { headers: { range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers).toMatchObject({ ...SAFETY, 'content-type': 'video/webm', 'content-range': `bytes 100-199/${video.bytes.length}`, 'content-length': '100' });
    expect(res.bytes.equals(video.bytes.subarray(100, 200))).toBe(true);
    expect(f.custodyEvents).toMatchObject([
      { action: 'download', actor: 'erin', subject: { fileId: video.fileId }, details: { delivery: 'playback', blobName: video.blobName, part: { first: 100, last: 199, sizeBytes: video.bytes.length } } },
    ]);
  });

  it('plays audio as its base media type (file-type\'s codecs parameter is not passed on)', async () => {
    const res = await get(playback(sound), { headers: { range: 'bytes=0-' } });
    expect(res.status).toBe(206);
    expect(res.headers).toMatchObject({ ...SAFETY, 'content-type': 'audio/ogg' });
  });

  it('answers a range past the end with 416 carrying the same safety headers', async () => {
    const res = await get(playback(video), { headers: { range: `bytes=${video.bytes.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers).toMatchObject({ ...SAFETY, 'content-range': `bytes */${video.bytes.length}` });
  });

  it('refuses an HTML page, an HTML page named .mp4, an AVI and an unidentified file with a typed 409, reading and recording no bytes', async () => {
    for (const [file, refusal] of [
      [html, 'not-media'],
      [htmlNamedMp4, 'not-media'],
      [avi, 'type-not-playable'],
      [pending, 'not-identified'],
    ] as const) {
      f.custodyEvents.length = 0;
      f.touched.length = 0;
      for (const path of [playback(file), link(file)]) {
        const res = await get(path, { headers: { range: 'bytes=0-' } });
        expect(res.status, path).toBe(409);
        expect(res.body, path).toMatchObject({ error: { code: 'conflict', details: { playback: refusal } } });
        expect(res.headers?.['content-type'], path).toBeUndefined();
      }
      expect(f.touched.filter((t) => t.startsWith('blobs.')), file.fileId).toEqual([]);
      expect(f.custodyEvents.filter((e) => e.action === 'download'), file.fileId).toEqual([]);
    }
  });

  it('still downloads a refused file as an attachment of application/octet-stream (playback takes nothing away)', async () => {
    const res = await get(`/cases/${CASE}/files/${html.fileId}/content`);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'cross-origin-resource-policy': 'same-origin' });
    expect(res.headers?.['content-disposition']).toMatch(/^attachment;/);
  });

  it('authorises as downloads do: unassigned → the one 404, investigator → 403, no token → 401, nothing read', async () => {
    f.touched.length = 0;
    for (const path of [playback(video), link(video)]) {
      expect((await get(path, { user: 'mallory' })).status, path).toBe(404);
      expect((await get(path, { user: 'ivy', roles: ['investigator'] })).status, path).toBe(403);
      expect((await get(path, { token: false })).status, path).toBe(401);
    }
    expect(f.touched.filter((t) => t.startsWith('blobs.'))).toEqual([]);
  });
});

describe('playback-error-answers-lack-corp-nosniff: an error answer of …/playback carried neither Cross-Origin-Resource-Policy nor nosniff', () => {
  it('answers every refusal (409, 404, 403, 401 without a token, 401 for another route\'s ticket) with the safety headers its bytes carry', async () => {
    const downloadLink = new URL(((await get(`/cases/${CASE}/files/${video.fileId}/download`)).body as { url: string }).url, 'http://api.invalid');
    const refusals: [string, Promise<ApiResponse>, number][] = [
      ['409 html', get(playback(html), { headers: { range: 'bytes=0-' } }), 409],
      ['404 unassigned', get(playback(video), { user: 'mallory' }), 404],
      ['403 investigator', get(playback(video), { user: 'ivy', roles: ['investigator'] }), 403],
      ['401 no token', get(playback(video), { token: false }), 401],
      ['401 download ticket', get(playback(video), { token: false, query: downloadLink.searchParams }), 401],
    ];
    for (const [what, pending, status] of refusals) {
      const res = await pending;
      expect(res.status, what).toBe(status);
      expect(res.headers, what).toMatchObject(SAFETY);
    }
    // A method the route does not answer (HEAD, POST): 405, with the same headers.
    for (const method of ['HEAD', 'POST']) {
      const token = await f.token('erin', ['examiner']);
      const res = await api.handle({ method, path: playback(video), query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
      expect(res.status, method).toBe(405);
      expect(res.headers, method).toMatchObject({ ...SAFETY, allow: 'GET' });
    }
    // Only this route: another route's errors are as they were.
    const other = await get(`/cases/${CASE}/files/${video.fileId}/content`, { user: 'ivy', roles: ['investigator'] });
    expect(other.status).toBe(403);
    expect(other.headers).not.toHaveProperty('content-security-policy');
  });
});

describe('playback-link-absolute-from-adapter-origin: the playback URL named the adapter\'s origin, not the page\'s', () => {
  it('returns a path-relative URL whatever origin the adapter says it was reached at (Functions host, local http://Host)', async () => {
    for (const baseUrl of ['https://func-exhibit.azurewebsites.net/api', 'http://127.0.0.1:7071/api']) {
      const issued = await get(link(video), { baseUrl });
      expect(issued.status, baseUrl).toBe(200);
      const url = (issued.body as { url: string }).url;
      expect(url, baseUrl).toMatch(new RegExp(`^/api/cases/${CASE}/files/${video.fileId}/playback\\?ticket=[^&]+$`));
    }
  });
});

describe('playback links: a ticket for one file, checked on each fetch, ended by unassignment', () => {
  it('issues a link that plays ranges without a token, records the issue and each part with the ticket id, and is refused once the user is unassigned', async () => {
    await f.access.assign(CASE, 'pat', { by: 'setup' });
    f.custodyEvents.length = 0;
    const issued = await get(link(video), { user: 'pat', roles: ['supervisor'] });
    expect(issued.status).toBe(200);
    expect(issued.headers?.['cache-control']).toBe('no-store');
    const body = issued.body as { url: string; expiresAt: string; contentType: string; kind: string; fileName: string };
    expect(body).toMatchObject({ contentType: 'video/webm', kind: 'video', fileName: 'clip.html' });
    const url = new URL(body.url, 'http://api.invalid');
    expect(url.pathname).toBe(`/api${playback(video)}`);
    const ticket = url.searchParams.get('ticket')!;
    expect(f.custodyEvents).toMatchObject([{ action: 'download', actor: 'pat', details: { delivery: 'playback-url', kind: 'api-ticket', expiresAt: body.expiresAt } }]);
    const issuedTicketId = f.custodyEvents[0]!.details['issuedTicketId'];
    expect(JSON.stringify(f.custodyEvents)).not.toContain(ticket);

    f.custodyEvents.length = 0;
    const part = await get(playback(video), { token: false, query: url.searchParams, headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers).toMatchObject({ ...SAFETY, 'content-type': 'video/webm' });
    expect(f.custodyEvents).toMatchObject([{ action: 'download', actor: 'pat', details: { delivery: 'playback', part: { first: 0, last: 9 }, ticketId: issuedTicketId } }]);

    // Bound to its file: the same ticket on another file of the case is the one 401.
    expect((await get(playback(sound), { token: false, query: url.searchParams })).status).toBe(401);
    await f.access.unassign(CASE, 'pat', { by: 'setup' });
    expect((await get(playback(video), { token: false, query: url.searchParams, headers: { range: 'bytes=10-19' } })).status).toBe(401);
  });
  // Regression playback-ticket-redeemed-on-content-route: a playback link's ticket fetched the file on …/content
  // (200, attachment, a 'stream' download entry), and a download link's played it inline on …/playback.
  it('playback-ticket-redeemed-on-content-route: each ticket is accepted only on the route it was issued for', async () => {
    const playLink = new URL(((await get(link(video))).body as { url: string }).url, 'http://api.invalid');
    const downloadLink = new URL(((await get(`/cases/${CASE}/files/${video.fileId}/download`)).body as { url: string }).url, 'http://api.invalid');
    expect(downloadLink.pathname).toBe(`/api/cases/${CASE}/files/${video.fileId}/content`);
    f.custodyEvents.length = 0;
    const playOnContent = await get(`/cases/${CASE}/files/${video.fileId}/content`, { token: false, query: playLink.searchParams });
    expect(playOnContent.status).toBe(401);
    const downloadOnPlayback = await get(playback(video), { token: false, query: downloadLink.searchParams });
    expect(downloadOnPlayback.status).toBe(401);
    expect(f.custodyEvents).toEqual([]);
    // Each on its own route still works.
    expect((await get(playback(video), { token: false, query: playLink.searchParams, headers: { range: 'bytes=0-9' } })).status).toBe(206);
    expect((await get(`/cases/${CASE}/files/${video.fileId}/content`, { token: false, query: downloadLink.searchParams })).status).toBe(200);
  });
});

