import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { closeHashWorkers } from './hash-workers.js';
import { HASH_BLOCK_BYTES, MultiHasher, ParallelHasher } from './multi-hash.js';

const reference = (data: Buffer) => ({
  md5: createHash('md5').update(data).digest('hex'),
  sha1: createHash('sha1').update(data).digest('hex'),
  sha256: createHash('sha256').update(data).digest('hex'),
});

async function parallelHash(data: Buffer, chunkBytes: number) {
  const hasher = new ParallelHasher();
  for (let i = 0; i < data.length; i += chunkBytes) await hasher.update(data.subarray(i, i + chunkBytes));
  return { hashes: await hasher.digest(), bytes: hasher.bytes };
}

afterAll(() => closeHashWorkers());

describe('ParallelHasher', () => {
  it.each([
    ['empty', 0, 1],
    ['smaller than a block (hashed inline)', 1000, 333],
    ['exactly one block', HASH_BLOCK_BYTES, 65536],
    ['one byte over a block boundary', HASH_BLOCK_BYTES + 1, 7919],
    ['many blocks in odd chunks (more than the in-flight bound)', 9 * HASH_BLOCK_BYTES + 12345, 100_003],
  ])('equals node:crypto for %s', async (_label, size, chunk) => {
    const data = randomBytes(size);
    const { hashes, bytes } = await parallelHash(data, chunk);
    expect(hashes).toEqual(reference(data));
    expect(bytes).toBe(size);
  });

  it('keeps concurrent jobs apart', async () => {
    const inputs = [randomBytes(3 * HASH_BLOCK_BYTES + 5), randomBytes(2 * HASH_BLOCK_BYTES), randomBytes(5 * HASH_BLOCK_BYTES - 1)];
    const results = await Promise.all(inputs.map((d, i) => parallelHash(d, 40_000 + i * 1000)));
    results.forEach((r, i) => expect(r.hashes).toEqual(reference(inputs[i]!)));
  });

  it('starts again cleanly after an abandoned job', async () => {
    const abandoned = new ParallelHasher();
    await abandoned.update(randomBytes(2 * HASH_BLOCK_BYTES));
    abandoned.dispose();
    const data = randomBytes(2 * HASH_BLOCK_BYTES + 9);
    expect((await parallelHash(data, 1 << 16)).hashes).toEqual(reference(data));
  });

  it('gives the same result as the inline MultiHasher', async () => {
    const data = randomBytes(HASH_BLOCK_BYTES * 2 + 77);
    const inline = new MultiHasher();
    inline.update(data);
    expect((await parallelHash(data, 1 << 20)).hashes).toEqual(inline.digest());
  });
});
