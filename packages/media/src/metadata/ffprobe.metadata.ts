import { ExhibitError, LIMITS, type GeoPoint, type MediaMetadata, type MetadataFinding, type RandomAccessSource, type RecordedTime } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { classifyToolFailure, toolInput } from '../tools/ffmpeg-input.js';
import type { ResolvedTool } from '../tools/ffmpeg-path.js';
import { runTool } from '../tools/run-tool.js';
import { parseIso6709 } from './iso6709.js';
import { toJsonSafe } from './json-safe.js';
import { isoRecordedTime } from './recorded-time.js';
import { displayText } from './recorded-text.js';
import type { VideoXmpRead } from './video-xmp.reader.js';

/** The parts of ffprobe's JSON we read; everything else only goes into `raw`. */
export interface ProbeResult {
  format?: { format_name?: string; duration?: string; start_time?: string; tags?: Record<string, unknown>; [k: string]: unknown };
  streams?: Array<{
    index?: number;
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    duration?: string;
    start_time?: string;
    nb_frames?: string;
    avg_frame_rate?: string;
    disposition?: Record<string, unknown>;
    tags?: Record<string, unknown>;
    side_data_list?: Array<Record<string, unknown>>;
    [k: string]: unknown;
  }>;
}

/**
 * Runs ffprobe on the source's short-lived URL (HTTP range requests, no local
 * copy; a span of a larger blob through `subfile`) with the protocol/format
 * allowlists, a timeout and an output cap.
 */
