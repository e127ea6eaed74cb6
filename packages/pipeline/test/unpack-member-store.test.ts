import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { derivedNames, type BlobStore } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { storeMember, type StoreMemberOptions } from '../src/archive/member-store.js';
import { pseudoRandomBytes } from './fixtures/archives/archive-fixtures.js';
import { sha256 } from './fixtures/archives/unpack-harness.js';

let blobs: BlobStore;
const container = `derived-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  blobs = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
  await blobs.ensureContainer(container);
});

/** A stream that does not say how big it is, delivered in 16 KiB chunks. */
const streamOf = (data: Buffer) => Readable.from(Array.from({ length: Math.ceil(data.length / 16384) }, (_, i) => data.subarray(i * 16384, (i + 1) * 16384)));

function options(over: Omit<Partial<StoreMemberOptions>, 'limits'> & { limits?: Partial<StoreMemberOptions['limits']> } = {}): StoreMemberOptions {
  return {
    container,
    stagingName: `staging/test-${randomBytes(4).toString('hex')}/0`,
    compressedSize: null,
    label: 'entry 0',
    budget: { expandedBytes: 0, maxExpandedBytes: Number.MAX_SAFE_INTEGER },
    ...over,
    limits: { maxMemberBytes: 1 << 30, maxBufferedMemberBytes: 64 * 1024, maxCompressionRatio: 100, compressionRatioMinBytes: 128 * 1024, ...over.limits },
  };
}

describe('storeMember (Azurite)', () => {
  it('small member: hashed, stored under its content name once', async () => {
    const data = Buffer.from('small member');
    const first = await storeMember(blobs, streamOf(data), options());
    await first.uploaded;
    expect(first).toMatchObject({ size: data.length, hashes: { sha256: sha256(data) }, blob: { container, name: derivedNames.content(sha256(data)) } });
    const again = await storeMember(blobs, streamOf(data), options());
    await again.uploaded;
    expect(again.blob).toEqual(first.blob);
    expect(await blobs.readRange(first.blob, 0, 100)).toEqual(data);
  });

  it('large member: staged, copied, staging removed', async () => {
    const data = pseudoRandomBytes(400_000, 21);
    const opts = options();
    const stored = await storeMember(blobs, streamOf(data), opts);
    await stored.uploaded;
    expect(stored.size).toBe(data.length);
    expect(sha256(await blobs.readRange(stored.blob, 0, data.length))).toBe(sha256(data));
    expect(await blobs.exists({ container, name: opts.stagingName })).toBe(false);
  });

  it('keepBytesUpTo: gives a buffered or in-place member\'s exact bytes for the member-bytes cache, none for a larger one', async () => {
    const small = pseudoRandomBytes(40_000, 31);
    const buffered = await storeMember(blobs, streamOf(small), options({ keepBytesUpTo: 50_000 }));
    await buffered.uploaded;
    expect(buffered.bytes).toEqual(small);
    const source = { container, name: 'evidence.zip', offset: 1234 };
    const inPlace = await storeMember(blobs, streamOf(small), options({ keepBytesUpTo: 50_000, inPlace: { source, length: small.length } }));
    expect(inPlace.bytes).toEqual(small);
    expect(inPlace.blob).toEqual(source);
    // Over the limit (in place), or staged because too large to buffer: not kept.
    expect((await storeMember(blobs, streamOf(small), options({ keepBytesUpTo: 39_999, inPlace: { source, length: small.length } }))).bytes).toBeUndefined();
    const large = pseudoRandomBytes(100_000, 32);
    const staged = await storeMember(blobs, streamOf(large), options({ keepBytesUpTo: 1 << 20 }));
    expect(staged.bytes).toBeUndefined();
    // Not asked: nothing kept.
    expect((await storeMember(blobs, streamOf(small), options())).bytes).toBeUndefined();
  });

  it('maxMemberBytes is enforced on bytes as they flow, whatever was declared', async () => {
    const data = pseudoRandomBytes(300_000, 22);
    const opts = options({ limits: { maxMemberBytes: 200_000 } });
    await expect(storeMember(blobs, streamOf(data), opts)).rejects.toMatchObject({ code: 'limit-exceeded', message: expect.stringMatching(/maxMemberBytes/) });
    // It got past the buffer into staging before the limit hit: nothing may be left behind.
    expect(await blobs.exists({ container, name: opts.stagingName })).toBe(false);
    expect(await blobs.exists({ container, name: derivedNames.content(sha256(data)) })).toBe(false);
  });

  it('the compression ratio is checked on flowing bytes against the stored size', async () => {
    const zeros = Buffer.alloc(512 * 1024);
    await expect(storeMember(blobs, streamOf(zeros), options({ compressedSize: 1000 }))).rejects.toMatchObject({
      code: 'limit-exceeded',
      message: expect.stringMatching(/decompression bomb/),
    });
    // Below compressionRatioMinBytes the ratio does not apply.
    const small = Buffer.alloc(100 * 1024);
    await expect(storeMember(blobs, streamOf(small), options({ compressedSize: 100 }))).resolves.toMatchObject({ size: small.length });
  });

  it('the archive-wide budget is shared across members and reported as an archive limit', async () => {
    const budget = { expandedBytes: 0, maxExpandedBytes: 50_000 };
    await storeMember(blobs, streamOf(pseudoRandomBytes(30_000, 1)), options({ budget }));
    await expect(storeMember(blobs, streamOf(pseudoRandomBytes(30_000, 2)), options({ budget }))).rejects.toMatchObject({
      code: 'limit-exceeded',
      details: { scope: 'archive' },
    });
  });

  it('in place: hashed and checked, nothing written; a length other than the recorded one is corrupt-file', async () => {
    const data = pseudoRandomBytes(100_000, 41);
    const source = { container: 'evidence', name: 'case/ev/archive.zip', offset: 1234 };
    const stored = await storeMember(blobs, streamOf(data), options({ inPlace: { source, length: data.length } }));
    await stored.uploaded;
    expect(stored).toMatchObject({ size: data.length, hashes: { sha256: sha256(data) }, blob: source });
    expect(await blobs.exists({ container, name: derivedNames.content(sha256(data)) })).toBe(false);
    await expect(storeMember(blobs, streamOf(data), options({ inPlace: { source, length: data.length + 1 } }))).rejects.toMatchObject({ code: 'corrupt-file' });
  });

  it('a failing member stream is reported as its own error', async () => {
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('inflate failed'), { code: 'Z_DATA_ERROR' }));
      },
    });
    await expect(storeMember(blobs, failing, options())).rejects.toThrow('inflate failed');
  });
});
