import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { pdqDistance } from '../pdq/pdq.hasher.js';
import { pdqFromImage } from '../pdq/pdq.pixels.js';
import { makeWithFfmpeg, testTools, testVideo } from '../test-support/fixtures.js';
import { RangeServer } from '../test-support/range.server.js';
import { toolInputFor } from '../tools/ffmpeg-input.js';
import type { ResolvedTool } from '../tools/ffmpeg-path.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { contactSheet, demuxTimeBase, frameTimes, planFrameTimes, type ContactSheetSettings } from './contact-sheet.js';

/** The wrapper around ffmpeg that counts runs is a shell script. */
const posix = process.platform !== 'win32';

const settings: ContactSheetSettings = { frames: 9, columns: 3, tileEdgePx: 320, quality: 80, timeoutMs: 60_000 };

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

/** An MP4 with its index in front whose media data is cut off after a few bytes, like an interrupted copy. */
async function truncatedVideo(): Promise<Buffer> {
  const whole = await makeWithFfmpeg(
    ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=6', '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
    'mp4',
  );
  const mdat = whole.indexOf('mdat', 0, 'latin1');
  if (mdat < 0) throw new Error('fixture has no mdat box');
  return whole.subarray(0, mdat + 4 + 100);
}

describe('planFrameTimes', () => {
  const fileNine = [1.667, 5, 8.333, 11.667, 15, 18.333, 21.667, 25, 28.333];

  it('regression: stream-start-past-file-end: a stream said to start at or after the file ends is planned on the file', () => {
    expect(planFrameTimes({ durationSec: 30, videoStream: { startSec: 40, durationSec: 5 } }, 9)).toEqual(fileNine);
    expect(planFrameTimes({ durationSec: 30, videoStream: { startSec: 30 } }, 9)).toEqual(fileNine);
    // Inside the file: from the stream's start, over its span.
    expect(planFrameTimes({ durationSec: 30, videoStream: { startSec: 10, durationSec: 3 } }, 9)).toEqual([10.167, 10.5, 10.833, 11.167, 11.5, 11.833, 12.167, 12.5, 12.833]);
  });

  it('regression: absurd-stream-start-written-1e22: times beyond MEDIA_LIMITS.maxMediaTimeSec are no times, and none is planned', () => {
    // ffprobe's start_time=1e22 was planned as `-ss 1e+22`, which ffmpeg refuses.
    expect(planFrameTimes({ durationSec: 30, videoStream: { startSec: 1e22, durationSec: 5 } }, 9)).toEqual(fileNine);
    expect(planFrameTimes({ videoStream: { startSec: 5e21 } }, 9)).toEqual([0]);
    expect(planFrameTimes({ durationSec: 1e25, videoStream: { startSec: 0, durationSec: 1e25 } }, 9)).toEqual([0]);
    expect(planFrameTimes({ durationSec: MEDIA_LIMITS.maxMediaTimeSec + 1 }, 1)).toEqual([0]);
    for (const plan of [{ durationSec: 30, videoStream: { startSec: 1e22 } }, { durationSec: 1e25 }, { videoStream: { startSec: 0, durationSec: 9e21 } }]) {
      for (const t of planFrameTimes(plan, 9)) expect(t.toFixed(3), JSON.stringify(plan)).toMatch(/^\d{1,8}\.\d{3}$/);
    }
  });
});

