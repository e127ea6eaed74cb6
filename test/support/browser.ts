import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { HostProcess } from './host-process.js';

const require = createRequire(import.meta.url);

/** Debian's chromium (.ci/run installs it); never a downloaded browser. */
export function findChromium(): string | null {
  for (const command of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [command], { encoding: 'utf8' }).trim() || null;
    } catch {
      // not this one
    }
  }
  return null;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/**
 * A context in which every request is checked: anything not addressed to
 * 127.0.0.1 is refused and remembered (the app must load nothing from
 * elsewhere: no CDN, fonts or tiles).
 */
export async function guardedContext(
  browser: Browser,
  options: {
    acceptDownloads?: boolean;
    /** Accept a self-signed certificate (the local OpenID Connect issuer's, test/support/oidc-issuer.ts). */
    ignoreHTTPSErrors?: boolean;
  } = {},
): Promise<{ context: BrowserContext; offHost: string[] }> {
  const context = await browser.newContext({
    acceptDownloads: options.acceptDownloads ?? true,
    viewport: { width: 1280, height: 900 },
    ...(options.ignoreHTTPSErrors ? { ignoreHTTPSErrors: true } : {}),
  });
  const offHost: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      offHost.push(url.href);
      await route.abort();
      return;
    }
    await route.continue();
  });
  return { context, offHost };
}

/** Chromium, a guarded context in it and a page open there: what a browser test drives from its beforeAll to its afterAll. */
export interface GuardedBrowser {
  browser: Browser;
  context: BrowserContext;
  /** What the context refused (anything not addressed to 127.0.0.1): a test ends expecting none. */
  offHost: string[];
  page: Page;
}

export async function openGuardedBrowser(executablePath: string, options: Parameters<typeof guardedContext>[1] = {}): Promise<GuardedBrowser> {
  const browser = await launchChromium(executablePath);
  const { context, offHost } = await guardedContext(browser, options);
  return { browser, context, offHost, page: await context.newPage() };
}

/**
 * A browser test's teardown of what its beforeAll started, as far as it got: a host that stopped on its own is a
 * failure of its own (its last output said why), then the browser closed and the host stopped.
 */
export async function closeBrowserAndHost(chrome: GuardedBrowser | undefined, host: HostProcess | undefined): Promise<void> {
  if (host && host.child.exitCode !== null) console.error(`the host exited (${host.child.exitCode}):\n${host.output().slice(-4000)}`);
  await chrome?.browser.close();
  await host?.stop();
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core run in the page as it is; returns the serious and critical violations, readable. */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) stays in force.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const r = await axe.run((globalThis as any).document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
}