export async function probe(
  ffprobe: ResolvedTool,
  source: RandomAccessSource,
  options: { abortSignal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  return (await runProbe(ffprobe, source, options, 'error', [])).result;
}

/**
 * What ffprobe says (at `-v warning`) when the duration it prints is not one
 * the file states: guessed from the bitrate and the file's size (an MP3
 * without a Xing/Info/VBRI header, an ADTS AAC stream: a VBR file's guess was
 * 18.1 s for 60 s), or stated in a header the file's size contradicts (a
 * truncated MP3 whose Xing header counts the frames it had).
 */
export const GUESSED_DURATION_WARNINGS = ['Estimating duration from bitrate', 'filesize and duration do not match'] as const;

/**
 * The probe for an audio file: as `probe`, at `-v warning`, with whether
 * ffprobe guessed the duration (GUESSED_DURATION_WARNINGS, looked for in all
 * of stderr as it streams: runTool's `stderrMarkers`).
 */
export async function probeAudio(
  ffprobe: ResolvedTool,
  source: RandomAccessSource,
  options: { abortSignal?: AbortSignal; timeoutMs?: number } = {},
): Promise<{ result: ProbeResult; durationGuessed: boolean }> {
  const { result, markersSeen } = await runProbe(ffprobe, source, options, 'warning', GUESSED_DURATION_WARNINGS);
  return { result, durationGuessed: markersSeen.length > 0 };
}

async function runProbe(
  ffprobe: ResolvedTool,
  source: RandomAccessSource,
  options: { abortSignal?: AbortSignal; timeoutMs?: number },
  verbosity: 'error' | 'warning',
  stderrMarkers: readonly string[],
): Promise<{ result: ProbeResult; markersSeen: string[] }> {
  const input = await toolInput(source);
  const args = [
    '-hide_banner',
    '-v', verbosity,
    '-print_format', 'json',
    '-show_format',
    '-show_streams',
    ...input.args,
    '-i', input.url,
  ];
  let stdout: Buffer;
  let markersSeen: string[];
  try {
    ({ stdout, markersSeen } = await runTool('ffprobe', ffprobe.path, args, {
      timeoutMs: options.timeoutMs ?? LIMITS.mediaToolTimeoutMs,
      maxStdoutBytes: MEDIA_LIMITS.maxProbeOutputBytes,
      secrets: [...input.secrets],
      stderrMarkers,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    }));
  } catch (err) {
    throw classifyToolFailure(err);
  }
  try {
    const parsed = JSON.parse(stdout.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    const result = parsed as ProbeResult;
    // format.filename is the input: the SAS URL would end up in MediaMetadata.raw.
    if (typeof result.format === 'object' && result.format !== null) delete result.format['filename'];
    return { result, markersSeen };
  } catch (err) {
    throw new ExhibitError('tool-failed', 'ffprobe printed no valid JSON', { cause: err });
  }
}

/**
 * Capture-time tags, in order, with the name exiftool gives them in a
 * QuickTime/MP4 file (`QuickTime:CreationDate` keeps Apple's local wall clock
 * and offset; `creation_time` is the movie header's time, and on a track the
 * media header's, `mdhd`, which exiftool calls MediaCreateDate).
 */
const CREATION_TAGS = [
  ['com.apple.quicktime.creationdate', 'CreationDate', 'CreationDate'],
  ['creation_time', 'CreateDate', 'MediaCreateDate'],
  ['date', 'ContentCreateDate', 'ContentCreateDate'],
] as const;

/**
 * An audio file's capture times: the recording's own (Apple's creationdate, the
 * movie header's creation_time). Not `date`: in music it is the release date
 * (ID3 TDRC/TYER, Vorbis DATE, MP4 ©day), set by a tagger, not when or where
 * the file was made, so it is no point on a timeline (it stays in `raw`).
 */
const AUDIO_CREATION_TAGS = CREATION_TAGS.filter(([name]) => name !== 'date');

/**
 * A QuickTime creation time of 0 (1904-01-01, the format's epoch) or a Unix
 * time of 0 means "never set": no capture time, rather than a wrong one.
 */
const UNSET_TIMES = /^(1904|1970)-01-01T00:00:00(\.0+)?Z$/;
const LOCATION_TAGS = ['com.apple.quicktime.location.ISO6709', 'location', 'location-eng'] as const;
const MAKE_TAGS = ['com.apple.quicktime.make', 'make', 'com.android.manufacturer', 'manufacturer'] as const;
const MODEL_TAGS = ['com.apple.quicktime.model', 'model', 'com.android.model'] as const;
const SOFTWARE_TAGS = ['com.apple.quicktime.software', 'software', 'com.android.version', 'encoder'] as const;

/**
 * ffprobe JSON → MediaMetadata. Pure. `asAudio`: no duration when ffprobe
 * guessed it (`durationGuessed`, from probeAudio), and no release date as
 * the capture time (AUDIO_CREATION_TAGS).
 */
export function normaliseProbe(result: ProbeResult, asAudio?: { durationGuessed: boolean }): MediaMetadata {
  const format = result.format ?? {};
  const streams = Array.isArray(result.streams) ? result.streams : [];
  const formatTags = tagsOf(format.tags);
  const quickTime = isQuickTime(result);
  const metadata: MediaMetadata = { raw: toJsonSafe({ format, streams }) };
  const findings: MetadataFinding[] = [];

  const duration = seconds(format.duration) ?? maxOf(streams.map((s) => seconds(s.duration)));
  // A guessed duration is absent, not wrong (it stays in `raw` as ffprobe printed it).
  if (duration !== undefined && !asAudio?.durationGuessed) metadata.durationSec = duration;

  const codecs = [...new Set(streams.map((s) => s.codec_name).filter((c): c is string => typeof c === 'string' && c !== ''))];
  if (codecs.length > 0) metadata.codecs = codecs;

  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (video && dimension(video.width) && dimension(video.height)) {
    metadata.width = video.width!;
    metadata.height = video.height!;
  }
  const videoStream = video ? streamSpan(video, format) : undefined;
  if (videoStream) metadata.videoStream = videoStream;
  const audio = streams.find((s) => s.codec_type === 'audio');
  const audioStream = audio ? audioOf(audio) : undefined;
  if (audioStream) metadata.audioStream = audioStream;

  // Every capture time read, format level before the video track's. A time that states its zone
  // (Apple's creationdate with its offset) comes first; in a QuickTime/MP4 file the movie and media
  // headers' times (`creation_time`) state none, whatever ffprobe's Z says (movieHeaderTime), unless
  // a zoned time names the same instant (provenUtc). XMP is not read here from ffprobe's tags: a
  // regular-expression scan took ingredients' and comments' dates as the file's and ran for tens of
  // seconds on hostile packets (video-xmp-pantry-date-taken-as-capture-time); a QuickTime/MP4 file's
  // packets are read structure-aware in a parser thread (video-xmp.reader.ts) and added by withVideoXmp.
  const creationTags = asAudio ? AUDIO_CREATION_TAGS : CREATION_TAGS;
  const times = [
    ...readTimes(formatTags, quickTime ? null : 'ffprobe:format.tags', false, quickTime, creationTags),
    ...(video ? readTimes(tagsOf(video.tags), quickTime ? null : `ffprobe:streams[${video.index ?? 0}].tags`, true, quickTime, creationTags) : []),
  ];
  const zoned = times.filter((t) => !t.header && t.time.offsetMinutes !== null).map((t) => t.time);
  const read = times.map((t) => ({ header: t.header !== undefined, time: t.header && !provenUtc(t.header, zoned) ? movieHeaderTime(t.header) : t.time }));
  // Times that state their own zone first (Apple's creationdate, on the video track too), then header times
  // proven UTC by one of them, then zone-less: a format-level proven-UTC header does not outrank the zoned
  // time that proved it, which also carries the local offset.
  const ordered = [
    ...read.filter((r) => !r.header && r.time.offsetMinutes !== null),
    ...read.filter((r) => r.header && r.time.offsetMinutes !== null),
    ...read.filter((r) => r.time.offsetMinutes === null),
  ].map((r) => r.time);
  if (ordered.length > 0) {
    metadata.takenAt = ordered[0]!;
    metadata.captureTimes = ordered;
  }

  const location = firstLocation(formatTags) ?? (video ? firstLocation(tagsOf(video.tags)) : null);
  if (location && location.lat === 0 && location.lon === 0) {
    // 0,0 is a receiver without a fix: kept as recorded, flagged, never a location.
    metadata.gpsRecorded = { ...location, flag: 'gps-null-island' };
    findings.push({ flag: 'gps-null-island', detail: 'GPS position recorded as 0,0 (no fix); not used as a location' });
  } else if (location) {
    metadata.gps = location;
  }

  const escaped: string[] = [];
  for (const [field, names] of [
    ['make', MAKE_TAGS],
    ['model', MODEL_TAGS],
    ['software', SOFTWARE_TAGS],
  ] as const) {
    const shown = firstText(formatTags, names);
    if (!shown) continue;
    metadata[field] = shown.text;
    if (shown.escaped) escaped.push(field);
  }
  if (escaped.length > 0) {
    metadata.escapedFields = escaped;
    findings.push({ flag: 'text-escaped', detail: `unprintable bytes shown as \\xNN in: ${escaped.join(', ')}` });
  }
  if (findings.length > 0) metadata.findings = findings;
  return metadata;
}

/** Whether ffprobe read the file as QuickTime/MP4 (the formats whose XMP boxes video-xmp.reader.ts reads). */
export function isQuickTime(result: ProbeResult): boolean {
  const name = result.format?.format_name;
  return typeof name === 'string' && /(^|,)(mov|mp4)(,|$)/.test(name);
}

/**
 * A video's metadata with its XMP capture dates (video-xmp.reader.ts) added. Pure. They rank after
 * every QuickTime time: XMP is what an editor last wrote (Premiere rewrites xmp:CreateDate on export;
 * an ingest tool may set it to the copy's time), while the movie/media headers and Apple's keys were
 * written by the device with the recording. So an XMP date is the capture time only where the file
 * states no other, and is listed in `captureTimes` with its tag as `source`, as an image's is.
 * Following the image precedent (EXIF vs XMP), an XMP date that names another moment than the
 * capture time the headers give is a `taken-at-conflict` finding (see sameVideoMoment). The
 * reader's notes (a packet too large, refused, a walk stopped) are `partial`, a `metadata-partial` finding.
 */
export function withVideoXmp(metadata: MediaMetadata, xmp: VideoXmpRead): MediaMetadata {
  const times = xmp.dates.map((d) => isoRecordedTime(d.text, d.source)).filter((t): t is RecordedTime => t !== null);
  const findings: MetadataFinding[] = [...(metadata.findings ?? [])];
  const out: MediaMetadata = { ...metadata };
  const reference = metadata.takenAt;
  if (times.length > 0) {
    out.captureTimes = [...(metadata.captureTimes ?? []), ...times];
    out.takenAt = reference ?? times[0]!;
    if (reference) {
      for (const time of times) {
        if (!sameVideoMoment(reference, time)) {
          findings.push({ flag: 'taken-at-conflict', detail: `${reference.source} ${describeTime(reference)} differs from ${time.source} ${describeTime(time)}` });
        }
      }
    }
  }
  if (xmp.notes.length > 0) {
    out.partial = [...(metadata.partial ?? []), ...xmp.notes];
    findings.push({ flag: 'metadata-partial', detail: `metadata read only in part: ${xmp.notes.join('; ')}`.slice(0, 1000) });
  }
  if (findings.length > 0) out.findings = findings;
  return out;
}

/**
 * Whether an XMP time and the video's capture time can name one moment, within SAME_INSTANT_MS: as
 * instants when both know their UTC; else as wall clocks; and a zone-less header time (a camera's
 * local clock or a phone's UTC: nothing tells which) also agrees with an XMP time whose UTC is the
 * header's clock read as UTC, and with a zone-less XMP time a real zone's offset from it (the header
 * UTC, XMP the local clock of some zone: from −12 h to +14 h, minutes :00, :30 or :45, as zones' are).
 * That pair used to be flagged as a conflict, though the header's own ambiguity explains it
 * (video-xmp-zoneless-utc-header-conflict); any multiple of 15 minutes within ±14 h was then taken
 * for a zone, −13 h and +2:15 among them, which no zone is (video-xmp-zoneless-offset-no-zone-has-accepted).
 * Only a difference no reading explains is a conflict.
 */
function sameVideoMoment(reference: RecordedTime, xmp: RecordedTime): boolean {
  const near = (a: number, b: number) => Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= SAME_INSTANT_MS;
  const wall = (t: RecordedTime) => Date.parse(`${t.local.slice(0, 23)}Z`);
  if (reference.utc !== null && xmp.utc !== null) return near(Date.parse(reference.utc), Date.parse(xmp.utc));
  if (near(wall(reference), wall(xmp))) return true;
  if (reference.utc !== null) return false;
  if (xmp.utc !== null) return near(wall(reference), Date.parse(xmp.utc));
  const apart = wall(xmp) - wall(reference);
  const offset = Math.round(apart / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  return isZoneOffset(offset) && near(wall(reference) + offset, wall(xmp));
}

/** Every time zone's offset from UTC is a whole multiple of this. */
const QUARTER_HOUR_MS = 15 * 60_000;
/** Zones' offsets span UTC−12 (Baker Island) to UTC+14 (Line Islands). */
const MIN_ZONE_OFFSET_MS = -12 * 3_600_000;
const MAX_ZONE_OFFSET_MS = 14 * 3_600_000;
/** Zones' minutes past the hour: :30 (India, Newfoundland, Marquesas), :45 (Nepal, Chatham, Eucla); none is :15. */
const ZONE_MINUTES = new Set([0, 30, 45]);

function isZoneOffset(offsetMs: number): boolean {
  if (offsetMs < MIN_ZONE_OFFSET_MS || offsetMs > MAX_ZONE_OFFSET_MS) return false;
  return ZONE_MINUTES.has((Math.abs(offsetMs) / 60_000) % 60);
}

function describeTime(t: RecordedTime): string {
  if (t.offsetMinutes === null) return t.local;
  const sign = t.offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(t.offsetMinutes);
  return `${t.local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function tagsOf(tags: unknown): Map<string, string> {
  // Tag names are matched case-insensitively: muxers differ in case.
  const out = new Map<string, string>();
  if (typeof tags !== 'object' || tags === null) return out;
  for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') out.set(k.toLowerCase(), v);
  return out;
}

/**
 * The creation tags' times, in CREATION_TAGS order. `where` null: QuickTime names (format level, or
 * the track's when `stream`); else ffprobe's path to the tag.
 */
function readTimes(
  tags: Map<string, string>,
  where: string | null,
  stream: boolean,
  quickTime: boolean,
  creationTags: readonly (typeof CREATION_TAGS)[number][],
): ReadTime[] {
  const out: ReadTime[] = [];
  for (const [name, movieTag, trackTag] of creationTags) {
    const source = where === null ? `QuickTime:${stream ? trackTag : movieTag}` : `${where}.${name}`;
    const time = isoRecordedTime(tags.get(name.toLowerCase()), source);
    if (!time || (time.utc && UNSET_TIMES.test(time.utc))) continue;
    // ffprobe prints a header's time with Z; another offset was written as text (a keys tag) and stated.
    out.push(quickTime && name === 'creation_time' && time.offsetMinutes === 0 ? { time, header: time } : { time });
  }
  return out;
}

/** A time as read; `header`: a movie/media header time as ffprobe printed it (read as UTC), zone not yet known. */
type ReadTime = { time: RecordedTime; header?: RecordedTime };

/** How far apart a header time and a zoned time may be and still be one instant (whole-second headers, muxing delay). */
const SAME_INSTANT_MS = 2000;

/**
 * A header time is proven UTC when a time that states its zone (Apple's creationdate) names the
 * same instant read as UTC: an iPhone writes UTC in mvhd and local+offset in creationdate. Then the
 * header is kept with its UTC, so it shows as the same instant (08:20:30 +00:00 beside 10:20:30
 * +02:00), not as a second zone-less wall clock two hours off (video-header-utc-shown-as-other-local-time).
 */
function provenUtc(header: RecordedTime, zoned: RecordedTime[]): boolean {
  const at = header.utc === null ? NaN : Date.parse(header.utc);
  if (!Number.isFinite(at)) return false;
  return zoned.some((z) => z.utc !== null && Math.abs(Date.parse(z.utc) - at) <= SAME_INSTANT_MS);
}

/**
 * A QuickTime/MP4 movie or media header time (mvhd, mdhd) as recorded, its zone unstated. The
 * format defines it as UTC and ffprobe prints it with a Z, but many cameras (Canon, Nikon, Sony,
 * Panasonic, older Samsung phones, dashcams) write their local wall clock there: read as UTC, their
 * 10:20 local became 10:20 UTC, a wrong instant shown as fact (video-mvhd-local-time-read-as-utc).
 * Phones write UTC; nothing in the header tells which. So it is kept as exiftool shows it by default
 * (without -api QuickTimeUTC), the wall clock as written, with no offset and no UTC, like an EXIF
 * time without an offset tag; a zone, where the file states one, comes from Apple's creationdate.
 */
function movieHeaderTime(time: RecordedTime): RecordedTime {
  return { local: time.local, offsetMinutes: null, utc: null, source: time.source };
}

function firstLocation(tags: Map<string, string>): GeoPoint | null {
  for (const name of LOCATION_TAGS) {
    const point = parseIso6709(tags.get(name.toLowerCase()));
    if (point) return point;
  }
  return null;
}

/** The first tag with text: cut at the first NUL, unprintable characters escaped (see recorded-text.ts). */
function firstText(tags: Map<string, string>, names: readonly string[]): { text: string; escaped: boolean } | undefined {
  for (const name of names) {
    const shown = displayText(tags.get(name.toLowerCase()));
    if (shown) return shown;
  }
  return undefined;
}

function seconds(v: unknown): number | undefined {
  const n = signedSeconds(v);
  return n !== undefined && n >= 0 ? n : undefined;
}

/**
 * Where the video stream runs on the file's timeline, as ffmpeg seeks it (`-ss` counts from
 * the file's start_time): its start after the file's start, and its duration. The duration is
 * the stream's stated one; its frame count over its average frame rate only where that is
 * longer AND the file's stated duration after the stream's start backs it up, and then no
 * longer than that rest of the file. Only what ffprobe states; nothing when it states neither.
 */
function streamSpan(stream: NonNullable<ProbeResult['streams']>[number], format: NonNullable<ProbeResult['format']>): MediaMetadata['videoStream'] {
  const span: NonNullable<MediaMetadata['videoStream']> = {};
  // Start times may be negative (encoder delay), so they are read signed; the difference is the offset.
  const streamStart = signedSeconds(stream.start_time);
  const fileStart = signedSeconds(format.start_time);
  if (streamStart !== undefined && fileStart !== undefined) span.startSec = Math.max(0, round6(streamStart - fileStart));
  const duration = seconds(stream.duration);
  const frames = Number(stream.nb_frames);
  const rate = frameRate(stream.avg_frame_rate);
  const counted = Number.isSafeInteger(frames) && frames > 0 && rate !== undefined ? round6(frames / rate) : undefined;
  const fileDuration = seconds(format.duration);
  const fileRest = fileDuration !== undefined ? round6(fileDuration - (span.startSec ?? 0)) : undefined;
  if (duration !== undefined && duration > 0) {
    // A header duration far below what the frames fill (an MP4 whose mdhd says 0.1 s over 300 frames at
    // 10 fps in a 30 s file) got a one-frame sheet (stream-duration-understated-one-frame). But the frame
    // count alone is no duration: an edit list shows 6.07 s of 317 frames (10.57 s at 30 fps), a piped AVI
    // says 1073741824 frames (414 days); stored as the stream's duration, both were wrong
    // (video-stream-duration-stored-from-edit-list-frames). So it lengthens the stated duration only up to
    // the rest of the file, which must itself be stated, and only when that rest is longer by more than a frame
    // (a file's duration rounded past its stream's, 6.067 s beside 6.066992 s, is no understatement).
    const frameSec = rate !== undefined ? 1 / rate : 0;
    span.durationSec = counted !== undefined && fileRest !== undefined && counted > duration + frameSec && fileRest > duration + frameSec ? Math.min(counted, fileRest) : duration;
  } else if (counted !== undefined) {
    // No stated duration: the frames over their rate, no longer than the rest of the file where that is stated.
    span.durationSec = fileRest !== undefined && fileRest > 0 ? Math.min(counted, fileRest) : counted;
  }
  return span.startSec === undefined && span.durationSec === undefined ? undefined : span;
}

/** Above any real recording's rate (DSD is stated as at most a few MHz) or channel layout: nonsense, not stated. */
const MAX_SAMPLE_RATE = 100_000_000;
const MAX_CHANNELS = 1024;

/** The audio stream's codec, sample rate and channel count, each only when ffprobe states a sane one. */
function audioOf(stream: NonNullable<ProbeResult['streams']>[number]): MediaMetadata['audioStream'] {
  const out: NonNullable<MediaMetadata['audioStream']> = {};
  if (typeof stream.codec_name === 'string' && stream.codec_name !== '') out.codec = stream.codec_name;
  // ffprobe prints sample_rate as a string ("44100"), channels as a number.
  const rate = Number(stream['sample_rate']);
  if (Number.isSafeInteger(rate) && rate > 0 && rate <= MAX_SAMPLE_RATE) out.sampleRate = rate;
  const channels = stream['channels'];
  if (typeof channels === 'number' && Number.isInteger(channels) && channels > 0 && channels <= MAX_CHANNELS) out.channels = channels;
  return Object.keys(out).length > 0 ? out : undefined;
}

function signedSeconds(v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** ffprobe's `num/den` rate; undefined for 0/0 (unknown) or nonsense. */
function frameRate(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d+)\/(\d+)$/.exec(v) : null;
  if (!m) return undefined;
  const rate = Number(m[1]) / Number(m[2]);
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

/** ffprobe prints microseconds: a difference of two of its times is rounded back to them. */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

function maxOf(values: Array<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length > 0 ? Math.max(...defined) : undefined;
}

function dimension(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1_000_000;
}
