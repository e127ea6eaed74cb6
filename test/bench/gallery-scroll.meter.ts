import type { Browser, BrowserContext, Page } from 'playwright-core';
// @ts-expect-error a plain ES module script (packages/web/scripts), no types
import { buildIfStale } from '../../packages/web/scripts/build-if-stale.mjs';
import { findChromium, guardedContext, launchChromium } from '../support/browser.js';
import { allocateHostEnv, removeHostEnv, startHostProcess } from '../support/host-process.js';

/**
 * The review app's gallery in Debian's Chromium over a seeded case: a local
 * host on the bench's database serves the app and the API, a user on the case
 * signs in, and the page reports (through its own clock) when the first cells
 * show results, when the first screen shows decoded thumbnails (cold loads,
 * each in a new browser context), how long each animation frame took while
 * the grid is scrolled at a reading pace and at a fling (with Chromium's own
 * count of dropped frames from a trace), and how long a jump to an unseen
 * part of the grid takes to show decoded thumbnails. Every request the page
 * makes to a host other than 127.0.0.1 is refused and reported. Figures
 * only, no assertion.
 */
export interface ScrollFigures {
  label: string;
  pxPerFrame: number;
  frames: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Frames that took longer than two 60 Hz intervals: at least one frame dropped. */
  over33Ms: number;
  longTasks: number;
  longTaskMs: number;
  /** Cells still waiting for their page of results when the scroll stopped. */
  placeholdersAtEnd: number;
  rowsScrolled: number;
  /** Chromium's own frame accounting over the scroll (trace: PipelineReporter, the page's renderer). */
  compositor: CompositorFrames;
  /** Cells on screen when the scroll stopped, and how many of them showed a decoded thumbnail. */
  visibleAtEnd: number;
  thumbnailsAtEnd: number;
  withoutAtEnd: number;
}

/**
 * Frames as Chromium's compositor reports them (the `PipelineReporter` trace
 * events DevTools draws its frames track from): `frames` the frames it meant to
 * produce, `dropped` those it did not present and counts against smoothness
 * (STATE_DROPPED, affects_smoothness), `partial` those presented without the
 * main thread's update of that frame (STATE_PRESENTED_PARTIAL).
 */
export interface CompositorFrames {
  frames: number;
  dropped: number;
  partial: number;
}

export interface GalleryFigures {
  resultCount: number;
  firstCellsMs: number;
  /** Per cold load (new browser context: empty HTTP cache), navigation to the first result cells and to the first screen of decoded thumbnails. */
  coldLoads: Array<{ firstCellsMs: number; firstThumbnailsMs: number; thumbnails: number; without: number }>;
  /** Per jump to a part of the grid not seen before: scrollTop set to there, until every cell on screen shows a decoded thumbnail. */
  jumps: Array<{ to: number; ms: number; thumbnails: number; without: number }>;
  scroll: ScrollFigures[];
  searchRequests: number;
  thumbnailRequests: number;
  /** Responses of the thumbnail route other than 200/304 (a thumbnail the index records but cannot serve). */
  thumbnailFailures: number;
  /** Per thumbnail request of the measured page: request sent to the first byte of the answer (the server's time, and the wait behind its turn). */
  thumbnailWaitMs: number[];
  /** The host's thumbnail route fetched from Node, one at a time and 6 at once: rate and p50 latency. */
  server: Array<{ parallel: number; thumbnails: number; perSecond: number; p50Ms: number }>;
  /** What the page asked of any host but 127.0.0.1 (refused): must be none. */
  offHost: string[];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function scroll(browser: Browser, page: Page, label: string, pxPerFrame: number, durationMs: number): Promise<ScrollFigures> {
  await browser.startTracing(page, { categories: FRAME_TRACE_CATEGORIES });
  // Plain source text: tsx's keep-names helper (__name) does not exist in the page.
  const raw = (await page.evaluate(`(async () => {
    const el = document.querySelector('.grid-scroll');
    const startTop = el.scrollTop;
    const frames = [];
    const longTasks = [];
    const po = new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); });
    po.observe({ type: 'longtask' });
    await new Promise((resolve) => {
      let last = performance.now();
      const end = last + ${durationMs};
      function step(t) {
        frames.push(t - last);
        last = t;
        el.scrollTop += ${pxPerFrame};
        if (t < end) requestAnimationFrame(step); else resolve();
      }
      requestAnimationFrame(step);
    });
    po.disconnect();
    const row = document.querySelector('.grid-row');
    const rowHeight = row ? row.getBoundingClientRect().height : 1;
    return { frames: frames.slice(1), longTasks, placeholders: document.querySelectorAll('.grid-scroll .cell.placeholder').length, rows: Math.round((el.scrollTop - startTop) / rowHeight) };
  })()`)) as { frames: number[]; longTasks: number[]; placeholders: number; rows: number };
  const compositor = compositorFrames(JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] });
  // What the screen shows once the scroll stopped (thumbnails still arriving are not waited for).
  const end = await screenCounts(page);
  const sorted = [...raw.frames].sort((a, b) => a - b);
  return {
    label,
    pxPerFrame,
    frames: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    over33Ms: sorted.filter((f) => f > 1000 / 30).length,
    longTasks: raw.longTasks.length,
    longTaskMs: raw.longTasks.reduce((a, b) => a + b, 0),
    placeholdersAtEnd: raw.placeholders,
    rowsScrolled: raw.rows,
    compositor,
    visibleAtEnd: end.visible,
    thumbnailsAtEnd: end.decoded,
    withoutAtEnd: end.without,
  };
}

