import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger } from '@exhibit/core';
import { createApi, startHttpServer, type HttpServerHandle } from '@exhibit/api';
import { freePort } from '@exhibit/host';
import { EXIT } from '../src/cli-error.js';
import { createCliContext } from '../src/context.js';
import { loadCommandModules } from '../src/main.js';
import { runCli } from '../src/program.js';
import { CapturedStream } from '../src/test-support.js';
import type { RejectedBlobListBody } from '../src/api/api-types.js';
import { createApiFixture, type ApiFixture } from '../../api/test/api-fixture.js';

/** `exhibit admin rejected-blobs` through a real HTTP API and index. */
let f: ApiFixture;
let server: HttpServerHandle;
let dir: string;
let env: NodeJS.ProcessEnv;

async function cli(extraEnv: NodeJS.ProcessEnv, ...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await runCli(argv, createCliContext({ env: { ...env, ...extraEnv }, stdout, stderr }), await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-admin-'));
  f = await createApiFixture(inject('storageConnectionString'));
  for (const name of ['IMG_0001.JPG', 'C1//notes.txt']) {
    await f.index.recordRejectedBlob({
      container: f.deps.containers.evidence,
      blobName: name,
      etag: '"0x8DC0001"',
      size: 2048,
      lastModified: '2024-05-01T10:00:00.000Z',
      reason: 'not-evidence-name',
      detail: `detail for ${name}`,
    });
  }
  const port = await freePort();
  server = await startHttpServer(createApi(f.deps), { host: '127.0.0.1', port, logger: createRootLogger({ level: 'silent' }) });
  env = { EXHIBIT_API_URL: `http://127.0.0.1:${port}/api`, EXHIBIT_DATA_DIR: dir, EXHIBIT_LOG_LEVEL: 'silent' };
});

afterAll(async () => {
  await server?.close();
  await f?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('exhibit admin rejected-blobs', () => {
  it('lists the rejected blobs for an admin', async () => {
    const res = await cli({ EXHIBIT_TOKEN: await f.token('ada', ['admin']) }, 'admin', 'rejected-blobs');
    expect(res.code).toBe(EXIT.ok);
    expect(res.out).toContain('IMG_0001.JPG');
    expect(res.out).toContain('C1//notes.txt');
    expect(res.out).toContain('rejected blobs 1-2 of 2');
  });

  it('pages and prints JSON', async () => {
    const res = await cli({ EXHIBIT_TOKEN: await f.token('ada', ['admin']) }, 'admin', 'rejected-blobs', '--json', '--limit', '1', '--offset', '1');
    expect(res.code).toBe(EXIT.ok);
    const body = JSON.parse(res.out) as RejectedBlobListBody;
    expect(body).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(body.items).toHaveLength(1);
  });

  it('is refused for other roles', async () => {
    const res = await cli({ EXHIBIT_TOKEN: await f.token('sue', ['supervisor']) }, 'admin', 'rejected-blobs');
    expect(res.code).toBe(EXIT.error);
    expect(res.err).toMatch(/not allowed/);
  });
});
