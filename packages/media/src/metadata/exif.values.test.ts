import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { ascii, buildExif, byte, dms, rational, short, srational, TAGS, undefinedText, withExifSegment, withIptcSegment, type ExifSpec, type TagValue } from '../test-support/exif.builder.js';
import { pngChunk } from '../test-support/fixtures.js';
import { pngWithTextRawProfile } from '../test-support/value-cases.js';
import { exifPreviewSandboxed } from '../sandbox/parse.pool.js';
import { readImageMetadata } from './exif.metadata.js';

/**
 * Regressions for "values right or absent, never wrong": each test is named
 * after the failure it caught and failed before the fix.
 */

async function jpeg(width: number, height: number, spec: ExifSpec): Promise<Buffer> {
  const plain = await sharp({ create: { width, height, channels: 3, background: '#406080' } }).jpeg().toBuffer();
  return withExifSegment(plain, buildExif(spec));
}

/** SOI + APP1 (EXIF) + EOI: a file with EXIF and no image at all. */
function exifOnlyJpeg(spec: ExifSpec): Buffer {
  return withExifSegment(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), buildExif(spec));
}

function xmpSegment(xml: string): Buffer {
  const payload = Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), Buffer.from(xml)]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

function withXmp(jpegBytes: Buffer, description: string): Buffer {
  const xml =
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" ${description}/>` +
    '</rdf:RDF></x:xmpmeta>';
  // After the EXIF APP1 (SOI is 2 bytes, the EXIF segment follows).
  const exifEnd = 2 + 2 + jpegBytes.readUInt16BE(4);
  return Buffer.concat([jpegBytes.subarray(0, exifEnd), xmpSegment(xml), jpegBytes.subarray(exifEnd)]);
}

/** `png` with a zTXt "Raw profile type exif" holding `text` (compressed) after IHDR. */
function withRawProfile(png: Buffer, text: Buffer): Buffer {
  const ztxt = Buffer.concat([Buffer.from('Raw profile type exif\0\0', 'latin1'), deflateSync(text)]);
  return Buffer.concat([png.subarray(0, 33), pngChunk('zTXt', ztxt), png.subarray(33)]);
}

function riffChunk(fourcc: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(fourcc, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, Buffer.alloc(data.length % 2)]);
}

/** An animated WebP (VP8X with the EXIF flag, 32x24): `frames`, then `exif`. */
function animatedWebp(frames: Buffer[], exif: Buffer): Buffer {
  const vp8x = Buffer.alloc(10);
  vp8x[0] = 0x0a; // animation and EXIF flags
  vp8x.writeUIntLE(31, 4, 3);
  vp8x.writeUIntLE(23, 7, 3);
  const body = Buffer.concat([riffChunk('VP8X', vp8x), riffChunk('ANIM', Buffer.alloc(6)), ...frames, exif]);
  const riff = Buffer.from('RIFF\0\0\0\0WEBP', 'latin1');
  riff.writeUInt32LE(body.length + 4, 4);
  return Buffer.concat([riff, body]);
}

const read = (bytes: Buffer) => readImageMetadata(new BufferSource(bytes));

const exiftoolAvailable = spawnSync('exiftool', ['-ver'], { encoding: 'utf8' }).status === 0;

