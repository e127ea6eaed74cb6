/**
 * File names stored as bytes (ext names, FAT short names) that are not text
 * in any encoding Exhibit can know. UTF-8 is what Linux writes, but an ext
 * name is any bytes (a Latin-1 "café" from an old system), and a FAT short
 * name is in the writer's OEM code page, which the volume does not record
 * (0x90 is É in CP437 and CP850, but not in CP866 or Shift-JIS). Decoding
 * such a byte as U+FFFD made two different names one, and decoding it as
 * Latin-1 gave a wrong letter (or a C1 control). Each byte that is not part
 * of valid UTF-8 (or, for an OEM name, any byte above 0x7F) is kept as the
 * lone surrogate U+DC80 + byte ("surrogateescape", as Python does): the
 * entry-name analysis writes it as the visible escape `\u{dce9}` and flags
 * the entry odd-name, so the name stays exact and distinct, and says which
 * byte was there.
 */

/** The byte kept as a lone low surrogate, U+DC80..U+DCFF. */
export const undecodableByte = (byte: number): string => String.fromCharCode(0xdc00 + byte);

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 where the bytes are valid UTF-8; every other byte as U+DC00 + byte. */
export function utf8NameOrEscaped(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    // Some byte is not UTF-8: decode sequence by sequence below.
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 1) {
      out += String.fromCharCode(lead);
      i += 1;
      continue;
    }
    if (length > 0 && i + length <= bytes.length) {
      try {
        // The fatal decoder rejects overlong forms, surrogates and bad continuation bytes.
        out += STRICT_UTF8.decode(bytes.subarray(i, i + length));
        i += length;
        continue;
      } catch {
        // Not a valid sequence: the lead byte alone is escaped and decoding resumes after it.
      }
    }
    out += undecodableByte(lead);
    i += 1;
  }
  return out;
}

/** An OEM code page name: ASCII as itself, every byte above 0x7F escaped (the code page is unknown). */
export function oemNameOrEscaped(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : undecodableByte(b);
  return out;
}
