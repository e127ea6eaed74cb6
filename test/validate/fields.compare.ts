/**
 * What `npm run validate` compares, and what "agree" means for each field.
 * Pure: both sides are first normalised into FieldValues (Exhibit's
 * MediaMetadata on one side, exiftool's and ffprobe's JSON on the other),
 * then each field is compared with its own rule. docs/validation.md explains
 * the rules; change both together.
 *
 * The rules are deliberately strict. A tolerance exists only where the two
 * sides cannot be more exact than it (GPS encodings, ffprobe's printed
 * duration); nothing is trimmed or rounded that could make a wrong value agree.
 */
import type { GeoPoint, Identification, MediaMetadata } from '@exhibit/core';

export const FIELDS = ['type', 'make', 'model', 'takenAt', 'gps', 'pixelSize', 'durationSec', 'codecs'] as const;
export type Field = (typeof FIELDS)[number];

/** The fields the "done" line names: 100 % on these on the sample case. */
export const CORE_FIELDS: readonly Field[] = ['make', 'model', 'takenAt', 'gps', 'pixelSize'];

/** A capture time to the second, as recorded: wall clock and the offset recorded with it (null: none). */
export interface TimeValue {
  local: string;
  offsetMinutes: number | null;
}

export interface FieldValues {
  type?: string;
  make?: string;
  model?: string;
  takenAt?: TimeValue;
  gps?: { lat: number; lon: number };
  pixelSize?: { width: number; height: number };
  durationSec?: number;
  codecs?: string[];
}

/** Where each reference value came from (tag or JSON path), for the disagreement list. */
export type FieldSources = Partial<Record<Field, string>>;

export type Verdict = 'agree' | 'disagree' | 'only-exhibit' | 'only-reference' | 'both-absent' | 'not-compared';
export const VERDICTS: readonly Verdict[] = ['agree', 'disagree', 'only-exhibit', 'only-reference', 'both-absent', 'not-compared'];

/** GPS: 2e-5 degrees (about 2 m). The coarsest common encoding, 3GPP `loci` in MP4, stores 16.16 fixed point: 1/65536 = 1.5e-5 degrees. */
export const GPS_TOLERANCE_DEG = 2e-5;
/** Duration: ffprobe prints microseconds; 1 ms absorbs only printing and float conversion. */
export const DURATION_TOLERANCE_SEC = 0.001;

// ---------------------------------------------------------------- normalisers

/** Trimmed text; empty is absent. Numbers (exiftool prints a model "5" as 5) become their text. */
export function normText(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

// Seconds are optional: XMP dates may stop at the minute (Photoshop wrote `2003-09-05T16:30+02:00`), as Exhibit reads them.
const TIME_RE = /^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i;
const OFFSET_RE = /^\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)\s*$/i;

export function parseOffset(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = OFFSET_RE.exec(text);
  if (!m) return null;
  if (m[1]) return 0;
  const minutes = m[4] === undefined ? 0 : Number(m[4]);
  if (minutes > 59) return null;
  const total = (m[2] === '-' ? -1 : 1) * (Number(m[3]) * 60 + minutes);
  return Math.abs(total) > 14 * 60 ? null : total;
}

/**
 * `YYYY:MM:DD HH:MM:SS` or ISO 8601, fraction dropped (compared to the second),
 * an offset written in the text or given apart (EXIF OffsetTime*). Impossible
 * dates, such as the all-zero date of a camera whose clock was never set, are absent.
 */
