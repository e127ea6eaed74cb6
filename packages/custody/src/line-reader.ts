import type { Readable } from 'node:stream';

export interface LogLine {
  /** null when the bytes are not valid UTF-8. */
  text: string | null;
  /** Byte offset of the line in the stream. */
  offset: number;
  /** False for trailing bytes with no newline after them. */
  terminated: boolean;
  /** The line was longer than allowed; its bytes were skipped. */
  tooLong: boolean;
}

/**
 * Splits a stream into newline-terminated lines without holding more than
 * one line (of at most maxLineBytes) in memory: logs are read back from
 * storage and may have been altered, so no length is trusted.
 */
export async function* readLines(stream: Readable, maxLineBytes: number): AsyncGenerator<LogLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Buffer): string | null => {
    try {
      return decoder.decode(bytes);
    } catch {
      return null;
    }
  };
  let parts: Buffer[] = [];
  let partBytes = 0;
  let lineStart = 0;
  let position = 0;
  let skipping = false;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    let from = 0;
    while (from < buf.length) {
      const nl = buf.indexOf(0x0a, from);
      const end = nl < 0 ? buf.length : nl;
      if (!skipping) {
        partBytes += end - from;
        if (partBytes > maxLineBytes) {
          skipping = true;
          parts = [];
        } else {
          parts.push(buf.subarray(from, end));
        }
      }
      if (nl < 0) break;
      const lineOffset = lineStart;
      lineStart = position + nl + 1;
      if (skipping) {
        yield { text: null, offset: lineOffset, terminated: true, tooLong: true };
      } else {
        yield { text: decode(Buffer.concat(parts, partBytes)), offset: lineOffset, terminated: true, tooLong: false };
      }
      parts = [];
      partBytes = 0;
      skipping = false;
      from = nl + 1;
    }
    position += buf.length;
  }
  if (skipping || partBytes > 0) {
    yield { text: skipping ? null : decode(Buffer.concat(parts, partBytes)), offset: lineStart, terminated: false, tooLong: skipping };
  }
}
