import {
  ExhibitError,
  errorMessage,
  isExhibitError,
  LIMITS,
  type GeoPoint,
  type MediaMetadata,
  type MetadataFinding,
  type RandomAccessSource,
  type RecordedGps,
  type RecordedTime,
} from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { parseExifrSandboxed, parseWebpExifSandboxed, pixelSizeSandboxed } from '../sandbox/parse.pool.js';
import type { ExifrTaskOutput } from '../sandbox/parse.tasks.js';
import type { PixelSize } from './pixel-size.js';
import { exifRecordedTime, exifText, iptcRecordedTime, isoRecordedTime } from './recorded-time.js';
import { displayText } from './recorded-text.js';
import { toJsonSafe } from './json-safe.js';

/**
 * What exifr is asked for. Values stay raw (no revived Dates, no translated
 * enums) so the machine's time zone can never change a result; keys are
 * translated to tag names; segments stay separate (ifd0/exif/gps/xmp/iptc).
 */
export const EXIFR_OPTIONS = {
  tiff: true,
  ifd0: true,
  exif: true,
  gps: true,
  interop: false,
  ifd1: false,
  xmp: true,
  iptc: true,
  icc: false,
  jfif: false,
  ihdr: false,
  makerNote: false,
  userComment: false,
  multiSegment: false,
  translateKeys: true,
  translateValues: false,
  reviveValues: false,
  sanitize: true,
  mergeOutput: false,
  silentErrors: true,
} as const;

type Segments = Record<string, Record<string, unknown> | undefined>;

/**
 * Reads EXIF, GPS, XMP and IPTC through ranged reads and normalises them; the
 * pixel size comes from the image's own header, not from EXIF.
 */
export async function readImageMetadata(
  evidence: RandomAccessSource,
  options: { abortSignal?: AbortSignal; maxBytes?: number } = {},
): Promise<MediaMetadata> {
  const maxBytes = options.maxBytes ?? LIMITS.maxMetadataBytes;
  // exifr and the size reader both start with the first chunk: read it once (never past the cap).
  const source = withCachedHead(evidence, Math.min(MEDIA_LIMITS.metadataChunkBytes, maxBytes));
  let output: Record<string, unknown> | undefined;
  let limitReached = false;
  let messages: string[] = [];
  const sizeOptions = { maxBytes, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) };
  try {
    // exifr runs in a parser thread with a time budget ('parse-timeout', 'parse-crashed'); its output is mapped here.
    ({ output, limitReached, messages } = await parseExifrSandboxed(source, EXIFR_OPTIONS, { maxBytes, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) }));
  } catch (err) {
    if (isExhibitError(err)) throw err;
    if (/Unknown file format/i.test(errorMessage(err))) {
      // exifr reads no GIF, WebP or BMP; their size is still known from the header.
      const size = await pixelSizeSandboxed(source, sizeOptions);
      const webp = await parseWebpExifSandboxed(source, EXIFR_OPTIONS, sizeOptions);
      if (webp) return webpMetadata(webp, size);
      if (size) return normaliseExif({}, { size });
      throw new ExhibitError('unsupported-format', 'no metadata reader for this image format', { cause: err });
    }
    throw new ExhibitError('corrupt-file', `image metadata unreadable: ${errorMessage(err)}`, { cause: err });
  }
  const segments = (output ?? {}) as Segments;
  const hasTags = Object.keys(segments).some((k) => k !== 'errors');
  const size = await pixelSizeSandboxed(source, sizeOptions);
  if (!hasTags && limitReached && !size) {
    throw new ExhibitError('limit-exceeded', `no metadata within the first ${maxBytes} bytes`);
  }
  const notes: string[] = [];
  if (limitReached) notes.push(`metadata beyond ${maxBytes} bytes was not read`);
  const metadata = normaliseExif(segments, { size, partial: [...messages, ...notes] });
  if (messages.length > 0 || notes.length > 0) {
    metadata.raw = toJsonSafe({ ...withoutErrors(segments), _errors: messages, _notes: notes });
  }
  return metadata;
}

