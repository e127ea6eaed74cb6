import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeBrowserAndHost, findChromium, openGuardedBrowser, seriousA11yViolations, type GuardedBrowser } from '../support/browser.js';
import { ApiClient, readSampleManifest } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';

/**
 * The review app in Debian's Chromium against the real local host: the host
 * ingests the bundled samples itself and assigns its demo users, exactly as
 * `npm start` does; the test signs in through the app's own sign-in page.
 */
const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('browser tests skipped: chromium not found (Debian package chromium; .ci/run installs it)');

interface ExpectedFile {
  path: string;
  sha256: string;
  expect: { gps?: { lat: number; lon: number }; takenAtLocal?: string; offsetMinutes?: number | null; thumbnail?: string };
}

describe.skipIf(!CHROMIUM)('review app in Chromium', () => {
  let h: HostProcessEnv;
  let host: HostProcess;
  let chrome: GuardedBrowser;
  let page: Page;
  let caseId: string;
  let appUrl: string;
  let files: ExpectedFile[];
  let sam: ApiClient;
  const a11y: Record<string, string[]> = {};

  const checkA11y = async (screen: string) => {
    a11y[screen] = await seriousA11yViolations(page);
  };

  async function signIn(user: string): Promise<void> {
    // A fresh tab's state: the session lives in sessionStorage only.
    await page.goto(appUrl);
    await page.evaluate(() => (globalThis as any).sessionStorage.clear());
    await page.reload();
    await page.locator(`button[data-user="${user}"]`).click();
    await page.getByRole('heading', { name: 'Your cases' }).waitFor();
  }

  async function resultCount(): Promise<number> {
    const el = page.getByTestId('result-count');
    await expect.poll(async () => (await el.textContent()) ?? '', { timeout: 20_000 }).toMatch(/^[\d,]+ files?$/);
    return Number(((await el.textContent()) ?? '').replace(/[^\d]/g, ''));
  }

  beforeAll(async () => {
    const manifest = await readSampleManifest();
    caseId = manifest.caseId;
    const expected = JSON.parse(await readFile(new URL('../../samples/expected.json', import.meta.url), 'utf8')) as { evidence: Array<{ files?: ExpectedFile[] }> };
    files = expected.evidence.flatMap((e) => e.files ?? []);
    h = await allocateHostEnv({ EXHIBIT_INGEST_SAMPLES: 'true' });
    host = await startHostProcess(h);
    appUrl = h.apiUrl.replace(/\/api$/, '/');
    // The demo users are assigned once the host has uploaded the samples.
    const deadline = Date.now() + 60_000;
    sam = await ApiClient.login(h, 'sam', ['supervisor']);
    for (;;) {
      const me = await sam.get<{ cases: string[] }>('/me');
      if (me.cases.includes(caseId)) break;
      if (Date.now() > deadline) throw new Error(`demo users not assigned:\n${host.output()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await sam.waitComplete(caseId, manifest.evidence.map((e) => e.evidenceId), 240_000);
    chrome = await openGuardedBrowser(CHROMIUM!);
    page = chrome.page;
  });

  afterAll(async () => {
    await closeBrowserAndHost(chrome, host);
    if (h) await removeHostEnv(h);
  });

  it('prints the review app address in the first-run summary and serves it with its headers', async () => {
    expect(host.output()).toContain(`review:  ${appUrl}`);
    const index = await fetch(`${appUrl}cases/${caseId}/gallery`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${appUrl.replace(/\/$/, '')}${asset}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${appUrl}assets/missing-00000000.js`)).status).toBe(404);
    expect((await fetch(`${appUrl}api/nothing-here`)).status).toBe(404);
  });

  it('signs in as each demo user, who each see the sample case', async () => {
    await page.goto(appUrl);
    await page.getByRole('heading', { name: /Sign in/ }).waitFor();
    await checkA11y('sign-in');
    for (const [user, role] of [['alice', 'investigator'], ['erin', 'examiner'], ['sam', 'supervisor']] as const) {
      await signIn(user);
      await expect.poll(() => page.getByTestId('signed-in-as').textContent()).toBe(`${user} (${role})`);
      await page.getByRole('link', { name: caseId }).waitFor();
    }
    await checkA11y('cases');
  });

  it('shows the evidence with progress and integrity per upload', async () => {
    await page.getByRole('link', { name: caseId }).click();
    await page.locator('[data-evidence]').first().waitFor();
    await expect.poll(() => page.locator('[data-integrity]').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.badge.ok').count()).toBe(await page.locator('[data-evidence]').count());
    await checkA11y('evidence');
  });

  it('shows the gallery with decoded thumbnails, and filters change the results', async () => {
    await signIn('alice');
    await page.goto(`${appUrl}cases/${caseId}/gallery`);
    const all = await resultCount();
    const thumbnailed = files.filter((f) => f.expect.thumbnail && !['none', 'fail'].includes(f.expect.thumbnail)).length;
    // Every thumbnail on screen decoded (naturalWidth > 0), and there are as many as samples with one.
    await expect
      .poll(async () => page.locator('.grid-scroll img').evaluateAll((imgs) => imgs.filter((i) => (i as any).complete && (i as any).naturalWidth > 0).length), {
        timeout: 30_000,
      })
      .toBeGreaterThanOrEqual(Math.min(thumbnailed, 15));
    await checkA11y('gallery');

    await page.locator('select[name="hasGps"]').selectOption('true');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const withGps = await resultCount();
    expect(withGps).toBeLessThan(all);
    expect(withGps).toBe((await sam.get<{ total: number }>(`/cases/${caseId}/files?hasGps=true&limit=1`)).total);

    await page.locator('select[name="kind"]').selectOption('video');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const videosWithGps = await resultCount();
    expect(videosWithGps).toBeLessThan(withGps);
    expect(videosWithGps).toBe((await sam.get<{ total: number }>(`/cases/${caseId}/files?hasGps=true&kind=video&limit=1`)).total);

    // Keyboard: into the grid, arrow right, Enter opens the file, Escape comes back.
    await page.getByRole('button', { name: /Clear/ }).click();
    await expect.poll(resultCount).toBe(all);
    await page.locator('.cell-link[tabindex="0"]').focus();
    await page.keyboard.press('ArrowRight');
    const second = await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('data-index'));
    expect(second).toBe('1');
    await page.keyboard.press('Enter');
    await page.getByTestId('hashes').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Gallery' }).waitFor();
  });

  it('shows a file with its hashes, times as recorded and provenance', async () => {
    const withOffset = files.find((f) => f.expect.gps && typeof f.expect.offsetMinutes === 'number' && f.path.includes('!/'))!;
    const noOffset = files.find((f) => f.expect.takenAtLocal && f.expect.offsetMinutes === null)!;
    for (const f of [withOffset, noOffset]) {
      const hit = await sam.get<{ items: Array<{ file: { fileId: string; path: string } }> }>(`/cases/${caseId}/files?hash=${f.sha256}&limit=50`);
      const fileId = hit.items.find((i) => i.file.path === f.path)!.file.fileId;
      await page.goto(`${appUrl}cases/${caseId}/files/${fileId}`);
      await expect.poll(() => page.getByTestId('hashes').textContent()).toContain(f.sha256);
      const times = (await page.getByTestId('times').textContent()) ?? '';
      expect(times).toContain(f.expect.takenAtLocal!.replace('T', ' '));
      if (f.expect.offsetMinutes === null) expect(times).toContain('no offset recorded');
      else expect(times).toMatch(/UTC[+-]\d\d:\d\d/);
      const provenance = (await page.getByTestId('provenance').textContent()) ?? '';
      const outer = f.path.split('!/')[0]!;
      expect(provenance).toContain(outer);
      await expect.poll(() => page.getByTestId('preview').evaluate((i) => (i as any).naturalWidth)).toBeGreaterThan(0);
    }
    await checkA11y('detail');
  });

  it('shows a marker per GPS-tagged file on the offline map, and a drawn box filters the gallery', async () => {
    await page.goto(`${appUrl}cases/${caseId}/map`);
    const withGps = (await sam.get<{ total: number }>(`/cases/${caseId}/files?hasGps=true&limit=1`)).total;
    expect(withGps).toBeGreaterThanOrEqual(files.filter((f) => f.expect.gps).length - 1);
    // Zoomed in far enough, every file is its own marker; at any zoom the counts add up.
    const markerSum = () => page.locator('.leaflet-marker-icon[data-count]').evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute('data-count')), 0));
    await expect.poll(markerSum, { timeout: 20_000 }).toBe(withGps);
    await expect.poll(() => page.locator('.leaflet-overlay-pane path').count()).toBeGreaterThan(0); // the land
    await checkA11y('map');

    await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
    const box = await page.getByTestId('map').boundingBox();
    await page.getByRole('button', { name: 'Draw a box' }).click();
    const mapSize = box!;
    // Drag across the left-middle of the map; what lies inside is then checked through the API.
    const x0 = mapSize.x + mapSize.width * 0.3;
    const y0 = mapSize.y + mapSize.height * 0.2;
    const x1 = mapSize.x + mapSize.width * 0.7;
    const y1 = mapSize.y + mapSize.height * 0.8;
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    await page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, { steps: 5 });
    await page.mouse.move(x1, y1, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
    const bbox = new URL(page.url()).searchParams.get('bbox')!;
    const inBox = (await sam.get<{ total: number }>(`/cases/${caseId}/files?bbox=${bbox}&limit=1`)).total;
    await expect.poll(markerSum).toBe(inBox);
    await page.getByRole('link', { name: 'Show the files in the box in the gallery' }).click();
    await expect.poll(resultCount).toBe(inBox);
    expect(inBox).toBeLessThan(withGps);
  });

  it('zooms past 12 until a cluster splits into files at their exact positions, lists files at one position, and a box drawn there filters the gallery exactly', async () => {
    const mapRequests: string[] = [];
    const onRequest = (r: { url(): string }) => r.url().includes(`/cases/${caseId}/map?`) && mapRequests.push(r.url());
    page.on('request', onRequest);
    try {
      await page.goto(`${appUrl}cases/${caseId}/map`);
      const mapEl = page.getByTestId('map');
      type Marker = { count: number; bbox: number[]; lat: string; lon: string; title: string; cellDeg: number };
      /** The markers drawn for the map's current zoom (not the previous zoom's, still shown while the next answer comes). */
      const markers = async (): Promise<Marker[] | null> => {
        const zoom = Number(await mapEl.getAttribute('data-zoom'));
        const all = await page.locator('.leaflet-marker-icon[data-bbox]').evaluateAll((els) =>
          els.map((e) => ({
            count: Number(e.getAttribute('data-count')),
            bbox: e.getAttribute('data-bbox')!.split(',').map(Number),
            lat: e.getAttribute('data-lat')!,
            lon: e.getAttribute('data-lon')!,
            title: e.getAttribute('title') ?? '',
            cellDeg: Number(e.getAttribute('data-cell-deg')),
          })),
        );
        return all.length > 0 && all.every((m) => m.cellDeg === 360 / 2 ** zoom / 4) ? all : null;
      };
      // expected.json gives positions to 4 decimals; the recorded ones (EXIF degrees, minutes, seconds) differ in the 15th digit.
      const near = 1e-6;
      const holding = (ms: Marker[], lon: number, lat: number) =>
        ms.filter(({ bbox: [w, s, e, n] }) => w! - near <= lon && lon <= e! + near && s! - near <= lat && lat <= n! + near);
      /** The recorded positions of the files in a box, from the API. */
      const recorded = async (box: string) =>
        (await sam.get<{ items: Array<{ content: { metadata: { gps?: { lat: number; lon: number } } } }> }>(`/cases/${caseId}/files?bbox=${box}&limit=10`)).items.map(
          (i) => i.content.metadata.gps!,
        );
      /** Clicks the cluster holding this position until `enough` says so (each click zooms to the cluster's files). */
      async function zoomInto(lon: number, lat: number, enough: (ms: Marker[]) => boolean): Promise<Marker[]> {
        for (let i = 0; i < 25; i++) {
          let ms: Marker[] | null = null;
          for (let waited = 0; !(ms !== null && holding(ms, lon, lat).length === 1); waited += 200) {
            if (waited > 20_000) {
              const seen = await page.locator('.leaflet-marker-icon').evaluateAll((els) => els.map((e) => e.outerHTML.slice(0, 300)));
              throw new Error(`no marker holding ${lon},${lat} at zoom ${await mapEl.getAttribute('data-zoom')}: ${JSON.stringify(seen)}; last requests ${mapRequests.slice(-3).join(' ')}`);
            }
            await page.waitForTimeout(200);
            ms = await markers();
          }
          if (enough(ms!)) return ms!;
          const zoom = await mapEl.getAttribute('data-zoom');
          // A click can land while the markers are being redrawn (the element it found replaced, the
          // click lost): then the cluster holding the position is looked up again and clicked again.
          for (let attempt = 1; ; attempt++) {
            const cluster = holding((await markers()) ?? ms!, lon, lat)[0] ?? holding(ms!, lon, lat)[0]!;
            await page.locator(`.leaflet-marker-icon[data-bbox="${cluster.bbox.join(',')}"]`).click();
            const zoomed = await expect
              .poll(() => mapEl.getAttribute('data-zoom'), { timeout: 5_000 })
              .not.toBe(zoom)
              .then(
                () => true,
                (err: unknown) => {
                  if (attempt >= 4) throw err;
                  return false;
                },
              );
            if (zoomed) break;
          }
        }
        throw new Error(`no split around ${lon},${lat}`);
      }

      // Two photos 300 m apart in Milan: one cluster up to zoom 14, two points from 15 on.
      const milan = [{ lat: 45.4642, lon: 9.19 }, { lat: 45.4654, lon: 9.1866 }];
      expect(milan.every((p) => files.some((f) => f.expect.gps?.lat === p.lat && f.expect.gps?.lon === p.lon))).toBe(true);
      const split = await zoomInto(milan[0]!.lon, milan[0]!.lat, (ms) => milan.every((p) => holding(ms, p.lon, p.lat).length === 1 && holding(ms, p.lon, p.lat)[0]!.count === 1));
      const zoom = Number(await mapEl.getAttribute('data-zoom'));
      expect(zoom).toBeGreaterThan(12);
      // At their exact recorded positions, as the API gives them (not a cell's centre).
      const milanRecorded = await recorded('9.18,45.46,9.2,45.47');
      expect(milanRecorded).toHaveLength(2);
      for (const p of milanRecorded) expect(holding(split, p.lon, p.lat).map((m) => [m.count, m.lat, m.lon])).toEqual([[1, String(p.lat), String(p.lon)]]);
      // Past zoom 12 the app asked for its view only.
      const deep = mapRequests.map((u) => new URL(u).searchParams).filter((q) => Number(q.get('zoom')) > 12);
      expect(deep.length).toBeGreaterThan(0);
      expect(deep.every((q) => q.get('bbox') !== null)).toBe(true);
      await expect.poll(() => page.getByTestId('map-detail-note').textContent()).toContain('no streets');
      await expect.poll(() => page.getByTestId('map-total').textContent()).toContain('in this view');

      // A box drawn at this zoom around the first photo only: the gallery shows exactly what the API counts in it (one file).
      const a = (await page.locator(`.leaflet-marker-icon[data-bbox="${holding(split, milan[0]!.lon, milan[0]!.lat)[0]!.bbox.join(',')}"]`).boundingBox())!;
      await page.getByRole('button', { name: 'Draw a box' }).click();
      const [cx, cy] = [a.x + a.width / 2, a.y + a.height / 2];
      await page.mouse.move(cx - 20, cy - 20);
      await page.mouse.down();
      await page.mouse.move(cx, cy, { steps: 3 });
      await page.mouse.move(cx + 20, cy + 20, { steps: 3 });
      await page.mouse.up();
      await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
      const bbox = new URL(page.url()).searchParams.get('bbox')!;
      const inBox = await sam.get<{ total: number; items: Array<{ file: { path: string } }> }>(`/cases/${caseId}/files?bbox=${bbox}&limit=10`);
      expect(inBox.total).toBe(1);
      const markerSum = () => page.locator('.leaflet-marker-icon[data-count]').evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute('data-count')), 0));
      await expect.poll(markerSum).toBe(1);
      await page.getByRole('link', { name: 'Show the files in the box in the gallery' }).click();
      await expect.poll(resultCount).toBe(1);
      expect(new URL(page.url()).searchParams.get('bbox')).toBe(bbox);

      // A photo and its copy at one position never split: that cluster opens them in the gallery, by its exact box.
      const liberty = { lat: 40.6892, lon: -74.0445 };
      const copies = files.filter((f) => f.expect.gps?.lat === liberty.lat && f.expect.gps?.lon === liberty.lon).length;
      expect(copies).toBe(2);
      await page.goto(`${appUrl}cases/${caseId}/map`);
      const together = await zoomInto(liberty.lon, liberty.lat, (ms) => holding(ms, liberty.lon, liberty.lat)[0]!.title.includes('at one position'));
      const cluster = holding(together, liberty.lon, liberty.lat)[0]!;
      expect(cluster.count).toBe(copies);
      const [at, ...others] = await recorded('-74.05,40.68,-74.04,40.70');
      expect(others).toEqual([at]);
      expect(cluster.bbox).toEqual([at!.lon, at!.lat, at!.lon, at!.lat]);
      await page.locator(`.leaflet-marker-icon[data-bbox="${cluster.bbox.join(',')}"]`).click();
      await page.getByRole('heading', { name: 'Gallery' }).waitFor();
      await expect.poll(resultCount).toBe(copies);
      expect(new URL(page.url()).searchParams.get('bbox')).toBe(cluster.bbox.join(','));
    } finally {
      page.off('request', onRequest);
    }
  });

  it('filters the gallery with a brush on the timeline, keeping files without an offset apart', async () => {
    await page.goto(`${appUrl}cases/${caseId}/timeline`);
    const svg = page.getByTestId('timeline');
    await svg.waitFor();
    const without = await page.locator('rect.bar.without').evaluateAll((rs) => rs.filter((r) => Number(r.getAttribute('height')) > 0).length);
    expect(without).toBeGreaterThan(0);
    await checkA11y('timeline');
    const b = (await svg.boundingBox())!;
    await page.mouse.move(b.x + 2, b.y + b.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width * 0.5, b.y + b.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.getByRole('heading', { name: 'Gallery' }).waitFor();
    const url = new URL(page.url());
    const from = url.searchParams.get('takenLocalFrom');
    const to = url.searchParams.get('takenLocalTo');
    expect(from).not.toBeNull();
    const brushed = await resultCount();
    const api = (await sam.get<{ total: number }>(`/cases/${caseId}/files?takenLocalFrom=${from}&takenLocalTo=${to}&limit=1`)).total;
    expect(brushed).toBe(api);
    expect(brushed).toBeGreaterThan(0);
    expect(brushed).toBeLessThan(files.filter((f) => f.expect.takenAtLocal).length + 1);
  });

  let bookmarked: { fileId: string; sha256: string; note: string };
  it('keeps a bookmark with a note, and custody records it', async () => {
    const target = files.find((f) => f.expect.gps && f.path.endsWith('.JPG'))!;
    const hit = await sam.get<{ items: Array<{ file: { fileId: string; path: string } }> }>(`/cases/${caseId}/files?hash=${target.sha256}&limit=50`);
    const fileId = hit.items.find((i) => i.file.path === target.path)!.file.fileId;
    const note = `seen near the bridge ${Date.now()}`;
    bookmarked = { fileId, sha256: target.sha256, note };
    await page.goto(`${appUrl}cases/${caseId}/files/${fileId}`);
    await page.locator('input[name="tag"]').fill('landmark');
    await page.locator('input[name="note"]').fill(note);
    await page.getByRole('button', { name: 'Bookmark' }).click();
    await expect.poll(() => page.getByTestId('file-tags').textContent()).toContain(note);
    await page.reload();
    await expect.poll(() => page.getByTestId('file-tags').textContent()).toContain(note);
    await page.goto(`${appUrl}cases/${caseId}/bookmarks`);
    await expect.poll(() => page.getByTestId('bookmarks').textContent()).toContain(target.sha256);
    await checkA11y('bookmarks');

    await signIn('sam');
    // The bookmark as custody recorded it, through the supervisors' "who saw what" screen (the custody index).
    await page.goto(`${appUrl}cases/${caseId}/access?action=bookmark`);
    await expect.poll(() => page.getByTestId('access-events').textContent()).toContain('bookmark');
    const entry = page.locator('[data-testid="access-events"] tbody tr').first();
    await entry.locator('summary').click();
    await expect.poll(() => entry.textContent()).toContain(note);

    // The custody log screen and its verify button: one result line per evidence item, whatever the result.
    await page.goto(`${appUrl}cases/${caseId}/custody`);
    await expect.poll(() => page.locator('[data-testid="custody-entries"] tbody tr').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: /Verify the custody log/ }).click();
    await expect.poll(() => page.getByTestId('verification').textContent(), { timeout: 60_000 }).toMatch(/Verified|Verification FAILED/);
    expect(await page.locator('[data-testid="verification"] li').count()).toBe((await sam.get<{ items: unknown[] }>(`/cases/${caseId}/evidence`)).items.length);
    await checkA11y('custody');

    await page.goto(`${appUrl}cases/${caseId}/access?action=${encodeURIComponent('view,thumbnail-view,download,export')}&user=alice`);
    await expect.poll(() => page.getByTestId('access-events').textContent()).toContain('alice');
    await checkA11y('access');
    await page.goto(`${appUrl}cases/${caseId}/assignments`);
    await expect.poll(() => page.getByTestId('assignments').textContent()).toContain('erin');
    await checkA11y('assignments');
  });

  it('downloads an HTML report holding the bookmarked file with its SHA-256', async () => {
    await signIn('alice');
    await page.goto(`${appUrl}cases/${caseId}/reports?tagged=true`);
    await checkA11y('reports');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download HTML report' }).click()]);
    const html = await readFile((await download.path())!, 'utf8');
    expect(html).toContain(bookmarked.sha256);
    expect(html).toContain(bookmarked.note);
    // The hash the app shows is the hash of the bytes received, as recorded in custody.
    const shown = (await page.getByTestId('exports').textContent()) ?? '';
    expect(shown).toContain(createHash('sha256').update(html, 'utf8').digest('hex'));
  });

  it('shows an unassigned user no trace of the case', async () => {
    await page.goto(appUrl);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('input[name="user"]').fill('mallory');
    await page.locator('select[name="role"]').selectOption('investigator');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('You are not assigned to any case.').waitFor();
    for (const path of ['', '/gallery', '/map', `/files/${bookmarked.fileId}`, '/bookmarks']) {
      await page.goto(`${appUrl}cases/${caseId}${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).not.toContain(caseId);
      expect(await page.locator('.grid-scroll img, .leaflet-marker-icon').count()).toBe(0);
    }
  });

  it('loads nothing from any host but 127.0.0.1 and has no serious accessibility violations', () => {
    expect(chrome.offHost).toEqual([]);
    expect(Object.keys(a11y).sort()).toEqual(['access', 'assignments', 'bookmarks', 'cases', 'custody', 'detail', 'evidence', 'gallery', 'map', 'reports', 'sign-in', 'timeline']);
    expect(a11y).toEqual(Object.fromEntries(Object.keys(a11y).map((k) => [k, []])));
  });
});
