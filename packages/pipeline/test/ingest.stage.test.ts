import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createRootLogger, LIMITS, rootFileId, type BlobStore, type FileIdentifier, type IndexStore, type MetadataExtractor, type Thumbnailer } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '@exhibit/index';
import { createAzureBlobStore } from '@exhibit/storage';
import { runIngest, type RunnerDeps } from '../src/stage-runner.js';
import type { StageContext } from '../src/stage.js';
import { RecordingBus, RecordingCustody } from './fixtures/archives/unpack-harness.js';

/**
 * Ingest against real blob storage (Azurite) and a real index (PGlite): a
 * blob that is not named <caseId>/<evidenceId>/<file name> is recorded as
 * rejected (once, then counted), never ingested, never thrown.
 */

const notUsed = (what: string) =>
  new Proxy({}, {
    get: () => () => {
      throw new Error(`${what} is not used by ingest`);
    },
  });

let sql: SqlClient;
let index: IndexStore;
let blobs: BlobStore;
let bus: RecordingBus;
let custody: RecordingCustody;
let deps: RunnerDeps;
let containers: { evidence: string; derived: string };
/** Log lines written at warn and above, parsed. */
let warnings: Array<Record<string, unknown>>;

beforeAll(async () => {
  blobs = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
  const suffix = randomBytes(4).toString('hex');
  containers = { evidence: `evidence-${suffix}`, derived: `derived-${suffix}` };
  await blobs.ensureContainer(containers.evidence);
  await blobs.ensureContainer(containers.derived);
  sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  index = createPostgresIndex(sql);
  await index.migrate();
});

afterAll(async () => {
  await index?.close();
});

beforeEach(() => {
  bus = new RecordingBus();
  custody = new RecordingCustody();
  warnings = [];
  deps = {
    blobs,
    bus,
    index,
    custody,
    identifier: notUsed('identifier') as FileIdentifier,
    metadata: notUsed('metadata') as MetadataExtractor,
    thumbnailer: notUsed('thumbnailer') as Thumbnailer,
    containers,
    limits: LIMITS,
    pipelineVersion: 'test',
  };
});

function newCtx(): StageContext {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) warnings.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createRootLogger({ level: 'warn', destination }), messageId: randomBytes(4).toString('hex'), deliveryCount: 1 };
}

const rejectedRows = async (blobName: string) =>
  (
    await sql.query<{ reason: string; detail: string; seen_count: number; etag: string; size: string | number }>(
      'SELECT reason, detail, seen_count, etag, size FROM rejected_blobs WHERE container = $1 AND blob_name = $2',
      [containers.evidence, blobName],
    )
  ).rows;

async function put(name: string, text: string) {
  return blobs.upload({ container: containers.evidence, name }, Buffer.from(text));
}

describe('ingest (through the stage runner) with a name that is not <caseId>/<evidenceId>/<file name>', () => {
  it('records the blob as rejected once, with its properties, and returns skipped without queueing anything', async () => {
    const name = `IMG_${randomBytes(3).toString('hex')}.JPG`;
    const { etag } = await put(name, 'dropped at the root by Storage Explorer');

    const outcome = await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());

    expect(outcome).toEqual({ status: 'skipped', blobName: name, reason: 'not-evidence-name' });
    const rows = await rejectedRows(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ reason: 'not-evidence-name', seen_count: 1, etag });
    expect(Number(rows[0]?.size)).toBe(Buffer.byteLength('dropped at the root by Storage Explorer'));
    expect(rows[0]?.detail).toMatch(/container root/);
    expect(bus.sent).toEqual([]);
    expect(custody.events).toEqual([]);
    expect(await index.getUpload(name)).toBeNull();
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, blobName: name, reason: 'not-evidence-name', seenCount: 1, created: true }),
    ]);
  });

  it('counts a second sighting of the same blob (watcher pass, redelivered event) instead of adding a row', async () => {
    const name = `C1//${randomBytes(3).toString('hex')}.bin`;
    await put(name, 'empty evidence id segment');
    const first = await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());
    // The watcher passes the listed properties; the event path looks them up. Both land on the same row.
    const props = await blobs.getProperties({ container: containers.evidence, name });
    const second = await runIngest(deps, { container: containers.evidence, blobName: name, properties: props }, newCtx());

    expect(first).toEqual(second);
    const rows = await rejectedRows(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seen_count: 2, reason: 'not-evidence-name' });
    expect(rows[0]?.detail).toMatch(/empty evidence id/);
  });

  it('records an overwritten bad blob (new ETag) as a new row', async () => {
    const name = `loose-${randomBytes(3).toString('hex')}.zip`;
    await put(name, 'first bytes');
    await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());
    await put(name, 'other bytes, same name');
    await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());
    expect((await rejectedRows(name)).map((r) => r.seen_count)).toEqual([1, 1]);
  });

  it('skips a blob that vanished before it was looked at as not-found, recording nothing', async () => {
    const name = `gone-${randomBytes(3).toString('hex')}.jpg`;
    const outcome = await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());
    expect(outcome).toEqual({ status: 'skipped', blobName: name, reason: 'not-found' });
    expect(await rejectedRows(name)).toEqual([]);
  });

  it('records a blob offered from another container under its own reason', async () => {
    const name = `C1/E1/${randomBytes(3).toString('hex')}.jpg`;
    await blobs.upload({ container: containers.derived, name }, Buffer.from('not evidence'));
    const outcome = await runIngest(deps, { container: containers.derived, blobName: name }, newCtx());
    expect(outcome).toEqual({ status: 'skipped', blobName: name, reason: 'not-evidence-name' });
    const { rows } = await sql.query<{ reason: string }>('SELECT reason FROM rejected_blobs WHERE container = $1 AND blob_name = $2', [containers.derived, name]);
    expect(rows).toEqual([{ reason: 'not-evidence-container' }]);
    expect(bus.sent).toEqual([]);
  });
});

describe('ingest (through the stage runner) with an evidence name', () => {
  it('ingests and records no rejection', async () => {
    const caseId = `C-${randomBytes(3).toString('hex')}`;
    const name = `${caseId}/E1/photo.jpg`;
    await put(name, 'a photo');
    const outcome = await runIngest(deps, { container: containers.evidence, blobName: name }, newCtx());
    expect(outcome).toEqual({ status: 'queued', blobName: name, fileId: rootFileId(name), hash: { caseId, evidenceId: 'E1', blobName: name, fileId: rootFileId(name) } });
    expect(await rejectedRows(name)).toEqual([]);
    expect(bus.sent.map((s) => s.queue)).toEqual(['hash']);
    expect(warnings).toEqual([]);
  });
});
