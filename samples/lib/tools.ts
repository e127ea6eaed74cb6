import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { ToolVersion } from '@exhibit/core';
import sharp from 'sharp';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

export interface SampleTools {
  ffmpeg: string;
  ffprobe: string;
  heifEnc: string;
  versions: ToolVersion[];
}

async function firstLine(file: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: 30_000 });
    return (stdout || stderr).split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

/**
 * The system ffmpeg (Debian's has libx264) when it is on the PATH, else the
 * static build shipped by @ffmpeg-installer; the same for ffprobe.
 */
export async function locate(command: 'ffmpeg' | 'ffprobe'): Promise<{ path: string; banner: string }> {
  const system = await firstLine(command, ['-version']);
  if (system) return { path: command, banner: system };
  const pkg = command === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
  const path = (require(pkg) as { path: string }).path;
  const bundled = await firstLine(path, ['-version']);
  if (!bundled) throw new Error(`${command} not found on the PATH and ${pkg} does not run`);
  return { path, banner: bundled };
}

/**
 * heif-enc (Debian package libheif-examples) is only needed for the one HEIC
 * sample: the prebuilt sharp has no HEVC encoder.
 */
export async function locateHeifEnc(): Promise<{ path: string; banner: string }> {
  const banner = await firstLine('heif-enc', ['--help']);
  if (!banner) throw new Error('heif-enc not found: install libheif-examples (apt-get install libheif-examples)');
  return { path: 'heif-enc', banner };
}

/**
 * The CPU model, from /proc/cpuinfo. The same ffmpeg build (same version,
 * same x264 core) wrote a different IMG_0004.MOV on another machine: 13 bytes
 * more of media data, while every other video came out identical. ffmpeg's
 * -cpuflags did not change that file here, so the cause is not pinned down;
 * what is known is that "same tools" alone does not promise the same bytes.
 */
export function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? `${process.arch} (unknown model)`;
  } catch {
    return `${process.arch} (unknown model)`;
  }
}

/** A line of a tool's output matching `re` (some print their version only inside --help or -V). */
async function versionLine(file: string, args: string[], re: RegExp): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: 30_000 });
    return re.exec(stdout + stderr)?.[1];
  } catch (err) {
    const out = err as { stdout?: string; stderr?: string; code?: unknown };
    if (typeof out.code === 'string') return undefined; // not installed (ENOENT)
    return re.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1];
  }
}

/**
 * The disk images are made with dosfstools, mtools and e2fsprogs (Debian
 * packages of those names); their versions decide the images' bytes.
 */
export async function locateDiskTools(): Promise<ToolVersion[]> {
  const [dosfstools, mtools, e2fsprogs] = await Promise.all([
    versionLine('mkfs.fat', ['--help'], /mkfs\.fat (\S+)/),
    versionLine('mtools', ['--version'], /mtools\) (\S+)/),
    versionLine('mke2fs', ['-V'], /mke2fs (\S+)/),
  ]);
  const missing = [!dosfstools && 'mkfs.fat (dosfstools)', !mtools && 'mtools', !e2fsprogs && 'mke2fs (e2fsprogs)'].filter(Boolean);
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not found: install dosfstools, mtools and e2fsprogs`);
  return [
    { name: 'dosfstools', version: dosfstools! },
    { name: 'mtools', version: mtools! },
    { name: 'e2fsprogs', version: e2fsprogs! },
  ];
}

export async function findTools(): Promise<SampleTools> {
  const [ffmpeg, ffprobe, heifEnc, diskTools] = await Promise.all([locate('ffmpeg'), locate('ffprobe'), locateHeifEnc(), locateDiskTools()]);
  const version = (banner: string, re: RegExp) => re.exec(banner)?.[1] ?? banner;
  return {
    ffmpeg: ffmpeg.path,
    ffprobe: ffprobe.path,
    heifEnc: heifEnc.path,
    versions: [
      { name: 'sharp', version: sharp.versions.sharp ?? 'unknown' },
      { name: 'libvips', version: sharp.versions.vips },
      { name: 'ffmpeg', version: version(ffmpeg.banner, /ffmpeg version (\S+)/) },
      { name: 'libheif', version: version(heifEnc.banner, /libheif version:\s*(\S+)/) },
      { name: 'zlib', version: process.versions.zlib ?? 'unknown' },
      ...diskTools,
      { name: 'cpu', version: cpuModel() },
    ],
  };
}

export async function runTool(file: string, args: string[], options: { timeoutMs: number }): Promise<void> {
  try {
    await run(file, args, { timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`${file} ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-5).join(' | ')}`, { cause: err });
  }
}

export async function runToolJson(file: string, args: string[], options: { timeoutMs: number }): Promise<unknown> {
  const { stdout } = await run(file, args, { timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as unknown;
}
