/**
 * `npm run screenshots`: starts a local host on a scratch data folder with the
 * sample case, signs in through the app in Debian's Chromium, and writes one
 * PNG per screen to docs/screenshots/ (linked from the README and
 * docs/review-app.md). Run it after changing a screen.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
// @ts-expect-error a plain ES module script (packages/web/scripts), no types
import { buildIfStale } from '../../packages/web/scripts/build-if-stale.mjs';
import { findChromium, guardedContext, launchChromium } from '../support/browser.js';
import { ApiClient, readSampleManifest } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess } from '../support/host-process.js';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

async function main(): Promise<void> {
  const chromiumPath = findChromium();
  if (!chromiumPath) throw new Error('chromium not found (Debian package chromium)');
  buildIfStale();
  await mkdir(OUT, { recursive: true });
  const manifest = await readSampleManifest();
  const caseId = manifest.caseId;
  const h = await allocateHostEnv({ EXHIBIT_INGEST_SAMPLES: 'true' });
  const host = await startHostProcess(h);
  const browser = await launchChromium(chromiumPath);
  try {
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);
    for (;;) {
      if ((await sam.get<{ cases: string[] }>('/me')).cases.includes(caseId)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await sam.waitComplete(caseId, manifest.evidence.map((e) => e.evidenceId), 300_000);
    const { context, offHost } = await guardedContext(browser);
    const page = await context.newPage();
    const app = h.apiUrl.replace(/\/api$/, '');
    const shot = async (name: string, path: string, ready: (p: Page) => Promise<unknown>) => {
      await page.goto(`${app}${path}`);
      await ready(page);
      await page.waitForTimeout(600);
      await page.screenshot({ path: `${OUT}${name}.png` });
      process.stdout.write(`docs/screenshots/${name}.png\n`);
    };
    const signIn = async (user: string) => {
      await page.goto(`${app}/`);
      await page.evaluate(() => (globalThis as any).sessionStorage.clear());
      await page.reload();
      await page.locator(`button[data-user="${user}"]`).click();
      await page.getByRole('heading', { name: 'Your cases' }).waitFor();
    };

    await shot('sign-in', '/', (p) => p.getByRole('heading', { name: /Sign in/ }).waitFor());
    await signIn('alice');
    await shot('cases', '/cases', (p) => p.getByRole('link', { name: caseId }).waitFor());
    await shot('evidence', `/cases/${caseId}`, (p) => p.locator('[data-integrity]').first().waitFor());
    // The sample case's memory card image (an E01 with its stored hashes, header and FAT32 volume), scrolled into view.
    await shot('disk-image', `/cases/${caseId}`, async (p) => {
      const image = p.locator('[data-disk-image]').first();
      await image.waitFor();
      await image.scrollIntoViewIfNeeded();
    });
    await shot('gallery', `/cases/${caseId}/gallery`, (p) => p.locator('.grid-scroll img').nth(8).waitFor());
    const hit = await sam.get<{ items: Array<{ file: { fileId: string } }> }>(`/cases/${caseId}/files?hasGps=true&kind=image&limit=1`);
    const fileId = hit.items[0]!.file.fileId;
    await page.goto(`${app}/cases/${caseId}/files/${fileId}`);
    await page.locator('input[name="tag"]').fill('landmark');
    await page.locator('input[name="note"]').fill('the tower in the background matches the witness statement');
    await page.getByRole('button', { name: 'Bookmark' }).click();
    await shot('detail', `/cases/${caseId}/files/${fileId}`, (p) => p.getByTestId('file-tags').getByText('landmark').waitFor());
    await shot('map', `/cases/${caseId}/map`, (p) => p.locator('.leaflet-marker-icon').first().waitFor());
    await shot('timeline', `/cases/${caseId}/timeline`, (p) => p.getByTestId('timeline').waitFor());
    await shot('bookmarks', `/cases/${caseId}/bookmarks`, (p) => p.getByTestId('bookmarks').waitFor());
    await shot('reports', `/cases/${caseId}/reports?tagged=true`, (p) => p.getByRole('heading', { name: 'Reports' }).waitFor());
    await signIn('sam');
    await shot('custody', `/cases/${caseId}/custody`, async (p) => {
      await p.getByTestId('custody-entries').waitFor();
      await p.getByRole('button', { name: /Verify the custody log/ }).click();
      await p.getByTestId('verification').waitFor({ timeout: 120_000 });
    });
    await shot('access', `/cases/${caseId}/access`, (p) => p.getByTestId('access-events').waitFor());
    await shot('assignments', `/cases/${caseId}/assignments`, (p) => p.getByTestId('assignments').waitFor());
    if (offHost.length > 0) throw new Error(`requests to other hosts: ${offHost.join(', ')}`);
  } finally {
    await browser.close();
    await host.stop();
    await removeHostEnv(h);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
