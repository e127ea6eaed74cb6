import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { custodySegmentList, segmentListCanonicalJson, type RecordedImageSegment } from './image-segment-list.js';
import { LIMITS } from './limits.js';

const segments = (count: number, stem = 'case/ev/disk') =>
  Array.from({ length: count }, (_, i): RecordedImageSegment => ({ name: `${stem}.${String(i + 1).padStart(3, '0')}`, size: 1_610_612_736, etag: `"0x8DD${i}"` }));

describe('custodySegmentList', () => {
  it('keeps a list within the budget whole, as entries always recorded it', () => {
    const list = segments(3);
    expect(custodySegmentList(list)).toEqual({ segments: list });
  });

  it('past the budget: count, SHA-256 of the canonical JSON, first and last three names', () => {
    const list = segments(1_400);
    const out = custodySegmentList(list);
    expect(out).toEqual({
      segmentCount: 1_400,
      segmentListSha256: createHash('sha256').update(segmentListCanonicalJson(list)).digest('hex'),
      segmentListDigest: expect.stringContaining('RFC 8785'),
      firstSegments: ['case/ev/disk.001', 'case/ev/disk.002', 'case/ev/disk.003'],
      lastSegments: ['case/ev/disk.1398', 'case/ev/disk.1399', 'case/ev/disk.1400'],
    });
  });

  it('the canonical JSON is RFC 8785 for this shape: keys sorted, no whitespace, non-ASCII as UTF-8, quotes escaped', () => {
    expect(segmentListCanonicalJson([{ name: 'c/e/写真.E01', size: 10, etag: '"0x1"' }, { name: 'c/e/写真.E02', size: 3, etag: null }])).toBe(
      '[{"etag":"\\"0x1\\"","name":"c/e/写真.E01","size":10},{"etag":null,"name":"c/e/写真.E02","size":3}]',
    );
  });

  it('hostile long names: fewer names from each end, never over the budget', () => {
    const long = segments(40, `case/ev/${'写'.repeat(5_000)}`);
    const out = custodySegmentList(long);
    expect(out).toMatchObject({ segmentCount: 40 });
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThanOrEqual(LIMITS.maxCustodySegmentListBytes);
    expect((out as { firstSegments: string[] }).firstSegments.length).toBeLessThan(3);
    const huge = segments(2, `case/ev/${'写'.repeat(20_000)}`);
    expect(custodySegmentList(huge)).toMatchObject({ segmentCount: 2, firstSegments: [], lastSegments: [] });
  });
});
