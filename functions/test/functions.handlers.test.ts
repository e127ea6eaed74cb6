import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  HttpRequest,
  InvocationContext,
  type HttpFunctionOptions,
  type HttpResponseInit,
  type ServiceBusQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';
import { issueLocalToken } from '@exhibit/api';
import { ExhibitError, QUEUES, loadConfig, type ExhibitConfig, type QueueName } from '@exhibit/core';
import { createApp, FUNCTIONS, type App } from '@exhibit/runtime';
import { createAzureBlobStore } from '@exhibit/storage';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lazyHost, type FunctionsHost } from '../src/app-instance.js';
import { createFunctionsLogger } from '../src/invocation-log.js';
import { registerFunctions } from '../src/register.js';

/**
 * The registered Azure Functions, driven the way the Functions host drives
 * them: options captured at registration, handlers called with a real
 * InvocationContext and real trigger payloads. Behind them a real app:
 * Azurite for blobs, PGlite for the index. Service Bus itself is not here,
 * so the stage messages the app sends travel on Storage Queues and this test
 * plays the host's part: receive, invoke, complete on return, abandon on throw.
 */
interface Registered {
  serviceBus: Map<string, ServiceBusQueueFunctionOptions>;
  http: Map<string, HttpFunctionOptions>;
  timer: Map<string, TimerFunctionOptions>;
}

function register(host: FunctionsHost): Registered {
  const r: Registered = { serviceBus: new Map(), http: new Map(), timer: new Map() };
  registerFunctions(
    {
      serviceBusQueue: (name, options) => r.serviceBus.set(name, options),
      http: (name, options) => r.http.set(name, options),
      timer: (name, options) => r.timer.set(name, options),
    },
    FUNCTIONS,
    host,
  );
  return r;
}

interface LogLine {
  level: string;
  text: string;
}

function invocationContext(functionName: string, triggerMetadata: Record<string, unknown> = {}, logs: LogLine[] = []): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    triggerMetadata,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
  });
}

