import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { BlobRef, BlobStore } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { SingleReadSource } from '../src/archive/single-read.source.js';
import { ResumableMultiHasher, type HashStates } from '../src/resumable-hash.js';
import { openZipReader } from '../src/archive/zip.reader.js';
import { openTarReader } from '../src/archive/tar.reader.js';
import { tarOf, zipOf } from './fixtures/archives/archive-fixtures.js';

/**
 * The single read of an uploaded archive (archive/single-read.source.ts)
 * against real blob storage (Azurite): every byte consumed once and in order,
 * ranged reads and streams served from the window, reads far ahead or behind
 * it counted as side reads, a changed blob refused.
 */
let blobs: BlobStore;
let container: string;
/** Body bytes of every GET the store was asked for (ranged reads and streams). */
const storage = { bytes: 0, gets: 0 };

beforeAll(async () => {
  const store = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
  const counted = async (stream: Promise<Readable>) => {
    const s = await stream;
    s.on('data', (c: Buffer) => {
      storage.bytes += c.length;
    });
    return s;
  };
  blobs = Object.create(store, {
    openRead: {
      value: (...args: Parameters<typeof store.openRead>) => {
        storage.gets += 1;
        return counted(store.openRead(...args));
      },
    },
  }) as BlobStore;
  container = `evidence-${randomBytes(4).toString('hex')}`;
  await blobs.ensureContainer(container);
});

async function put(data: Buffer): Promise<{ ref: BlobRef; etag: string }> {
  const ref = { container, name: `case/ev/${randomBytes(4).toString('hex')}.bin` };
  const { etag } = await blobs.upload(ref, data);
  return { ref, etag };
}

/** A source over `ref` whose consumer records every chunk's offset (to check order) and hashes it. */
function sourceOver(ref: BlobRef, etag: string, size: number, options: { windowBytes?: number; aheadBytes?: number; farStreamsAside?: boolean; head?: Buffer } = {}) {
  const hash = createHash('sha256');
  const consumed = { bytes: 0, inOrder: true };
  const source = new SingleReadSource(blobs, ref, {
    size,
    etag,
    consume: async (chunk) => {
      hash.update(chunk);
      consumed.bytes += chunk.length;
    },
    ...options,
  });
  return { source, consumed, sha256: () => hash.digest('hex') };
}

/**
 * A source whose hash thread holds the pass once it has taken the first MiB,
 * until `release()`: `holding` resolves when it holds, so a test can abort a
 * reader that is waiting for the pass.
 */
