import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { BlobRef, BlobStore, ReadOptions } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiDeps, ApiResponse } from '../src/api.types.js';
import { VerifiedSpans } from '../src/verified-spans.js';
import { derivedNames, memberFileId, type NewFile } from '@exhibit/core';
import { createApiFixture, seedCase, seedLooseFiles, seedStoredTwins, type ApiFixture, type SeededLooseFile } from './api-fixture.js';

/**
 * Parts of a file up to 16 MiB (VERIFY_BEFORE_SEND_BYTES) on GET …/playback, the route a
 * video player seeks with. Every part used to read and hash the whole file first, so ten
 * seeks in a 1 MiB clip read 10 MiB from storage. The record of verified spans
 * (verified-spans.ts) makes a later part one ranged read, pinned by If-Match to the blob
 * ETag the whole file was verified at. Bytes are counted as they come out of Azurite.
 */
let f: ApiFixture;
let clip: SeededLooseFile;
let other: SeededLooseFile;
const CASE = 'CASE-VS';
const SIZE = 1024 * 1024;

/** Every read the API made of storage: what it asked for, the ETag it was pinned to, and the bytes that came. */
interface Read {
  name: string;
  offset: number | undefined;
  count: number | undefined;
  ifMatch: string | undefined;
  bytes: number;
}
const reads: Read[] = [];

/** The fixture's blob store, counting the bytes each read actually delivered. */
function countingBlobs(blobs: BlobStore): BlobStore {
  return Object.create(blobs, {
    openRead: {
      value: async (ref: BlobRef, options?: ReadOptions) => {
        const read: Read = { name: ref.name, offset: options?.offset, count: options?.count, ifMatch: options?.ifMatch, bytes: 0 };
        reads.push(read);
        const source = await blobs.openRead(ref, options);
        const counted = new PassThrough();
        counted.on('data', (c: Buffer) => (read.bytes += c.length));
        source.on('error', (err) => counted.destroy(err));
        counted.on('close', () => source.destroy());
        return source.pipe(counted);
      },
    },
  }) as BlobStore;
}

