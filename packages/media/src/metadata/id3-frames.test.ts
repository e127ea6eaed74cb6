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
import { id3FramesSandboxed, parsePool } from '../sandbox/parse.pool.js';
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

/** `tag` as a chunk `id` appended to a RIFF (little-endian sizes) or AIFF (big-endian) file, the form's size mended. */
function withChunk(file: Buffer, id: string, tag: Buffer): Buffer {
  const little = file.toString('latin1', 0, 4) !== 'FORM';
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  if (little) head.writeUInt32LE(tag.length, 4);
  else head.writeUInt32BE(tag.length, 4);
  const out = Buffer.concat([file, head, tag, Buffer.alloc(tag.length & 1)]);
  if (little) out.writeUInt32LE(out.length - 8, 4);
  else out.writeUInt32BE(out.length - 8, 4);
  return out;
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

  it('wav-id3-chunk-frame-flood-not-counted: an ID3 tag in a WAV or AIFF chunk counts as one at the start', async () => {
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const wav = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-f', 'wav'], 'wav');
    const aiff = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-f', 'aiff'], 'aiff');
    const over = flooded(MEDIA_LIMITS.maxId3Frames + 1, Buffer.alloc(0));
    const at = flooded(MEDIA_LIMITS.maxId3Frames, Buffer.alloc(0));
    for (const [name, file, ext, ids] of [
      ['flood.wav', wav, 'wav', ['id3 ', 'ID3 ']],
      ['flood.aiff', aiff, 'aif', ['ID3 ']],
    ] as const) {
      for (const id of ids) {
        // After the sound data: ffmpeg seeks on over it on an HTTP input and reads the tag there.
        const flood = withChunk(file, id, over);
        const source = new BufferSource(flood, name);
        expect({ name, id, frames: await id3FrameCount(source, MEDIA_LIMITS.maxId3Frames) }).toEqual({ name, id, frames: MEDIA_LIMITS.maxId3Frames + 1 });
        expect(source.reads.length).toBeLessThanOrEqual(8);
        const err = await noTools.audio(new BufferSource(flood, name), { detectedExt: ext }).catch((e: unknown) => e);
        expect({ name, id, limit: isExhibitError(err, 'limit-exceeded') }).toEqual({ name, id, limit: true });
        const ok = await noTools.audio(new BufferSource(withChunk(file, id, at), name), { detectedExt: ext }).catch((e: unknown) => e);
        expect(isExhibitError(ok, 'limit-exceeded')).toBe(false);
      }
      // Two chunks: their frames add up, as ffmpeg reads both.
      expect(await id3FrameCount(new BufferSource(withChunk(withChunk(file, ids[0], at), ids[0], flooded(1, Buffer.alloc(0))), name), MEDIA_LIMITS.maxId3Frames)).toBe(
        MEDIA_LIMITS.maxId3Frames + 1,
      );
    }
    // RF64 (ffmpeg -rf64 always): the data's size is ds64's, whatever its 32-bit field says (a crafted 2 is not followed).
    const rf64 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-rf64', 'always', '-f', 'wav'], 'wav');
    expect(rf64.toString('latin1', 0, 4)).toBe('RF64');
    const rfFlood = withChunk(rf64, 'id3 ', over);
    expect(await id3FrameCount(new BufferSource(rfFlood, 'rf.wav'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
    const crafted = Buffer.from(rfFlood);
    crafted.writeUInt32LE(2, crafted.indexOf('data', 12, 'latin1') + 4);
    expect(await id3FrameCount(new BufferSource(crafted, 'rf.wav'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
    // A chunk walk past its limit is refused, not left half-counted.
    const junk = Array.from({ length: 20 }, () => Buffer.alloc(0)).reduce((f, b) => withChunk(f, 'junk', b), wav);
    const err = await id3FrameCount(new BufferSource(junk, 'junk.wav'), MEDIA_LIMITS.maxId3Frames, { maxChunks: 10 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect(await id3FrameCount(new BufferSource(junk, 'junk.wav'), MEDIA_LIMITS.maxId3Frames)).toBe(0);
    // A recording never finished (data size 0): ffmpeg reads the rest as samples, and so does the walk (silence is no chunk list).
    const open = Buffer.concat([wav.subarray(0, wav.indexOf('data', 12, 'latin1') + 4), Buffer.alloc(4), Buffer.alloc(64 * 1024)]);
    expect(await id3FrameCount(new BufferSource(open, 'open.wav'), MEDIA_LIMITS.maxId3Frames, { maxChunks: 10 })).toBe(0);
  });

  it('wav-trailing-zero-slack-fails-limit-exceeded: zeros after the chunks (slack, pre-allocation, silence past a stale size) are no chunk run', async () => {
    const wav = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-f', 'wav'], 'wav');
    const aiff = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-f', 'aiff'], 'aiff');
    const rf64 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-rf64', 'always', '-f', 'wav'], 'wav');
    const silent = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-t', '2', '-c:a', 'pcm_s16le', '-f', 'wav'], 'wav');
    const silentRf64 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-t', '2', '-c:a', 'pcm_s16le', '-rf64', 'always', '-f', 'wav'], 'wav');
    const halved = Buffer.from(silent);
    const dataAt = halved.indexOf('data', 12, 'latin1');
    halved.writeUInt32LE(Math.floor(halved.readUInt32LE(dataAt + 4) / 4) * 2, dataAt + 4);
    const ds64Zero = Buffer.from(silentRf64);
    ds64Zero.writeBigUInt64LE(0n, ds64Zero.indexOf('ds64', 12, 'latin1') + 8 + 8);
    const cases: [string, Buffer][] = [
      ['wav+8k', Buffer.concat([wav, Buffer.alloc(8192)])],
      ['wav+128k', Buffer.concat([wav, Buffer.alloc(128 * 1024)])],
      ['aiff+16k', Buffer.concat([aiff, Buffer.alloc(16 * 1024)])],
      ['rf64+16k', Buffer.concat([rf64, Buffer.alloc(16 * 1024)])],
      ['silent-halved-size', halved],
      ['silent-rf64-ds64-size-0', ds64Zero],
    ];
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-id3-'));
    try {
      for (const [name, file] of cases) {
        const frames = await id3FrameCount(new BufferSource(file, `${name}.wav`), MEDIA_LIMITS.maxId3Frames).catch((e: unknown) => e);
        expect({ name, frames }).toEqual({ name, frames: 0 });
        // Reaching ffprobe: the tool cannot start, so the error is tool-unavailable, not limit-exceeded.
        const err = await noTools.audio(new BufferSource(file, name), { detectedExt: name.startsWith('aiff') ? 'aif' : 'wav' }).catch((e: unknown) => e);
        expect({ name, limit: isExhibitError(err, 'limit-exceeded') }).toEqual({ name, limit: false });
        // ffprobe reads each of them (the files are everyday ones, not refused).
        writeFileSync(join(dir, 'x'), file);
        const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', join(dir, 'x')], { encoding: 'utf8' });
        expect({ name, status: out.status, read: Number(out.stdout) > 0 }).toEqual({ name, status: 0, read: true });
      }
      // An ID3 chunk after the zeros is still found (ffmpeg walks on to it), and the zeros' bytes are bounded.
      const after = withChunk(Buffer.concat([wav, Buffer.alloc(128 * 1024)]), 'id3 ', flooded(MEDIA_LIMITS.maxId3Frames + 1, Buffer.alloc(0)));
      expect(await id3FrameCount(new BufferSource(after, 'after.wav'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
      const tooMuch = await id3FrameCount(new BufferSource(after, 'after.wav'), MEDIA_LIMITS.maxId3Frames, { maxZeroBytes: 64 * 1024 }).catch((e: unknown) => e);
      expect(isExhibitError(tooMuch, 'limit-exceeded')).toBe(true);
      // An AIFF's walk ends at its FORM's size, as ffmpeg's does: a tag appended past it is not read by either.
      const past = withChunk(aiff, 'ID3 ', flooded(MEDIA_LIMITS.maxId3Frames + 1, Buffer.alloc(0)));
      past.writeUInt32BE(aiff.readUInt32BE(4), 4);
      expect(await id3FrameCount(new BufferSource(past, 'past.aiff'), MEDIA_LIMITS.maxId3Frames)).toBe(0);
      past.writeUInt32BE(past.length - 8, 4);
      expect(await id3FrameCount(new BufferSource(past, 'past.aiff'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
      // Zeros past the FORM's end are not walked (nor held to the zero limit) either.
      const zeroTail = Buffer.concat([aiff, Buffer.alloc(128 * 1024)]);
      zeroTail.writeUInt32BE(aiff.readUInt32BE(4) + 64, 4);
      expect(await id3FrameCount(new BufferSource(zeroTail, 'tail.aiff'), MEDIA_LIMITS.maxId3Frames, { maxZeroBytes: 1024 })).toBe(0);
      // A crafted run of tiny NON-zero chunks still fails.
      const tiny = Buffer.concat([wav, ...Array.from({ length: 2000 }, () => Buffer.from('junk\0\0\0\0', 'latin1'))]);
      const err = await id3FrameCount(new BufferSource(tiny, 'tiny.wav'), MEDIA_LIMITS.maxId3Frames).catch((e: unknown) => e);
      expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wav-zero-run-lets-ffprobe-step-for-a-minute: a zero run ffprobe steps through for seconds fails limit-exceeded before it runs', async () => {
    // ffprobe steps through zeros 8 bytes at a time at ~4 MiB/s: a WAV + 32 MiB of zeros took it 8 s, + 255 MiB 61 s
    // (a 256 MiB limit let a file run to half the retried tool timeout on a loaded machine).
    const wav = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-f', 'wav'], 'wav');
    const zeroed = Buffer.concat([wav, Buffer.alloc(32 * 1024 * 1024)]);
    const err = await id3FrameCount(new BufferSource(zeroed, 'z32.wav'), MEDIA_LIMITS.maxId3Frames).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    // Through the extractor: refused without ffprobe (a missing tool would be tool-unavailable).
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const viaExtractor = await noTools.audio(new BufferSource(zeroed, 'z32.wav'), { detectedExt: 'wav' }).catch((e: unknown) => e);
    expect(isExhibitError(viaExtractor, 'limit-exceeded')).toBe(true);
    // A few MiB (a recorder's pre-allocation) still reach ffprobe.
    expect(await id3FrameCount(new BufferSource(Buffer.concat([wav, Buffer.alloc(4 * 1024 * 1024)]), 'z4.wav'), MEDIA_LIMITS.maxId3Frames)).toBe(0);
  });

  it('wav-alternating-zero-headers-read-1-mib-each: short zero runs between chunks are skipped in the bytes already read', async () => {
    const wav = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le', '-f', 'wav'], 'wav');
    const dense = Buffer.concat([wav, ...Array.from({ length: 1000 }, () => Buffer.from('\0\0\0\0\0\0\0\0junk\0\0\0\0', 'latin1')), Buffer.alloc(1 << 20, 1)]);
    // Runs that end each header window: a 4 KiB chunk, then 4 KiB of zeros.
    const body = Buffer.concat([Buffer.from('junk\0\x10\0\0', 'latin1'), Buffer.alloc(4096, 1)]);
    const sparse = Buffer.concat([wav, ...Array.from({ length: 500 }, () => Buffer.concat([body, Buffer.alloc(4096)]))]);
    for (const [name, file] of [['dense', dense], ['sparse', sparse]] as const) {
      const source = new BufferSource(file, `${name}.wav`);
      expect(await id3FrameCount(source, MEDIA_LIMITS.maxId3Frames)).toBe(0);
      // Was ~1 MiB a zero header: 1 GB read for a 1.2 MB file.
      expect({ name, readAtMost3x: source.bytesRead <= 3 * file.length }).toEqual({ name, readAtMost3x: true });
    }
  });

  it('dsf-id3-at-metadata-pointer-not-counted: the tag at a DSF metadata pointer counts as one at the start', async () => {
    /** A DSF of 2 channels of one 4096-byte block each of DSD silence, `tag` after the data at the metadata pointer. */
    const dsf = (tag: Buffer): Buffer => {
      const fmt = Buffer.alloc(52);
      fmt.write('fmt ', 0, 'latin1');
      fmt.writeBigUInt64LE(52n, 4);
      [1, 0, 2, 2, 2822400, 1].forEach((v, i) => fmt.writeUInt32LE(v, 12 + 4 * i));
      fmt.writeBigUInt64LE(4096n * 8n, 36);
      fmt.writeUInt32LE(4096, 44);
      const data = Buffer.alloc(12 + 2 * 4096, 0x69);
      data.write('data', 0, 'latin1');
      data.writeBigUInt64LE(BigInt(data.length), 4);
      const dsd = Buffer.alloc(28);
      dsd.write('DSD ', 0, 'latin1');
      dsd.writeBigUInt64LE(28n, 4);
      const total = 28 + fmt.length + data.length + tag.length;
      dsd.writeBigUInt64LE(BigInt(total), 12);
      dsd.writeBigUInt64LE(tag.length > 0 ? BigInt(28 + fmt.length + data.length) : 0n, 20);
      return Buffer.concat([dsd, fmt, data, tag]);
    };
    const flood = dsf(flooded(MEDIA_LIMITS.maxId3Frames + 1, Buffer.alloc(0)));
    expect(await id3FrameCount(new BufferSource(flood, 'flood.dsf'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const err = await noTools.audio(new BufferSource(flood, 'flood.dsf'), { detectedExt: 'dsf' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect(await id3FrameCount(new BufferSource(dsf(Buffer.alloc(0)), 'none.dsf'), MEDIA_LIMITS.maxId3Frames)).toBe(0);
    // The oracle: ffprobe reads the file and shows the pointed-to tag's one frame, as counted.
    const mp3 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=0.1', '-c:a', 'libmp3lame', '-id3v2_version', '3', '-metadata', 'title=Pointed', '-write_xing', '0', '-f', 'mp3'], 'mp3');
    const small = dsf(mp3.subarray(0, 10 + ((mp3[6]! << 21) | (mp3[7]! << 14) | (mp3[8]! << 7) | mp3[9]!)));
    const frames = await id3FrameCount(new BufferSource(small, 'small.dsf'), MEDIA_LIMITS.maxId3Frames);
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-id3-'));
    try {
      writeFileSync(join(dir, 'x.dsf'), small);
      const out = spawnSync('ffprobe', ['-v', 'error', '-show_format', '-of', 'json', join(dir, 'x.dsf')], { encoding: 'utf8' });
      expect({ status: out.status, stderr: out.stderr }).toEqual({ status: 0, stderr: '' });
      const tags = (JSON.parse(out.stdout) as { format: { format_name: string; tags?: Record<string, string> } }).format;
      expect(tags.format_name).toBe('dsf');
      expect(tags.tags).toMatchObject({ title: 'Pointed' });
      expect(Object.keys(tags.tags ?? {}).length).toBe(frames);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an AIFF ID3 chunk is read by ffprobe as the walk counts it (oracle)', async () => {
    const aiff = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-f', 'aiff'], 'aiff');
    const tag = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=0.1', '-c:a', 'libmp3lame', '-id3v2_version', '3', '-metadata', 'title=Chunked', '-metadata', 'artist=Someone', '-f', 'mp3'], 'mp3');
    const id3 = tag.subarray(0, 10 + ((tag[6]! << 21) | (tag[7]! << 14) | (tag[8]! << 7) | tag[9]!));
    const file = withChunk(aiff, 'ID3 ', id3);
    const frames = await id3FrameCount(new BufferSource(file, 'x.aiff'), MEDIA_LIMITS.maxId3Frames);
    expect(frames).toBe(3);
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-id3-'));
    try {
      writeFileSync(join(dir, 'x.aiff'), file);
      const out = spawnSync('ffprobe', ['-v', 'error', '-show_format', '-of', 'json', join(dir, 'x.aiff')], { encoding: 'utf8' });
      // ffprobe must read the file (a failure is a failure, not a pass), and each frame it read is one tag it shows.
      expect({ status: out.status, stderr: out.stderr }).toEqual({ status: 0, stderr: '' });
      const tags = (JSON.parse(out.stdout) as { format: { tags?: Record<string, string> } }).format.tags ?? {};
      expect(tags).toMatchObject({ title: 'Chunked', artist: 'Someone' });
      expect(Object.keys(tags).length).toBe(frames);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('id3-frame-count-on-main-thread: the audio metadata counts the frames in a parser thread', async () => {
    const mp3 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libmp3lame', '-id3v2_version', '0', '-f', 'mp3'], 'mp3');
    const busy: number[] = [];
    // Each read the count makes is asked for by a parser thread, busy with the task while it waits.
    class Watched extends BufferSource {
      override async read(offset: number, length: number, options: { abortSignal?: AbortSignal } = {}): Promise<Buffer> {
        busy.push(parsePool().busyWorkers().length);
        return super.read(offset, length, options);
      }
    }
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    const err = await noTools.audio(new Watched(flooded(MEDIA_LIMITS.maxId3Frames + 1, mp3), 'flood.mp3'), { detectedExt: 'mp3' }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((n) => n > 0)).toBe(true);
    // The thread's count is the walk's, chunk limits and all.
    expect(await id3FramesSandboxed(new BufferSource(flooded(MEDIA_LIMITS.maxId3Frames, flooded(1, mp3)), 'two.mp3'), MEDIA_LIMITS.maxId3Frames)).toBe(MEDIA_LIMITS.maxId3Frames + 1);
    const tags = Buffer.concat([...Array.from({ length: 65 }, () => flooded(0, Buffer.alloc(0))), mp3]);
    const tooMany = await id3FramesSandboxed(new BufferSource(tags, 'tags.mp3'), MEDIA_LIMITS.maxId3Frames).catch((e: unknown) => e);
    expect(isExhibitError(tooMany, 'limit-exceeded')).toBe(true);
    expect(await id3FramesSandboxed(new BufferSource(tags.subarray(10), 'tags.mp3'), MEDIA_LIMITS.maxId3Frames)).toBe(0);
  });
});
