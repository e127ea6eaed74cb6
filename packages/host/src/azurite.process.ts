import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { ExhibitError, type Logger } from '@exhibit/core';

export interface AzuriteOptions {
  location: string;
  blobPort: number;
  queuePort: number;
  /** Table is unused but Azurite always binds it; keep it off the other ports. */
  tablePort?: number;
  startTimeoutMs?: number;
  logger?: Logger;
}

export interface RunningAzurite {
  blobPort: number;
  queuePort: number;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function azuriteEntry(): string {
  const pkg = require.resolve('azurite/package.json');
  return path.join(path.dirname(pkg), 'dist', 'src', 'azurite.js');
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Any free TCP port on loopback, for tests that run several stacks at once. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Azurite (blob + queue) as a child process with its data under
 * `location`, so state survives a restart of the host.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  await mkdir(options.location, { recursive: true });
  if ((await portOpen(options.blobPort)) || (await portOpen(options.queuePort))) {
    throw new ExhibitError(
      'storage-unavailable',
      `port ${options.blobPort} or ${options.queuePort} is already in use; stop the other Azurite or set EXHIBIT_AZURITE_BLOB_PORT / EXHIBIT_AZURITE_QUEUE_PORT`,
    );
  }
  const tablePort = options.tablePort ?? (await freePort());
  const args = [
    azuriteEntry(),
    '--location', options.location,
    '--blobPort', String(options.blobPort),
    '--queuePort', String(options.queuePort),
    '--tablePort', String(tablePort),
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  let exited = false;
  child.once('exit', (code) => {
    exited = true;
    if (code !== 0 && code !== null) options.logger?.warn({ code, stderr }, 'azurite exited');
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!(await portOpen(options.blobPort)) || !(await portOpen(options.queuePort))) {
    if (exited) throw new ExhibitError('storage-unavailable', `azurite failed to start: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ExhibitError('timeout', 'azurite did not start in time');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  options.logger?.info({ blobPort: options.blobPort, queuePort: options.queuePort }, 'azurite started');

  return {
    blobPort: options.blobPort,
    queuePort: options.queuePort,
    async stop() {
      if (exited) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}
