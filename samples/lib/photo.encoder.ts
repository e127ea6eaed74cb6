import sharp from 'sharp';
import type { RawImage } from './scene.painter.js';

/** What a camera would have recorded; strings exactly as EXIF stores them. */
export interface CameraExif {
  make: string;
  model: string;
  software?: string;
  /** 'YYYY:MM:DD HH:mm:ss', the camera's wall clock. */
  dateTimeOriginal: string;
  /** '+01:00'; absent on cameras that do not record it. */
  offsetTimeOriginal?: string;
  /** Signed decimal degrees, at most 4 decimals so the DMS rationals are exact. */
  gps?: { lat: number; lon: number };
  /** EXIF Orientation 1..8; 1 when absent. */
  orientation?: number;
}

/**
 * Fixed encoder settings: every option that changes bytes is spelled out so
 * a sharp upgrade that changes a default cannot change the samples silently.
 */
const JPEG_OPTIONS = {
  chromaSubsampling: '4:2:0',
  progressive: false,
  optimiseCoding: true,
  mozjpeg: false,
  trellisQuantisation: false,
  overshootDeringing: false,
  optimiseScans: false,
  quantisationTable: 0,
} as const;

function rawInput(image: RawImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

/** Degrees as EXIF DMS rationals with hundredths of an arc-second. */
export function toDmsRationals(degrees: number): string {
  const hundredths = Math.round(Math.abs(degrees) * 360_000);
  const d = Math.floor(hundredths / 360_000);
  const m = Math.floor((hundredths % 360_000) / 6000);
  const s = hundredths % 6000;
  return `${d}/1 ${m}/1 ${s}/100`;
}

function exifTags(exif: CameraExif): Record<string, Record<string, string>> {
  const ifd0: Record<string, string> = { Make: exif.make, Model: exif.model, DateTime: exif.dateTimeOriginal };
  if (exif.software) ifd0.Software = exif.software;
  const ifd2: Record<string, string> = { DateTimeOriginal: exif.dateTimeOriginal, DateTimeDigitized: exif.dateTimeOriginal };
  if (exif.offsetTimeOriginal) {
    ifd2.OffsetTime = exif.offsetTimeOriginal;
    ifd2.OffsetTimeOriginal = exif.offsetTimeOriginal;
    ifd2.OffsetTimeDigitized = exif.offsetTimeOriginal;
  }
  const tags: Record<string, Record<string, string>> = { IFD0: ifd0, IFD2: ifd2 };
  if (exif.gps) {
    tags.IFD3 = {
      GPSLatitudeRef: exif.gps.lat < 0 ? 'S' : 'N',
      GPSLatitude: toDmsRationals(exif.gps.lat),
      GPSLongitudeRef: exif.gps.lon < 0 ? 'W' : 'E',
      GPSLongitude: toDmsRationals(exif.gps.lon),
      GPSMapDatum: 'WGS-84',
    };
  }
  return tags;
}

export async function encodeJpeg(image: RawImage, options: { quality: number; exif?: CameraExif }): Promise<Buffer> {
  let pipeline = rawInput(image).jpeg({ quality: options.quality, ...JPEG_OPTIONS });
  if (options.exif) {
    // withMetadata writes Orientation and resolution (libvips owns those IFD0 tags) and an sRGB profile, as phones do.
    pipeline = pipeline.withMetadata({ orientation: options.exif.orientation ?? 1, density: 72 }).withExif(exifTags(options.exif));
  }
  return pipeline.toBuffer();
}

/**
 * What a messaging app does to a photo it sends on: decode, resize, re-encode
 * smaller. sharp writes no metadata unless asked, so EXIF, ICC and the
 * preview are gone, as they are from WhatsApp's copies.
 */
export async function reencodeJpeg(jpeg: Buffer, options: { width: number; height: number; quality: number }): Promise<Buffer> {
  return sharp(jpeg, { failOn: 'error' })
    .resize({ width: options.width, height: options.height, fit: 'fill', kernel: 'lanczos3' })
    .jpeg({ quality: options.quality, ...JPEG_OPTIONS })
    .toBuffer();
}

export async function encodePng(image: RawImage): Promise<Buffer> {
  return rawInput(image).png({ compressionLevel: 9, adaptiveFiltering: false, palette: false, progressive: false }).toBuffer();
}
