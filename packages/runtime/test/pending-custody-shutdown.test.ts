import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import pino from 'pino';
import { loadConfig, type ExhibitConfig } from '@exhibit/core';
import { createApp, type App } from '../src/index.js';
import { DATABASE_URL, postgresServer, type Target } from '../../index/test/targets.js';

/**
 * The start-up pass over pending assignment custody (docs/review-api.md, "Who is who") is the
 * host's background work: the host's shutdown signal stops it (pending-custody-startup-pass-unstoppable),
 * what it left stays pending, and the next start writes it. Through createApp on Azurite and a
 * database that outlives each app (PGlite on disk, the server when DATABASE_URL is set).
 */
const logger = pino({ level: 'silent' });
/** PGlite: the default, on disk in the data directory (kept across the test's apps). */
const pgliteInDataDir: Target = { name: 'pglite (disk)', create: async () => ({ kind: 'pglite', dataDir: '' }), dispose: async () => {} };
const targets: Target[] = [pgliteInDataDir, ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])];

describe.each(targets)('start-up custody pass and shutdown on $name', (target) => {
  const dirs: string[] = [];
  afterAll(async () => {
    await target.dispose();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('pending-custody-startup-pass-unstoppable: a shut-down host leaves the pass\'s work pending; the next start writes it', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-pending-pass-'));
    dirs.push(dataDir);
    const database = await target.create();
    const config: ExhibitConfig = loadConfig(
      {
        EXHIBIT_STORAGE_CONNECTION_STRING: inject('storageConnectionString'),
        EXHIBIT_DATA_DIR: dataDir,
        EXHIBIT_INGEST_SAMPLES: 'false',
        EXHIBIT_LOG_LEVEL: 'silent',
        ...(database.kind === 'postgres' ? { DATABASE_URL: database.url } : {}),
      },
      { cwd: dataDir },
    );
    const queuePrefix = `pp${randomBytes(3).toString('hex')}-`;
    const open = async (shutdownSignal?: AbortSignal): Promise<App> =>
      createApp(config, { logger, queuePrefix, ...(shutdownSignal ? { shutdownSignal } : {}) });

    const first = await open();
    const caseIds = ['PP-1', 'PP-2'];
    for (const c of caseIds) {
      await first.access.assign(c, 'pia@contoso.example', { by: 'sup' });
      // A bind outside any request: pending until the API writes its custody entry.
      await first.access.getAssignment(c, { name: 'pia@contoso.example', objectId: '7a7a7a7a-2222-3333-4444-555555555555' });
    }
    await first.close();
    const pending = async (app: App) => (await app.access.pendingAssignmentCustody({ caseIds, limit: 10 })).length;

    // The host is already shutting down as the app starts: the pass writes nothing and close() does not wait for it.
    const shutdown = new AbortController();
    shutdown.abort();
    const stopped = await open(shutdown.signal);
    expect(await pending(stopped)).toBe(2);
    const t0 = Date.now();
    await stopped.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    // close() waited for no pass to write: still pending (read through a fresh app whose own pass is stopped too).
    const check = await open(shutdown.signal);
    expect(await pending(check)).toBe(2);
    await check.close();

    // The next start writes them, in the background.
    const next = await open();
    const deadline = Date.now() + 20_000;
    while ((await pending(next)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await pending(next)).toBe(0);
    await next.close();
  });
});