/** The file as exiftool writes it with these arguments (none: as it is), and exiftool's own reading of it (-n -G1). */
function withExiftool(bytes: Buffer, args: string[]): { bytes: Buffer; tags: Record<string, unknown> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-exiftool-'));
  try {
    const file = path.join(dir, 'f.jpg');
    writeFileSync(file, bytes);
    const write = args.length === 0 ? null : spawnSync('exiftool', ['-q', '-overwrite_original', ...args, file], { encoding: 'utf8' });
    if (write && write.status !== 0) throw new Error(`exiftool failed: ${write.stderr}`);
    const tags = (JSON.parse(spawnSync('exiftool', ['-j', '-n', '-G1', file], { encoding: 'utf8' }).stdout) as Array<Record<string, unknown>>)[0] ?? {};
    return { bytes: readFileSync(file), tags };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const gpsAt = (lat: TagValue, latRef: string, lon: TagValue, lonRef: string): ExifSpec['gps'] => ({
  [TAGS.GPSLatitudeRef]: ascii(latRef),
  [TAGS.GPSLatitude]: lat,
  [TAGS.GPSLongitudeRef]: ascii(lonRef),
  [TAGS.GPSLongitude]: lon,
});

/** A WebP (VP8X, as libvips writes it with EXIF) whose EXIF chunk holds `exifPayload`. */
async function webpWithExif(exifPayload: Buffer): Promise<Buffer> {
  const written = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#406080' } }).withExif({ IFD0: { Make: 'placeholder' } }).webp().toBuffer();
  const chunks: Buffer[] = [];
  for (let o = 12; o + 8 <= written.length; ) {
    const length = written.readUInt32LE(o + 4);
    const fourcc = written.toString('latin1', o, o + 4);
    const data = fourcc === 'EXIF' ? exifPayload : written.subarray(o + 8, o + 8 + length);
    const head = Buffer.alloc(8);
    head.write(fourcc, 0, 'latin1');
    head.writeUInt32LE(data.length, 4);
    chunks.push(head, data, Buffer.alloc(data.length % 2));
    o += 8 + length + (length % 2);
  }
  const body = Buffer.concat(chunks);
  const riff = Buffer.from('RIFF\0\0\0\0WEBP', 'latin1');
  riff.writeUInt32LE(body.length + 4, 4);
  return Buffer.concat([riff, body]);
}

describe('metadata values: right or absent', () => {
  it('regression: make-model-bytes-after-nul (Trust.\\0Gemini11HH) end at the first NUL', async () => {
    const m = await read(await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Trust.\0Gemini11HH'), [TAGS.Model]: ascii('MAVICA\x003ghx7y'), [TAGS.Software]: ascii('v1.0\0\0\0\0') } }));
    expect(m).toMatchObject({ make: 'Trust.', model: 'MAVICA', software: 'v1.0' });
    expect(m.escapedFields).toBeUndefined();
    expect(m.findings).toBeUndefined();
  });

  it('regression: text-control-bytes escapes control and invalid UTF-8 bytes as \\xNN and flags the field', async () => {
    const m = await read(await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Caf\xe9'), [TAGS.Model]: ascii('EOS\x01R5'), [TAGS.Software]: ascii('Gr\u00fcn') } }));
    expect(m.make).toBe('Caf\\xe9');
    expect(m.model).toBe('EOS\\x01R5');
    // ü as latin1 (0xFC) is not UTF-8 either.
    expect(m.software).toBe('Gr\\xfcn');
    expect(m.escapedFields).toEqual(['make', 'model', 'software']);
    expect(m.findings).toEqual([{ flag: 'text-escaped', detail: 'unprintable bytes shown as \\xNN in: make, model, software' }]);
    // The raw dump shows the same bytes the same way: PostgreSQL's jsonb refuses lone surrogates and NUL.
    expect((m.raw.ifd0 as Record<string, unknown>).Make).toBe('Caf\\xe9');
    expect(JSON.stringify(m.raw)).not.toMatch(/\\u(d[89a-f]|00[01])/i);
    // Valid UTF-8 stays as it is.
    const utf8 = await read(await jpeg(16, 12, { ifd0: { [TAGS.Make]: { type: 'undefined', value: Buffer.alloc(0) }, [TAGS.Model]: { type: 'raw', code: 2, count: 7, bytes: Buffer.from('Grün\0\0', 'utf8') } } }));
    expect(utf8.model).toBe('Grün');
    expect(utf8.escapedFields).toBeUndefined();
  });

  it('regression: declared-size-not-real-size (480x360 JPEG declaring 2272x1704)', async () => {
    const m = await read(await jpeg(48, 36, { exif: { [TAGS.PixelXDimension]: short(2272), [TAGS.PixelYDimension]: short(1704) } }));
    expect(m).toMatchObject({ width: 48, height: 36, declaredWidth: 2272, declaredHeight: 1704 });
    expect(m.findings).toEqual([{ flag: 'size-mismatch', detail: 'EXIF declares 2272x1704; the image is 48x36' }]);
  });

  it('regression: no-pixel-data-given-640x480 — EXIF without an image has no size', async () => {
    const m = await read(exifOnlyJpeg({ ifd0: { [TAGS.Make]: ascii('Canon') }, exif: { [TAGS.PixelXDimension]: short(640), [TAGS.PixelYDimension]: short(480) } }));
    expect(m.make).toBe('Canon');
    expect(m.width).toBeUndefined();
    expect(m.height).toBeUndefined();
    expect(m).toMatchObject({ declaredWidth: 640, declaredHeight: 480 });
    expect(m.findings).toBeUndefined();
  });

  it('regression: no-exif-size-tags — the size comes from the image header', async () => {
    const m = await read(await jpeg(40, 30, { ifd0: { [TAGS.Make]: ascii('Canon') } }));
    expect(m).toMatchObject({ width: 40, height: 30 });
    expect(m.declaredWidth).toBeUndefined();
    const progressive = await sharp({ create: { width: 37, height: 23, channels: 3, background: '#123' } }).jpeg({ progressive: true }).toBuffer();
    expect(await read(progressive)).toMatchObject({ width: 37, height: 23 });
  });

  it('regression: gif-without-metadata-reader — a GIF (no exifr reader) still gets its real size', async () => {
    const gif = await sharp({ create: { width: 21, height: 13, channels: 3, background: '#123' } }).gif().toBuffer();
    expect(await read(gif)).toEqual({ raw: {}, width: 21, height: 13 });
  });

  it('regression: modify-date-taken-as-capture-time — a ModifyDate-only file has no taken-at', async () => {
    const m = await read(await jpeg(16, 12, { ifd0: { [TAGS.DateTime]: ascii('2023:03:04 05:06:07') }, exif: { [TAGS.OffsetTime]: ascii('+01:00'), [TAGS.SubSecTime]: ascii('5') } }));
    expect(m.takenAt).toBeUndefined();
    expect(m.captureTimes).toBeUndefined();
    expect(m.modifiedAt).toEqual({ local: '2023-03-04T05:06:07.5', offsetMinutes: 60, utc: '2023-03-04T04:06:07.5Z', source: 'EXIF:ModifyDate' });
  });

  it('regression: xmp-vs-exif-capture-time — EXIF wins, both are kept, the disagreement is a finding', async () => {
    const base = await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30') } });
    const m = await read(withXmp(base, 'exif:DateTimeOriginal="2024-05-01T13:20:30" photoshop:DateCreated="2024-05-01T12:20:30"'));
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: null, utc: null, source: 'EXIF:DateTimeOriginal' });
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['EXIF:DateTimeOriginal', 'XMP:exif:DateTimeOriginal', 'XMP:photoshop:DateCreated']);
    expect(m.findings).toEqual([
      { flag: 'taken-at-conflict', detail: 'EXIF:DateTimeOriginal 2024-05-01T12:20:30 differs from XMP:exif:DateTimeOriginal 2024-05-01T13:20:30' },
    ]);
    // XMP no longer overwrites EXIF values in the output (exifr merged XMP exif: into the EXIF block).
    expect((m.raw.exif as Record<string, unknown>).DateTimeOriginal).toBe('2024:05:01 12:20:30');
  });

  it('an XMP capture time that agrees (an added offset, a fraction) is no conflict', async () => {
    const base = await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30') } });
    const m = await read(withXmp(base, 'exif:DateTimeOriginal="2024-05-01T12:20:30.25+02:00"'));
    expect(m.findings).toBeUndefined();
    expect(m.takenAt?.source).toBe('EXIF:DateTimeOriginal');
  });

  it('XMP tiff:Make does not replace the EXIF Make', async () => {
    const base = await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Canon') } });
    const m = await read(withXmp(base, 'tiff:Make="Photoshop" tiff:Model="Scanner 9"'));
    expect(m.make).toBe('Canon');
    // ...but fills in what EXIF does not record.
    expect(m.model).toBe('Scanner 9');
  });

  it('regression: exif-date-stored-as-undefined-not-read — DateTimeOriginal written with type UNDEFINED is the capture time, as exiftool reads it', async () => {
    const m = await read(
      await jpeg(16, 12, {
        exif: { [TAGS.DateTimeOriginal]: undefinedText('2023:07:14 09:15:30\0'), [TAGS.OffsetTimeOriginal]: undefinedText('+02:00\0'), [TAGS.CreateDate]: undefinedText('2023:07:14 09:15:31\0') },
      }),
    );
    expect(m.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: 120, utc: '2023-07-14T07:15:30Z', source: 'EXIF:DateTimeOriginal' });
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['EXIF:DateTimeOriginal', 'EXIF:CreateDate']);
    // Bytes that are not printable text are no time.
    const binary = await read(await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: { type: 'raw', code: 7, count: 20, bytes: Buffer.from('2023:07:14 09:15:30\x01', 'latin1') } } }));
    expect(binary.takenAt).toBeUndefined();
  });

  it('regression: date-text-long-space-run-quadratic — a date followed by 150 000 spaces and junk is no date, read at once', async () => {
    // `\\s*(offset)?\\s*$` backtracked quadratically on this: 26 s of the event loop per value (EXIF ASCII in a PNG eXIf,
    // EXIF UNDEFINED bytes, an XMP xap: value). Text over MAX_TIME_TEXT_CHARS is refused before any regular expression.
    const text = `2023:07:14 09:15:30${' '.repeat(150_000)}x`;
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#406080' } }).png().toBuffer();
    const bytes = Buffer.from(text, 'latin1');
    for (const value of [ascii(text), { type: 'raw' as const, code: 7, count: bytes.length, bytes }]) {
      const tiff = buildExif({ ifd0: { [TAGS.Make]: ascii('X') }, exif: { [TAGS.DateTimeOriginal]: value } });
      const m = await read(Buffer.concat([png.subarray(0, 33), pngChunk('eXIf', tiff), png.subarray(33)]));
      expect(m.make).toBe('X');
      expect(m.takenAt).toBeUndefined();
    }
    const plain = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const xap = await read(withXmp(plain, `xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreateDate="2003-09-05T16:30${' '.repeat(60_000)}x"`));
    expect(xap.takenAt).toBeUndefined();
  });

  it('regression: exif-date-stored-as-byte-read-as-date — DateTimeOriginal (or GPSStatus) stored as BYTE is no text, as exiftool prints numbers', async () => {
    const byteText = (value: string): TagValue => ({ type: 'raw', code: 1, count: value.length, bytes: Buffer.from(value, 'latin1') });
    const bytes = await jpeg(16, 12, {
      exif: { [TAGS.DateTimeOriginal]: byteText('2023:07:14 09:15:30\0'), [TAGS.CreateDate]: undefinedText('2023:07:14 09:15:31\0') },
      gps: { ...gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'), [TAGS.GPSStatus]: byteText('V\0') },
    });
    const m = await read(bytes);
    // The UNDEFINED CreateDate is read; the BYTE DateTimeOriginal is not, and a BYTE 86 is no status V.
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['EXIF:CreateDate']);
    expect(m.gps?.lat).toBeCloseTo(48.8584, 6);
    expect(m.gpsRecorded).toBeUndefined();
    if (exiftoolAvailable) {
      const { tags } = withExiftool(bytes, []);
      expect([tags['ExifIFD:DateTimeOriginal'], tags['ExifIFD:CreateDate'], tags['GPS:GPSStatus']]).toEqual(['50 48 50 51 58 48 55 58 49 52 32 48 57 58 49 53 58 51 48 0', '2023:07:14 09:15:31', '86 0']);
    }
  });

  it('regression: iptc-date-time-created-not-read — IPTC-IIM DateCreated + TimeCreated is a capture time after EXIF, as exiftool composes it', async (ctx) => {
    if (!exiftoolAvailable) return ctx.skip('exiftool is not installed (Debian libimage-exiftool-perl): it writes the IPTC and is the oracle');
    const plain = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const written = withExiftool(plain, ['-IPTC:DateCreated=2023:07:14', '-IPTC:TimeCreated=09:15:30+02:00']);
    expect(written.tags['Composite:DateTimeCreated']).toBe('2023:07:14 09:15:30+02:00');
    const m = await read(written.bytes);
    expect(m.takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: 120, utc: '2023-07-14T07:15:30Z', source: 'IPTC:DateCreated+TimeCreated' });

    // Given no zone, exiftool writes +0000 (IIM requires an offset): no offset was known, so the time stays local.
    const noZone = withExiftool(plain, ['-IPTC:DateCreated=2023:07:14', '-IPTC:TimeCreated=09:15:30']);
    expect((noZone.tags['IPTC:TimeCreated'] as string).startsWith('09:15:30')).toBe(true);
    expect((await read(noZone.bytes)).takenAt).toEqual({ local: '2023-07-14T09:15:30', offsetMinutes: null, utc: null, source: 'IPTC:DateCreated+TimeCreated' });

    // EXIF DateTimeOriginal first; IPTC is kept after it.
    const both = withExiftool(plain, ['-EXIF:DateTimeOriginal=2023:07:14 10:00:00', '-IPTC:DateCreated=2023:07:14', '-IPTC:TimeCreated=09:15:30+02:00']);
    const mb = await read(both.bytes);
    expect(mb.takenAt?.source).toBe('EXIF:DateTimeOriginal');
    expect(mb.captureTimes?.map((t) => t.source)).toEqual(['EXIF:DateTimeOriginal', 'IPTC:DateCreated+TimeCreated']);

    // A date alone has no time of day: none is made up.
    const dateOnly = withExiftool(plain, ['-IPTC:DateCreated=2023:07:14']);
    expect((await read(dateOnly.bytes)).takenAt).toBeUndefined();
    // regression: iptc-time-created-midnight-placeholder-as-capture-time: a news agency's 000000 is "no time"
    // (an AP photo shipped as test data by exif-js: DateCreated 20030830, TimeCreated 000000, of an afternoon event).
    const midnight = withExiftool(plain, ['-IPTC:DateCreated=2003:08:30', '-IPTC:TimeCreated=00:00:00']);
    expect(midnight.tags['Composite:DateTimeCreated']).toMatch(/^2003:08:30 00:00:00/);
    expect((await read(midnight.bytes)).takenAt).toBeUndefined();
    expect((await read(withIptcSegment(plain, [[55, '20030830'], [60, '000000']]))).takenAt).toBeUndefined();
  });

  it('regression: xmp-legacy-xap-prefix-not-read — XMP basic under its pre-2004 prefix xap: (Photoshop CS3 and older) gives the create and modify times', async () => {
    const plain = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    // As Photoshop CS3 wrote an AP photo that exif-js ships as test data: minutes only, with an offset.
    const bytes = withXmp(
      withExifSegment(plain, buildExif({ ifd0: { [TAGS.Make]: ascii('Nikon') } })),
      'xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreateDate="2003-09-05T16:30+02:00" xap:ModifyDate="2008-05-09T14:03:06+02:00"',
    );
    const m = await read(bytes);
    expect(m.takenAt).toEqual({ local: '2003-09-05T16:30:00', offsetMinutes: 120, utc: '2003-09-05T14:30:00Z', source: 'XMP:xmp:CreateDate' });
    expect(m.modifiedAt).toEqual({ local: '2008-05-09T14:03:06', offsetMinutes: 120, utc: '2008-05-09T12:03:06Z', source: 'XMP:xmp:ModifyDate' });
    if (exiftoolAvailable) {
      // exiftool reads the namespace by its URI: the same tags, XMP-xmp.
      const { tags } = withExiftool(bytes, []);
      expect([tags['XMP-xmp:CreateDate'], tags['XMP-xmp:ModifyDate']]).toEqual(['2003:09:05 16:30+02:00', '2008:05:09 14:03:06+02:00']);
    }
    // Where both prefixes are written, xmp: is read.
    const both = await read(withXmp(plain, 'xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreateDate="2003-09-05T16:30:00" xmp:CreateDate="2004-01-02T03:04:05"'));
    expect(both.takenAt?.local).toBe('2004-01-02T03:04:05');
  });

  it('regression: iptc-vs-exif-capture-time-no-conflict — IPTC that differs from EXIF like for like is a taken-at-conflict', async () => {
    const base = await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: ascii('2021:01:01 10:00:00'), [TAGS.CreateDate]: ascii('2021:01:01 10:00:01') } });
    const m = await read(withIptcSegment(base, [[55, '20230714'], [60, '091530+0200'], [62, '20210101'], [63, '100001+0000']]));
    expect(m.takenAt?.source).toBe('EXIF:DateTimeOriginal');
    // The original times differ; the digitized ones agree (+0000 is no offset: the wall clocks are compared).
    expect(m.findings).toEqual([
      { flag: 'taken-at-conflict', detail: 'EXIF:DateTimeOriginal 2021-01-01T10:00:00 differs from IPTC:DateCreated+TimeCreated 2023-07-14T09:15:30+02:00' },
    ]);
    // Agreeing IPTC: no finding.
    const same = await read(withIptcSegment(base, [[55, '20210101'], [60, '100000+0000']]));
    expect(same.findings ?? []).toEqual([]);
  });

  it('regression: xmp-xap-prefix-foreign-uri-read-as-basic — xap: is XMP basic only when bound to its URI', async () => {
    const plain = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const foreign = withXmp(plain, 'xmlns:xap="http://example.com/not-xmp-basic/" xap:CreateDate="2003-09-05T16:30:12+02:00"');
    expect((await read(foreign)).takenAt).toBeUndefined();
    if (exiftoolAvailable) {
      // exiftool (the oracle) reads namespaces by URI: no XMP basic CreateDate here.
      const { tags } = withExiftool(foreign, []);
      expect(tags['XMP-xmp:CreateDate']).toBeUndefined();
      expect(tags['XMP-xap:CreateDate']).toBe('2003:09:05 16:30:12+02:00');
    }
    // Unbound, or bound two ways in one packet: not known to be XMP basic.
    expect((await read(withXmp(plain, 'xap:CreateDate="2003-09-05T16:30:12+02:00"'))).takenAt).toBeUndefined();
    const twice =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description rdf:about="" xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreateDate="2003-09-05T16:30:12+02:00"/>' +
      '<rdf:Description rdf:about="" xmlns:xap="http://example.com/other/" xap:Rating="1"/></rdf:RDF></x:xmpmeta>';
    expect((await read(Buffer.concat([plain.subarray(0, 2), xmpSegment(twice), plain.subarray(2)]))).takenAt).toBeUndefined();
    // Bound to XMP basic (single quotes too): read, as before.
    expect((await read(withXmp(plain, "xmlns:xap='http://ns.adobe.com/xap/1.0/' xap:CreateDate=\"2003-09-05T16:30:12+02:00\""))).takenAt?.source).toBe('XMP:xmp:CreateDate');
  });

  it('reads IPTC DigitalCreationDate + Time as a digitized time, after the original one', async () => {
    const plain = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const m = await read(withIptcSegment(plain, [[62, '20230715'], [63, '101112-0500'], [55, '20230714'], [60, '091530+0200']]));
    expect(m.captureTimes).toEqual([
      { local: '2023-07-14T09:15:30', offsetMinutes: 120, utc: '2023-07-14T07:15:30Z', source: 'IPTC:DateCreated+TimeCreated' },
      { local: '2023-07-15T10:11:12', offsetMinutes: -300, utc: '2023-07-15T15:11:12Z', source: 'IPTC:DigitalCreationDate+DigitalCreationTime' },
    ]);
    // Not a date, not a time, an offset beyond ±14 h: no time.
    for (const [date, time] of [['2023071', '091530+0200'], ['20231314', '091530+0200'], ['20230714', '096030+0200'], ['20230714', '091530+1500']] as const) {
      expect((await read(withIptcSegment(plain, [[55, date], [60, time]]))).takenAt, `${date} ${time}`).toBeUndefined();
    }
  });

  it('regression: gps-null-island — 0,0 is kept as recorded, flagged, and not a location', async () => {
    const zero = rational([0, 1], [0, 1], [0, 1]);
    const m = await read(await jpeg(16, 12, { gps: gpsAt(zero, 'N', zero, 'E') }));
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded).toEqual({ lat: 0, lon: 0, flag: 'gps-null-island' });
    expect(m.findings).toEqual([{ flag: 'gps-null-island', detail: 'GPS position recorded as 0,0 (no fix); not used as a location' }]);
  });

  it('regression: gps-status-void-plotted-as-location — a position with GPSStatus V is kept as recorded, flagged, and not a location', async () => {
    // A camera's GPS unit without a fix writes its last position with status V (measurement void).
    const m = await read(await jpeg(16, 12, { gps: { ...gpsAt(dms(51.5007), 'N', dms(0.1246), 'W'), [TAGS.GPSStatus]: ascii('V') } }));
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded?.flag).toBe('gps-void');
    expect(m.gpsRecorded?.lat).toBeCloseTo(51.5007, 6);
    expect(m.gpsRecorded?.lon).toBeCloseTo(-0.1246, 6);
    expect(m.findings?.map((f) => f.flag)).toEqual(['gps-void']);
    expect(m.findings?.[0]?.detail).toMatch(/^GPS position 51\.50\d+,-0\.124\d+ recorded with GPSStatus V \(measurement void\); not used as a location$/);
    // A (measurement in progress, what a fix writes) and no status at all: a location.
    const statuses: Array<Record<number, TagValue>> = [{ [TAGS.GPSStatus]: ascii('A') }, {}, { [TAGS.GPSStatus]: undefinedText('A\0') }];
    for (const status of statuses) {
      const located = await read(await jpeg(16, 12, { gps: { ...gpsAt(dms(51.5007), 'N', dms(0.1246), 'W'), ...status } }));
      expect(located.gps?.lat, JSON.stringify(status)).toBeCloseTo(51.5007, 6);
      expect(located.gpsRecorded).toBeUndefined();
    }
  });

  it('regression: gps-status-void-undefined-type — GPSStatus V stored as UNDEFINED bytes (V\\0) is void too, as exiftool -n reads it', async () => {
    const bytes = await jpeg(16, 12, { gps: { ...gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'), [TAGS.GPSStatus]: undefinedText('V\0') } });
    const m = await read(bytes);
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded?.flag).toBe('gps-void');
    expect(m.findings?.map((f) => f.flag)).toEqual(['gps-void']);
    if (exiftoolAvailable) expect(withExiftool(bytes, []).tags['GPS:GPSStatus']).toBe('V');
  });

  it('regression: gps-out-of-range — |lat| > 90 or a 0/0 rational is kept, flagged, and not a location', async () => {
    const m = await read(await jpeg(16, 12, { gps: gpsAt(dms(95.5), 'S', dms(10), 'E') }));
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded?.flag).toBe('gps-out-of-range');
    expect(m.gpsRecorded?.lat).toBeCloseTo(-95.5, 6);
    expect(m.gpsRecorded?.lon).toBeCloseTo(10, 6);
    expect(m.findings?.map((f) => f.flag)).toEqual(['gps-out-of-range']);
    const nan = await read(await jpeg(16, 12, { gps: gpsAt(rational([0, 0], [0, 1], [0, 1]), 'N', dms(10), 'E') }));
    expect(nan.gps).toBeUndefined();
    expect(nan.gpsRecorded).toMatchObject({ lat: null, flag: 'gps-out-of-range' });
    expect(nan.gpsRecorded?.lon).toBeCloseTo(10, 6);
  });

  it('regression: gps-signed-rational-double-negation — negative SRATIONAL degrees with an S/W reference stay south/west', async () => {
    // Writers that store signed degrees and also write the reference; exiftool reads -33.8675,-151.2070 (Sydney).
    const m = await read(await jpeg(16, 12, { gps: gpsAt(srational([-33, 1], [-52, 1], [-3, 1]), 'S', srational([-151, 1], [-12, 1], [-252, 10]), 'W') }));
    expect(m.gps?.lat).toBeCloseTo(-(33 + 52 / 60 + 3 / 3600), 9);
    expect(m.gps?.lon).toBeCloseTo(-(151 + 12 / 60 + 25.2 / 3600), 9);
    // A negative value with an N reference says both hemispheres: no position.
    const contradicts = await read(await jpeg(16, 12, { gps: gpsAt(srational([-33, 1], [52, 1], [3, 1]), 'N', dms(151.207), 'E') }));
    expect(contradicts.gps).toBeUndefined();
    expect(contradicts.gpsRecorded).toBeUndefined();
  });

  it('regression: gps-mixed-sign-degrees — degrees, minutes and seconds of mixed signs are no position', async () => {
    // [-33, 52, 3] S: -33.8675 if the sign is the whole value's, -32.1325 as exiftool sums it; neither is certain.
    const m = await read(await jpeg(16, 12, { gps: gpsAt(srational([-33, 1], [52, 1], [3, 1]), 'S', dms(151.207), 'E') }));
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded).toBeUndefined();
    expect(m).toMatchObject({ width: 16, height: 12 });
  });

  it('regression: gps-altitude-ref-3-below-as-above — EXIF 3.0 references 2 (above) and 3 (below) keep their sign', async () => {
    const at = (ref: number) => jpeg(16, 12, { gps: { ...gpsAt(dms(10), 'N', dms(20), 'E'), [TAGS.GPSAltitudeRef]: byte(ref), [TAGS.GPSAltitude]: rational([125, 1]) } });
    expect((await read(await at(3))).gps?.altM).toBe(-125);
    expect((await read(await at(2))).gps?.altM).toBe(125);
    expect((await read(await at(1))).gps?.altM).toBe(-125);
    // A reference EXIF does not define: the position stands, the altitude's sign is unknown.
    const unknown = await read(await at(7));
    expect(unknown.gps).toEqual({ lat: 10, lon: 20 });
  });

  it('regression: webp-exif-chunk-not-read — a WebP\'s EXIF chunk gives its capture time, GPS, make and model', async () => {
    const tiff = buildExif({
      ifd0: { [TAGS.Make]: ascii('Google'), [TAGS.Model]: ascii('Pixel 8') },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
      gps: gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'),
    });
    // With JPEG's Exif\0\0 header in the chunk (libvips) and without it (exiftool): both read the same.
    for (const payload of [Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]), tiff]) {
      const m = await read(await webpWithExif(payload));
      expect(m).toMatchObject({ make: 'Google', model: 'Pixel 8', width: 32, height: 24 });
      expect(m.takenAt).toEqual({ local: '2025-06-01T14:30:05', offsetMinutes: 60, utc: '2025-06-01T13:30:05Z', source: 'EXIF:DateTimeOriginal' });
      expect(m.gps?.lat).toBeCloseTo(48.8584, 6);
      expect(m.gps?.lon).toBeCloseTo(2.2945, 6);
      expect(m.findings).toBeUndefined();
    }
  });

  it('regression: png-exif-chunk-with-jpeg-header — an eXIf chunk starting with Exif\\0\\0 still gives its EXIF', async () => {
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const tiff = buildExif({
      ifd0: { [TAGS.Make]: ascii('Apple'), [TAGS.Model]: ascii('iPhone 15') },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05') },
      gps: gpsAt(dms(33.8675), 'S', dms(151.207), 'E'),
    });
    // After IHDR (8-byte signature + 25-byte chunk), as ImageMagick writes it.
    const withChunk = (payload: Buffer) => Buffer.concat([png.subarray(0, 33), pngChunk('eXIf', payload), png.subarray(33)]);
    for (const payload of [Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]), tiff]) {
      const m = await read(withChunk(payload));
      expect(m).toMatchObject({ make: 'Apple', model: 'iPhone 15', width: 20, height: 10 });
      expect(m.takenAt?.local).toBe('2025-06-01T14:30:05');
      expect(m.gps?.lat).toBeCloseTo(-33.8675, 6);
      expect(m.findings).toBeUndefined();
    }
  });

  it('regression: png-appended-file-planted-exif — EXIF after IEND or inside a private chunk of a large PNG is not taken', async () => {
    // A search of the file's tail for an eXIf chunk "leading to IEND" took these; exiftool shows neither.
    // 300x300 noise, stored uncompressed: ~270 KB, so IEND lies far past exifr's first 64 KiB.
    const pixels = Buffer.alloc(300 * 300 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
    const carrier = await sharp(pixels, { raw: { width: 300, height: 300, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    expect(carrier.length).toBeGreaterThan(4 * 64 * 1024);
    const tiff = buildExif({ ifd0: { [TAGS.Make]: ascii('Planted') }, exif: { [TAGS.DateTimeOriginal]: ascii('2001:02:03 04:05:06') }, gps: gpsAt(dms(51.5), 'N', dms(0.12), 'W') });
    // A small PNG with an eXIf chunk appended after the carrier's IEND.
    const small = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#102030' } }).png().toBuffer();
    const appended = Buffer.concat([carrier, small.subarray(0, 33), pngChunk('eXIf', tiff), small.subarray(33)]);
    // A private ancillary chunk before IEND whose data is a whole eXIf chunk.
    const fake = pngChunk('eXIf', tiff).subarray(0, 8 + tiff.length);
    const iend = carrier.length - 12;
    const privateChunk = Buffer.concat([carrier.subarray(0, iend), pngChunk('prVt', fake), carrier.subarray(iend)]);
    for (const bytes of [appended, privateChunk]) {
      const m = await read(bytes);
      expect(m).toMatchObject({ width: 300, height: 300 });
      expect(m.make).toBeUndefined();
      expect(m.takenAt).toBeUndefined();
      expect(m.gps).toBeUndefined();
      expect(m.gpsRecorded).toBeUndefined();
    }
  });

  it('regression: png-imagemagick-raw-profile-exif-not-read — ImageMagick\'s zTXt "Raw profile type exif" gives the EXIF', async () => {
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const tiff = buildExif({
      ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('EOS R5') },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
      gps: gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'),
    });
    // ImageMagick's layout: "\nexif\n", the length in 8 columns, then the APP1 payload as hex, 72 digits a line.
    const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const hexLines = app1.toString('hex').match(/.{1,72}/g)!.join('\n');
    const text = `\nexif\n${String(app1.length).padStart(8)}\n${hexLines}\n`;
    const ztxt = Buffer.concat([Buffer.from('Raw profile type exif\0\0', 'latin1'), deflateSync(Buffer.from(text, 'latin1'))]);
    const m = await read(Buffer.concat([png.subarray(0, 33), pngChunk('zTXt', ztxt), png.subarray(33)]));
    expect(m).toMatchObject({ make: 'Canon', model: 'EOS R5', width: 20, height: 10 });
    expect(m.takenAt).toEqual({ local: '2025-06-01T14:30:05', offsetMinutes: 60, utc: '2025-06-01T13:30:05Z', source: 'EXIF:DateTimeOriginal' });
    expect(m.gps?.lat).toBeCloseTo(48.8584, 6);
    expect(m.findings).toBeUndefined();
    // A profile that inflates past the cap, or is not hex, gives nothing but a metadata-partial finding saying why.
    const bombed = await read(withRawProfile(png, Buffer.alloc(8 * 1024 * 1024, 0x41)));
    expect(bombed).toMatchObject({ width: 20, height: 10 });
    expect(bombed.make).toBeUndefined();
    expect(bombed.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    expect(JSON.stringify(bombed.raw)).toMatch(/raw profile unreadable.*(buffer|length|output)/i);
    const notHex = await read(withRawProfile(png, Buffer.from(`\nexif\n${String(app1.length).padStart(8)}\n${hexLines.replace(/^../, 'zz')}\n`, 'latin1')));
    expect(notHex).toMatchObject({ width: 20, height: 10 });
    expect(notHex.make).toBeUndefined();
    expect(notHex.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    expect(JSON.stringify(notHex.raw)).toContain('profile is not hex');
  });

  it('regression: png-raw-profile-in-text-chunk-not-read — ImageMagick\'s uncompressed tEXt "Raw profile type exif" gives the EXIF, as exiftool reads it', async () => {
    const bytes = await pngWithTextRawProfile({
      ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('EOS R5') },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
      gps: gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'),
    });
    const m = await read(bytes);
    expect(m).toMatchObject({ make: 'Canon', model: 'EOS R5', width: 20, height: 10 });
    expect(m.takenAt).toEqual({ local: '2025-06-01T14:30:05', offsetMinutes: 60, utc: '2025-06-01T13:30:05Z', source: 'EXIF:DateTimeOriginal' });
    expect(m.gps?.lat).toBeCloseTo(48.8584, 6);
    expect(m.findings).toBeUndefined();
    // A tEXt with that keyword that is no profile: nothing, and the reason.
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const junk = await read(Buffer.concat([png.subarray(0, 33), pngChunk('tEXt', Buffer.from(`Raw profile type exif\0\nexif\n      40\n${'zz'.repeat(40)}\n`, 'latin1')), png.subarray(33)]));
    expect(junk.make).toBeUndefined();
    expect(JSON.stringify(junk.raw)).toContain('profile is not hex');
  });

  it('regression: png-raw-profile-whitespace-run-redos — a raw profile with a long whitespace run is refused at once', async () => {
    // One regular expression over the whole text backtracked quadratically on this (30 s, a core busy, from a 1 KB file).
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const m = await read(withRawProfile(png, Buffer.from(`\nexif\n10${' '.repeat(1_000_000)}!`, 'latin1')));
    expect(m).toMatchObject({ width: 20, height: 10 });
    expect(m.make).toBeUndefined();
    expect(m.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    expect(JSON.stringify(m.raw)).toContain('profile is not hex');
  });

  it('regression: png-large-ztxt-read-whole-before-keyword — only a zTXt\'s keyword is read before it is known to be a raw profile', async () => {
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const noise = Buffer.alloc(900 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const comment = Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), noise]);
    const source = new BufferSource(Buffer.concat([png.subarray(0, 33), pngChunk('zTXt', comment), png.subarray(33)]));
    const m = await readImageMetadata(source);
    expect(m.make).toBeUndefined();
    expect(source.reads.reduce((n, r) => n + r.length, 0)).toBeLessThan(4 * 64 * 1024);
  });

  it('regression: png-chunk-header-across-read-boundary-loses-exif — a chunk header across the first 64 KiB costs no EXIF', async () => {
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
    const exif = pngChunk('eXIf', buildExif({ ifd0: { [TAGS.Make]: ascii('Apple') }, exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05') } }));
    const before = 33 + exif.length;
    // A tEXt chunk sized so that the next chunk's 8-byte header starts 4 bytes before 64 KiB.
    const fill = 64 * 1024 - 4 - before - 12;
    const text = pngChunk('tEXt', Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.alloc(fill - 8, 0x78)]));
    const bytes = Buffer.concat([png.subarray(0, 33), exif, text, png.subarray(33)]);
    expect(before + text.length).toBe(64 * 1024 - 4);
    const m = await read(bytes);
    expect(m).toMatchObject({ make: 'Apple', width: 20, height: 10 });
    expect(m.takenAt?.local).toBe('2025-06-01T14:30:05');
    expect(m.findings).toBeUndefined();
  });

  it('regression: webp-animation-exif-read-per-chunk — an animation\'s EXIF after 1,100 frames is read in 64 KiB windows', async () => {
    // One ranged read per chunk on the main thread: 974 reads for 1,000 frames, and after 1,024 chunks EXIF silently missed.
    const frames = Array.from({ length: 1100 }, () => riffChunk('ANMF', Buffer.alloc(2048, 1)));
    const source = new BufferSource(animatedWebp(frames, riffChunk('EXIF', buildExif({ ifd0: { [TAGS.Make]: ascii('Google') } }))));
    const m = await readImageMetadata(source);
    expect(m).toMatchObject({ make: 'Google', width: 32, height: 24 });
    expect(m.findings).toBeUndefined();
    expect(source.reads.length).toBeLessThan(2 * Math.ceil(source.size / (64 * 1024)));
    // Past MEDIA_LIMITS.maxWebpChunks the walk stops, and says so.
    const tooMany = Array.from({ length: 16400 }, () => riffChunk('JUNK', Buffer.alloc(0)));
    const stopped = await read(animatedWebp(tooMany, riffChunk('EXIF', buildExif({ ifd0: { [TAGS.Make]: ascii('Google') } }))));
    expect(stopped).toMatchObject({ width: 32, height: 24 });
    expect(stopped.make).toBeUndefined();
    expect(stopped.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    expect(JSON.stringify(stopped.raw)).toContain('the rest were not walked');
  });

  it('regression: webp-exif-past-byte-cap-lost-silently — a flagged EXIF chunk beyond the read cap is a partial read, not silence', async () => {
    // 12 frames of 64 KiB, then EXIF: with a 256 KiB cap the walk ends before it. It said nothing; a JPEG says "beyond N bytes".
    const frames = Array.from({ length: 12 }, () => riffChunk('ANMF', Buffer.alloc(64 * 1024, 1)));
    const bytes = animatedWebp(frames, riffChunk('EXIF', buildExif({ ifd0: { [TAGS.Make]: ascii('Google') } })));
    const capped = await readImageMetadata(new BufferSource(bytes), { maxBytes: 256 * 1024 });
    expect(capped).toMatchObject({ width: 32, height: 24 });
    expect(capped.make).toBeUndefined();
    expect(capped.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    expect(JSON.stringify(capped.raw)).toContain('no EXIF chunk starts within the first 262144 bytes');
    // Within the cap it is read, with no finding.
    const whole = await readImageMetadata(new BufferSource(bytes), { maxBytes: 2 * 1024 * 1024 });
    expect(whole).toMatchObject({ make: 'Google' });
    expect(whole.findings).toBeUndefined();
  });

  it('a WebP EXIF chunk that is not TIFF, or claims more bytes than the file has, costs nothing but itself', async () => {
    const junk = await read(await webpWithExif(Buffer.from('not a tiff structure at all')));
    expect(junk).toMatchObject({ width: 32, height: 24 });
    expect(junk.make).toBeUndefined();
    expect(junk.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
    const whole = await webpWithExif(buildExif({ ifd0: { [TAGS.Make]: ascii('Google') } }));
    const exifAt = whole.indexOf('EXIF', 12, 'latin1');
    whole.writeUInt32LE(0xfffffff0, exifAt + 4);
    const claimed = await read(whole);
    expect(claimed).toMatchObject({ make: 'Google', width: 32, height: 24 });
  });

  it('regression: exif-date-with-inline-offset-skipped — DateTimeOriginal with its offset in the text is the capture time', async () => {
    // exiftool: DateTimeOriginal 2024:05:01 12:20:30+02:00. The text used to be refused, and CreateDate taken instead.
    const m = await read(await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30+02:00'), 0x9004: ascii('2024:05:01 12:25:00') } }));
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 120, utc: '2024-05-01T10:20:30Z', source: 'EXIF:DateTimeOriginal' });
  });

  it('regression: gps-signed-altitude-double-negation — a negative SRATIONAL altitude with a below-sea-level reference stays below', async () => {
    const at = (ref: number, metres: number) =>
      jpeg(16, 12, { gps: { ...gpsAt(dms(31.5), 'N', dms(35.5), 'E'), [TAGS.GPSAltitudeRef]: byte(ref), [TAGS.GPSAltitude]: srational([metres, 1]) } });
    // The Dead Sea shore, -430 m: exiftool reads -430 for both signs of the stored value.
    expect((await read(await at(1, -430))).gps?.altM).toBe(-430);
    expect((await read(await at(1, 430))).gps?.altM).toBe(-430);
    // Negative with an "above" reference says both: no altitude, the position stands.
    const contradicts = await read(await at(0, -430));
    expect(contradicts.gps).toEqual({ lat: 31.5, lon: 35.5 });
  });

  it('regression: jpeg-app13-across-read-boundary-loses-exif — a Photoshop APP13 across the first 64 KiB keeps EXIF, GPS and IPTC', async () => {
    const segment = (marker: number, body: Buffer) => {
      const head = Buffer.alloc(4);
      head.writeUInt16BE(0xff00 | marker, 0);
      head.writeUInt16BE(body.length + 2, 2);
      return Buffer.concat([head, body]);
    };
    const resource = (id: number, data: Buffer) => {
      const head = Buffer.alloc(12);
      head.write('8BIM', 0, 'latin1');
      head.writeUInt16BE(id, 4); // then an empty Pascal name (2 bytes)
      head.writeUInt32BE(data.length, 8);
      return Buffer.concat([head, data, Buffer.alloc(data.length % 2)]);
    };
    // A 40 KB thumbnail resource, then IPTC DateCreated: exifr scans the segment for the IPTC resource.
    const iptc = Buffer.concat([Buffer.from([0x1c, 0x02, 0x37, 0x00, 0x08]), Buffer.from('20250601', 'latin1')]);
    const app13 = segment(0xed, Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource(0x040c, Buffer.alloc(40_000, 0x55)), resource(0x0404, iptc)]));
    // An ICC-sized APP2 first, so that the APP13 starts before 64 KiB and ends after it.
    const app2 = segment(0xe2, Buffer.concat([Buffer.from('ICC_PROFILE\0\x01\x01', 'latin1'), Buffer.alloc(40_000)]));
    const withExif = await jpeg(16, 12, {
      ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('EOS R5') },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05') },
      gps: gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'),
    });
    const exifEnd = 4 + withExif.readUInt16BE(4);
    const bytes = Buffer.concat([withExif.subarray(0, exifEnd), app2, app13, withExif.subarray(exifEnd)]);
    const app13At = bytes.indexOf('Photoshop 3.0', 0, 'latin1') - 4;
    expect(app13At).toBeLessThan(64 * 1024);
    expect(app13At + app13.length).toBeGreaterThan(64 * 1024);
    const m = await read(bytes);
    expect(m).toMatchObject({ make: 'Canon', model: 'EOS R5', width: 16, height: 12 });
    expect(m.takenAt?.local).toBe('2025-06-01T14:30:05');
    expect(m.gps?.lat).toBeCloseTo(48.8584, 6);
    expect(m.findings).toBeUndefined();
    expect((m.raw as { iptc?: Record<string, unknown> }).iptc?.DateCreated).toBe('20250601');
  });

  it('regression: jpeg-app-header-across-read-boundary-loses-exif — an APPn header across the first 64 KiB keeps the EXIF after it', async () => {
    const withExif = await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Canon') }, exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05') } });
    const segment = (marker: number, body: Buffer) => Buffer.concat([Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    // An APP15 filler, then an XMP APP1 whose namespace (read to tell its type) starts 10 bytes before 64 KiB.
    const filler = segment(0xef, Buffer.alloc(64 * 1024 - 10 - 2 - 4));
    const xmp = segment(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', 'latin1'));
    const bytes = Buffer.concat([withExif.subarray(0, 2), filler, xmp, withExif.subarray(2)]);
    expect(bytes.indexOf('http://ns.adobe.com', 0, 'latin1')).toBe(64 * 1024 - 6);
    const m = await read(bytes);
    expect(m).toMatchObject({ make: 'Canon', width: 16, height: 12 });
    expect(m.takenAt?.local).toBe('2025-06-01T14:30:05');
  });

  it('regression: jpeg-exif-near-read-boundary-loses-preview — an EXIF APP1 starting 40 bytes before 64 KiB keeps its preview and orientation', async () => {
    // The APPn scan held back every segment within 64 bytes of the first read's end; exifr's TIFF-only
    // reads (preview, orientation) then read no further: main gave the preview and orientation 6, the branch none.
    const thumb = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#ff0000' } }).jpeg().toBuffer();
    const withExif = await jpeg(64, 48, { ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Orientation]: short(6) }, thumbnail: thumb });
    const segment = (marker: number, body: Buffer) => Buffer.concat([Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    const filler = segment(0xef, Buffer.alloc(64 * 1024 - 40 - 2 - 4));
    const bytes = Buffer.concat([withExif.subarray(0, 2), filler, withExif.subarray(2)]);
    expect(bytes.indexOf('Exif\0\0', 0, 'latin1') - 4).toBe(64 * 1024 - 40);
    const found = await exifPreviewSandboxed(bytes);
    expect(found.orientation).toBe(6);
    expect(found.preview?.equals(thumb)).toBe(true);
    expect(await read(bytes)).toMatchObject({ make: 'Canon', orientation: 6, width: 64, height: 48 });
  });

  it('regression: jpeg-app-marker-three-bytes-before-read-end — an EXIF APP1 whose marker starts 3 bytes before 64 KiB keeps its EXIF', async () => {
    // The segment's length straddled the first read's end: the scan read it out of bounds (RangeError) and every tag was lost.
    const withExif = await jpeg(64, 48, { ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Orientation]: short(6) } });
    const segment = (marker: number, body: Buffer) => Buffer.concat([Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    const filler = segment(0xef, Buffer.alloc(64 * 1024 - 3 - 2 - 4));
    const bytes = Buffer.concat([withExif.subarray(0, 2), filler, withExif.subarray(2)]);
    expect(bytes.indexOf('Exif\0\0', 0, 'latin1') - 4).toBe(64 * 1024 - 3);
    const m = await read(bytes);
    expect(m).toMatchObject({ make: 'Canon', orientation: 6, width: 64, height: 48 });
    expect(m.findings).toBeUndefined();
  });

  it('regression: invalid-tiff-value-type drops nothing else and is recorded as metadata-partial', async () => {
    const bad: TagValue = { type: 'raw', code: 99, count: 1, bytes: Buffer.from([1, 0, 0, 0]) };
    const spec: ExifSpec = {
      ifd0: { [TAGS.Make]: ascii('Apple'), [TAGS.Model]: ascii('iPhone 14'), 0x0131: bad },
      exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
      gps: gpsAt(dms(51.5007), 'N', dms(0.1246), 'W'),
    };
    const m = await read(await jpeg(16, 12, spec));
    expect(m).toMatchObject({ make: 'Apple', model: 'iPhone 14', takenAt: { local: '2025-06-01T14:30:05', offsetMinutes: 60 } });
    expect(m.gps?.lat).toBeCloseTo(51.5007, 3);
    expect(m.gps?.lon).toBeCloseTo(-0.1246, 3);
    expect(m.partial).toEqual(['tiff: Invalid TIFF value type. block: IFD0, tag: 131, type: 99, offset 1']);
    expect(m.findings).toEqual([{ flag: 'metadata-partial', detail: 'metadata read only in part: tiff: Invalid TIFF value type. block: IFD0, tag: 131, type: 99, offset 1' }]);
    // The same file gives the same messages every run.
    expect((await read(await jpeg(16, 12, spec))).partial).toEqual(m.partial);
  });

  it('an Exif IFD pointing outside the data is reported, not silently dropped', async () => {
    const tiff = buildExif({ ifd0: { [TAGS.Make]: ascii('Nikon'), [TAGS.ExifIfd]: { type: 'long', value: [60_000] } } });
    const plain = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).jpeg().toBuffer();
    const m = await read(withExifSegment(plain, tiff));
    expect(m.make).toBe('Nikon');
    expect(m.partial?.length).toBeGreaterThan(0);
    expect(m.findings?.map((f) => f.flag)).toEqual(['metadata-partial']);
  });
});
