import { ExhibitError, type MediaMetadata } from '@exhibit/core';

/**
 * Search columns copied out of MediaMetadata. Metadata comes from hostile
 * files: anything out of range becomes null here (the full value stays in the
 * metadata JSON), so one odd tag can never make the write fail.
 */
export interface SearchColumns {
  takenAtUtc: string | null;
  takenAtLocal: string | null;
  /** `YYYY-MM-DD HH:MM:SS.fff`, for a `timestamp` (no zone) column. */
  takenAtLocalTs: string | null;
  takenOffsetMinutes: number | null;
  gpsLat: number | null;
  gpsLon: number | null;
  make: string | null;
  model: string | null;
  durationSec: number | null;
  width: number | null;
  height: number | null;
}

const INT32_MAX = 2_147_483_647;
/** Longest make/model kept in the search columns. */
const MAX_LABEL_CHARS = 200;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A wall clock read as written: `YYYY-MM-DD`, `YYYY:MM:DD` (EXIF) or with a
 * time after `T` or a space; fractions and a trailing zone are accepted and
 * the zone is ignored. Returns null for anything that is not a real date.
 */
export function parseWallClock(text: string): { ts: string; dateOnly: boolean } | null {
  const m = /^(\d{4})[-:](\d{2})[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(Date.UTC(y, mo - 1, d));
  date.setUTCFullYear(y);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return { ts: `${pad(y, 4)}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}.${pad(ms, 3)}`, dateOnly: m[4] === undefined };
}

/** An instant as ISO UTC, or null when it is not one (or outside years 1..9999). */
export function instantOrNull(text: string | null | undefined): string | null {
  if (!text) return null;
  const t = Date.parse(text);
  if (Number.isNaN(t)) return null;
  const d = new Date(t);
  const y = d.getUTCFullYear();
  return y >= 1 && y <= 9999 ? d.toISOString() : null;
}

function finiteIn(v: unknown, min: number, max: number): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : null;
}

function intIn(v: unknown, min: number, max: number): number | null {
  const n = finiteIn(v, min, max);
  return n !== null && Number.isInteger(n) ? n : null;
}

function label(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t === '' ? null : t.slice(0, MAX_LABEL_CHARS);
}

export function searchColumns(metadata: MediaMetadata | null): SearchColumns {
  const taken = metadata?.takenAt;
  const lat = finiteIn(metadata?.gps?.lat, -90, 90);
  const lon = finiteIn(metadata?.gps?.lon, -180, 180);
  const local = typeof taken?.local === 'string' ? taken.local : null;
  return {
    takenAtUtc: instantOrNull(taken?.utc),
    takenAtLocal: local,
    takenAtLocalTs: local === null ? null : (parseWallClock(local)?.ts ?? null),
    takenOffsetMinutes: intIn(taken?.offsetMinutes, -24 * 60, 24 * 60),
    // A point needs both halves; 0,0 is a receiver without a fix, never a location
    // (the extractors keep it in gpsRecorded, flagged; this also covers older results).
    gpsLat: lat !== null && lon !== null && !(lat === 0 && lon === 0) ? lat : null,
    gpsLon: lat !== null && lon !== null && !(lat === 0 && lon === 0) ? lon : null,
    make: label(metadata?.make),
    model: label(metadata?.model),
    durationSec: finiteIn(metadata?.durationSec, 0, Number.MAX_VALUE),
    width: intIn(metadata?.width, 0, INT32_MAX),
    height: intIn(metadata?.height, 0, INT32_MAX),
  };
}

/**
 * A search bound (`takenFrom` / `takenTo`): an ISO 8601 date or date-time,
 * with or without an offset. It is used twice:
 * - as an instant against times known in UTC (no offset given: read as UTC);
 * - as a wall clock, exactly as written (any offset ignored), against times
 *   whose offset the source did not record.
 * A date-only upper bound covers that whole day.
 */
export interface TimeBound {
  instant: string;
  wallClock: string;
  /** True when the comparison must be `<` (the day after a date-only upper bound). */
  exclusive: boolean;
}

export function parseTimeBound(text: string, which: 'from' | 'to'): TimeBound {
  const bad = () => new ExhibitError('invalid-argument', `taken${which === 'from' ? 'From' : 'To'} is not an ISO 8601 date or date-time`);
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(text.trim())) throw bad();
  const wall = parseWallClock(text);
  if (!wall) throw bad();
  const zone = /(Z|([+-])(\d{2}):?(\d{2}))$/i.exec(text.trim());
  // A date-only bound has no meaningful zone; read it as a UTC day.
  const offsetMinutes = !zone || wall.dateOnly || zone[1]?.toUpperCase() === 'Z' ? 0 : (zone[2] === '-' ? -1 : 1) * (Number(zone[3]) * 60 + Number(zone[4]));
  const wallMs = Date.parse(`${wall.ts.replace(' ', 'T')}Z`);
  if (Number.isNaN(wallMs)) throw bad();
  let instantMs = wallMs - offsetMinutes * 60_000;
  let wallClock = wall.ts;
  const exclusive = which === 'to' && wall.dateOnly;
  if (exclusive) {
    const day = 24 * 3600 * 1000;
    instantMs += day;
    const next = new Date(wallMs + day).toISOString();
    wallClock = `${next.slice(0, 10)} ${next.slice(11, 23)}`;
  }
  return { instant: new Date(instantMs).toISOString(), wallClock, exclusive };
}
