import type { ContentRecord, ContentSource, FileRecord } from '@exhibit/core';

/** A content analysis as one case sees it: the bytes' source is this occurrence's own. */
export type ContentView = Omit<ContentRecord, 'source'> & { source: ContentSource | null };

/**
 * Identical content is analysed once: one `contents` row per SHA-256, whose
 * `source` is where the bytes were first seen, possibly another case's
 * evidence (a blob name that carries that case's id). A response for one case
 * must be built from that case only, so the content is shown with this
 * occurrence's own source: the same bytes, where this case holds them (null
 * if the occurrence has none, never another case's).
 */
export function contentForOccurrence(file: FileRecord, content: ContentRecord | null): ContentView | null {
  if (!content) return null;
  return { ...content, source: file.source };
}
