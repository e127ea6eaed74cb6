import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockAcks, closeHashWorkers } from './hash-workers.js';
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

  // Regression: acknowledgements were counted per block, not per thread, so the fast MD5/SHA-1
  // thread could release a block the SHA-256 thread had not read yet, and reused blocks were overwritten.
  it('releases a block for reuse only after every thread has hashed it (acks-counted-per-block regression)', async () => {
    const inputs = [0, 1, 2].map(() => randomBytes(24 * HASH_BLOCK_BYTES + 3));
    const results = await Promise.all(inputs.map((d) => parallelHash(d, 1 << 16)));
    results.forEach((r, i) => expect(r.hashes).toEqual(reference(inputs[i]!)));
  });

  it('starts again cleanly after an abandoned job', async () => {
    const abandoned = new ParallelHasher();
    await abandoned.update(randomBytes(2 * HASH_BLOCK_BYTES));
    abandoned.dispose();
    const data = randomBytes(2 * HASH_BLOCK_BYTES + 9);
    expect((await parallelHash(data, 1 << 16)).hashes).toEqual(reference(data));
  });

  // Regression: the threads stayed referenced while a job was open, so a CLI upload that failed
  // after hashing had started never exited.
  it('keeps a process alive while it waits for a digest, not for a job it abandoned (abandoned-job-hang regression)', async () => {
    const module = JSON.stringify(fileURLToPath(new URL('./multi-hash.ts', import.meta.url)));
    const script = [
      `import { ParallelHasher } from ${module};`,
      `const abandoned = new ParallelHasher();`,
      `await abandoned.update(Buffer.alloc(3 * 1024 * 1024, 1));`,
      `const hasher = new ParallelHasher();`,
      `hasher.update(Buffer.alloc(2 * 1024 * 1024, 2)).then(() => hasher.digest()).then((h) => console.log(h.sha256));`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      timeout: 15_000,
    });
    expect(stdout.trim()).toBe(createHash('sha256').update(Buffer.alloc(2 * 1024 * 1024, 2)).digest('hex'));
  });

  it('gives the same result as the inline MultiHasher', async () => {
    const data = randomBytes(HASH_BLOCK_BYTES * 2 + 77);
    const inline = new MultiHasher();
    inline.update(data);
    expect((await parallelHash(data, 1 << 20)).hashes).toEqual(inline.digest());
  });
});

describe('BlockAcks', () => {
  // Regression: acknowledgements were counted per block, not per thread, so two acks from the
  // fast MD5/SHA-1 thread released a block the SHA-256 thread had not read yet; once blocks were
  // reused, the archive's hash came out wrong in the benchmark (integrity: mismatch).
  it('releases a block only when every thread has acknowledged it (acks-counted-per-block regression)', async () => {
    const acks = new BlockAcks(2);
    const released: number[] = [];
    const blocks = [1, 2, 3].map((n) => acks.push().then(() => released.push(n)));
    acks.ack(1);
    acks.ack(1);
    acks.ack(1);
    await new Promise((r) => setImmediate(r));
    expect(released).toEqual([]);
    acks.ack(0);
    await new Promise((r) => setImmediate(r));
    expect(released).toEqual([1]);
    acks.ack(0);
    acks.ack(0);
    await Promise.all(blocks);
    expect(released).toEqual([1, 2, 3]);
  });

  it('fails every waiting block when a thread is lost', async () => {
    const acks = new BlockAcks(2);
    const waiting = [acks.push(), acks.push()];
    acks.failAll(new Error('lost'));
    for (const w of waiting) await expect(w).rejects.toThrow('lost');
  });
});
