/**
 * The validator's own rules: how each side is normalised and what counts as
 * agreement. Inputs are literal exiftool/ffprobe JSON and MediaMetadata, so a
 * rule that lets a wrong value agree fails here, not silently in a report.
 */
import { describe, expect, it } from 'vitest';
import type { MediaMetadata } from '@exhibit/core';
import {
  exhibitValues,
  exiftoolValues,
  ffprobeValues,
  normGps,
  normMime,
  parseTime,
  show,
  tally,
  verdictOf,
  type FieldValues,
} from './fields.compare.js';

const meta = (m: Partial<MediaMetadata>): MediaMetadata => ({ raw: {}, ...m });

describe('parseTime', () => {
  it('reads EXIF and ISO forms, to the second, with the offset written in or given apart', () => {
    expect(parseTime('2024:05:01 12:20:30')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: null });
    expect(parseTime('2024:05:01 12:20:30', '+02:00')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 120 });
    expect(parseTime('2024-05-01T12:20:30.123456Z')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 0 });
    expect(parseTime('2024:05:01 12:20:30.5-0330')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: -210 });
    // An offset in the text wins over one given apart.
    expect(parseTime('2024:05:01 12:20:30+01:00', '+05:00')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 60 });
  });

  it('treats impossible dates and a never-set clock as no time, and a bad separate offset as none', () => {
    expect(parseTime('0000:00:00 00:00:00')).toBeUndefined();
    expect(parseTime('2023:02:29 10:00:00')).toBeUndefined();
    expect(parseTime('2024:13:01 10:00:00')).toBeUndefined();
    expect(parseTime('    :  :     :  :  ')).toBeUndefined();
    expect(parseTime('2024:05:01 12:20:30+25:00')).toBeUndefined();
    expect(parseTime('2024:05:01 12:20:30', 'garbage')).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: null });
    expect(parseTime(20240501)).toBeUndefined();
  });
});

describe('normalisers', () => {
  it('GPS: 0,0 and out-of-range points are absent; a point on the equator or the meridian is kept', () => {
    expect(normGps(0, 0)).toBeUndefined();
    expect(normGps(91, 10)).toBeUndefined();
    expect(normGps(10, -181)).toBeUndefined();
    expect(normGps(0, 18.5)).toEqual({ lat: 0, lon: 18.5 });
    expect(normGps(51.5, 0)).toEqual({ lat: 51.5, lon: 0 });
  });

  it('MIME: only image and video types, with the few spellings that differ between the tools joined', () => {
    expect(normMime('image/jpeg')).toBe('image/jpeg');
    expect(normMime('video/x-msvideo')).toBe('video/vnd.avi');
    expect(normMime('application/pdf')).toBeUndefined();
    expect(normMime('text/plain')).toBeUndefined();
    expect(normMime('image/heic')).not.toBe(normMime('image/heif'));
  });
});

