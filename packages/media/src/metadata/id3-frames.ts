import type { RandomAccessSource } from '@exhibit/core';

/**
 * Counts the frames of the ID3v2 tags at the start of a file (ffmpeg reads
 * every tag that follows the one before), up to `limit`: ffprobe's time grows
 * faster than the frame count (measured: 10,000 frames 3 s, 30,000 frames
 * 60 s), so a crafted tag of 200,000 one-byte frames ran to the tool's timeout,
 * retried as a timeout. Frame headers are read by ranged reads of at most
 * CHUNK bytes, so a tag of a few large frames (cover art) costs a few reads,
 * one of many small frames one read per CHUNK.
 *
 * Hostile input: a size is never trusted past the tag's end, a frame ID that
 * is not four (v2.2: three) uppercase letters or digits ends the walk (padding
 * or damage: ffmpeg stops there too), and the walk stops once `limit` is
 * passed, so at most `limit` + 1 frames and `maxTags` tags are looked at.
 */
const CHUNK = 64 * 1024;

export async function id3FrameCount(
  source: RandomAccessSource,
  limit: number,
  options: { abortSignal?: AbortSignal; maxTags?: number } = {},
): Promise<number> {
  const read = (offset: number, length: number) =>
    source.read(offset, Math.max(0, Math.min(length, source.size - offset)), options.abortSignal ? { abortSignal: options.abortSignal } : {});
  let frames = 0;
  let at = 0;
  for (let tag = 0; tag < (options.maxTags ?? 64) && frames <= limit; tag++) {
    const header = await read(at, 10);
    if (header.length < 10 || header.toString('latin1', 0, 3) !== 'ID3') break;
    const version = header[3]!;
    const flags = header[5]!;
    const size = syncsafe(header, 6);
    if (size === null || version < 2 || version > 4) break;
    const end = Math.min(source.size, at + 10 + size + (version === 4 && flags & 0x10 ? 10 : 0));
    let pos = at + 10;
    if (flags & 0x40 && version >= 3) {
      // The extended header: v2.3 gives its size after the size field, v2.4 (syncsafe) with it.
      const ext = await read(pos, 4);
      if (ext.length < 4) break;
      const extSize = version === 3 ? ext.readUInt32BE(0) + 4 : syncsafe(ext, 0);
      if (extSize === null) break;
      pos += extSize;
    }
    const headerBytes = version === 2 ? 6 : 10;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkAt = pos;
    while (pos + headerBytes <= end && frames <= limit) {
      if (pos + headerBytes > chunkAt + chunk.length) {
        chunkAt = pos;
        chunk = await read(pos, Math.min(CHUNK, end - pos));
        if (chunk.length < headerBytes) break;
      }
      const h = chunk.subarray(pos - chunkAt, pos - chunkAt + headerBytes);
      if (!/^[A-Z0-9]+$/.test(h.toString('latin1', 0, version === 2 ? 3 : 4))) break;
      const frameSize = version === 2 ? h.readUIntBE(3, 3) : version === 4 ? syncsafe(h, 4) : h.readUInt32BE(4);
      if (frameSize === null) break;
      frames += 1;
      pos += headerBytes + frameSize;
    }
    at = Math.max(end, at + 10);
  }
  return frames;
}

/** A 28-bit syncsafe integer (7 bits a byte), or null when a byte has its top bit set. */
function syncsafe(bytes: Buffer, offset: number): number | null {
  let n = 0;
  for (let i = 0; i < 4; i++) {
    const b = bytes[offset + i]!;
    if (b & 0x80) return null;
    n = n * 128 + b;
  }
  return n;
}
