import type { RecordedTime } from '@exhibit/core';

/** Milliseconds since the Unix epoch for 1601-01-01T00:00:00Z, the FILETIME epoch. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A time the source defines as UTC: local and utc agree, offset 0. */
export function utcTime(epochMs: number, source: string): RecordedTime | undefined {
  if (!Number.isFinite(epochMs)) return undefined;
  const date = new Date(epochMs);
  if (Number.isNaN(date.getTime())) return undefined;
  const utc = date.toISOString();
  return { local: utc.slice(0, -1), offsetMinutes: 0, utc, source };
}

/**
 * MS-DOS date and time (ZIP "last mod file date/time"): local wall clock of
 * the machine that wrote the archive, zone unknown, 2-second resolution. Kept
 * as wall-clock text only; converting it with our own zone would invent a fact.
 */
export function dosTime(dosDate: number, dosTimeValue: number, source: string): RecordedTime | undefined {
  if (dosDate === 0 && dosTimeValue === 0) return undefined;
  const day = dosDate & 0x1f;
  const month = (dosDate >> 5) & 0x0f;
  const year = ((dosDate >> 9) & 0x7f) + 1980;
  const second = (dosTimeValue & 0x1f) * 2;
  const minute = (dosTimeValue >> 5) & 0x3f;
  const hour = (dosTimeValue >> 11) & 0x1f;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Reject impossible calendar dates such as 31 February.
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  const local = `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}`;
  return { local, offsetMinutes: null, utc: null, source };
}

/** Windows FILETIME: 100-ns ticks since 1601 UTC (ZIP NTFS extra field 0x000a). */
export function filetime(ticks: bigint, source: string): RecordedTime | undefined {
  if (ticks <= 0n) return undefined;
  const ms = ticks / 10_000n - FILETIME_EPOCH_OFFSET_MS;
  return utcTime(Number(ms), source);
}

/** Decimal seconds since the epoch as text (PAX `mtime=1700000000.25`); exact to the millisecond. */
export function decimalSecondsTime(text: string, source: string): RecordedTime | undefined {
  const match = /^(-?)(\d{1,15})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const sign = match[1] === '-' ? -1 : 1;
  const whole = Number(match[2]);
  const fractionMs = Number((match[3] ?? '').padEnd(3, '0').slice(0, 3));
  return utcTime(sign * (whole * 1000 + fractionMs), source);
}
