import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ExhibitError, loadConfig } from '@exhibit/core';
import { freePorts } from './azurite.process.js';
import { startLocalHost, type LocalHost } from './local-host.js';

describe('the local host when its index process dies', () => {
  let host: LocalHost | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    await host?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('fails the statement in flight with index-unavailable and reports the loss (npm start then stops with exit 1), no hang', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-index-outage-'));
    const ports = await freePorts(3);
    const config = loadConfig(
      {
        EXHIBIT_DATA_DIR: dataDir,
        EXHIBIT_API_PORT: String(ports[0]),
        EXHIBIT_AZURITE_BLOB_PORT: String(ports[1]),
        EXHIBIT_AZURITE_QUEUE_PORT: String(ports[2]),
        EXHIBIT_INGEST_SAMPLES: 'false',
        EXHIBIT_LOG_LEVEL: 'silent',
      },
      { cwd: dataDir },
    );
    expect(config.database.kind).toBe('pglite');
    let lost: (reason: string) => void = () => undefined;
    const lostReason = new Promise<string>((resolve) => (lost = resolve));
    host = await startLocalHost(config, { logger: pino({ level: 'silent' }), onIndexLost: (reason) => lost(reason) });
    const index = host.indexProcess();
    expect(index).not.toBeNull();
    // The app talks to the index through the node-postgres adapter.
    expect(host.app.sql.dialect).toBe('postgres');
    expect((await host.app.sql.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const inFlight = host.app.sql.query('SELECT pg_sleep(30)').then(
      () => null,
      (err: unknown) => err,
    );
    // The sleep has reached PGlite (its one session is busy) before the process is killed.
    await new Promise((r) => setTimeout(r, 500));
    process.kill(index!.pid, 'SIGKILL');
    const err = await inFlight;
    expect(err).toBeInstanceOf(ExhibitError);
    expect((err as ExhibitError).code).toBe('index-unavailable');
    expect(await lostReason).toMatch(new RegExp(`index process \\(pid ${index!.pid}\\) exited unexpectedly \\(signal SIGKILL\\)`));
    // Later statements fail typed too, until the host has stopped.
    await expect(host.app.sql.query('SELECT 1')).rejects.toMatchObject({ code: 'index-unavailable' });
  }, 120_000);
});
