import sharp, { type Sharp } from 'sharp';
import { isExhibitError, LIMITS } from '@exhibit/core';
import { pdqDistance, pdqFromPixels } from '../pdq/pdq.hasher.js';
import { exifPreviewSandboxed } from '../sandbox/parse.pool.js';
import { configureSharp } from '../thumbnail/sharp.setup.js';

/**
 * The edited-image hint: does a JPEG/HEIC's embedded EXIF preview (IFD1
 * thumbnail) still show the picture? Cameras write the preview from the same
 * exposure; editors that keep the EXIF block (exiftool, many apps) keep the old
 * preview while the picture changes, so a clear difference means the picture
 * was altered after the preview was made (or the preview was). It never says
 * what was changed, nor by whom; docs/pdq.md gives the measured basis.
 */

/** Raised whenever the comparison or its threshold changes: recorded with every thumbnail whose finding it decides. */
export const PREVIEW_COMPARE_VERSION = '1';
/** Both pictures are compared at this size (RGB), after the preview is turned upright and any letterbox bars are cut off. */
export const PREVIEW_COMPARE_EDGE_PX = 32;
/** Cells of the comparison grid per side (4×4 px each): a local edit shows in its cell long before it moves the overall mean. */
export const PREVIEW_COMPARE_CELLS = 8;
/**
 * A preview differs from its picture when its worst cell's mean difference
 * (0–255 per RGB sample) reaches this. Measured (docs/pdq.md): untouched,
 * recompressed and downscaled copies 0.9–7.7; crops 34+, turned pixels 59+,
 * clone-stamped areas 11.9+, painted patches 2.5–67 (by size and colour).
 * Set at 1.5× the worst untouched value, so camera previews made by other
 * resamplers than the samples' have room.
 */
export const PREVIEW_DIFFERS_CELL_DIFFERENCE = 12;
/** A preview (after bars are cut) narrower than this on either side holds too little of the picture to judge. */
export const PREVIEW_MIN_EDGE_PX = 24;
/** Preview bars (cameras pad a 3:2 picture into a 4:3 160×120 preview) count as bars when their mean is at most this. */
const LETTERBOX_MAX_MEAN = 20;

export interface PreviewComparison {
  /** The preview as stored, before it is turned upright. */
  preview: { width: number; height: number; orientation: number | null };
  /**
   * The preview's bytes exactly as the file stores them, when they are a JPEG
   * (what EXIF IFD1 holds; sharp decoded them above): kept as a derived item
   * so the finding can be looked at. Null for any other encoding.
   */
  jpeg: Buffer | null;
  /** Black bars were cut off the preview so that its shape matches the picture's. */
  letterboxed: boolean;
  /** Mean absolute difference of all RGB samples at 32×32, 0–255. */
  meanDifference: number;
  /** The largest mean absolute difference of one cell of the 4×4 grid, 0–255: the decision measure. */
  worstCellDifference: number;
  /** PDQ distance (0–256) between the upright preview and the picture, for the record; PDQ misses small local edits. */
  pdqDistance: number;
  /** PDQ quality of the preview; below 50 its PDQ distance means little. */
  previewPdqQuality: number;
  /** False when the preview's picture is under PREVIEW_MIN_EDGE_PX on a side (a very long panorama): no verdict. */
  comparable: boolean;
  /** The hint: comparable and the worst cell at or over PREVIEW_DIFFERS_CELL_DIFFERENCE. */
  differs: boolean;
  /** Deterministic text for a finding. */
  detail: string;
}

interface Rgb {
  width: number;
  height: number;
  data: Buffer;
}

/**
 * Compares the embedded EXIF preview of `file` with `upright`, the main
 * picture already decoded and turned upright (any encoded image of it, e.g.
 * the thumbnail stage's JPEG, so the main image is not decoded twice). Null
 * when the file has no preview or its preview does not decode. Throws, like
 * the thumbnailer's preview fallback, only when the parser thread was stopped
 * ('parse-timeout', 'parse-crashed'), aborted, or a retryable fault.
 */
