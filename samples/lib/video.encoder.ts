import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTool, runToolJson } from './tools.js';

export interface VideoSpec {
  container: 'mov' | 'mp4';
  /** An ffmpeg lavfi test source; all are computed, none read a file. */
  source: 'testsrc' | 'testsrc2' | 'smptebars' | 'rgbtestsrc';
  width: number;
  height: number;
  durationSec: number;
  audio: boolean;
  /** UTC, ISO 8601 with 'Z': QuickTime/MP4 header times are UTC by definition. */
  creationTimeUtc: string;
  /**
   * Container tags. Keys with dots (com.apple.quicktime.*, com.android.*)
   * are written as QuickTime 'mdta' keys; 'location' as the ©xyz atom.
   */
  tags: Record<string, string>;
}

export async function encodeVideo(spec: VideoSpec, options: { ffmpeg: string }): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-video-'));
  try {
    const output = path.join(dir, `out.${spec.container}`);
    const size = `${spec.width}x${spec.height}`;
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'];
    args.push('-f', 'lavfi', '-i', `${spec.source}=size=${size}:rate=25:duration=${spec.durationSec}`);
    if (spec.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${spec.durationSec}`);
    // Bit-exact, single-threaded, no inherited metadata: same bytes on every run with the same ffmpeg.
    args.push('-threads', '1', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1');
    args.push('-c:v', 'libx264', '-preset', 'medium', '-crf', '30', '-pix_fmt', 'yuv420p', '-g', '25');
    if (spec.audio) args.push('-c:a', 'aac', '-b:a', '48k', '-shortest');
    args.push('-metadata', `creation_time=${spec.creationTimeUtc}`);
    for (const [key, value] of Object.entries(spec.tags)) args.push('-metadata', `${key}=${value}`);
    if (Object.keys(spec.tags).some((k) => k.includes('.'))) args.push('-movflags', 'use_metadata_tags');
    args.push('-f', spec.container, output);
    await runTool(options.ffmpeg, args, { timeoutMs: 120_000 });
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ProbedVideo {
  durationSec: number;
  tags: Record<string, string>;
  streams: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number }>;
}

/** ffprobe reads from a file path; callers hand it a temporary copy. */
export async function probeVideo(file: string, options: { ffprobe: string }): Promise<ProbedVideo> {
  const json = (await runToolJson(
    options.ffprobe,
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
    { timeoutMs: 60_000 },
  )) as { format?: { duration?: string; tags?: Record<string, string> }; streams?: ProbedVideo['streams'] };
  const durationSec = Number(json.format?.duration);
  if (!Number.isFinite(durationSec)) throw new Error(`ffprobe reported no duration for ${file}`);
  return { durationSec, tags: json.format?.tags ?? {}, streams: json.streams ?? [] };
}

export async function probeVideoBuffer(bytes: Buffer, ext: string, options: { ffprobe: string }): Promise<ProbedVideo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-probe-'));
  try {
    const file = path.join(dir, `probe.${ext}`);
    await writeFile(file, bytes);
    return await probeVideo(file, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
