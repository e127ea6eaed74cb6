import { collectGarbage } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { noisyJpeg } from '../test-support/fixtures.js';
import { openExifr } from './exifr-source.js';

describe('openExifr', () => {
  it('exifr-options-kept-for-every-file-parsed: the options of a finished parse are collected', async () => {
    // The 4 GiB bench's parser threads held 75 and 92 MiB of exifr Options, one per file parsed: exifr memoised each
    // options object openExifr built in a Map that is never emptied.
    const jpeg = await noisyJpeg(64, 48);
    const kept: Array<WeakRef<object>> = [];
    for (let i = 0; i < 50; i += 1) {
      const opened = await openExifr(new BufferSource(jpeg), { tiff: true, exif: true, gps: true, xmp: true }, { maxBytes: jpeg.length });
      await opened.exifr.parse();
      kept.push(new WeakRef((opened.exifr as unknown as { options: object }).options));
    }
    // WeakRefs hold their targets to the end of the job that made them: collect after this one.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    const alive = kept.filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBeLessThanOrEqual(1);
  });
});
