import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createMediaTools, pdqFromImage } from './index.js';
import { BufferSource } from './test-support/buffer.source.js';

describe('createMediaTools', () => {
  it('wires the three adapters and lists every tool version once', async () => {
    const media = createMediaTools({});
    const versions = await media.versions();
    expect(versions.map((v) => v.name).sort()).toEqual(['exhibit-pdq', 'exhibit-preview-compare', 'exifr', 'ffmpeg', 'ffprobe', 'file-type', 'heic-decode', 'libheif-js', 'libvips', 'sharp']);
    expect(versions.every((v) => v.version !== '' && v.version !== 'unknown')).toBe(true);

    const jpeg = await sharp({ create: { width: 500, height: 100, channels: 3, background: '#abc' } }).jpeg().toBuffer();
    const source = new BufferSource(jpeg, 'x.jpg');
    const id = await media.identifier.identify(source);
    expect(id.kind).toBe('image');
    expect(await media.metadata.image(source, { mime: id.mime })).toMatchObject({ raw: {} });
    const thumbnail = await media.thumbnailer.image(source, { mime: id.mime });
    expect(thumbnail).toMatchObject({ from: 'image', width: 320, height: 64 });
    // The image's PDQ hash comes with its thumbnail, from the file's own pixels (not the thumbnail's).
    expect(thumbnail.pdq).toEqual([{ frame: 0, ...(await pdqFromImage(jpeg)) }]);
  });

  it('reports a missing configured tool only when it is needed', async () => {
    const media = createMediaTools({ ffmpegPath: '/nonexistent/ffmpeg', ffprobePath: '/nonexistent/ffprobe' });
    const names = (await media.versions()).map((v) => v.name);
    expect(names).not.toContain('ffmpeg');
    await expect(media.metadata.tools('video')).rejects.toMatchObject({ code: 'tool-unavailable' });
  });
});
