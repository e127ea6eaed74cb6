import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { azuriteConnectionString } from '@exhibit/core';
import { freePorts, stopAzuriteFor } from '../../packages/host/src/azurite.process.js';
import { HOST_MALLOC_ENV, HOST_NODE_FLAGS } from '../../packages/host/src/host-process.settings.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface HostProcessEnv {
  dataDir: string;
  blobPort: number;
  queuePort: number;
  apiPort: number;
  storageConnectionString: string;
  apiUrl: string;
  env: NodeJS.ProcessEnv;
}

/** Ports and a data folder for one local stack, so tests never touch a developer's running stack. */
export async function allocateHostEnv(extra: NodeJS.ProcessEnv = {}): Promise<HostProcessEnv> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-e2e-'));
  const [blobPort, queuePort, apiPort] = (await freePorts(3)) as [number, number, number];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // As `npm start` runs it: the host measured by the benches is the host users run.
    ...HOST_MALLOC_ENV,
    EXHIBIT_DATA_DIR: dataDir,
    EXHIBIT_AZURITE_BLOB_PORT: String(blobPort),
    EXHIBIT_AZURITE_QUEUE_PORT: String(queuePort),
    EXHIBIT_API_PORT: String(apiPort),
    EXHIBIT_INGEST_SAMPLES: 'false',
    EXHIBIT_POLL_INTERVAL_MS: '200',
    EXHIBIT_LOG_LEVEL: 'info',
    ...extra,
  };
  // The default stack is what end-to-end tests exercise; the real server is covered by the index tests.
  if (!('DATABASE_URL' in extra)) delete env.DATABASE_URL;
  delete env.EXHIBIT_STORAGE_CONNECTION_STRING;
  return {
    dataDir,
    blobPort,
    queuePort,
    apiPort,
    storageConnectionString: azuriteConnectionString('127.0.0.1', blobPort, queuePort),
    apiUrl: `http://127.0.0.1:${apiPort}/api`,
    env,
  };
}

export interface HostProcess {
  child: ChildProcess;
  output(): string;
  /**
   * A crash of the host: SIGKILL to it and its process group. Azurite, in its own group, is not
   * killed: it notices its host is gone and stops by itself, saving its state as storage would.
   */
  kill(): Promise<void>;
  /** Graceful stop. */
  stop(): Promise<void>;
}

/** Starts `packages/host/src/main.ts` in its own process group and waits for the API to answer. */
export async function startHostProcess(h: HostProcessEnv, options: { readyTimeoutMs?: number } = {}): Promise<HostProcess> {
  const child = spawn(process.execPath, [...HOST_NODE_FLAGS, '--import', 'tsx', path.join(ROOT, 'packages/host/src/main.ts')], {
    cwd: ROOT,
    env: h.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`host exited early (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${h.apiUrl}/openapi.json`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`host did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      await exited;
      // Give the kernel a moment to release the listening sockets.
      await new Promise((r) => setTimeout(r, 300));
    },
    async stop() {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      }, 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function removeHostEnv(h: HostProcessEnv): Promise<void> {
  // The Azurite of a host killed by a test may still be saving its state; let it finish before removing its folder.
  await stopAzuriteFor(path.join(h.dataDir, 'azurite'));
  await rm(h.dataDir, { recursive: true, force: true });
}
