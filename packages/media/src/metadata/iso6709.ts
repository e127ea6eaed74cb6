import type { GeoPoint } from '@exhibit/core';

/**
 * ISO 6709 point strings as written in video metadata, e.g. Apple's
 * `+51.5074-000.1278+012.000/` or `+40.7128-074.0060/`. Latitude has 2 integer
 * digits for degrees, 4 for DDMM, 6 for DDMMSS; longitude 3, 5 and 7.
 * Anything else (or out of range) is not a location: null.
 */
const POINT_RE = /^\s*([+-])(\d{2,6})(\.\d+)?([+-])(\d{3,7})(\.\d+)?(?:([+-])(\d+(?:\.\d+)?))?(?:CRS[A-Za-z0-9_:]*)?\/?\s*$/;

export function parseIso6709(text: unknown): GeoPoint | null {
  if (typeof text !== 'string' || text.length > 100) return null;
  const m = POINT_RE.exec(text);
  if (!m) return null;
  const lat = component(m[1]!, m[2]!, m[3], 2);
  const lon = component(m[4]!, m[5]!, m[6], 3);
  if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  const point: GeoPoint = { lat, lon };
  if (m[7] !== undefined && m[8] !== undefined) {
    const alt = Number(m[8]) * (m[7] === '-' ? -1 : 1);
    if (Number.isFinite(alt)) point.altM = alt;
  }
  return point;
}

function component(sign: string, digits: string, fraction: string | undefined, degreeDigits: 2 | 3): number | null {
  const frac = fraction === undefined ? 0 : Number(`0${fraction}`);
  let value: number;
  if (digits.length === degreeDigits) {
    value = Number(digits) + frac;
  } else if (digits.length === degreeDigits + 2) {
    const minutes = Number(digits.slice(degreeDigits)) + frac;
    if (minutes >= 60) return null;
    value = Number(digits.slice(0, degreeDigits)) + minutes / 60;
  } else if (digits.length === degreeDigits + 4) {
    const minutes = Number(digits.slice(degreeDigits, degreeDigits + 2));
    const seconds = Number(digits.slice(degreeDigits + 2)) + frac;
    if (minutes >= 60 || seconds >= 60) return null;
    value = Number(digits.slice(0, degreeDigits)) + minutes / 60 + seconds / 3600;
  } else {
    return null;
  }
  return sign === '-' && value !== 0 ? -value : value;
}
