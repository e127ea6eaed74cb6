import { createHash } from 'node:crypto';
import iconv from 'iconv-lite';
import { escapeLoneSurrogates, hasLoneSurrogate, loneSurrogateEscape, type FileFlag } from '@exhibit/core';

/**
 * Member names are hostile input. We keep the recorded name (decoded, so it can
 * be stored as text) and derive a display path that is relative, has no `..`,
 * no control or bidi characters and cannot be mistaken for another path.
 * Nothing is ever written to a file system under these names; members are
 * stored content-addressed. The display path is for people.
 */

/** What the archive says about the name's bytes. */
export type NameEncoding = 'utf8' | 'cp437' | 'unknown';

export interface DecodedName {
  text: string;
  /** False when the bytes are not valid in the encoding the archive declared. */
  validEncoding: boolean;
}

// ignoreBOM keeps a leading BOM as recorded instead of silently dropping it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b > 0x7f) return false;
  return true;
}

function tryUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Decodes recorded name bytes. When the declared encoding does not fit, we
 * fall back to a single-byte code page (CP437 for ZIP, Latin-1 for TAR): every
 * byte maps to exactly one character, so the recorded bytes stay recoverable.
 *
 * ZIP names without the UTF-8 flag are CP437 by the specification, but many
 * tools write UTF-8 without setting the flag; a non-ASCII name that is valid
 * UTF-8 is read as UTF-8 (random CP437 text is almost never valid UTF-8).
 */
export function decodeRecordedBytes(bytes: Uint8Array, declared: NameEncoding): DecodedName {
  if (isAscii(bytes)) return { text: Buffer.from(bytes).toString('latin1'), validEncoding: true };
  const utf8 = tryUtf8(bytes);
  if (utf8 !== null) return { text: utf8, validEncoding: true };
  switch (declared) {
    case 'cp437':
      return { text: iconv.decode(Buffer.from(bytes), 'cp437'), validEncoding: true };
    case 'utf8':
      return { text: iconv.decode(Buffer.from(bytes), 'cp437'), validEncoding: false };
    case 'unknown':
      return { text: Buffer.from(bytes).toString('latin1'), validEncoding: false };
  }
}

export interface EntryNameAnalysis {
  /**
   * The recorded name, cut to maxNameBytes (on a character boundary) if longer.
   * NUL is U+2400 and a lone surrogate (UTF-16 names: NTFS, exFAT, FAT long
   * names) is the visible escape `\u{d800}`, both with odd-name: text
   * columns cannot hold either, and a driver would silently turn a lone
   * surrogate into U+FFFD.
   */
  recordedName: string;
  displayPath: string;
  name: string;
  extension: string | null;
  flags: FileFlag[];
}

// C0, DEL and C1 controls, bidirectional overrides/isolates (used to disguise
// extensions, e.g. "invoice\u202Etxt.exe"), U+FFFD left by lossy decoding, and
// lone surrogates from UTF-16 names (with the u flag the class matches a
// surrogate only when it is not half of a pair).
const UNSAFE_CHAR = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd\ud800-\udfff]/gu;

function escapeUnsafe(segment: string): string {
  // Backslashes never survive into a display path (they are separators), so a
  // backslash escape cannot collide with a recorded name.
  return segment.replace(UNSAFE_CHAR, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/**
 * Cut to maxBytes of UTF-8 on a character boundary. A lone surrogate has no
 * UTF-8 form (Buffer would write U+FFFD), so it is counted at the length of
 * the escape that will stand for it and kept as it is.
 */
function truncateUtf8(text: string, maxBytes: number): string {
  if (!hasLoneSurrogate(text)) {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length <= maxBytes) return text;
    let end = maxBytes;
    // Step back to the start of a UTF-8 sequence so no character is cut in half.
    while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
    return bytes.subarray(0, end).toString('utf8');
  }
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const size = ch.length === 1 && code >= 0xd800 && code <= 0xdfff ? loneSurrogateEscape(code).length : Buffer.byteLength(ch, 'utf8');
    if (used + size > maxBytes) break;
    used += size;
    end += ch.length;
  }
  return text.slice(0, end);
}

export function analyseEntryName(
  recordedName: string,
  options: { maxNameBytes: number; validEncoding?: boolean; entryIndex: number },
): EntryNameAnalysis {
  const flags = new Set<FileFlag>();
  if (options.validEncoding === false) flags.add('odd-name');

  let cut = truncateUtf8(recordedName, options.maxNameBytes);
  if (cut !== recordedName) flags.add('odd-name');
  if (cut.includes('\0')) {
    // PostgreSQL text cannot hold NUL; U+2400 (SYMBOL FOR NULL) stands in, and odd-name tells.
    flags.add('odd-name');
    cut = cut.replaceAll('\0', '\u2400');
  }
  // A lone surrogate has no UTF-8 form: the recorded name keeps it as the
  // visible escape \u{d800}. The display path is built from the unescaped
  // name (so the escape's backslash is not read as a separator) and escapes it
  // there like any unsafe character.
  const recorded = escapeLoneSurrogates(cut);
  if (recorded !== cut) flags.add('odd-name');

  let path = cut;
  if (path.includes('\\')) {
    flags.add('odd-name');
    // Treated as a separator, as Windows tools do, so `..\..\x` is caught as traversal.
    path = path.replaceAll('\\', '/');
  }
  if (/^[A-Za-z]:/.test(path)) {
    flags.add('absolute-path');
    path = path.slice(2);
  }
  if (path.startsWith('/')) {
    flags.add('absolute-path');
    path = path.replace(/^\/+/, '');
  }
  // One trailing slash marks a directory; it is not an empty segment.
  if (path.endsWith('/')) path = path.slice(0, -1);

  const segments: string[] = [];
  const parts = path === '' ? [] : path.split('/');
  for (const [i, segment] of parts.entries()) {
    // A leading "./" is what `tar -C dir .` writes; harmless, so not a finding.
    if (segment === '.' && i === 0) continue;
    if (segment === '' || segment === '.') {
      flags.add('odd-name');
      continue;
    }
    if (segment === '..') {
      flags.add('path-traversal');
      // Resolve against a root we never leave: a/../../etc/passwd -> etc/passwd.
      segments.pop();
      continue;
    }
    const escaped = escapeUnsafe(segment);
    if (escaped !== segment) flags.add('odd-name');
    segments.push(escaped);
  }

  if (segments.length === 0) {
    if (parts.length === 1 && parts[0] === '.') {
      segments.push('.');
    } else {
      flags.add('odd-name');
      segments.push(`(unnamed entry ${options.entryIndex})`);
    }
  }
  const displayPath = segments.join('/');
  const name = segments[segments.length - 1]!;
  return { recordedName: recorded, displayPath, name, extension: extensionOf(name), flags: [...flags] };
}

/** Lower-cased extension of a file name (after the last dot, not a leading one), or null. */
export function extensionOf(fileName: string): string | null {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 && dot < fileName.length - 1 ? fileName.slice(dot + 1).toLowerCase() : null;
}

/**
 * Remembers normalised paths seen in one archive. Keys are digests so memory
 * stays bounded by the entry count, not by (hostile) name lengths.
 */
export class DuplicateNameTracker {
  private readonly first = new Map<string, number>();

  /** Returns the index of the first entry with this path, or undefined if it is new. */
  check(displayPath: string, entryIndex: number): number | undefined {
    const key = createHash('sha256').update(displayPath.normalize('NFC')).digest('base64').slice(0, 22);
    const seen = this.first.get(key);
    if (seen !== undefined) return seen;
    this.first.set(key, entryIndex);
    return undefined;
  }
}