describe('exiftoolValues', () => {
  const jpeg = {
    'File:MIMEType': 'image/jpeg',
    'File:ImageWidth': 64,
    'File:ImageHeight': 48,
    'IFD0:Make': 'Canon ',
    'IFD0:Model': 5,
    'IFD0:ModifyDate': '2023:01:02 03:04:05',
    'ExifIFD:ExifImageWidth': 4032,
    'ExifIFD:ExifImageHeight': 3024,
    'ExifIFD:CreateDate': '2024:05:01 12:20:30',
    'ExifIFD:OffsetTimeDigitized': '+02:00',
    'ExifIFD:OffsetTime': '+09:00',
    'Composite:GPSLatitude': -22.9519,
    'Composite:GPSLongitude': -43.2105,
    'XMP-tiff:Make': 'Other',
  };

  it('takes the frame size, never the EXIF declaration; trims text; keeps numeric models as text', () => {
    const { values, sources } = exiftoolValues(jpeg);
    expect(values.pixelSize).toEqual({ width: 64, height: 48 });
    expect(sources.pixelSize).toBe('File:ImageWidth/ImageHeight');
    expect(values.make).toBe('Canon');
    expect(sources.make).toBe('IFD0:Make');
    expect(values.model).toBe('5');
    expect(values.gps).toEqual({ lat: -22.9519, lon: -43.2105 });
  });

  it('regression: gps-status-void-plotted-as-location — a position exiftool composes beside GPSStatus V is no location', () => {
    expect(exiftoolValues({ ...jpeg, 'GPS:GPSStatus': 'V' }).values.gps).toBeUndefined();
    expect(exiftoolValues({ ...jpeg, 'GPS:GPSStatus': 'A' }).values.gps).toEqual({ lat: -22.9519, lon: -43.2105 });
  });

  it('regression: xmp-legacy-xap-prefix-not-read — an XMP time to the minute, as Photoshop wrote it, is a time (seconds 0)', () => {
    expect(exiftoolValues({ 'File:MIMEType': 'image/jpeg', 'XMP-xmp:CreateDate': '2003:09:05 16:30+02:00' }).values.takenAt).toEqual({ local: '2003-09-05T16:30:00', offsetMinutes: 120 });
  });

  it('regression: iptc-date-time-created-not-read — IPTC DateCreated + TimeCreated (composed by exiftool) after XMP; +00:00 is no offset', () => {
    const iptc = { 'File:MIMEType': 'image/jpeg', 'Composite:DateTimeCreated': '2023:07:14 09:15:30+02:00', 'XMP-xmp:CreateDate': '2023:07:14 10:00:00' };
    expect(exiftoolValues(iptc).values.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: 120 });
    expect(exiftoolValues(iptc).sources.takenAt).toBe('Composite:DateTimeCreated');
    expect(exiftoolValues({ ...iptc, 'Composite:DateTimeCreated': '2023:07:14 09:15:30+00:00' }).values.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: null });
    // regression: iptc-time-created-midnight-placeholder-as-capture-time: 00:00:00 is no time; the next tag is taken.
    expect(exiftoolValues({ ...iptc, 'Composite:DateTimeCreated': '2003:08:30 00:00:00' }).sources.takenAt).toBe('XMP-xmp:CreateDate');
  });

  it('regression: iptc-digital-creation-not-validated — IPTC DigitalCreationDate+Time and XMP exif:DateTimeDigitized are capture times, in Exhibit\'s order', () => {
    const digital = { 'File:MIMEType': 'image/jpeg', 'Composite:DigitalCreationDateTime': '2023:07:14 09:15:30-05:00' };
    expect(exiftoolValues(digital).values.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: -300 });
    expect(exiftoolValues(digital).sources.takenAt).toBe('Composite:DigitalCreationDateTime');
    expect(exiftoolValues({ ...digital, 'Composite:DigitalCreationDateTime': '2023:07:14 09:15:30+00:00' }).values.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: null });
    expect(exiftoolValues({ ...digital, 'Composite:DigitalCreationDateTime': '2023:07:14 00:00:00' }).values.takenAt).toBeUndefined();
    // After XMP's digitized times, as Exhibit reads them.
    const withXmp = { ...digital, 'XMP-exif:DateTimeDigitized': '2023:07:14 08:00:00', 'XMP-xmp:CreateDate': '2023:07:14 07:00:00' };
    expect(exiftoolValues(withXmp).sources.takenAt).toBe('XMP-exif:DateTimeDigitized');
    expect(exiftoolValues({ ...digital, 'XMP-xmp:CreateDate': '2023:07:14 07:00:00' }).sources.takenAt).toBe('XMP-xmp:CreateDate');
  });

  it('capture time: CreateDate with its own offset after DateTimeOriginal; never ModifyDate nor its OffsetTime', () => {
    expect(exiftoolValues(jpeg).values.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 120 });
    const onlyModify = { 'File:MIMEType': 'image/jpeg', 'IFD0:ModifyDate': '2023:01:02 03:04:05', 'ExifIFD:OffsetTime': '+01:00' };
    expect(exiftoolValues(onlyModify).values.takenAt).toBeUndefined();
    const original = { ...jpeg, 'ExifIFD:DateTimeOriginal': '2024:05:01 11:00:00' };
    expect(exiftoolValues(original).values.takenAt).toEqual({ local: '2024-05-01T11:00:00', offsetMinutes: null });
  });

  it('falls back to the composite ImageSize (TIFF, GIF) and to XMP for the make', () => {
    const tiff = { 'File:MIMEType': 'image/tiff', 'Composite:ImageSize': '48 32', 'XMP-tiff:Make': 'Leaf' };
    const { values } = exiftoolValues(tiff);
    expect(values.pixelSize).toEqual({ width: 48, height: 32 });
    expect(values.make).toBe('Leaf');
  });

  it('videos: Apple CreationDate first, else the movie header date as written, no zone; no pixel size (ffprobe gives it)', () => {
    const mov = {
      'File:MIMEType': 'video/quicktime',
      'QuickTime:CreateDate': '2024:05:01 10:20:30',
      'Keys:CreationDate': '2024:05:01 12:20:30+02:00',
      'Keys:Make': 'Apple',
      'Composite:ImageSize': '160 120',
    };
    expect(exiftoolValues(mov).values.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 120 });
    expect(exiftoolValues(mov).values.pixelSize).toBeUndefined();
    const { 'Keys:CreationDate': _apple, ...mp4 } = mov;
    expect(exiftoolValues(mp4).values.takenAt).toEqual({ local: '2024-05-01T10:20:30', offsetMinutes: null });
    expect(exiftoolValues({ ...mp4, 'QuickTime:CreateDate': '0000:00:00 00:00:00' }).values.takenAt).toBeUndefined();
  });

  it('regression: video-xmp-date-not-validated — a QuickTime/MP4 file\'s XMP date is the reference only where no QuickTime time is', () => {
    const mp4 = { 'File:MIMEType': 'video/mp4', 'XMP-xmp:CreateDate': '2023:01:02 03:04:05+02:00', 'XMP-exif:DateTimeOriginal': '2023:01:02 03:04:00' };
    expect(exiftoolValues(mp4)).toMatchObject({ values: { takenAt: { local: '2023-01-02T03:04:00', offsetMinutes: null } }, sources: { takenAt: 'XMP-exif:DateTimeOriginal' } });
    expect(exiftoolValues({ ...mp4, 'QuickTime:CreateDate': '2024:05:01 10:20:30' }).sources.takenAt).toBe('QuickTime:CreateDate');
    // An AVI's XMP (exiftool reads its _PMX chunk) is not read by Exhibit: no reference from it.
    expect(exiftoolValues({ ...mp4, 'File:MIMEType': 'video/x-msvideo' }).values.takenAt).toBeUndefined();
  });

  it('regression: matroska-date-utc-not-compared — a Matroska DateUTC is the reference capture time, in UTC', () => {
    const mkv = { 'File:MIMEType': 'video/x-matroska', 'Matroska:DateTimeOriginal': '2024:05:01 10:20:30Z' };
    expect(exiftoolValues(mkv).values.takenAt).toEqual({ local: '2024-05-01T10:20:30', offsetMinutes: 0 });
  });

  it('GPS 0,0 is no location on the reference side', () => {
    expect(exiftoolValues({ 'Composite:GPSLatitude': 0, 'Composite:GPSLongitude': 0 }).values.gps).toBeUndefined();
  });
});

