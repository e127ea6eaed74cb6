import { HASH_SET_LIMITS } from './hash-set-limits.js';

export interface TextLine {
  /** 1-based. */
  number: number;
  /** The line without its ending (and without a leading BOM); empty when tooLong. */
  text: string;
  /** Ended by CR LF (or contains a lone CR). */
  cr: boolean;
  /** Started with a UTF-8 byte-order mark. */
  bom: boolean;
  /** Longer than the limit: its bytes were skipped, not buffered. */
  tooLong: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Splits a byte stream into lines without ever holding more than one line
 * (bounded by maxLineBytes) plus one chunk. Endings are reported, not hidden,
 * so a reader can apply the CRLF rule.
 */
export async function* readLines(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxLineBytes: number = HASH_SET_LIMITS.maxLineBytes): AsyncGenerator<TextLine> {
  for await (const batch of readLineBatches(source, maxLineBytes)) yield* batch;
}

/** readLines by the chunk: the lines each chunk completes, as one array (one await per chunk, not per line). */
export async function* readLineBatches(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxLineBytes: number = HASH_SET_LIMITS.maxLineBytes): AsyncGenerator<TextLine[]> {
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  let number = 0;
  const finish = (): TextLine => {
    number += 1;
    let buf = tooLong ? Buffer.alloc(0) : parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, held);
    parts = [];
    held = 0;
    const wasTooLong = tooLong;
    tooLong = false;
    let cr = false;
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      cr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    if (buf.includes(CR)) cr = true;
    const bom = buf.length >= 3 && buf.subarray(0, 3).equals(BOM);
    if (bom) buf = buf.subarray(3);
    return { number, text: buf.toString('utf8'), cr, bom, tooLong: wasTooLong };
  };
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const out: TextLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!tooLong) {
        if (held + (end - start) > maxLineBytes + 1) {
          // +1 leaves room for a CR before the LF.
          tooLong = true;
          parts = [];
          held = 0;
        } else if (end > start) {
          parts.push(chunk.subarray(start, end));
          held += end - start;
        }
      }
      if (nl === -1) break;
      out.push(finish());
      start = nl + 1;
    }
    if (out.length > 0) yield out;
  }
  if (held > 0 || tooLong) yield [finish()];
}
