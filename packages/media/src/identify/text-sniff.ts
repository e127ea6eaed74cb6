/**
 * Plain text, which has no signature: the head decodes as UTF-8 (or is
 * UTF-16 with a byte-order mark) and holds no control characters other than
 * tab, line feed, form feed, carriage return and escape. A multi-byte
 * character cut at the end of the head is allowed. Without this every note,
 * log and CSV would be "unidentified", and the finding would mean nothing.
 */
const decoder = new TextDecoder('utf-8', { fatal: true });

export function plainText(head: Buffer): { ext: 'txt'; mime: 'text/plain' } | null {
  if (head.length === 0) return null;
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    return { ext: 'txt', mime: 'text/plain' };
  }
  let text: string;
  try {
    text = decoder.decode(trimCutCharacter(head));
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000B\u000E-\u001A\u001C-\u001F\u007F]/.test(text) ? null : { ext: 'txt', mime: 'text/plain' };
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
