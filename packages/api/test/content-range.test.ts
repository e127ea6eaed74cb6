import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { derivedNames, type BlobRef, type BlobStore, type ReadOptions } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { Api, ApiDeps, ApiResponse } from '../src/api.types.js';
import { createApiFixture, seedCase, seedMemberWithWrongHash, seedStoredMember, type ApiFixture, type SeededCase, type SeededStoredMember } from './api-fixture.js';

/**
 * Range on GET …/content (regression: the route ignored Range and always sent
 * the whole file, so a browser's video player could not seek and a large
 * download could not resume). One of each kind of bytes the route serves: a
 * whole evidence blob (the upload itself), a whole derived blob (a member's
 * copy in derived/, as a deflated member has), and a span of the evidence blob
 * (a ZIP member stored uncompressed, read in place). A disk-image member read
 * in place is the same span case; packages/runtime/test/disk-member-downloads.test.ts
 * covers it end to end.
 */
let f: ApiFixture;
let api: Api;
/** The API's own deps: tests lower verifyBeforeSendBytes here to serve a small file as a large one is served. */
let deps: ApiDeps;
let plain: SeededCase;
let stored: SeededStoredMember;
/** Every openRead the API makes: which blob, from where, how many bytes. */
const reads: { name: string; offset: number | undefined; count: number | undefined }[] = [];
/** The streams those reads returned, latest last. */
const opened: Readable[] = [];

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  const blobs = f.deps.blobs;
  const recording: BlobStore = Object.create(blobs, {
    openRead: {
      value: async (ref: BlobRef, options?: ReadOptions) => {
        reads.push({ name: ref.name, offset: options?.offset, count: options?.count });
        const stream = await blobs.openRead(ref, options);
        opened.push(stream);
        return stream;
      },
    },
  }) as BlobStore;
  deps = { ...f.deps, blobs: recording };
  api = createApi(deps);
  plain = await seedCase(f, 'CASE-R1');
  stored = await seedStoredMember(f, 'CASE-R2');
  await f.access.assign('CASE-R1', 'erin', { by: 'setup' });
  await f.access.assign('CASE-R2', 'erin', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function content(caseId: string, fileId: string, headers: Record<string, string> = {}): Promise<ApiResponse & { bytes: Buffer }> {
  const token = await f.token('erin', ['examiner']);
  const res = await api.handle({ method: 'GET', path: `/cases/${caseId}/files/${fileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, ...headers } });
  return { ...res, bytes: res.body === undefined ? Buffer.alloc(0) : await bodyBytes(res.body) };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Kind {
  label: string;
  caseId: string;
  fileId: string;
  bytes: Buffer;
  blobName: string;
  /** Where the file starts in its blob. */
  blobOffset: number;
}

const kinds = (): Kind[] => [
  { label: 'whole evidence blob (the upload)', caseId: 'CASE-R1', fileId: plain.rootFileId, bytes: Buffer.from(`PK archive stand-in for CASE-R1/EX01/phone.zip`), blobName: plain.blobName, blobOffset: 0 },
  { label: 'whole derived blob (a member copied to derived/)', caseId: 'CASE-R1', fileId: plain.photoFileId, bytes: plain.photoBytes, blobName: derivedNames.content(plain.photoSha256), blobOffset: 0 },
  { label: 'span of the evidence blob (ZIP member stored, read in place)', caseId: 'CASE-R2', fileId: stored.memberFileId, bytes: stored.memberBytes, blobName: stored.blobName, blobOffset: stored.memberOffset },
];

describe('Range ignored: a video player could not seek (content route always sent 200 whole)', () => {
  it('serves bytes=a-b, bytes=a- and bytes=-n of each kind as 206 with Content-Range: a small file read and checked whole, a part of a large one read as that range only', async () => {
    // The same files served as files up to VERIFY_BEFORE_SEND_BYTES are (the default) and as larger ones are
    // (the threshold lowered below their size): what is read from storage and what the entry says differ, the bytes never.
    for (const large of [false, true]) {
      if (large) deps.verifyBeforeSendBytes = 16;
      try {
        for (const kind of kinds()) {
          const size = kind.bytes.length;
          expect(sha256(kind.bytes), kind.label).toBe((await f.index.getFile(kind.fileId))!.sha256);
          const cases: [string, number, number][] = [
            ['bytes=1-10', 1, 10],
            [`bytes=${size - 7}-`, size - 7, size - 1],
            ['bytes=-5', size - 5, size - 1],
            // Past the end is cut to the file's end, never into the archive around a member.
            [`bytes=3-${size + 100_000}`, 3, size - 1],
          ];
          for (const [i, [range, first, last]] of cases.entries()) {
            // A small file's first part verifies it whole and records the span; the later ones are served on that record.
            const onRecord = !large && i > 0;
            reads.length = 0;
            f.custodyEvents.length = 0;
            const res = await content(kind.caseId, kind.fileId, { range });
            const what = `${kind.label} ${range}${large ? ' (large)' : ''}`;
            expect(res.status, what).toBe(206);
            expect(res.headers, what).toMatchObject({
              'content-range': `bytes ${first}-${last}/${size}`,
              'content-length': String(last - first + 1),
              'accept-ranges': 'bytes',
              etag: `"${sha256(kind.bytes)}"`,
            });
            expect(res.bytes.equals(kind.bytes.subarray(first, last + 1)), what).toBe(true);
            // A small file: one read of the whole file, at its place in its blob (it is hash-checked before the part is sent),
            // then, on the record of that check, one ranged read of the part (verified-spans.ts).
            // A part of a large one: one ranged read of exactly the part; never the whole blob around a member.
            expect(reads, what).toEqual(large || onRecord ? [{ name: kind.blobName, offset: kind.blobOffset + first, count: last - first + 1 }] : [{ name: kind.blobName, offset: kind.blobOffset, count: size }]);
            // Each part is its own download entry, naming the blob bytes it gave and the part of the file,
            // and whether the file was checked against its SHA-256 before the part went (and why not).
            expect(f.custodyEvents, what).toHaveLength(1);
            expect(f.custodyEvents[0], what).toMatchObject({
              action: 'download',
              actor: 'erin',
              subject: { fileId: kind.fileId },
              details: {
                delivery: 'stream',
                blobName: kind.blobName,
                range: { offset: kind.blobOffset + first, length: last - first + 1 },
                part: { first, last, sizeBytes: size },
                verifiedBeforeSend: !large,
              },
            });
            if (large) expect(f.custodyEvents[0]!.details, what).toMatchObject({ hashNotChecked: 'part-of-large-file' });
            else expect(f.custodyEvents[0]!.details, what).not.toHaveProperty('hashNotChecked');
            if (onRecord) expect(f.custodyEvents[0]!.details, what).toMatchObject({ verifiedBy: 'earlier-whole-read-same-blob-version', verifiedAt: expect.any(String), blobEtag: expect.any(String), verifiedByEntry: expect.any(String) });
            else if (large) expect(f.custodyEvents[0]!.details, what).not.toHaveProperty('verifiedBy');
            else expect(f.custodyEvents[0]!.details, what).toMatchObject({ verifiedBy: 'this-request' });
          }
        }
      } finally {
        delete deps.verifyBeforeSendBytes;
      }
    }
  });

  it('says Accept-Ranges: bytes and the ETag on a whole-file answer', async () => {
    for (const kind of kinds()) {
      f.custodyEvents.length = 0;
      const res = await content(kind.caseId, kind.fileId);
      expect(res.status, kind.label).toBe(200);
      expect(res.headers, kind.label).toMatchObject({ 'accept-ranges': 'bytes', etag: `"${sha256(kind.bytes)}"`, 'content-length': String(kind.bytes.length) });
      expect(res.headers?.['content-range'], kind.label).toBeUndefined();
      expect(res.bytes.equals(kind.bytes), kind.label).toBe(true);
      expect(f.custodyEvents[0]?.details, kind.label).not.toHaveProperty('rangeIgnored');
    }
  });

  it('answers a range starting past the end with 416 and Content-Range: bytes */size, delivering and recording no download', async () => {
    for (const kind of kinds()) {
      for (const range of [`bytes=${kind.bytes.length}-`, `bytes=${kind.bytes.length + 10}-${kind.bytes.length + 20}`, 'bytes=-0']) {
        reads.length = 0;
        f.custodyEvents.length = 0;
        const res = await content(kind.caseId, kind.fileId, { range });
        const what = `${kind.label} ${range}`;
        expect(res.status, what).toBe(416);
        expect(res.headers?.['content-range'], what).toBe(`bytes */${kind.bytes.length}`);
        expect(res.bytes.length, what).toBe(0);
        expect(reads, what).toEqual([]);
        expect(f.custodyEvents.filter((e) => e.action === 'download'), what).toEqual([]);
        // It says the file's size, so it is a read (rate-limited: the first of this user and file is written at once).
        if (range === `bytes=${kind.bytes.length}-`) {
          expect(f.custodyEvents, what).toMatchObject([{ action: 'read', actor: 'erin', details: { route: 'getFileContent', fileId: kind.fileId, rangeNotSatisfiable: true } }]);
        }
      }
    }
  });

  it('sends the whole file (200) for several ranges or a malformed Range, and says why in the download entry', async () => {
    const kind = kinds()[2]!;
    for (const range of ['bytes=0-1,5-6', 'bytes=5-1', 'bytes=abc', 'pages=1-2']) {
      f.custodyEvents.length = 0;
      const res = await content(kind.caseId, kind.fileId, { range });
      expect(res.status, range).toBe(200);
      expect(res.headers?.['content-range'], range).toBeUndefined();
      expect(res.bytes.equals(kind.bytes), range).toBe(true);
      expect(f.custodyEvents[0]?.details, range).toMatchObject({ range: { offset: kind.blobOffset, length: kind.bytes.length }, verifiedBeforeSend: true, rangeIgnored: 'ignored' });
    }
  });

  it('honours If-Range only with the file\'s ETag: another tag, a weak tag or a date get the whole file', async () => {
    const kind = kinds()[2]!;
    const etag = `"${sha256(kind.bytes)}"`;
    const same = await content(kind.caseId, kind.fileId, { range: 'bytes=10-19', 'if-range': etag });
    expect(same.status).toBe(206);
    expect(same.bytes.equals(kind.bytes.subarray(10, 20))).toBe(true);
    for (const ifRange of [`"${sha256(Buffer.from('other'))}"`, `W/${etag}`, 'Mon, 07 Dec 2026 12:00:00 GMT']) {
      f.custodyEvents.length = 0;
      const res = await content(kind.caseId, kind.fileId, { range: 'bytes=10-19', 'if-range': ifRange });
      expect(res.status, ifRange).toBe(200);
      expect(res.bytes.equals(kind.bytes), ifRange).toBe(true);
      expect(f.custodyEvents[0]?.details, ifRange).toMatchObject({ rangeIgnored: 'if-range-mismatch' });
    }
  });

  it('still authorises each ranged request: a caller not assigned gets the one 404, an investigator 403, and nothing is read', async () => {
    reads.length = 0;
    const stranger = await f.token('mallory', ['examiner']);
    const res = await api.handle({ method: 'GET', path: `/cases/CASE-R2/files/${stored.memberFileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${stranger}`, range: 'bytes=0-9' } });
    expect(res.status).toBe(404);
    const investigator = await f.token('erin', ['investigator']);
    const refused = await api.handle({ method: 'GET', path: `/cases/CASE-R2/files/${stored.memberFileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${investigator}`, range: 'bytes=0-9' } });
    expect(refused.status).toBe(403);
    expect(reads).toEqual([]);
  });

  it('serves ranges through a download link (a <video src>), each fetch checked and recorded with the ticket', async () => {
    const token = await f.token('erin', ['examiner']);
    const issued = await api.handle({ method: 'GET', path: `/cases/CASE-R2/files/${stored.memberFileId}/download`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });
    const url = new URL((issued.body as { url: string }).url, 'http://api.invalid');
    f.custodyEvents.length = 0;
    for (const [range, first, last] of [['bytes=0-', 0, stored.memberBytes.length - 1], ['bytes=100-199', 100, 199]] as const) {
      const res = await api.handle({ method: 'GET', path: url.pathname.slice('/api'.length), query: url.searchParams, headers: { range } });
      expect(res.status, range).toBe(206);
      expect((await bodyBytes(res.body)).equals(stored.memberBytes.subarray(first, last + 1)), range).toBe(true);
    }
    expect(f.custodyEvents.map((e) => e.details)).toMatchObject([
      { authKind: 'ticket', part: { first: 0, last: stored.memberBytes.length - 1 } },
      { authKind: 'ticket', part: { first: 100, last: 199 } },
    ]);
  });
});

describe('range-skipped-hash-check: a Range of a span recorded with another SHA-256 was sent 206 under the recorded hash', () => {
  /** The stored member's span, recorded with a SHA-256 its bytes do not have (as a changed blob would look). */
  const memberWithWrongHash = (entryIndex: number) => seedMemberWithWrongHash(f, stored, entryIndex);

  /** The response as the route returned it: the body not yet read. */
  async function ask(fileId: string, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const token = await f.token('erin', ['examiner']);
    return api.handle({ method: 'GET', path: `/cases/CASE-R2/files/${fileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, ...headers } });
  }

  /** A streamed body read to its end: the bytes that came and the error it ended with, if any. */
  async function drain(body: unknown): Promise<{ bytes: Buffer; error: unknown }> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of body as Readable) chunks.push(c as Buffer);
      return { bytes: Buffer.concat(chunks), error: null };
    } catch (error) {
      return { bytes: Buffer.concat(chunks), error };
    }
  }

  const size = () => stored.memberBytes.length;

  it('a part that is the whole file (bytes=0-, how a <video> starts) of a small file is the whole download\'s 500 hash-mismatch: nothing sent, no download recorded', async () => {
    const fileId = await memberWithWrongHash(41);
    const plainRes = await ask(fileId);
    expect(plainRes.status).toBe(500);
    for (const range of ['bytes=0-', `bytes=0-${size() - 1}`, `bytes=0-${size() + 100_000}`, `bytes=-${size()}`, `bytes=-${size() * 10}`]) {
      f.custodyEvents.length = 0;
      const res = await ask(fileId, { range });
      expect(res.status, range).toBe(500);
      expect(res.body, range).toMatchObject({ error: { code: 'hash-mismatch' } });
      expect(res.headers?.['content-range'], range).toBeUndefined();
      expect(f.custodyEvents.filter((e) => e.action === 'download'), range).toEqual([]);
    }
  });

  it('a part that is the whole file of a large file is streamed through the hash check, which cuts it short of its Content-Length', async () => {
    const fileId = await memberWithWrongHash(42);
    deps.verifyBeforeSendBytes = 1024;
    try {
      f.custodyEvents.length = 0;
      const res = await ask(fileId, { range: 'bytes=0-' });
      expect(res.status).toBe(206);
      expect(res.headers).toMatchObject({ 'content-range': `bytes 0-${size() - 1}/${size()}`, 'content-length': String(size()) });
      const { bytes, error } = await drain(res.body);
      expect(error).toMatchObject({ code: 'hash-mismatch' });
      expect(bytes.length).toBeLessThan(size());
      // Written before the first byte, as for a whole download streamed: checked on the way, not before.
      expect(f.custodyEvents).toHaveLength(1);
      // The entry cannot know the client will read to the end (where the check is): it says the hash covers only that case.
      expect(f.custodyEvents[0]!.details).toMatchObject({ part: { first: 0, last: size() - 1, sizeBytes: size() }, range: { offset: stored.memberOffset, length: size() }, verifiedBeforeSend: false, hashNotChecked: 'unless-read-to-end' });
    } finally {
      delete deps.verifyBeforeSendBytes;
    }
  });

  it('a part of a small file is read and checked whole first: the same 500 hash-mismatch, nothing sent, no download recorded', async () => {
    const fileId = await memberWithWrongHash(43);
    for (const range of ['bytes=1-10', 'bytes=100-', 'bytes=-5', `bytes=1-${size() - 1}`]) {
      f.custodyEvents.length = 0;
      const res = await ask(fileId, { range });
      expect(res.status, range).toBe(500);
      expect(res.body, range).toMatchObject({ error: { code: 'hash-mismatch' } });
      expect(f.custodyEvents.filter((e) => e.action === 'download'), range).toEqual([]);
    }
  });

  it('a part of a large file is checked for its length only, and its entry says so', async () => {
    const fileId = await memberWithWrongHash(44);
    deps.verifyBeforeSendBytes = 1024;
    try {
      f.custodyEvents.length = 0;
      const res = await ask(fileId, { range: 'bytes=1-10' });
      expect(res.status).toBe(206);
      const { bytes, error } = await drain(res.body);
      expect(error).toBeNull();
      expect(bytes.equals(stored.memberBytes.subarray(1, 11))).toBe(true);
      expect(f.custodyEvents).toHaveLength(1);
      expect(f.custodyEvents[0]!.details).toMatchObject({ part: { first: 1, last: 10, sizeBytes: size() }, verifiedBeforeSend: false, hashNotChecked: 'part-of-large-file' });
    } finally {
      delete deps.verifyBeforeSendBytes;
    }
  });
});

describe('blob-read-left-open: a response body let go of (client gone, custody write failed) left the blob read behind it open', () => {
  it('destroys the blob stream when the body is destroyed, for a part and for a whole file streamed', async () => {
    deps.verifyBeforeSendBytes = 1024;
    try {
      for (const range of ['bytes=1-10', 'bytes=0-']) {
        opened.length = 0;
        const token = await f.token('erin', ['examiner']);
        const live = await api.handle({ method: 'GET', path: `/cases/CASE-R2/files/${stored.memberFileId}/content`, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}`, range } });
        expect(live.status, range).toBe(206);
        expect(opened, range).toHaveLength(1);
        const body = live.body as Readable;
        const closed = new Promise((resolve) => body.once('close', resolve));
        body.destroy();
        await closed;
        // The pipeline tears down the rest on the body's close, within the same turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        expect(opened[0]!.destroyed, range).toBe(true);
      }
    } finally {
      delete deps.verifyBeforeSendBytes;
    }
  });
});
