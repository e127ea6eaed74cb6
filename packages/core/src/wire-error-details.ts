import { serialize } from 'node:v8';
import { LIMITS } from './limits.js';

/** Keys that classify an error (isMediaDamage and the archive reader read `reason`, isArchiveLimit `scope`). */
const CLASSIFYING_KEYS = ['reason', 'scope', 'code'] as const;
/** A classifying value kept when the rest is dropped: a short string, never the bulk. */
const MAX_CLASSIFYING_CHARS = 200;

/**
 * An error's details as they cross a thread boundary (structured clone): plain data, at most
 * LIMITS.maxWireErrorDetailsBytes as the clone carries them (measured by v8.serialize, the clone's own format, so a
 * Map, Set or Error's contents count where JSON would show `{}`). Details the clone cannot carry (a function) are
 * left behind, never the error; details beyond the limit are replaced by a marker naming their size, keeping the
 * short string keys that classify the error (`reason`, `scope`, `code`), so a hostile file's names or findings cannot
 * make one error as large as the file nor change how it is classified.
 */
export function wireErrorDetails(details: Record<string, unknown> | undefined, limitBytes: number = LIMITS.maxWireErrorDetailsBytes): Record<string, unknown> | undefined {
  if (!details) return undefined;
  let bytes: number;
  try {
    bytes = serialize(details).byteLength;
  } catch {
    return undefined;
  }
  if (bytes > limitBytes) {
    const kept: Record<string, unknown> = {};
    for (const key of CLASSIFYING_KEYS) {
      const value = details[key];
      if (typeof value === 'string' && value.length <= MAX_CLASSIFYING_CHARS) kept[key] = value;
    }
    return { ...kept, detailsDropped: `${bytes} bytes of details, beyond LIMITS.maxWireErrorDetailsBytes (${limitBytes})` };
  }
  try {
    return structuredClone(details);
  } catch {
    return undefined;
  }
}
