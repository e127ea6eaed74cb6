import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger } from '@exhibit/core';
import { createApi, startHttpServer, type HttpServerHandle } from '@exhibit/api';
import { createCustodyLog, createLocalSigner, publicKeyOf } from '@exhibit/custody';
import { freePort } from '@exhibit/host';
import { migrate, openSqlClient, type SqlClient } from '@exhibit/index';
import { createAzureAppendLog, createAzureBlobStore } from '@exhibit/storage';
import { EXIT } from '../src/cli-error.js';
import { createCliContext } from '../src/context.js';
import { loadCommandModules } from '../src/main.js';
import { runCli } from '../src/program.js';
import { CapturedStream } from '../src/test-support.js';
import { createApiFixture, seedCase, type ApiFixture } from '../../api/test/api-fixture.js';

/**
 * `exhibit custody verify|report`: offline straight from Azurite (the
 * configured custody and evidence containers), and through a real HTTP API.
 */
const connectionString = inject('storageConnectionString');
let dir: string;
let sql: SqlClient;

async function cli(env: NodeJS.ProcessEnv, ...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await runCli(argv, createCliContext({ env, stdout, stderr }), await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-custody-'));
  sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  await migrate(sql);
});

afterAll(async () => {
  await sql?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('exhibit custody verify --offline', () => {
  const caseId = `CLI-CUST-${randomBytes(3).toString('hex')}`;
  const blobName = `${caseId}/EX01/image.dd`;
  const env = () => ({ EXHIBIT_STORAGE_CONNECTION_STRING: connectionString, EXHIBIT_DATA_DIR: path.join(dir, 'offline'), EXHIBIT_LOG_LEVEL: 'silent' });
  const blobs = createAzureBlobStore({ connectionString });

  beforeAll(async () => {
    const appendLog = createAzureAppendLog({ connectionString, container: 'custody' });
    await appendLog.ensureContainer();
    await blobs.ensureContainer('evidence');
    const bytes = randomBytes(2048);
    await blobs.upload({ container: 'evidence', name: blobName }, bytes);
    const signer = await createLocalSigner(path.join(dir, 'keys'));
    await writeFile(path.join(dir, 'trusted.json'), JSON.stringify([publicKeyOf(signer)]));
    await writeFile(path.join(dir, 'other.json'), JSON.stringify([publicKeyOf(await createLocalSigner(path.join(dir, 'other-keys')))]));
    const log = createCustodyLog({ appendLog, blobs, sql, signer, containers: { custody: 'custody', evidence: 'evidence' }, logger: createRootLogger({ level: 'silent' }) });
    await log.record({
      caseId,
      evidenceId: 'EX01',
      action: 'integrity-verified',
      actor: 'service:exhibit-pipeline',
      subject: { blobName, sha256: createHash('sha256').update(bytes).digest('hex') },
      details: {},
    });
  });

  it('verifies with the published keys, and with keys handed over out of band', async () => {
    const published = await cli(env(), 'custody', 'verify', caseId, '--offline');
    expect(published.code, published.err).toBe(EXIT.ok);
    expect(published.out).toContain(`Custody verification of case ${caseId}: VERIFIED`);
    const pinned = await cli(env(), 'custody', 'verify', `${caseId}/EX01`, '--offline', '--keys', path.join(dir, 'trusted.json'), '--json');
    expect(pinned.code).toBe(EXIT.ok);
    expect(JSON.parse(pinned.out)).toMatchObject({ ok: true, keys: { source: 'trusted' }, items: [{ evidenceId: 'EX01', verifiedEntries: 2 }] });
  });

  it('exits 3 for a log signed by a key it was not told to trust', async () => {
    const res = await cli(env(), 'custody', 'verify', caseId, '--offline', '--keys', path.join(dir, 'other.json'));
    expect(res.code).toBe(EXIT.integrity);
    expect(res.out).toContain('FIRST BREAK unknown-key at seq 0');
  });

  it('exits 3 when the evidence changed, and refuses --keys without --offline', async () => {
    await blobs.upload({ container: 'evidence', name: blobName }, Buffer.from('changed'));
    const res = await cli(env(), 'custody', 'verify', caseId, '--offline');
    expect(res.code).toBe(EXIT.integrity);
    expect(res.out).toContain('evidence-modified at seq 1');
    expect((await cli(env(), 'custody', 'verify', caseId, '--offline', '--no-rehash')).code).toBe(EXIT.ok);
    expect((await cli(env(), 'custody', 'verify', caseId, '--keys', 'x.json')).code).toBe(EXIT.usage);
  });
});

describe('exhibit custody verify|report through the API', () => {
  let f: ApiFixture;
  let server: HttpServerHandle;
  let env: NodeJS.ProcessEnv;
  const caseId = 'CLI-CUST-API';

  beforeAll(async () => {
    f = await createApiFixture(connectionString);
    const seed = await seedCase(f, caseId);
    await f.custodyLog.record({ caseId, evidenceId: seed.evidenceId, action: 'received', actor: 'service:exhibit-pipeline', subject: { blobName: seed.blobName }, details: { note: '<b>bold</b>' } });
    await f.access.assign(caseId, 'sue', { by: 'setup' });
    await f.access.assign(caseId, 'erin', { by: 'setup' });
    const port = await freePort();
    server = await startHttpServer(createApi(f.deps), { host: '127.0.0.1', port, logger: createRootLogger({ level: 'silent' }) });
    env = { EXHIBIT_API_URL: `http://127.0.0.1:${port}/api`, EXHIBIT_TOKEN: await f.token('sue', ['supervisor']), EXHIBIT_DATA_DIR: path.join(dir, 'api'), EXHIBIT_LOG_LEVEL: 'silent' };
  });

  afterAll(async () => {
    await server?.close();
    await f?.dispose();
  });

  it('verifies and saves a printable report', async () => {
    const verified = await cli(env, 'custody', 'verify', caseId);
    expect(verified.code, verified.err).toBe(EXIT.ok);
    expect(verified.out).toContain('VERIFIED');
    const out = path.join(dir, 'report.html');
    const report = await cli(env, 'custody', 'report', caseId, '--html', out);
    expect(report.code, report.err).toBe(EXIT.ok);
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;');
    expect((await cli(env, 'custody', 'report', caseId, '--html', out)).code).toBe(EXIT.error);
  });

  it('refuses an existing --html file before asking the API, so the refusal leaves no entry in the custody log', async () => {
    const out = path.join(dir, 'taken.html');
    await writeFile(out, 'mine');
    f.custodyEvents.length = 0;
    const refused = await cli(env, 'custody', 'report', caseId, '--html', out);
    expect(refused.code).toBe(EXIT.error);
    expect(refused.err).toMatch(/taken\.html already exists; choose another name \(nothing was fetched\)/);
    expect(await readFile(out, 'utf8')).toBe('mine');
    expect(f.custodyEvents).toEqual([]);
    // The same report to a new name is recorded (one 'verify' entry per evidence item).
    expect((await cli(env, 'custody', 'report', caseId, '--html', path.join(dir, 'fresh.html'))).code).toBe(EXIT.ok);
    expect(f.custodyEvents.map((e) => [e.action, e.details.kind])).toEqual([['verify', 'report']]);
  });

  it('prints the report as text by default: the verification, then every entry, unlike verify', async () => {
    const report = await cli(env, 'custody', 'report', caseId, '--width', '200');
    expect(report.code, report.err).toBe(EXIT.ok);
    const verify = await cli(env, 'custody', 'verify', caseId);
    expect(report.out).not.toBe(verify.out);
    expect(report.out).toMatch(new RegExp(`^Chain-of-custody report: case ${caseId}\n\nCustody verification of case ${caseId}: VERIFIED`));
    expect(report.out).toMatch(/Entries of CLI-CUST-API\/\S+ \(\d+\)/);
    expect(report.out).toMatch(/Seq\s+Time \(UTC\)\s+Actor\s+Action\s+Subject\s+Tools\s+Entry hash \(SHA-256\)/);
    expect(report.out).toMatch(/\d+\s+\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+service:exhibit-pipeline\s+received\s+CLI-CUST-API\/\S+\s+[0-9a-f]{64}\n/);
    for (const width of [80, 120, 200]) {
      const at = await cli(env, 'custody', 'report', caseId, '--width', String(width));
      // The entry tables fit; the verification above them keeps its hashes whole on one line.
      for (const line of at.out.slice(at.out.indexOf('Entries of')).split('\n')) expect(line.length, line).toBeLessThanOrEqual(width);
      expect(at.out).toMatch(/service:exhibit-pipeline\s+received/);
    }
  });

  it('is refused to someone who is not a supervisor', async () => {
    const res = await cli({ ...env, EXHIBIT_TOKEN: await f.token('erin', ['examiner']) }, 'custody', 'verify', caseId);
    expect(res.code).toBe(EXIT.error);
    expect(res.err).toMatch(/not allowed/);
  });
});
