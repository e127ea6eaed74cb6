import { createHash, randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashStateLoadError, RESUMABLE_HASH_SLICE_BYTES, ResumableMultiHasher } from './resumable-hash.js';

const reference = (data: Buffer) => ({
  md5: createHash('md5').update(data).digest('hex'),
  sha1: createHash('sha1').update(data).digest('hex'),
  sha256: createHash('sha256').update(data).digest('hex'),
});

/** Hashes `data` in chunks, saving at each split point and continuing in a fresh hasher loaded from the (JSON round-tripped) states. */
async function hashAcross(data: Buffer, splits: number[], chunk: number) {
  let hasher = await ResumableMultiHasher.open();
  let at = 0;
  for (const split of [...splits, data.length]) {
    for (; at < split; at = Math.min(split, at + chunk)) await hasher.update(data.subarray(at, Math.min(split, at + chunk)));
    if (split < data.length) hasher = await ResumableMultiHasher.open(JSON.parse(JSON.stringify(hasher.save())));
  }
  return hasher.digest();
}

describe('ResumableMultiHasher (hash-wasm)', () => {
  it.each([
    ['empty', 0, []],
    ['one byte', 1, [0, 1]],
    ['block edges (63/64/65 of a 64-byte block)', 1000, [63, 64, 65, 128, 999]],
    ['over a slice, split inside one', RESUMABLE_HASH_SLICE_BYTES * 2 + 17, [RESUMABLE_HASH_SLICE_BYTES - 1, RESUMABLE_HASH_SLICE_BYTES + 5]],
  ])('equals node:crypto for %s', async (_label, size, splits) => {
    const data = randomBytes(size);
    expect(await hashAcross(data, splits as number[], 4096)).toEqual(reference(data));
  });

  it('equals node:crypto over random sizes, split and saved at random points, in random chunk sizes', async () => {
    for (let round = 0; round < 12; round++) {
      const data = randomBytes(randomInt(0, 3 * 1024 * 1024));
      const splits = Array.from({ length: randomInt(0, 6) }, () => randomInt(0, data.length + 1)).sort((a, b) => a - b);
      const chunk = randomInt(1, 300_000);
      expect(await hashAcross(data, splits, chunk), `size ${data.length} splits ${splits.join(',')} chunk ${chunk}`).toEqual(reference(data));
    }
  });

  it('states another build wrote (a different stamp) or damaged ones fail to load as HashStateLoadError', async () => {
    const hasher = await ResumableMultiHasher.open();
    await hasher.update(randomBytes(1000));
    const states = hasher.save();
    const foreign = { ...states, sha1: 'AAAAAA' + states.sha1.slice(6) };
    await expect(ResumableMultiHasher.open(foreign)).rejects.toBeInstanceOf(HashStateLoadError);
    await expect(ResumableMultiHasher.open({ ...states, sha256: '' })).rejects.toBeInstanceOf(HashStateLoadError);
  });
});
