/**
 * Whether a HEIF file declares a still image: a top-level `meta` box holding
 * a primary item (`pitm`) or an item list (`iinf`), read by box headers from
 * the bytes in memory. A HEIF image sequence with no still image (`msf1`,
 * only a `pict` track) has neither; one with a still image has both, and a
 * failure to decode that still is the file's failure, never a reason to show
 * another picture (the sequence's first frame) in its place.
 *
 * Hostile input: every size is checked against its parent and at most
 * MAX_BOXES headers are read; anything malformed counts as "declares a still"
 * (the decoder's failure then stands, nothing is substituted).
 */

/** Box headers read in all: a HEIF has a handful of top-level boxes and a few in `meta`. */
const MAX_BOXES = 256;

export function declaresStillItem(bytes: Buffer): boolean {
  let left = MAX_BOXES;
  /** The children of bytes[from, to) as [type, body, end]; null when one is malformed or the budget is spent. */
  const children = (from: number, to: number): Array<[string, number, number]> | null => {
    const out: Array<[string, number, number]> = [];
    for (let at = from; at + 8 <= to; ) {
      if (left-- <= 0) return null;
      let size = bytes.readUInt32BE(at);
      let body = at + 8;
      if (size === 1) {
        if (at + 16 > to) return null;
        const large = bytes.readBigUInt64BE(at + 8);
        if (large > BigInt(to - at)) return null;
        size = Number(large);
        body = at + 16;
      } else if (size === 0) {
        size = to - at;
      }
      if (size < body - at || at + size > to) return null;
      out.push([bytes.toString('latin1', at + 4, at + 8), body, at + size]);
      at += size;
    }
    return out;
  };
  const top = children(0, bytes.length);
  if (!top) return true;
  for (const [type, body, end] of top) {
    if (type !== 'meta') continue;
    // meta is a FullBox: version and flags (4 bytes) before its children.
    const inner = body + 4 <= end ? children(body + 4, end) : null;
    if (!inner || inner.some(([t]) => t === 'pitm' || t === 'iinf')) return true;
  }
  return false;
}
