import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { ascii, buildExif, byte, dms, rational, short, TAGS, withExifSegment, type ExifSpec } from '../test-support/exif.builder.js';
import { heicFromJpeg, heifEncAvailable, noisyJpeg } from '../test-support/fixtures.js';
import { readImageMetadata } from './exif.metadata.js';

const PIXEL_X = 0xa002;
const PIXEL_Y = 0xa003;

/** Sydney Opera House, below sea level for the test's sake: every sign matters. */
const SYDNEY: ExifSpec = {
  ifd0: {
    [TAGS.Make]: ascii('Canon'),
    [TAGS.Model]: ascii('EOS R5'),
    [TAGS.Software]: ascii('Firmware 1.8.1'),
    [TAGS.Orientation]: short(6),
    [TAGS.DateTime]: ascii('2024:05:02 08:00:00'),
  },
  exif: {
    [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'),
    [TAGS.OffsetTimeOriginal]: ascii('+10:00'),
    [TAGS.SubSecTimeOriginal]: ascii('25'),
    [PIXEL_X]: short(64),
    [PIXEL_Y]: short(48),
  },
  gps: {
    [TAGS.GPSLatitudeRef]: ascii('S'),
    [TAGS.GPSLatitude]: dms(33.8568),
    [TAGS.GPSLongitudeRef]: ascii('E'),
    [TAGS.GPSLongitude]: dms(151.2153),
    [TAGS.GPSAltitudeRef]: byte(1),
    [TAGS.GPSAltitude]: rational([125, 10]),
  },
};

async function jpegWithExif(spec: ExifSpec): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } }).jpeg().toBuffer();
  return withExifSegment(jpeg, buildExif(spec));
}

function xmpSegment(xml: string): Buffer {
  const payload = Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), Buffer.from(xml)]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

