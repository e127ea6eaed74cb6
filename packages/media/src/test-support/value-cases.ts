import sharp from 'sharp';
import { ascii, buildExif, dms, rational, short, TAGS, undefinedText, withExifSegment, withIptcSegment, type ExifSpec, type TagValue } from './exif.builder.js';
import { pngChunk } from './fixtures.js';

/**
 * Crafted images, each named after a way metadata used to come out wrong,
 * for comparing our values with an independent reader (exiftool). Test
 * fixtures only.
 */
export interface ValueCase {
  name: string;
  bytes: Buffer;
}

async function jpeg(width: number, height: number, spec: ExifSpec): Promise<Buffer> {
  const plain = await sharp({ create: { width, height, channels: 3, background: '#406080' } }).jpeg().toBuffer();
  return withExifSegment(plain, buildExif(spec));
}

function xmpSegment(xml: string): Buffer {
  const payload = Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), Buffer.from(xml)]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

/** Adds an XMP packet (one rdf:Description with these attributes) after the EXIF segment. */
export function withXmp(jpegBytes: Buffer, attributes: string): Buffer {
  const xml =
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" ${attributes}/>` +
    '</rdf:RDF></x:xmpmeta>';
  const exifEnd = jpegBytes[3] === 0xe1 ? 2 + 2 + jpegBytes.readUInt16BE(4) : 2;
  return Buffer.concat([jpegBytes.subarray(0, exifEnd), xmpSegment(xml), jpegBytes.subarray(exifEnd)]);
}

const gpsAt = (lat: TagValue, latRef: string, lon: TagValue, lonRef: string): ExifSpec['gps'] => ({
  [TAGS.GPSLatitudeRef]: ascii(latRef),
  [TAGS.GPSLatitude]: lat,
  [TAGS.GPSLongitudeRef]: ascii(lonRef),
  [TAGS.GPSLongitude]: lon,
});

/**
 * A PNG with its EXIF as ImageMagick writes it uncompressed (-compress None, or a short profile):
 * a tEXt chunk "Raw profile type exif" holding `\nexif\n<length>\n<hex of the APP1 payload>`.
 */
export async function pngWithTextRawProfile(spec: ExifSpec): Promise<Buffer> {
  const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } }).png().toBuffer();
  const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), buildExif(spec)]);
  const hexLines = app1.toString('hex').match(/.{1,72}/g)!.join('\n');
  const text = Buffer.from(`Raw profile type exif\0\nexif\n${String(app1.length).padStart(8)}\n${hexLines}\n`, 'latin1');
  return Buffer.concat([png.subarray(0, 33), pngChunk('tEXt', text), png.subarray(33)]);
}

export async function valueCases(): Promise<ValueCase[]> {
  const zero = rational([0, 1], [0, 1], [0, 1]);
  const bad: TagValue = { type: 'raw', code: 99, count: 1, bytes: Buffer.from([1, 0, 0, 0]) };
  const canvas = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#204060' } });
  return [
    { name: 'make-model-bytes-after-nul.jpg', bytes: await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Trust.\0Gemini11HH'), [TAGS.Model]: ascii('MAVICA\x003ghx7y') } }) },
    { name: 'text-control-byte.jpg', bytes: await jpeg(16, 12, { ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('EOS\x01R5') } }) },
    {
      name: 'declared-size-not-real-size.jpg',
      bytes: await jpeg(48, 36, { ifd0: { [TAGS.Make]: ascii('Sony') }, exif: { [TAGS.PixelXDimension]: short(2272), [TAGS.PixelYDimension]: short(1704) } }),
    },
    {
      name: 'no-pixel-data.jpg',
      bytes: withExifSegment(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), buildExif({ ifd0: { [TAGS.Make]: ascii('Canon') }, exif: { [TAGS.PixelXDimension]: short(640), [TAGS.PixelYDimension]: short(480) } })),
    },
    { name: 'no-exif-size-tags.jpg', bytes: await jpeg(40, 30, { ifd0: { [TAGS.Make]: ascii('Nikon'), [TAGS.Model]: ascii('D750') } }) },
    { name: 'modify-date-only.jpg', bytes: await jpeg(16, 12, { ifd0: { [TAGS.DateTime]: ascii('2023:03:04 05:06:07') } }) },
    {
      name: 'xmp-vs-exif-capture-time.jpg',
      bytes: withXmp(await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: ascii('2024:05:01 12:20:30') } }), 'exif:DateTimeOriginal="2024-05-01T13:20:30"'),
    },
    { name: 'xmp-legacy-xap-prefix.jpg', bytes: withXmp(await canvas(16, 12).jpeg().toBuffer(), 'xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreateDate="2003-09-05T16:30:12+02:00"') },
    { name: 'xmp-only-capture-time.jpg', bytes: withXmp(await canvas(16, 12).jpeg().toBuffer(), 'xmp:CreateDate="2021-07-04T09:15:00-04:00"') },
    { name: 'exif-date-stored-as-undefined.jpg', bytes: await jpeg(16, 12, { exif: { [TAGS.DateTimeOriginal]: undefinedText('2022:11:05 17:45:09\0') } }) },
    { name: 'iptc-date-time-created.jpg', bytes: withIptcSegment(await canvas(16, 12).jpeg().toBuffer(), [[55, '20230714'], [60, '091530+0200']]) },
    { name: 'iptc-digital-creation.jpg', bytes: withIptcSegment(await canvas(16, 12).jpeg().toBuffer(), [[62, '20230714'], [63, '091530-0500']]) },
    { name: 'gps-null-island.jpg', bytes: await jpeg(16, 12, { gps: gpsAt(zero, 'N', zero, 'E') }) },
    { name: 'gps-out-of-range.jpg', bytes: await jpeg(16, 12, { gps: gpsAt(dms(95.5), 'S', dms(10), 'E') }) },
    { name: 'gps-status-void.jpg', bytes: await jpeg(16, 12, { gps: { ...gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'), [TAGS.GPSStatus]: ascii('V') } }) },
    {
      name: 'invalid-tiff-value-type.jpg',
      bytes: await jpeg(16, 12, {
        ifd0: { [TAGS.Make]: ascii('Apple'), [TAGS.Model]: ascii('iPhone 14'), 0x0131: bad },
        exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
        gps: gpsAt(dms(51.5007), 'N', dms(0.1246), 'W'),
      }),
    },
    { name: 'plain.png', bytes: await canvas(52, 32).png().toBuffer() },
    {
      name: 'png-raw-profile-in-text-chunk.png',
      bytes: await pngWithTextRawProfile({
        ifd0: { [TAGS.Make]: ascii('Canon'), [TAGS.Model]: ascii('EOS R5') },
        exif: { [TAGS.DateTimeOriginal]: ascii('2025:06:01 14:30:05'), [TAGS.OffsetTimeOriginal]: ascii('+01:00') },
        gps: gpsAt(dms(48.8584), 'N', dms(2.2945), 'E'),
      }),
    },
    { name: 'plain.gif', bytes: await canvas(53, 33).gif().toBuffer() },
    { name: 'plain.webp', bytes: await canvas(54, 34).webp().toBuffer() },
    { name: 'plain.tif', bytes: await canvas(56, 36).tiff().toBuffer() },
    { name: 'plain.avif', bytes: await canvas(58, 38).avif().toBuffer() },
  ];
}
