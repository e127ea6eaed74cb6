import { describe, expect, it } from 'vitest';
import { imageSegmentsStatus, validateSegmentManifest, type SegmentManifestEntry } from './segment-manifest.js';

const entry = (fileName: string, position: number, first = 'c/e/card.E01'): SegmentManifestEntry => ({
  blobName: `c/e/${fileName}`, firstBlobName: first, caseId: 'c', evidenceId: 'e', position, fileName, size: 10, declaredBy: 'erin', declaredAt: '2026-12-04T00:00:00.000Z',
});

describe('validateSegmentManifest', () => {
  it('accepts a set in order, EWF letters after E99 included, and lower-cases hashes', () => {
    const names = [...Array.from({ length: 99 }, (_, i) => `card.E${String(i + 1).padStart(2, '0')}`), 'card.EAA', 'card.EAB'];
    const out = validateSegmentManifest(names.map((fileName) => ({ fileName, size: 1, md5: 'AB'.repeat(16) })));
    expect(out).toHaveLength(101);
    expect(out[100]).toEqual({ fileName: 'card.EAB', size: 1, md5: 'ab'.repeat(16) });
  });

  it('refuses a lettered name before E99 (card.EAA as segment 2 is another file, as card.img would be)', () => {
    expect(() => validateSegmentManifest([{ fileName: 'card.E01', size: 1 }, { fileName: 'card.EAA', size: 1 }])).toThrow(/not a segment of the set/);
  });
});

describe('imageSegmentsStatus', () => {
  it('lists declared sets with what is missing, and later segments without their first as orphans (by name, or by the manifest)', () => {
    const manifests = [entry('card.E01', 1), entry('card.E02', 2), entry('card.E03', 3)];
    expect(imageSegmentsStatus(['card.E02', 'disk.003', 'notes.txt', 'card.img'], manifests)).toEqual({
      declared: [
        {
          firstSegment: 'card.E01', declaredBy: 'erin', declaredAt: '2026-12-04T00:00:00.000Z',
          segments: [{ fileName: 'card.E01', size: 10, received: false }, { fileName: 'card.E02', size: 10, received: true }, { fileName: 'card.E03', size: 10, received: false }],
          missing: ['card.E01', 'card.E03'],
        },
      ],
      orphans: [{ fileName: 'card.E02', firstSegment: 'card.E01' }, { fileName: 'disk.003', firstSegment: 'disk.001' }],
    });
    expect(imageSegmentsStatus(['card.E01', 'card.E02'], []).orphans).toEqual([]);
  });
});
