import sharp from 'sharp';
import { ExhibitError, isExhibitError, type PdqFrameHash, type Thumbnail } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { PDQ_SQUASH_EDGE_PX } from '../pdq/pdq.hasher.js';
import { pdqFromImage } from '../pdq/pdq.pixels.js';
import { classifyToolFailure, type ToolInput } from '../tools/ffmpeg-input.js';
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
  /** Where the video stream starts (`-ss` time): the frame taken when no planned one can be. Default 0. */
  firstFrameSec?: number;
  abortSignal?: AbortSignal;
}

interface Frame {
  png: Buffer;
  width: number;
  height: number;
  /** The same decoded frame at up to PDQ_SQUASH_EDGE_PX a side, for its PDQ hash; null if ffmpeg gave none. */
  pdqPng: Buffer | null;
  /**
   * The decoded frame's own time after its seek time, in seconds (its presentation time as ffmpeg
   * shifts it by the seek), from the frame's third output; null when that output said nothing usable.
   */
  afterSeekSec: number | null;
}

/**
 * Evenly spaced frame times, each in the middle of its slice of the video (so
 * neither the first black frame nor the very end), as many as fit: at most
 * `frames`, and no two closer than `minSpacingSec`, so a short clip gets a
 * sheet of fewer frames (down to one, the first frame) instead of nine
 * seeks past its few frames. Unknown duration: one frame, the first.
 */
export function frameTimes(durationSec: number | undefined, frames: number, minSpacingSec: number = MEDIA_LIMITS.contactSheetMinFrameSpacingSec): number[] {
  if (durationSec === undefined || !Number.isFinite(durationSec) || durationSec <= 0) return [0];
  const count = Math.max(1, Math.min(frames, Math.floor(durationSec / minSpacingSec)));
  // One frame: the first, without a seek. A clip of one or two frames has nothing at its middle.
  if (count === 1) return [0];
  return Array.from({ length: count }, (_, i) => Number(((durationSec * (i + 0.5)) / count).toFixed(3)));
}

/** What a video's frames are planned on: the file's duration and its video stream, as recorded. */
export interface FramePlan {
  durationSec?: number;
  videoStream?: { startSec?: number; durationSec?: number };
}

/**
 * Frame times (as `-ss` counts them, from the file's start) within the video stream: from its
 * start, over its own span (its stated duration, lengthened by its frames over its rate up to the
 * file's duration, see ffprobe.metadata.ts). A video track can be far shorter than the file (1 s of video beside 30 s
 * of audio) or start late (a cut recording): planned on the file's duration, every seek landed
 * past the video's last frame. A stream longer than the rest of the file is cut to it; without a
 * stream duration, the file's duration after the stream's start is used. A stream said to start
 * at or after the file's end is planned on the file (stream-start-past-file-end). Times beyond
 * MEDIA_LIMITS.maxMediaTimeSec are no times (ffmpeg refuses `-ss 1e+22`): left out of the plan.
 */
export function planFrameTimes(plan: FramePlan, frames: number): number[] {
  const fileSec = usable(plan.durationSec);
  const statedStart = plan.videoStream?.startSec;
  let startSec = usable(statedStart) ?? 0;
  let streamSec = usable(plan.videoStream?.durationSec);
  // A start that is no time, or at or past the file's end: the stream's timeline is not known, so neither is its span.
  if ((statedStart !== undefined && usable(statedStart) === undefined) || (fileSec !== undefined && fileSec > 0 && startSec >= fileSec)) {
    startSec = 0;
    streamSec = undefined;
  }
  const fileRest = fileSec !== undefined ? fileSec - startSec : undefined;
  const spanSec = streamSec !== undefined && streamSec > 0 ? (fileRest !== undefined && fileRest > 0 ? Math.min(streamSec, fileRest) : streamSec) : fileRest;
  return frameTimes(spanSec, frames).map((t) => Number((startSec + t).toFixed(3)));
}

