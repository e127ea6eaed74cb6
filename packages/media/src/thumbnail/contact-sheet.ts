import sharp from 'sharp';
import { ExhibitError, isExhibitError, type Thumbnail } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { classifyToolFailure, hardenedInputArgs } from '../tools/ffmpeg-input.js';
import type { ResolvedTool } from '../tools/ffmpeg-path.js';
import { runTool } from '../tools/run-tool.js';

export interface ContactSheetSettings {
  frames: number;
  columns: number;
  /** Each frame fits in a tileEdgePx × tileEdgePx cell. */
  tileEdgePx: number;
  quality: number;
  /** For all frame extractions together. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
}

interface Frame {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * Evenly spaced frame times, each in the middle of its slice of the video (so
 * neither the first black frame nor the very end). Unknown duration: one frame.
 */
export function frameTimes(durationSec: number | undefined, frames: number): number[] {
  if (durationSec === undefined || !Number.isFinite(durationSec) || durationSec <= 0) return [0];
  return Array.from({ length: frames }, (_, i) => Number(((durationSec * (i + 0.5)) / frames).toFixed(3)));
}

/**
 * A contact sheet: one ffmpeg run per frame with fast input seeking (`-ss`
 * before `-i`, so only the data around each time is fetched by range
 * requests), composed with sharp into one JPEG. Frames that cannot be taken
 * stay black; if none can, 'decode-failed'.
 */
export async function contactSheet(ffmpeg: ResolvedTool, url: string, times: number[], settings: ContactSheetSettings): Promise<Omit<Thumbnail, 'from'>> {
  const deadline = Date.now() + settings.timeoutMs;
  const frames: Array<Frame | null> = [];
  let lastFailure: unknown;
  for (const t of times) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new ExhibitError('timeout', `contact sheet not finished within ${settings.timeoutMs} ms`);
    try {
      frames.push(await extractFrame(ffmpeg, url, t, settings.tileEdgePx, remainingMs, settings.abortSignal));
    } catch (err) {
      const classified = classifyToolFailure(err);
      // Only a failure of this one frame (e.g. a damaged region) leaves a gap; anything
      // about the file, the transport or the tool ends the sheet.
      if (!isExhibitError(classified, 'tool-failed')) throw classified;
      lastFailure = classified;
      frames.push(null);
    }
  }
  const taken = frames.filter((f): f is Frame => f !== null);
  if (taken.length === 0) {
    throw new ExhibitError('decode-failed', 'no video frame could be extracted', lastFailure === undefined ? {} : { cause: lastFailure });
  }

  const cellW = Math.max(...taken.map((f) => f.width));
  const cellH = Math.max(...taken.map((f) => f.height));
  const columns = Math.min(settings.columns, frames.length);
  const rows = Math.ceil(frames.length / columns);
  const width = columns * cellW;
  const height = rows * cellH;
  const composite = frames.flatMap((frame, i) =>
    frame
      ? [{
          input: frame.png,
          left: (i % columns) * cellW + Math.floor((cellW - frame.width) / 2),
          top: Math.floor(i / columns) * cellH + Math.floor((cellH - frame.height) / 2),
        }]
      : [],
  );
  const { data, info } = await sharp({ create: { width, height, channels: 3, background: '#000000' } })
    .composite(composite)
    .jpeg({ quality: settings.quality, chromaSubsampling: '4:2:0', mozjpeg: false })
    .toBuffer({ resolveWithObject: true });
  return { jpeg: data, width: info.width, height: info.height };
}

async function extractFrame(
  ffmpeg: ResolvedTool,
  url: string,
  timeSec: number,
  edgePx: number,
  timeoutMs: number,
  abortSignal: AbortSignal | undefined,
): Promise<Frame | null> {
  const args = [
    '-nostdin',
    '-hide_banner',
    '-loglevel', 'error',
    ...hardenedInputArgs(),
    '-ss', timeSec.toFixed(3),
    '-i', url,
    '-map', '0:v:0',
    '-frames:v', '1',
    '-an', '-sn', '-dn',
    '-vf', `scale=w=${edgePx}:h=${edgePx}:force_original_aspect_ratio=decrease`,
    '-f', 'image2pipe',
    '-c:v', 'png',
    'pipe:1',
  ];
  const { stdout } = await runTool('ffmpeg', ffmpeg.path, args, {
    timeoutMs,
    maxStdoutBytes: MEDIA_LIMITS.maxFrameOutputBytes,
    secrets: [url],
    ...(abortSignal ? { abortSignal } : {}),
  });
  // Seeking past the last frame yields no output: a gap, not an error.
  if (stdout.length === 0) return null;
  const meta = await sharp(stdout, { failOn: 'error' }).metadata();
  if (meta.format !== 'png' || !meta.width || !meta.height || meta.width > edgePx || meta.height > edgePx) {
    throw new ExhibitError('tool-failed', 'ffmpeg returned an unexpected frame');
  }
  return { png: stdout, width: meta.width, height: meta.height };
}