/** A WebP's metadata: its EXIF chunk as exifr read it in the parser thread (webp-exif.reader.ts), and its size. */
function webpMetadata(parsed: ExifrTaskOutput, size: PixelSize | null): MediaMetadata {
  const segments = (parsed.output ?? {}) as Segments;
  const metadata = normaliseExif(segments, { size, partial: parsed.messages });
  if (parsed.messages.length > 0) metadata.raw = toJsonSafe({ ...withoutErrors(segments), _errors: parsed.messages });
  return metadata;
}

/** The source, with reads inside its first `headBytes` served from one read of them. */
function withCachedHead(source: RandomAccessSource, headBytes: number): RandomAccessSource {
  const end = Math.min(headBytes, source.size);
  let head: Promise<Buffer> | undefined;
  return {
    name: source.name,
    size: source.size,
    ...(source.urlOffset !== undefined ? { urlOffset: source.urlOffset } : {}),
    url: () => source.url(),
    read: (offset, length, readOptions) => {
      if (offset >= 0 && length >= 0 && offset + length <= end) {
        head ??= source.read(0, end, readOptions);
        return head.then((bytes) => bytes.subarray(offset, offset + length));
      }
      return source.read(offset, length, readOptions);
    },
  };
}

function withoutErrors(segments: Segments): Record<string, unknown> {
  const { errors: _ignored, ...rest } = segments;
  return rest;
}

/**
 * exifr output (segments kept apart, raw values, XMP under `xmp` by
 * namespace) → MediaMetadata. Pure. `size` is the real pixel size read from
 * the image's header; `partial` the parser's messages, if any.
 */
export function normaliseExif(segments: Segments, context: { size?: PixelSize | null; partial?: string[] } = {}): MediaMetadata {
  const ifd0 = segments.ifd0 ?? {};
  const exif = segments.exif ?? {};
  const gps = segments.gps ?? {};
  const findings: MetadataFinding[] = [];

  const metadata: MediaMetadata = { raw: toJsonSafe(withoutErrors(segments)) };

  const times = captureTimes(segments);
  if (times.all.length > 0) {
    metadata.takenAt = times.all[0]!;
    metadata.captureTimes = times.all;
  }
  findings.push(...times.conflicts);
  const modified = modifiedTime(segments);
  if (modified) metadata.modifiedAt = modified;

  const position = gpsPosition(gps);
  if (position && 'flag' in position) {
    metadata.gpsRecorded = position;
    findings.push({ flag: position.flag, detail: gpsDetail(position) });
  } else if (position) {
    metadata.gps = position;
  }

  const escaped: string[] = [];
  // EXIF first; XMP's tiff: namespace only when EXIF has none (it is often an editor's copy).
  const xmpTiff = xmpNs(segments, 'tiff');
  for (const [field, tag] of [
    ['make', 'Make'],
    ['model', 'Model'],
    ['software', 'Software'],
  ] as const) {
    const shown = displayText(ifd0[tag]) ?? displayText(xmpTiff[tag]);
    if (!shown) continue;
    metadata[field] = shown.text;
    if (shown.escaped) escaped.push(field);
  }
  if (escaped.length > 0) {
    metadata.escapedFields = escaped;
    findings.push({ flag: 'text-escaped', detail: `unprintable bytes shown as \\xNN in: ${escaped.join(', ')}` });
  }

  const size = context.size ?? null;
  if (size) {
    metadata.width = size.width;
    metadata.height = size.height;
  }
  // A TIFF's IFD0 ImageWidth is the image's own header; in a JPEG's EXIF it is only a declaration.
  const declaredWidth = dimension(exif.ExifImageWidth) ?? (size?.format === 'tiff' ? undefined : dimension(ifd0.ImageWidth));
  const declaredHeight = dimension(exif.ExifImageHeight) ?? (size?.format === 'tiff' ? undefined : dimension(ifd0.ImageHeight));
  if (declaredWidth !== undefined && declaredHeight !== undefined) {
    metadata.declaredWidth = declaredWidth;
    metadata.declaredHeight = declaredHeight;
    if (size && (size.width !== declaredWidth || size.height !== declaredHeight)) {
      findings.push({ flag: 'size-mismatch', detail: `EXIF declares ${declaredWidth}x${declaredHeight}; the image is ${size.width}x${size.height}` });
    }
  }

  const orientation = ifd0.Orientation;
  if (typeof orientation === 'number' && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8) {
    metadata.orientation = orientation;
  }

  const partial = context.partial ?? [];
  if (partial.length > 0) {
    metadata.partial = partial;
    findings.push({ flag: 'metadata-partial', detail: `metadata read only in part: ${partial.join('; ')}`.slice(0, 1000) });
  }
  if (findings.length > 0) metadata.findings = findings;
  return metadata;
}

