import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES, type FileRecord } from '@exhibit/core';
import { IMAGE_SEGMENTS_METADATA } from '../src/disk/image-segments.js';
import { fls, missingTools, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { addArchive, createHarness, sha256, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * A split disk image uploaded as one evidence item, one blob per segment,
 * through the unpack stage (Azurite + PGlite) and the disk parser threads:
 * a split E01 (ewfacquire -S) and a split raw image (split -b). The first
 * segment's unpack reads every segment as one image; its members must equal
 * The Sleuth Kit's `fls -r -p` over the segment files, each member's SHA-256
 * `icat`'s, and the EWF stored hashes must verify over the joined media. The
 * later segments are not unpacked on their own. A missing, truncated or
 * foreign segment fails the image with its named reason.
 */

const missing = missingTools();

describe.skipIf(missing.length > 0)('unpack stage on split disk images (one blob per segment)', () => {
  let h: Harness;
  let dir = '';
  const p = (name: string) => path.join(dir, name);
  const files = (pattern: RegExp) => readdirSync(dir).filter((f) => pattern.test(f)).sort();

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-split-'));
    // 6 MiB FAT16, no partition table: a 2.6 MB incompressible file crosses the segment boundaries.
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'FLAT', p('flat.img'), '6144']);
    const put = (name: string, bytes: Buffer) => {
      writeFileSync(p('payload'), bytes);
      run('mcopy', ['-i', p('flat.img'), p('payload'), `::${name}`]);
    };
    run('mmd', ['-i', p('flat.img'), '::/DCIM']);
    put('/DCIM/IMG_0001.JPG', pseudoRandom(40_000, 21));
    put('/big.bin', pseudoRandom(2_600_000, 20));
    put('/Small file.txt', Buffer.from('small\n'));
    put('/gone.txt', pseudoRandom(5_000, 22));
    run('mdel', ['-i', p('flat.img'), '::/gone.txt']);
    run('ewfacquire', ['-u', '-t', p('flat'), '-c', 'none', '-S', '1MiB', '-d', 'sha1', p('flat.img')]);
    run('split', ['-b', '2500000', '-d', '-a', '3', '--numeric-suffixes=1', p('flat.img'), p('flat.raw.')]);
    // Another image split the same way (another size), for a foreign segment.
    writeFileSync(p('other.img'), pseudoRandom(2_300_000, 23));
    run('ewfacquire', ['-u', '-t', p('other'), '-c', 'none', '-S', '1MiB', p('other.img')]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Stores the segments as one evidence item (the first last, as `exhibit upload` does) and
   * unpacks the first; `data` replaces a segment's bytes (damage), `skip` leaves one out.
   */
  async function unpackSet(names: string[], mime: string, options: { data?: Record<string, Buffer>; declared?: number; beforeUnpack?: (evidenceId: string) => Promise<void> } = {}) {
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const bytesOf = (name: string) => options.data?.[name] ?? readFileSync(p(name));
    const segments: Array<{ name: string; fileId: string }> = [];
    for (const name of [...names].reverse()) {
      const added = await addArchive(h, name, bytesOf(name), { mime, evidenceId });
      segments.unshift({ name, fileId: added.fileId });
    }
    const first = { caseId: 'case-1', evidenceId, fileId: segments[0]!.fileId };
    if (options.declared !== undefined) {
      // What `exhibit upload` records on the first segment: the number of segments in the upload.
      await h.deps.blobs.upload({ container: h.deps.containers.evidence, name: `case-1/${evidenceId}/${names[0]}` }, bytesOf(names[0]!), {
        metadata: { [IMAGE_SEGMENTS_METADATA]: String(options.declared) },
      });
    }
    await options.beforeUnpack?.(evidenceId);
    const outcome = await unpackStage(h.deps, first, h.ctx);
    const members = (await h.index.listChildren(first.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
    const status = await h.index.evidenceStatus(first.caseId, evidenceId);
    const stop = status?.failures.find((f) => f.fileId === first.fileId && f.stage === 'unpack');
    return { first, segments, outcome, members, stop, image: await h.index.getDiskImage(first.fileId) };
  }

  /** Members against TSK over the same segment files: paths (allocated and deleted) and every readable file's SHA-256. */
  function expectEqualToTsk(members: FileRecord[], segmentFiles: string[], imageType?: string) {
    const tsk = fls(segmentFiles.map(p), imageType ? { imageType } : {});
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(tsk.map((e) => e.path));
    let compared = 0;
    for (const [i, entry] of tsk.entries()) {
      const member = members[i]!;
      if (entry.type !== 'r/r' || member.sha256 === null) continue;
      const icat = run('icat', [...(imageType ? ['-i', imageType] : []), ...segmentFiles.map(p), entry.entryId]);
      expect({ path: entry.path, sha256: member.sha256 }).toEqual({ path: entry.path, sha256: sha256(icat) });
      compared += 1;
    }
    return compared;
  }

  it('split E01 (stored chunks, 1 MiB segments): one image over every segment; listing and SHA-256s equal fls/icat; the stored MD5/SHA-1 verify over the joined media', async () => {
    const names = files(/^flat\.E\d\d$/);
    expect(names.length).toBeGreaterThanOrEqual(5);
    const { first, segments, outcome, members, image } = await unpackSet(names, DISK_IMAGE_MIMES.ewf);
    expect(outcome).toMatchObject({ status: 'done' });
    expect(expectEqualToTsk(members, names, 'ewf')).toBeGreaterThanOrEqual(3);
    expect(members.find((m) => m.path.endsWith('!/_one.txt'))?.flags).toContain('deleted');
    const media = readFileSync(p('flat.img'));
    expect(image).toMatchObject({
      format: 'ewf',
      segmentCount: names.length,
      segments: names.map((n) => ({ name: `case-1/${first.evidenceId}/${n}`, size: readFileSync(p(n)).length, etag: expect.any(String) })),
      mediaBytes: media.length,
      integrity: 'verified',
      computedHashes: { md5: createHash('md5').update(media).digest('hex'), sha1: createHash('sha1').update(media).digest('hex'), sha256: sha256(media) },
    });
    // Every segment is named with the image, in order, with its size and the ETag its reads were pinned to.
    const unpacked = h.custody.events.find((e) => e.action === 'unpacked' && e.subject?.fileId === first.fileId);
    expect((unpacked?.details['segments'] as Array<{ name: string }>).map((s) => s.name.split('/').pop())).toEqual(names);
    // The later segments are read by the first's unpack, not on their own.
    const second = await unpackStage(h.deps, { ...first, fileId: segments[1]!.fileId }, h.ctx);
    expect(second).toMatchObject({ status: 'done', summary: { memberCount: 0 } });
    const secondUnpacked = h.custody.events.find((e) => e.action === 'unpacked' && e.subject?.fileId === segments[1]!.fileId);
    expect(secondUnpacked?.details).toMatchObject({ memberCount: 0, imageSegmentOf: `case-1/${first.evidenceId}/${names[0]}`, firstSegmentReceived: true });
    expect(await h.index.listChildren(segments[1]!.fileId)).toEqual([]);
    // A later segment reaching unpack before its first segment is uploaded (the CLI sends the first last) is not unpacked alone, nor failed.
    const early = await addArchive(h, names[2]!, readFileSync(p(names[2]!)), { mime: DISK_IMAGE_MIMES.ewf });
    expect(await unpackStage(h.deps, early, h.ctx)).toMatchObject({ status: 'done', summary: { memberCount: 0 } });
    expect(h.custody.events.find((e) => e.action === 'unpacked' && e.subject?.fileId === early.fileId)?.details).toMatchObject({
      imageSegmentOf: `case-1/${early.evidenceId}/${names[0]}`,
      firstSegmentReceived: false,
    });
  }, 120_000);

  it('regression: a declared lettered segment (card.EAA) reaching unpack before E01 and E99 is a later segment, not unpacked alone as a failed image', async () => {
    const e02 = files(/^flat\.E\d{2}$/)[1]!;
    const early = await addArchive(h, 'card.EAA', readFileSync(p(e02)), { mime: DISK_IMAGE_MIMES.ewf });
    // The manifest names E01 … E99, EAA (only the names matter to the routing; the API validated the set).
    const stems = [...Array.from({ length: 99 }, (_, i) => `E${String(i + 1).padStart(2, '0')}`), 'EAA'];
    const firstBlobName = `case-1/${early.evidenceId}/card.E01`;
    await h.index.declareSegmentManifest(
      stems.map((ext, i) => ({
        caseId: 'case-1', evidenceId: early.evidenceId, fileName: `card.${ext}`, size: 1_048_576, blobName: `case-1/${early.evidenceId}/card.${ext}`,
        firstBlobName, position: i + 1, declaredBy: 'examiner-1',
      })),
    );
    expect(await unpackStage(h.deps, early, h.ctx)).toMatchObject({ status: 'done', summary: { memberCount: 0 } });
    expect(h.custody.events.find((e) => e.action === 'unpacked' && e.subject?.fileId === early.fileId)?.details).toMatchObject({ imageSegmentOf: firstBlobName, firstSegmentReceived: false });
    expect(await h.index.listChildren(early.fileId)).toEqual([]);
  }, 120_000);

  it('split raw (.001 …): listing and SHA-256s equal fls/icat over the pieces; a file inside the first segment is a span of its blob', async () => {
    const names = files(/^flat\.raw\.\d{3}$/);
    expect(names).toHaveLength(3);
    const { outcome, members, image } = await unpackSet(names, DISK_IMAGE_MIMES.raw);
    expect(outcome).toMatchObject({ status: 'done' });
    expect(expectEqualToTsk(members, names)).toBeGreaterThanOrEqual(3);
    expect(image).toMatchObject({ format: 'split-raw', segmentCount: 3, mediaBytes: readFileSync(p('flat.img')).length });
    const photo = members.find((m) => m.path.endsWith('!/DCIM/IMG_0001.JPG'))!;
    expect(photo.source).toMatchObject({ container: h.deps.containers.evidence, name: expect.stringMatching(/flat\.raw\.001$/), offset: expect.any(Number) });
    const first = readFileSync(p(names[0]!));
    expect(first.subarray(photo.source!.offset!, photo.source!.offset! + photo.size!).equals(pseudoRandom(40_000, 21))).toBe(true);
    // big.bin crosses the first boundary: read through the reader and copied, never a span of one segment's blob.
    const big = members.find((m) => m.path.endsWith('!/big.bin'))!;
    expect(big.source?.offset).toBeUndefined();
  }, 120_000);

  it('ewf-truncated-segment-refuses-whole-image: the upload of a set with segment 3 cut lists every file; the files in the lost part fail typed, the rest equal icat over the whole set; the stored hashes are reported uncheckable', async () => {
    const ewf = files(/^flat\.E\d\d$/);
    const cut = readFileSync(p(ewf[2]!)).subarray(0, 300_000);
    const { first, outcome, members, image } = await unpackSet(ewf, DISK_IMAGE_MIMES.ewf, { data: { [ewf[2]!]: cut } });
    expect(outcome).toMatchObject({ status: 'done' });
    const whole = fls(ewf.map(p));
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(whole.map((e) => e.path));
    // big.bin (2.6 MB from near the start) runs through segment 3's lost chunks: its member fails, naming why.
    const big = members.find((m) => m.path.endsWith('!/big.bin'))!;
    expect(big.sha256).toBeNull();
    expect(big.failure).toMatchObject({ code: 'corrupt-file', detail: expect.stringMatching(/EWF chunk \d+ .*EWF segment 3: .*truncated.*\[segment-truncated\]/) });
    // Every other file either reads as from the whole set (IMG_0001.JPG, in segment 1) or fails so: none is read wrong.
    const read: string[] = [];
    for (const [i, entry] of whole.entries()) {
      if (entry.type !== 'r/r' || members[i]!.size === 0) continue;
      if (members[i]!.sha256 === null) expect(members[i]!.failure?.detail, entry.path).toMatch(/\[segment-truncated\]/);
      else {
        expect(members[i]!.sha256, entry.path).toBe(sha256(run('icat', [...ewf.map(p), entry.entryId])));
        read.push(entry.path);
      }
    }
    expect(read).toContain('DCIM/IMG_0001.JPG');
    expect(image).toMatchObject({ integrity: 'failed', computedHashes: null, integrityDetail: expect.stringMatching(/the media is incomplete \(EWF segment 3: .*truncated \[segment-truncated\]\)/) });
    // Media the image itself shows is not what was acquired: flagged and in custody, as a chunk failing its checksum is.
    expect((await h.index.getFile(first.fileId))!.flags).toContain('image-media-damaged');
    expect(h.custody.events.filter((e) => e.action === 'image-media-damaged' && e.subject?.fileId === first.fileId)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ integrity: 'failed', computed: null, detail: image!.integrityDetail }) }),
    ]);
  }, 120_000);

  it('single-segment-e01-cut-in-sectors-section-loses-every-chunk: the upload of a one-segment E01 cut inside its only sectors section lists every file through the disk parser threads; the files before the cut equal icat over the uncut E01, the rest fail typed', async () => {
    // One segment, compressed: its chunks are in one sectors section located by the table after it, lost with the cut.
    // Before the walk the unpack failed whole ("EWF chunk 0 … [segment-truncated]"); now the section is walked.
    run('ewfacquire', ['-u', '-t', p('single'), '-c', 'fast', p('flat.img')]);
    const cut = readFileSync(p('single.E01')).subarray(0, 1_500_000);
    const { first, outcome, members, image } = await unpackSet(['single.E01'], DISK_IMAGE_MIMES.ewf, { data: { 'single.E01': cut } });
    expect(outcome).toMatchObject({ status: 'done' });
    const whole = fls([p('single.E01')]);
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(whole.map((e) => e.path));
    const read: string[] = [];
    for (const [i, entry] of whole.entries()) {
      if (entry.type !== 'r/r' || members[i]!.size === 0) continue;
      if (members[i]!.sha256 === null) {
        expect(members[i]!.failure?.detail, entry.path).toMatch(/the walk of segment 1's cut sectors section .*\[segment-truncated\]/);
      } else {
        expect(members[i]!.sha256, entry.path).toBe(sha256(run('icat', [p('single.E01'), entry.entryId])));
        read.push(entry.path);
      }
    }
    expect(read).toContain('DCIM/IMG_0001.JPG');
    expect(members.find((m) => m.path.endsWith('!/big.bin'))!.sha256).toBeNull();
    expect(image).toMatchObject({ integrity: 'failed', computedHashes: null, integrityDetail: expect.stringMatching(/the media is incomplete \(EWF segment 1: section 'sectors' .*\[segment-truncated\]\)/) });
    expect((await h.index.getFile(first.fileId))!.flags).toContain('image-media-damaged');
  }, 120_000);

  it('split-raw-short-middle-segment-refused: the upload of a split raw set whose piece 2 lost its tail lists every file; those needing the lost range fail typed, the rest equal icat over the whole image; flagged and in custody as damaged media', async () => {
    // Pieces of 1250000 (six): at least two full pieces before the last attest the size (with three, only the first
    // would: split-raw-three-pieces-short-middle-read-at-guessed-offset). Piece 2 keeps 100000: media bytes 1350000 to
    // 2500000 are lost, inside big.bin.
    run('split', ['-b', '1250000', '-d', '-a', '3', '--numeric-suffixes=1', p('flat.img'), p('sixth.raw.')]);
    const raw = files(/^sixth\.raw\.\d{3}$/);
    expect(raw).toHaveLength(6);
    const cut = readFileSync(p(raw[1]!)).subarray(0, 100_000);
    const { first, outcome, members, image, stop } = await unpackSet(raw, DISK_IMAGE_MIMES.raw, { data: { [raw[1]!]: cut } });
    // Before: the unpack failed corrupt-file "segment 2 … holds 100000 bytes, the first holds 1250000 … [segment-truncated]", no member.
    expect(stop).toBeUndefined();
    expect(outcome).toMatchObject({ status: 'done' });
    const whole = fls([p('flat.img')]);
    expect(members.map((m) => m.path.split('!/')[1])).toEqual(whole.map((e) => e.path));
    const big = members.find((m) => m.path.endsWith('!/big.bin'))!;
    expect(big.sha256).toBeNull();
    expect(big.failure).toMatchObject({ code: 'corrupt-file', detail: expect.stringMatching(/media bytes \d+ to \d+ are not in the segments given: segment 2 of .*sixth\.raw\.001 .* \(media bytes 1350000 to 2500000\).*\[segment-truncated\]/) });
    // Every other file reads as from the whole image (icat over flat.img, never shifted) or fails so.
    const read: string[] = [];
    for (const [i, entry] of whole.entries()) {
      if (entry.type !== 'r/r' || members[i]!.size === 0) continue;
      if (members[i]!.sha256 === null) expect(members[i]!.failure?.detail, entry.path).toMatch(/\[segment-truncated\]/);
      else {
        expect(members[i]!.sha256, entry.path).toBe(sha256(run('icat', [p('flat.img'), entry.entryId])));
        read.push(entry.path);
      }
    }
    expect(read).toContain('DCIM/IMG_0001.JPG');
    expect(image).toMatchObject({
      format: 'split-raw',
      mediaBytes: readFileSync(p('flat.img')).length,
      integrity: 'failed',
      computedHashes: null,
      integrityDetail: expect.stringMatching(/^the media is incomplete \(segment 2 of .*sixth\.raw\.002\) holds 100000 bytes.*\[segment-truncated\]\)$/),
    });
    expect((await h.index.getFile(first.fileId))!.flags).toContain('image-media-damaged');
    expect(h.custody.events.filter((e) => e.action === 'image-media-damaged' && e.subject?.fileId === first.fileId)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ format: 'split-raw', integrity: 'failed', stored: null, computed: null, detail: image!.integrityDetail }) }),
    ]);
  }, 120_000);

  it('hostile sets: a missing middle segment, a truncated segment, a segment of another image, a segment changed after receipt, fewer segments than declared are typed failures with the named reason', async () => {
    const ewf = files(/^flat\.E\d\d$/);
    const raw = files(/^flat\.raw\.\d{3}$/);
    const expectStop = (result: Awaited<ReturnType<typeof unpackSet>>, reason: string, detail: RegExp) => {
      expect(result.outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
      expect(result.stop?.detail).toMatch(detail);
      expect(result.stop?.detail).toContain(`[${reason}]`);
      expect(result.members).toEqual([]);
    };
    expectStop(await unpackSet([ewf[0]!, ewf[1]!, ...ewf.slice(3)], DISK_IMAGE_MIMES.ewf), 'segment-missing', /segment 3 of .*flat\.E01 is not in the evidence item/);
    expectStop(await unpackSet([raw[0]!, raw[2]!], DISK_IMAGE_MIMES.raw), 'segment-missing', /segment 2 of .*flat\.raw\.001 is not in the evidence item/);
    // Raw pieces not consistent with one lost tail (the last longer than the first): refused. (A middle piece cut short
    // is read with its lost range failing: split-raw-short-middle-segment-refused.)
    // Three pieces, the middle one short: the first alone attests the piece size, refused
    // (split-raw-three-pieces-short-middle-read-at-guessed-offset).
    const rawCut = readFileSync(p(raw[1]!)).subarray(0, 1_000_000);
    expectStop(await unpackSet(raw, DISK_IMAGE_MIMES.raw, { data: { [raw[1]!]: rawCut } }), 'segment-truncated', /segment 2 of .*flat\.raw\.001 .* holds 1000000 bytes, the first holds 2500000: only the last may be shorter/);
    const rawLong = Buffer.concat([readFileSync(p(raw[2]!)), Buffer.alloc(2_500_001 - readFileSync(p(raw[2]!)).length)]);
    expectStop(await unpackSet(raw, DISK_IMAGE_MIMES.raw, { data: { [raw[2]!]: rawLong } }), 'segment-truncated', /the last segment of .*flat\.raw\.001 .* holds 2500001 bytes; a split image's last segment holds 1 to 2500000/);
    const foreign = readFileSync(p('other.E02'));
    expectStop(await unpackSet(ewf, DISK_IMAGE_MIMES.ewf, { data: { [ewf[1]!]: foreign } }), 'segment-from-another-image', /EWF segment 2 is from another image/);
    // A segment received (and hashed) as one blob, then overwritten: the image is not read from the replacement.
    const received = async (evidenceId: string) => {
      const blobName = `case-1/${evidenceId}/${ewf[1]}`;
      await h.index.recordUpload({
        caseId: 'case-1', evidenceId, blobName, fileName: ewf[1]!, rootFileId: `received-${evidenceId}`, size: 1, etag: '"0xRECEIVED"',
        versionId: null, contentType: null, lastModified: new Date(0).toISOString(), acquisition: {},
      });
    };
    expectStop(await unpackSet(ewf, DISK_IMAGE_MIMES.ewf, { beforeUnpack: received }), 'segment-changed-after-receipt', /segment 2 of .*flat\.E01 .* changed after it was received/);
    expectStop(await unpackSet(ewf, DISK_IMAGE_MIMES.ewf, { declared: ewf.length + 1 }), 'segment-missing', new RegExp(`segment ${ewf.length + 1} of .* is not in the evidence item \\(the upload declared ${ewf.length + 1} segments\\)`));
  }, 180_000);
});