function heldAfterFirstMiB(ref: BlobRef, etag: string, size: number, options: { windowBytes: number; aheadBytes: number }) {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = (): void => undefined;
  const holding = new Promise<void>((resolve) => (held = resolve));
  const hash = createHash('sha256');
  const consumed = { bytes: 0 };
  const source = new SingleReadSource(blobs, ref, {
    size,
    etag,
    consume: async (chunk) => {
      if (consumed.bytes >= 1024 * 1024) {
        held();
        await gate;
      }
      hash.update(chunk);
      consumed.bytes += chunk.length;
    },
    ...options,
  });
  return { source, consumed, hash, holding, release };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('SingleReadSource (Azurite)', () => {
  it('serves reads in the window from the one pass, and the drain hashes every byte once', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const { ref, etag } = await put(data);
    const { source, consumed, sha256: digest } = sourceOver(ref, etag, data.length, { windowBytes: 1024 * 1024, aheadBytes: 512 * 1024 });
    const before = { ...storage };
    expect((await source.readRange(0, 100)).equals(data.subarray(0, 100))).toBe(true);
    expect((await source.readRange(50, 200_000)).equals(data.subarray(50, 200_050))).toBe(true);
    // A stream from just past the position: the pass moves forward to it.
    expect((await readAll(source.openRange(300_000, 1_000_000))).equals(data.subarray(300_000, 1_300_000))).toBe(true);
    // Stepping back a little: still in the window.
    expect((await source.readRange(1_200_000, 50_000)).equals(data.subarray(1_200_000, 1_250_000))).toBe(true);
    await source.drain();
    expect(source.complete).toBe(true);
    expect(consumed.bytes).toBe(data.length);
    expect(digest()).toBe(sha256(data));
    expect(source.counts).toMatchObject({ passBytes: data.length, sideBytes: 0, sideReads: 0, behindReads: 0 });
    // One GET, of the blob's bytes once.
    expect(storage.gets - before.gets).toBe(1);
    expect(storage.bytes - before.bytes).toBe(data.length);
  });

  it('reads far ahead of the pass on the side without moving it, and behind the window from storage, counted', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const { source, consumed, sha256: digest } = sourceOver(ref, etag, data.length, { windowBytes: 256 * 1024, aheadBytes: 256 * 1024 });
    // The tail first, as a ZIP reader reads its end record and central directory.
    const tail = await source.readRange(data.length - 70_000, 70_000);
    expect(tail.equals(data.subarray(data.length - 70_000))).toBe(true);
    expect(source.counts).toMatchObject({ passBytes: 0, sideBytes: 70_000, sideReads: 1, behindReads: 0 });
    // A member stream far ahead: the pass jumps there (hashing what lies between).
    expect((await readAll(source.openRange(2_000_000, 100_000))).equals(data.subarray(2_000_000, 2_100_000))).toBe(true);
    // Bytes the pass went past and dropped: a side read, counted as behind.
    expect((await source.readRange(10, 20)).equals(data.subarray(10, 30))).toBe(true);
    expect(source.counts).toMatchObject({ sideReads: 2, behindReads: 1, sideBytes: 70_020 });
    // A stream that starts behind the window comes from storage whole.
    expect((await readAll(source.openRange(100, 1000))).equals(data.subarray(100, 1100))).toBe(true);
    expect(source.counts).toMatchObject({ sideReads: 3, behindReads: 2, sideBytes: 71_020 });
    await source.drain();
    expect(consumed.bytes).toBe(data.length);
    expect(digest()).toBe(sha256(data));
    expect(source.counts.passBytes).toBe(data.length);
  });

  it('unpacks a ZIP and a TAR through its BlobStore with its hash equal to the blob\'s, reading the blob about once', async () => {
    const members = Array.from({ length: 12 }, (_, i) => ({ name: `DCIM/IMG_${i}.jpg`, data: randomBytes(300_000 + i * 1000), compress: false }));
    for (const [format, bytes] of [
      ['zip', await zipOf(members)],
      ['tar', await tarOf(members)],
    ] as const) {
      const { ref, etag } = await put(bytes);
      const { source, sha256: digest } = sourceOver(ref, etag, bytes.length, { windowBytes: 1024 * 1024, aheadBytes: 512 * 1024 });
      const store = source.blobStore();
      const reader =
        format === 'zip'
          ? await openZipReader(store, ref, { size: bytes.length, etag, maxEntryNameBytes: 1024 })
          : await openTarReader(store, ref, { gzip: false, etag, maxEntryNameBytes: 1024, maxCompressionRatio: 100, compressionRatioMinBytes: 1 << 20 });
      const got: string[] = [];
      for await (const entry of reader.entries()) {
        if (entry.kind !== 'file') continue;
        got.push(sha256(await readAll(await entry.open())));
      }
      await reader.close();
      await source.drain();
      expect(got, format).toEqual(members.map((m) => sha256(m.data)));
      expect(digest(), format).toBe(sha256(bytes));
      expect(source.counts.passBytes, format).toBe(bytes.length);
      // The ZIP's end record and central directory at the end are read on the side; nothing else is read twice.
      expect(source.counts.behindReads, format).toBe(0);
      expect(source.counts.sideBytes, format).toBeLessThan(format === 'zip' ? 600 * 1024 : 1);
    }
  });

  it('fails with precondition-failed when the blob changes under the pass, and refuses a reader pinned to another ETag', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const { source } = sourceOver(ref, etag, data.length);
    await expect(source.blobStore().readRange(ref, 0, 10, { ifMatch: '"0xother"' })).rejects.toMatchObject({ code: 'precondition-failed' });
    await blobs.upload(ref, randomBytes(data.length));
    await expect(source.readRange(0, 10)).rejects.toMatchObject({ code: 'precondition-failed' });
    // The failure sticks: the drain does not hash other bytes.
    await expect(source.drain()).rejects.toMatchObject({ code: 'precondition-failed' });
  });

  it('stops on abort with a retryable fault, and on close', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const controller = new AbortController();
    const source = new SingleReadSource(blobs, ref, {
      size: data.length,
      etag,
      consume: async () => {
        controller.abort(new Error('shutdown'));
      },
      abortSignal: controller.signal,
    });
    await source.readRange(0, 10);
    const drained = await source.drain().then(
      () => null,
      (err: unknown) => err,
    );
    expect(drained).toMatchObject({ retryable: true });
    expect(source.complete).toBe(false);
    const closed = sourceOver(ref, etag, data.length).source;
    closed.close();
    await expect(closed.readRange(0, 10)).rejects.toMatchObject({ code: 'aborted' });
  });

  it('refuses a body shorter than the recorded size (retryable), never a hash of a hole', async () => {
    const data = randomBytes(100_000);
    const { ref, etag } = await put(data);
    const { source } = sourceOver(ref, etag, data.length + 10);
    await expect(source.drain()).rejects.toMatchObject({ code: 'storage-unavailable', retryable: true });
  });
  it('follow-read-abort-ignored: a stream far ahead given up on stops waiting for the pass before the gap is read, and the pass goes on for the hash', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const { ref, etag } = await put(data);
    // The hash thread holds the pass after its first MiB until released: the gap cannot be crossed before the abort.
    const { source, consumed, hash, holding, release } = heldAfterFirstMiB(ref, etag, data.length, { windowBytes: 256 * 1024, aheadBytes: 8 * 1024 * 1024 });
    const controller = new AbortController();
    const reason = new Error('the unpack budget ran out');
    // As a disk image's follow read asks for it (disk-image.reader.ts readStream): through the pass's blob store, with its signal.
    const stream = await source.blobStore().openRead(ref, { offset: 7 * 1024 * 1024, count: 100_000, ifMatch: etag, abortSignal: controller.signal });
    const settled = readAll(stream).then(
      () => ({ outcome: 'read the whole gap' as unknown, consumedBytes: consumed.bytes }),
      (err: unknown) => ({ outcome: err, consumedBytes: consumed.bytes }),
    );
    await holding;
    controller.abort(reason);
    release();
    const { outcome, consumedBytes } = await settled;
    expect(outcome).toBe(reason);
    expect(consumedBytes).toBeLessThan(7 * 1024 * 1024);
    // The pass was not stopped: the drain still hashes every byte once.
    await source.drain();
    expect(consumed.bytes).toBe(data.length);
    expect(hash.digest('hex')).toBe(sha256(data));
    // An already aborted signal: refused before any read, behind the window too.
    const again = await source.blobStore().openRead(ref, { offset: 0, count: 10, abortSignal: controller.signal });
    await expect(readAll(again)).rejects.toBe(reason);
  });
  it('ranged-read-abort-ignored: a ranged read just ahead of a held-up pass stops waiting when its signal aborts, and the pass goes on for the hash', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const { ref, etag } = await put(data);
    // The hash thread holds the pass after its first MiB until released: the read below cannot be served before the abort.
    const { source, consumed, hash, holding, release } = heldAfterFirstMiB(ref, etag, data.length, { windowBytes: 1024 * 1024, aheadBytes: 4 * 1024 * 1024 });
    const controller = new AbortController();
    const reason = new Error('the volume task ran out of time');
    // As a file-system reader's structure read asks for it: a ranged read through the pass's blob store, with its signal.
    const settled = source
      .blobStore()
      .readRange(ref, 3 * 1024 * 1024, 4096, { ifMatch: etag, abortSignal: controller.signal })
      .then(
        () => ({ outcome: 'waited for the pass' as unknown, consumedBytes: consumed.bytes }),
        (err: unknown) => ({ outcome: err, consumedBytes: consumed.bytes }),
      );
    await holding;
    controller.abort(reason);
    // Released only after the read had its chance to give up: a read that ignores its signal settles after this, with the bytes.
    const outcome = await Promise.race([settled, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000))]);
    release();
    expect(outcome).toMatchObject({ outcome: reason });
    expect((await settled).consumedBytes).toBeLessThan(3 * 1024 * 1024);
    await source.drain();
    expect(consumed.bytes).toBe(data.length);
    expect(hash.digest('hex')).toBe(sha256(data));
    // An already aborted signal: refused before any read, in the window and far ahead alike.
    await expect(source.blobStore().readRange(ref, 0, 10, { abortSignal: controller.signal })).rejects.toBe(reason);
    await expect(source.readRange(0, 10, { abortSignal: controller.signal })).rejects.toBe(reason);
  });
});

