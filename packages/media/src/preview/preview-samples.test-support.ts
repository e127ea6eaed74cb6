import sharp from 'sharp';
import { TAGS, ascii, buildExif, short, withExifSegment, type Ifd } from '../test-support/exif.builder.js';

/**
 * Camera-like JPEGs with an EXIF preview, and the edits made to them with the
 * EXIF block (old preview included) kept as exiftool and most editors keep it.
 * Used to measure and test the edited-image hint (embedded-preview.compare.ts).
 */

export interface Scene {
  name: string;
  /** Encoded picture (any format sharp reads), as stored. */
  bytes: Buffer;
}

const PREVIEW_BOX = { width: 160, height: 120 };

/** A camera's preview: the stored picture in 160×120 (letterboxed in black if `letterbox` and its shape is not 4:3), JPEG q75. */
export async function cameraPreview(stored: Buffer, letterbox: boolean): Promise<Buffer> {
  const fitted = sharp(stored).resize(PREVIEW_BOX.width, PREVIEW_BOX.height, { fit: letterbox ? 'contain' : 'inside', background: '#000000' });
  return fitted.flatten({ background: '#000000' }).jpeg({ quality: 75 }).toBuffer();
}

/** The EXIF block (APP1) a camera would write: make, model, orientation and the preview. */
export function cameraExif(preview: Buffer, orientation: number): Buffer {
  const ifd0: Ifd = { [TAGS.Make]: ascii('Exhibit Test Camera'), [TAGS.Model]: ascii('PV-1'), [TAGS.Orientation]: short(orientation) };
  return buildExif({ ifd0, exif: { [TAGS.DateTimeOriginal]: ascii('2026:05:01 10:00:00') }, thumbnail: preview });
}

/** The picture as a camera stores it: JPEG q92 with its EXIF (preview made from the same pixels). */
export async function cameraJpeg(scene: Buffer, options: { orientation?: number; letterbox?: boolean } = {}): Promise<{ jpeg: Buffer; exif: Buffer }> {
  const pixels = await sharp(scene).removeAlpha().jpeg({ quality: 92 }).toBuffer();
  const exif = cameraExif(await cameraPreview(pixels, options.letterbox ?? true), options.orientation ?? 1);
  return { jpeg: withExifSegment(pixels, exif), exif };
}

/** New pixels written as JPEG with the ORIGINAL EXIF block (and so the original preview) kept. */
export async function keepingExif(pixels: sharp.Sharp, exif: Buffer, quality = 90): Promise<Buffer> {
  return withExifSegment(await pixels.jpeg({ quality }).toBuffer(), exif);
}

export type Change = 'untouched' | 'recompressed-q70' | 'downscaled-50' | 'crop-10' | 'paint-15' | 'clone-20' | 'paint-8' | 'brighter-20' | 'turned-90';

export const UNTOUCHED: readonly Change[] = ['untouched', 'recompressed-q70', 'downscaled-50'];
export const EDITED: readonly Change[] = ['crop-10', 'paint-15', 'clone-20', 'paint-8', 'turned-90'];
/** Edits recorded in the measurements but not promised: a global tone change is not what the hint is for. */
export const BORDERLINE: readonly Change[] = ['brighter-20'];

/** `camera` (a cameraJpeg) changed by `change`, its EXIF kept. */
export async function changed(camera: { jpeg: Buffer; exif: Buffer }, change: Change): Promise<Buffer> {
  const stored = sharp(camera.jpeg);
  const { width, height } = await stored.metadata();
  const w = width!;
  const h = height!;
  const box = (fraction: number, left: number, top: number) => ({ width: Math.round(w * fraction), height: Math.round(h * fraction), left: Math.round(w * left), top: Math.round(h * top) });
  switch (change) {
    case 'untouched':
      return camera.jpeg;
    case 'recompressed-q70':
      return keepingExif(sharp(camera.jpeg), camera.exif, 70);
    case 'downscaled-50':
      return keepingExif(sharp(camera.jpeg).resize(Math.round(w / 2)), camera.exif);
    case 'crop-10': {
      const b = { left: Math.round(w * 0.1), top: Math.round(h * 0.1), width: Math.round(w * 0.8), height: Math.round(h * 0.8) };
      return keepingExif(sharp(camera.jpeg).extract(b), camera.exif);
    }
    case 'paint-15':
    case 'paint-8': {
      // A patch in a colour sampled from elsewhere in the picture, as a brush over an object.
      const b = box(change === 'paint-15' ? 0.15 : 0.08, 0.55, 0.4);
      const { data } = await sharp(camera.jpeg).extract({ left: 0, top: 0, width: 1, height: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const patch = await sharp({ create: { width: b.width, height: b.height, channels: 3, background: { r: data[0]!, g: data[1]!, b: data[2]! } } }).png().toBuffer();
      return keepingExif(sharp(camera.jpeg).composite([{ input: patch, left: b.left, top: b.top }]), camera.exif);
    }
    case 'clone-20': {
      // A region copied over another (clone stamp), 20 % of each side.
      const from = box(0.2, 0.05, 0.05);
      const patch = await sharp(camera.jpeg).extract(from).png().toBuffer();
      return keepingExif(sharp(camera.jpeg).composite([{ input: patch, left: Math.round(w * 0.6), top: Math.round(h * 0.6) }]), camera.exif);
    }
    case 'brighter-20':
      return keepingExif(sharp(camera.jpeg).linear(1.2, 0), camera.exif);
    case 'turned-90':
      return keepingExif(sharp(camera.jpeg).rotate(90), camera.exif);
  }
}
