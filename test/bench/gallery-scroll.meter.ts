import type { Page } from 'playwright-core';
import { findChromium, guardedContext, launchChromium } from '../support/browser.js';
import { allocateHostEnv, removeHostEnv, startHostProcess } from '../support/host-process.js';

/**
 * The review app's gallery in Debian's Chromium over a seeded case: a local
 * host on the bench's database serves the app and the API, a user on the case
 * signs in, and the page reports (through its own clock) when the first cells
 * show results and how long each animation frame took while the grid is
 * scrolled at a reading pace and at a fling. Figures only, no assertion.
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
}

export interface GalleryFigures {
  resultCount: number;
  firstCellsMs: number;
  scroll: ScrollFigures[];
  searchRequests: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function scroll(page: Page, label: string, pxPerFrame: number, durationMs: number): Promise<ScrollFigures> {
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
  };
}

export async function measureGallery(options: { databaseUrl: string; caseId: string; user: string; expectedFiles: number }): Promise<GalleryFigures> {
  const chromium = findChromium();
  if (!chromium) throw new Error('chromium not found (Debian package chromium)');
  const h = await allocateHostEnv({ DATABASE_URL: options.databaseUrl, EXHIBIT_INGEST_SAMPLES: 'false', EXHIBIT_LOG_LEVEL: 'warn' });
  const host = await startHostProcess(h, { readyTimeoutMs: 180_000 });
  const browser = await launchChromium(chromium);
  try {
    const appUrl = h.apiUrl.replace(/\/api$/, '/');
    const signIn = await fetch(`${appUrl}auth/local/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: options.user, role: 'investigator' }) });
    if (!signIn.ok) throw new Error(`local sign-in: HTTP ${signIn.status}`);
    const issued = (await signIn.json()) as { token: string; user: string; roles: string[]; expiresAt: string };
    const { context, offHost } = await guardedContext(browser);
    // The session as the sign-in page stores it (this tab's sessionStorage), before the app starts.
    await context.addInitScript((session) => (globalThis as any).sessionStorage.setItem('exhibit.session', session), JSON.stringify({ ...issued, authKind: 'local' }));
    // When the first cell with a result appears, by the page's clock (from navigation start).
    await context.addInitScript(`(() => {
      const mo = new MutationObserver(() => {
        if (document.querySelector('.grid-scroll .cell:not(.placeholder)')) { window.__firstCellsMs = performance.now(); mo.disconnect(); }
      });
      mo.observe(document, { childList: true, subtree: true });
    })()`);
    const page = await context.newPage();
    let searchRequests = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === `/api/cases/${options.caseId}/files`) searchRequests += 1;
    });
    // Warm the server's caches and the browser's code cache once, as a second visit would be.
    await page.goto(`${appUrl}cases/${encodeURIComponent(options.caseId)}/gallery`);
    await page.locator('.grid-scroll .cell:not(.placeholder)').first().waitFor({ timeout: 60_000 });
    searchRequests = 0;
    await page.goto(`${appUrl}cases/${encodeURIComponent(options.caseId)}/gallery`);
    // Polled through the DevTools protocol (waitForFunction would eval inside the page, which its CSP forbids).
    let firstCellsMs: number | undefined;
    for (const deadline = Date.now() + 60_000; firstCellsMs === undefined; ) {
      if (Date.now() > deadline) throw new Error('no result cell within 60 s');
      firstCellsMs = (await page.evaluate('window.__firstCellsMs')) as number | undefined;
      if (firstCellsMs === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    const countText = (await page.getByTestId('result-count').textContent()) ?? '';
    const resultCount = Number(countText.replace(/[^\d]/g, ''));
    if (!(resultCount >= options.expectedFiles)) throw new Error(`gallery shows ${countText}, expected at least ${options.expectedFiles} files`);
    const figures: ScrollFigures[] = [];
    figures.push(await scroll(page, 'reading pace', 40, 5000));
    figures.push(await scroll(page, 'fling', 1200, 5000));
    if (offHost.length > 0) throw new Error(`requests off the host: ${offHost.join(', ')}`);
    return { resultCount, firstCellsMs, scroll: figures, searchRequests };
  } finally {
    await browser.close();
    await host.stop();
    await removeHostEnv(h);
  }
}