describe('a later segment\'s pass (disk/later-segment-reads.source.ts)', () => {
  it('split-segment-tail-stream-read-whole-segment: with farStreamsAside a stream far ahead is read on the side, not by moving the pass through the segment', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const { source, consumed, sha256 } = sourceOver(ref, etag, data.length, { windowBytes: 1024 * 1024, aheadBytes: 512 * 1024, farStreamsAside: true });
    const tail: Buffer[] = [];
    for await (const c of await source.blobStore().openRead(ref, { offset: data.length - 100_000, count: 100_000, ifMatch: etag })) tail.push(c as Buffer);
    expect(Buffer.concat(tail).equals(data.subarray(data.length - 100_000))).toBe(true);
    // The pass did not move: nothing consumed, one side read of the tail.
    expect(consumed.bytes).toBe(0);
    expect(source.counts).toMatchObject({ passBytes: 0, sideReads: 1, sideBytes: 100_000, behindReads: 0 });
    await source.drain();
    expect(sha256()).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('split-segment-head-read-twice: a head already read under the same ETag is hashed first and the pass streams from after it', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const head = Buffer.from(data.subarray(0, 1024 * 1024));
    const { source, sha256 } = sourceOver(ref, etag, data.length, { head });
    expect((await source.readRange(0, 4096)).equals(data.subarray(0, 4096))).toBe(true);
    await source.drain();
    expect(sha256()).toBe(createHash('sha256').update(data).digest('hex'));
    // Only the bytes after the head came from storage.
    expect(source.counts.passBytes).toBe(data.length - head.length);
  });
});