/** Where the jumps go, as fractions of the grid's height: parts neither the loads nor the scrolls show. */
export const JUMP_TO = [0.5, 0.3, 0.7, 0.4, 0.9, 0.6, 0.25, 0.8] as const;

/**
 * The gallery positions (default order) the measured run can put on screen,
 * as [from, to) ranges: the top and what the two scrolls pass over (at most
 * 60 frames a second: ~1,900 rows of 7 cells at 1280 px, 13,300 files;
 * 15,000 leaves room), and a window around each jump's target (a screen and
 * its overscan are some 50 cells). The bench prints the cells that showed no
 * thumbnail, which says if this fell short.
 */
export function galleryReach(total: number, only: 'run' | 'screens' = 'run'): Array<[number, number]> {
  // 'screens': the loads' first screens and the jumps' only (the scrolls then pass files without one).
  const around = only === 'run' ? 350 : 100;
  return [[0, Math.min(total, only === 'run' ? 15_000 : 1_000)], ...JUMP_TO.map((f): [number, number] => [Math.max(0, Math.floor(f * total) - around), Math.min(total, Math.floor(f * total) + around)])];
}

/** Trace categories that carry Chromium's per-frame reports (what DevTools' frames track reads). */
const FRAME_TRACE_CATEGORIES = ['benchmark', 'cc', 'disabled-by-default-devtools.timeline.frame', 'devtools.timeline'];

/**
 * Counts PipelineReporter begin events of the page's renderer (the process
 * that ran its animation frames; the browser process reports its own UI's).
 * Forked reports are the main thread's part of a frame the compositor also
 * reports: counted as partial, not as frames of their own.
 */
export function compositorFrames(trace: { traceEvents?: TraceEvent[] } | TraceEvent[]): CompositorFrames {
  const events = Array.isArray(trace) ? trace : (trace.traceEvents ?? []);
  const renderers = new Set(events.filter((e) => e.name === 'AnimationFrame').map((e) => e.pid));
  const out: CompositorFrames = { frames: 0, dropped: 0, partial: 0 };
  for (const e of events) {
    const r = e.name === 'PipelineReporter' && e.ph === 'b' && renderers.has(e.pid) ? e.args?.frame_reporter : undefined;
    if (!r || r.state === 'STATE_NO_UPDATE_DESIRED') continue;
    if (r.state === 'STATE_PRESENTED_PARTIAL') out.partial += 1;
    if (r.state === 'STATE_DROPPED' && r.affects_smoothness) out.dropped += 1;
    if (r.frame_type !== 'FORKED') out.frames += 1;
  }
  return out;
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  args?: { frame_reporter?: { state?: string; frame_type?: string; affects_smoothness?: boolean } };
}

/**
 * In the page (an init script, so the page's CSP does not apply): which cells
 * of the grid are on screen, how many of them are still waiting for their
 * results, how many show a thumbnail the browser has decoded (complete,
 * naturalWidth > 0) and how many still wait for theirs; and, once, when the
 * first screen was done: every cell on it a decoded thumbnail (or a file that
 * has none, which shows its kind).
 */
const THUMBNAIL_WATCH = `(() => {
  window.__exhibitScreen = () => {
    const grid = document.querySelector('.grid-scroll');
    const out = { visible: 0, placeholders: 0, decoded: 0, pending: 0, without: 0 };
    if (!grid) return out;
    const box = grid.getBoundingClientRect();
    for (const cell of grid.querySelectorAll('.cell')) {
      const r = cell.getBoundingClientRect();
      if (r.bottom <= box.top || r.top >= box.bottom || r.right <= box.left || r.left >= box.right) continue;
      out.visible++;
      if (cell.classList.contains('placeholder')) { out.placeholders++; continue; }
      const img = cell.querySelector('img');
      if (img && img.complete && img.naturalWidth > 0) out.decoded++;
      // A file without a thumbnail (the uploaded archive itself) shows its kind; '…' is one on its way.
      else if (img || cell.querySelector('.kind')?.textContent === '…') out.pending++;
      else out.without++;
    }
    return out;
  };
  const watch = () => {
    const s = window.__exhibitScreen();
    if (s.visible > 0 && s.placeholders === 0 && s.pending === 0 && s.decoded > 0) { window.__firstThumbnails = { ms: performance.now(), thumbnails: s.decoded, without: s.without }; return; }
    requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
})()`;

