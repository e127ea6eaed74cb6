import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@exhibit/core';
import { freePorts } from './azurite.process.js';
import { startLocalHost, type LocalHost } from './local-host.js';

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the local host when its Azurite dies', () => {
  let host: LocalHost | undefined;
  let dataDir: string | undefined;

  // Stopping drains the workers and stops Azurite: seconds on a loaded machine, past the unit tier's 10 s hook default.
  afterAll(async () => {
    await host?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('answers 503 with the reason while storage is down, restarts it, and answers again', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-outage-'));
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
    host = await startLocalHost(config, { logger: pino({ level: 'silent' }) });
    expect((await fetch(`${host.apiUrl}/openapi.json`)).status).toBe(200);
    const first = host.storageHealth()!;
    expect(first).toMatchObject({ state: 'up', restarts: 0 });

    process.kill(first.pid!, 'SIGKILL');
    // The host learns of the exit from the process itself; a restart waits its back-off and
    // Azurite's start, far longer than one request to this process takes.
    await until(() => host!.storageHealth()!.state !== 'up', 'the exit to be noticed');
    const down = await fetch(`${host.apiUrl}/openapi.json`);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    const body = (await down.json()) as { error: { code: string; message: string; details: { storage: { state: string; reason: string } } } };
    expect(body.error.code).toBe('storage-unavailable');
    expect(body.error.details.storage.reason).toMatch(/exited unexpectedly \(signal SIGKILL\)/);

    await until(() => host!.storageHealth()!.state === 'up', 'the restart');
    expect(host.storageHealth()).toMatchObject({ state: 'up', restarts: 1 });
    expect(host.storageHealth()!.pid).not.toBe(first.pid);
    expect((await fetch(`${host.apiUrl}/openapi.json`)).status).toBe(200);
    // Containers and queues are there again: the pipeline can write.
    await host.app.bus.send('index', [{ body: { caseId: 'C', evidenceId: 'E', fileId: 'f' }, messageId: 'outage-probe' }]);
  }, 120_000);
});
