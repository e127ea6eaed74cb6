import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger } from '@exhibit/core';
import { createApi, startHttpServer, type HttpServerHandle } from '@exhibit/api';
import {
  addedKeyDocumentName,
  createCustodyLog,
  createFileCheckpointStore,
  createLocalSigner,
  pinSignerKey,
  publicKeyOf,
  segmentName,
  trustFileOf,
} from '@exhibit/custody';
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
    await pinSignerKey(trustFileOf(path.join(dir, 'offline')), publicKeyOf(signer));
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

  it('verifies with the pinned keys of the data folder, and with keys handed over out of band', async () => {
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

describe('exhibit custody: pinned keys, checkpoints, export and verify --bundle', () => {
  const caseId = `CLI-TRUST-${randomBytes(3).toString('hex')}`;
  const dataDir = () => path.join(dir, 'trust');
  const env = () => ({ EXHIBIT_STORAGE_CONNECTION_STRING: connectionString, EXHIBIT_DATA_DIR: dataDir(), EXHIBIT_LOG_LEVEL: 'silent' });
  /** No storage, no API: what a third party has. */
  const bare = () => ({ EXHIBIT_DATA_DIR: path.join(dir, 'third-party'), EXHIBIT_LOG_LEVEL: 'silent' });
  const appendLog = createAzureAppendLog({ connectionString, container: 'custody' });
  let log: ReturnType<typeof createCustodyLog>;

  beforeAll(async () => {
    await appendLog.ensureContainer();
    const signer = await createLocalSigner(path.join(dir, 'trust-keys'));
    log = createCustodyLog({
      appendLog,
      blobs: createAzureBlobStore({ connectionString }),
      sql,
      signer,
      containers: { custody: 'custody', evidence: 'evidence' },
      logger: createRootLogger({ level: 'silent' }),
      checkpoints: createFileCheckpointStore(path.join(dataDir(), 'custody-checkpoints')),
    });
    for (const ev of ['EX01', 'EX02']) {
      for (let n = 0; n < 4; n++) await log.record({ caseId, evidenceId: ev, action: 'stage-completed', actor: 'service:exhibit-pipeline', subject: { fileId: `f${n}` }, details: { n } });
    }
    await log.checkpoint({ caseId });
  });

  it('refuses offline verification with no trusted keys rather than trust the keys beside the logs', async () => {
    const res = await cli(env(), 'custody', 'verify', caseId, '--offline');
    expect(res.code).toBe(EXIT.usage);
    expect(res.err).toMatch(/no trusted custody keys: .*custody-keys\.json does not exist.*--keys/s);
  });

  it('exports the pinned keys, adds keys only by `trust add`, and reports a key added beside the logs as untrusted', async () => {
    await pinSignerKey(trustFileOf(dataDir()), log.publicKey());
    const keysFile = path.join(dir, 'trust-public-keys.json');
    const exported = await cli(env(), 'custody', 'keys', 'export', '-o', keysFile);
    expect(exported.code, exported.err).toBe(EXIT.ok);
    expect(JSON.parse(await readFile(keysFile, 'utf8'))).toMatchObject({ format: 'exhibit-custody-trusted-keys/1', keys: [{ keyId: log.publicKey().keyId }] });
    expect((await cli(env(), 'custody', 'trust', 'add', keysFile)).out).toBe('every key was already trusted\n');
    expect((await cli(env(), 'custody', 'trust', 'add')).code).toBe(EXIT.usage);
    const noSigner = await cli(env(), 'custody', 'trust', 'add', '--signer');
    expect(noSigner.err).toMatch(/no custody signing key in/);

    const mallory = await createLocalSigner(path.join(dir, 'mallory'));
    await appendLog.putDocument(addedKeyDocumentName(caseId, mallory.keyId), Buffer.from(JSON.stringify({ ...publicKeyOf(mallory), addedAt: new Date().toISOString() })), { ifNoneMatch: '*' });
    const res = await cli(env(), 'custody', 'verify', caseId, '--offline', '--no-rehash');
    expect(res.code, res.err).toBe(EXIT.ok);
    expect(res.out).toContain(`rejected key ${mallory.keyId}: untrusted: published only beside the logs`);
    expect(res.out).toMatch(/Checkpoints \(.*custody-checkpoints\): 2 verified, 0 rejected/);

    const malloryFile = path.join(dir, 'mallory.json');
    await writeFile(malloryFile, JSON.stringify([publicKeyOf(mallory)]));
    expect((await cli(env(), 'custody', 'trust', 'add', malloryFile)).out).toBe(`now trusted: ${mallory.keyId}\n`);
    const after = await cli(env(), 'custody', 'verify', caseId, '--offline', '--no-rehash', '--json');
    expect(JSON.parse(after.out).keys.accepted.map((k: { keyId: string }) => k.keyId).sort()).toEqual([log.publicKey().keyId, mallory.keyId].sort());
  });

  it('exports a bundle that verifies with nothing else; a damaged bundle is refused and a cut log fails', async () => {
    const bundle = path.join(dir, 'case.bundle.jsonl');
    const exported = await cli(env(), 'custody', 'export', caseId, '-o', bundle, '--keys', path.join(dir, 'trust-public-keys.json'));
    expect(exported.code, exported.err).toBe(EXIT.ok);
    expect(exported.err).toMatch(/2 log segments, checkpoints, 1 public key/);
    expect((await cli(env(), 'custody', 'export', caseId, '-o', bundle)).code).toBe(EXIT.error);
    const none = path.join(dir, 'none.bundle.jsonl');
    const empty = await cli(env(), 'custody', 'export', 'NO-SUCH-CASE', '-o', none);
    expect(empty.err).toMatch(/no custody logs/);
    await expect(readFile(none)).rejects.toMatchObject({ code: 'ENOENT' });

    const ok = await cli(bare(), 'custody', 'verify', caseId, '--bundle', bundle);
    expect(ok.code, ok.err + ok.out).toBe(EXIT.ok);
    expect(ok.out).toContain('VERIFIED');
    expect(ok.out).toContain('evidence not re-hashed');
    expect((await cli(bare(), 'custody', 'verify', 'OTHER', '--bundle', bundle)).code).toBe(EXIT.usage);

    const text = await readFile(bundle, 'utf8');
    const cut = path.join(dir, 'cut.bundle.jsonl');
    await writeFile(cut, text.slice(0, text.lastIndexOf('{"type":"manifest"')));
    const refused = await cli(bare(), 'custody', 'verify', caseId, '--bundle', cut);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.err).toMatch(/no closing manifest/);

    // A log cut after its checkpoint: the next export carries the cut log and the checkpoint that exposes it.
    const name = segmentName(caseId, 'EX02', 0);
    const lines = (await streamText(await appendLog.read(name))).split('\n');
    const raw = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('custody').getAppendBlobClient(name);
    await raw.delete();
    await raw.create();
    for (const line of lines.slice(0, 2)) await raw.appendBlock(line + '\n', Buffer.byteLength(line) + 1);
    const truncated = path.join(dir, 'truncated.bundle.jsonl');
    expect((await cli(env(), 'custody', 'export', caseId, '-o', truncated, '--keys', path.join(dir, 'trust-public-keys.json'))).code).toBe(EXIT.ok);
    const broken = await cli(bare(), 'custody', 'verify', caseId, '--bundle', truncated);
    expect(broken.code).toBe(EXIT.integrity);
    expect(broken.out).toContain('FIRST BREAK truncated');
    // And offline from storage, with the checkpoints in the data folder.
    const offline = await cli(env(), 'custody', 'verify', `${caseId}/EX02`, '--offline', '--no-rehash');
    expect(offline.code).toBe(EXIT.integrity);
    expect(offline.out).toMatch(/FIRST BREAK truncated.*checkpoint of .* records 5 entries/);
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
