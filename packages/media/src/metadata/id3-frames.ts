import { ExhibitError, type RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

/**
 * Counts the frames of the ID3v2 tags at the start of a file (ffmpeg reads
 * every tag that follows the one before), up to `limit`: ffprobe's time grows
 * faster than the frame count (measured: 10,000 frames 3 s, 30,000 frames
 * 60 s), so a crafted tag of 200,000 one-byte frames ran to the tool's timeout,
 * retried as a timeout. Frame headers are read by ranged reads of at most
 * CHUNK bytes, so a tag of a few large frames (cover art) costs a few reads,
 * one of many small frames one read per CHUNK.
 *
 * Runs in a parser thread (sandbox/parse.pool.ts, id3FramesSandboxed): it parses headers the evidence
 * states. Measured worst case of the bounds below on the main thread (64 tags, 1,023 chunks, a 4,097-frame
 * chunk tag, in memory): 3 ms median, 40 ms cold; the thread is for the house rule, not the cost.
 *
 * Hostile input: a size is never trusted past the tag's end, a frame ID that
 * is not four (v2.2: three) uppercase letters or digits ends the walk (padding
 * or damage: ffmpeg stops there too), and the walk stops once `limit` is
 * passed, so at most `limit` + 1 frames and `maxTags` tags are looked at
 * (more tags fail limit-exceeded), and in a WAV or AIFF at most `maxChunks` non-zero chunk headers and
 * `maxZeroBytes` bytes of zero ones (an AIFF's walk ends at its FORM's size, as ffmpeg's does).
 */
const CHUNK = 64 * 1024;

/**
 * ffmpeg reads ID3v2 tags from inside two containers besides the start of the file (and a DSF's metadata pointer): a WAV's `id3 `/`ID3 `
 * RIFF chunk (wav, RF64/BW64 too) and an AIFF's `ID3 ` chunk, each wherever it lies, before or after the
 * sound data (it seeks on over the data on a seekable input, which an HTTP URL is). A crafted WAV whose
 * `id3 ` chunk held 40,000 frames took ffprobe 6.9 s, as long as an MP3 of as many
 * (wav-id3-chunk-frame-flood-not-counted), so those tags count too.
 */
const ID3_CHUNKS: Record<'riff' | 'aiff', ReadonlySet<string>> = {
  riff: new Set(['id3 ', 'ID3 ']),
  aiff: new Set(['ID3 ']),
};

/** Bytes read at a chunk header: small chunks in a row come in one read, a large one costs no more than this. */
const CHUNK_HEADER_WINDOW = 4096;

/** Most bytes read at a time while a run of zeros is skipped (see the walk). */
const ZERO_WINDOW = 1024 * 1024;

const ZERO_PAGE = Buffer.alloc(4096);

function isZero(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

/** The index of the first non-zero byte of `bytes`, or -1: compared a page at a time (native), then byte by byte. */
function firstNonZero(bytes: Buffer): number {
  for (let page = 0; page < bytes.length; page += ZERO_PAGE.length) {
    const slice = bytes.subarray(page, page + ZERO_PAGE.length);
    if (slice.equals(ZERO_PAGE.subarray(0, slice.length))) continue;
    for (let i = 0; i < slice.length; i++) if (slice[i] !== 0) return page + i;
  }
  return -1;
}

type Read = (offset: number, length: number) => Promise<Buffer>;

export async function id3FrameCount(
  source: RandomAccessSource,
  limit: number,
  options: { abortSignal?: AbortSignal; maxTags?: number; maxChunks?: number; maxZeroBytes?: number } = {},
): Promise<number> {
  const read: Read = (offset, length) =>
    source.read(offset, Math.max(0, Math.min(length, source.size - offset)), options.abortSignal ? { abortSignal: options.abortSignal } : {});
  const budget = { frames: 0, tags: options.maxTags ?? 64, limit };
  const afterTags = await countTags(read, source.size, 0, budget);
  if (budget.frames > limit) return budget.frames;
  // A RIFF or AIFF header follows the leading tags (usually none): its ID3 chunks are read by the demuxer.
  const header = await read(afterTags, 12);
  if (header.length < 12) return budget.frames;
  const magic = header.toString('latin1', 0, 4);
  if (magic === 'DSD ') {
    // DSF: ffmpeg's dsf demuxer reads the ID3v2 tag (and any that follow) at the header's metadata pointer,
    // wherever it points (after the sound data, usually). A crafted tag of 20,000 frames there took ffprobe
    // 5.1 s (dsf-id3-at-metadata-pointer-not-counted), so it counts like one at the start.
    const dsd = await read(afterTags, 28);
    if (dsd.length < 28) return budget.frames;
    const pointer = dsd.readBigUInt64LE(20);
    if (pointer > 0n && pointer < BigInt(source.size)) await countTags(read, source.size, Number(pointer), budget);
    return budget.frames;
  }
  const form = header.toString('latin1', 8, 12);
  const container = ['RIFF', 'RF64', 'BW64'].includes(magic) && form === 'WAVE' ? 'riff' : magic === 'FORM' && (form === 'AIFF' || form === 'AIFC') ? 'aiff' : null;
  if (container === null) return budget.frames;
  const maxChunks = options.maxChunks ?? MEDIA_LIMITS.maxId3ContainerChunks;
  const maxZeroBytes = options.maxZeroBytes ?? MEDIA_LIMITS.maxId3ContainerZeroBytes;
  const little = container === 'riff';
  let window: Buffer = Buffer.alloc(0);
  let windowAt = 0;
  let pos = afterTags + 12;
  // AIFF: ffmpeg walks the chunks the FORM's size holds (less its 4-byte form type), and no further.
  let formLeft = container === 'aiff' ? header.readUInt32BE(4) - 4 : Infinity;
  let zeroBytes = 0;
  // RF64/BW64: the data chunk's size is the 64-bit one in the first chunk, `ds64`.
  let ds64DataSize: number | null = null;
  for (let chunks = 0; pos + 8 <= source.size && formLeft > 0 && budget.frames <= limit; ) {
    if (pos + 8 > windowAt + window.length) {
      windowAt = pos;
      window = await read(pos, CHUNK_HEADER_WINDOW);
      if (window.length < 8) break;
    }
    const h = window.subarray(pos - windowAt, pos - windowAt + 8);
    if (isZero(h)) {
      // Zeros (cluster slack after a carved file, a recorder's pre-allocation, silence read as chunks past a
      // stale data size) are size-0 chunks of no name to ffmpeg, 8 bytes a step: no ID3 chunk, but ffprobe
      // steps through them at ~4 MiB/s (32 MiB took 8 s, 255 MiB 61 s), so their bytes are bounded
      // (maxZeroBytes) and not counted as chunks. The next non-zero 8 bytes are looked for first in the bytes
      // already read, then in reads that start at a header window and double up to ZERO_WINDOW: each run costs
      // at most about three times its own bytes, so a file of many short runs between chunks is not read 1 MiB
      // a run (wav-alternating-zero-headers-read-1-mib-each), and the walk reads at most ~3 x maxZeroBytes plus
      // a header window per chunk.
      let next = pos;
      let zeros = window.subarray(pos - windowAt);
      let readLength = CHUNK_HEADER_WINDOW;
      for (;;) {
        const nonZero = firstNonZero(zeros);
        const skip = nonZero < 0 ? zeros.length - (zeros.length % 8) : nonZero - (nonZero % 8);
        next += skip;
        zeroBytes += skip;
        if (next - pos >= formLeft) return budget.frames; // an AIFF's zeros past its FORM: ffmpeg stops there
        if (zeroBytes > maxZeroBytes) {
          throw new ExhibitError('limit-exceeded', `more than ${maxZeroBytes} bytes of zero chunk headers (MEDIA_LIMITS.maxId3ContainerZeroBytes): ID3 tags not counted, not probed`);
        }
        if (nonZero >= 0 && zeros.length - skip >= 8) {
          windowAt = next;
          window = zeros.subarray(skip);
          break;
        }
        zeros = await read(next, readLength);
        readLength = Math.min(readLength * 2, ZERO_WINDOW);
        if (zeros.length < 8) return budget.frames;
      }
      formLeft -= next - pos;
      pos = next;
      continue;
    }
    if (chunks >= maxChunks) {
      // The rest of the file is unwalked, and ffmpeg would walk it: its ID3 chunks are not known to be small.
      throw new ExhibitError('limit-exceeded', `more than ${maxChunks} ${container === 'riff' ? 'RIFF' : 'AIFF'} chunks (MEDIA_LIMITS.maxId3ContainerChunks): ID3 tags not counted, not probed`);
    }
    chunks += 1;
    const id = h.toString('latin1', 0, 4);
    let size: number = little ? h.readUInt32LE(4) : h.readUInt32BE(4);
    if (id === 'ds64' && magic !== 'RIFF' && size >= 16) {
      const ds64 = await read(pos + 8, 16);
      if (ds64.length === 16) ds64DataSize = Number(ds64.readBigUInt64LE(8));
    }
    if (id === 'data' && container === 'riff' && magic !== 'RIFF') {
      // RF64/BW64: ffmpeg takes the data's size from ds64 whatever the 32-bit field says (and refuses a file without it).
      if (ds64DataSize === null) break;
      size = ds64DataSize;
    } else if (id === 'data' && container === 'riff' && (size === 0 || size === 0xffffffff)) {
      // A data chunk of size 0 or 0xFFFFFFFF (a recording never finished) runs to the end of the file for ffmpeg,
      // which then reads no further chunk; walking on would read the samples as chunk headers.
      break;
    }
    const dataAt = pos + 8;
    if (ID3_CHUNKS[container].has(id) && dataAt < source.size) await countTags(read, source.size, dataAt, budget);
    if (container === 'aiff') {
      // As ffmpeg counts it down (a size near 2^31 or more ends it). Its other stops (a tag of 0 or a second
      // COMM once the sound is found) hang on what it made of COMM, so they are not taken: walking on counts more, never less.
      formLeft = size >= 0x7fffffff - 8 ? 0 : formLeft - (size + 8) - (size & 1);
    }
    // Chunks are padded to an even length (ffmpeg skips the pad byte too).
    pos = dataAt + size + (size & 1);
  }
  return budget.frames;
}

/**
 * Counts the frames of the ID3v2 tags from `at` on (a tag that follows another is read too) into `budget`;
 * returns where the last tag ended. More than `budget.tags` tags in all fail limit-exceeded: ffmpeg reads
 * every one, and each may hold up to the frame limit.
 */
async function countTags(read: Read, fileSize: number, at: number, budget: { frames: number; tags: number; limit: number }): Promise<number> {
  for (;;) {
    if (budget.frames > budget.limit) return at;
    const header = await read(at, 10);
    if (header.length < 10 || header.toString('latin1', 0, 3) !== 'ID3') return at;
    const version = header[3]!;
    const flags = header[5]!;
    const size = syncsafe(header, 6);
    if (size === null || version < 2 || version > 4) return at;
    if (budget.tags <= 0) throw new ExhibitError('limit-exceeded', 'too many ID3v2 tags in a row: not probed');
    budget.tags -= 1;
    const end = Math.min(fileSize, at + 10 + size + (version === 4 && flags & 0x10 ? 10 : 0));
    let pos = at + 10;
    if (flags & 0x40 && version >= 3) {
      // The extended header: v2.3 gives its size after the size field, v2.4 (syncsafe) with it.
      const ext = await read(pos, 4);
      if (ext.length < 4) return end;
      const extSize = version === 3 ? ext.readUInt32BE(0) + 4 : syncsafe(ext, 0);
      if (extSize === null) return end;
      pos += extSize;
    }
    const headerBytes = version === 2 ? 6 : 10;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkAt = pos;
    while (pos + headerBytes <= end && budget.frames <= budget.limit) {
      if (pos + headerBytes > chunkAt + chunk.length) {
        chunkAt = pos;
        chunk = await read(pos, Math.min(CHUNK, end - pos));
        if (chunk.length < headerBytes) break;
      }
      const h = chunk.subarray(pos - chunkAt, pos - chunkAt + headerBytes);
      if (!/^[A-Z0-9]+$/.test(h.toString('latin1', 0, version === 2 ? 3 : 4))) break;
      const frameSize = version === 2 ? h.readUIntBE(3, 3) : version === 4 ? syncsafe(h, 4) : h.readUInt32BE(4);
      if (frameSize === null) break;
      budget.frames += 1;
      pos += headerBytes + frameSize;
    }
    at = Math.max(end, at + 10);
  }
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
