import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isExhibitError, type BlobStore } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { isMediaDamage } from '../src/disk/disk-image.record.js';
import { openDiskImageReader } from '../src/disk/disk-image.reader.js';
import { hasTool, SECTOR } from '../src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard, offsetInImage, tamperEwfMedia } from '../src/disk/test-support/memory-card.builder.js';

/** A member's data-error as the disk parser thread sends it (disk-image.worker.ts), read on the main thread (disk-image.reader.ts). */

const missing = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].filter((t) => !hasTool(t));

describe.skipIf(missing.length > 0)('member data-error across the disk parser thread', () => {
  let dir = '';
  let blobs: BlobStore;
  const container = `evidence-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-member-data-error-'));
    blobs = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    await blobs.ensureContainer(container);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('member-data-error-details-lost-from-parser-thread: a photo over an EWF chunk failing its Adler-32 fails with the chunk\'s details (media-chunk-damaged), as the thread raised it', async () => {
    const photo = { path: 'DCIM/100MEDIA/IMG_0001.JPG', bytes: Buffer.alloc(200_000, 0x5a), modified: new Date('2025-06-01T14:30:10Z') };
    // Far into the photo, so the damaged chunk holds none of the directory clusters in front of its data.
    photo.bytes.write('damaged here', 150_000);
    const card = buildMemoryCard(dir, [photo], [], { compression: 'none' });
    const damaged = path.join(dir, 'damaged.E01');
    tamperEwfMedia(card.e01, card.raw, damaged, offsetInImage(card.raw, Buffer.from('damaged here')) + 3, 64 * SECTOR, { checksum: 'left-broken' });
    const data = readFileSync(damaged);
    const ref = { container, name: 'damaged.E01' };
    await blobs.upload(ref, data);
    const reader = await openDiskImageReader(blobs, ref, data.length, { size: data.length, maxEntryNameBytes: 1024, hashMediaInListing: false });
    let failure: unknown = null;
    for await (const entry of reader.entries()) {
      if (entry.name !== 'IMG_0001.JPG') continue;
      try {
        const stream = await entry.open();
        for await (const chunk of stream) void chunk;
      } catch (err) {
        failure = err;
      }
    }
    // The volume was listed in full: only the photo's data lies in the damaged chunk.
    expect(reader.volumes().map((v) => [v.index, v.problem?.message ?? null])).toEqual([[0, null]]);
    expect(isExhibitError(failure) && failure.message).toMatch(/EWF chunk \d+: Adler-32 mismatch/);
    // Before: the data-error carried only code and message; the reason the image's record reads was gone.
    expect(isExhibitError(failure) && failure.details).toEqual({ reason: 'media-chunk-damaged' });
    expect(isMediaDamage(failure)).toBe(true);
  }, 60_000);
});