/** Cells on screen; `without`: showing a file with no thumbnail (its kind), which for an image means none was seeded. */
interface ScreenCounts {
  visible: number;
  placeholders: number;
  decoded: number;
  pending: number;
  without: number;
}

/** Polled through the DevTools protocol (waitForFunction would eval inside the page, which its CSP forbids). */
async function pollPage<T>(page: Page, expression: string, what: string, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const value = (await page.evaluate(expression)) as T | undefined;
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function screenCounts(page: Page): Promise<ScreenCounts> {
  return (await page.evaluate('window.__exhibitScreen()')) as ScreenCounts;
}

/** scrollTop to `to` of the grid's height, then frames until every cell on screen shows a decoded thumbnail. */
async function jump(page: Page, to: number): Promise<GalleryFigures['jumps'][number]> {
  const r = (await page.evaluate(`(async () => {
    const el = document.querySelector('.grid-scroll');
    const t0 = performance.now();
    el.scrollTop = Math.round(el.scrollHeight * ${to});
    for (;;) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      const s = window.__exhibitScreen();
      if (s.visible > 0 && s.placeholders === 0 && s.pending === 0 && s.decoded > 0) return { ms: performance.now() - t0, thumbnails: s.decoded, without: s.without };
      if (performance.now() - t0 > 30000) return { ms: NaN, thumbnails: s.decoded, without: s.without };
    }
  })()`)) as { ms: number; thumbnails: number; without: number };
  return { to, ...r };
}

/**
 * The host's thumbnail route without a browser: distinct thumbnails (of a page
 * of results no load showed) fetched one at a time, then as many at once as the
 * app's fetch pool runs (thumbnails.ts, MAX_PARALLEL 6). If 6 at once are not
 * about 6 times the rate of one, something on the server serves them in turn.
 */
async function serverThumbnailRate(apiUrl: string, caseId: string, token: string): Promise<GalleryFigures['server']> {
  const headers = { authorization: `Bearer ${token}` };
  const page = await fetch(`${apiUrl}/cases/${encodeURIComponent(caseId)}/files?limit=200&offset=500`, { headers });
  if (!page.ok) throw new Error(`search for the thumbnail rate: HTTP ${page.status}`);
  const items = ((await page.json()) as { items: Array<{ content: { sha256: string; thumbnailStatus: string } | null }> }).items;
  const shas = [...new Set(items.filter((i) => i.content?.thumbnailStatus === 'done').map((i) => i.content!.sha256))];
  const fetchOne = async (sha: string) => {
    const t = performance.now();
    const res = await fetch(`${apiUrl}/cases/${encodeURIComponent(caseId)}/contents/${sha}/thumbnail`, { headers });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`thumbnail rate: HTTP ${res.status}`);
    return performance.now() - t;
  };
  const run = async (list: string[], parallel: number) => {
    const times: number[] = [];
    let next = 0;
    const start = performance.now();
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < list.length) times.push(await fetchOne(list[next++]!));
    }));
    const sorted = times.sort((a, b) => a - b);
    return { parallel, thumbnails: list.length, perSecond: list.length / ((performance.now() - start) / 1000), p50Ms: percentile(sorted, 50) };
  };
  const half = Math.floor(shas.length / 2);
  return [await run(shas.slice(0, half), 1), await run(shas.slice(half), 6)];
}

