import type { RecordedTime } from '@exhibit/core';

/**
 * Timestamps as recorded, never shifted. Parsing is pure text and integer
 * arithmetic (no Date parsing of local times), so the machine's time zone
 * cannot change a result.
 *
 * `local` is the recorded wall clock in ISO form `YYYY-MM-DDTHH:MM:SS[.fff]`
 * (separators normalised, digits untouched, fraction kept to full recorded
 * precision); the exact recorded text stays in the raw dump. `utc` is set only
 * when an offset was recorded with the time (or the format defines it as UTC).
 */

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction digits as recorded, without the dot; '' when none. */
  fraction: string;
}

/** EXIF date-time; some writers append the offset to the text itself (`2024:05:01 12:20:30+02:00`), as exiftool reads it. */
// Matched against trimmed text of at most MAX_TIME_TEXT_CHARS: no leading or trailing `\s*`, whose
// backtracking against `\s*(offset)?` made a date followed by 150 000 spaces and junk take 26 s of
// the event loop (date-text-long-space-run-quadratic).
const EXIF_RE = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Longest date-time text (trimmed) read as one: `2024-05-01T12:20:30.123456789+02:00` is 35
 * characters. Longer text is no date (evidence is hostile: a value can be any length), refused
 * before any regular expression sees it.
 */
export const MAX_TIME_TEXT_CHARS = 64;

/** The text trimmed, or undefined when it is too long to be a date-time. */
function timeText(text: string): string | undefined {
  const trimmed = text.trim();
  return trimmed.length > MAX_TIME_TEXT_CHARS ? undefined : trimmed;
}
const OFFSET_RE = /^\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)\s*$/i;

/** EXIF allows offsets from -12:00 to +14:00; anything beyond is not an offset. */
const MAX_OFFSET_MINUTES = 14 * 60;

/** Parses an offset such as `+02:00`, `-0500`, `+05` or `Z`; null when absent or invalid. */
export function parseOffsetMinutes(text: string | undefined | null): number | null {
  if (typeof text !== 'string') return null;
  const m = OFFSET_RE.exec(text);
  if (!m) return null;
  if (m[1]) return 0;
  const hours = Number(m[3]);
  const minutes = m[4] === undefined ? 0 : Number(m[4]);
  if (minutes > 59) return null;
  const total = (m[2] === '-' ? -1 : 1) * (hours * 60 + minutes);
  return Math.abs(total) > MAX_OFFSET_MINUTES ? null : total;
}

/**
 * An EXIF text tag's value as text: a string as exifr gives an ASCII tag, or the
 * bytes of one stored with type UNDEFINED (some phones and editors write
 * DateTimeOriginal so; exifr then gives the bytes, exiftool reads the text),
 * up to the first NUL, when they are printable ASCII. Anything else: undefined.
 */
export function exifText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!(value instanceof Uint8Array)) return undefined;
  const nul = value.indexOf(0);
  const bytes = nul < 0 ? value : value.subarray(0, nul);
  if (!bytes.every((b) => b >= 0x20 && b <= 0x7e)) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** EXIF `YYYY:MM:DD HH:MM:SS` with optional SubSecTime digits and OffsetTime text (each ASCII, or UNDEFINED bytes of ASCII). */
export function exifRecordedTime(
  value: unknown,
  options: { source: string; subSec?: unknown; offset?: unknown },
): RecordedTime | null {
  const raw = exifText(value);
  const text = raw === undefined ? undefined : timeText(raw);
  if (text === undefined) return null;
  const m = EXIF_RE.exec(text);
  if (!m) return null;
  let fraction = m[7] ?? '';
  const subSec = exifText(options.subSec);
  if (fraction === '' && subSec !== undefined && subSec.length <= MAX_TIME_TEXT_CHARS && /^\d{1,9}$/.test(subSec.trim())) fraction = subSec.trim();
  const clock = wallClock(m[1], m[2], m[3], m[4], m[5], m[6], fraction);
  if (!clock) return null;
  const offsetText = exifText(options.offset);
  const tagOffset = offsetText !== undefined && offsetText.length <= MAX_TIME_TEXT_CHARS ? parseOffsetMinutes(offsetText) : null;
  let offset = tagOffset;
  if (m[8] !== undefined) {
    // An offset in the text: it must be one (else the text is no time), and it
    // must agree with the offset tag, if any. Rejecting the text used to drop
    // the capture time for the next tag (exif-date-with-inline-offset-skipped).
    const inline = parseOffsetMinutes(m[8]);
    if (inline === null) return null;
    offset = tagOffset === null ? inline : tagOffset === inline ? inline : null;
  }
  return recorded(clock, offset, options.source);
}

