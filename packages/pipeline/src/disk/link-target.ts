import { isExhibitError } from '@exhibit/core';
import type { FileSystemEntry } from './disk-reader.types.js';
import { utf8NameOrEscaped } from './name-bytes.js';

/** Longest symlink target read as the link's recorded target. */
const MAX_LINK_TARGET_BYTES = 4096;

/**
 * A symlink's target as recorded (ext keeps it as the link's data); never
 * followed. A target is bytes like a name: one that is not UTF-8 (a Latin-1
 * path from an old system) keeps each such byte as U+DC00 + byte, as names
 * do (name-bytes.ts), never U+FFFD, which made different targets one and
 * lost the byte. Undefined when there is no readable target.
 */
export async function recordedLinkTarget(entry: FileSystemEntry): Promise<string | undefined> {
  if (entry.kind !== 'symlink' || !entry.data || entry.problem || entry.size > MAX_LINK_TARGET_BYTES) return undefined;
  try {
    return utf8NameOrEscaped(await entry.data().read(0, entry.size));
  } catch (err) {
    if (!isExhibitError(err) || err.retryable) throw err;
    return undefined;
  }
}
