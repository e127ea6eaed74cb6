import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { ExhibitError, errorMessage, isExhibitError, type Thumbnail } from '@exhibit/core';
import { exifPreviewSandboxed } from '../sandbox/parse.pool.js';
import { decodeHeic } from './heic.decoder.js';

export interface ThumbnailSettings {
  /** The output fits in an edgePx × edgePx box; smaller images are not enlarged. */
  edgePx: number;
  quality: number;
  maxPixels: number;
}

type Rendered = Omit<Thumbnail, 'from'>;

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1']);

/** HEIF with HEVC by mime or by ftyp brand (AVIF is left to sharp). */
export function isHeic(bytes: Buffer, mime?: string | null): boolean {
  if (mime === 'image/heic' || mime === 'image/heif' || mime === 'image/heic-sequence' || mime === 'image/heif-sequence') return true;
  if (bytes.length < 12 || bytes.toString('latin1', 4, 8) !== 'ftyp') return false;
  return HEIF_BRANDS.has(bytes.toString('latin1', 8, 12));
}

/**
 * The thumbnail of an image held in memory. Order: the main image (HEIC via
 * libheif, anything else via sharp); if it cannot be decoded, the EXIF preview
 * embedded in the file (`from: 'exif-preview'`); else 'decode-failed' (or
 * 'unsupported-format') with the decoder's reason. Over-limit images fail with
 * 'limit-exceeded' and get no fallback: the limit is about the file itself.
 */
export async function imageThumbnail(
  bytes: Buffer,
  settings: ThumbnailSettings,
  mime?: string | null,
  options: { abortSignal?: AbortSignal } = {},
): Promise<Thumbnail> {
  let mainError: unknown;
  try {
    return { ...(await mainImage(bytes, settings, mime, options.abortSignal)), from: 'image' };
  } catch (err) {
    if (!isExhibitError(err, 'decode-failed') && !isExhibitError(err, 'unsupported-format')) throw err;
    mainError = err;
  }
  const preview = await exifPreview(bytes, settings, options.abortSignal);
  if (preview) return { ...preview, from: 'exif-preview' };
  throw mainError;
}

async function mainImage(bytes: Buffer, settings: ThumbnailSettings, mime: string | null | undefined, abortSignal: AbortSignal | undefined): Promise<Rendered> {
  if (!isHeic(bytes, mime)) return encodedImage(bytes, settings, true);
  let heicError: unknown;
  try {
    const raw = await decodeHeic(bytes, { maxPixels: settings.maxPixels, ...(abortSignal ? { abortSignal } : {}) });
    const input = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 }, limitInputPixels: settings.maxPixels });
    return await render(input, settings);
  } catch (err) {
    if (!isExhibitError(err, 'decode-failed')) throw err;
    heicError = err;
  }
  // A HEIF container may carry AV1 (or JPEG) instead of HEVC: sharp's libheif reads those.
  try {
    return await encodedImage(bytes, settings, true);
  } catch {
    throw heicError;
  }
}

/** sharp decoding with the pixel limit checked from the header first. */
async function encodedImage(bytes: Buffer, settings: ThumbnailSettings, autoOrient: boolean): Promise<Rendered> {
  const options: SharpOptions = { limitInputPixels: settings.maxPixels, failOn: 'error', sequentialRead: true };
  let header;
  try {
    header = await sharp(bytes, options).metadata();
  } catch (err) {
    throw sharpError(err);
  }
  const { width, height } = header;
  if (!width || !height) throw new ExhibitError('decode-failed', `${header.format ?? 'image'} header has no dimensions`);
  if (width * height > settings.maxPixels) {
    throw new ExhibitError('limit-exceeded', `image is ${width}x${height} pixels, more than the ${settings.maxPixels} allowed`);
  }
  const input = sharp(bytes, options);
  return render(autoOrient ? input.rotate() : input, settings);
}

async function render(input: Sharp, settings: ThumbnailSettings): Promise<Rendered> {
  try {
    const { data, info } = await input
      .resize(settings.edgePx, settings.edgePx, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: settings.quality, chromaSubsampling: '4:2:0', mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height };
  } catch (err) {
    throw sharpError(err);
  }
}

/**
 * The EXIF thumbnail (IFD1) of a JPEG/TIFF, decoded with the same limits and
 * turned upright with the main image's orientation (the preview carries none).
 * Throws only when the parser was stopped ('parse-timeout', 'parse-crashed'),
 * aborted or could not run; anything else means no preview.
 */
async function exifPreview(bytes: Buffer, settings: ThumbnailSettings, abortSignal: AbortSignal | undefined): Promise<Rendered | null> {
  let preview: Uint8Array | undefined;
  let orientation: number | undefined;
  try {
    // In a parser thread: exifr on a hostile file may loop (see sandbox/deadline-pool.ts).
    ({ preview, orientation } = await exifPreviewSandboxed(bytes, abortSignal ? { abortSignal } : {}));
  } catch (err) {
    // A parser stopped on this file is its failure; an unreadable preview is only no preview.
    if (isExhibitError(err, 'parse-timeout') || isExhibitError(err, 'parse-crashed') || isExhibitError(err, 'aborted')) throw err;
    if (isExhibitError(err) && err.retryable) throw err;
    return null;
  }
  if (!preview || preview.byteLength === 0) return null;
  try {
    let upright = Buffer.from(preview.buffer, preview.byteOffset, preview.byteLength);
    if (typeof orientation === 'number' && orientation >= 2 && orientation <= 8) {
      // PNG is lossless: the orientation tag is attached without re-encoding losses.
      upright = await sharp(upright, { limitInputPixels: settings.maxPixels, failOn: 'error' })
        .withMetadata({ orientation })
        .png()
        .toBuffer();
    }
    return await encodedImage(upright, settings, true);
  } catch {
    return null;
  }
}

function sharpError(err: unknown): ExhibitError {
  if (isExhibitError(err)) return err;
  const message = errorMessage(err);
  if (/pixel limit/i.test(message)) return new ExhibitError('limit-exceeded', `image exceeds the pixel limit: ${message}`, { cause: err });
  if (/unsupported image format/i.test(message)) return new ExhibitError('unsupported-format', 'image format not supported for thumbnails', { cause: err });
  return new ExhibitError('decode-failed', `image could not be decoded: ${message}`, { cause: err });
}
