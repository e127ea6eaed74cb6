import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { ExhibitError, errorMessage, isExhibitError, LIMITS, type ContentFinding, type Thumbnail } from '@exhibit/core';
import { hasHeifBrand } from '../identify/heif-brands.js';
import { exifPreviewSandboxed, heifTransformsSandboxed, trailingDataSandboxed } from '../sandbox/parse.pool.js';
import { channelStats } from './channel-stats.js';
import { decodeReasonOf } from './decode-reason.js';
import { decodeHeic } from './heic.decoder.js';
import { heifExifOrientation, heifOrientationDecision } from './heif-orientation.js';

export interface ThumbnailSettings {
  /** The output fits in an edgePx × edgePx box; smaller images are not enlarged. */
  edgePx: number;
  quality: number;
  maxPixels: number;
}

type Rendered = Omit<Thumbnail, 'from' | 'findings'> & { findings: ContentFinding[] };

/** HEIF by mime or by any HEIF ftyp brand, major or compatible (AVIF is left to sharp). */
export function isHeic(bytes: Buffer, mime?: string | null): boolean {
  if (mime === 'image/heic' || mime === 'image/heif' || mime === 'image/heic-sequence' || mime === 'image/heif-sequence') return true;
  return hasHeifBrand(bytes);
}

/**
 * A thumbnail whose every pixel is within this standard deviation of its
 * channel's mean is "one flat colour": a blank image, or a decode that
 * produced nothing (libheif gives flat grey for an image it cannot decode).
 */
const FLAT_STDEV = 1;

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
  const findings: ContentFinding[] = [];
  // The walk over the image's segments/chunks runs in a parser thread, like every parser of evidence bytes.
  const trailing = await trailingDataSandboxed(bytes, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  if (trailing) findings.push(trailing);
  let mainError: unknown;
  try {
    const main = await mainImage(bytes, settings, mime, options.abortSignal);
    return { jpeg: main.jpeg, width: main.width, height: main.height, from: 'image', findings: [...findings, ...main.findings] };
  } catch (err) {
    if (!isExhibitError(err, 'decode-failed') && !isExhibitError(err, 'unsupported-format')) throw err;
    mainError = err;
  }
  const preview = await exifPreview(bytes, settings, options.abortSignal);
  if (preview) return { jpeg: preview.jpeg, width: preview.width, height: preview.height, from: 'exif-preview', findings: [...findings, ...preview.findings] };
  throw mainError;
}

async function mainImage(bytes: Buffer, settings: ThumbnailSettings, mime: string | null | undefined, abortSignal: AbortSignal | undefined): Promise<Rendered> {
  if (!isHeic(bytes, mime)) return encodedImage(bytes, settings, { autoOrient: true, lenient: true });
  let heicError: unknown;
  try {
    const raw = await decodeHeic(bytes, { maxPixels: settings.maxPixels, ...(abortSignal ? { abortSignal } : {}) });
    const decision = heifOrientationDecision(await heifTransformsSandboxed(bytes, abortSignal ? { abortSignal } : {}), await heifExifOrientation(bytes, LIMITS.maxMetadataBytes, abortSignal));
    const input = oriented(sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 }, limitInputPixels: settings.maxPixels }), decision.apply);
    const rendered = await render(input, settings, undefined, bytes);
    if (decision.finding) rendered.findings.unshift(decision.finding);
    return rendered;
  } catch (err) {
    if (!isExhibitError(err, 'decode-failed')) throw err;
    heicError = err;
  }
  // A HEIF container may carry AV1 (or JPEG) instead of HEVC: sharp's libheif reads those.
  try {
    return await encodedImage(bytes, settings, { autoOrient: true, lenient: false });
  } catch {
    throw heicError;
  }
}

/** EXIF orientation 2-8 as sharp operations (sharp rotates before it mirrors). */
function oriented(input: Sharp, orientation: number | null): Sharp {
  switch (orientation) {
    case 2: return input.flop();
    case 3: return input.rotate(180);
    case 4: return input.flip();
    case 5: return input.rotate(90).flop();
    case 6: return input.rotate(90);
    case 7: return input.rotate(270).flop();
    case 8: return input.rotate(270);
    default: return input;
  }
}

