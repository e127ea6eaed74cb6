import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES, LIMITS, segmentListCanonicalJson, segmentListSha256 } from '@exhibit/core';
import { CUSTODY_LIMITS, type CustodyLog } from '@exhibit/custody';
import { missingTools, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { addArchive, createHarness, sha256, unpackStage, useRealCustody, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression many-segment-image-custody-refused: a split image's `unpacked` and
 * `image-hash-*` custody entries listed every segment, and the custody log refuses an
 * entry over 64 KiB (`limit-exceeded`): 1,400 segments (a 2 TB disk in FTK's 1.5 GB
 * segments) or 25 segments named with 1,000 CJK characters made the entry unrecordable,
 * the unpack retried and dead-lettered, and the image's custody was lost. Through the
 * unpack stage with the real custody writer (Azurite append blobs, PGlite): past
 * LIMITS.maxCustodySegmentListBytes the entries record the count, the SHA-256 of the
 * whole list (recomputable from disk_images.segments) and the first and last names.
 */

const missing = missingTools();
const cjk = (chars: number, seed: number) => {
  const bytes = pseudoRandom(chars * 2, seed);
  return Array.from({ length: chars }, (_, i) => String.fromCodePoint(0x4e00 + (bytes.readUInt16LE(i * 2) % 20_000))).join('');
};

describe.skipIf(missing.length > 0)('custody of a split image with many segments (regression many-segment-image-custody-refused)', () => {
  let h: Harness;
  let custody: CustodyLog;
  let dir = '';
  const p = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-many-segments-'));
    // The real writer, with its 64 KiB limit, in place of the recording one.
    custody = await useRealCustody(h, inject('storageConnectionString'), p('key'));
    // 1,400 KiB FAT12 with a photo in it; split -b 1 KiB: 1,400 raw segments.
    run('mkfs.fat', ['-C', '-F', '12', '-n', 'MANY', p('many.img'), '1400']);
    writeFileSync(p('payload'), pseudoRandom(30_000, 31));
    run('mcopy', ['-i', p('many.img'), p('payload'), '::/IMG_0001.JPG']);
    run('split', ['-b', '1024', '-d', '-a', '4', '--numeric-suffixes=1', p('many.img'), p('many.raw.')]);
    // 24 MiB FAT16 acquired in 1 MiB EWF segments (about 25).
    run('mkfs.fat', ['-C', '-F', '16', '-n', 'LONG', p('long.img'), String(24 * 1024)]);
    run('mcopy', ['-i', p('long.img'), p('payload'), '::/IMG_0002.JPG']);
    run('ewfacquire', ['-u', '-t', p('long'), '-c', 'none', '-S', '1MiB', '-d', 'sha1', p('long.img')]);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The set as one evidence item (later segments first, as `exhibit upload` sends them), the first unpacked. */
  async function unpackSet(files: string[], blobNames: string[], mime: string) {
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    for (let i = files.length - 1; i > 0; i -= 1) {
      await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: `case-1/${evidenceId}/${blobNames[i]}` }, readFileSync(p(files[i]!)));
    }
    const first = await addArchive(h, blobNames[0]!, readFileSync(p(files[0]!)), { mime, evidenceId });
    const outcome = await unpackStage(h.deps, first, h.ctx);
    const entries = await custody.entries({ caseId: 'case-1', fileId: first.fileId });
    return { first, outcome, entries, image: await h.index.getDiskImage(first.fileId), members: await h.index.listChildren(first.fileId) };
  }

  /** The digest form, checked against the whole list the index keeps. */
  function expectDigestForm(details: Record<string, unknown>, segments: Array<{ name: string; size: number; etag: string | null }>) {
    expect(details['segments']).toBeUndefined();
    expect(details).toMatchObject({
      segmentCount: segments.length,
      segmentListSha256: sha256(Buffer.from(segmentListCanonicalJson(segments), 'utf8')),
      firstSegments: expect.arrayContaining([segments[0]!.name]),
      lastSegments: expect.arrayContaining([segments.at(-1)!.name]),
    });
    expect((details['firstSegments'] as string[]).every((n, i) => n === segments[i]!.name)).toBe(true);
  }

  it('1,400 short-named raw segments: unpacked, its entry recorded with the count and SHA-256 of the list the index keeps whole', async () => {
    const files = readdirSync(dir).filter((f) => /^many\.raw\.\d{4}$/.test(f)).sort();
    expect(files).toHaveLength(1_400);
    // Azure's 4-digit names stop at .9999; these are .0001 … .1400.
    const { first, outcome, entries, image, members } = await unpackSet(files, files, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'done' });
    expect(members.map((m) => m.path.split('!/')[1])).toContain('IMG_0001.JPG');
    expect(image?.segments).toHaveLength(1_400);
    expect(image?.segments.map((s) => s.name)).toEqual(files.map((f) => `case-1/${first.evidenceId}/${f}`));
    const unpacked = entries.find((e) => e.action === 'unpacked');
    expect(unpacked).toBeDefined();
    expectDigestForm(unpacked!.details, image!.segments);
    expect(unpacked!.details['segmentListSha256']).toBe(segmentListSha256(image!.segments));
    expect(Buffer.byteLength(JSON.stringify(unpacked!.details))).toBeLessThan(CUSTODY_LIMITS.maxEntryBytes);
  }, 300_000);

  it('25 EWF segments named with 1,000 CJK characters: unpacked and hash-verified entries recorded in digest form; the stored hashes verify', async () => {
    const files = readdirSync(dir).filter((f) => /^long\.E\d\d$/.test(f)).sort();
    expect(files.length).toBeGreaterThanOrEqual(22);
    const stem = cjk(1_000, 7);
    const blobNames = files.map((f) => `${stem}${f.slice('long'.length)}`);
    expect(`case-1/ev-00000000/${blobNames[0]}`.length).toBeLessThanOrEqual(LIMITS.maxBlobNameChars);
    const { outcome, entries, image } = await unpackSet(files, blobNames, DISK_IMAGE_MIMES.ewf);
    expect(outcome).toMatchObject({ status: 'done' });
    expect(image).toMatchObject({ format: 'ewf', integrity: 'verified', segmentCount: files.length });
    expect(image?.segments).toHaveLength(files.length);
    const unpacked = entries.find((e) => e.action === 'unpacked');
    const verified = entries.find((e) => e.action === 'image-hash-verified');
    expect(unpacked).toBeDefined();
    expect(verified).toBeDefined();
    expectDigestForm(unpacked!.details, image!.segments);
    expectDigestForm(verified!.details, image!.segments);
  }, 300_000);

  it('a few segments keep the whole list, as before', async () => {
    const few = ['few.raw.001', 'few.raw.002', 'few.raw.003'];
    const img = readFileSync(p('many.img'));
    const third = Math.ceil(img.length / 3 / 512) * 512;
    few.forEach((f, i) => writeFileSync(p(f), img.subarray(i * third, (i + 1) * third)));
    const { first, outcome, entries, image } = await unpackSet(few, few, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'done' });
    const unpacked = entries.find((e) => e.action === 'unpacked');
    expect(unpacked?.details['segments']).toEqual(image!.segments);
    expect((unpacked?.details['segments'] as Array<{ name: string }>).map((s) => s.name)).toEqual(few.map((f) => `case-1/${first.evidenceId}/${f}`));
    expect(unpacked?.details['segmentListSha256']).toBeUndefined();
  }, 120_000);
});
