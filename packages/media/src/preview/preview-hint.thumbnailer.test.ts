import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { closeParsePool } from '../sandbox/parse.pool.js';
import { BufferSource } from '../test-support/buffer.source.js';
import { testTools } from '../test-support/fixtures.js';
import { MediaThumbnailer } from '../thumbnail/media.thumbnailer.js';
import { cameraPair, exiftoolPreview, exiftoolVersion } from './exiftool-camera.test-support.js';

/**
 * The edited-image hint as the analyse stage gets it: `MediaThumbnailer.image`
 * compares the EXIF preview with the thumbnail it just decoded and returns a
 * `preview-differs` finding with the thumbnail. The files' EXIF and previews
 * are written by exiftool, an independent writer, and read back by it.
 */
const SCENE = fileURLToPath(new URL('../../../../test/fixtures/pdq-reference/images/A-harbour.jpg', import.meta.url));

afterAll(closeParsePool);

describe.skipIf(!exiftoolVersion)(`the edited-image hint in the thumbnailer (exiftool ${exiftoolVersion ?? 'not installed'})`, () => {
  const thumbnailer = new MediaThumbnailer(testTools());

  it('gives an unedited camera-like JPEG no finding, and one whose picture changed under its old preview a preview-differs finding', async () => {
    const { unedited, edited, preview } = await cameraPair(await readFile(SCENE));
    // exiftool reads back the very preview it wrote, in both files: only the picture differs.
    expect(exiftoolPreview(unedited)?.equals(preview)).toBe(true);
    expect(exiftoolPreview(edited)?.equals(preview)).toBe(true);

    const clean = await thumbnailer.image(new BufferSource(unedited, 'unedited.jpg'), { mime: 'image/jpeg' });
    expect(clean.from).toBe('image');
    expect(clean.findings ?? []).toEqual([]);

    const changed = await thumbnailer.image(new BufferSource(edited, 'edited.jpg'), { mime: 'image/jpeg' });
    expect(changed.from).toBe('image');
    expect(changed.findings).toEqual([{ flag: 'preview-differs', detail: expect.stringMatching(/^the embedded EXIF preview \(160x120\) differs from the image: worst 8x8-grid cell [\d.]+\/255 apart \(threshold 12\)/) }]);
    // The PDQ hash still comes with the thumbnail; the hint is additional.
    expect(changed.pdq).toHaveLength(1);
    // The embedded preview comes with the thumbnail, byte for byte what exiftool extracts, with or without a finding.
    expect(changed.embeddedPreview?.jpeg.equals(preview)).toBe(true);
    expect(clean.embeddedPreview?.jpeg.equals(preview)).toBe(true);
    expect(changed.embeddedPreview).toMatchObject({ width: 160, height: 120 });
    // Deterministic: the same bytes give the same finding.
    const again = await thumbnailer.image(new BufferSource(Buffer.from(edited), 'edited.jpg'), { mime: 'image/jpeg' });
    expect(again.findings).toEqual(changed.findings);
  });

  it('does not compare a preview in formats cameras do not write one into, nor a JPEG without one', async () => {
    const { edited } = await cameraPair(await readFile(SCENE));
    // A PNG holding the same pixels has no EXIF preview to compare.
    const png = await sharp(edited).png().toBuffer();
    const fromPng = await thumbnailer.image(new BufferSource(png, 'x.png'), { mime: 'image/png' });
    expect(fromPng.findings ?? []).toEqual([]);
    expect(fromPng.embeddedPreview).toBeUndefined();
    const bare = await sharp(edited).jpeg().toBuffer();
    expect(exiftoolPreview(bare)).toBeNull();
    const fromBare = await thumbnailer.image(new BufferSource(bare, 'bare.jpg'), { mime: 'image/jpeg' });
    expect(fromBare.findings ?? []).toEqual([]);
    expect(fromBare.embeddedPreview).toBeUndefined();
  });

  it('records the comparator with the image tools', async () => {
    const names = (await thumbnailer.tools('image')).map((t) => t.name);
    expect(names).toContain('exhibit-preview-compare');
  });
});
