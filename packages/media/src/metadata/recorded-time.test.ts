import { describe, expect, it } from 'vitest';
import { exifRecordedTime, isoRecordedTime, MAX_TIME_TEXT_CHARS, parseOffsetMinutes } from './recorded-time.js';

describe('exifRecordedTime', () => {
  it('keeps the wall clock and computes UTC only from a recorded offset', () => {
    expect(exifRecordedTime('2024:05:01 12:20:30', { source: 'exif.DateTimeOriginal', offset: '+02:00' })).toEqual({
      local: '2024-05-01T12:20:30',
      offsetMinutes: 120,
      utc: '2024-05-01T10:20:30Z',
      source: 'exif.DateTimeOriginal',
    });
    expect(exifRecordedTime('2024:05:01 12:20:30', { source: 'exif.DateTimeOriginal' })).toEqual({
      local: '2024-05-01T12:20:30',
      offsetMinutes: null,
      utc: null,
      source: 'exif.DateTimeOriginal',
    });
  });

  it('carries sub-seconds at recorded precision and crosses dates when converting', () => {
    expect(exifRecordedTime('2023:12:31 23:30:00', { source: 's', subSec: '123456', offset: '-05:00' })).toEqual({
      local: '2023-12-31T23:30:00.123456',
      offsetMinutes: -300,
      utc: '2024-01-01T04:30:00.123456Z',
      source: 's',
    });
    expect(exifRecordedTime('2024:03:01 00:10:00', { source: 's', offset: '+05:30' })?.utc).toBe('2024-02-29T18:40:00Z');
  });

  it('rejects unset and impossible dates instead of guessing', () => {
    expect(exifRecordedTime('0000:00:00 00:00:00', { source: 's' })).toBeNull();
    expect(exifRecordedTime('2023:02:29 10:00:00', { source: 's' })).toBeNull();
    expect(exifRecordedTime('2024:13:01 10:00:00', { source: 's' })).toBeNull();
    expect(exifRecordedTime('2024:01:01 24:00:00', { source: 's' })).toBeNull();
    expect(exifRecordedTime('    :  :     :  :  ', { source: 's' })).toBeNull();
    expect(exifRecordedTime(20240101, { source: 's' })).toBeNull();
  });

  it('reads an offset written into the date text; one that disagrees with the offset tag leaves UTC unknown', () => {
    expect(exifRecordedTime('2024:05:01 12:20:30-0500', { source: 's' })).toMatchObject({ offsetMinutes: -300, utc: '2024-05-01T17:20:30Z' });
    expect(exifRecordedTime('2024:05:01 12:20:30Z', { source: 's' })).toMatchObject({ offsetMinutes: 0, utc: '2024-05-01T12:20:30Z' });
    expect(exifRecordedTime('2024:05:01 12:20:30+02:00', { source: 's', offset: '+02:00' })).toMatchObject({ offsetMinutes: 120 });
    expect(exifRecordedTime('2024:05:01 12:20:30+02:00', { source: 's', offset: '-05:00' })).toMatchObject({ local: '2024-05-01T12:20:30', offsetMinutes: null, utc: null });
    expect(exifRecordedTime('2024:05:01 12:20:30+99:00', { source: 's' })).toBeNull();
  });

  it('ignores an offset that is not one', () => {
    expect(exifRecordedTime('2024:05:01 12:20:30', { source: 's', offset: '+99:00' })).toMatchObject({ offsetMinutes: null, utc: null });
    expect(exifRecordedTime('2024:05:01 12:20:30', { source: 's', offset: '   ' })).toMatchObject({ offsetMinutes: null, utc: null });
  });
});

describe('date-text-long-space-run-quadratic', () => {
  it('refuses date text over MAX_TIME_TEXT_CHARS before any regular expression, however well it would match', () => {
    // Spaces before an offset are allowed, so without the length guard these would be read.
    const pad = ' '.repeat(MAX_TIME_TEXT_CHARS);
    expect(exifRecordedTime('2024:05:01 12:20:30 +02:00', { source: 's' })?.offsetMinutes).toBe(120);
    expect(exifRecordedTime(`2024:05:01 12:20:30${pad}+02:00`, { source: 's' })).toBeNull();
    expect(isoRecordedTime('2024-05-01T12:20:30 +02:00', 's')?.offsetMinutes).toBe(120);
    expect(isoRecordedTime(`2024-05-01T12:20:30${pad}+02:00`, 's')).toBeNull();
    // Padding around the date is trimmed first, as before.
    expect(exifRecordedTime(`  2024:05:01 12:20:30${' '.repeat(150_000)}`, { source: 's' })?.local).toBe('2024-05-01T12:20:30');
    // 150 KB of spaces then junk: no date (this took 26 s).
    expect(exifRecordedTime(`2024:05:01 12:20:30${' '.repeat(150_000)}x`, { source: 's' })).toBeNull();
    expect(isoRecordedTime(`2024-05-01T12:20:30${' '.repeat(150_000)}x`, 's')).toBeNull();
  });
});

describe('isoRecordedTime', () => {
  it('reads Apple creationdate (local time with offset) and UTC creation_time', () => {
    expect(isoRecordedTime('2024-05-01T12:20:30+0200', 'a')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 120, utc: '2024-05-01T10:20:30Z', source: 'a' });
    expect(isoRecordedTime('2024-05-01T10:20:30.000000Z', 'b')).toEqual({
      local: '2024-05-01T10:20:30.000000',
      offsetMinutes: 0,
      utc: '2024-05-01T10:20:30.000000Z',
      source: 'b',
    });
    expect(isoRecordedTime('2024-05-01 10:20', 'c')).toEqual({ local: '2024-05-01T10:20:00', offsetMinutes: null, utc: null, source: 'c' });
  });

  it('refuses malformed text', () => {
    expect(isoRecordedTime('yesterday', 'a')).toBeNull();
    expect(isoRecordedTime('2024', 'a')).toBeNull();
    expect(isoRecordedTime('2024-05-01T10:20:30+25:00', 'a')).toBeNull();
  });
});

describe('parseOffsetMinutes', () => {
  it('accepts the forms cameras write', () => {
    expect(parseOffsetMinutes('+02:00')).toBe(120);
    expect(parseOffsetMinutes('-0330')).toBe(-210);
    expect(parseOffsetMinutes('+05')).toBe(300);
    expect(parseOffsetMinutes('Z')).toBe(0);
    expect(parseOffsetMinutes('+14:00')).toBe(840);
    expect(parseOffsetMinutes('+14:01')).toBeNull();
    expect(parseOffsetMinutes('+02:60')).toBeNull();
    expect(parseOffsetMinutes(undefined)).toBeNull();
  });
});
