import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { volumeNoteText, volumeProblemText, type DiskImageRecord } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api } from '../src/api.types.js';
import { NOT_FOUND_BODY } from '../src/http-errors.js';
import { evidenceStatusSchema } from '../src/response-schemas.js';
import { callAs, createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/**
 * A disk image's facts in GET …/evidence/{id}/status as the review app shows them (docs/review-app.md, "Disk images"):
 * each volume problem and note read back with its kind, where and code, and whether the media is damaged (the file's
 * image-media-damaged flag, migration 0240); only for users the case is open to, as the rest of the status.
 */
let f: ApiFixture;
let api: Api;
let damaged: SeededCase;
let sound: SeededCase;
let stopped: SeededCase;

const NOTE = volumeNoteText('mbr 0', 'read-past-entry', 'volume 0: its fat file system declares 4194304 bytes, its partition entry 3145728');
const PROBLEM = volumeProblemText('mbr 2', 'corrupt-file', 'partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk');
const LIMIT = volumeProblemText('ebr 4', 'limit-exceeded', 'more than 128 logical partitions');
/** As recorded before problems kept their code. */
const OLD_PROBLEM = 'gpt header: primary GPT header CRC-32 mismatch';

function image(s: SeededCase, over: Partial<DiskImageRecord>): DiskImageRecord {
  return {
    fileId: s.rootFileId,
    caseId: s.caseId,
    evidenceId: s.evidenceId,
    format: 'ewf',
    mediaBytes: 8 * 1024 * 1024,
    segmentCount: 1,
    segments: [{ name: s.blobName, size: 1000, etag: '"e"' }],
    volumes: [
      { index: 0, offset: 1048576, size: 3145728, scheme: 'mbr', type: '0x06', label: 'FAT16', fileSystem: 'fat16', problem: null, entries: 3 },
      { index: 1, offset: 5242880, size: 2097152, scheme: 'mbr', type: '0x83', label: 'Linux', fileSystem: 'ext4', problem: null, entries: 12 },
    ],
    volumeProblems: [NOTE, PROBLEM, LIMIT, OLD_PROBLEM],
    ewfHeader: { caseNumber: 'DISK-1', examiner: 'Examiner Jones' },
    storedHashes: { md5: 'a'.repeat(32) },
    computedHashes: null,
    integrity: 'failed',
    mismatches: [],
    integrityDetail: 'the media could not be read whole to check the stored hashes: chunk 3 fails its checksum',
    ...over,
  };
}

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  damaged = await seedCase(f, 'DISK-1', 'EX01');
  sound = await seedCase(f, 'DISK-1', 'EX02');
  stopped = await seedCase(f, 'DISK-1', 'EX03');
  await seedCase(f, 'DISK-2', 'EX01');
  await f.index.recordDiskImage(image(damaged, {}));
  await f.index.addFlags(damaged.rootFileId, ['image-media-damaged']);
  await f.index.recordDiskImage(image(sound, { integrity: 'verified', integrityDetail: null, volumeProblems: [] }));
  // A check stopped because a segment blob changed: 'failed', but nothing seen of the media, so not flagged.
  await f.index.recordDiskImage(
    image(stopped, { integrity: 'failed', integrityDetail: 'the stored-hash check was stopped (evidence-changed): segment 2 changed', volumeProblems: [] }),
  );
  await f.access.assign('DISK-1', 'erin', { by: 'setup' });
  await f.access.assign('DISK-2', 'olga', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

describe('disk images in the evidence status', () => {
  it('regression: disk-image-volumes-not-shown-in-review-app — the status says which notes and problems each entry is, and whether the media is damaged', async () => {
    const res = await callAs(f, api, 'erin', ['examiner'], { path: '/cases/DISK-1/evidence/EX01/status' });
    expect(res.status).toBe(200);
    expect(evidenceStatusSchema.safeParse(res.json).success).toBe(true);
    const [d] = res.json.diskImages;
    expect(d.mediaDamaged).toBe(true);
    expect(d.volumeIssues).toEqual([
      { kind: 'note', where: 'mbr 0', code: 'read-past-entry', message: 'volume 0: its fat file system declares 4194304 bytes, its partition entry 3145728' },
      { kind: 'problem', where: 'mbr 2', code: 'corrupt-file', message: 'partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk' },
      { kind: 'problem', where: 'ebr 4', code: 'limit-exceeded', message: 'more than 128 logical partitions' },
      { kind: 'problem', where: 'gpt header', code: null, message: 'primary GPT header CRC-32 mismatch' },
    ]);
    // The stored text stays as it was, for clients that read it.
    expect(d.volumeProblems).toEqual([NOTE, PROBLEM, LIMIT, OLD_PROBLEM]);

    const other = await callAs(f, api, 'erin', ['examiner'], { path: '/cases/DISK-1/evidence/EX02/status' });
    expect(other.json.diskImages[0]).toMatchObject({ integrity: 'verified', mediaDamaged: false, volumeIssues: [] });
  });

  it('media-damaged-read-from-integrity-verdict: mediaDamaged is the flag, not the verdict (a check stopped is failed, not damaged)', async () => {
    const res = await callAs(f, api, 'erin', ['examiner'], { path: '/cases/DISK-1/evidence/EX03/status' });
    expect(res.status).toBe(200);
    expect(res.json.diskImages[0]).toMatchObject({ integrity: 'failed', mediaDamaged: false });
  });

  it('answers a user not assigned to the case as a case that does not exist', async () => {
    for (const [user, roles] of [['olga', ['examiner']], ['ivy', ['investigator']]] as const) {
      const res = await callAs(f, api, user, [...roles], { path: '/cases/DISK-1/evidence/EX01/status' });
      expect(res.status, user).toBe(404);
      expect(res.json).toEqual(NOT_FOUND_BODY);
    }
  });
});
