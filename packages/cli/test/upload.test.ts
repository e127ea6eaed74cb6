import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { acquisitionFromMetadata } from '@exhibit/pipeline';
import { createAzureBlockBlobStore } from '../src/upload/upload.azure.js';
import { uploadEvidenceFile, type UploadFileOptions, type UploadProgress } from '../src/upload/upload.service.js';

const connectionString = inject('storageConnectionString');
const container = `cli-upload-${Date.now().toString(36)}`;
const KIB = 1024;
const BLOCK = 64 * KIB;

const hashesOf = (bytes: Buffer) => ({
  md5: createHash('md5').update(bytes).digest('hex'),
  sha1: createHash('sha1').update(bytes).digest('hex'),
  sha256: createHash('sha256').update(bytes).digest('hex'),
});

/** Buffer.equals, not toEqual: a deep diff of megabytes is very slow and unreadable. */
function expectSameBytes(actual: Buffer, expected: Buffer) {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

describe('uploadEvidenceFile against Azurite', () => {
  const blobs = createAzureBlockBlobStore({ kind: 'connection-string', connectionString });
  let raw: ContainerClient;
  let dir: string;
  let n = 0;
  /** A fresh evidence id per test, so tests never see each other's blobs. */
  const nextIds = () => ({ caseId: 'C1', evidenceId: `E${++n}` });
  const options = (ids: { caseId: string; evidenceId: string }, extra: Partial<UploadFileOptions> = {}): UploadFileOptions => ({
    container,
    ...ids,
    acquisition: {},
    blockSizeBytes: BLOCK,
    parallel: 3,
    ...extra,
  });
  const writeTemp = async (name: string, bytes: Buffer) => {
    const file = path.join(dir, `${n}-${Math.random().toString(36).slice(2)}`, name);
    await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(file), { recursive: true }));
    await writeFile(file, bytes);
    return file;
  };
  const download = async (blobName: string) => raw.getBlockBlobClient(blobName).downloadToBuffer();

  beforeAll(async () => {
    raw = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
    await raw.createIfNotExists();
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-upload-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads a small file in one block with computed acquisition hashes, examiner text and content MD5', async () => {
    const ids = nextIds();
    const bytes = randomBytes(1000);
    const file = await writeTemp('photo.jpg', bytes);
    const result = await uploadEvidenceFile(blobs, file, options(ids, { acquisition: { examiner: 'J. Smith', exhibitRef: 'JS/1' } }));

    expect(result).toMatchObject({ blobName: 'C1/E1/photo.jpg', size: 1000, blocks: 1, reusedBlocks: 0, uploadedBytes: 1000 });
    expect(result.hashes).toEqual(hashesOf(bytes));
    expectSameBytes(await download(result.blobName), bytes);
    const props = await raw.getBlockBlobClient(result.blobName).getProperties();
    expect(props.metadata).toMatchObject({
      acquisition_md5: hashesOf(bytes).md5,
      acquisition_sha1: hashesOf(bytes).sha1,
      acquisition_sha256: hashesOf(bytes).sha256,
      acquisition_hash_origin: 'md5:computed;sha1:computed;sha256:computed',
      examiner: 'J. Smith',
      exhibit_ref: 'JS/1',
    });
    expect(Buffer.from(props.contentMD5 ?? []).toString('hex')).toBe(hashesOf(bytes).md5);
    expect(props.contentType).toBe('application/octet-stream');
    expect(props.etag).toBe(result.etag);
  });

  it('uploads a multi-block file in order and the committed blob is byte-identical', async () => {
    const ids = nextIds();
    const bytes = randomBytes(17 * BLOCK + 123);
    const file = await writeTemp('disk.img', bytes);
    const seen: UploadProgress[] = [];
    const result = await uploadEvidenceFile(blobs, file, options(ids, { onProgress: (p) => seen.push(p) }));

    expect(result.blocks).toBe(18);
    expect(result.hashes).toEqual(hashesOf(bytes));
    expectSameBytes(await download(result.blobName), bytes);
    const list = await raw.getBlockBlobClient(result.blobName).getBlockList('committed');
    expect(list.committedBlocks?.map((b) => b.size)).toEqual([...Array(17).fill(BLOCK), 123]);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ bytesRead: bytes.length, bytesStaged: bytes.length, blocksStaged: 18, blocksTotal: 18 });
  });

  it('resumes an interrupted upload: staged blocks are reused, the result is byte-identical', async () => {
    const ids = nextIds();
    const bytes = randomBytes(20 * BLOCK + 7);
    const file = await writeTemp('image.E01', bytes);
    const interrupt = new AbortController();
    const first = uploadEvidenceFile(
      blobs,
      file,
      options(ids, {
        parallel: 2,
        abortSignal: interrupt.signal,
        onProgress: (p) => {
          if (p.blocksStaged >= 6) interrupt.abort();
        },
      }),
    );
    await expect(first).rejects.toSatisfy((err) => isExhibitError(err, 'aborted') && /run the same command again to resume/.test((err as Error).message));

    const blob = raw.getBlockBlobClient('C1/' + ids.evidenceId + '/image.E01');
    expect(await blob.exists()).toBe(false);
    const staged = (await blob.getBlockList('uncommitted')).uncommittedBlocks ?? [];
    expect(staged.length).toBeGreaterThanOrEqual(6);
    expect(staged.length).toBeLessThan(21);

    const second = await uploadEvidenceFile(blobs, file, options(ids));
    // At least the blocks listed; a stage request the client abandoned on abort may still land in
    // storage after the list was read (seen under load), and is then reused too.
    expect(second.reusedBlocks).toBeGreaterThanOrEqual(staged.length);
    expect(second.reusedBlocks).toBeLessThan(21);
    // Only the last block is short, and the interrupted run never reached it.
    expect(second.uploadedBytes).toBe(bytes.length - second.reusedBlocks * BLOCK);
    expect(second.hashes).toEqual(hashesOf(bytes));
    expectSameBytes(await download(second.blobName), bytes);
  });

  it('regression: blocks left by an interrupted upload of a DIFFERENT file with the same name are not reused', async () => {
    const ids = nextIds();
    const old = randomBytes(8 * BLOCK);
    const fresh = Buffer.from(old);
    fresh[3 * BLOCK + 10] = (fresh[3 * BLOCK + 10]! + 1) % 256; // one byte differs, in block 3
    const oldFile = await writeTemp('same-name.bin', old);
    const interrupt = new AbortController();
    await expect(
      uploadEvidenceFile(blobs, oldFile, options(ids, { parallel: 1, abortSignal: interrupt.signal, onProgress: (p) => p.blocksStaged >= 5 && interrupt.abort() })),
    ).rejects.toSatisfy((err) => isExhibitError(err, 'aborted'));

    const freshFile = await writeTemp('same-name.bin', fresh);
    const result = await uploadEvidenceFile(blobs, freshFile, options(ids));
    // Blocks 0-4 were staged from the old file; 0-2 and 4 hold the same bytes and are reused, block 3 is sent again.
    expect(result.reusedBlocks).toBe(4);
    expect(result.hashes).toEqual(hashesOf(fresh));
    expectSameBytes(await download(result.blobName), fresh);
  });

  it('never overwrites existing evidence', async () => {
    const ids = nextIds();
    const file = await writeTemp('report.pdf', randomBytes(3 * BLOCK));
    const first = await uploadEvidenceFile(blobs, file, options(ids));
    const other = await writeTemp('report.pdf', randomBytes(100));
    await expect(uploadEvidenceFile(blobs, other, options(ids))).rejects.toSatisfy(
      (err) => isExhibitError(err, 'conflict') && /already exists/.test((err as Error).message),
    );
    const props = await raw.getBlockBlobClient(first.blobName).getProperties();
    expect(props.etag).toBe(first.etag);
    expect(props.contentLength).toBe(3 * BLOCK);
  });

  it('the commit itself refuses to overwrite (a blob that appeared after the upload started)', async () => {
    const target = blobs.target(container, 'C1/race/file.bin');
    await raw.getBlockBlobClient('C1/race/file.bin').upload('first', 5);
    const data = Buffer.from('second');
    const id = Buffer.from('race-0').toString('base64');
    await target.stageBlock(id, data, { contentMd5: createHash('md5').update(data).digest() });
    await expect(
      target.commit([id], { metadata: {}, contentType: 'application/octet-stream', contentMd5: createHash('md5').update(data).digest() }),
    ).rejects.toSatisfy((err) => isExhibitError(err, 'conflict'));
    expect((await download('C1/race/file.bin')).toString()).toBe('first');
  });

  it('a given hash that does not match aborts before commit; nothing is stored', async () => {
    const ids = nextIds();
    const bytes = randomBytes(2 * BLOCK + 5);
    const file = await writeTemp('seized.bin', bytes);
    const wrong = hashesOf(Buffer.from('something else')).sha256;
    const err = await uploadEvidenceFile(blobs, file, options(ids, { acquisition: { sha256: wrong } })).catch((e: unknown) => e);
    expect(isExhibitError(err, 'hash-mismatch')).toBe(true);
    expect((err as Error).message).toContain(wrong);
    expect((err as Error).message).toContain(hashesOf(bytes).sha256);
    expect(await raw.getBlockBlobClient(`C1/${ids.evidenceId}/seized.bin`).exists()).toBe(false);
  });

  it('given hashes that match are recorded as given; non-ASCII text round-trips through the ingest decoder', async () => {
    const ids = nextIds();
    const bytes = randomBytes(BLOCK + 1);
    const file = await writeTemp('phone.zip', bytes);
    const h = hashesOf(bytes);
    const result = await uploadEvidenceFile(
      blobs,
      file,
      options(ids, { acquisition: { sha256: h.sha256, md5: h.md5, examiner: 'Zoë Ørsted', description: 'Handy – 100% sichergestellt' } }),
    );
    const props = await raw.getBlockBlobClient(result.blobName).getProperties();
    expect(props.metadata?.acquisition_hash_origin).toBe('md5:given;sha1:computed;sha256:given');
    expect(props.metadata?.examiner).toBe(encodeURIComponent('Zoë Ørsted'));
    expect(acquisitionFromMetadata(props.metadata ?? {})).toEqual({
      examiner: 'Zoë Ørsted',
      description: 'Handy – 100% sichergestellt',
      md5: h.md5,
      sha1: h.sha1,
      sha256: h.sha256,
    });
  });

  it('uploads an empty file as an empty blob', async () => {
    const ids = nextIds();
    const file = await writeTemp('empty.txt', Buffer.alloc(0));
    const result = await uploadEvidenceFile(blobs, file, options(ids));
    expect(result).toMatchObject({ size: 0, blocks: 0 });
    expect(result.hashes).toEqual(hashesOf(Buffer.alloc(0)));
    expect((await download(result.blobName)).length).toBe(0);
  });

  it('reports a missing container as not-found with a hint', async () => {
    const file = await writeTemp('x.bin', randomBytes(10));
    await expect(uploadEvidenceFile(blobs, file, { ...options(nextIds()), container: 'no-such-container' })).rejects.toSatisfy(
      (err) => isExhibitError(err, 'not-found') && /npm start/.test((err as Error).message),
    );
  });
});
