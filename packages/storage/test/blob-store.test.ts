import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { createAzureBlobStore } from '../src/index.js';

const connectionString = inject('storageConnectionString');
const container = `blobstore-${Date.now().toString(36)}`;

describe('AzureBlobStore against Azurite', () => {
  const store = createAzureBlobStore({ connectionString });
  const guarded = createAzureBlobStore({ connectionString, readOnlyContainers: [container] });

  beforeAll(async () => {
    await store.ensureContainer(container);
  });

  it('uploads, reads properties, metadata and exact ranges', async () => {
    const data = randomBytes(300_000);
    await store.upload({ container, name: 'a/b.bin' }, data, { contentType: 'application/octet-stream', metadata: { examiner: 'jdoe' } });
    const props = await store.getProperties({ container, name: 'a/b.bin' });
    expect(props.size).toBe(data.length);
    expect(props.metadata.examiner).toBe('jdoe');
    expect(props.etag).not.toBe('');
    const range = await store.readRange({ container, name: 'a/b.bin' }, 1000, 5000);
    expect(range.equals(data.subarray(1000, 6000))).toBe(true);
    const tail = await store.readRange({ container, name: 'a/b.bin' }, data.length - 10, 100);
    expect(tail.equals(data.subarray(data.length - 10))).toBe(true);
  });

  it('streams a whole blob and streams an upload', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 17);
    await store.upload({ container, name: 'stream.bin' }, Readable.from([data.subarray(0, 5_000_000), data.subarray(5_000_000)]));
    const hash = createHash('sha256');
    for await (const chunk of await store.openRead({ container, name: 'stream.bin' })) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('never overwrites with ifNotExists', async () => {
    const ref = { container, name: 'once.txt' };
    expect((await store.upload(ref, Buffer.from('first'), { ifNotExists: true })).created).toBe(true);
    expect((await store.upload(ref, Buffer.from('second'), { ifNotExists: true })).created).toBe(false);
    expect((await store.readRange(ref, 0, 100)).toString()).toBe('first');
  });

  it('overwrites with ifMatch only the blob of that ETag', async () => {
    const ref = { container, name: 'if-match.txt' };
    const first = await store.upload(ref, Buffer.from('first'));
    const second = await store.upload(ref, Buffer.from('second'), { ifMatch: first.etag });
    expect(second.created).toBe(true);
    await expect(store.upload(ref, Buffer.from('stale'), { ifMatch: first.etag })).rejects.toSatisfy((e) => isExhibitError(e, 'precondition-failed'));
    expect((await store.readRange(ref, 0, 100)).toString()).toBe('second');
    await store.delete(ref);
    await expect(store.upload(ref, Buffer.from('gone'), { ifMatch: second.etag })).rejects.toSatisfy((e) => isExhibitError(e, 'precondition-failed') || isExhibitError(e, 'not-found'));
    expect(await store.exists(ref)).toBe(false);
  });

  it('regression: blob-upload-if-match-empty-etag-overwrote-unconditionally — an empty ETag is refused, never a write without a condition', async () => {
    const ref = { container, name: 'if-match-empty.txt' };
    await store.upload(ref, Buffer.from('first'));
    await expect(store.upload(ref, Buffer.from('over'), { ifMatch: '' })).rejects.toSatisfy((e) => isExhibitError(e, 'invalid-argument'));
    expect((await store.readRange(ref, 0, 100)).toString()).toBe('first');
  });

  it('refuses writes to read-only containers before touching storage', async () => {
    await expect(guarded.upload({ container, name: 'x' }, Buffer.from('x'))).rejects.toSatisfy((e) => isExhibitError(e, 'forbidden'));
    await expect(guarded.delete({ container, name: 'once.txt' })).rejects.toSatisfy((e) => isExhibitError(e, 'forbidden'));
    expect(await store.exists({ container, name: 'once.txt' })).toBe(true);
  });

  it('copies server-side and lists with metadata', async () => {
    await store.copy({ container, name: 'once.txt' }, { container, name: 'copy/once.txt' });
    expect((await store.readRange({ container, name: 'copy/once.txt' }, 0, 100)).toString()).toBe('first');
    await store.copy({ container, name: 'a/b.bin' }, { container, name: 'copy/once.txt' }, { ifNotExists: true });
    expect((await store.readRange({ container, name: 'copy/once.txt' }, 0, 100)).toString()).toBe('first');
    const names: string[] = [];
    for await (const p of store.list(container, { prefix: 'a/' })) names.push(p.name);
    expect(names).toEqual(['a/b.bin']);
  });

  // Regression: a listing gave the ETag unquoted and properties quoted, so the same blob was
  // recorded twice as rejected (watcher vs reconciliation) and could look changed after receipt.
  it('gives one ETag form from properties, listing and upload, and reads pinned to it', async () => {
    const uploaded = await store.upload({ container, name: 'etag/one.bin' }, Buffer.from('etag'));
    const props = await store.getProperties({ container, name: 'etag/one.bin' });
    const listed: string[] = [];
    for await (const p of store.list(container, { prefix: 'etag/' })) listed.push(p.etag);
    expect(props.etag).toMatch(/^"[^"]+"$/);
    expect(listed).toEqual([props.etag]);
    expect(uploaded.etag).toBe(props.etag);
    expect((await store.readRange({ container, name: 'etag/one.bin' }, 0, 4, { ifMatch: listed[0]! })).toString()).toBe('etag');
  });

  it('translates missing blobs to not-found and checks ETags', async () => {
    await expect(store.getProperties({ container, name: 'missing' })).rejects.toSatisfy((e) => isExhibitError(e, 'not-found'));
    await expect(store.readRange({ container, name: 'once.txt' }, 0, 2, { ifMatch: '"0x0"' })).rejects.toSatisfy((e) =>
      isExhibitError(e, 'precondition-failed'),
    );
  });

  it('signs a read-only URL that fetch can read with ranges', async () => {
    const url = await store.readUrl({ container, name: 'a/b.bin' }, { expiresInMs: 60_000 });
    expect(url).toContain('sig=');
    const res = await fetch(url, { headers: { range: 'bytes=0-9' } });
    expect(res.status).toBe(206);
    expect((await res.arrayBuffer()).byteLength).toBe(10);
    const put = await fetch(url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwrite' });
    expect(put.status).toBe(403);
  });
});
