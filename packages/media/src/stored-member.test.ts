import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, type MediaMetadata } from '@exhibit/core';
import { MediaMetadataExtractor } from './metadata/media-metadata.extractor.js';
import { BufferSource } from './test-support/buffer.source.js';
import { makeWithFfmpeg, testTools, testVideo } from './test-support/fixtures.js';
import { RangeServer } from './test-support/range.server.js';
import { storedZip, type StoredMember } from './test-support/stored-zip.js';
import { MediaThumbnailer } from './thumbnail/media.thumbnailer.js';

/**
 * A video stored uncompressed in a ZIP is read in place: the source's URL is
 * the archive's and `urlOffset` says where the member starts. ffprobe and
 * ffmpeg must see exactly the member, as if it were a blob of its own.
 */

/** Mean brightness (0..765) of each 320x240 tile of a 3x3 sheet, row by row. */
async function tileBrightness(jpeg: Buffer): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 9; i++) {
    // stats() looks at the input, not the pipeline's result: extract to a buffer first.
    const tile = await sharp(jpeg).extract({ left: (i % 3) * 320, top: Math.floor(i / 3) * 240, width: 320, height: 240 }).png().toBuffer();
    const stats = await sharp(tile).stats();
    out.push(stats.channels.slice(0, 3).reduce((sum, c) => sum + c.mean, 0));
  }
  return out;
}

/** What the span must reproduce; `raw` differs only in what the input is called. */
function facts(m: MediaMetadata) {
  const { raw: _raw, ...rest } = m;
  return rest;
}

