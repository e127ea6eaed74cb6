import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, isExhibitError } from '@exhibit/core';
import { FileByteSource } from './byte-source.js';
import { isMediaDamage } from './disk-image.record.js';
import { incompleteMediaDetail, storesHashes } from './disk-image.tasks.js';
import { EwfImage, segmentError } from './ewf-image.container.js';
import { hasTool, SECTOR } from './test-support/disk-image.builder.js';
import { buildMemoryCard, offsetInImage, tamperEwfMedia } from './test-support/memory-card.builder.js';

/** Which errors ending the stored-hash check are damaged media (custody image-media-damaged, the finding) and which are not. */

const missing = ['mkfs.fat', 'mmd', 'mcopy', 'ewfacquire'].filter((t) => !hasTool(t));

describe.skipIf(missing.length > 0)('stored-hash check: media damage', { timeout: 60_000 }, () => {
  let dir = '';
  let e01 = '';
  let raw = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-media-damage-'));
    const photo = { path: 'DCIM/100MEDIA/IMG_0001.JPG', bytes: Buffer.alloc(200_000, 0x5a), modified: new Date('2025-06-01T14:30:10Z') };
    photo.bytes.write('photo bytes', 1000);
    const card = buildMemoryCard(dir, [photo], [], { compression: 'none' });
    e01 = card.e01;
    raw = card.raw;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function readWhole(file: string): Promise<unknown> {
    const source = await FileByteSource.open(file);
    try {
      const image = await EwfImage.open([source]);
      for (let at = 0; at < image.size; at += 1024 * 1024) await image.read(at, Math.min(1024 * 1024, image.size - at));
      return null;
    } catch (err) {
      return err;
    } finally {
      await source.close();
    }
  }

  it('ewf-media-hash-inconsistency-recorded-as-damaged: only a chunk failing its Adler-32 (or inflate) is damaged media; the check\'s own inconsistency and a segment error are not', async () => {
    const damaged = path.join(dir, 'damaged.E01');
    const at = offsetInImage(raw, Buffer.from('photo bytes')) + 3;
    tamperEwfMedia(e01, raw, damaged, at, 64 * SECTOR, { checksum: 'left-broken' });
    const chunk = await readWhole(damaged);
    expect(isExhibitError(chunk) && chunk.message).toBe(`EWF chunk ${Math.floor(at / (64 * SECTOR))}: Adler-32 mismatch`);
    expect(isMediaDamage(chunk)).toBe(true);
    // What a chunk error keeps across the parser thread: its code, message and details (core/threads/wire.ts).
    const wired = chunk as ExhibitError;
    expect(isMediaDamage(new ExhibitError(wired.code, wired.message, wired.details ? { details: structuredClone(wired.details) } : {}))).toBe(true);
    expect(await readWhole(e01)).toBeNull();
    // resumable-image-check.ts: the hash took fewer bytes than the media holds, an inconsistency of the check, not of the media.
    expect(isMediaDamage(new ExhibitError('corrupt-file', `the media hash took 1048576 of ${readFileSync(raw).length} bytes`))).toBe(false);
    expect(isMediaDamage(segmentError('segment-truncated', 'EWF segment 2 is shorter than its sections say'))).toBe(false);
  });
});

describe('incomplete media wording', () => {
  it('incomplete-ewf-without-stored-hash-says-hashes-uncheckable: an EWF image storing no MD5 or SHA-1 is never said to have stored hashes that cannot be checked', () => {
    const lost = [{ reason: 'segment-truncated' as const, message: 'EWF segment 2 is shorter than its sections say' }];
    // Before: the record and `exhibit image ls` asked "is it EWF?" ({ storedHashes: ewf !== undefined }), true here.
    expect(incompleteMediaDetail(lost, { storedHashes: storesHashes({ storedHashes: {} }) })).toBe(
      'the media is incomplete (EWF segment 2 is shorter than its sections say [segment-truncated])',
    );
    expect(incompleteMediaDetail(lost, { storedHashes: storesHashes({ storedHashes: { sha1: 'a'.repeat(40) } }) })).toMatch(/^the stored hashes cannot be checked: the media is incomplete/);
    expect(storesHashes(undefined)).toBe(false);
    expect(storesHashes({ storedHashes: { md5: 'b'.repeat(32) } })).toBe(true);
  });
});
