/**
 * Text fields as recorded, shown without inventing or hiding characters.
 *
 * EXIF ASCII values end at the first NUL (what follows is padding or left-over
 * bytes, e.g. `Trust.\0Gemini11HH`): keeping those bytes would give a wrong
 * make or model. Bytes that are not valid UTF-8 are kept as lone surrogates
 * U+DC80..U+DCFF (Python's "surrogateescape"), so `displayText` can show them
 * as `\xNN` with their real value instead of U+FFFD.
 */

const ESCAPE_BASE = 0xdc00;

/** Bytes up to the first NUL, decoded as UTF-8; invalid bytes become U+DC80+byte. */
export function decodeRecordedText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  const end = nul === -1 ? bytes.length : nul;
  let out = '';
  let i = 0;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    let cp = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need > 0 && i + need < end;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    if (ok && ((need === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (need === 3 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      out += String.fromCharCode(ESCAPE_BASE + b);
      i++;
    }
  }
  return out;
}

/** C0/C1 controls, DEL, escaped bytes and lone surrogates: nothing a reader can see. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - ESCAPE_BASE).toString(16).padStart(2, '0')}`;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Unprintable characters as `\xNN` (`\uNNNN` for other lone surrogates); says whether any were. */
export function escapeUnprintable(s: string): { text: string; escaped: boolean } {
  let escaped = false;
  const text = s.replace(UNPRINTABLE, (ch) => {
    escaped = true;
    return escapeChar(ch);
  });
  return { text, escaped };
}

/** For the raw dump: like escapeUnprintable, but tabs and line breaks stay as they are. */
export function escapeForDump(s: string): string {
  return s.replace(UNPRINTABLE, (ch) => (ch === '\t' || ch === '\n' || ch === '\r' ? ch : escapeChar(ch)));
}

/**
 * A text value for display and search: cut at the first NUL, trimmed,
 * unprintable characters escaped, capped. Undefined when nothing is left.
 */
export function displayText(v: unknown, maxChars = 256): { text: string; escaped: boolean } | undefined {
  if (typeof v !== 'string') return undefined;
  const nul = v.indexOf('\0');
  const cut = (nul === -1 ? v : v.slice(0, nul)).trim();
  if (cut === '') return undefined;
  const { text, escaped } = escapeUnprintable(cut);
  return { text: text.slice(0, maxChars), escaped };
}
