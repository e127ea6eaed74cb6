/**
 * Plain text, which has no signature: the head decodes as UTF-8, or as UTF-16
 * or UTF-32 after its byte-order mark, or is mostly-ASCII single-byte text
 * (below), and holds no control characters other than tab, line feed, form
 * feed, carriage return and escape. A character cut
 * at the end of the head is allowed. Without this every note, log and CSV
 * would be "unidentified", and the finding would mean nothing. The mark alone
 * is not enough: FF FE also starts MPEG audio frames and other binary data.
 */
const decoder = new TextDecoder('utf-8', { fatal: true });
const utf16le = new TextDecoder('utf-16le', { fatal: true });
const utf16be = new TextDecoder('utf-16be', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000E-\u001A\u001C-\u001F\u007F]/;

export function plainText(head: Buffer): { ext: 'txt'; mime: 'text/plain' } | null {
  if (head.length === 0) return null;
  const text = decodeText(head);
  if (text !== null) return CONTROL.test(text) ? null : { ext: 'txt', mime: 'text/plain' };
  return singleByteText(head) ? { ext: 'txt', mime: 'text/plain' } : null;
}

/** Fewest bytes judged as single-byte text (fewer say too little either way). */
export const SINGLE_BYTE_TEXT_MIN_BYTES = 16;
/** Share of ASCII bytes in single-byte text: Western text in Latin-1 or Windows-1252 is mostly ASCII. */
const SINGLE_BYTE_TEXT_MIN_ASCII = 0.7;

/**
 * Text in a single-byte code page (ISO-8859-x, Windows-125x: notes, CSV and
 * INI files from Windows, old mail) that is not UTF-8: no control bytes other
 * than the ones text uses, and mostly ASCII, as libmagic's "ISO-8859 text" and
 * "Non-ISO extended-ASCII text". A mostly non-ASCII code page (Cyrillic,
 * Greek) is not told from binary here and stays unidentified.
 */
function singleByteText(head: Buffer): boolean {
  if (head.length < SINGLE_BYTE_TEXT_MIN_BYTES) return false;
  let ascii = 0;
  for (const byte of head) {
    if (byte < 0x80) {
      if (CONTROL.test(String.fromCharCode(byte))) return false;
      ascii++;
    }
  }
  return ascii >= head.length * SINGLE_BYTE_TEXT_MIN_ASCII;
}

function decodeText(head: Buffer): string | null {
  try {
    if (head.length >= 4 && head.readUInt32BE(0) === 0xfffe0000) return utf32(head.subarray(4), false);
    if (head.length >= 4 && head.readUInt32BE(0) === 0x0000feff) return utf32(head.subarray(4), true);
    if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return utf16le.decode(trimCutUtf16(head.subarray(2), false));
    if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return utf16be.decode(trimCutUtf16(head.subarray(2), true));
    return decoder.decode(trimCutCharacter(head));
  } catch {
    return null;
  }
}

/** UTF-32 code points (a last one cut short dropped); null for a value that is no Unicode scalar. */
function utf32(b: Buffer, bigEndian: boolean): string | null {
  let out = '';
  for (let at = 0; at + 4 <= b.length; at += 4) {
    const cp = bigEndian ? b.readUInt32BE(at) : b.readUInt32LE(at);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** UTF-16 without an odd last byte or a high surrogate whose partner the read cut off. */
function trimCutUtf16(b: Buffer, bigEndian: boolean): Buffer {
  let end = b.length - (b.length % 2);
  if (end >= 2) {
    const last = bigEndian ? b.readUInt16BE(end - 2) : b.readUInt16LE(end - 2);
    if (last >= 0xd800 && last <= 0xdbff) end -= 2;
  }
  return b.subarray(0, end);
}

/** The head without a UTF-8 sequence cut short by the end of the read (at most 3 bytes). */
function trimCutCharacter(b: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const byte = b[b.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    if (byte < 0x80) return b;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return needed > back ? b.subarray(0, b.length - back) : b;
  }
  return b;
}
