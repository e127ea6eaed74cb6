import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pino from 'pino';
import { ExhibitError, loadConfig, QUEUES } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { createApp, handleQueueMessage, reconcile, type App } from '../src/index.js';
import { cameraPair, exiftoolVersion } from '../../media/src/preview/exiftool-camera.test-support.js';

/**
 * The edited-image hint through the whole pipeline (Azurite + PGlite, the real
 * media adapters): the analyse stage's thumbnail step records a
 * `preview-differs` finding on a photo whose EXIF preview (written by exiftool)
 * no longer shows it, and none on the unedited photo; the evidence status lists
 * the finding at the file.
 */

const logger = pino({ level: 'silent' });
const inv = () => ({ invocationId: randomBytes(4).toString('hex'), logger });
const FIXTURE = path.resolve(import.meta.dirname, '../../../test/fixtures/pdq-reference/images/B-meadow.jpg');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!exiftoolVersion)('the edited-image hint in the analyse stage (Azurite + PGlite)', () => {
  let dataDir: string;
  let app: App;
  const caseId = `PV${randomBytes(3).toString('hex')}`;
  let unedited: Buffer;
  let edited: Buffer;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-preview-'));
    ({ unedited, edited } = await cameraPair(await readFile(FIXTURE)));
    const config = loadConfig(
      { EXHIBIT_STORAGE_CONNECTION_STRING: inject('storageConnectionString'), EXHIBIT_DATA_DIR: dataDir, EXHIBIT_INGEST_SAMPLES: 'false', EXHIBIT_LOG_LEVEL: 'silent' },
      { cwd: dataDir },
    );
    app = await createApp(config, { logger, queuePrefix: `pv${randomBytes(3).toString('hex')}-` });
    await app.ensureInfrastructure();
  });

  afterAll(async () => {
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function upload(blobName: string, bytes: Buffer): Promise<void> {
    const writer = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    await writer.upload({ container: app.config.containers.evidence, name: blobName }, bytes, { contentType: 'application/octet-stream' });
  }

  /** Delivers every queued message until none is left (a throw fails the test: nothing here should retry). */
  async function drain(): Promise<void> {
    for (let round = 0; round < 60; round++) {
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

  it('flags the photo edited under its old preview, and only that one', async () => {
    await upload(`${caseId}/EV1/DCIM/unedited.jpg`, unedited);
    await upload(`${caseId}/EV1/DCIM/edited.jpg`, edited);
    await reconcile(app, inv());
    await drain();

    const clean = await app.index.getContent(sha256(unedited));
    expect(clean?.thumbnailStatus).toBe('done');
    expect(clean?.thumbnailSource).toBe('image');
    expect(clean?.findings ?? []).toEqual([]);

    const changed = await app.index.getContent(sha256(edited));
    expect(changed?.thumbnailStatus).toBe('done');
    expect(changed?.findings).toEqual([{ flag: 'preview-differs', detail: expect.stringMatching(/^the embedded EXIF preview \(160x120\) differs from the image/) }]);
    expect(changed?.tools.thumbnail?.map((t) => t.name)).toContain('exhibit-preview-compare');

    const status = await app.index.evidenceStatus(caseId, 'EV1');
    const flagged = status?.findings.filter((f) => f.flag === 'preview-differs') ?? [];
    expect(flagged.map((f) => f.path)).toEqual(['DCIM/edited.jpg']);
    expect(flagged[0]!.detail).toBe(changed!.findings![0]!.detail);
  });
});