describe('ffprobeValues', () => {
  it('duration from the container, codecs as a sorted set, size from the first video stream that is not cover art', () => {
    const { values } = ffprobeValues({
      format: { duration: '3.023220' },
      streams: [
        { codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, disposition: { attached_pic: 1 } },
        { codec_type: 'audio', codec_name: 'aac' },
        { codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, disposition: { attached_pic: 0 } },
      ],
    });
    expect(values).toEqual({ durationSec: 3.02322, codecs: ['aac', 'h264', 'mjpeg'], pixelSize: { width: 1920, height: 1080 } });
  });

  it('no duration when ffprobe gives none or nonsense', () => {
    expect(ffprobeValues({ format: { duration: 'N/A' }, streams: [] }).values).toEqual({});
  });
});

describe('exhibitValues', () => {
  it("takes Exhibit's values as reported: no null-island filtering, no NUL trimming beyond whitespace", () => {
    const values = exhibitValues(
      { mime: 'image/jpeg' },
      meta({
        make: 'Canon\u0000junk',
        model: ' EOS ',
        gps: { lat: 0, lon: 0 },
        width: 4032,
        height: 3024,
        takenAt: { local: '2024-05-01T12:20:30.120', offsetMinutes: -180, utc: '2024-05-01T15:20:30.120Z', source: 'exif.DateTimeOriginal' },
        codecs: ['h264', 'aac', 'h264'],
        durationSec: 2,
      }),
    );
    expect(values).toEqual({
      type: 'image/jpeg',
      make: 'Canon\u0000junk',
      model: 'EOS',
      gps: { lat: 0, lon: 0 },
      pixelSize: { width: 4032, height: 3024 },
      takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: -180 },
      codecs: ['aac', 'h264'],
      durationSec: 2,
    });
  });

  it('an unidentified file has no values; identification alone gives only the type', () => {
    expect(exhibitValues({ mime: null }, null)).toEqual({});
    expect(exhibitValues({ mime: 'image/gif' }, null)).toEqual({ type: 'image/gif' });
  });
});

