import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Camera-like JPEGs whose EXIF block and IFD1 preview are written by exiftool
 * (Debian libimage-exiftool-perl), not by this repository's EXIF builder: an
 * independent writer for the edited-image hint's tests. The "edited" file is
 * what an editor that keeps the EXIF block leaves: new pixels, the old preview.
 */

export const exiftoolVersion: string | null = (() => {
  const run = spawnSync('exiftool', ['-ver'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : null;
})();

function exiftool(args: string[]): string {
  const run = spawnSync('exiftool', args, { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`exiftool ${args.join(' ')} failed: ${run.stderr}`);
  return run.stdout;
}

/** `jpeg` with exiftool-written make, model, capture time and `preview` as its IFD1 thumbnail. */
export function withExiftoolPreview(jpeg: Buffer, preview: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-exiftool-'));
  try {
    const main = join(dir, 'main.jpg');
    const thumb = join(dir, 'thumb.jpg');
    writeFileSync(main, jpeg);
    writeFileSync(thumb, preview);
    exiftool(['-q', '-overwrite_original', '-Make=Exhibit Test Camera', '-Model=ET-2', '-DateTimeOriginal=2026:05:01 10:00:00', `-ThumbnailImage<=${thumb}`, main]);
    return readFileSync(main);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The IFD1 thumbnail as exiftool reads it back (its bytes), or null. */
export function exiftoolPreview(file: Buffer): Buffer | null {
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-exiftool-'));
  try {
    const path = join(dir, 'f.jpg');
    writeFileSync(path, file);
    const run = spawnSync('exiftool', ['-b', '-ThumbnailImage', path], { maxBuffer: 64 * 1024 * 1024 });
    return run.status === 0 && run.stdout.byteLength > 0 ? run.stdout : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A camera's 160×120 preview of `jpeg` (q75), as cameras make it from the same exposure. */
export function previewOf(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).resize(160, 120, { fit: 'inside' }).jpeg({ quality: 75 }).toBuffer();
}

/**
 * An unedited camera-like photo of `scene` (its preview made from the same
 * pixels) and an edited one: a patch painted over 20 % × 20 % of the picture,
 * written again with the old preview kept.
 */
export async function cameraPair(scene: Buffer): Promise<{ unedited: Buffer; edited: Buffer; preview: Buffer }> {
  const pixels = await sharp(scene).removeAlpha().jpeg({ quality: 92 }).toBuffer();
  const preview = await previewOf(pixels);
  const unedited = withExiftoolPreview(pixels, preview);
  const { width, height } = await sharp(pixels).metadata();
  const w = Math.round(width! * 0.2);
  const h = Math.round(height! * 0.2);
  const patch = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 250, g: 20, b: 200 } } }).png().toBuffer();
  const editedPixels = await sharp(pixels).composite([{ input: patch, left: Math.round(width! * 0.5), top: Math.round(height! * 0.4) }]).jpeg({ quality: 90 }).toBuffer();
  return { unedited, edited: withExiftoolPreview(editedPixels, preview), preview };
}
