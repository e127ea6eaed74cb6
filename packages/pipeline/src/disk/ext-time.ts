import type { RecordedTime } from '@exhibit/core';

/**
 * A file-system time the file system defines as UTC (ext inode times, NTFS
 * FILETIME), kept to its full resolution: `local` and `utc` carry every
 * recorded fraction digit (at least milliseconds), so the value equals what
 * The Sleuth Kit's istat prints rather than a rounded copy of it.
 */
export function preciseUtcTime(epochSeconds: bigint, nanoseconds: number, source: string): RecordedTime | undefined {
  if (nanoseconds < 0 || nanoseconds > 999_999_999) return undefined;
  const ms = Number(epochSeconds) * 1000;
  const date = new Date(ms);
  // Outside the years JavaScript dates and ISO text hold (±275,760 years, or before year 0): absent, not wrong.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) return undefined;
  const whole = date.toISOString().slice(0, 19);
  let fraction = String(nanoseconds).padStart(9, '0');
  while (fraction.length > 3 && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  const local = `${whole}.${fraction}`;
  return { local, offsetMinutes: 0, utc: `${local}Z`, source };
}

/** Windows FILETIME (100-ns ticks since 1601-01-01 UTC) at full resolution; zero means not recorded. */
export function preciseFiletime(ticks: bigint, source: string): RecordedTime | undefined {
  if (ticks <= 0n) return undefined;
  const sinceUnix = ticks - 116_444_736_000_000_000n;
  let seconds = sinceUnix / 10_000_000n;
  let rest = sinceUnix % 10_000_000n;
  if (rest < 0n) {
    rest += 10_000_000n;
    seconds -= 1n;
  }
  return preciseUtcTime(seconds, Number(rest) * 100, source);
}
