import { ExhibitError, errorMessage, isExhibitError, LIMITS, type GeoPoint, type MediaMetadata, type RandomAccessSource, type RecordedTime } from '@exhibit/core';
import { parseExifrSandboxed } from '../sandbox/parse.pool.js';
import { exifRecordedTime, isoRecordedTime } from './recorded-time.js';
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
  ihdr: true,
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

/** Reads EXIF, GPS, XMP and IPTC through ranged reads and normalises them. */
export async function readImageMetadata(
  source: RandomAccessSource,
  options: { abortSignal?: AbortSignal; maxBytes?: number } = {},
): Promise<MediaMetadata> {
  const maxBytes = options.maxBytes ?? LIMITS.maxMetadataBytes;
  let output: Record<string, unknown> | undefined;
  let limitReached = false;
  try {
    // exifr runs in a parser thread with a time budget ('parse-timeout', 'parse-crashed'); its output is mapped here.
    ({ output, limitReached } = await parseExifrSandboxed(source, EXIFR_OPTIONS, { maxBytes, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) }));
  } catch (err) {
    if (isExhibitError(err)) throw err;
    if (/Unknown file format/i.test(errorMessage(err))) {
      throw new ExhibitError('unsupported-format', 'no metadata reader for this image format', { cause: err });
    }
    throw new ExhibitError('corrupt-file', `image metadata unreadable: ${errorMessage(err)}`, { cause: err });
  }
  const segments = (output ?? {}) as Segments;
  const errors = Array.isArray(segments.errors) ? (segments.errors as unknown[]).map(errorMessage) : [];
  const hasTags = Object.keys(segments).some((k) => k !== 'errors');
  if (!hasTags && limitReached) {
    throw new ExhibitError('limit-exceeded', `no metadata within the first ${maxBytes} bytes`);
  }
  const metadata = normaliseExif(segments);
  const notes: string[] = [];
  if (limitReached) notes.push(`metadata beyond ${maxBytes} bytes was not read`);
  if (errors.length > 0 || notes.length > 0) {
    metadata.raw = toJsonSafe({ ...withoutErrors(segments), _errors: errors, _notes: notes });
  }
  return metadata;
}

function withoutErrors(segments: Segments): Record<string, unknown> {
  const { errors: _ignored, ...rest } = segments;
  return rest;
}

/** exifr output (segments kept apart, raw values) → MediaMetadata. Pure. */
export function normaliseExif(segments: Segments): MediaMetadata {
  const ifd0 = segments.ifd0 ?? {};
  const exif = segments.exif ?? {};
  const gps = segments.gps ?? {};
  const ihdr = segments.ihdr ?? {};

  const metadata: MediaMetadata = { raw: toJsonSafe(withoutErrors(segments)) };
  const takenAt = takenTime(segments);
  if (takenAt) metadata.takenAt = takenAt;
  const point = gpsPoint(gps);
  if (point) metadata.gps = point;
  const make = text(ifd0.Make);
  if (make) metadata.make = make;
  const model = text(ifd0.Model);
  if (model) metadata.model = model;
  const software = text(ifd0.Software);
  if (software) metadata.software = software;
  const width = dimension(exif.ExifImageWidth) ?? dimension(ifd0.ImageWidth) ?? dimension(ihdr.ImageWidth);
  const height = dimension(exif.ExifImageHeight) ?? dimension(ifd0.ImageHeight) ?? dimension(ihdr.ImageHeight);
  if (width !== undefined && height !== undefined) {
    metadata.width = width;
    metadata.height = height;
  }
  const orientation = ifd0.Orientation;
  if (typeof orientation === 'number' && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8) {
    metadata.orientation = orientation;
  }
  return metadata;
}

/**
 * DateTimeOriginal, then CreateDate (DateTimeDigitized), then ModifyDate
 * (DateTime), each with its own offset tag only: OffsetTime belongs to
 * ModifyDate, which software may have set elsewhere, so it is never borrowed
 * for the capture time. XMP dates are the last resort.
 */
function takenTime(segments: Segments): RecordedTime | null {
  const ifd0 = segments.ifd0 ?? {};
  const exif = segments.exif ?? {};
  const xmp = segments.xmp ?? {};
  const photoshop = segments.photoshop ?? {};
  return (
    exifRecordedTime(exif.DateTimeOriginal, { source: 'exif.DateTimeOriginal', subSec: exif.SubSecTimeOriginal, offset: exif.OffsetTimeOriginal }) ??
    exifRecordedTime(exif.CreateDate, { source: 'exif.CreateDate', subSec: exif.SubSecTimeDigitized, offset: exif.OffsetTimeDigitized }) ??
    exifRecordedTime(ifd0.ModifyDate, { source: 'ifd0.ModifyDate', subSec: exif.SubSecTime, offset: exif.OffsetTime }) ??
    // exifr files XMP properties under their namespace prefix: exif:, photoshop:, xmp:.
    isoRecordedTime(exif.DateTimeOriginal, 'xmp.exif:DateTimeOriginal') ??
    isoRecordedTime(photoshop.DateCreated, 'xmp.photoshop:DateCreated') ??
    isoRecordedTime(xmp.CreateDate, 'xmp.xmp:CreateDate')
  );
}

/** GPSLatitude/Longitude as [deg, min, sec] with N/S/E/W refs; S and W are negative. */
function gpsPoint(gps: Record<string, unknown>): GeoPoint | null {
  const lat = degrees(gps.GPSLatitude, gps.GPSLatitudeRef, 'N', 'S', 90);
  const lon = degrees(gps.GPSLongitude, gps.GPSLongitudeRef, 'E', 'W', 180);
  if (lat === null || lon === null) return null;
  const point: GeoPoint = { lat, lon };
  const alt = gps.GPSAltitude;
  if (typeof alt === 'number' && Number.isFinite(alt)) {
    const ref = byteValue(gps.GPSAltitudeRef);
    // Ref 1 = below sea level; absent means above.
    point.altM = ref === 1 && alt !== 0 ? -alt : alt;
  }
  return point;
}

function degrees(value: unknown, ref: unknown, positive: string, negative: string, max: number): number | null {
  let deg: number;
  if (Array.isArray(value)) {
    const [d, m = 0, s = 0] = value as unknown[];
    if (![d, m, s].every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) return null;
    if ((m as number) >= 60 || (s as number) >= 60) return null;
    deg = (d as number) + (m as number) / 60 + (s as number) / 3600;
  } else if (typeof value === 'number' && Number.isFinite(value)) {
    deg = Math.abs(value);
  } else {
    return null;
  }
  const r = typeof ref === 'string' ? ref.trim().toUpperCase() : '';
  if (r !== positive && r !== negative) return null;
  if (deg > max) return null;
  return r === negative && deg !== 0 ? -deg : deg;
}

function byteValue(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array && v.length > 0) return v[0] ?? null;
  if (typeof v === 'string' && /^\d$/.test(v)) return Number(v);
  return null;
}

function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.replace(/[\u0000-\u001F]/g, '').trim();
  return t === '' ? undefined : t.slice(0, 256);
}

function dimension(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1_000_000 ? v : undefined;
}
