import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ExhibitError, type CustodyRecorder } from '@exhibit/core';
import { createApi } from '../src/api.js';
import { callAs, createApiFixture, type ApiFixture } from './api-fixture.js';

/**
 * Regression upload-registration-custody-lost-on-retry: a registration whose `upload` custody
 * entry could not be written (custody storage down) left its registration and manifest stored;
 * the client's retry found them, answered 200 and wrote nothing, so the entry was lost for good.
 * Through the real custody log, its first write failing as storage does.
 */
let f: ApiFixture;
const CASE = 'RETRYCASE';

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  await f.access.assign(CASE, 'erin', { by: 'setup', role: 'examiner' });
});

afterAll(async () => {
  await f?.dispose();
});

/** The real log, whose next `failures` writes fail as an unreachable storage account does. */
function failing(log: CustodyRecorder, state: { failures: number }): CustodyRecorder {
  return {
    record: async (event, options) => {
      if (state.failures > 0) {
        state.failures -= 1;
        throw new ExhibitError('storage-unavailable', 'custody append failed: storage unreachable (injected)');
      }
      return log.record(event, options);
    },
  };
}

describe('upload registration custody entry on a retry (regression upload-registration-custody-lost-on-retry)', () => {
  const state = { failures: 0 };
  const post = (body: Record<string, unknown>) =>
    callAs(f, createApi({ ...f.deps, custody: failing(f.custodyLog, state) }), 'erin', ['examiner'], { method: 'POST', path: `/cases/${CASE}/uploads`, body });
  const uploadEntries = async (evidenceId: string) => (await f.custodyLog.entries({ caseId: CASE, evidenceId, limit: 100 })).filter((e) => e.action === 'upload');

  it('a registration whose entry failed is recorded by the retry, once, however often it is retried', async () => {
    const body = { evidenceId: 'EV1', fileName: 'photo.jpg', size: 1234 };
    state.failures = 1;
    const first = await post(body);
    expect(first.status).toBe(503);
    // What the failed attempt left: the registration, and no entry.
    expect(await f.access.getUploadRegistration(`${CASE}/EV1/photo.jpg`)).not.toBeNull();
    expect(await uploadEntries('EV1')).toEqual([]);
    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(200);
    const entries = await uploadEntries('EV1');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: 'erin',
      subject: { blobName: `${CASE}/EV1/photo.jpg` },
      details: { registered: true, fileName: 'photo.jpg', size: 1234, recordedOnRetry: true },
      eventKey: expect.stringMatching(/^upload:sha256:[0-9a-f]{64}$/),
    });
    expect(entries[0]!.details['claimedCase']).toBeUndefined();
  });

  it('a registration recorded at once is not recorded again by a retry', async () => {
    const body = { evidenceId: 'EV2', fileName: 'photo.jpg', size: 99 };
    expect((await post(body)).status).toBe(201);
    expect((await post(body)).status).toBe(200);
    const entries = await uploadEntries('EV2');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.details).toMatchObject({ registered: true, claimedCase: false });
  });

  it('a registration with its segment manifest whose entry failed: the retry records it with the manifest', async () => {
    const segments = [{ fileName: 'card.E01', size: 1000 }, { fileName: 'card.E02', size: 10 }];
    const body = { evidenceId: 'EV3', fileName: 'card.E01', size: 1000, segments };
    state.failures = 1;
    expect((await post(body)).status).toBe(503);
    expect((await f.index.getSegmentManifest(`${CASE}/EV3/card.E01`)).map((s) => s.fileName)).toEqual(['card.E01', 'card.E02']);
    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(200);
    const entries = await uploadEntries('EV3');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      details: { recordedOnRetry: true, segmentManifest: segments },
      eventKey: expect.stringMatching(/^upload-manifest:sha256:[0-9a-f]{64}$/),
    });
  });

  it('a retry while the log is still down is a 503 again, never a 200 without the entry', async () => {
    const body = { evidenceId: 'EV4', fileName: 'x.bin', size: 1 };
    state.failures = 2;
    expect((await post(body)).status).toBe(503);
    expect((await post(body)).status).toBe(503);
    expect((await post(body)).status).toBe(200);
    expect(await uploadEntries('EV4')).toHaveLength(1);
  });
});