function apiWith(spans: VerifiedSpans): { api: Api; deps: ApiDeps } {
  const deps: ApiDeps = { ...f.deps, blobs: countingBlobs(f.deps.blobs), verifiedSpans: spans };
  return { api: createApi(deps), deps };
}

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  const mp4 = (seed: string) => Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), createHash('sha256').update(seed).digest(), randomBytes(SIZE - 44)]);
  [clip, other] = (await seedLooseFiles(f, CASE, [
    { evidenceId: 'EX01', fileName: 'clip.mp4', bytes: mp4('clip'), mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' },
    { evidenceId: 'EX02', fileName: 'other.mp4', bytes: mp4('other'), mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' },
  ])) as [SeededLooseFile, SeededLooseFile];
  await f.access.assign(CASE, 'erin', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  // An error answer's body is its JSON object: no bytes of the file.
  if (!body || typeof (body as Readable).pipe !== 'function') return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function part(api: Api, file: SeededLooseFile, first: number, last: number): Promise<ApiResponse & { bytes: Buffer }> {
  const token = await f.token('erin', ['examiner']);
  const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/files/${file.fileId}/playback`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, range: `bytes=${first}-${last}` } });
  return { ...res, bytes: await bodyBytes(res.body) };
}

const evidenceRef = (file: SeededLooseFile): BlobRef => ({ container: f.deps.containers.evidence, name: file.blobName });
const storageBytes = () => reads.reduce((n, r) => n + r.bytes, 0);
const downloads = () => f.custodyEvents.filter((e) => e.action === 'download');

/** Ten seeks a player might make: 64 KiB parts spread over the file. */
const SEEKS = Array.from({ length: 10 }, (_, k) => {
  const first = Math.floor((k * (SIZE - 65_536)) / 9);
  return [first, first + 65_535] as const;
});

describe('range-part-rereads-whole-file-every-seek: each part of a file up to 16 MiB read the whole file from storage', () => {
  it('reads the whole file once, then one ranged read of each later part, pinned to the verified ETag, and says so in custody', async () => {
    const { api } = apiWith(new VerifiedSpans());
    reads.length = 0;
    f.custodyEvents.length = 0;
    for (const [first, last] of SEEKS) {
      const res = await part(api, clip, first, last);
      expect(res.status).toBe(206);
      expect(res.bytes.equals(clip.bytes.subarray(first, last + 1))).toBe(true);
    }
    const partBytes = SEEKS.reduce((n, [a, b]) => n + (b - a + 1), 0);
    // Measured: 10 seeks of 64 KiB in a 1 MiB file read 10,485,760 bytes before, 1,638,400 after.
    expect(storageBytes()).toBe(SIZE + partBytes - 65_536);
    expect(reads[0]).toMatchObject({ name: clip.blobName, offset: 0, count: SIZE, bytes: SIZE });
    const etag = reads[0]!.ifMatch;
    expect(etag).toMatch(/^".+"$/);
    expect(reads.slice(1)).toEqual(SEEKS.slice(1).map(([a, b]) => ({ name: clip.blobName, offset: a, count: b - a + 1, ifMatch: etag, bytes: b - a + 1 })));
    const entries = downloads();
    expect(entries).toHaveLength(SEEKS.length);
    expect(entries[0]!.details).toMatchObject({ delivery: 'playback', verifiedBeforeSend: true, verifiedBy: 'this-request', verificationId: expect.any(String) });
    expect(entries[0]!.details).not.toHaveProperty('verifiedByEntry');
    for (const [i, e] of entries.slice(1).entries()) {
      const [first, last] = SEEKS[i + 1]!;
      expect(e.details).toMatchObject({ part: { first, last, sizeBytes: SIZE }, verifiedBeforeSend: true, verifiedBy: 'earlier-whole-read-same-blob-version', blobEtag: etag });
      // The verifying request's entry, in the same log, and the time of its read, not of this one.
      expect(e.details['verifiedByEntry']).toBe(entries[0]!.details['verificationId']);
      expect(e.details['verifiedAt']).toBe(entries[1]!.details['verifiedAt']);
      expect(e.details).not.toHaveProperty('hashNotChecked');
      expect(e.details).not.toHaveProperty('verificationId');
    }
  });
});

describe('verified-span-served-after-blob-overwritten: a record must never vouch for bytes written since', () => {
  it('a blob written after verification fails the If-Match read: the record is dropped, the file re-verified, and a mismatch is the usual 500', async () => {
    const spans = new VerifiedSpans();
    const { api } = apiWith(spans);
    expect((await part(api, other, 0, 99)).status).toBe(206);
    expect(spans.size).toBe(1);
    // Same length, other bytes: only the ETag tells them apart.
    const changed = Buffer.from(other.bytes);
    changed[5000] = changed[5000]! ^ 0xff;
    await f.blobs.upload(evidenceRef(other), changed, { contentType: 'application/octet-stream' });
    try {
      reads.length = 0;
      f.custodyEvents.length = 0;
      const res = await part(api, other, 4096, 8191);
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ error: { code: 'hash-mismatch' } });
      expect(downloads()).toEqual([]);
      // The ranged read on the record's word was refused (412: nothing came), then the whole file was read and did not match.
      expect(reads.map((r) => ({ offset: r.offset, count: r.count, bytes: r.bytes }))).toEqual([
        { offset: 4096, count: 4096, bytes: 0 },
        { offset: 0, count: SIZE, bytes: SIZE },
      ]);
      // A failed verification records nothing.
      expect(spans.size).toBe(0);
    } finally {
      await f.blobs.upload(evidenceRef(other), other.bytes, { contentType: 'application/octet-stream' });
    }
    // The right bytes again, under a new ETag: verified whole once more, then served on the new record.
    reads.length = 0;
    f.custodyEvents.length = 0;
    const again = await part(api, other, 4096, 8191);
    expect(again.status).toBe(206);
    expect(again.bytes.equals(other.bytes.subarray(4096, 8192))).toBe(true);
    expect(reads.map((r) => r.count)).toEqual([SIZE]);
    expect(downloads()[0]!.details).toMatchObject({ verifiedBy: 'this-request' });
    expect((await part(api, other, 0, 9)).status).toBe(206);
    expect(reads.map((r) => r.count)).toEqual([SIZE, 10]);
  });
});

describe('verified-span-outlives-ttl-or-bound: the record is short-lived and bounded', () => {
  it('re-verifies the whole file once the record is older than its TTL (an injected clock)', async () => {
    let nowMs = Date.parse('2026-12-07T12:00:00Z');
    const { api } = apiWith(new VerifiedSpans({ ttlMs: 60_000, now: () => nowMs }));
    reads.length = 0;
    await part(api, clip, 0, 9);
    nowMs += 59_999;
    await part(api, clip, 10, 19);
    nowMs += 1;
    await part(api, clip, 20, 29);
    // Whole, on the record, whole again (TTL reached), on the new record.
    await part(api, clip, 30, 39);
    expect(reads.map((r) => r.count)).toEqual([SIZE, 10, SIZE, 10]);
  });

  it('keeps at most maxEntries spans, dropping the least recently used', async () => {
    const { api } = apiWith(new VerifiedSpans({ maxEntries: 1 }));
    reads.length = 0;
    await part(api, clip, 0, 9);
    await part(api, clip, 10, 19);
    await part(api, other, 0, 9);
    await part(api, clip, 20, 29);
    expect(reads.map((r) => [r.name, r.count])).toEqual([
      [clip.blobName, SIZE],
      [clip.blobName, 10],
      [other.blobName, SIZE],
      // clip's record was dropped for other's.
      [clip.blobName, SIZE],
    ]);
  });
});

describe('aborted-large-whole-part-recorded-as-checked: a bytes=0- part of a large file cut short by the client left an entry that did not say its hash was never checked', () => {
  it('says hashNotChecked: unless-read-to-end in the entry of a streamed whole-file part, which the player then abandons mid-stream', async () => {
    // The 1 MiB clip served as a file over the bound is (64 KiB here, 16 MiB by default): streamed through the hash check.
    const { api, deps } = apiWith(new VerifiedSpans());
    deps.verifyBeforeSendBytes = 65_536;
    f.custodyEvents.length = 0;
    reads.length = 0;
    const token = await f.token('erin', ['examiner']);
    const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/files/${clip.fileId}/playback`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, range: 'bytes=0-' } });
    expect(res.status).toBe(206);
    const body = res.body as Readable;
    // The player reads the start (a video's header) and goes away.
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      body.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 0) {
          body.pause();
          resolve();
        }
      });
      body.once('error', reject);
    });
    const closed = new Promise((resolve) => body.once('close', resolve));
    body.destroy();
    await closed;
    expect(received).toBeLessThan(SIZE);
    expect(downloads()).toHaveLength(1);
    expect(downloads()[0]!.details).toMatchObject({ delivery: 'playback', part: { first: 0, last: SIZE - 1, sizeBytes: SIZE }, verifiedBeforeSend: false, hashNotChecked: 'unless-read-to-end' });
    expect(downloads()[0]!.details).not.toHaveProperty('verifiedBy');
  });

  it('says the same in the entry of a whole 200 download of a file over the bound, which is streamed the same way', async () => {
    const { api, deps } = apiWith(new VerifiedSpans());
    deps.verifyBeforeSendBytes = 65_536;
    f.custodyEvents.length = 0;
    const token = await f.token('erin', ['examiner']);
    const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/files/${clip.fileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    (res.body as Readable).destroy();
    expect(downloads()).toHaveLength(1);
    expect(downloads()[0]!.details).toMatchObject({ delivery: 'stream', verifiedBeforeSend: false, hashNotChecked: 'unless-read-to-end' });
    expect(downloads()[0]!.details).not.toHaveProperty('verificationId');
  });

  it('whole-download-verified-lacks-verified-by: a whole 200 download of a file within the bound, hashed before sending, says verifiedBy: this-request as its 206 parts do', async () => {
    const { api } = apiWith(new VerifiedSpans());
    f.custodyEvents.length = 0;
    const token = await f.token('erin', ['examiner']);
    const res = await api.handle({ method: 'GET', path: `/cases/${CASE}/files/${clip.fileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(Buffer.isBuffer(res.body)).toBe(true);
    expect(downloads()).toHaveLength(1);
    // Before: verifiedBeforeSend and verificationId, but no verifiedBy (which docs/operations.md promises).
    expect(downloads()[0]!.details).toMatchObject({ delivery: 'stream', verifiedBeforeSend: true, verifiedBy: 'this-request', verificationId: expect.any(String) });
    expect(downloads()[0]!.details).not.toHaveProperty('hashNotChecked');
  });
});

/** A Range request on GET …/content as `user`, from `api`. */
async function contentPart(api: Api, user: string, caseId: string, fileId: string, range: string): Promise<ApiResponse & { bytes: Buffer }> {
  const token = await f.token(user, ['examiner']);
  const res = await api.handle({ method: 'GET', path: `/cases/${caseId}/files/${fileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, range } });
  return { ...res, bytes: await bodyBytes(res.body) };
}

describe('verified-span-crosses-cases: a derived blob is shared by every case holding its bytes, and case A\'s check served case B\'s parts', () => {
  it("reads case B's first part whole, and its entry cites no check of case A's", async () => {
    const a = await seedCase(f, 'CASE-XA');
    const b = await seedCase(f, 'CASE-XB');
    // As the pipeline stores members, content-addressed in derived/: case B holds a file with case A's photo's bytes.
    const bFile = memberFileId(b.rootFileId, 7);
    const shared: NewFile = {
      fileId: bFile, caseId: 'CASE-XB', evidenceId: b.evidenceId, parentId: b.rootFileId, entryIndex: 7, depth: 1,
      path: 'phone.zip!/same.jpg', recordedName: 'same.jpg', name: 'same.jpg', extension: 'jpg', entryKind: 'file',
      size: a.photoBytes.length, sha256: a.photoSha256, source: { container: f.deps.containers.derived, name: derivedNames.content(a.photoSha256) },
      archiveTimes: {}, flags: [], stage: 'pending', failure: null,
    };
    await f.index.insertFiles([shared]);
    await f.index.advanceFile(bFile, 'indexed');
    await f.access.assign('CASE-XA', 'alice', { by: 'setup' });
    await f.access.assign('CASE-XB', 'bob', { by: 'setup' });
    const spans = new VerifiedSpans();
    const { api } = apiWith(spans);
    reads.length = 0;
    f.custodyEvents.length = 0;
    expect((await contentPart(api, 'alice', 'CASE-XA', a.photoFileId, 'bytes=1-3')).status).toBe(206);
    const res = await contentPart(api, 'bob', 'CASE-XB', bFile, 'bytes=1-3');
    expect(res.status).toBe(206);
    expect(res.bytes.equals(a.photoBytes.subarray(1, 4))).toBe(true);
    const size = a.photoBytes.length;
    // Both first parts read the whole shared blob and hashed it: one check per case.
    expect(reads.map((r) => ({ name: r.name, offset: r.offset, count: r.count }))).toEqual([
      { name: derivedNames.content(a.photoSha256), offset: 0, count: size },
      { name: derivedNames.content(a.photoSha256), offset: 0, count: size },
    ]);
    const [aEntry, bEntry] = downloads();
    expect(aEntry).toMatchObject({ caseId: 'CASE-XA', details: { verifiedBy: 'this-request', verificationId: expect.any(String) } });
    expect(bEntry).toMatchObject({ caseId: 'CASE-XB', details: { verifiedBy: 'this-request', verificationId: expect.any(String) } });
    expect(bEntry!.details).not.toHaveProperty('verifiedByEntry');
    expect(bEntry!.details).not.toHaveProperty('verifiedAt');
    expect(bEntry!.details['verificationId']).not.toBe(aEntry!.details['verificationId']);
    // Each case's later part cites its own case's check, in its own log.
    f.custodyEvents.length = 0;
    expect((await contentPart(api, 'bob', 'CASE-XB', bFile, 'bytes=4-6')).status).toBe(206);
    expect(downloads()[0]).toMatchObject({ caseId: 'CASE-XB', details: { verifiedBy: 'earlier-whole-read-same-blob-version', verifiedByEntry: bEntry!.details['verificationId'] } });
  });
});

describe('verified-span-recorded-before-custody: a record existed before the entry of the check it stands for was written', () => {
  it('remembers nothing when the verifying request\'s custody entry cannot be written', async () => {
    const spans = new VerifiedSpans();
    const deps: ApiDeps = {
      ...f.deps,
      verifiedSpans: spans,
      custody: { record: async () => { throw new Error('custody unavailable'); } },
    };
    const res = await part(createApi(deps), clip, 0, 9);
    expect(res.status).toBe(500);
    expect(spans.size).toBe(0);
  });
});

describe('verified-span-ignores-offset: a record of one STORED member vouched for another of the same length and SHA-256 at another offset', () => {
  it('answers a part of the corrupted member 500 hash-mismatch after its twin was verified', async () => {
    const twins = await seedStoredTwins(f, 'CASE-TW');
    await f.access.assign('CASE-TW', 'erin', { by: 'setup' });
    const spans = new VerifiedSpans();
    const { api } = apiWith(spans);
    const good = await contentPart(api, 'erin', 'CASE-TW', twins.good.fileId, 'bytes=10-19');
    expect(good.status).toBe(206);
    expect(good.bytes.equals(twins.recordedBytes.subarray(10, 20))).toBe(true);
    expect(spans.size).toBe(1);
    f.custodyEvents.length = 0;
    const bad = await contentPart(api, 'erin', 'CASE-TW', twins.corrupted.fileId, 'bytes=10-19');
    expect(bad.status).toBe(500);
    expect(bad.body).toMatchObject({ error: { code: 'hash-mismatch' } });
    expect(downloads()).toEqual([]);
  });
});
