import { describe, expect, it } from 'vitest';
import type { RejectedBlobListBody } from '../api/api-types.js';
import { renderRejectedBlobs } from './rejected-blobs.render.js';

const page: RejectedBlobListBody = {
  total: 3,
  limit: 2,
  offset: 0,
  items: [
    {
      container: 'evidence',
      blobName: '\u001b[2Jroot.jpg',
      etag: '"0x1"',
      size: 1048576,
      lastModified: '2024-05-01T10:00:00.000Z',
      reason: 'not-evidence-name',
      detail: 'at the container root: the name has no <caseId>/<evidenceId>/ prefix',
      firstSeenAt: '2024-05-02T09:30:00.123Z',
      lastSeenAt: '2024-05-02T10:30:00.000Z',
      seenCount: 7,
    },
    {
      container: 'evidence',
      blobName: 'C1//x.bin',
      etag: '"0x2"',
      size: 12,
      lastModified: '2024-05-01T09:00:00.000Z',
      reason: 'not-evidence-name',
      detail: 'empty evidence id segment (// after the case id)',
      firstSeenAt: '2024-05-01T09:00:01.000Z',
      lastSeenAt: '2024-05-01T09:00:01.000Z',
      seenCount: 1,
    },
  ],
};

describe('rejected blobs rendering', () => {
  const text = renderRejectedBlobs(page);

  it('shows one row per blob with when, how often, size, reason and detail', () => {
    expect(text).toMatch(/2024-05-02 09:30:00Z\s+7\s+evidence\s+\\u001b\[2Jroot\.jpg\s+1,048,576\s+not-evidence-name\s+at the container root/);
    expect(text).toMatch(/C1\/\/x\.bin\s+12\s+not-evidence-name\s+empty evidence id segment/);
  });

  it.each([60, 80, 120])('fits %i columns, keeping the blob name\'s file name', (width) => {
    const deep = { ...page, items: [{ ...page.items[1]!, blobName: 'C1/EX01/Phone extraction from the suspect handset/whole-disk-image.E01' }] };
    const text = renderRejectedBlobs(deep, { width });
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(width);
    const table = text.split('\n\n')[0]!;
    expect(table).toContain('whole-disk-image.E01');
    expect(table).toContain('not-evidence-name');
  });

  it('never passes control characters from a blob name to the terminal', () => {
    expect(text).not.toContain('\u001b');
  });

  it('says where the next page starts and what to do', () => {
    expect(text).toContain('rejected blobs 1-2 of 3 (next page: --offset 2)');
    expect(text).toContain('<caseId>/<evidenceId>/<file name>');
  });

  it('says so when there is nothing, or nothing on this page', () => {
    expect(renderRejectedBlobs({ total: 0, limit: 50, offset: 0, items: [] })).toMatch(/^no rejected blobs: every blob/);
    expect(renderRejectedBlobs({ total: 3, limit: 50, offset: 10, items: [] })).toBe('no rejected blobs on this page (total 3)\n');
  });
});