/** A time or duration in seconds that can be one: finite, not negative, not beyond MEDIA_LIMITS.maxMediaTimeSec. */
function usable(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) && n >= 0 && n <= MEDIA_LIMITS.maxMediaTimeSec ? n : undefined;
}

/** ffmpeg's words when `-map N:V:0` finds no video stream other than attached pictures. */
const NO_SHOWN_STREAM = /Stream map '\d+:V:0' matches no streams/;

/**
 * A contact sheet, composed with sharp into one JPEG. All frames come from a
 * single ffmpeg run: the input is opened once per frame, each input with its own
 * fast seek (`-ss` before `-i`, so only the data around each time is fetched
 * by range requests), and each frame goes to its own pipe, so a frame that
 * cannot be taken (past the end, a damaged region) is simply an empty output.
 * One process rather than one per frame: starting ffmpeg costs about 0.1
 * CPU-s, some 40 % of a short 720p clip's sheet when paid nine times.
 * Frames that cannot be taken stay black. If none can, the first frame alone
 * (at `firstFrameSec`, where the video stream starts): a recording cut off early
 * (an interrupted copy, a partly recovered file) still declares its full duration,
 * and every planned seek lands past its data; so does an intact file whose one frame comes
 * before the first planned time (cover art beside audio). No finding: nothing here tells the two
 * apart. Nothing at all: 'decode-failed'.
 */
export async function contactSheet(ffmpeg: ResolvedTool, input: ToolInput, planned: number[], settings: ContactSheetSettings): Promise<Omit<Thumbnail, 'from'>> {
  let times = planned;
  // Each frame also goes out a second time for its PDQ hash (docs/pdq.md, "Videos"): from the same decode,
  // on a second pipe, scaled down to at most the reference's 512 px a side (never up), aspect kept.
  const deadline = Date.now() + settings.timeoutMs;
  const remainingMs = () => {
    const ms = deadline - Date.now();
    // No number in the text: what is left of the budget differs from run to run, the reason must not.
    if (ms <= 0) throw new ExhibitError('timeout', 'contact sheet not finished within the media tool time limit', { details: { timeoutMs: settings.timeoutMs } });
    return ms;
  };
  let taking: FramesTaken;
  try {
    taking = await extractFramesTogether(ffmpeg, input, times, settings.tileEdgePx, remainingMs(), settings.abortSignal);
  } catch (err) {
    const classified = classifyToolFailure(err);
    if (!isExhibitError(classified, 'tool-failed')) throw classified;
    if (NO_SHOWN_STREAM.test((classified.details as { stderr?: string } | undefined)?.stderr ?? '')) {
      throw new ExhibitError('decode-failed', 'no video stream (none, or cover art only)', { cause: classified });
    }
    // The run failed as a whole and cannot say which frame was at fault (e.g. a
    // damaged region pushed ffmpeg's decode-error rate over its limit): take the
    // frames one by one, so only the bad ones become gaps.
    taking = await extractFramesOneByOne(ffmpeg, input, times, settings.tileEdgePx, remainingMs, settings.abortSignal);
  }
  const firstFrameSec = settings.firstFrameSec ?? 0;
  if (taking.frames.every((f) => f === null) && !(times.length === 1 && times[0] === firstFrameSec)) {
    // Every planned seek found no frame after it; the stream's first frame may still be there.
    // Only if it decodes without error: a first frame cut off in its own data (ffmpeg would
    // fill in the missing part) is no picture of the video.
    times = [firstFrameSec];
    const first = await extractFramesOneByOne(ffmpeg, input, times, settings.tileEdgePx, remainingMs, settings.abortSignal, EXIT_ON_ERROR);
    // No finding: an intact file reaches this as well as a cut one (cover art or a still beside 20 s of
    // audio, one frame at 1 fps before the first planned time), and nothing here tells the two apart,
    // so a damage claim would be wrong for the intact one (contact-sheet-cover-art-flagged-partially-decoded).
    // The sheet's single frame time (its PDQ hash's time) shows it is the first frame alone.
    taking = { frames: first.frames, lastFailure: first.lastFailure ?? taking.lastFailure };
  }
  const { frames, lastFailure } = taking;
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
  const pdq = await framePdq(frames, times, settings.abortSignal);
  return { jpeg: data, width: info.width, height: info.height, ...pdq };
}

