import { afterAll, describe, expect, it } from 'vitest';
import { isExhibitError, LIMITS, type ExhibitErrorCode } from '@exhibit/core';
import { createMediaTools, type MediaTools } from './index.js';
import { closeParsePool } from './sandbox/parse.pool.js';
import { BufferSource } from './test-support/buffer.source.js';
import { ascii, buildExif, TAGS, withExifSegment } from './test-support/exif.builder.js';
import { twoToneJpeg } from './test-support/fixtures.js';
import {
  heicManyTinyBoxesBeforeMeta,
  heicSelfReferencingMeta,
  heicZeroLengthBoxAfterFtyp,
  jpegManyAppSegmentsBeforeExif,
  tiffHugeValueCounts,
  tiffIfdLoopBackToIfd0,
  tiffOverlappingValueArrays,
} from './test-support/hostile.builders.js';

/**
 * Crafted files through the adapters the stages use: each is identified,
 * read for metadata and thumbnailed, and each ends in a result or a typed
 * failure of that file (before parsers ran in threads, the first one stopped
 * the whole host: its loop held the event loop, so not even a timeout could
 * fire). After every file, a sound one is still served. The parser threads
 * themselves (budget, heap limit, replacement) are tested in
 * packages/core/src/threads/deadline-pool.test.ts and sandbox/stock-exifr.deadline.test.ts.
 */

const tools: MediaTools = createMediaTools({});
afterAll(() => closeParsePool());

/** Failures a crafted file may end in: its own, never the process's. */
const FILE_FAILURES: ExhibitErrorCode[] = ['corrupt-file', 'unsupported-format', 'decode-failed', 'limit-exceeded', 'parse-timeout', 'parse-crashed'];

async function outcome<T>(work: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, value: await work };
  } catch (err) {
    if (!isExhibitError(err)) throw err;
    expect(FILE_FAILURES).toContain(err.code);
    return { ok: false, code: err.code, message: err.message };
  }
}

/** The next file after a hostile one: a sound JPEG, fully served. */
async function servesASoundFile(): Promise<void> {
  const jpeg = withExifSegment(await twoToneJpeg(200, 100), buildExif({ ifd0: { [TAGS.Make]: ascii('Canon') } }));
  const source = new BufferSource(jpeg, 'next.jpg');
  expect(await tools.identifier.identify(source)).toMatchObject({ mime: 'image/jpeg', kind: 'image' });
  expect((await tools.metadata.image(source)).make).toBe('Canon');
  expect((await tools.thumbnailer.image(source, { mime: 'image/jpeg' })).from).toBe('image');
}

describe('crafted files fail only themselves', () => {
  it('regression: heic-zero-length-box-after-ftyp-hangs-event-loop (80 bytes) — identified, no metadata, thumbnail decode-failed, the same reason every run', async () => {
    const file = heicZeroLengthBoxAfterFtyp();
    const source = new BufferSource(file, 'IMG_0001.HEIC');
    expect(await tools.identifier.identify(source)).toMatchObject({ mime: 'image/heic', kind: 'image' });

    const metadata = await tools.metadata.image(source);
    expect(metadata).toEqual({ raw: {} });
    // The main thread served the parser thread's reads meanwhile.
    expect(source.reads.length).toBeGreaterThan(0);

    // The old fallback (exifr.orientation() on the main thread) never returned from here.
    const first = await outcome(tools.thumbnailer.image(source, { mime: 'image/heic' }));
    const second = await outcome(tools.thumbnailer.image(new BufferSource(file, 'IMG_0001.HEIC'), { mime: 'image/heic' }));
    expect(first).toMatchObject({ ok: false, code: 'decode-failed' });
    expect(second).toEqual(first);
    await servesASoundFile();
  });

  it('heic-meta-larger-than-file-with-self-referencing-iloc: bounded, no metadata', async () => {
    const file = heicSelfReferencingMeta();
    const metadata = await outcome(tools.metadata.image(new BufferSource(file, 'x.heic')));
    expect(metadata).toMatchObject({ ok: true, value: { raw: {} } });
    expect(await outcome(tools.thumbnailer.image(new BufferSource(file, 'x.heic'), { mime: 'image/heic' }))).toMatchObject({ ok: false });
    await servesASoundFile();
  });

  it('heic-100000-empty-boxes-before-meta: the box walk gives up after a bounded number of boxes', async () => {
    const file = heicManyTinyBoxesBeforeMeta(100_000);
    const source = new BufferSource(file, 'x.heic');
    expect(await outcome(tools.metadata.image(source))).toMatchObject({ ok: true, value: { raw: {} } });
    // Only the head of the file was read, not 800 KB of empty boxes.
    expect(source.highestOffsetRead).toBeLessThan(file.length);
    await servesASoundFile();
  });

  it('tiff-ifd-loop-back-to-ifd0: the directories are read once each, the tags come out', async () => {
    const file = tiffIfdLoopBackToIfd0();
    const metadata = await outcome(tools.metadata.image(new BufferSource(file, 'loop.tif')));
    expect(metadata).toMatchObject({ ok: true, value: { make: 'Loop', orientation: 6 } });
    expect(await tools.identifier.identify(new BufferSource(file, 'loop.tif'))).toMatchObject({ mime: 'image/tiff' });
    expect(await outcome(tools.thumbnailer.image(new BufferSource(file, 'loop.tif'), { mime: 'image/tiff' }))).toMatchObject({ ok: false });
    await servesASoundFile();
  });

  it('tiff-huge-value-counts: counts near 2^32 are refused, recorded as a parse error, the same every run', async () => {
    const file = tiffHugeValueCounts();
    const a = await outcome(tools.metadata.image(new BufferSource(file, 'huge.tif')));
    const b = await outcome(tools.metadata.image(new BufferSource(file, 'huge.tif')));
    expect(a.ok).toBe(true);
    expect(b).toEqual(a);
    expect(await outcome(tools.thumbnailer.image(new BufferSource(file, 'huge.tif'), { mime: 'image/tiff' }))).toMatchObject({ ok: false });
    await servesASoundFile();
  });

  it("tiff-200-tags-sharing-7000-rationals: 1.4 million parsed values from 60 KB, more than a parser thread hands over, is 'limit-exceeded'", async () => {
    const file = tiffOverlappingValueArrays(200, 7000);
    expect(file.length).toBeLessThan(64 * 1024);
    const a = await outcome(tools.metadata.image(new BufferSource(file, 'many.tif')));
    expect(a).toEqual({ ok: false, code: 'limit-exceeded', message: 'image metadata holds more than 1000000 values' });
    await servesASoundFile();
  });

  it('jpeg-200000-app-segments-before-exif: the Exif segment past them is still found, within the read limit', async () => {
    const file = jpegManyAppSegmentsBeforeExif(200_000, buildExif({ ifd0: { [TAGS.Make]: ascii('Deep') } }));
    const source = new BufferSource(file, 'deep.jpg');
    expect(await outcome(tools.metadata.image(source))).toMatchObject({ ok: true, value: { make: 'Deep' } });
    expect(source.highestOffsetRead).toBeLessThanOrEqual(LIMITS.maxMetadataBytes);
    expect(await tools.identifier.identify(new BufferSource(file, 'x.jpg'))).toMatchObject({ mime: 'image/jpeg' });
    await servesASoundFile();
  });
});
