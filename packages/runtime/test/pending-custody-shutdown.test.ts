import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/index.js';
import { DATABASE_URL, postgresServer, type Target } from '../../index/test/targets.js';
import { logger, testAppConfig } from './app-fixture.js';

/**
 * The start-up pass over pending assignment custody (docs/review-api.md, "Who is who") is the
 * host's background work: the host's shutdown signal stops it (pending-custody-startup-pass-unstoppable),
 * what it left stays pending, and the next start writes it. Through createApp on Azurite and a
 * database that outlives each app (PGlite on disk, the server when DATABASE_URL is set). Each test opens several apps
 * on one data folder, so not openAppFixture (one app, its folder removed at close): its config, with the test's own
 * evidence container and queues.
 */
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
    const { config, queuePrefix } = testAppConfig('pp', dataDir, database.kind === 'postgres' ? { databaseUrl: database.url } : {});
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

  it('pending-custody-pass-running-not-stopped-by-close: close() stops a pass already writing, mid-case, and leaves that case pending', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-pending-pass-run-'));
    dirs.push(dataDir);
    const database = await target.create();
    const { config, queuePrefix } = testAppConfig('pr', dataDir, database.kind === 'postgres' ? { databaseUrl: database.url } : {});
    const CASE_RUN = `PR-${randomBytes(3).toString('hex')}`;
    const ITEMS = 400;
    const setup = await createApp(config, { logger, queuePrefix });
    await setup.ensureInfrastructure();
    // One case of many evidence items: its one pending change is an entry in each item's log, hundreds of appends.
    for (let i = 0; i < ITEMS; i++) {
      const evidenceId = `E${String(i).padStart(3, '0')}`;
      const blobName = `${CASE_RUN}/${evidenceId}/x.bin`;
      await setup.index.recordUpload({
        caseId: CASE_RUN, evidenceId, blobName, fileName: 'x.bin', rootFileId: `root-${CASE_RUN}-${evidenceId}`, size: 1,
        etag: '"0x1"', versionId: null, contentType: null, lastModified: new Date().toISOString(), acquisition: {},
      });
    }
    await setup.access.assign(CASE_RUN, 'ray@contoso.example', { by: 'sup' });
    // Bound outside any request (and no shutdown signal the next app could see before its pass starts).
    const shutdown = new AbortController();
    shutdown.abort();
    await setup.close();
    const binder = await createApp(config, { logger, queuePrefix, shutdownSignal: shutdown.signal });
    await binder.access.getAssignment(CASE_RUN, { name: 'ray@contoso.example', objectId: '7b7b7b7b-2222-3333-4444-555555555555' });
    await binder.close();
    const entries = async (app: App) =>
      Number((await app.sql.query<{ n: string | number }>(`SELECT count(*) AS n FROM custody_entries WHERE case_id = $1 AND action = 'assignment-change'`, [CASE_RUN])).rows[0]!.n);

    // A start with no shutdown signal: its pass starts writing; close() is called while it runs.
    const running = await createApp(config, { logger, queuePrefix });
    const deadline = Date.now() + 20_000;
    while ((await entries(running)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const writtenBefore = await entries(running);
    expect(writtenBefore).toBeGreaterThan(0);
    expect(writtenBefore).toBeLessThan(ITEMS);
    const t0 = Date.now();
    await running.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    // Stopped mid-case: not every item's entry was written and the change is still pending.
    const check = await createApp(config, { logger, queuePrefix, shutdownSignal: shutdown.signal });
    expect(await entries(check)).toBeLessThan(ITEMS);
    expect(await check.access.pendingAssignmentCustody({ caseIds: [CASE_RUN], limit: 10 })).toHaveLength(1);
    await check.close();
  }, 120_000);
});