/**
 * A PDQ hash per frame taken (frame = its place in the sheet, with its time),
 * from the frame's second output. A frame whose PDQ output is missing or does
 * not decode gets no hash (the sheet stands); the reason is given when no frame
 * got one.
 */
async function framePdq(frames: Array<Frame | null>, times: number[], abortSignal: AbortSignal | undefined): Promise<Pick<Thumbnail, 'pdq' | 'pdqFailure'>> {
  const pdq: PdqFrameHash[] = [];
  let failure: string | null = null;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    if (!frame) continue;
    if (!frame.pdqPng) {
      failure = `frame ${i}: ffmpeg gave no frame for the PDQ hash`;
      continue;
    }
    try {
      const { hash, quality } = await pdqFromImage(frame.pdqPng, { mime: 'image/png', ...(abortSignal ? { abortSignal } : {}) });
      const timeMs = frameTimeMs(times[i], frame.afterSeekSec);
      pdq.push({ frame: i, hash, quality, ...(timeMs !== undefined ? { timeMs } : {}) });
    } catch (err) {
      if (!(isExhibitError(err, 'decode-failed') || isExhibitError(err, 'unsupported-format') || isExhibitError(err, 'limit-exceeded'))) throw err;
      failure = `frame ${i}: ${err.code}: ${err.message}`;
    }
  }
  if (pdq.length > 0) return { pdq };
  return { pdqFailure: failure ?? 'no frame was taken' };
}

/**
 * Where the hashed frame is, in milliseconds from the file's start (as `-ss` counts): its seek time
 * plus how far after it the decoded frame lies. The seek time alone was recorded before, but the
 * frame ffmpeg gives is the first one at or after it, up to a frame's duration later (a second at
 * 1 fps, as CCTV and dashcams record), or the next keyframe where the demuxer cannot seek exactly
 * (an MPEG-TS with a keyframe every 2 s: seek 2.1 s, frame at 4.0 s); so the hash was recorded at a
 * time whose picture it is not (pdq-frame-time-is-seek-time-not-frame-time). Without the frame's
 * own time, no time rather than the seek's.
 */
function frameTimeMs(seekSec: number | undefined, afterSeekSec: number | null): number | undefined {
  if (seekSec === undefined || afterSeekSec === null) return undefined;
  const ms = Math.round((seekSec + afterSeekSec) * 1000);
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_FRAME_TIME_MS ? ms : undefined;
}

/** The index keeps a frame time as a 32-bit count of milliseconds. */
const MAX_FRAME_TIME_MS = 2 ** 31 - 1;

/**
 * The first frame's presentation time in an ffmpeg `framecrc` listing: `#tb 0: num/den`, then
 * `0, dts, pts, duration, size, crc`. Seconds, or null when the listing is not that.
 */
function framecrcFirstPts(text: string): number | null {
  const tb = /^#tb 0: (\d{1,10})\/(\d{1,10})$/m.exec(text);
  const line = /^0,\s*(-?\d{1,19}),\s*(-?\d{1,19}),/m.exec(text);
  if (!tb || !line) return null;
  const num = Number(tb[1]);
  const den = Number(tb[2]);
  const pts = Number(line[2]);
  if (num <= 0 || den <= 0 || !Number.isSafeInteger(pts)) return null;
  const sec = (pts * num) / den;
  return Number.isFinite(sec) ? sec : null;
}

interface FramesTaken {
  /** One per requested time; null where no frame could be taken. */
  frames: Array<Frame | null>;
  lastFailure?: unknown;
}

