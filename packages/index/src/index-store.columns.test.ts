import { describe, expect, it } from 'vitest';
import { instantOrNull, parseTimeBound, parseWallClock, searchColumns } from './index-store.columns.js';

describe('parseWallClock', () => {
  it('reads EXIF and ISO wall clocks, ignoring any zone', () => {
    expect(parseWallClock('2023:07:14 09:30:00')).toEqual({ ts: '2023-07-14 09:30:00.000', dateOnly: false });
    expect(parseWallClock('2023-07-14T09:30:00.5+02:00')).toEqual({ ts: '2023-07-14 09:30:00.500', dateOnly: false });
    expect(parseWallClock('2023-07-14')).toEqual({ ts: '2023-07-14 00:00:00.000', dateOnly: true });
    expect(parseWallClock('0045-01-02 03:04')).toEqual({ ts: '0045-01-02 03:04:00.000', dateOnly: false });
  });

  it('rejects impossible or unknown dates instead of passing them to the database', () => {
    for (const bad of ['0000:00:00 00:00:00', '2023-02-29', '2023-13-01', '2023-01-01 24:00:00', 'yesterday', '', '2023-07-14 09:30:61']) {
      expect(parseWallClock(bad)).toBeNull();
    }
    expect(parseWallClock('2024-02-29')?.ts).toBe('2024-02-29 00:00:00.000');
  });
});

describe('instantOrNull', () => {
  it('normalises instants to UTC ISO and drops what is not one', () => {
    expect(instantOrNull('2023-07-14T09:30:00+02:00')).toBe('2023-07-14T07:30:00.000Z');
    expect(instantOrNull('nonsense')).toBeNull();
    expect(instantOrNull(null)).toBeNull();
    expect(instantOrNull('+275760-09-13T00:00:00.000Z')).toBeNull();
  });
});

describe('parseTimeBound', () => {
  it('uses the offset for the instant and the digits as written for the wall clock', () => {
    expect(parseTimeBound('2023-07-15T09:00:00+05:00', 'from')).toEqual({
      instant: '2023-07-15T04:00:00.000Z',
      wallClock: '2023-07-15 09:00:00.000',
      exclusive: false,
    });
    expect(parseTimeBound('2023-07-15T09:00:00-0130', 'from').instant).toBe('2023-07-15T10:30:00.000Z');
    expect(parseTimeBound('2023-07-15 09:00', 'from').instant).toBe('2023-07-15T09:00:00.000Z');
  });

  it('makes a date-only upper bound cover its whole day', () => {
    expect(parseTimeBound('2023-12-31', 'to')).toEqual({ instant: '2024-01-01T00:00:00.000Z', wallClock: '2024-01-01 00:00:00.000', exclusive: true });
    expect(parseTimeBound('2023-12-31', 'from')).toEqual({ instant: '2023-12-31T00:00:00.000Z', wallClock: '2023-12-31 00:00:00.000', exclusive: false });
  });

  it('rejects anything but ISO 8601 with a typed error', () => {
    for (const bad of ['2023:07:15 09:00:00', '15/07/2023', '2023-02-30', 'now', "2023-01-01'; --"]) {
      expect(() => parseTimeBound(bad, 'from')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});

describe('searchColumns', () => {
  it('copies the searchable parts of metadata', () => {
    expect(
      searchColumns({
        takenAt: { local: '2023:07:14 09:30:00', offsetMinutes: 120, utc: '2023-07-14T07:30:00Z', source: 'exif' },
        gps: { lat: 51.5, lon: -0.12 },
        make: '  Canon ',
        model: 'EOS',
        width: 6000,
        height: 4000,
        durationSec: 1.5,
        raw: {},
      }),
    ).toEqual({
      takenAtUtc: '2023-07-14T07:30:00.000Z',
      takenAtLocal: '2023:07:14 09:30:00',
      takenAtLocalTs: '2023-07-14 09:30:00.000',
      takenOffsetMinutes: 120,
      gpsLat: 51.5,
      gpsLon: -0.12,
      make: 'Canon',
      model: 'EOS',
      durationSec: 1.5,
      width: 6000,
      height: 4000,
    });
  });

  it('turns out-of-range values from hostile files into nulls', () => {
    const cols = searchColumns({
      takenAt: { local: '9999:99:99', offsetMinutes: 1e9, utc: 'garbage', source: 'exif' },
      gps: { lat: 95, lon: 10 },
      make: '   ',
      width: 2 ** 40,
      height: -1,
      durationSec: Number.NaN,
      raw: {},
    });
    expect(cols).toEqual({
      takenAtUtc: null,
      takenAtLocal: '9999:99:99',
      takenAtLocalTs: null,
      takenOffsetMinutes: null,
      gpsLat: null,
      gpsLon: null,
      make: null,
      model: null,
      durationSec: null,
      width: null,
      height: null,
    });
    expect(searchColumns(null).takenAtUtc).toBeNull();
  });

  it('regression: gps-null-island-counted-as-has-gps — a flagged or 0,0 position is no location', () => {
    // As the extractors record it now: gpsRecorded only.
    const flagged = searchColumns({ gpsRecorded: { lat: 0, lon: 0, flag: 'gps-null-island' }, raw: {} });
    expect([flagged.gpsLat, flagged.gpsLon]).toEqual([null, null]);
    const outOfRange = searchColumns({ gpsRecorded: { lat: 95, lon: 10, flag: 'gps-out-of-range' }, raw: {} });
    expect([outOfRange.gpsLat, outOfRange.gpsLon]).toEqual([null, null]);
    // As an earlier extractor recorded it: gps 0,0.
    const older = searchColumns({ gps: { lat: 0, lon: 0 }, raw: {} });
    expect([older.gpsLat, older.gpsLon]).toEqual([null, null]);
    // On the equator or the meridian alone is a real place.
    expect(searchColumns({ gps: { lat: 0, lon: 32.5 }, raw: {} }).gpsLat).toBe(0);
  });
});
