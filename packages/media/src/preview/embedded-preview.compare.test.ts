import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { closeParsePool } from '../sandbox/parse.pool.js';
import { imageThumbnail } from '../thumbnail/image.thumbnail.js';
import { compareEmbeddedPreview, PREVIEW_DIFFERS_CELL_DIFFERENCE } from './embedded-preview.compare.js';
import { cameraJpeg, changed, EDITED, UNTOUCHED, type Change } from './preview-samples.test-support.js';

/**
 * The edited-image hint on camera-like JPEGs (pictures from the PDQ reference
 * set and the sample photo, which this code did not make) and on edits of them
 * that keep the old EXIF preview. docs/pdq.md has the full measurements.
 */
const IMAGES = fileURLToPath(new URL('../../../../test/fixtures/pdq-reference/images/', import.meta.url));
const SAMPLE_PHOTO = fileURLToPath(new URL('../../../../samples/extraction/DEMO-2026-001/EX02/IMG_LOOSE_0001.jpg', import.meta.url));
const SETTINGS = { edgePx: 320, quality: 80, maxPixels: 268_402_689 };

/** What the pipeline passes: the file and its upright thumbnail from the thumbnail stage. */
async function compare(bytes: Buffer) {
  const thumbnail = await imageThumbnail(bytes, SETTINGS, 'image/jpeg');
  expect(thumbnail.from).toBe('image');
  return compareEmbeddedPreview(bytes, thumbnail.jpeg);
}

afterAll(closeParsePool);

describe('compareEmbeddedPreview', () => {
  const scenes: Array<[name: string, path: string, orientation: number]> = [
    ['A-harbour (landscape 4:3)', IMAGES + 'A-harbour.jpg', 1],
    ['E-tower (portrait, letterboxed preview)', IMAGES + 'E-tower.jpg', 1],
    ['sample photo, EXIF orientation 6', SAMPLE_PHOTO, 6],
  ];

  it.each(scenes)('finds no difference in %s untouched, recompressed or downscaled with its EXIF kept', async (_name, path, orientation) => {
    const camera = await cameraJpeg(await readFile(path), { orientation });
    for (const change of UNTOUCHED) {
      const result = await compare(await changed(camera, change));
      expect(result, change).not.toBeNull();
      expect(result!.comparable).toBe(true);
      expect(result!.worstCellDifference, change).toBeLessThan(PREVIEW_DIFFERS_CELL_DIFFERENCE / 1.4);
      expect(result!.differs, change).toBe(false);
      expect(result!.detail).toMatch(/^the embedded EXIF preview \(\d+x\d+\) matches the image/);
      expect(result!.preview.orientation).toBe(orientation);
    }
  });

  it.each(scenes)('flags %s cropped, turned, clone-stamped or painted over under its old preview', async (_name, path, orientation) => {
    const camera = await cameraJpeg(await readFile(path), { orientation });
    const caught: Change[] = [];
    for (const change of EDITED.filter((c) => c !== 'paint-8')) {
      const result = await compare(await changed(camera, change));
      if (result!.differs) caught.push(change);
      else expect.soft(result!.worstCellDifference, change).toBeGreaterThanOrEqual(PREVIEW_DIFFERS_CELL_DIFFERENCE);
    }
    expect(caught).toEqual(['crop-10', 'paint-15', 'clone-20', 'turned-90']);
  });

  it('says what it measured when it flags', async () => {
    const camera = await cameraJpeg(await readFile(IMAGES + 'B-meadow.jpg'));
    const result = await compare(await changed(camera, 'clone-20'));
    expect(result!.differs).toBe(true);
    expect(result!.detail).toMatch(/^the embedded EXIF preview \(160x120\) differs from the image: worst 8x8-grid cell [\d.]+\/255 apart \(threshold 12\), mean [\d.]+, PDQ distance \d+; the image may have been edited/);
    expect(result!.pdqDistance).toBeGreaterThan(30);
  });

  it('gives no verdict on a 1:10 strip whose preview shows it 12 pixels wide', async () => {
    const camera = await cameraJpeg(await readFile(IMAGES + 'g22-rgb-100x1000.jpg'));
    const result = await compare(camera.jpeg);
    expect(result!.letterboxed).toBe(true);
    expect(result!.comparable).toBe(false);
    expect(result!.differs).toBe(false);
  });

  it('is null for a JPEG without an EXIF preview', async () => {
    const plain = await sharp(await readFile(IMAGES + 'A-harbour.jpg')).jpeg().toBuffer();
    expect(await compare(plain)).toBeNull();
  });
});