/** ISO 8601-like text as written by cameras and muxers, e.g. `2024-05-01T12:20:30+0200`, `...Z`. */
export function isoRecordedTime(text: unknown, source: string): RecordedTime | null {
  if (typeof text !== 'string') return null;
  const trimmed = timeText(text);
  if (trimmed === undefined) return null;
  const m = ISO_RE.exec(trimmed);
  if (!m) return null;
  const clock = wallClock(m[1], m[2], m[3], m[4], m[5], m[6] ?? '00', m[7] ?? '');
  if (!clock) return null;
  const offset = m[8] === undefined ? null : parseOffsetMinutes(m[8]);
  if (m[8] !== undefined && offset === null) return null;
  return recorded(clock, offset, source);
}

/** IIM DateCreated `CCYYMMDD`; TimeCreated `HHMMSS±HHMM` (exifr gives both as recorded). */
const IPTC_DATE_RE = /^\s*(\d{4})(\d{2})(\d{2})\s*$/;
const IPTC_TIME_RE = /^\s*(\d{2})(\d{2})(\d{2})([+-]\d{4})?\s*$/;

/**
 * IPTC-IIM DateCreated + TimeCreated (or DigitalCreationDate + ...Time): a wall
 * clock only with both (a date alone has no time of day, and none is made up).
 * A time of exactly 00:00:00 is taken as a date alone: news agencies write
 * `000000` when the time is not known (an AP photo of an afternoon event has
 * DateCreated 20030830, TimeCreated 000000), and a midnight that is a
 * placeholder cannot be told from a real one. IIM makes the offset mandatory,
 * so writers that do not know it fill in +0000 (exiftool does, given a time
 * without a zone): +0000 is therefore no offset, the time stays local. Any
 * other offset is taken as recorded, like XMP's.
 */
export function iptcRecordedTime(date: unknown, time: unknown, source: string): RecordedTime | null {
  if (typeof date !== 'string' || typeof time !== 'string') return null;
  if (date.length > MAX_TIME_TEXT_CHARS || time.length > MAX_TIME_TEXT_CHARS) return null;
  const d = IPTC_DATE_RE.exec(date);
  const t = IPTC_TIME_RE.exec(time);
  if (!d || !t || (t[1] === '00' && t[2] === '00' && t[3] === '00')) return null;
  const clock = wallClock(d[1], d[2], d[3], t[1], t[2], t[3], '');
  if (!clock) return null;
  if (t[4] === undefined || /^[+-]0000$/.test(t[4])) return recorded(clock, null, source);
  const offset = parseOffsetMinutes(t[4]);
  if (offset === null) return null;
  return recorded(clock, offset, source);
}

function wallClock(...parts: Array<string | undefined>): WallClock | null {
  const [y, mo, d, h, mi, s, fraction = ''] = parts;
  const clock: WallClock = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s),
    fraction,
  };
  // Cameras write all-zero dates when the clock was never set: that is "no time".
  if (clock.year < 1 || clock.month < 1 || clock.month > 12 || clock.day < 1) return null;
  if (clock.day > daysInMonth(clock.year, clock.month)) return null;
  if (clock.hour > 23 || clock.minute > 59 || clock.second > 59) return null;
  return clock;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function recorded(clock: WallClock, offsetMinutes: number | null, source: string): RecordedTime {
  const local = format(clock);
  if (offsetMinutes === null) return { local, offsetMinutes: null, utc: null, source };
  // UTC calendar arithmetic only; no zone of this machine is involved. (setUTCFullYear,
  // unlike Date.UTC, does not map years 0-99 to 1900-1999.)
  const utcDate = new Date(0);
  utcDate.setUTCFullYear(clock.year, clock.month - 1, clock.day);
  utcDate.setUTCHours(clock.hour, clock.minute - offsetMinutes, clock.second, 0);
  if (Number.isNaN(utcDate.getTime())) return { local, offsetMinutes, utc: null, source };
  const utcClock: WallClock = {
    year: utcDate.getUTCFullYear(),
    month: utcDate.getUTCMonth() + 1,
    day: utcDate.getUTCDate(),
    hour: utcDate.getUTCHours(),
    minute: utcDate.getUTCMinutes(),
    second: utcDate.getUTCSeconds(),
    fraction: clock.fraction,
  };
  return { local, offsetMinutes, utc: `${format(utcClock)}Z`, source };
}

function format(c: WallClock): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${p(c.year, 4)}-${p(c.month)}-${p(c.day)}T${p(c.hour)}:${p(c.minute)}:${p(c.second)}`;
  return c.fraction ? `${base}.${c.fraction}` : base;
}