function blobCreatedEvent(config: ExhibitConfig, blobEndpoint: string, blobName: string, size: number) {
  return {
    id: randomUUID(),
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
    subject: `/blobServices/default/containers/${config.containers.evidence}/blobs/${blobName}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    data: {
      api: 'PutBlockList',
      contentType: 'image/jpeg',
      contentLength: size,
      blobType: 'BlockBlob',
      url: `${blobEndpoint}/${config.containers.evidence}/${blobName.split('/').map(encodeURIComponent).join('/')}`,
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

async function readAll(body: HttpResponseInit['body']): Promise<Buffer> {
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  throw new Error(`unexpected body ${typeof body}`);
}

describe('Azure Functions adapters against a real app', () => {
  let dataDir: string;
  let config: ExhibitConfig;
  let app: App;
  let fns: Registered;
  let blobEndpoint: string;
  const caseId = `FN${randomBytes(3).toString('hex')}`;
  const logs: LogLine[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-functions-'));
    const connectionString = inject('storageConnectionString');
    config = loadConfig(
      { EXHIBIT_STORAGE_CONNECTION_STRING: connectionString, EXHIBIT_DATA_DIR: dataDir, EXHIBIT_INGEST_SAMPLES: 'false', EXHIBIT_LOG_LEVEL: 'info' },
      { cwd: dataDir },
    );
    const logger = createFunctionsLogger('info');
    app = await createApp(config, { logger, queuePrefix: `fn${randomBytes(3).toString('hex')}-` });
    await app.ensureInfrastructure();
    fns = register(lazyHost(logger, async () => app, () => config));
    blobEndpoint = /BlobEndpoint=([^;]+)/.exec(connectionString)![1]!.replace(/\/$/, '');
  });

  afterAll(async () => {
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function upload(blobName: string, bytes: Buffer): Promise<void> {
    const writer = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    await writer.upload({ container: config.containers.evidence, name: blobName }, bytes, { contentType: 'image/jpeg' });
  }

  /** The Functions host's part: deliver each queued message to its function; complete on return, abandon on throw. */
  async function drainStages(maxRounds = 40): Promise<{ delivered: Record<string, number>; failures: unknown[] }> {
    const delivered: Record<string, number> = {};
    const failures: unknown[] = [];
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const queue of QUEUES) {
        const messages = await app.bus.receive(queue, { maxMessages: 16, lockMs: 120_000 });
        for (const m of messages) {
          any = true;
          const fn = fns.serviceBus.get(`stage-${queue}`)!;
          const context = invocationContext(`stage-${queue}`, { messageId: m.messageId, deliveryCount: m.deliveryCount, correlationId: m.correlationId }, logs);
          try {
            await fn.handler(m.body, context);
            await m.complete();
            delivered[queue] = (delivered[queue] ?? 0) + 1;
          } catch (err) {
            failures.push(err);
            await m.abandon();
          }
        }
      }
      if (!any) break;
    }
    return { delivered, failures };
  }

  async function callApi(method: string, pathAndQuery: string, token: string | undefined, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<HttpResponseInit> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    const init: ConstructorParameters<typeof HttpRequest>[0] = { method, url: `https://exhibit.example/api${pathAndQuery}`, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      const text = JSON.stringify(body);
      headers['content-length'] = String(Buffer.byteLength(text));
      init.body = { string: text };
    }
    const fn = fns.http.get('api')!;
    return (await fn.handler(new HttpRequest(init), invocationContext('api'))) as HttpResponseInit;
  }

  it('takes an upload from its BlobCreated event through every stage to a thumbnail served over HTTP', async () => {
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 40, b: 40 } } }).jpeg().toBuffer();
    const blobName = `${caseId}/EV1/scene photo.jpg`;
    await upload(blobName, jpeg);

    await fns.serviceBus.get('ingest')!.handler(blobCreatedEvent(config, blobEndpoint, blobName, jpeg.length), invocationContext('ingest', { messageId: 'evt-1', deliveryCount: 1 }, logs));
    const received = await app.index.getUpload(blobName);
    expect(received?.hashes).toBeNull();

    const { delivered, failures } = await drainStages();
    expect(failures).toEqual([]);
    expect(delivered.hash).toBe(1);
    // identify, metadata and thumbnail in one analyse message, then index: three hops for a photo.
    expect(delivered.analyse).toBe(1);
    expect(delivered.index).toBe(1);

    const hashed = await app.index.getUpload(blobName);
    expect(hashed?.hashes?.sha256).toBe(createHash('sha256').update(jpeg).digest('hex'));
    expect(hashed?.hashes?.md5).toBe(createHash('md5').update(jpeg).digest('hex'));

    const admin = await issueLocalToken({ user: 'ada', roles: ['admin'] }, { keyDir: (config.auth as { keyDir: string }).keyDir });
    const assigned = await callApi('POST', `/cases/${caseId}/assignments`, admin.token, { user: 'ivy', role: 'investigator' });
    expect(assigned.status).toBeLessThan(300);
    const ivy = await issueLocalToken({ user: 'ivy', roles: ['investigator'] }, { keyDir: (config.auth as { keyDir: string }).keyDir });

    const status = await callApi('GET', `/cases/${caseId}/evidence/EV1/status`, ivy.token);
    expect(status.status).toBe(200);
    expect(JSON.parse((await readAll(status.body)).toString('utf8'))).toMatchObject({ complete: true });

    const fileId = hashed!.rootFileId;
    const thumbnail = await callApi('GET', `/cases/${caseId}/files/${fileId}/thumbnail`, ivy.token);
    expect(thumbnail.status).toBe(200);
    const bytes = await readAll(thumbnail.body);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(640);

    // Range passes through the Functions adapter both ways (a media player or a resuming download asks for parts this way):
    // one part is a 206 with Content-Range, past the end a 416, with a token and through a download link.
    expect((await callApi('POST', `/cases/${caseId}/assignments`, admin.token, { user: 'eve', role: 'examiner' })).status).toBeLessThan(300);
    const eve = await issueLocalToken({ user: 'eve', roles: ['examiner'] }, { keyDir: (config.auth as { keyDir: string }).keyDir });
    const part = await callApi('GET', `/cases/${caseId}/files/${fileId}/content`, eve.token, undefined, { range: 'bytes=2-11' });
    expect(part.status).toBe(206);
    expect(part.headers).toMatchObject({ 'content-range': `bytes 2-11/${jpeg.length}`, 'content-length': '10', 'accept-ranges': 'bytes' });
    expect((await readAll(part.body)).equals(jpeg.subarray(2, 12))).toBe(true);
    const beyond = await callApi('GET', `/cases/${caseId}/files/${fileId}/content`, eve.token, undefined, { range: `bytes=${jpeg.length}-` });
    expect(beyond.status).toBe(416);
    expect((beyond.headers as Record<string, string>)['content-range']).toBe(`bytes */${jpeg.length}`);
    const link = JSON.parse((await readAll((await callApi('GET', `/cases/${caseId}/files/${fileId}/download`, eve.token)).body)).toString('utf8')) as { url: string };
    const viaLink = await callApi('GET', link.url.replace(/^.*\/api/, ''), undefined, undefined, { range: 'bytes=-4', 'if-range': `"${hashed!.hashes!.sha256}"` });
    expect(viaLink.status).toBe(206);
    expect((await readAll(viaLink.body)).equals(jpeg.subarray(jpeg.length - 4))).toBe(true);
  });

  it('ignores events for other containers and other event types, completing them', async () => {
    const before = logs.length;
    const other = { ...blobCreatedEvent(config, blobEndpoint, `${caseId}/EV9/x.jpg`, 1), subject: `/blobServices/default/containers/derived/blobs/${caseId}/EV9/x.jpg` };
    await expect(fns.serviceBus.get('ingest')!.handler(other, invocationContext('ingest', {}, logs))).resolves.toBeUndefined();
    const deleted = { ...blobCreatedEvent(config, blobEndpoint, `${caseId}/EV9/x.jpg`, 1), eventType: 'Microsoft.Storage.BlobDeleted' };
    await expect(fns.serviceBus.get('ingest')!.handler(deleted, invocationContext('ingest', {}, logs))).resolves.toBeUndefined();
    const ignored = logs.slice(before).filter((l) => l.text.includes('blob event ignored'));
    expect(ignored.map((l) => JSON.parse(l.text).reason)).toEqual(['other-container', 'not-blob-created']);
    expect(await app.index.getUpload(`${caseId}/EV9/x.jpg`)).toBeNull();
  });

  it('completes a message whose outcome is failed, logging the reason with the invocation', async () => {
    const lines: LogLine[] = [];
    const context = invocationContext('stage-analyse', { messageId: 'analyse:bogus', deliveryCount: 1 }, lines);
    await expect(fns.serviceBus.get('stage-analyse')!.handler('not json at all', context)).resolves.toBeUndefined();
    const settled = lines.find((l) => l.text.includes('stage message settled'));
    expect(settled).toBeDefined();
    expect(JSON.parse(settled!.text)).toMatchObject({ messageId: 'analyse:bogus', outcome: { status: 'failed', code: 'invalid-message' }, invocationId: context.invocationId });
  });

  it('rethrows a retryable fault so Service Bus redelivers, and builds the app again on the next delivery', async () => {
    let builds = 0;
    const flaky = register(
      lazyHost(createFunctionsLogger('silent'), async () => {
        builds += 1;
        if (builds === 1) throw new ExhibitError('index-unavailable', 'PostgreSQL is not reachable yet');
        return app;
      }, () => config),
    );
    const body = { caseId, evidenceId: 'EV1', fileId: 'f-unknown' };
    const first = flaky.serviceBus.get('stage-analyse')!.handler(body, invocationContext('stage-analyse', { messageId: 'm1', deliveryCount: 1 }));
    await expect(first).rejects.toMatchObject({ code: 'index-unavailable' });
    await expect(flaky.serviceBus.get('stage-analyse')!.handler(body, invocationContext('stage-analyse', { messageId: 'm1', deliveryCount: 2 }))).resolves.toBeUndefined();
    expect(builds).toBe(2);
  });

  it('records a dead-lettered hash message as the file failing, with the broker reason', async () => {
    const bytes = randomBytes(2048);
    const blobName = `${caseId}/EV2/disk.bin`;
    await upload(blobName, bytes);
    await fns.serviceBus.get('ingest')!.handler(blobCreatedEvent(config, blobEndpoint, blobName, bytes.length), invocationContext('ingest'));
    const [hashMessage] = (await app.bus.receive('hash' satisfies QueueName, { maxMessages: 1, lockMs: 60_000 })).filter((m) => (m.body as { blobName?: string }).blobName === blobName);
    expect(hashMessage).toBeDefined();
    await hashMessage!.complete();

    // What the trigger hands over for a dead-lettered message: the body, and the reason as application properties.
    await fns.serviceBus.get('deadletter-hash')!.handler(
      hashMessage!.body,
      invocationContext('deadletter-hash', {
        messageId: hashMessage!.messageId,
        deliveryCount: 5,
        applicationProperties: { deadLetterReason: 'MaxDeliveryCountExceeded', deadLetterErrorDescription: 'Message could not be consumed after 5 delivery attempts.' },
      }),
    );
    const upload2 = await app.index.getUpload(blobName);
    const file = await app.index.getFile(upload2!.rootFileId);
    expect(file?.stage).toBe('failed');
    expect(file?.failure).toMatchObject({ stage: 'hash', code: 'dead-lettered' });
    expect(file?.failure?.detail).toContain('MaxDeliveryCountExceeded');
  });

  it('reconciles an upload whose event never arrived', async () => {
    const blobName = `${caseId}/EV3/missed.jpg`;
    await upload(blobName, randomBytes(512));
    expect(await app.index.getUpload(blobName)).toBeNull();
    await fns.timer.get('reconcile')!.handler({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, invocationContext('reconcile'));
    expect((await app.index.getUpload(blobName))?.blobName).toBe(blobName);
  });

  // Regression (custody and access): an overwritten evidence blob was caught by custody verify,
  // but the pipeline never noticed and status kept saying "verified".
  it('notices an overwritten and a deleted evidence blob on its reconciliation pass', async () => {
    const reconcileNow = () =>
      fns.timer.get('reconcile')!.handler({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, invocationContext('reconcile'));
    const overwritten = `${caseId}/EV4/overwritten.jpg`;
    const deleted = `${caseId}/EV4/deleted.jpg`;
    await upload(overwritten, randomBytes(600));
    await upload(deleted, randomBytes(700));
    await reconcileNow();
    const received = await app.index.getUpload(overwritten);
    expect(received).toMatchObject({ changedAfterReceipt: null });
    expect(await app.index.getUpload(deleted)).toMatchObject({ changedAfterReceipt: null });

    await upload(overwritten, randomBytes(900));
    const writer = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    await writer.delete({ container: config.containers.evidence, name: deleted });
    await reconcileNow();
    await reconcileNow(); // a second pass reports nothing twice

    const changed = await app.index.getUpload(overwritten);
    expect(changed).toMatchObject({ etag: received!.etag, size: 600, changedAfterReceipt: { size: 900 } });
    expect(changed!.changedAfterReceipt!.etag).not.toBe(received!.etag);
    expect(await app.index.getUpload(deleted)).toMatchObject({ changedAfterReceipt: { etag: '', size: null } });

    // The custody log's index copy: one evidence-changed entry per blob, none twice.
    const { rows } = await app.sql.query<{ blob_name: string }>(
      `SELECT subject->>'blobName' AS blob_name FROM custody_entries
        WHERE case_id = $1 AND evidence_id = 'EV4' AND action = 'evidence-changed' ORDER BY seq`,
      [caseId],
    );
    expect(rows.map((r) => r.blob_name).sort()).toEqual([deleted, overwritten].sort());
  });

  it('writes signed custody checkpoints from its timer, pinned to the data folder\'s trusted key, and nothing new on a second run', async () => {
    const runTimer = () =>
      fns.timer.get('custody-checkpoint')!.handler({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, invocationContext('custody-checkpoint'));
    await runTimer();
    const file = path.join(dataDir, 'custody-checkpoints', `${caseId}.jsonl`);
    const first = await readFile(file, 'utf8');
    const lines = first.trimEnd().split('\n').map((l) => JSON.parse(l) as { evidenceId: string; keyId: string; format: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatchObject({ format: 'exhibit-custody-checkpoint/1', keyId: app.custody.publicKey().keyId });
    const trusted = JSON.parse(await readFile(path.join(dataDir, 'trust', 'custody-keys.json'), 'utf8')) as { keys: Array<{ keyId: string }> };
    expect(trusted.keys.map((k) => k.keyId)).toEqual([app.custody.publicKey().keyId]);
    await runTimer();
    expect(await readFile(file, 'utf8')).toBe(first);
    const verified = await app.custody.verify({ caseId, checkEvidence: false });
    expect(verified.checkpoints).toMatchObject({ verified: lines.length, rejected: [] });
  });

  it('answers HTTP like the local adapter: public routes, 401 without a token, bounded JSON bodies', async () => {
    const openapi = await callApi('GET', '/openapi.json', undefined);
    expect(openapi.status).toBe(200);
    expect(JSON.parse((await readAll(openapi.body)).toString('utf8')).openapi).toMatch(/^3\./);

    const anonymous = await callApi('GET', '/me', undefined);
    expect(anonymous.status).toBe(401);
    expect((anonymous.headers as Record<string, string>)['www-authenticate']).toBe('Bearer');

    const admin = await issueLocalToken({ user: 'ada', roles: ['admin'] }, { keyDir: (config.auth as { keyDir: string }).keyDir });
    const me = await callApi('GET', '/me', admin.token);
    expect(JSON.parse((await readAll(me.body)).toString('utf8'))).toMatchObject({ user: 'ada', roles: ['admin'] });

    const huge = await callApi('POST', `/cases/${caseId}/assignments`, admin.token, { user: 'x'.repeat(70 * 1024), role: 'investigator' });
    expect(huge.status).toBe(413);
    const request = new HttpRequest({
      method: 'POST',
      url: `https://exhibit.example/api/cases/${caseId}/assignments`,
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json', 'x-request-id': 'req-123' },
      body: { string: '{"user": ' },
    });
    const invalid = (await fns.http.get('api')!.handler(request, invocationContext('api'))) as HttpResponseInit;
    expect(invalid.status).toBe(400);
    expect((invalid.headers as Record<string, string>)['x-request-id']).toBe('req-123');
  });
});