describe('contactSheet', () => {
  const server = new RangeServer();
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-sheet-'));
  let ffmpeg: ResolvedTool;

  /**
   * ffmpeg behind a shell wrapper that logs how many inputs each run had, and
   * optionally fails every run with more than one input (as a whole-run failure would).
   */
  function wrappedFfmpeg(name: string, failCombined: boolean): { tool: ResolvedTool; runs: () => number[] } {
    const log = path.join(dir, `${name}.log`);
    const script = path.join(dir, `${name}.sh`);
    writeFileSync(log, '');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'n=0; for a in "$@"; do [ "$a" = "-i" ] && n=$((n+1)); done',
        `echo "$n" >> '${log}'`,
        failCombined ? 'if [ "$n" -gt 1 ]; then echo "simulated whole-run failure" >&2; exit 1; fi' : '',
        `exec '${ffmpeg.path}' "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    const runs = () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map(Number);
    return { tool: { ...ffmpeg, path: script }, runs };
  }

  beforeAll(async () => {
    ffmpeg = await testTools().resolve('ffmpeg');
    await server.start();
    server.put('/clip.mp4', await testVideo({ seconds: 6, size: '320x240' }));
    server.put('/truncated.mp4', await truncatedVideo());
  }, 60_000);

  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(posix)('takes all nine frames in one ffmpeg run and lays them out 3x3', async () => {
    const wrapped = wrappedFfmpeg('one-run', false);
    const sheet = await contactSheet(wrapped.tool, toolInputFor(server.url('/clip.mp4')), frameTimes(6, 9), settings);
    expect(wrapped.runs()).toEqual([9]);
    expect([sheet.width, sheet.height]).toEqual([960, 720]);
    expect(await sharp(sheet.jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 960, height: 720 });
    // The test pattern is never black: every tile holds a frame.
    for (const brightness of await tileBrightness(sheet.jpeg)) expect(brightness).toBeGreaterThan(60);
  });

  it('leaves black tiles for times past the real end and still makes the sheet', async () => {
    // Told 18 s for a 6 s video: frames at 1, 3, 5 s exist, those at 7 ... 17 s do not.
    const times = frameTimes(18, 9);
    const sheet = await contactSheet(ffmpeg, toolInputFor(server.url('/clip.mp4')), times, settings);
    expect([sheet.width, sheet.height]).toEqual([960, 720]);
    const brightness = await tileBrightness(sheet.jpeg);
    times.forEach((t, i) => {
      if (t < 6) expect(brightness[i], `tile ${i} at ${t} s`).toBeGreaterThan(60);
      else expect(brightness[i], `tile ${i} at ${t} s`).toBeLessThan(5);
    });
  });

  it('fails with decode-failed when no frame can be taken, without leaking the URL', async () => {
    const err = await contactSheet(ffmpeg, toolInputFor(server.url('/truncated.mp4')), frameTimes(6, 9), settings).catch((e: unknown) => e);
    expect(isExhibitError(err, 'decode-failed')).toBe(true);
    expect(JSON.stringify(err) + (err as Error).message).not.toContain('SECRETSIGNATURE');
  });

  it.runIf(posix)('takes the frames one by one when the combined run fails as a whole', async () => {
    const wrapped = wrappedFfmpeg('fallback', true);
    const sheet = await contactSheet(wrapped.tool, toolInputFor(server.url('/clip.mp4')), frameTimes(6, 9), settings);
    expect(wrapped.runs()).toEqual([9, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    for (const brightness of await tileBrightness(sheet.jpeg)) expect(brightness).toBeGreaterThan(60);
  });

  it.runIf(posix)('gives the same sheet from the combined run as from the per-frame runs', async () => {
    const together = await contactSheet(ffmpeg, toolInputFor(server.url('/clip.mp4')), frameTimes(6, 9), settings);
    const oneByOne = await contactSheet(wrappedFfmpeg('compare', true).tool, toolInputFor(server.url('/clip.mp4')), frameTimes(6, 9), settings);
    expect(together.jpeg.equals(oneByOne.jpeg)).toBe(true);
    expect(together.pdq).toEqual(oneByOne.pdq);
  });

  it('hashes every frame taken, from the same run, with its place and time; none for frames past the end', async () => {
    const sheet = await contactSheet(ffmpeg, toolInputFor(server.url('/clip.mp4')), frameTimes(18, 9), settings);
    // Frames at 1, 3 and 5 s exist; those past 6 s are black gaps with no hash.
    expect(sheet.pdq?.map((p) => [p.frame, p.timeMs])).toEqual([[0, 1000], [1, 3000], [2, 5000]]);
    for (const p of sheet.pdq ?? []) expect(p.hash).toMatch(/^[0-9a-f]{64}$/);
    // The test pattern moves: its frames are different pictures.
    expect(new Set(sheet.pdq?.map((p) => p.hash)).size).toBe(3);
  });

  /**
   * Every frame of the video stream, decoded in order from the start (no seek), each with its PDQ hash and
   * its time from the file's start as ffprobe reports it (the oracle for which frame a hash is of).
   */
  async function framesInOrder(file: string): Promise<Array<{ ms: number; hash: string }>> {
    const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'V:0', '-show_entries', 'format=start_time:frame=best_effort_timestamp_time', '-of', 'json', file], { encoding: 'utf8' });
    const json = JSON.parse(probe.stdout) as { format: { start_time: string }; frames: Array<{ best_effort_timestamp_time: string }> };
    const out = path.join(dir, `${path.basename(file)}-frames`);
    mkdirSync(out, { recursive: true });
    const run = spawnSync(ffmpeg.path, ['-v', 'error', '-i', file, '-map', '0:V:0', '-vsync', 'passthrough', path.join(out, '%04d.png')]);
    expect(run.status).toBe(0);
    const pngs = readdirSync(out).sort();
    expect(pngs.length).toBe(json.frames.length);
    const start = Number(json.format.start_time);
    return Promise.all(
      pngs.map(async (name, i) => ({ ms: Math.round((Number(json.frames[i]!.best_effort_timestamp_time) - start) * 1000), hash: (await pdqFromImage(readFileSync(path.join(out, name)))).hash })),
    );
  }

  it('regression: pdq-frame-time-is-seek-time-not-frame-time — each hash is recorded at the time of the frame hashed, as ffprobe reports it', async () => {
    // 1 frame a second with a keyframe every 5 (CCTV, a dashcam's parking mode), and an MPEG-TS with a
    // keyframe every 2 s, whose seek lands on the next keyframe: a seek at 2.1 s hashes the frame at 4 s.
    const cases = [
      { name: 'cctv-1fps.mp4', args: ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=1:duration=10', '-c:v', 'libx264', '-g', '5', '-pix_fmt', 'yuv420p'], ext: 'mp4', seeks: [1.01, 2.5, 3.333, 7.9] },
      { name: 'gop-2s.ts', args: ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=2:duration=10', '-c:v', 'libx264', '-g', '4', '-pix_fmt', 'yuv420p'], ext: 'ts', seeks: [2.1, 5.3] },
    ];
    for (const c of cases) {
      const bytes = await makeWithFfmpeg(c.args, c.ext);
      const file = path.join(dir, c.name);
      writeFileSync(file, bytes);
      server.put(`/${c.name}`, bytes);
      const frames = await framesInOrder(file);
      const sheet = await contactSheet(ffmpeg, toolInputFor(server.url(`/${c.name}`)), c.seeks, settings);
      expect(sheet.pdq?.length, c.name).toBe(c.seeks.length);
      for (const p of sheet.pdq ?? []) {
        // The hashed picture is the decoded frame with that time (to the bit), and it is not at the seek time.
        const at = frames.find((f) => f.ms === p.timeMs);
        expect(at, `${c.name} frame ${p.frame} at ${p.timeMs} ms`).toBeDefined();
        expect(pdqDistance(at!.hash, p.hash), `${c.name} frame ${p.frame}`).toBe(0);
        expect(p.timeMs).toBeGreaterThanOrEqual(Math.round(c.seeks[p.frame]! * 1000));
      }
      expect(sheet.pdq?.map((p) => p.timeMs), c.name).not.toEqual(c.seeks.map((t) => Math.round(t * 1000)));
    }
  });

  it.runIf(posix)('enc-time-base-minus-one-removed-after-ffmpeg-6-1: frame times are the same on an ffmpeg that takes only `demux`, and on the npm-shipped one', async () => {
    expect(['5.1.9-0+deb12u1', '4.4.2-0ubuntu0.22.04.1', '6.0', 'N-47683-g0e8eb07980-static', 'N-113684-gabc', ''].map(demuxTimeBase)).toEqual(['-1', '-1', '-1', '-1', '-1', '-1']);
    expect(['6.1', '6.1.1-3ubuntu5', 'n7.0', '7.1.1', '8.0', '10.0'].map(demuxTimeBase)).toEqual(['demux', 'demux', 'demux', 'demux', 'demux', 'demux']);
    const bytes = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=1:duration=10', '-c:v', 'libx264', '-g', '5', '-pix_fmt', 'yuv420p'], 'mp4');
    server.put('/tb.mp4', bytes);
    const seeks = [1.01, 2.5, 3.333, 7.9];
    const times = async (tool: ResolvedTool) => (await contactSheet(tool, toolInputFor(server.url('/tb.mp4')), seeks, settings)).pdq?.map((p) => [p.frame, p.timeMs, p.hash]);
    const reference = await times(ffmpeg);
    expect(reference?.map((p) => p[1])).toEqual([2000, 3000, 4000, 10000 - 2000]);
    // A later ffmpeg (past 6.1) that has dropped `-enc_time_base -1`: simulated by refusing it, as 5.1
    // refuses `demux`, and reading `demux` as this ffmpeg's `-1`. Before, every sheet of it failed.
    const script = path.join(dir, 'later-ffmpeg.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'prev=""; for a in "$@"; do if [ "$prev" = "-enc_time_base" ] && [ "$a" = "-1" ]; then echo "Invalid time base: -1" >&2; exit 1; fi; prev="$a"; done',
        'for a in "$@"; do shift; if [ "$a" = "demux" ]; then set -- "$@" "-1"; else set -- "$@" "$a"; fi; done',
        `exec '${ffmpeg.path}' "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    expect(await times({ ...ffmpeg, path: script, version: '8.0' })).toEqual(reference);
    // The npm-shipped ffmpeg (@ffmpeg-installer), where installed: a git build, its version no release.
    const bundled = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../node_modules/@ffmpeg-installer/linux-x64/ffmpeg');
    const banner = spawnSync(bundled, ['-version'], { encoding: 'utf8' });
    if (banner.status === 0) {
      const version = /^ffmpeg version (\S+)/.exec(banner.stdout)![1]!;
      expect(await times({ ...ffmpeg, path: bundled, version, origin: 'bundled' })).toEqual(reference);
    }
  });

  it("gives a video made from a still picture frames within 31 bits of the picture's own PDQ hash", async () => {
    // A photograph-like reference picture (the PDQ reference set), as an MPEG-4 video of 1280x720 (larger than
    // the 512 px the hasher squashes to, so the frame is scaled down by ffmpeg, not the hasher).
    const still = readFileSync(new URL('../../../../test/fixtures/pdq-reference/images/A-harbour.jpg', import.meta.url));
    const picture = path.join(dir, 'harbour.jpg');
    writeFileSync(picture, still);
    const video = await makeWithFfmpeg(['-loop', '1', '-i', picture, '-t', '3', '-r', '10', '-vf', 'scale=1280:720', '-c:v', 'mpeg4', '-q:v', '4', '-pix_fmt', 'yuv420p'], 'mp4');
    server.put('/still.mp4', video);
    const sheet = await contactSheet(ffmpeg, toolInputFor(server.url('/still.mp4')), frameTimes(3, 9), settings);
    const own = await pdqFromImage(still);
    expect(sheet.pdq?.length).toBe(9);
    const distances = (sheet.pdq ?? []).map((p) => pdqDistance(p.hash, own.hash));
    for (const d of distances) expect(d).toBeLessThanOrEqual(31);
    // And an unrelated picture stays far from every frame.
    const other = await pdqFromImage(readFileSync(new URL('../../../../test/fixtures/pdq-reference/images/B-meadow.jpg', import.meta.url)));
    for (const p of sheet.pdq ?? []) expect(pdqDistance(p.hash, other.hash)).toBeGreaterThan(64);
  });
});
