import type { RandomAccessSource } from '@exhibit/core';

/**
 * Box headers of an ISO-BMFF (QuickTime, MP4, HEIF) file, read from a
 * RandomAccessSource within a budget: the one walker behind identification's
 * track walk (iso-bmff-tracks.ts) and a video's XMP read (video-xmp.reader.ts),
 * which differ only in their budget and in what a box of size 0 means to them.
 *
 * Hostile input: a size is never trusted. One below its header, past its
 * parent, a 64-bit size past the parent, a short read, or a header past the
 * budget ends the walk with BoxWalkStopped (`budgetSpent` tells the last apart).
 */

export interface Box {
  type: string;
  /** First byte of the payload, and the box's end (absolute offsets). */
  body: number;
  end: number;
}

/**
 * The walk cannot go on: a malformed box, a short read, or the budget spent. Named for the stop, not a cause:
 * the budget is no malformation, and a caller that treats them apart asks BoxWalker.budgetSpent.
 */
export class BoxWalkStopped extends Error {}

export interface BoxWalkerOptions {
  /** Box headers read in all; the next one ends the walk with BoxWalkStopped and sets `budgetSpent`. */
  maxBoxes: number;
  /**
   * A box of size 0 ("to the end of the enclosing box", a file whose last box is still being written):
   * 'to-parent-end' reads it as running to its parent's end; 'ends-level' reads no such box and walks no
   * further at its level (as exiftool does).
   */
  sizeZero: 'to-parent-end' | 'ends-level';
  /** Bytes from offset 0 already read (identification's head): headers inside them cost no read. */
  head?: Buffer;
  abortSignal?: AbortSignal;
}

export class BoxWalker {
  /** Set when the walk stopped because it had read `maxBoxes` headers. */
  budgetSpent = false;
  private left: number;
  /** The bytes of [at, at + length) when read whole (a moov, the head), else null. */
  private held: { at: number; bytes: Buffer } | null = null;

  constructor(
    private readonly source: RandomAccessSource,
    private readonly options: BoxWalkerOptions,
  ) {
    this.left = options.maxBoxes;
    if (options.head && options.head.length > 0) this.held = { at: 0, bytes: options.head };
  }

  /** Reads [from, to) with one read; later reads inside it come from memory. */
  async hold(from: number, to: number): Promise<void> {
    this.held = { at: from, bytes: await this.read(from, to - from) };
  }

  /** The children of [from, to), in order; BoxWalkStopped when one of them is malformed or the budget is spent. */
  async *children(from: number, to: number): AsyncGenerator<Box, void, undefined> {
    let at = from;
    while (at + 8 <= to) {
      if (this.left-- <= 0) {
        this.budgetSpent = true;
        throw new BoxWalkStopped();
      }
      const header = await this.read(at, Math.min(16, to - at));
      let size = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      let body = at + 8;
      if (size === 1) {
        if (header.length < 16) throw new BoxWalkStopped();
        const large = header.readBigUInt64BE(8);
        if (large > BigInt(to - at)) throw new BoxWalkStopped();
        size = Number(large);
        body = at + 16;
      } else if (size === 0) {
        if (this.options.sizeZero === 'ends-level') return;
        size = to - at;
      }
      if (size < body - at || at + size > to) throw new BoxWalkStopped();
      yield { type, body, end: at + size };
      at += size;
    }
  }

  /** Whether [from, to) is already in memory. */
  holds(from: number, to: number): boolean {
    const held = this.held;
    return held !== null && from >= held.at && to <= held.at + held.bytes.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const held = this.held;
    if (held && this.holds(offset, offset + length)) {
      return held.bytes.subarray(offset - held.at, offset - held.at + length);
    }
    const bytes = await this.source.read(offset, length, this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {});
    if (bytes.length < length) throw new BoxWalkStopped();
    return bytes;
  }
}
