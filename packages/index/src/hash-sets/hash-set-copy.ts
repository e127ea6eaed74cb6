import type { HashSetRow } from './hash-set.types.js';

/** Escapes a value for PostgreSQL's COPY text format. */
function copyText(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

const hex = (h: string | null) => (h === null ? '\\N' : `\\\\x${h}`);

/** Columns of hash_set_hashes a chunk fills (set_id comes from the partition's default). */
export const COPY_COLUMNS = 'md5, sha1, sha256, category, size, extra, pdq, pdq_quality';

/** One row in COPY text format; digests are already checked lower-case hex. */
export function copyLine(row: HashSetRow): string {
  return [
    hex(row.md5),
    hex(row.sha1),
    hex(row.sha256),
    row.category === null ? '\\N' : String(row.category),
    row.size === null ? '\\N' : String(row.size),
    row.extra === null ? '\\N' : copyText(JSON.stringify(row.extra)),
    // bit(256)'s input reads an x-prefixed hex string.
    row.pdq ? `x${row.pdq}` : '\\N',
    row.pdqQuality === null || row.pdqQuality === undefined ? '\\N' : String(row.pdqQuality),
  ].join('\t') + '\n';
}

/** Bytes the first chunk's buffer starts with; it doubles as needed (100,000 md5sum rows take ~5 MB). */
const CHUNK_START_BYTES = 64 * 1024;

/**
 * One COPY chunk being built: the rows' COPY lines written as UTF-8 into one
 * buffer as they come, rather than kept as a string each and joined. Each
 * line's string dies young, and the chunk lives outside the JavaScript heap,
 * so the garbage collector does not copy it around while tens of millions of
 * rows go by (measured: a sixth less CPU for the parse and encode,
 * docs/benchmarks.md). Bounded like the strings were: the chunk's rows.
 */
export class CopyChunk {
  private buf = Buffer.allocUnsafe(CHUNK_START_BYTES);
  private bytes = 0;
  /** Rows written since the last take(). */
  rows = 0;

  push(row: HashSetRow): void {
    const line = copyLine(row);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const most = line.length * 3;
    if (this.buf.length - this.bytes < most) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.bytes + most));
      this.buf.copy(grown, 0, 0, this.bytes);
      this.buf = grown;
    }
    this.bytes += this.buf.write(line, this.bytes, 'utf8');
    this.rows += 1;
  }

  /**
   * The chunk's bytes (handed over: the next rows go into a new buffer, as
   * large as this one grew, so a steady import does not grow it again) and
   * its row count.
   */
  take(): { data: Buffer; rows: number } {
    const taken = { data: this.buf.subarray(0, this.bytes), rows: this.rows };
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.bytes = 0;
    this.rows = 0;
    return taken;
  }
}