/** A capture-time tag and where to find it. */
interface CaptureTag {
  source: string;
  /** Which EXIF capture tag it describes, for EXIF-vs-XMP comparison. */
  kind: 'original' | 'digitized';
  read(segments: Segments): RecordedTime | null;
}

/**
 * Other prefixes writers bound to a namespace's URI. exifr keys XMP by the prefix as written;
 * XMP basic (http://ns.adobe.com/xap/1.0/) was `xap:` until XMP 2004 named it `xmp:`, and
 * Photoshop CS3 and older wrote `xap:CreateDate` / `xap:ModifyDate` (exiftool reads them as
 * XMP-xmp by their URI; under `xmp` alone they were not read). The parser keeps `xap` under that
 * key only when the packet binds it to XMP basic's URI (exifr-source.ts SeparateXmpSegment).
 */
const XMP_PREFIX_ALIASES: Readonly<Record<string, readonly string[]>> = { xmp: ['xap'] };

const xmpNs = (segments: Segments, ns: string): Record<string, unknown> => {
  const xmp = segments.xmp;
  const object = (value: unknown) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
  // The current prefix's value wins over a legacy one's for the same property.
  return Object.assign({}, ...(XMP_PREFIX_ALIASES[ns] ?? []).map((alias) => object(xmp?.[alias])), object(xmp?.[ns])) as Record<string, unknown>;
};

/**
 * Capture-time tags in order of precedence. EXIF first (the camera wrote it
 * when the picture was taken, with its own sub-second and offset tags: the
 * offset of ModifyDate, OffsetTime, is never borrowed), then XMP and IPTC-IIM
 * (often rewritten by editing software), original times before digitized
 * ones. ModifyDate is never a capture time.
 */
const CAPTURE_TAGS: CaptureTag[] = [
  {
    source: 'EXIF:DateTimeOriginal',
    kind: 'original',
    read: (s) => exifRecordedTime(s.exif?.DateTimeOriginal, { source: 'EXIF:DateTimeOriginal', subSec: s.exif?.SubSecTimeOriginal, offset: s.exif?.OffsetTimeOriginal }),
  },
  {
    source: 'EXIF:CreateDate',
    kind: 'digitized',
    read: (s) => exifRecordedTime(s.exif?.CreateDate, { source: 'EXIF:CreateDate', subSec: s.exif?.SubSecTimeDigitized, offset: s.exif?.OffsetTimeDigitized }),
  },
  { source: 'XMP:exif:DateTimeOriginal', kind: 'original', read: (s) => isoRecordedTime(xmpNs(s, 'exif').DateTimeOriginal, 'XMP:exif:DateTimeOriginal') },
  { source: 'XMP:photoshop:DateCreated', kind: 'original', read: (s) => isoRecordedTime(xmpNs(s, 'photoshop').DateCreated, 'XMP:photoshop:DateCreated') },
  // IPTC-IIM (APP13), which editors and newsroom tools write; after EXIF, as XMP is (often the same editor's copy).
  { source: 'IPTC:DateCreated+TimeCreated', kind: 'original', read: (s) => iptcRecordedTime(s.iptc?.DateCreated, s.iptc?.TimeCreated, 'IPTC:DateCreated+TimeCreated') },
  { source: 'XMP:exif:DateTimeDigitized', kind: 'digitized', read: (s) => isoRecordedTime(xmpNs(s, 'exif').DateTimeDigitized, 'XMP:exif:DateTimeDigitized') },
  { source: 'XMP:xmp:CreateDate', kind: 'digitized', read: (s) => isoRecordedTime(xmpNs(s, 'xmp').CreateDate, 'XMP:xmp:CreateDate') },
  {
    source: 'IPTC:DigitalCreationDate+DigitalCreationTime',
    kind: 'digitized',
    read: (s) => iptcRecordedTime(s.iptc?.DigitalCreationDate, s.iptc?.DigitalCreationTime, 'IPTC:DigitalCreationDate+DigitalCreationTime'),
  },
];