export async function measureGallery(options: {
  databaseUrl: string;
  caseId: string;
  user: string;
  expectedFiles: number;
  /** Cold loads timed (each in a new browser context). */
  coldLoads?: number;
  /** Run once the host (and its Azurite) is up, before the browser starts: seeds what the gallery shows. */
  prepare?: (host: { storageConnectionString: string }) => Promise<void>;
}): Promise<GalleryFigures> {
  const chromium = findChromium();
  if (!chromium) throw new Error('chromium not found (Debian package chromium)');
  // The host serves the built app (packages/web/dist); a fresh worktree has none.
  buildIfStale();
  const h = await allocateHostEnv({ DATABASE_URL: options.databaseUrl, EXHIBIT_INGEST_SAMPLES: 'false', EXHIBIT_LOG_LEVEL: 'warn' });
  const host = await startHostProcess(h, { readyTimeoutMs: 180_000 });
  let browser: Browser | undefined;
  try {
    await options.prepare?.({ storageConnectionString: h.storageConnectionString });
    browser = await launchChromium(chromium);
    const appUrl = h.apiUrl.replace(/\/api$/, '/');
    const galleryUrl = `${appUrl}cases/${encodeURIComponent(options.caseId)}/gallery`;
    const signIn = await fetch(`${appUrl}auth/local/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: options.user, role: 'investigator' }) });
    if (!signIn.ok) throw new Error(`local sign-in: HTTP ${signIn.status}`);
    const issued = (await signIn.json()) as { token: string; user: string; roles: string[]; expiresAt: string };
    const offHost: string[] = [];
    let searchRequests = 0;
    let thumbnailRequests = 0;
    let thumbnailFailures = 0;
    const statuses: Record<number, number> = {};
    const thumbnailWaitMs: number[] = [];
    const thumbnailPath = new RegExp(`^/api/cases/${options.caseId}/contents/[0-9a-f]{64}/thumbnail$`);
    /** A new context: its own (empty) HTTP cache, the session as the sign-in page stores it, the watchers. */
    const openPage = async (): Promise<{ context: BrowserContext; page: Page }> => {
      const guarded = await guardedContext(browser!);
      const context = guarded.context;
      context.on('close', () => offHost.push(...guarded.offHost));
      await context.addInitScript((session) => (globalThis as any).sessionStorage.setItem('exhibit.session', session), JSON.stringify({ ...issued, authKind: 'local' }));
      // When the first cell with a result appears, by the page's clock (from navigation start).
      await context.addInitScript(`(() => {
        const mo = new MutationObserver(() => {
          if (document.querySelector('.grid-scroll .cell:not(.placeholder)')) { window.__firstCellsMs = performance.now(); mo.disconnect(); }
        });
        mo.observe(document, { childList: true, subtree: true });
      })()`);
      await context.addInitScript(THUMBNAIL_WATCH);
      const page = await context.newPage();
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === `/api/cases/${options.caseId}/files`) searchRequests += 1;
      });
      page.on('requestfinished', (r) => {
        if (!thumbnailPath.test(new URL(r.url()).pathname)) return;
        const t = r.timing();
        if (t.requestStart >= 0 && t.responseStart >= t.requestStart) thumbnailWaitMs.push(t.responseStart - t.requestStart);
      });
      page.on('response', (r) => {
        if (!thumbnailPath.test(new URL(r.url()).pathname)) return;
        thumbnailRequests += 1;
        statuses[r.status()] = (statuses[r.status()] ?? 0) + 1;
        if (r.status() !== 200 && r.status() !== 304) thumbnailFailures += 1;
      });
      return { context, page };
    };
    const load = async (page: Page) => {
      await page.goto(galleryUrl);
      const firstCellsMs = await pollPage<number>(page, 'window.__firstCellsMs', 'a result cell');
      const first = await pollPage<{ ms: number; thumbnails: number; without: number }>(page, 'window.__firstThumbnails', 'a screen of decoded thumbnails').catch(async (err: Error) => {
        throw new Error(`${err.message} (on screen: ${JSON.stringify(await screenCounts(page))}; thumbnail answers: ${JSON.stringify(statuses)})`);
      });
      return { firstCellsMs, firstThumbnailsMs: first.ms, thumbnails: first.thumbnails, without: first.without };
    };
    // Warm the server's caches once (database pages, the host's code paths), as a second visit would find them.
    {
      const warm = await openPage();
      await load(warm.page);
      await warm.context.close();
    }
    const coldLoads: GalleryFigures['coldLoads'] = [];
    for (let i = 0; i < (options.coldLoads ?? 7); i++) {
      const cold = await openPage();
      coldLoads.push(await load(cold.page));
      await cold.context.close();
    }
    searchRequests = 0;
    thumbnailRequests = 0;
    thumbnailWaitMs.length = 0;
    const { context, page } = await openPage();
    const { firstCellsMs } = await load(page);
    const countText = (await page.getByTestId('result-count').textContent()) ?? '';
    const resultCount = Number(countText.replace(/[^\d]/g, ''));
    if (!(resultCount >= options.expectedFiles)) throw new Error(`gallery shows ${countText}, expected at least ${options.expectedFiles} files`);
    const figures: ScrollFigures[] = [];
    figures.push(await scroll(browser, page, 'reading pace', 40, 5000));
    figures.push(await scroll(browser, page, 'fling', 1200, 5000));
    const jumps: GalleryFigures['jumps'] = [];
    for (const to of JUMP_TO) jumps.push(await jump(page, to));
    await context.close();
    const server = await serverThumbnailRate(h.apiUrl, options.caseId, issued.token);
    return { resultCount, firstCellsMs, coldLoads, jumps, scroll: figures, searchRequests, thumbnailRequests, thumbnailFailures, thumbnailWaitMs, server, offHost };
  } finally {
    await browser?.close();
    await host.stop();
    await removeHostEnv(h);
  }
}
