import type { GeoPoint, RecordedTime } from '@exhibit/core';

export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * A timestamp as the source recorded it, with its offset when one was
 * recorded; never converted, so what is shown is what the device wrote.
 */
export function formatRecordedTime(t: RecordedTime | undefined | null, options: { long?: boolean } = {}): string {
  if (!t) return '';
  if (t.offsetMinutes !== null) return `${t.local} ${formatOffset(t.offsetMinutes)}`;
  if (t.utc !== null) return `${t.local} (UTC)`;
  return options.long ? `${t.local} (no UTC offset recorded)` : `${t.local} (local)`;
}

export function formatGps(gps: GeoPoint | undefined | null): string {
  if (!gps) return '';
  const alt = gps.altM === undefined ? '' : ` ${gps.altM.toFixed(0)} m`;
  return `${gps.lat.toFixed(5)},${gps.lon.toFixed(5)}${alt}`;
}