function captureTimes(segments: Segments): { all: RecordedTime[]; conflicts: MetadataFinding[] } {
  const read = CAPTURE_TAGS.map((tag) => ({ tag, time: tag.read(segments) })).filter((r): r is { tag: CaptureTag; time: RecordedTime } => r.time !== null);
  const conflicts: MetadataFinding[] = [];
  // Like for like: EXIF DateTimeOriginal against XMP's and IPTC's original-time tags, EXIF CreateDate against
  // their digitized ones. IPTC was read but not compared, so an EXIF 2021 beside an IPTC 2023 said nothing
  // (iptc-vs-exif-capture-time-no-conflict).
  for (const exifTime of read.filter((r) => r.tag.source.startsWith('EXIF:'))) {
    for (const xmpTime of read.filter((r) => (r.tag.source.startsWith('XMP:') || r.tag.source.startsWith('IPTC:')) && r.tag.kind === exifTime.tag.kind)) {
      if (!sameInstant(exifTime.time, xmpTime.time)) {
        conflicts.push({ flag: 'taken-at-conflict', detail: `${exifTime.time.source} ${describeTime(exifTime.time)} differs from ${xmpTime.time.source} ${describeTime(xmpTime.time)}` });
      }
    }
  }
  return { all: read.map((r) => r.time), conflicts };
}

/**
 * Same moment as far as both record it, to the second: UTC when both have an
 * offset, the wall clock otherwise (XMP often adds an offset EXIF lacks).
 */
function sameInstant(a: RecordedTime, b: RecordedTime): boolean {
  const seconds = (t: string) => t.slice(0, 19);
  if (a.utc !== null && b.utc !== null) return seconds(a.utc) === seconds(b.utc);
  return seconds(a.local) === seconds(b.local);
}