/**
 * Three outputs of one input's first frame after its seek: the tile, the
 * frame for its PDQ hash, and that frame's time. ffmpeg decodes an input stream once and feeds each
 * output's filter from that decode, so the second output costs a scale and a
 * PNG encode, not a decode, and the third no encode at all (`wrapped_avframe`
 * passes the decoded frame on; `framecrc` prints its timestamp, in the stream's
 * own time base by `-enc_time_base` (demuxTimeBase), not rounded to the frame rate). The PDQ frame is scaled to fit the reference's
 * 512 px (a larger picture would be squashed to 512 x 512 by the hasher), with
 * area averaging, and never enlarged.
 */
function frameOutputArgs(ffmpeg: ResolvedTool, inputIndex: number, edgePx: number, tileOutput: string, pdqOutput: string, timeOutput: string): string[] {
  const out = (vf: string, output: string) => [
    // `V` (not `v`): the first video stream that is not an attached picture. ffmpeg lists an
    // MP4's cover art as video stream 0 when its udta comes before the traks; `v:0` took the
    // still, and every seek into it missed while the metadata described the movie's stream.
    '-map', `${inputIndex}:V:0`,
    '-frames:v', '1',
    '-an', '-sn', '-dn',
    '-vf', vf,
    '-f', 'image2pipe',
    '-c:v', 'png',
    output,
  ];
  const pdqEdge = PDQ_SQUASH_EDGE_PX;
  return [
    ...out(`scale=w=${edgePx}:h=${edgePx}:force_original_aspect_ratio=decrease`, tileOutput),
    ...ONE_THREAD,
    ...out(`scale=w='min(${pdqEdge},iw)':h='min(${pdqEdge},ih)':force_original_aspect_ratio=decrease:flags=area`, pdqOutput),
    ...ONE_THREAD,
    '-map', `${inputIndex}:V:0`,
    '-frames:v', '1',
    '-an', '-sn', '-dn',
    '-enc_time_base', demuxTimeBase(ffmpeg.version),
    '-c:v', 'wrapped_avframe',
    '-f', 'framecrc',
    timeOutput,
  ];
}

/**
 * `-enc_time_base`'s value for "the input stream's own time base" in this ffmpeg: `demux` from 6.1,
 * where `-1` is deprecated (printed only at -v warning) and may be removed (fftools'
 * FFMPEG_OPT_ENC_TIME_BASE_NUM); `-1` before, where `demux` is refused ("Invalid time base", so the
 * whole sheet failed), and for a version that names no release (a git build, `N-47683-g0e8eb07980`,
 * as the npm-shipped ffmpeg is), since `-1` is read by every release from 4.x through 8.x. The
 * version is the one resolved from `-version` and recorded with the derived items.
 */
export function demuxTimeBase(version: string): '-1' | 'demux' {
  const m = /^n?(\d{1,4})\.(\d{1,4})(?:\D|$)/.exec(version);
  if (!m) return '-1';
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 6 || (major === 6 && minor >= 1) ? 'demux' : '-1';
}

/**
 * One thread per decoder and encoder: otherwise each of the nine inputs starts
 * a thread per core with its own frame queue (a 4K sheet peaked at 890 MB
 * instead of 400 MB on two cores, and would grow with the core count).
 */
const ONE_THREAD = ['-threads', '1'];