/**
 * sharp decoding with the pixel limit checked from the header first. Strict
 * first; if `lenient`, an image libvips can only decode with its checks off
 * (truncated, damaged scan data) is rendered from what decodes, with a
 * 'partially-decoded' finding, instead of failing outright. GIFs give their
 * first frame (`pages: 1`).
 */
async function encodedImage(bytes: Buffer, settings: ThumbnailSettings, mode: { autoOrient: boolean; lenient: boolean }): Promise<Rendered> {
  try {
    return await decodeWith(bytes, settings, mode.autoOrient, 'error');
  } catch (strictError) {
    if (!mode.lenient || !isExhibitError(strictError, 'decode-failed')) throw strictError;
    let rendered: Rendered;
    try {
      rendered = await decodeWith(bytes, settings, mode.autoOrient, 'none');
    } catch {
      throw strictError;
    }
    const reason = typeof strictError.details?.reason === 'string' ? strictError.details.reason : 'image data is damaged';
    rendered.findings.unshift({
      flag: 'partially-decoded',
      detail: `${reason}; decoded with libvips' checks off, so parts of the image may be missing, grey or smeared`,
    });
    return rendered;
  }
}

async function decodeWith(bytes: Buffer, settings: ThumbnailSettings, autoOrient: boolean, failOn: 'error' | 'none'): Promise<Rendered> {
  const options: SharpOptions = { limitInputPixels: settings.maxPixels, failOn, sequentialRead: true, pages: 1, page: 0 };
  let header;
  try {
    header = await sharp(bytes, options).metadata();
  } catch (err) {
    throw sharpError(err, bytes);
  }
  const { width, height } = header;
  if (!width || !height) throw new ExhibitError('decode-failed', `${header.format ?? 'image'} header has no dimensions`);
  if (width * height > settings.maxPixels) {
    throw new ExhibitError('limit-exceeded', `image is ${width}x${height} pixels, more than the ${settings.maxPixels} allowed`);
  }
  const input = sharp(bytes, options);
  return render(autoOrient ? input.rotate() : input, settings, header.format, bytes);
}

/**
 * Resized and flattened to 8-bit RGB, checked for content, then encoded.
 * A result that is one flat colour is kept (it may be what the file holds)
 * with a 'no-content' finding, never passed off as an ordinary thumbnail.
 */
async function render(input: Sharp, settings: ThumbnailSettings, format: string | undefined, bytes: Uint8Array): Promise<Rendered> {
  try {
    const { data, info } = await input
      .resize(settings.edgePx, settings.edgePx, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
    const stats = channelStats(data, info.channels);
    const jpeg = await sharp(data, raw).jpeg({ quality: settings.quality, chromaSubsampling: '4:2:0', mozjpeg: false }).toBuffer();
    const findings: ContentFinding[] = [];
    if (stats.every((c) => c.stdev < FLAT_STDEV)) {
      const colour = stats.map((c) => Math.round(c.mean)).join(',');
      findings.push({ flag: 'no-content', detail: `the decoded ${format ? `${format} ` : ''}image is one flat colour (rgb ${colour}): blank, or a decode that produced nothing` });
    }
    return { jpeg, width: info.width, height: info.height, findings };
  } catch (err) {
    throw sharpError(err, bytes);
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
    // In a parser thread: exifr on a hostile file may loop (see @exhibit/core/deadline-pool).
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
    return await encodedImage(upright, settings, { autoOrient: true, lenient: false });
  } catch {
    return null;
  }
}

/**
 * A sharp failure as a typed error. The pixel-limit and unsupported-format
 * texts are sharp's own (never libvips' shared error buffer); every other
 * failure's reason is read off the file's bytes (decode-reason.ts), so it is
 * the same every run whatever else was decoding at the time.
 */
export function sharpError(err: unknown, bytes: Uint8Array): ExhibitError {
  if (isExhibitError(err)) return err;
  const message = errorMessage(err);
  if (/pixel limit/i.test(message)) return new ExhibitError('limit-exceeded', 'image exceeds the pixel limit', { cause: err });
  if (/unsupported image format/i.test(message)) return new ExhibitError('unsupported-format', 'image format not supported for thumbnails', { cause: err });
  const reason = decodeReasonOf(bytes);
  return new ExhibitError('decode-failed', `image could not be decoded: ${reason}`, { cause: err, details: { reason } });
}
