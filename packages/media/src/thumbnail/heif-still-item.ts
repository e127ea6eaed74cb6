/**
 * Whether a HEIF file declares a still image: a top-level `meta` box holding
 * a primary item (`pitm`) or an item list (`iinf`), read by box headers from
 * the bytes in memory. A HEIF image sequence with no still image (`msf1`,
 * only a `pict` track) has neither; one with a still image has both, and a
 * failure to decode that still is the file's failure, never a reason to show
 * another picture (the sequence's first frame) in its place.
 *
 * Hostile input: the walk is heif-boxes.ts's (every size checked against its
 * parent), at most MAX_BOXES headers; anything malformed counts as "declares a still"
 * (the decoder's failure then stands, nothing is substituted).
 */

import { boxes, type BoxBudget } from './heif-boxes.js';

/** Box headers read in all: a HEIF has a handful of top-level boxes and a few in `meta`. */
const MAX_BOXES = 256;

export function declaresStillItem(bytes: Buffer): boolean {
  const budget: BoxBudget = { left: MAX_BOXES };
  const top = [...boxes(bytes, 0, bytes.length, budget)];
  if (budget.stopped) return true;
  for (const meta of top) {
    if (meta.type !== 'meta') continue;
    // meta is a FullBox: version and flags (4 bytes) before its children.
    if (meta.body + 4 > meta.end) return true;
    const inner = [...boxes(bytes, meta.body + 4, meta.end, budget)];
    if (budget.stopped || inner.some(({ type }) => type === 'pitm' || type === 'iinf')) return true;
  }
  return false;
}
