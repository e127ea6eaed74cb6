import { describe, expect, it } from 'vitest';
import { gzip, MemoryBlobSource, tarOf, zipOf } from '../../test/fixtures/archives/archive-fixtures.js';
import { detectArchiveFormat, openArchive } from './open-archive.js';
import { isTarHeader } from './tar-header.js';

const limits = { maxEntryNameBytes: 4096, maxCompressionRatio: 1000, compressionRatioMinBytes: 1 << 20 };

describe('detectArchiveFormat', () => {
  it('recognises ZIP (with entries and empty), gzip and tar by content, whatever the MIME type says', async () => {
    expect(detectArchiveFormat(await zipOf([{ name: 'a', data: Buffer.from('a') }]), null)).toBe('zip');
    expect(detectArchiveFormat(await zipOf([]), 'text/plain')).toBe('zip');
    expect(detectArchiveFormat(gzip(Buffer.from('x')), null)).toBe('tar.gz');
    expect(detectArchiveFormat((await tarOf([{ name: 'a', data: Buffer.from('a') }])).subarray(0, 512), null)).toBe('tar');
  });

  it('falls back to the MIME type, e.g. for a ZIP with a prefix or an empty tar', () => {
    expect(detectArchiveFormat(Buffer.from('MZ\x90\x00'), 'application/zip')).toBe('zip');
    expect(detectArchiveFormat(Buffer.alloc(512), 'application/x-tar')).toBe('tar');
    expect(detectArchiveFormat(Buffer.from('%PDF-1.7'), 'application/pdf')).toBeNull();
  });

  it('isTarHeader needs a matching checksum; zero blocks are not headers', async () => {
    const header = Buffer.from((await tarOf([{ name: 'a', data: Buffer.from('a') }])).subarray(0, 512));
    expect(isTarHeader(header)).toBe(true);
    header[0] = header[0]! ^ 1;
    expect(isTarHeader(header)).toBe(false);
    expect(isTarHeader(Buffer.alloc(512))).toBe(false);
  });
});

describe('openArchive', () => {
  it('refuses what it cannot read with unsupported-format', async () => {
    const { store, ref } = MemoryBlobSource.of('x.pdf', Buffer.from('%PDF-1.7 not an archive'));
    await expect(openArchive(store, ref, { mime: 'application/pdf', limits })).rejects.toMatchObject({ code: 'unsupported-format' });
  });

  it('opens a tar.gz by content even when the MIME type says zip', async () => {
    const { store, ref } = MemoryBlobSource.of('x.zip', gzip(await tarOf([{ name: 'a', data: Buffer.from('a') }])));
    const reader = await openArchive(store, ref, { mime: 'application/zip', limits });
    expect(reader.format).toBe('tar.gz');
    await reader.close();
  });
});