async function extractFramesTogether(
  ffmpeg: ResolvedTool,
  input: ToolInput,
  times: number[],
  edgePx: number,
  timeoutMs: number,
  abortSignal: AbortSignal | undefined,
): Promise<FramesTaken> {
  // Input options apply to the next `-i` only: every input gets the allowlists and its own seek.
  const inputs = times.flatMap((t) => [...input.args, ...ONE_THREAD, '-ss', t.toFixed(3), '-i', input.url]);
  // Frame i's tile goes to pipe 3 + 3i, its PDQ frame to pipe 4 + 3i, its time to pipe 5 + 3i.
  const outputs = times.flatMap((_, i) => [...ONE_THREAD, ...frameOutputArgs(ffmpeg, i, edgePx, `pipe:${3 + 3 * i}`, `pipe:${4 + 3 * i}`, `pipe:${5 + 3 * i}`)]);
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-filter_threads', '1', ...inputs, ...outputs];
  const { outputs: pngs } = await runTool('ffmpeg', ffmpeg.path, args, {
    timeoutMs,
    // Applies to each frame's pipe: the same cap per frame as a run per frame had.
    maxStdoutBytes: MEDIA_LIMITS.maxFrameOutputBytes,
    extraOutputs: 3 * times.length,
    secrets: [...input.secrets],
    ...(abortSignal ? { abortSignal } : {}),
  });
  const taking: FramesTaken = { frames: [] };
  for (let i = 0; i < times.length; i++) {
    try {
      taking.frames.push(await readFrame(pngs[3 * i] ?? Buffer.alloc(0), pngs[3 * i + 1] ?? null, pngs[3 * i + 2] ?? null, edgePx));
    } catch (err) {
      taking.lastFailure = err;
      taking.frames.push(null);
    }
  }
  return taking;
}

/** ffmpeg's `-xerror`: a damaged packet or a decode error fails the run instead of being concealed. */
const EXIT_ON_ERROR = ['-xerror'];

/** The fallback: one run per frame, so one frame's failure cannot take the others with it. */
async function extractFramesOneByOne(
  ffmpeg: ResolvedTool,
  input: ToolInput,
  times: number[],
  edgePx: number,
  remainingMs: () => number,
  abortSignal: AbortSignal | undefined,
  globalArgs: readonly string[] = [],
): Promise<FramesTaken> {
  const taking: FramesTaken = { frames: [] };
  for (const t of times) {
    try {
      const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', ...globalArgs, ...input.args, '-ss', t.toFixed(3), '-i', input.url, ...frameOutputArgs(ffmpeg, 0, edgePx, 'pipe:1', 'pipe:3', 'pipe:4')];
      const { stdout, outputs } = await runTool('ffmpeg', ffmpeg.path, args, {
        timeoutMs: remainingMs(),
        maxStdoutBytes: MEDIA_LIMITS.maxFrameOutputBytes,
        extraOutputs: 2,
        secrets: [...input.secrets],
        ...(abortSignal ? { abortSignal } : {}),
      });
      taking.frames.push(await readFrame(stdout, outputs[0] ?? null, outputs[1] ?? null, edgePx));
    } catch (err) {
      const classified = classifyToolFailure(err);
      // Only a failure of this one frame (e.g. a damaged region) leaves a gap; anything
      // about the file, the transport or the tool ends the sheet.
      if (!isExhibitError(classified, 'tool-failed')) throw classified;
      taking.lastFailure = classified;
      taking.frames.push(null);
    }
  }
  return taking;
}

const MAX_TIMING_BYTES = 4096;

/** Seeking past the last frame yields no output: a gap, not an error. */
async function readFrame(png: Buffer, pdqPng: Buffer | null, timing: Buffer | null, edgePx: number): Promise<Frame | null> {
  if (png.length === 0) return null;
  const meta = await sharp(png, { failOn: 'error' })
    .metadata()
    .catch((err: unknown) => {
      throw new ExhibitError('tool-failed', 'ffmpeg returned a frame that does not decode', { cause: err });
    });
  if (meta.format !== 'png' || !meta.width || !meta.height || meta.width > edgePx || meta.height > edgePx) {
    throw new ExhibitError('tool-failed', 'ffmpeg returned an unexpected frame');
  }
  // The PDQ frame is checked when it is hashed (pdqFromImage refuses what does not decode).
  // A few hundred bytes for one frame; more is no listing of one frame.
  const afterSeekSec = timing && timing.length > 0 && timing.length <= MAX_TIMING_BYTES ? framecrcFirstPts(timing.toString('latin1')) : null;
  return { png, width: meta.width, height: meta.height, pdqPng: pdqPng && pdqPng.length > 0 ? pdqPng : null, afterSeekSec };
}
