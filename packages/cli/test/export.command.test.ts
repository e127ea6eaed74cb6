import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from '../../api/test/api-fixture.js';

/** `exhibit export` through a real HTTP API, index, blob storage and custody log. */
let f: ApiFixture;
let server: HttpServerHandle;
let dir: string;
let env: NodeJS.ProcessEnv;
let seed: SeededCase;

async function cli(user: string, roles: Parameters<ApiFixture['token']>[1], ...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const ctxEnv = { ...env, EXHIBIT_TOKEN: await f.token(user, roles) };
  const code = await runCli(argv, createCliContext({ env: ctxEnv, stdout, stderr }), await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-export-'));
  f = await createApiFixture(inject('storageConnectionString'));
  seed = await seedCase(f, 'EXP-1');
  await f.access.assign('EXP-1', 'ivy', { by: 'setup' });
  await f.deps.extensions!.review!.addTag({ caseId: 'EXP-1', fileId: seed.photoFileId, tag: 'weapon', note: 'knife', by: 'ivy' });
  const port = await freePort();
  server = await startHttpServer(createApi({ ...f.deps, custody: f.custodyLog }), { host: '127.0.0.1', port, logger: createRootLogger({ level: 'silent' }) });
  env = { EXHIBIT_API_URL: `http://127.0.0.1:${port}/api`, EXHIBIT_DATA_DIR: dir, EXHIBIT_LOG_LEVEL: 'silent' };
});

afterAll(async () => {
  await server?.close();
  await f?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('exhibit export', () => {
  // Regression: the CLI checked only the hash and size against the export's record, not whether the record
  // says the export was cut short. A body that ends cleanly after the server stopped it (a proxy closing a
  // broken chunked body as if it ended, as curl's saved file shows) matches its record byte for byte, and
  // was kept as the report.
  it('export-cut-short-kept-as-whole-report', async () => {
    const real = createApi({ ...f.deps, custody: f.custodyLog });
    const port = await freePort();
    // The API as seen through such a proxy: the body ended cleanly, and custody records the export as cut short.
    const proxied = await startHttpServer(
      {
        routes: real.routes,
        handle: async (req) => {
          const res = await real.handle(req);
          if (/\/exports\/[0-9a-f-]{36}$/.test(req.path) && res.status === 200) {
            return { ...res, body: { ...(res.body as object), complete: false, stoppedBy: 'access-revoked', planned: 40 } };
          }
          return res;
        },
      },
      { host: '127.0.0.1', port, logger: createRootLogger({ level: 'silent' }) },
    );
    try {
      const out = path.join(dir, 'cut.csv');
      const stdout = new CapturedStream();
      const stderr = new CapturedStream();
      const ctxEnv = { ...env, EXHIBIT_API_URL: `http://127.0.0.1:${port}/api`, EXHIBIT_TOKEN: await f.token('ivy', ['investigator']) };
      const code = await runCli(['export', 'EXP-1', '--format', 'csv', '-o', out], createCliContext({ env: ctxEnv, stdout, stderr }), await Promise.all(loadCommandModules()));
      expect(code).toBe(EXIT.integrity);
      expect(stderr.text).toContain('INCOMPLETE (access-revoked)');
      expect(await readdir(dir)).not.toContain('cut.csv');
    } finally {
      await proxied.close();
    }
  });

  it('saves the bookmarks as an HTML report whose SHA-256 matches the custody record', async () => {
    const out = path.join(dir, 'report.html');
    const res = await cli('ivy', ['investigator'], 'export', 'EXP-1', '--tagged', '-o', out, '--json');
    expect(res.code, res.err).toBe(EXIT.ok);
    const result = JSON.parse(res.out) as { sha256: string; bytes: number; items: number; exportId: string };
    const bytes = await readFile(out);
    expect(result).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, items: 1 });
    expect(bytes.toString('utf8')).toContain('knife');
    const { rows } = await f.sql.query<{ details: { sha256: string } | string }>(`SELECT details FROM custody_entries WHERE case_id = 'EXP-1' AND action = 'export'`);
    const details = rows.map((r) => (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as { sha256: string; exportId: string });
    expect(details.filter((d) => d.exportId === result.exportId).map((d) => d.sha256)).toEqual([result.sha256]);
  });

  it('never overwrites a file, and keeps nothing when the export is refused', async () => {
    const existing = path.join(dir, 'exists.csv');
    await writeFile(existing, 'mine');
    expect((await cli('ivy', ['investigator'], 'export', 'EXP-1', '--format', 'csv', '-o', existing)).code).toBe(EXIT.error);
    expect(await readFile(existing, 'utf8')).toBe('mine');
    const refused = path.join(dir, 'refused.csv');
    const res = await cli('stranger', ['investigator'], 'export', 'EXP-1', '--format', 'csv', '-o', refused);
    expect(res.code).toBe(EXIT.error);
    expect(await readdir(dir)).not.toContain('refused.csv');
  });
});