describe('readImageMetadata', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('round-trips EXIF and GPS: south latitude negative, below sea level negative', async () => {
    const source = new BufferSource(await jpegWithExif(SYDNEY), 'IMG_0001.JPG');
    const m = await readImageMetadata(source);
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30.25', offsetMinutes: 600, utc: '2024-05-01T02:20:30.25Z', source: 'EXIF:DateTimeOriginal' });
    expect(m.gps?.lat).toBeCloseTo(-33.8568, 4);
    expect(m.gps?.lon).toBeCloseTo(151.2153, 4);
    expect(m.gps?.altM).toBe(-12.5);
    expect(m).toMatchObject({ make: 'Canon', model: 'EOS R5', software: 'Firmware 1.8.1', orientation: 6, width: 64, height: 48 });
    expect(m.raw).toMatchObject({ ifd0: { Make: 'Canon', ModifyDate: '2024:05:02 08:00:00' }, gps: { GPSLatitudeRef: 'S' } });
    expect(JSON.parse(JSON.stringify(m.raw))).toEqual(m.raw);
  });

  it('makes west longitudes negative', async () => {
    const m = await readImageMetadata(
      new BufferSource(
        await jpegWithExif({
          gps: {
            [TAGS.GPSLatitudeRef]: ascii('N'),
            [TAGS.GPSLatitude]: dms(40.7128),
            [TAGS.GPSLongitudeRef]: ascii('W'),
            [TAGS.GPSLongitude]: dms(74.006),
          },
        }),
      ),
    );
    expect(m.gps?.lat).toBeCloseTo(40.7128, 4);
    expect(m.gps?.lon).toBeCloseTo(-74.006, 4);
    expect(m.gps?.altM).toBeUndefined();
  });

  it('leaves UTC unknown when no offset was recorded, and never borrows OffsetTime for the capture time', async () => {
    const m = await readImageMetadata(
      new BufferSource(
        await jpegWithExif({
          ifd0: { [TAGS.DateTime]: ascii('2024:06:01 09:00:00') },
          exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30'), [TAGS.OffsetTime]: ascii('+02:00') },
        }),
      ),
    );
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: null, utc: null, source: 'EXIF:DateTimeOriginal' });
  });

  it('falls back to CreateDate; ModifyDate is a separate field, never the capture time', async () => {
    const created = await readImageMetadata(
      new BufferSource(await jpegWithExif({ exif: { [TAGS.CreateDate]: ascii('2020:01:02 03:04:05'), [TAGS.OffsetTimeDigitized]: ascii('-03:00') } })),
    );
    expect(created.takenAt).toEqual({ local: '2020-01-02T03:04:05', offsetMinutes: -180, utc: '2020-01-02T06:04:05Z', source: 'EXIF:CreateDate' });
    const modified = await readImageMetadata(new BufferSource(await jpegWithExif({ ifd0: { [TAGS.DateTime]: ascii('2019:09:09 09:09:09') } })));
    expect(modified.takenAt).toBeUndefined();
    expect(modified.modifiedAt).toMatchObject({ local: '2019-09-09T09:09:09', utc: null, source: 'EXIF:ModifyDate' });
  });

  it('gives the same result whatever the time zone of the machine', async () => {
    const bytes = await jpegWithExif(SYDNEY);
    const noOffset = await jpegWithExif({ exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30') } });
    const results = [];
    for (const tz of ['Pacific/Kiritimati', 'America/Los_Angeles', 'UTC']) {
      vi.stubEnv('TZ', tz);
      results.push({
        zoneOffset: new Date(2024, 4, 1).getTimezoneOffset(),
        withOffset: await readImageMetadata(new BufferSource(bytes)),
        withoutOffset: await readImageMetadata(new BufferSource(noOffset)),
      });
    }
    // The zone really changed (otherwise this test would prove nothing)...
    expect(new Set(results.map((r) => r.zoneOffset)).size).toBe(3);
    // ...and the metadata did not.
    expect(results[1]!.withOffset).toEqual(results[0]!.withOffset);
    expect(results[2]!.withOffset).toEqual(results[0]!.withOffset);
    expect(results[1]!.withoutOffset).toEqual(results[0]!.withoutOffset);
    expect(results[0]!.withoutOffset.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: null, utc: null, source: 'EXIF:DateTimeOriginal' });
  });

  it('reads only the head of a large JPEG', async () => {
    const big = withExifSegment(await noisyJpeg(1600, 1200), buildExif(SYDNEY));
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const source = new BufferSource(big);
    const m = await readImageMetadata(source);
    expect(m.make).toBe('Canon');
    expect(source.highestOffsetRead).toBeLessThanOrEqual(128 * 1024);
  });

  it('uses XMP dates when there is no EXIF date', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const xml =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreateDate="2021-07-04T09:15:00-04:00"/>' +
      '</rdf:RDF></x:xmpmeta>';
    const withXmp = Buffer.concat([jpeg.subarray(0, 2), xmpSegment(xml), jpeg.subarray(2)]);
    const m = await readImageMetadata(new BufferSource(withXmp));
    expect(m.takenAt).toEqual({ local: '2021-07-04T09:15:00', offsetMinutes: -240, utc: '2021-07-04T13:15:00Z', source: 'XMP:xmp:CreateDate' });
  });

  it('reports PNG dimensions from IHDR when there is no EXIF', async () => {
    const png = await sharp({ create: { width: 33, height: 21, channels: 4, background: '#0000' } }).png().toBuffer();
    const m = await readImageMetadata(new BufferSource(png));
    expect(m).toMatchObject({ width: 33, height: 21 });
    expect(m.takenAt).toBeUndefined();
    expect(m.gps).toBeUndefined();
  });

  it('refuses bytes that are no image format it knows', async () => {
    const err = await readImageMetadata(new BufferSource(Buffer.from('not an image at all, just text'))).catch((e: unknown) => e);
    expect(isExhibitError(err, 'unsupported-format')).toBe(true);
  });

  it('never reads beyond maxBytes and says so when nothing was found there', async () => {
    const jpeg = await jpegWithExif(SYDNEY);
    // A 60 KB comment segment before the EXIF pushes it past the cap.
    const comment = Buffer.alloc(60_000 + 4);
    comment.writeUInt16BE(0xfffe, 0);
    comment.writeUInt16BE(60_000 + 2, 2);
    const pushed = Buffer.concat([jpeg.subarray(0, 2), comment, jpeg.subarray(2)]);
    const source = new BufferSource(pushed);
    const err = await readImageMetadata(source, { maxBytes: 4096 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
    expect(source.highestOffsetRead).toBeLessThanOrEqual(4096);
    // With the normal cap the same file is fine.
    expect((await readImageMetadata(new BufferSource(pushed))).make).toBe('Canon');
  });

  it('regression: heic-exif-item-with-iloc-base-offset (libheif files) yields its EXIF', async (ctx) => {
    const jpeg = await jpegWithExif(SYDNEY);
    const heic = heicFromJpeg(jpeg);
    if (!heic) {
      ctx.skip(`heif-enc is ${heifEncAvailable() ? 'failing' : 'not installed'}; cannot build a HEIC with known EXIF`);
      return;
    }
    const m = await readImageMetadata(new BufferSource(heic, 'IMG_0001.HEIC'));
    expect(m.takenAt).toMatchObject({ local: '2024-05-01T12:20:30.25', offsetMinutes: 600 });
    expect(m.gps?.lat).toBeCloseTo(-33.8568, 4);
    expect(m.make).toBe('Canon');
  });

  it('regression: heif-zero-length-box does not hang the parser', async () => {
    const ftyp = Buffer.alloc(24);
    ftyp.writeUInt32BE(24, 0);
    ftyp.write('ftypheic', 4, 'latin1');
    ftyp.write('mif1heic', 16, 'latin1');
    const zeroBox = Buffer.alloc(16);
    zeroBox.write('junk', 4, 'latin1');
    const m = await readImageMetadata(new BufferSource(Buffer.concat([ftyp, zeroBox, Buffer.alloc(64)])));
    expect(m.takenAt).toBeUndefined();
  });
});