export async function compareEmbeddedPreview(
  file: Buffer,
  upright: Buffer,
  options: { abortSignal?: AbortSignal; maxPixels?: number } = {},
): Promise<PreviewComparison | null> {
  configureSharp();
  const maxPixels = options.maxPixels ?? LIMITS.maxImagePixels;
  let found: { preview?: Buffer; orientation?: number };
  try {
    found = await exifPreviewSandboxed(file, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  } catch (err) {
    if (isExhibitError(err, 'parse-timeout') || isExhibitError(err, 'parse-crashed') || isExhibitError(err, 'aborted')) throw err;
    if (isExhibitError(err) && err.retryable) throw err;
    return null;
  }
  if (!found.preview || found.preview.byteLength === 0) return null;
  const orientation = typeof found.orientation === 'number' && found.orientation >= 1 && found.orientation <= 8 ? found.orientation : null;
  let stored: { width: number; height: number; format: string | undefined };
  let preview: Rgb;
  try {
    const header = await sharp(found.preview, { limitInputPixels: maxPixels, failOn: 'error' }).metadata();
    stored = { width: header.width ?? 0, height: header.height ?? 0, format: header.format };
    preview = await rgb(oriented(sharp(found.preview, { limitInputPixels: maxPixels, failOn: 'error' }), orientation));
  } catch {
    return null;
  }
  options.abortSignal?.throwIfAborted();
  const main = await rgb(sharp(upright, { limitInputPixels: maxPixels, failOn: 'error' }));
  const { picture: previewContent, letterboxed } = withoutLetterbox(preview, main.width / main.height);
  const a = await normalised(previewContent);
  const b = await normalised(main);
  const { mean, worst } = differences(a, b);
  const previewPdq = pdqFromPixels({ ...previewContent, channels: 3 });
  const mainPdq = pdqFromPixels({ ...main, channels: 3 });
  const distance = pdqDistance(previewPdq.hash, mainPdq.hash);
  const comparable = previewContent.width >= PREVIEW_MIN_EDGE_PX && previewContent.height >= PREVIEW_MIN_EDGE_PX;
  const differs = comparable && worst >= PREVIEW_DIFFERS_CELL_DIFFERENCE;
  const round = (v: number) => Math.round(v * 10) / 10;
  const detail = !comparable
    ? `the embedded EXIF preview (${stored.width}x${stored.height}) shows the image in ${previewContent.width}x${previewContent.height} pixels, too few to compare`
    : differs
    ? `the embedded EXIF preview (${stored.width}x${stored.height}) differs from the image: worst ${PREVIEW_COMPARE_CELLS}x${PREVIEW_COMPARE_CELLS}-grid cell ${round(worst)}/255 apart (threshold ${PREVIEW_DIFFERS_CELL_DIFFERENCE}), mean ${round(mean)}, PDQ distance ${distance}; the image may have been edited after the preview was made`
    : `the embedded EXIF preview (${stored.width}x${stored.height}) matches the image: worst cell ${round(worst)}/255 apart (threshold ${PREVIEW_DIFFERS_CELL_DIFFERENCE}), PDQ distance ${distance}`;
  return {
    preview: { width: stored.width, height: stored.height, orientation },
    jpeg: stored.format === 'jpeg' ? found.preview : null,
    letterboxed,
    meanDifference: mean,
    worstCellDifference: worst,
    pdqDistance: distance,
    previewPdqQuality: previewPdq.quality,
    comparable,
    differs,
    detail,
  };
}

/** EXIF orientation 2–8 as sharp operations (sharp rotates before it mirrors), as the thumbnailer applies it. */
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

async function rgb(input: Sharp): Promise<Rgb> {
  const { data, info } = await input.flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/**
 * The preview without the black bars a camera adds when the picture's shape is
 * not the preview's (a 3:2 photo in a 160×120 preview). Cut only when the bars
 * are there and dark: a preview of another shape without bars (a crop of the
 * picture) is compared whole, and differs.
 */
function withoutLetterbox(preview: Rgb, aspect: number): { picture: Rgb; letterboxed: boolean } {
  const { width, height, data } = preview;
  const own = width / height;
  if (Math.abs(own / aspect - 1) <= 0.02) return { picture: preview, letterboxed: false };
  const box = own < aspect
    ? { left: 0, width, height: Math.round(width / aspect), top: 0 }
    : { top: 0, height, width: Math.round(height * aspect), left: 0 };
  box.top = Math.floor((height - box.height) / 2);
  box.left = Math.floor((width - box.width) / 2);
  if (box.width < 1 || box.height < 1) return { picture: preview, letterboxed: false };
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y >= box.top && y < box.top + box.height && x >= box.left && x < box.left + box.width) continue;
      const p = (y * width + x) * 3;
      sum += data[p]! + data[p + 1]! + data[p + 2]!;
      count += 3;
    }
  }
  if (count === 0 || sum / count > LETTERBOX_MAX_MEAN) return { picture: preview, letterboxed: false };
  const out = Buffer.alloc(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * width + box.left) * 3;
    data.copy(out, y * box.width * 3, from, from + box.width * 3);
  }
  return { picture: { width: box.width, height: box.height, data: out }, letterboxed: true };
}

async function normalised(picture: Rgb): Promise<Buffer> {
  return sharp(picture.data, { raw: { width: picture.width, height: picture.height, channels: 3 } })
    .resize(PREVIEW_COMPARE_EDGE_PX, PREVIEW_COMPARE_EDGE_PX, { fit: 'fill' })
    .raw()
    .toBuffer();
}

function differences(a: Buffer, b: Buffer): { mean: number; worst: number } {
  const edge = PREVIEW_COMPARE_EDGE_PX;
  const cell = edge / PREVIEW_COMPARE_CELLS;
  const cells = new Float64Array(PREVIEW_COMPARE_CELLS * PREVIEW_COMPARE_CELLS);
  let total = 0;
  for (let y = 0; y < edge; y++) {
    for (let x = 0; x < edge; x++) {
      const p = (y * edge + x) * 3;
      const d = Math.abs(a[p]! - b[p]!) + Math.abs(a[p + 1]! - b[p + 1]!) + Math.abs(a[p + 2]! - b[p + 2]!);
      total += d;
      cells[Math.floor(y / cell) * PREVIEW_COMPARE_CELLS + Math.floor(x / cell)]! += d;
    }
  }
  const perCell = cell * cell * 3;
  return { mean: total / (edge * edge * 3), worst: Math.max(...Array.from(cells, (c) => c / perCell)) };
}
