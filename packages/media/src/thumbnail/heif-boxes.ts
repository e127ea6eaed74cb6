/**
 * A bounded walk over ISO-BMFF boxes (HEIF, MP4) held in memory: boxes are
 * walked by their sizes inside [from, to), 64-bit and to-the-end sizes
 * included, at most `budget.left` headers in all. A box that is malformed or
 * runs past its parent, or a spent budget, ends the walk and sets
 * `budget.stopped`, so a caller can tell "no such box" from "could not look".
 */

export interface BoxBudget {
  left: number;
  /** Set when a walk ended early: a malformed box, or the budget spent. */
  stopped?: boolean;
}

export interface Box {
  type: string;
  start: number;
  /** First byte of the payload. */
  body: number;
  end: number;
}

export function* boxes(b: Buffer, from: number, to: number, budget: BoxBudget): Generator<Box> {
  let o = from;
  while (o + 8 <= to) {
    if (budget.left-- <= 0) {
      budget.stopped = true;
      return;
    }
    let size = b.readUInt32BE(o);
    const type = b.toString('latin1', o + 4, o + 8);
    let body = o + 8;
    if (size === 1) {
      const big = o + 16 <= to ? b.readBigUInt64BE(o + 8) : null;
      if (big === null || big > BigInt(to - o)) {
        budget.stopped = true;
        return;
      }
      size = Number(big);
      body = o + 16;
    } else if (size === 0) {
      size = to - o;
    }
    if (size < body - o || o + size > to) {
      budget.stopped = true;
      return;
    }
    yield { type, start: o, body, end: o + size };
    o += size;
  }
}

export function child(b: Buffer, parent: { body: number; end: number }, type: string, budget: BoxBudget, skip = 0): Box | undefined {
  for (const box of boxes(b, parent.body + skip, parent.end, budget)) if (box.type === type) return box;
  return undefined;
}

