import type { BlobStore, ContentSource, RandomAccessSource } from '@exhibit/core';

/** SAS lifetime for tools that read by URL: long enough for a long video, short enough to be useless later. */
const TOOL_URL_LIFETIME_MS = 30 * 60 * 1000;

/**
 * Random access to a stored file for media adapters: ranged reads or a
 * short-lived URL, never a local copy. A span (a member read in place in its
 * archive) reads only its own bytes; tools reading by URL get `urlOffset`.
 */
export function blobSource(blobs: BlobStore, source: ContentSource, name: string, size: number): RandomAccessSource {
  const base = source.offset ?? 0;
  const ref = { container: source.container, name: source.name };
  return {
    name,
    size,
    read: (offset, length, options) => {
      const start = Math.max(0, Math.min(offset, size));
      const count = Math.max(0, Math.min(length, size - start));
      return blobs.readRange(ref, base + start, count, options);
    },
    url: () => blobs.readUrl(ref, { expiresInMs: TOOL_URL_LIFETIME_MS }),
    ...(source.offset !== undefined ? { urlOffset: source.offset } : {}),
  };
}