describe('a video stored in a ZIP, read as a span of the archive', () => {
  const server = new RangeServer();
  const extractor = new MediaMetadataExtractor(testTools());
  const thumbnailer = new MediaThumbnailer(testTools());
  let h264: Buffer;
  let mov: Buffer;
  const member: Record<string, StoredMember> = {};
  let zipSize = 0;

  beforeAll(async () => {
    await server.start();
    // H.264 with the index (moov) at the end, as cameras write it: the demuxer must seek to the span's end.
    h264 = await makeWithFfmpeg(
      [
        '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=3',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
        '-metadata', 'location=+51.5007-000.1246/',
        '-metadata', 'creation_time=2024-05-01T11:20:30Z',
      ],
      'mp4',
    );
    mov = await testVideo({ seconds: 2, ext: 'mov', metadata: { 'com.apple.quicktime.location.ISO6709': '+48.8584+002.2945+035.000/' } });
    const { zip, members } = await storedZip([
      // Bytes before and after each video that a demuxer would choke on if it saw them.
      { name: 'notes/readme.bin', bytes: randomBytes(3000) },
      { name: 'DCIM/clip.mp4', bytes: h264 },
      { name: 'DCIM/clip.mov', bytes: mov },
      { name: 'tail.bin', bytes: randomBytes(2000) },
    ]);
    for (const m of members) member[m.name] = m;
    zipSize = zip.length;
    server.put('/case.zip', zip);
    server.put('/clip.mp4', h264);
    server.put('/clip.mov', mov);
    // The video at offset 0 of a blob with other bytes after it.
    server.put('/leading.bin', Buffer.concat([h264, randomBytes(5000)]));
  }, 60_000);

  afterAll(async () => {
    await server.stop();
  });

  const blobAt = (path: string, name: string) => new BufferSource(Buffer.alloc(0), name, () => server.url(path));
  /** The pipeline's view of a stored member: the archive's URL, the member's offset and size. */
  function spanAt(path: string, name: string, urlOffset: number, size: number): BufferSource {
    const source = blobAt(path, name);
    Object.defineProperty(source, 'size', { value: size });
    Object.defineProperty(source, 'urlOffset', { value: urlOffset });
    return source;
  }
  const memberSource = (name: string) => spanAt('/case.zip', name, member[name]!.start, member[name]!.size);

  /** Every request ffmpeg made to `path` started inside [start, end). */
  function requestStarts(path: string): number[] {
    return server.requests.flatMap((p, i) => (p === path ? [Number(/^bytes=(\d+)-/.exec(server.ranges[i] ?? '')?.[1] ?? -1)] : []));
  }

  it('reads the same metadata from the member as from the MP4 on its own (moov at the end)', async () => {
    const m = member['DCIM/clip.mp4']!;
    expect(m.start).toBeGreaterThan(3000);
    expect(h264.indexOf('moov', 0, 'latin1')).toBeGreaterThan(h264.indexOf('mdat', 0, 'latin1'));
    const alone = await extractor.video(blobAt('/clip.mp4', 'clip.mp4'));
    server.requests.length = 0;
    server.ranges.length = 0;
    const inZip = await extractor.video(memberSource('DCIM/clip.mp4'));

    expect(alone.durationSec).toBeCloseTo(3, 1);
    expect(alone).toMatchObject({ codecs: ['h264'], width: 320, height: 240, gps: { lat: 51.5007, lon: -0.1246 } });
    expect(facts(inZip)).toEqual(facts(alone));
    // ffprobe saw exactly the member: its size, no byte more (subfile's end is exclusive).
    expect((inZip.raw as { format: { size: string } }).format.size).toBe(String(m.size));
    // No request started outside the member, and the archive's first bytes were not fetched.
    const starts = requestStarts('/case.zip');
    expect(starts.length).toBeGreaterThan(0);
    for (const s of starts) expect(s >= m.start && s < m.start + m.size, `request from ${s}`).toBe(true);
    // The input's name (the SAS URL) does not end up in the raw dump.
    expect(JSON.stringify(inZip.raw) + JSON.stringify(alone.raw)).not.toContain('SECRETSIGNATURE');
  });

  it('reads a QuickTime member between others', async () => {
    const alone = await extractor.video(blobAt('/clip.mov', 'clip.mov'));
    const inZip = await extractor.video(memberSource('DCIM/clip.mov'));
    expect(alone.gps).toEqual({ lat: 48.8584, lon: 2.2945, altM: 35 });
    expect(facts(inZip)).toEqual(facts(alone));
  });

  it('stops a span at offset 0 at its size, as one at a later offset', async () => {
    const atZero = await extractor.video(spanAt('/leading.bin', 'clip.mp4', 0, h264.length));
    const later = await extractor.video(memberSource('DCIM/clip.mp4'));
    expect(facts(atZero)).toEqual(facts(later));
    expect((atZero.raw as { format: { size: string } }).format.size).toBe(String(h264.length));
  });

  it('makes the same contact sheet from the member as from the MP4 on its own', async () => {
    // No duration given: the thumbnailer probes the span itself first.
    const inZip = await thumbnailer.video(memberSource('DCIM/clip.mp4'), {});
    expect([inZip.width, inZip.height]).toEqual([960, 720]);
    expect(await sharp(inZip.jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 960, height: 720 });
    // The test pattern is never black: every tile holds a frame.
    for (const brightness of await tileBrightness(inZip.jpeg)) expect(brightness).toBeGreaterThan(60);
    const alone = await thumbnailer.video(blobAt('/clip.mp4', 'clip.mp4'), {});
    expect(inZip.jpeg.equals(alone.jpeg)).toBe(true);
  });

  it('fails a span past the end of the archive without leaking the URL', async () => {
    const source = spanAt('/case.zip', 'gone.mp4', zipSize + 100, 1000);
    for (const run of [() => extractor.video(source), () => thumbnailer.video(source, { durationSec: 3 })]) {
      const err = await run().catch((e: unknown) => e);
      expect(isExhibitError(err)).toBe(true);
      const text = (err as Error).message + JSON.stringify((err as { details?: unknown }).details ?? {});
      expect(text).not.toContain('SECRETSIGNATURE');
      expect(text).not.toContain('case.zip');
    }
  });
});