function describeTime(t: RecordedTime): string {
  if (t.offsetMinutes === null) return t.local;
  const sign = t.offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(t.offsetMinutes);
  return `${t.local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** EXIF ModifyDate (IFD0 DateTime, with SubSecTime and OffsetTime), else XMP xmp:ModifyDate. */
function modifiedTime(segments: Segments): RecordedTime | null {
  const exif = segments.exif ?? {};
  return (
    exifRecordedTime(segments.ifd0?.ModifyDate, { source: 'EXIF:ModifyDate', subSec: exif.SubSecTime, offset: exif.OffsetTime }) ??
    isoRecordedTime(xmpNs(segments, 'xmp').ModifyDate, 'XMP:xmp:ModifyDate')
  );
}

/**
 * GPSLatitude/Longitude ([deg, min, sec] with N/S/E/W refs; S and W
 * negative). A usable location, or the recorded values flagged when they are
 * no location (0,0, out of range, not numbers, GPSStatus V), or null when absent or the
 * references are missing.
 */
function gpsPosition(gps: Record<string, unknown>): GeoPoint | RecordedGps | null {
  const lat = degrees(gps.GPSLatitude, gps.GPSLatitudeRef, 'N', 'S');
  const lon = degrees(gps.GPSLongitude, gps.GPSLongitudeRef, 'E', 'W');
  if (lat === undefined || lon === undefined) return null;
  let altM: number | undefined;
  const alt = gps.GPSAltitude;
  const altRef = gps.GPSAltitudeRef === undefined ? 0 : byteValue(gps.GPSAltitudeRef);
  if (typeof alt === 'number' && Number.isFinite(alt) && altRef !== null && altRef >= 0 && altRef <= 3) {
    // Even references are at or above, odd below. EXIF 2.x: 0/1 above/below sea
    // level. EXIF 3.0 (CIPA DC-008-2023): 0/1 are ellipsoidal height, 2/3 above/
    // below sea level. Reading only 1 as "below" put a depth of 3 above ground
    // (gps-altitude-ref-3-below-as-above). exiftool 12.57 makes every non-zero
    // reference, 2 included, negative: a deliberate departure, as EXIF 3.0
    // defines 2 as a positive sea-level value. Absent means above; any other
    // value says nothing about the sign, so there is no altitude. As for the
    // degrees, the reference gives the sign: a negative (SRATIONAL) altitude
    // with a "below" reference is no height (gps-signed-altitude-double-negation),
    // and one with an "above" reference contradicts itself.
    const below = altRef % 2 === 1;
    if (below) altM = alt === 0 ? 0 : -Math.abs(alt);
    else if (alt >= 0) altM = alt;
  }
  const usable = (v: number | null, max: number): v is number => v !== null && Number.isFinite(v) && Math.abs(v) <= max;
  if (!usable(lat, 90) || !usable(lon, 180)) {
    return { lat: lat !== null && Number.isFinite(lat) ? lat : null, lon: lon !== null && Number.isFinite(lon) ? lon : null, ...(altM !== undefined ? { altM } : {}), flag: 'gps-out-of-range' };
  }
  if (lat === 0 && lon === 0) return { lat, lon, ...(altM !== undefined ? { altM } : {}), flag: 'gps-null-island' };
  // GPSStatus V: the receiver marks the position as no measurement (cameras write their last fix
  // while they have none), so it is no place the picture was taken. A (in progress) or no status: a position.
  if (asciiValue(gps.GPSStatus) === 'V') return { lat, lon, ...(altM !== undefined ? { altM } : {}), flag: 'gps-void' };
  return { lat, lon, ...(altM !== undefined ? { altM } : {}) };
}

/**
 * A one-letter EXIF text tag (GPSStatus, the GPS references) up to its first NUL, trimmed and
 * upper-cased; '' when not text. Read through exifText, so the tag stored as UNDEFINED bytes
 * (`V\0`, which exifr gives as bytes) reads as its text, as ASCII does (gps-status-void-undefined-type).
 */
function asciiValue(v: unknown): string {
  const text = exifText(v);
  if (text === undefined) return '';
  const nul = text.indexOf('\0');
  return (nul < 0 ? text : text.slice(0, nul)).trim().toUpperCase();
}

function gpsDetail(p: RecordedGps): string {
  const v = (n: number | null) => (n === null ? 'not a number' : String(n));
  if (p.flag === 'gps-null-island') return 'GPS position recorded as 0,0 (no fix); not used as a location';
  if (p.flag === 'gps-void') return `GPS position ${v(p.lat)},${v(p.lon)} recorded with GPSStatus V (measurement void); not used as a location`;
  return `GPS position ${v(p.lat)},${v(p.lon)} is outside -90..90 / -180..180; not used as a location`;
}

/**
 * Decimal degrees as exiftool computes them (|deg| + |min|/60 + |sec|/3600,
 * signed by the reference); null when the value is not a number; undefined
 * when there is no value or no valid reference (nothing recorded to keep).
 *
 * The reference alone gives the hemisphere. Some writers store the values as
 * signed rationals (SRATIONAL) that are already negative, and add an S or W
 * reference as well: negating the signed sum again put those photos in the
 * other hemisphere (gps-signed-rational-double-negation). A negative value
 * with an N or E reference contradicts itself, so it is no position at all;
 * so are degrees, minutes and seconds of mixed signs (gps-mixed-sign-degrees).
 */
function degrees(value: unknown, ref: unknown, positive: string, negative: string): number | null | undefined {
  let parts: number[];
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const [d, m = 0, s = 0] = Array.from(value as ArrayLike<unknown>);
    if (![d, m, s].every((n) => typeof n === 'number')) return undefined;
    parts = [d as number, m as number, s as number];
  } else if (typeof value === 'number') {
    parts = [value, 0, 0];
  } else {
    return undefined;
  }
  const r = asciiValue(ref);
  if (r !== positive && r !== negative) return undefined;
  if (r === positive && parts.some((n) => n < 0)) return undefined;
  // Mixed signs ([-33, 52, 3]) have no one reading: -33.8675 if the sign is the
  // whole value's, -32.1325 as exiftool sums them; neither can be stood behind.
  if (parts.some((n) => n < 0) && parts.some((n) => n > 0)) return undefined;
  const [d, m, s] = parts.map(Math.abs) as [number, number, number];
  const deg = d + m / 60 + s / 3600;
  if (!Number.isFinite(deg)) return null;
  return r === negative && deg !== 0 ? -deg : deg;
}

function byteValue(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array && v.length > 0) return v[0] ?? null;
  if (typeof v === 'string' && /^\d$/.test(v)) return Number(v);
  return null;
}

function dimension(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1_000_000 ? v : undefined;
}