export function parseTime(text: unknown, separateOffset?: unknown): TimeValue | undefined {
  if (typeof text !== 'string') return undefined;
  const m = TIME_RE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMinutes: number | null = null;
  if (m[7] !== undefined) {
    offsetMinutes = parseOffset(m[7]);
    if (offsetMinutes === null) return undefined;
  } else if (separateOffset !== undefined) {
    offsetMinutes = parseOffset(separateOffset);
  }
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return { local: `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}`, offsetMinutes };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** A located point, or absent: out of range, or exactly 0,0 ("null island", what a receiver without a fix writes). */
export function normGps(lat: unknown, lon: unknown): { lat: number; lon: number } | undefined {
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  if (lat === 0 && lon === 0) return undefined;
  return { lat, lon };
}

function normSize(width: unknown, height: unknown): { width: number; height: number } | undefined {
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  return ok(width) && ok(height) ? { width, height } : undefined;
}

/** MIME spellings that name the same format in exiftool and file-type. */
const MIME_ALIASES: Record<string, string> = {
  'video/x-msvideo': 'video/vnd.avi',
  'video/avi': 'video/vnd.avi',
  'video/x-matroska': 'video/matroska',
  'image/x-ms-bmp': 'image/bmp',
  'image/x-bmp': 'image/bmp',
  'image/jpg': 'image/jpeg',
};

/** Only image and video types are compared; anything else counts as absent on that side. */
export function normMime(v: unknown): string | undefined {
  const t = normText(v)?.toLowerCase();
  if (!t || !/^(image|video)\//.test(t)) return undefined;
  return MIME_ALIASES[t] ?? t;
}

// ---------------------------------------------------------------- Exhibit side

/** Exhibit's identification and metadata → FieldValues. */
export function exhibitValues(identification: Pick<Identification, 'mime'> | null, metadata: MediaMetadata | null): FieldValues {
  const out: FieldValues = {};
  const type = normMime(identification?.mime);
  if (type) out.type = type;
  if (!metadata) return out;
  const make = normText(metadata.make);
  if (make !== undefined) out.make = make;
  const model = normText(metadata.model);
  if (model !== undefined) out.model = model;
  if (metadata.takenAt) {
    // `local` is already ISO; the offset is Exhibit's own field, not re-read from text.
    const t = parseTime(metadata.takenAt.local);
    if (t) out.takenAt = { local: t.local, offsetMinutes: metadata.takenAt.offsetMinutes };
  }
  const gps = exhibitGps(metadata.gps);
  if (gps) out.gps = gps;
  const size = normSize(metadata.width, metadata.height);
  if (size) out.pixelSize = size;
  if (typeof metadata.durationSec === 'number' && Number.isFinite(metadata.durationSec)) out.durationSec = metadata.durationSec;
  if (metadata.codecs && metadata.codecs.length > 0) out.codecs = [...new Set(metadata.codecs)].sort();
  return out;
}

/** Exhibit's point as reported: no null-island filtering here, that is what is being measured. */
function exhibitGps(gps: GeoPoint | undefined): { lat: number; lon: number } | undefined {
  if (!gps || !Number.isFinite(gps.lat) || !Number.isFinite(gps.lon)) return undefined;
  return { lat: gps.lat, lon: gps.lon };
}

// ---------------------------------------------------------------- reference side

export type ExiftoolRecord = Record<string, unknown>;

/** The first tag of `names` that gives a value with `read`, and its name. */
function first<T>(record: ExiftoolRecord, names: readonly string[], read: (v: unknown) => T | undefined): { value: T; tag: string } | undefined {
  for (const tag of names) {
    const value = read(record[tag]);
    if (value !== undefined) return { value, tag };
  }
  return undefined;
}

const MAKE_TAGS = ['IFD0:Make', 'Keys:Make', 'Keys:AndroidManufacturer', 'UserData:Make', 'ItemList:Make', 'XMP-tiff:Make'] as const;
const MODEL_TAGS = ['IFD0:Model', 'Keys:Model', 'Keys:AndroidModel', 'UserData:Model', 'ItemList:Model', 'XMP-tiff:Model'] as const;

/** exiftool's MIME type says video: the video rules apply (pixel size from ffprobe, QuickTime dates). */
export function exiftoolIsVideo(record: ExiftoolRecord | undefined): boolean {
  return typeof record?.['File:MIMEType'] === 'string' && record['File:MIMEType'].toLowerCase().startsWith('video/');
}

/**
 * exiftool `-j -n -G1` output for one file → FieldValues for type, make,
 * model, takenAt, gps and (images) pixelSize.
 */
export function exiftoolValues(record: ExiftoolRecord): { values: FieldValues; sources: FieldSources } {
  const values: FieldValues = {};
  const sources: FieldSources = {};
  const type = normMime(record['File:MIMEType']);
  if (type) {
    values.type = type;
    sources.type = 'File:MIMEType';
  }
  const make = first(record, MAKE_TAGS, normText);
  if (make) [values.make, sources.make] = [make.value, make.tag];
  const model = first(record, MODEL_TAGS, normText);
  if (model) [values.model, sources.model] = [model.value, model.tag];

  const taken = exiftoolTakenAt(record);
  if (taken) [values.takenAt, sources.takenAt] = [taken.value, taken.tag];

  // exiftool composes a position whatever its GPSStatus; V (measurement void) says it is none, as 0,0 does.
  const voidFix = typeof record['GPS:GPSStatus'] === 'string' && record['GPS:GPSStatus'].trim().toUpperCase() === 'V';
  const gps = voidFix ? undefined : normGps(record['Composite:GPSLatitude'], record['Composite:GPSLongitude']);
  if (gps) {
    values.gps = gps;
    sources.gps = 'Composite:GPSLatitude/GPSLongitude';
  }

  if (!exiftoolIsVideo(record)) {
    // The real frame: File:ImageWidth (JPEG SOF, HEIF ispe, ...), else the composite ImageSize
    // (TIFF IFD0, PNG IHDR, GIF screen). Never ExifIFD:ExifImageWidth, which is only a declaration.
    const file = normSize(record['File:ImageWidth'], record['File:ImageHeight']);
    if (file) {
      values.pixelSize = file;
      sources.pixelSize = 'File:ImageWidth/ImageHeight';
    } else {
      const m = typeof record['Composite:ImageSize'] === 'string' ? /^(\d+)[ x](\d+)$/.exec(record['Composite:ImageSize']) : null;
      const composite = m ? normSize(Number(m[1]), Number(m[2])) : undefined;
      if (composite) {
        values.pixelSize = composite;
        sources.pixelSize = 'Composite:ImageSize';
      }
    }
  }
  return { values, sources };
}

/** An IPTC-IIM date+time exiftool composed: 00:00:00 is no time, +00:00 no offset (see exiftoolTakenAt). */
function iptcTime(v: unknown): TimeValue | undefined {
  const t = parseTime(v);
  if (!t || t.local.endsWith('T00:00:00')) return undefined;
  return t.offsetMinutes === 0 ? { ...t, offsetMinutes: null } : t;
}

/** exiftool's MIME types of the QuickTime/MP4 family, whose XMP boxes Exhibit reads for dates. */
const QUICKTIME_MIME_TYPES: ReadonlySet<string> = new Set(['video/quicktime', 'video/mp4', 'video/x-m4v', 'video/3gpp', 'video/3gpp2']);

/**
 * The capture time. Images: DateTimeOriginal, then CreateDate (DateTimeDigitized),
 * each with its own offset tag, then XMP. Videos: Apple's CreationDate (local with
 * offset), then the movie header's CreateDate as written (no zone: QuickTime says UTC,
 * many cameras write local time); Matroska's DateUTC; then a QuickTime/MP4 file's XMP dates. Never ModifyDate: it records an edit, not the capture.
 */
function exiftoolTakenAt(record: ExiftoolRecord): { value: TimeValue; tag: string } | undefined {
  const candidates: Array<[string, () => TimeValue | undefined]> = exiftoolIsVideo(record)
    ? [
        ['Keys:CreationDate', () => parseTime(record['Keys:CreationDate'])],
        ['UserData:DateTimeOriginal', () => parseTime(record['UserData:DateTimeOriginal'])],
        // The movie header's time as exiftool shows it by default (no -api QuickTimeUTC): as written, no
        // zone. QuickTime defines it as UTC, but many cameras write local time there; Exhibit keeps it so too.
        ['QuickTime:CreateDate', () => parseTime(record['QuickTime:CreateDate'])],
        ['Keys:CreationTime', () => parseTime(record['Keys:CreationTime'])],
        // Matroska/WebM DateUTC (exiftool writes the Z); without it every MKV capture time was only-exhibit.
        ['Matroska:DateTimeOriginal', () => parseTime(record['Matroska:DateTimeOriginal'], 'Z')],
        // A QuickTime/MP4 file's XMP, after every QuickTime time, in Exhibit's order (video-xmp.reader.ts,
        // VIDEO_XMP_DATE_TAGS); Exhibit reads no other container's XMP (AVI, Matroska), so neither does the reference.
        ...(QUICKTIME_MIME_TYPES.has(String(record['File:MIMEType']).toLowerCase())
          ? ([
              ['XMP-exif:DateTimeOriginal', () => parseTime(record['XMP-exif:DateTimeOriginal'])],
              ['XMP-photoshop:DateCreated', () => parseTime(record['XMP-photoshop:DateCreated'])],
              ['XMP-xmpDM:ShotDate', () => parseTime(record['XMP-xmpDM:ShotDate'])],
              ['XMP-exif:DateTimeDigitized', () => parseTime(record['XMP-exif:DateTimeDigitized'])],
              ['XMP-xmp:CreateDate', () => parseTime(record['XMP-xmp:CreateDate'])],
            ] satisfies Array<[string, () => TimeValue | undefined]>)
          : []),
      ]
    : [
        ['ExifIFD:DateTimeOriginal', () => parseTime(record['ExifIFD:DateTimeOriginal'], record['ExifIFD:OffsetTimeOriginal'])],
        ['ExifIFD:CreateDate', () => parseTime(record['ExifIFD:CreateDate'], record['ExifIFD:OffsetTimeDigitized'])],
        ['XMP-exif:DateTimeOriginal', () => parseTime(record['XMP-exif:DateTimeOriginal'])],
        ['XMP-photoshop:DateCreated', () => parseTime(record['XMP-photoshop:DateCreated'])],
        // IPTC-IIM DateCreated + TimeCreated. IIM requires an offset, so +00:00 is what writers (exiftool
        // among them) put when none was known, and 00:00:00 is a news agency's "time not known":
        // Exhibit's rules too, no offset and no time (recorded-time.ts).
        ['Composite:DateTimeCreated', () => iptcTime(record['Composite:DateTimeCreated'])],
        // Digitized times, in Exhibit's order (recorded-time CAPTURE_TAGS); without the IPTC one a file
        // with only DigitalCreationDate+Time had a capture time exiftool "lacked" (iptc-digital-creation-not-validated).
        ['XMP-exif:DateTimeDigitized', () => parseTime(record['XMP-exif:DateTimeDigitized'])],
        ['XMP-xmp:CreateDate', () => parseTime(record['XMP-xmp:CreateDate'])],
        ['Composite:DigitalCreationDateTime', () => iptcTime(record['Composite:DigitalCreationDateTime'])],
      ];
  for (const [tag, read] of candidates) {
    const value = read();
    if (value) return { value, tag };
  }
  return undefined;
}

export interface FfprobeJson {
  format?: { duration?: unknown; [k: string]: unknown };
  streams?: Array<{ codec_type?: unknown; codec_name?: unknown; width?: unknown; height?: unknown; disposition?: { attached_pic?: unknown } }>;
}

/** `ffprobe -show_format -show_streams -of json` → durationSec, codecs, pixelSize (first video stream that is not cover art). */
export function ffprobeValues(json: FfprobeJson): { values: FieldValues; sources: FieldSources } {
  const values: FieldValues = {};
  const sources: FieldSources = {};
  const duration = Number(json.format?.duration);
  if (json.format?.duration !== undefined && Number.isFinite(duration) && duration >= 0) {
    values.durationSec = duration;
    sources.durationSec = 'format.duration';
  }
  const streams = Array.isArray(json.streams) ? json.streams : [];
  const codecs = [...new Set(streams.map((s) => s.codec_name).filter((c): c is string => typeof c === 'string' && c !== ''))].sort();
  if (codecs.length > 0) {
    values.codecs = codecs;
    sources.codecs = 'streams[].codec_name';
  }
  const index = streams.findIndex((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const video = index >= 0 ? streams[index] : undefined;
  const size = video ? normSize(video.width, video.height) : undefined;
  if (size) {
    values.pixelSize = size;
    sources.pixelSize = `streams[${index}].width/height`;
  }
  return { values, sources };
}

// ---------------------------------------------------------------- comparison

function agrees(field: Field, a: NonNullable<FieldValues[Field]>, b: NonNullable<FieldValues[Field]>): boolean {
  switch (field) {
    case 'type':
    case 'make':
    case 'model':
      return a === b;
    case 'takenAt': {
      const [x, y] = [a as TimeValue, b as TimeValue];
      return x.local === y.local && x.offsetMinutes === y.offsetMinutes;
    }
    case 'gps': {
      const [x, y] = [a as { lat: number; lon: number }, b as { lat: number; lon: number }];
      return Math.abs(x.lat - y.lat) <= GPS_TOLERANCE_DEG && Math.abs(x.lon - y.lon) <= GPS_TOLERANCE_DEG;
    }
    case 'pixelSize': {
      const [x, y] = [a as { width: number; height: number }, b as { width: number; height: number }];
      return x.width === y.width && x.height === y.height;
    }
    case 'durationSec':
      return Math.abs((a as number) - (b as number)) <= DURATION_TOLERANCE_SEC;
    case 'codecs':
      return (a as string[]).join(',') === (b as string[]).join(',');
  }
}

/** One field of one file. `compared` false: the reference tool for this field did not run. */
export function verdictOf(field: Field, exhibit: FieldValues, reference: FieldValues, compared: boolean): Verdict {
  if (!compared) return 'not-compared';
  const a = exhibit[field];
  const b = reference[field];
  if (a === undefined && b === undefined) return 'both-absent';
  if (a === undefined) return 'only-reference';
  if (b === undefined) return 'only-exhibit';
  return agrees(field, a, b) ? 'agree' : 'disagree';
}

/** A value for people: the same text in the table, the JSON report and the tests' messages. */
export function show(field: Field, v: FieldValues[Field] | undefined): string {
  if (v === undefined) return '—';
  switch (field) {
    case 'takenAt': {
      const t = v as TimeValue;
      if (t.offsetMinutes === null) return `${t.local} (no offset)`;
      const sign = t.offsetMinutes < 0 ? '-' : '+';
      const abs = Math.abs(t.offsetMinutes);
      return `${t.local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    }
    case 'gps': {
      const g = v as { lat: number; lon: number };
      return `${g.lat.toFixed(6)},${g.lon.toFixed(6)}`;
    }
    case 'pixelSize': {
      const s = v as { width: number; height: number };
      return `${s.width}×${s.height}`;
    }
    case 'durationSec':
      return `${(v as number).toFixed(3)} s`;
    case 'codecs':
      return (v as string[]).join(',');
    default:
      return JSON.stringify(v);
  }
}

export type Tally = Record<Verdict, number> & { agreementPct: number | null };

/**
 * Counts per verdict. Agreement is agree ÷ (agree + disagree + only-exhibit +
 * only-reference): the files where at least one side has a value. A value on
 * one side only is a miss, not a pass. Null when no file had a value on either side.
 */
export function tally(verdicts: readonly Verdict[]): Tally {
  const t = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const v of verdicts) t[v]++;
  const decided = t.agree + t.disagree + t['only-exhibit'] + t['only-reference'];
  return { ...t, agreementPct: decided === 0 ? null : (100 * t.agree) / decided };
}

export function isMiss(v: Verdict): boolean {
  return v === 'disagree' || v === 'only-exhibit' || v === 'only-reference';
}
