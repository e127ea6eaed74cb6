import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeBrowserAndHost, findChromium, openGuardedBrowser, seriousA11yViolations, type GuardedBrowser } from '../support/browser.js';
import { ApiClient, uploadWithPlainClient } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';

/**
 * Playing evidence video and sound in the review app (file detail screen),
 * in Debian's Chromium against the real local host: files made here with
 * ffmpeg, uploaded as an examiner would, identified by the pipeline from
 * their bytes. The player's parts are real 206 answers of GET …/playback,
 * each in custody; the link outlives its ticket (here: the ticket revoked by
 * an unassignment and a new assignment, as an expired one is refused) by the
 * app asking for a new one and resuming where the user seeked; an HTML page
 * gets no player and the API refuses to serve it inline; a codec the browser
 * lacks gets a "download to view" message, not a broken player.
 */
const CHROMIUM = findChromium();
const hasFfmpeg = (() => {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!CHROMIUM || !hasFfmpeg) console.warn('media playback browser test skipped: needs chromium and ffmpeg');

const CASE = 'PLAY-2026-001';
const CLIP_SEC = 20;

describe.skipIf(!CHROMIUM || !hasFfmpeg)('video and audio playback in the review app', () => {
  let dir: string;
  let h: HostProcessEnv;
  let host: HostProcess;
  let chrome: GuardedBrowser;
  let page: Page;
  let appUrl: string;
  let admin: ApiClient;
  let sam: ApiClient;
  let erin: ApiClient;
  const ids: Record<string, string> = {};
  const files: Record<string, Buffer> = {};

  const ffmpeg = (args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', '-threads', '1', ...args]);

  async function signIn(user: string, role: string): Promise<void> {
    await page.goto(appUrl);
    await page.evaluate(() => (globalThis as any).sessionStorage.clear());
    await page.reload();
    await page.locator('input[name="user"]').fill(user);
    await page.locator('select[name="role"]').selectOption(role);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your cases' }).waitFor();
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-playback-'));
    // VP8 + Opus in WebM, noisy so it stays ~7 MB: a player seeking in it must ask for later parts.
    ffmpeg([
      '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25,noise=alls=60:allf=t`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(CLIP_SEC), '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '3M', '-minrate', '3M', '-maxrate', '3M',
      '-c:a', 'libopus', '-b:a', '64k', '-shortest', path.join(dir, 'clip.webm'),
    ]);
    // MPEG-4 Part 2 video in MP4: a type the API serves (video/mp4), a codec Chromium does not decode.
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '1', '-c:v', 'mpeg4', path.join(dir, 'old-codec.mp4')]);
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=48000', '-t', '3', '-c:a', 'libopus', path.join(dir, 'voice.ogg')]);
    // A polyglot: a real fragmented MP4 (offsets relative to each fragment, so a box inserted before them breaks nothing)
    // with an HTML page and script in a `free` box right after `ftyp`, where a sniffer reading the first bytes would find it.
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '1', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8',
      '-movflags', '+frag_keyframe+empty_moov+default_base_moof', path.join(dir, 'plain.mp4')]);
    {
      const mp4 = readFileSync(path.join(dir, 'plain.mp4'));
      const ftypSize = mp4.readUInt32BE(0);
      expect(mp4.subarray(4, 8).toString('latin1')).toBe('ftyp');
      const html = Buffer.from('<!doctype html><html><head><title>seized page</title></head><body><script>document.title = "ran"; fetch("/api/polyglot-ran")</script></body></html>\n');
      const free = Buffer.alloc(8 + html.length);
      free.writeUInt32BE(free.length, 0);
      free.write('free', 4, 'latin1');
      html.copy(free, 8);
      writeFileSync(path.join(dir, 'polyglot.mp4'), Buffer.concat([mp4.subarray(0, ftypSize), free, mp4.subarray(ftypSize)]));
    }
    writeFileSync(path.join(dir, 'page.html'), '<!doctype html><html><head><title>seized page</title></head><body><script>document.title = "ran"</script><p>hello</p></body></html>\n');

    h = await allocateHostEnv();
    host = await startHostProcess(h);
    appUrl = h.apiUrl.replace(/\/api$/, '/');
    const uploads: Array<[string, string]> = [['EX01', 'clip.webm'], ['EX02', 'page.html'], ['EX03', 'old-codec.mp4'], ['EX04', 'voice.ogg'], ['EX05', 'polyglot.mp4']];
    for (const [evidenceId, name] of uploads) {
      const bytes = readFileSync(path.join(dir, name));
      files[name] = bytes;
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${evidenceId}/${name}`, bytes, { acquisition_sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    for (const [user, role] of [['erin', 'examiner'], ['sam', 'supervisor'], ['alice', 'investigator']] as const) await admin.json('POST', `/cases/${CASE}/assignments`, { user, role });
    sam = await ApiClient.login(h, 'sam', ['supervisor']);
    erin = await ApiClient.login(h, 'erin', ['examiner']);
    await sam.waitComplete(CASE, uploads.map(([e]) => e), 240_000);
    const found = await sam.get<{ items: Array<{ file: { fileId: string; name: string }; content: { kind: string; mime: string } }> }>(`/cases/${CASE}/files?limit=50`);
    for (const item of found.items) ids[item.file.name] = item.file.fileId;
    const kinds = Object.fromEntries(found.items.map((i) => [i.file.name, `${i.content.kind} ${i.content.mime}`]));
    expect(kinds).toMatchObject({ 'clip.webm': 'video video/webm', 'old-codec.mp4': 'video video/mp4', 'polyglot.mp4': 'video video/mp4' });
    expect(kinds['voice.ogg']).toMatch(/^audio audio\/ogg/);
    expect(kinds['page.html']).not.toMatch(/^(video|audio)/);

    chrome = await openGuardedBrowser(CHROMIUM!);
    page = chrome.page;
  });

  afterAll(async () => {
    await closeBrowserAndHost(chrome, host);
    if (h) await removeHostEnv(h);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The player's state in the page. */
  const player = () =>
    page.getByTestId('media-player').evaluate((el) => {
      const v = el as any;
      return { readyState: v.readyState as number, currentTime: v.currentTime as number, seeking: v.seeking as boolean, error: (v.error?.code ?? null) as number | null, src: v.currentSrc as string };
    });

  it('plays a video and seeks in it, the parts served as 206 and recorded as playback, and resumes with a new link once the old one is refused', async () => {
    const responses: Array<{ status: number; range: string | null; ticket: string | null; headers: Record<string, string> }> = [];
    const linkRequests: string[] = [];
    const onResponse = async (r: Response) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith(`/files/${ids['clip.webm']}/playback`)) {
        responses.push({ status: r.status(), range: (await r.request().headerValue('range')) ?? null, ticket: url.searchParams.get('ticket'), headers: r.headers() });
      }
      if (url.pathname.endsWith(`/files/${ids['clip.webm']}/playback-link`)) linkRequests.push(r.url());
    };
    page.on('response', (r) => void onResponse(r));

    await signIn('erin', 'examiner');
    await page.goto(`${appUrl}cases/${CASE}/files/${ids['clip.webm']}`);
    await page.getByTestId('hashes').waitFor();
    // Opening the page fetches no bytes: the player comes when asked for.
    expect(await page.getByTestId('media-player').count()).toBe(0);
    expect(responses).toEqual([]);
    await page.getByRole('button', { name: 'Play clip.webm' }).click();
    await expect.poll(async () => (await player()).readyState).toBeGreaterThanOrEqual(1);
    const firstSrc = (await player()).src;
    // A ticket for this file alone, never the user's token, is all the URL carries.
    expect([...new URL(firstSrc).searchParams.keys()]).toEqual(['ticket']);
    expect(new URL(firstSrc).searchParams.get('ticket')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The link stops working (as when its ticket expires): an unassignment deletes the user's tickets; assigned again, she
    // may play, not with the old link. The player may fetch on its own at any time (it reads on after the metadata), so a
    // new link the app asks for meanwhile is held back until she is assigned again: unchanged, only later, as if the
    // revocation took no time.
    let reassigned!: () => void;
    const gate = new Promise<void>((resolve) => (reassigned = resolve));
    await page.route('**/playback-link', async (route) => {
      await gate;
      await route.continue();
    });
    expect((await admin.request('DELETE', `/cases/${CASE}/assignments/erin`)).status).toBe(204);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'erin', role: 'examiner' });
    reassigned();
    const target = 12;
    await page.getByTestId('media-player').evaluate((el, t) => {
      (el as any).currentTime = t;
    }, target);
    await expect
      .poll(async () => {
        const p = await player();
        return p.readyState >= 2 && !p.seeking && Math.abs(p.currentTime - target) < 0.5;
      }, { timeout: 30_000 })
      .toBe(true);
    await page.unroute('**/playback-link');
    const renewedSrc = (await player()).src;
    expect(renewedSrc).not.toBe(firstSrc);
    expect(linkRequests).toHaveLength(2);
    // The old ticket was refused; the new one served.
    const oldTicket = new URL(firstSrc).searchParams.get('ticket');
    expect(responses.filter((r) => r.ticket === oldTicket).map((r) => r.status)).toContain(401);
    expect(responses.filter((r) => r.ticket !== oldTicket && r.status === 206).length).toBeGreaterThan(0);

    // Play, then seek near the end: a part far into the file, as a 206.
    await page.getByTestId('media-player').evaluate(async (el) => {
      const v = el as any;
      v.muted = true;
      await v.play();
    });
    const later = CLIP_SEC - 3;
    await page.getByTestId('media-player').evaluate((el, t) => {
      (el as any).currentTime = t;
    }, later);
    await expect
      .poll(async () => {
        const p = await player();
        return p.readyState >= 2 && !p.seeking && p.currentTime >= later - 0.5;
      }, { timeout: 30_000 })
      .toBe(true);
    expect((await player()).error).toBeNull();

    const served = responses.filter((r) => r.status === 206);
    expect(served.length).toBeGreaterThanOrEqual(2);
    // Some part started well into the file (a seek), not only the first bytes.
    expect(served.some((r) => Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1] ?? 0) > files['clip.webm']!.length / 2)).toBe(true);
    for (const r of served) {
      expect(r.headers).toMatchObject({
        'content-type': 'video/webm',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "sandbox; default-src 'none'",
        'cross-origin-resource-policy': 'same-origin',
      });
      expect(r.headers['content-disposition']).toBe('inline');
    }

    // Custody: every part the browser got is a download entry marked playback, naming its part; the two links' issues too.
    const events = await sam.get<{ items: Array<{ actor: string; action: string; details: Record<string, any> }> }>(`/cases/${CASE}/access-events?fileId=${ids['clip.webm']}&action=download&limit=500`);
    const parts = events.items.filter((e) => e.details['delivery'] === 'playback');
    expect(parts.length).toBeGreaterThanOrEqual(served.length);
    expect(parts.every((e) => e.actor === 'erin' && typeof e.details['part']?.first === 'number')).toBe(true);
    expect(events.items.filter((e) => e.details['delivery'] === 'playback-url')).toHaveLength(2);
    expect(await seriousA11yViolations(page)).toEqual([]);
  });

  it('shows supervisors the playback in "who saw what"', async () => {
    await signIn('sam', 'supervisor');
    await page.goto(`${appUrl}cases/${CASE}/access?fileId=${ids['clip.webm']}&action=download`);
    await expect.poll(() => page.getByTestId('access-events').textContent()).toContain('download (playback)');
  });

  it('plays a sound in an audio player', async () => {
    await signIn('erin', 'examiner');
    await page.goto(`${appUrl}cases/${CASE}/files/${ids['voice.ogg']}`);
    await page.getByRole('button', { name: 'Play voice.ogg' }).click();
    expect(await page.getByTestId('media-player').evaluate((el) => el.tagName)).toBe('AUDIO');
    await expect.poll(async () => (await player()).readyState).toBeGreaterThanOrEqual(2);
  });

  it('says "download to view" for a codec the browser cannot decode, with no broken player', async () => {
    await page.goto(`${appUrl}cases/${CASE}/files/${ids['old-codec.mp4']}`);
    await page.getByRole('button', { name: 'Play old-codec.mp4' }).click();
    await expect.poll(() => page.getByTestId('player-unplayable').textContent(), { timeout: 30_000 }).toContain('Download the original to view it');
    expect(await page.getByTestId('media-player').count()).toBe(0);
  });

  it('gives an HTML page no player, and the API refuses to serve it for playback', async () => {
    await page.goto(`${appUrl}cases/${CASE}/files/${ids['page.html']}`);
    await page.getByTestId('hashes').waitFor();
    expect(await page.getByRole('button', { name: /^Play / }).count()).toBe(0);
    expect(await page.getByTestId('media-player').count()).toBe(0);
    for (const route of ['playback', 'playback-link']) {
      const res = await erin.request('GET', `/cases/${CASE}/files/${ids['page.html']}/${route}`);
      expect(res.status, route).toBe(409);
      expect(res.headers.get('content-type'), route).toMatch(/^application\/json/);
      expect(((await res.json()) as any).error.details.playback, route).toBe('not-media');
    }
    // Navigated to directly by someone allowed to play (a token: no playback link can be issued for it, and a
    // download link's ticket is refused on …/playback), the request reaches the type check: a 409 in JSON, never the page.
    const playbackUrl = `${appUrl}api/cases/${CASE}/files/${ids['page.html']}/playback`;
    const asErin = await chrome.context.newPage();
    try {
      await asErin.setExtraHTTPHeaders({ authorization: erin.authorization });
      const res = await asErin.goto(playbackUrl);
      expect(res?.status()).toBe(409);
      expect(res?.headers()['content-type']).toMatch(/^application\/json/);
      expect(await asErin.title()).not.toBe('ran');
    } finally {
      await asErin.close();
    }
    // With a download link's ticket it is refused before that (tickets are bound to their route).
    const download = await erin.get<{ url: string }>(`/cases/${CASE}/files/${ids['page.html']}/download`);
    const downloadTicket = new URL(download.url, appUrl).searchParams.get('ticket')!;
    expect((await page.goto(`${playbackUrl}?ticket=${downloadTicket}`))?.status()).toBe(401);
    expect(await page.title()).not.toBe('ran');
  });

  it('plays an MP4 carrying an HTML page in a free box as video only: navigated to with its playback link, no script runs', async () => {
    const ran: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes('polyglot-ran')) ran.push(r.url());
    };
    chrome.context.on('request', onRequest);
    try {
      const issued = await erin.get<{ url: string; contentType: string }>(`/cases/${CASE}/files/${ids['polyglot.mp4']}/playback-link`);
      expect(issued.contentType).toBe('video/mp4');
      // A media document never fires 'load' while it buffers: wait for the document, then for its <video>.
      const res = await page.goto(new URL(issued.url, appUrl).href, { waitUntil: 'domcontentloaded' });
      expect(res?.status()).toBe(200);
      expect(res?.headers()).toMatchObject({
        'content-type': 'video/mp4',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "sandbox; default-src 'none'",
        'cross-origin-resource-policy': 'same-origin',
      });
      // Chromium shows a media document for it: a <video>, no script of the file's.
      await page.locator('video').waitFor();
      expect(await page.title()).not.toBe('ran');
    } finally {
      chrome.context.off('request', onRequest);
    }
    expect(ran).toEqual([]);
  });

  it('gives an investigator no player (playback gives the bytes, as a download does)', async () => {
    await signIn('alice', 'investigator');
    await page.goto(`${appUrl}cases/${CASE}/files/${ids['clip.webm']}`);
    await page.getByTestId('hashes').waitFor();
    expect(await page.getByRole('button', { name: /^Play / }).count()).toBe(0);
    expect((await (await ApiClient.login(h, 'alice', ['investigator'])).request('GET', `/cases/${CASE}/files/${ids['clip.webm']}/playback`)).status).toBe(403);
  });

  it('loads nothing from any host but 127.0.0.1', () => {
    expect(chrome.offHost).toEqual([]);
  });
});
