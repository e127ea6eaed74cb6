import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import yazl from 'yazl';
import { inject } from 'vitest';
import { ExhibitError, loadConfig, QUEUES, type ExhibitConfig } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { createApp, handleQueueMessage, type App } from '../src/index.js';

/**
 * The runtime's whole app for integration tests: createApp on Azurite and an
 * in-process PGlite in a temporary data folder, with its own queues and its
 * own evidence container. One Azurite serves every test file of a run, and
 * reconcile lists the whole evidence container: a shared one made each file's
 * passes receive, offer and count the other files' uploads.
 */
export const logger = pino({ level: 'silent' });

/** An invocation's context, as a trigger gives it. */
export const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger });

/** A ZIP of the entries (deflated), with a fixed modification time. */
export async function zipOf(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime: new Date(Date.UTC(2025, 0, 1)), compress: true });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Delivers every queued message of `app` until none is left, at most `maxRounds` passes over the queues (a throw
 * fails the test: nothing in the tests that use it should retry).
 */
export async function drainQueues(app: App, options: { maxRounds: number }): Promise<void> {
  for (let round = 0; round < options.maxRounds; round++) {
    let any = false;
    for (const queue of QUEUES) {
      for (const m of await app.bus.receive(queue, { maxMessages: 16, lockMs: 120_000 })) {
        any = true;
        await handleQueueMessage(app, queue, { body: m.body, messageId: m.messageId, deliveryCount: m.deliveryCount }, inv());
        await m.complete();
      }
    }
    if (!any) return;
  }
  throw new ExhibitError('timeout', 'queues did not drain');
}

export interface AppFixture {
  app: App;
  /** The app's data folder (its PGlite, its keys), removed by close(); tests may keep their own files in it. */
  dataDir: string;
  /** This app's evidence container, no other test file's. */
  evidenceContainer: string;
  /** Uploads into the evidence container as a client would (the app's own store may not write there). */
  upload(blobName: string, bytes: Buffer, options?: { contentType?: string; metadata?: Record<string, string> }): Promise<void>;
  close(): Promise<void>;
}

export interface AppFixtureOptions {
  /** The index on this PostgreSQL database (a test target's) instead of PGlite in the data folder. */
  databaseUrl?: string;
}

/**
 * The config of a test file's app on `dataDir`, with its own evidence container, and the prefix of its own queues.
 * For a test that opens and closes several apps on one data folder and database (openAppFixture holds one app).
 * `tag`: a few lowercase letters naming the test file in its queues and evidence container.
 */
export function testAppConfig(tag: string, dataDir: string, options: AppFixtureOptions = {}): { config: ExhibitConfig; queuePrefix: string } {
  const suffix = randomBytes(3).toString('hex');
  const loaded = loadConfig(
    {
      EXHIBIT_STORAGE_CONNECTION_STRING: inject('storageConnectionString'),
      EXHIBIT_DATA_DIR: dataDir,
      EXHIBIT_INGEST_SAMPLES: 'false',
      EXHIBIT_LOG_LEVEL: 'silent',
      ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
    },
    { cwd: dataDir },
  );
  // The config names a deployment's containers by their fixed names (its type says so); a test's own is cast to it.
  const config: ExhibitConfig = { ...loaded, containers: { ...loaded.containers, evidence: `evidence-${tag}${suffix}` as 'evidence' } };
  return { config, queuePrefix: `${tag}${suffix}-` };
}

/** `tag`: a few lowercase letters naming the test file in its queues, data folder and evidence container. */
export async function openAppFixture(tag: string, options: AppFixtureOptions = {}): Promise<AppFixture> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `exhibit-${tag}-`));
  let app: App | undefined;
  try {
    const { config, queuePrefix } = testAppConfig(tag, dataDir, options);
    const evidenceContainer = config.containers.evidence;
    app = await createApp(config, { logger, queuePrefix });
    await app.ensureInfrastructure();
    const opened = app;
    const writer = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    return {
      app: opened,
      dataDir,
      evidenceContainer,
      async upload(blobName, bytes, options = {}) {
        await writer.upload({ container: evidenceContainer, name: blobName }, bytes, {
          contentType: options.contentType ?? 'application/octet-stream',
          ...(options.metadata ? { metadata: options.metadata } : {}),
        });
      },
      async close() {
        await opened.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