describe('a pass resumed at a saved offset (an unpack continued: UploadPass)', () => {
  /**
   * A pass that reads up to `stopAt` (or a little past: the pass moves by storage's chunks) into a resumable hasher
   * resumed from `from`, saving where it stopped: the offset hashed and the states after exactly those bytes.
   */
  async function passTo(ref: BlobRef, etag: string, size: number, from: { offset: number; states?: HashStates }, stopAt: number | 'end') {
    const hasher = await ResumableMultiHasher.open(from.states);
    let hashed = from.offset;
    const source = new SingleReadSource(blobs, ref, {
      size,
      etag,
      consume: async (chunk) => {
        await hasher.update(chunk);
        hashed += chunk.length;
      },
      ...(from.offset > 0 ? { startOffsetBytes: from.offset } : {}),
    });
    try {
      if (stopAt === 'end') {
        await source.drain();
        return { offset: hashed, states: null, digest: hasher.digest(), counts: source.counts };
      }
      // A stream moves the pass to it however far ahead (a ranged read far ahead would be read on the side).
      if (stopAt > from.offset) for await (const piece of source.openRange(stopAt - 1, 1)) expect((piece as Buffer).length).toBe(1);
      expect(hashed).toBe(source.passed);
      return { offset: hashed, states: hasher.save(), digest: null, counts: source.counts };
    } finally {
      source.close();
    }
  }

  it('digests equal node:crypto\'s whatever the split points: none hashed, one byte, mid-chunk, the last byte, the whole', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 12_345);
    const { ref, etag } = await put(data);
    const expected = {
      md5: createHash('md5').update(data).digest('hex'),
      sha1: createHash('sha1').update(data).digest('hex'),
      sha256: createHash('sha256').update(data).digest('hex'),
    };
    for (const splits of [[0], [1], [0, 0, 1_000_003], [256 * 1024 + 7, 3 * 1024 * 1024 + 1], [data.length - 1], [data.length], [65_537, 2_000_011, 4_500_001]]) {
      let at: { offset: number; states?: HashStates } = { offset: 0 };
      for (const split of splits) {
        const stopped = await passTo(ref, etag, data.length, at, Math.max(split, at.offset));
        expect(stopped.offset).toBeGreaterThanOrEqual(Math.min(split, data.length));
        at = { offset: stopped.offset, states: stopped.states! };
      }
      const last = await passTo(ref, etag, data.length, at, 'end');
      expect(last.offset).toBe(data.length);
      expect(last.digest, `splits ${splits.join(',')}`).toEqual(expected);
      // The resumed pass read from its start offset only.
      expect(last.counts.passBytes).toBe(data.length - at.offset);
    }
  });

  it('reads before the start offset are side reads behind the pass, and the pass consumes nothing of them', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const { ref, etag } = await put(data);
    const consumed: number[] = [];
    const source = new SingleReadSource(blobs, ref, {
      size: data.length,
      etag,
      startOffsetBytes: 2 * 1024 * 1024,
      consume: async (chunk) => {
        consumed.push(chunk.length);
      },
    });
    try {
      expect(Buffer.compare(await source.readRange(1024, 4096), data.subarray(1024, 5120))).toBe(0);
      expect(source.counts).toMatchObject({ passBytes: 0, sideReads: 1, behindReads: 1 });
      await source.drain();
      expect(consumed.reduce((a, b) => a + b, 0)).toBe(data.length - 2 * 1024 * 1024);
      expect(source.counts.passBytes).toBe(data.length - 2 * 1024 * 1024);
    } finally {
      source.close();
    }
    expect(() => new SingleReadSource(blobs, ref, { size: 10, etag, startOffsetBytes: 11, consume: async () => undefined })).toThrow(/bad start/);
  });
});
