import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';
import sharp from 'sharp';
import { MediaToolResolver, type ResolvedTool } from '../tools/ffmpeg-path.js';

/** Test images and videos, generated (never downloaded) so every byte is explained. */

/** A JPEG with deterministic noise, so it compresses badly and is big enough to test ranged reads. */
export async function noisyJpeg(width: number, height: number, quality = 90): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = 0x12345678;
  for (let i = 0; i < raw.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/** A plain JPEG whose left half is red and right half blue (orientation becomes visible). */
export async function twoToneJpeg(width: number, height: number): Promise<Buffer> {
  const left = await sharp({ create: { width: Math.floor(width / 2), height, channels: 3, background: '#ff0000' } }).png().toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#0000ff' } })
    .composite([{ input: left, left: 0, top: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A tiny, valid-looking PNG that declares huge dimensions: a decompression ("pixel") bomb. */
export function pixelBombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

let tools: MediaToolResolver | undefined;
export function testTools(): MediaToolResolver {
  tools ??= new MediaToolResolver({});
  return tools;
}

/**
 * Runs ffmpeg with `args` (inputs, codecs, metadata) writing `out.<ext>` in a
 * temporary directory and returns the file's bytes.
 */
export async function makeWithFfmpeg(args: string[], ext: string): Promise<Buffer> {
  const ffmpeg: ResolvedTool = await testTools().resolve('ffmpeg');
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-media-'));
  try {
    const out = path.join(dir, `out.${ext}`);
    const run = spawnSync(ffmpeg.path, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args, out], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ffmpeg fixture failed: ${run.stderr}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A short test-pattern video (mpeg4 codec: built into every ffmpeg) with the given metadata. */
export function testVideo(options: { seconds: number; size?: string; metadata?: Record<string, string>; ext?: 'mp4' | 'mov' }): Promise<Buffer> {
  const meta = Object.entries(options.metadata ?? {}).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  return makeWithFfmpeg(
    [
      '-f', 'lavfi', '-i', `testsrc=size=${options.size ?? '320x240'}:rate=10:duration=${options.seconds}`,
      '-c:v', 'mpeg4', '-q:v', '5', '-pix_fmt', 'yuv420p',
      '-movflags', 'use_metadata_tags',
      ...meta,
    ],
    options.ext ?? 'mp4',
  );
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A HEIC from the samples engineer's generator, if it has produced one. */
export function sampleHeic(): { bytes: Buffer; origin: string } | null {
  const dir = path.join(REPO_ROOT, 'samples', 'extraction');
  if (!existsSync(dir)) return null;
  const name = readdirSync(dir).find((n) => n.toLowerCase().endsWith('.heic'));
  return name ? { bytes: readFileSync(path.join(dir, name)), origin: `samples/extraction/${name}` } : null;
}

export function heifEncAvailable(): boolean {
  const probe = spawnSync('heif-enc', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined;
}

/** HEIC from a JPEG with libheif's heif-enc (x265); EXIF is carried over. Null if heif-enc is missing. */
export function heicFromJpeg(jpeg: Buffer): Buffer | null {
  if (!heifEncAvailable()) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-heic-'));
  try {
    const input = path.join(dir, 'in.jpg');
    const out = path.join(dir, 'out.heic');
    writeFileSync(input, jpeg);
    const run = spawnSync('heif-enc', ['-q', '60', input, '-o', out], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`heif-enc failed: ${run.stderr}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
