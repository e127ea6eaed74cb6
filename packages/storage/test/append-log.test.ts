import { buffer } from 'node:stream/consumers';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createAzureAppendLog } from '../src/append-log.azure.js';

const connectionString = inject('storageConnectionString');
const container = `appendlog-${Date.now().toString(36)}`;

describe('AzureAppendLog against Azurite', () => {
  const log = createAzureAppendLog({ connectionString, container });

  beforeAll(async () => {
    await log.ensureContainer();
  });

  it('creates once, appends blocks at the expected position and reports length, ETag and block count', async () => {
    expect(await log.head('c1/e1/000000.jsonl')).toBeNull();
    expect(await log.create('c1/e1/000000.jsonl', { ifNotExists: true })).toEqual({ created: true });
    expect(await log.create('c1/e1/000000.jsonl', { ifNotExists: true })).toEqual({ created: false });
    const empty = await log.head('c1/e1/000000.jsonl');
    expect(empty).toMatchObject({ length: 0, blockCount: 0 });

    const first = await log.append('c1/e1/000000.jsonl', Buffer.from('one\n'), { appendPosition: 0, ifMatch: empty!.etag });
    expect(first).toMatchObject({ length: 4, blockCount: 1 });
    const second = await log.append('c1/e1/000000.jsonl', Buffer.from('two\n'), { appendPosition: 4, ifMatch: first.etag });
    expect(second).toMatchObject({ length: 8, blockCount: 2 });
    expect(await log.head('c1/e1/000000.jsonl')).toEqual(second);

    expect((await buffer(await log.read('c1/e1/000000.jsonl'))).toString()).toBe('one\ntwo\n');
    expect((await buffer(await log.read('c1/e1/000000.jsonl', { offset: 4, count: 4 }))).toString()).toBe('two\n');
  });

  it('refuses an append at a stale position or ETag with precondition-failed, leaving the log as it was', async () => {
    const name = 'c1/e2/000000.jsonl';
    await log.create(name);
    const start = (await log.head(name))!;
    const winner = await log.append(name, Buffer.from('a\n'), { appendPosition: 0, ifMatch: start.etag });
    await expect(log.append(name, Buffer.from('b\n'), { appendPosition: 0, ifMatch: start.etag })).rejects.toMatchObject({ code: 'precondition-failed' });
    await expect(log.append(name, Buffer.from('b\n'), { appendPosition: 2, ifMatch: start.etag })).rejects.toMatchObject({ code: 'precondition-failed' });
    await expect(log.append(name, Buffer.from('b\n'), { appendPosition: 0, ifMatch: winner.etag })).rejects.toMatchObject({ code: 'precondition-failed' });
    expect((await buffer(await log.read(name))).toString()).toBe('a\n');
    await expect(log.read(name, { ifMatch: start.etag })).rejects.toMatchObject({ code: 'precondition-failed' });
  });

  it('translates a missing log into not-found', async () => {
    await expect(log.append('c1/none/000000.jsonl', Buffer.from('x\n'), { appendPosition: 0, ifMatch: '"0x1"' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(log.read('c1/none/000000.jsonl')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('refuses to treat a block blob as a log', async () => {
    const raw = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
    await raw.getBlockBlobClient('c1/block/000000.jsonl').upload('x\n', 2);
    await expect(log.head('c1/block/000000.jsonl')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('lists logs under a prefix in name order', async () => {
    for (const n of ['000002', '000000', '000001']) await log.create(`c2/e1/${n}.jsonl`);
    await log.create('c2/e10/000000.jsonl');
    const names: string[] = [];
    for await (const item of log.list('c2/e1/')) names.push(item.name);
    expect(names).toEqual(['c2/e1/000000.jsonl', 'c2/e1/000001.jsonl', 'c2/e1/000002.jsonl']);
  });

  it('replaces a document only under its ETag, and creates it only once', async () => {
    expect(await log.getDocument('c3/keys.json')).toBeNull();
    const v1 = await log.putDocument('c3/keys.json', Buffer.from('{"v":1}'), { ifNoneMatch: '*' });
    await expect(log.putDocument('c3/keys.json', Buffer.from('{"v":9}'), { ifNoneMatch: '*' })).rejects.toMatchObject({ code: 'precondition-failed' });
    const v2 = await log.putDocument('c3/keys.json', Buffer.from('{"v":2}'), { ifMatch: v1.etag });
    await expect(log.putDocument('c3/keys.json', Buffer.from('{"v":3}'), { ifMatch: v1.etag })).rejects.toMatchObject({ code: 'precondition-failed' });
    const doc = await log.getDocument('c3/keys.json');
    expect(doc).toEqual({ bytes: Buffer.from('{"v":2}'), etag: v2.etag });
  });
});
