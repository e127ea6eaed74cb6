import { ExhibitError, type BlobRef, type ContentRecord, type FileRecord, type IndexStore } from '@exhibit/core';
import { buildProvenance } from './provenance.js';

/** A file's bytes: a whole blob, or `length` bytes of it from `offset`. */
export interface FileBytes {
  blob: BlobRef;
  range: { offset: number; length: number } | null;
  /** Whose source it is: the occurrence's own, or the content row's (the first occurrence stored). */
  from: 'file' | 'content';
}

/**
 * Where to read a file's bytes: its own source, else its content's (the
 * first occurrence's copy). A source with an offset is a ZIP member stored
 * uncompressed and read in place: the blob is the whole containing archive,
 * and only the range is the file, so the range travels with the blob and
 * nothing may read or hand out the blob as if it were the file.
 *
 * Null when there are no bytes to give (not a regular file, or never stored).
 * A span whose offset or size is unusable is a broken index row, not a
 * missing file: it fails rather than fall back to the whole archive.
 */
export function locateFileBytes(file: FileRecord, content: ContentRecord | null): FileBytes | null {
  if (file.entryKind !== 'file') return null;
  // The size that belongs with the source chosen: the file's with its own, the content's with the content's.
  const [source, size, from] = file.source
    ? ([file.source, file.size, 'file'] as const)
    : content
      ? ([content.source, content.size, 'content'] as const)
      : [null, null, null];
  if (!source || !from) return null;
  const blob: BlobRef = { container: source.container, name: source.name };
  // null as well as undefined: a store may give either for "no offset".
  if (source.offset === undefined || source.offset === null) return { blob, range: null, from };
  const { offset } = source;
  if (!isCount(offset) || !isCount(size) || !isCount(offset + size)) {
    throw new ExhibitError('corrupt-file', `file ${file.fileId} is recorded as a span of ${source.name} without a usable offset and size`, {
      details: { fileId: file.fileId, offset, size },
    });
  }
  return { blob, range: { offset, length: size }, from };
}

/**
 * Whether a blob is one this file's own evidence item holds: the source of
 * one of its ancestors (the uploaded evidence blob, or an archive unpacked
 * from it), found by the same bounded walk as the provenance.
 *
 * Needed before handing out a span taken from the content row: contents are
 * shared by hash across cases, so the first occurrence's archive may belong
 * to another case. A whole-blob copy holds only these bytes and is safe to
 * share; that archive holds everything else in it.
 */
export async function evidenceHoldsBlob(index: IndexStore, file: FileRecord, blob: BlobRef): Promise<boolean> {
  const { chain } = await buildProvenance(index, file, null);
  return chain.some((link) => link.source?.container === blob.container && link.source.name === blob.name);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
