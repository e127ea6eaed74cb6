import { isExhibitError } from '@exhibit/core';
import type { ByteSource } from './disk-reader.types.js';

/**
 * The media as the file-system readers see it in a volume task, feeding the
 * media hash (the EWF stored-hash check) in media order while the listing
 * reads it (docs/disk-images.md, "The EWF stored-hash check: one pass").
 *
 * The hash must see every byte of the media once, in order; the listing reads
 * structures anywhere and files in directory order. So the hash keeps a
 * cursor: whenever the listing reads a member's data (`following`) that ends
 * past the cursor, the media from the cursor to the end of that read is read
 * in order and handed to `send` first (the bytes the listing then reads are
 * in the container's chunk cache). On a camera card or a freshly written disk
 * files lie in the order they are listed, so the cursor moves with the
 * listing and the media is read once; a file the listing reads behind the
 * cursor (fragments out of order, a directory listed after a later one) is
 * read again and counted in `rereadBytes`. Structure reads (directories, the
 * MFT, inode tables) never move the cursor: they may sit anywhere.
 *
 * The hash is only ever fed the media in order, so it is right whatever the
 * listing does; what the listing's order decides is how much is read twice.
 * A media read the hash needs that fails (a chunk that does not inflate or
 * fails its checksum) stops the feed, not the listing: the rest is hashed by
 * the 'disk-hash' task from the cursor, which meets the same failure and
 * records the check as 'failed'.
 */

/** Media bytes handed to the main thread per message. */
export const MEDIA_FEED_BYTES = 1024 * 1024;

export interface MediaFeedCounts {
  /** Media bytes handed to the hash by this task (in order, from where it started). */
  fedBytes: number;
  /** Member data the listing read below the farthest member byte it had read: media read a second time (from the container's chunk cache when recent, else from storage). */
  rereadBytes: number;
}

export class InOrderMediaSource implements ByteSource {
  readonly size: number;
  /** Whether reads now are a member's data (set by the volume task around sending it). */
  following = false;
  readonly counts: MediaFeedCounts = { fedBytes: 0, rereadBytes: 0 };
  private cursor: number;
  /** The farthest end of a member read: the feed reads up to a piece beyond it (in the chunk cache, not read again). */
  private demanded: number;
  private stopped = false;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly media: ByteSource,
    from: number,
    /** Hands `bytes` (media bytes from `offset`) to the hash; awaited (backpressure). */
    private readonly send: (offset: number, bytes: ArrayBuffer) => Promise<void>,
  ) {
    this.size = media.size;
    this.cursor = Math.min(Math.max(0, from), media.size);
    this.demanded = this.cursor;
  }

  /** The next media byte the hash needs. */
  get position(): number {
    return this.cursor - this.pendingBytes;
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    if (this.following && length > 0) {
      const end = offset + length;
      // Below the farthest member byte read so far: media the hash has already taken, read again (an out-of-order file).
      this.counts.rereadBytes += Math.max(0, Math.min(end, this.demanded) - offset);
      this.demanded = Math.max(this.demanded, end);
      if (end > this.cursor) await this.feedTo(Math.min(end, this.size), options);
    }
    return this.media.read(offset, length, options);
  }

  spanInBase(offset: number, length: number) {
    return this.media.spanInBase?.(offset, length) ?? null;
  }

  /** Hands what is still batched to the hash (at the end of the task). */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const bytes = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const piece of this.pending) {
      bytes.set(piece, at);
      at += piece.length;
    }
    const offset = this.cursor - this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await this.send(offset, bytes.buffer);
    this.counts.fedBytes += bytes.length;
  }

  private async feedTo(end: number, options?: { abortSignal?: AbortSignal }): Promise<void> {
    if (this.stopped) return;
    try {
      while (this.cursor < end) {
        // Whole feed pieces from the cursor: the container's chunks are read once, in order.
        const length = Math.min(MEDIA_FEED_BYTES - this.pendingBytes, this.size - this.cursor);
        const bytes = await this.media.read(this.cursor, length, options);
        this.pending.push(bytes);
        this.pendingBytes += bytes.length;
        this.cursor += bytes.length;
        if (this.pendingBytes >= MEDIA_FEED_BYTES) await this.flush();
      }
    } catch (err) {
      // Storage faults and aborts end the task as any read would; anything else is the media's, for 'disk-hash' to meet.
      if (!isExhibitError(err) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
      this.pending = [];
      this.cursor -= this.pendingBytes;
      this.pendingBytes = 0;
      this.stopped = true;
    }
  }
}