describe('verdictOf', () => {
  const ref: FieldValues = {
    make: 'Canon',
    takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 },
    gps: { lat: 51.5007, lon: -0.1246 },
    pixelSize: { width: 64, height: 48 },
    durationSec: 3.0232,
    codecs: ['aac', 'h264'],
  };

  it('text must be equal, case included', () => {
    expect(verdictOf('make', { make: 'Canon' }, ref, true)).toBe('agree');
    expect(verdictOf('make', { make: 'CANON' }, ref, true)).toBe('disagree');
    expect(verdictOf('make', { make: 'Canongarbage' }, ref, true)).toBe('disagree');
  });

  it('time: the same wall clock with the same offset; the same instant in another zone is not the same record', () => {
    expect(verdictOf('takenAt', { takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120 } }, ref, true)).toBe('agree');
    expect(verdictOf('takenAt', { takenAt: { local: '2024-05-01T10:20:30', offsetMinutes: 0 } }, ref, true)).toBe('disagree');
    expect(verdictOf('takenAt', { takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: null } }, ref, true)).toBe('disagree');
    expect(verdictOf('takenAt', { takenAt: { local: '2024-05-01T12:20:31', offsetMinutes: 120 } }, ref, true)).toBe('disagree');
  });

  it('GPS within 2e-5 degrees agrees; a sign error or a 0.0001 degree slip does not', () => {
    expect(verdictOf('gps', { gps: { lat: 51.50071, lon: -0.12461 } }, ref, true)).toBe('agree');
    expect(verdictOf('gps', { gps: { lat: 51.5008, lon: -0.1246 } }, ref, true)).toBe('disagree');
    expect(verdictOf('gps', { gps: { lat: 51.5007, lon: 0.1246 } }, ref, true)).toBe('disagree');
  });

  it('pixel size exactly; duration within 1 ms; codecs as the same set', () => {
    expect(verdictOf('pixelSize', { pixelSize: { width: 64, height: 48 } }, ref, true)).toBe('agree');
    expect(verdictOf('pixelSize', { pixelSize: { width: 48, height: 64 } }, ref, true)).toBe('disagree');
    expect(verdictOf('durationSec', { durationSec: 3.0235 }, ref, true)).toBe('agree');
    expect(verdictOf('durationSec', { durationSec: 3.025 }, ref, true)).toBe('disagree');
    expect(verdictOf('codecs', { codecs: ['aac', 'h264'] }, ref, true)).toBe('agree');
    expect(verdictOf('codecs', { codecs: ['h264'] }, ref, true)).toBe('disagree');
  });

  it('a value on one side only is a miss; nothing on either side is both-absent; no reference tool is not-compared', () => {
    expect(verdictOf('model', { model: 'X' }, ref, true)).toBe('only-exhibit');
    expect(verdictOf('make', {}, ref, true)).toBe('only-reference');
    expect(verdictOf('model', {}, ref, true)).toBe('both-absent');
    expect(verdictOf('make', { make: 'Nikon' }, ref, false)).toBe('not-compared');
  });
});

describe('tally', () => {
  it('agreement is agree over the files where either side has a value', () => {
    const t = tally(['agree', 'agree', 'agree', 'disagree', 'only-exhibit', 'only-reference', 'both-absent', 'both-absent', 'not-compared']);
    expect(t).toMatchObject({ agree: 3, disagree: 1, 'only-exhibit': 1, 'only-reference': 1, 'both-absent': 2, 'not-compared': 1 });
    expect(t.agreementPct).toBe(50);
  });

  it('is n/a (null), not 100 %, when no file had a value', () => {
    expect(tally(['both-absent', 'not-compared']).agreementPct).toBeNull();
    expect(tally([]).agreementPct).toBeNull();
  });
});

describe('show', () => {
  it('prints values the same way everywhere', () => {
    expect(show('takenAt', { local: '2024-05-01T12:20:30', offsetMinutes: -210 })).toBe('2024-05-01T12:20:30-03:30');
    expect(show('takenAt', { local: '2024-05-01T12:20:30', offsetMinutes: null })).toBe('2024-05-01T12:20:30 (no offset)');
    expect(show('gps', { lat: -22.9519, lon: 0 })).toBe('-22.951900,0.000000');
    expect(show('pixelSize', { width: 64, height: 48 })).toBe('64×48');
    expect(show('make', undefined)).toBe('—');
  });
});
