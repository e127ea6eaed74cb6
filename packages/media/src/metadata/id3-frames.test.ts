import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg } from '../test-support/fixtures.js';
import { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { id3FrameCount } from './id3-frames.js';
import { MediaMetadataExtractor } from './media-metadata.extractor.js';

/** An ID3v2.3 tag of `count` TXXX frames (one byte of text each: what a flood needs) before `audio`. */
function flooded(count: number, audio: Buffer): Buffer {
  const frame = Buffer.concat([Buffer.from('TXXX', 'latin1'), Buffer.from([0, 0, 0, 1, 0, 0]), Buffer.from([0])]);
  const body = Buffer.concat(Array.from({ length: count }, () => frame));
  const size = body.length;
  const header = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([header, body, audio]);
}

/** exiftool's count of the ID3 frames it read (`-a -G1`: one line per frame), or null when not installed. */
function exiftoolFrames(bytes: Buffer): number | null {
  if (spawnSync('exiftool', ['-ver']).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-id3-'));
  try {
    writeFileSync(join(dir, 'x.mp3'), bytes);
    const out = spawnSync('exiftool', ['-a', '-G1', '-s', '-ID3:all', '-x', 'ID3:ID3Size', join(dir, 'x.mp3')], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
    return out.split('\n').filter((l) => /^\[ID3v2_/.test(l)).length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ID3v2 frames counted before ffprobe runs', () => {
  it('id3-frame-flood-probe-timeout-retried: a tag of thousands of frames fails limit-exceeded without running ffprobe', async () => {
    const mp3 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libmp3lame', '-id3v2_version', '0', '-f', 'mp3'], 'mp3');
    const flood = flooded(MEDIA_LIMITS.maxId3Frames + 1, mp3);
    const source = new BufferSource(flood, 'flood.mp3');
    expect(await id3FrameCount(source, MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
    expect(source.reads.length).toBeLessThanOrEqual(4);
    // A resolver that cannot start ffprobe: were it run, the error would be tool-unavailable (retryable).
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const err = await noTools.audio(new BufferSource(flood, 'flood.mp3'), { detectedExt: 'mp3' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    // At the limit it is probed as ever.
    const err2 = await noTools.audio(new BufferSource(flooded(MEDIA_LIMITS.maxId3Frames, mp3), 'ok.mp3'), { detectedExt: 'mp3' }).catch((e: unknown) => e);
    expect(isExhibitError(err2, 'limit-exceeded')).toBe(false);
    // A tag that follows another is read by ffmpeg too, so its frames count with the first's.
    expect(await id3FrameCount(new BufferSource(flooded(MEDIA_LIMITS.maxId3Frames, flooded(1, mp3)), 'two.mp3'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
  });

  it('counts the frames of ffmpeg-written ID3v2.3 and v2.4 tags as exiftool reads them', async () => {
    for (const version of ['3', '4']) {
      const mp3 = await makeWithFfmpeg(
        ['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libmp3lame', '-id3v2_version', version, '-metadata', 'title=Song', '-metadata', 'artist=Someone', '-metadata', 'date=2001', '-metadata', 'comment=x', '-f', 'mp3'],
        'mp3',
      );
      const count = await id3FrameCount(new BufferSource(mp3, 'tagged.mp3'), MEDIA_LIMITS.maxId3Frames);
      expect(count).toBeGreaterThanOrEqual(4);
      const oracle = exiftoolFrames(mp3);
      if (oracle !== null) expect({ version, count }).toEqual({ version, count: oracle });
    }
    // No tag, or a damaged one (a frame ID that is no ID): nothing counted past it, ffprobe decides.
    expect(await id3FrameCount(new BufferSource(Buffer.from('fLaC\0\0\0\x22'), 'x.flac'), 10)).toBe(0);
    const damaged = Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 30]), Buffer.from('ab\0\0\0\0\0\0\0\0'), Buffer.alloc(20)]);
    expect(await id3FrameCount(new BufferSource(damaged, 'x.mp3'), 10)).toBe(0);
  });
});
