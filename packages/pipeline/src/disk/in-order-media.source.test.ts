import { describe, expect, it } from 'vitest';
import { ExhibitError } from '@exhibit/core';
import { functionSource } from './byte-source.js';
import { InOrderMediaSource, MEDIA_FEED_BYTES } from './in-order-media.source.js';

const SIZE = 3 * MEDIA_FEED_BYTES + 12_345;
const media = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += 1) media[i] = (i * 7 + (i >> 11)) & 0xff;

/** The media, with reads of `bad` failing as a corrupt chunk would; counts the bytes read. */
function source(bad?: { from: number; to: number }) {
  const read = { bytes: 0 };
  const src = functionSource(SIZE, async (offset, length) => {
    if (bad && offset < bad.to && offset + length > bad.from) throw new ExhibitError('corrupt-file', 'EWF chunk 9: Adler-32 mismatch');
    read.bytes += length;
    return media.subarray(offset, offset + length);
  });
  return { src, read };
}

function feed(src: ReturnType<typeof source>['src'], from = 0) {
  const fed: Buffer[] = [];
  const offsets: number[] = [];
  const media = new InOrderMediaSource(src, from, async (offset, bytes) => {
    offsets.push(offset);
    fed.push(Buffer.from(bytes));
  });
  return { media, fed: () => Buffer.concat(fed), offsets };
}

describe('InOrderMediaSource (the stored-hash check fed as the listing reads)', () => {
  it('member data read in media order feeds the whole of it once, in order; structure reads move nothing', async () => {
    const { src } = source();
    const { media: m, fed, offsets } = feed(src);
    await m.read(SIZE - 512, 512); // a structure at the end (a backup boot sector): not followed
    m.following = true;
    for (let at = 0; at < SIZE; at += 300_000) expect(Buffer.from(await m.read(at, Math.min(300_000, SIZE - at))).equals(media.subarray(at, at + 300_000))).toBe(true);
    m.following = false;
    await m.flush();
    expect(fed().equals(media)).toBe(true);
    // Contiguous pieces, each following the last.
    expect(offsets[0]).toBe(0);
    expect(m.counts).toEqual({ fedBytes: SIZE, rereadBytes: 0 });
  });

  it('a file read behind what was taken is served and counted as read again, never fed twice', async () => {
    const { src } = source();
    const { media: m, fed } = feed(src, 1000);
    m.following = true;
    await m.read(2 * MEDIA_FEED_BYTES, 100); // a later file first: the media up to it is taken in order
    await m.read(5000, 4000); // then an earlier one
    m.following = false;
    await m.flush();
    expect(m.counts.rereadBytes).toBe(4000);
    const got = fed();
    expect(got.equals(media.subarray(1000, 1000 + got.length))).toBe(true);
    expect(1000 + got.length).toBeGreaterThanOrEqual(2 * MEDIA_FEED_BYTES + 100);
  });

  it('a chunk that cannot be read stops the feed, not the listing: reads elsewhere still succeed and what was fed is right', async () => {
    const bad = { from: MEDIA_FEED_BYTES + 10, to: MEDIA_FEED_BYTES + 20 };
    const { src } = source(bad);
    const { media: m, fed } = feed(src);
    m.following = true;
    // Reaching past the bad chunk: the feed stops before it; this read itself does not touch it.
    expect(Buffer.from(await m.read(2 * MEDIA_FEED_BYTES, 10)).equals(media.subarray(2 * MEDIA_FEED_BYTES, 2 * MEDIA_FEED_BYTES + 10))).toBe(true);
    await m.read(3 * MEDIA_FEED_BYTES, 10);
    m.following = false;
    await m.flush();
    const got = fed();
    expect(got.length).toBeLessThanOrEqual(MEDIA_FEED_BYTES);
    expect(got.equals(media.subarray(0, got.length))).toBe(true);
  });

  it('storage faults are not swallowed: they end the task as any read would', async () => {
    const src = functionSource(SIZE, async () => {
      throw new ExhibitError('storage-unavailable', 'Azurite went away');
    });
    const { media: m } = feed(src);
    m.following = true;
    await expect(m.read(10, 10)).rejects.toMatchObject({ code: 'storage-unavailable' });
  });
});
