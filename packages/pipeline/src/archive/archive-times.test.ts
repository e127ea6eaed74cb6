import { describe, expect, it } from 'vitest';
import { decimalSecondsTime, dosTime, filetime, utcTime } from './archive-times.js';

describe('archive times', () => {
  it('DOS time is kept as wall-clock text with no zone', () => {
    // 2023-07-14 13:45:58 -> date ((43<<9)|(7<<5)|14), time ((13<<11)|(45<<5)|29)
    expect(dosTime((43 << 9) | (7 << 5) | 14, (13 << 11) | (45 << 5) | 29, 'zip:dos')).toEqual({
      local: '2023-07-14T13:45:58',
      offsetMinutes: null,
      utc: null,
      source: 'zip:dos',
    });
  });

  it('DOS time: impossible dates and the all-zero value are not invented into times', () => {
    expect(dosTime(0, 0, 'zip:dos')).toBeUndefined();
    expect(dosTime((43 << 9) | (2 << 5) | 31, 0, 'zip:dos')).toBeUndefined(); // 31 February
    expect(dosTime((43 << 9) | (13 << 5) | 1, 0, 'zip:dos')).toBeUndefined(); // month 13
  });

  it('UTC times carry offset 0 and both texts', () => {
    expect(utcTime(Date.UTC(2024, 0, 2, 3, 4, 5), 'x')).toEqual({
      local: '2024-01-02T03:04:05.000',
      offsetMinutes: 0,
      utc: '2024-01-02T03:04:05.000Z',
      source: 'x',
    });
    expect(utcTime(Number.NaN, 'x')).toBeUndefined();
    expect(utcTime(1e20, 'x')).toBeUndefined();
  });

  it('FILETIME converts from 1601 in 100 ns ticks', () => {
    // 2024-01-02T03:04:05.678Z
    const ticks = (BigInt(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) + 11_644_473_600_000n) * 10_000n + 1234n;
    expect(filetime(ticks, 'zip:ntfs')?.utc).toBe('2024-01-02T03:04:05.678Z');
    expect(filetime(0n, 'zip:ntfs')).toBeUndefined();
  });

  it('PAX decimal seconds keep milliseconds and reject garbage', () => {
    expect(decimalSecondsTime('1700000000.123456789', 'tar:pax')?.utc).toBe('2023-11-14T22:13:20.123Z');
    expect(decimalSecondsTime('-1.5', 'tar:pax')?.utc).toBe('1969-12-31T23:59:58.500Z');
    expect(decimalSecondsTime('12abc', 'tar:pax')).toBeUndefined();
  });
});
