import type { RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

/**
 * An image's real pixel size from its own header (JPEG SOF, PNG IHDR, GIF
 * logical screen, WebP VP8/VP8L/VP8X, HEIF/AVIF `ispe` of the primary item,
 * TIFF IFD0 of a full-resolution main image, BMP), read with a few ranged
 * reads and without decoding. Pure over the source: no native code, no event
 * loop work beyond a few hundred byte comparisons, so it can run in any worker.
 *
 * Why not a library: image-size (2.1) resynchronises inside JPEG data byte by
 * byte (a corrupt file can yield a size read from the wrong bytes), knows only
 * SOF0-2, and takes the first `ispe` in a HEIF, which is often a grid tile or a
 * thumbnail rather than the primary image. Here anything unexpected gives null:
 * the size is right or absent.
 *
 * The size is as stored, before EXIF orientation or HEIF `irot` is applied
 * and before a HEIF clean aperture (`clap`) crops it (as exiftool reports
 * ImageWidth/ImageHeight; heif-info and libvips report the displayed size).
 */
export interface PixelSize {
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'gif' | 'webp' | 'heif' | 'tiff' | 'bmp';
}

const MAX_DIMENSION = 1_000_000;
/** JPEG segments walked before the frame header; real files have a few dozen at most. */
const MAX_JPEG_SEGMENTS = 4096;
const MAX_TOP_LEVEL_BOXES = 64;
/** A HEIF `meta` box larger than this is not read (iPhone files: ~5-20 KiB). */
const MAX_META_BYTES = 4 * 1024 * 1024;
const MAX_TIFF_ENTRIES = 4096;

/** Ranged reads in aligned blocks, never past `maxBytes` of the file. */
class BlockReader {
  private readonly blocks = new Map<number, Buffer>();
  private readonly limit: number;

  constructor(
    private readonly source: RandomAccessSource,
    maxBytes: number,
    private readonly abortSignal: AbortSignal | undefined,
  ) {
    this.limit = Math.min(source.size, maxBytes);
  }

  /** Exactly `length` bytes at `offset`, or null when they are beyond the file or the cap. */
  async bytes(offset: number, length: number): Promise<Buffer | null> {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.limit) return null;
    const size = MEDIA_LIMITS.metadataChunkBytes;
    const parts: Buffer[] = [];
    for (let start = Math.floor(offset / size) * size; start < offset + length; start += size) {
      let block = this.blocks.get(start);
      if (!block) {
        block = await this.source.read(start, Math.min(size, this.limit - start), this.abortSignal ? { abortSignal: this.abortSignal } : {});
        if (this.blocks.size >= 64) this.blocks.clear();
        this.blocks.set(start, block);
      }
      parts.push(block);
    }
    const first = Math.floor(offset / size) * size;
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const out = all.subarray(offset - first, offset - first + length);
    return out.length === length ? out : null;
  }
}

const valid = (width: number, height: number): boolean =>
  Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width <= MAX_DIMENSION && height <= MAX_DIMENSION;

function sized(width: number, height: number, format: PixelSize['format']): PixelSize | null {
  return valid(width, height) ? { width, height, format } : null;
}

/** The real pixel size, or null when the format is unknown or its header is missing or malformed. */
export async function readPixelSize(
  source: RandomAccessSource,
  options: { maxBytes: number; abortSignal?: AbortSignal },
): Promise<PixelSize | null> {
  const r = new BlockReader(source, options.maxBytes, options.abortSignal);
  const head = await r.bytes(0, Math.min(64, source.size));
  if (!head || head.length < 12) return null;
  if (head[0] === 0xff && head[1] === 0xd8) return jpeg(r);
  if (head.readUInt32BE(0) === 0x89504e47 && head.readUInt32BE(4) === 0x0d0a1a0a) return png(head);
  if (head.toString('latin1', 0, 6) === 'GIF87a' || head.toString('latin1', 0, 6) === 'GIF89a') return sized(head.readUInt16LE(6), head.readUInt16LE(8), 'gif');
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return webp(head);
  if (head.toString('latin1', 4, 8) === 'ftyp') return heif(r);
  const order = head.toString('latin1', 0, 2);
  if ((order === 'II' && head.readUInt16LE(2) === 42) || (order === 'MM' && head.readUInt16BE(2) === 42)) return tiff(r, order === 'II');
  if (head.toString('latin1', 0, 2) === 'BM' && head.length >= 26) return bmp(head);
  return null;
}

/** SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

async function jpeg(r: BlockReader): Promise<PixelSize | null> {
  let pos = 2;
  for (let n = 0; n < MAX_JPEG_SEGMENTS; n++) {
    const mark = await r.bytes(pos, 2);
    if (!mark || mark[0] !== 0xff) return null; // never resynchronise inside data: no guessing
    let marker = mark[1]!;
    // Fill bytes (0xFF repeated) may precede a marker.
    while (marker === 0xff) {
      pos++;
      const next = await r.bytes(pos + 1, 1);
      if (!next) return null;
      marker = next[0]!;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    // End of image or start of scan before any frame header: no pixel data described.
    if (marker === 0xd9 || marker === 0xda || marker === 0x00) return null;
    const len = await r.bytes(pos + 2, 2);
    if (!len) return null;
    const length = len.readUInt16BE(0);
    if (length < 2) return null;
    if (isSof(marker)) {
      if (length < 8) return null;
      const frame = await r.bytes(pos + 4, 5);
      if (!frame) return null;
      // Height 0 means "defined later by a DNL marker": not read here, so absent.
      return sized(frame.readUInt16BE(3), frame.readUInt16BE(1), 'jpeg');
    }
    pos += 2 + length;
  }
  return null;
}

function png(head: Buffer): PixelSize | null {
  // Apple's "optimised" PNGs (CgBI) put a 4-byte CgBI chunk before IHDR.
  const at = head.length >= 16 && head.toString('latin1', 12, 16) === 'CgBI' && head.readUInt32BE(8) === 4 ? 8 + 16 : 8;
  if (head.length < at + 16 || head.readUInt32BE(at) !== 13 || head.toString('latin1', at + 4, at + 8) !== 'IHDR') return null;
  const width = head.readUInt32BE(at + 8);
  const height = head.readUInt32BE(at + 12);
  // PNG limits each to 2^31-1; the cap above is ours.
  return sized(width, height, 'png');
}

function webp(head: Buffer): PixelSize | null {
  if (head.length < 30) return null;
  const chunk = head.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes) then the start code 9d 01 2a, then 14-bit sizes with 2-bit scale.
    if (head[23] !== 0x9d || head[24] !== 0x01 || head[25] !== 0x2a) return null;
    return sized(head.readUInt16LE(26) & 0x3fff, head.readUInt16LE(28) & 0x3fff, 'webp');
  }
  if (chunk === 'VP8L') {
    if (head[20] !== 0x2f) return null;
    const bits = head.readUInt32LE(21);
    return sized((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1, 'webp');
  }
  if (chunk === 'VP8X') {
    return sized(head.readUIntLE(24, 3) + 1, head.readUIntLE(27, 3) + 1, 'webp');
  }
  return null;
}

interface Box {
  type: string;
  /** Where the payload starts, and the box's end (absolute offsets within `buf`). */
  start: number;
  end: number;
}

/** Child boxes of buf[from, to); stops at anything malformed. */
function boxes(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to && out.length < 4096) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > to) break;
      const big = buf.readBigUInt64BE(at + 8);
      if (big > BigInt(to - at)) break;
      size = Number(big);
      header = 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < header || at + size > to) break;
    out.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return out;
}

async function heif(r: BlockReader): Promise<PixelSize | null> {
  // Top-level boxes up to `meta`.
  let at = 0;
  let meta: Buffer | null = null;
  for (let i = 0; i < MAX_TOP_LEVEL_BOXES; i++) {
    const h = await r.bytes(at, 8);
    if (!h) return null;
    let size = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    let header = 8;
    if (size === 1) {
      const big = await r.bytes(at + 8, 8);
      if (!big) return null;
      const n = big.readBigUInt64BE(0);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) return null;
      size = Number(n);
      header = 16;
    }
    if (size < header) return null; // 0 (to end of file) or malformed: no meta follows that we can find
    if (type === 'meta') {
      if (size > MAX_META_BYTES) return null;
      meta = await r.bytes(at, size);
      if (!meta) return null;
      // FullBox: version and flags after the header.
      return heifPrimarySize(meta, header + 4);
    }
    at += size;
  }
  return null;
}

function heifPrimarySize(meta: Buffer, childrenAt: number): PixelSize | null {
  const children = boxes(meta, childrenAt, meta.length);
  const pitm = children.find((b) => b.type === 'pitm');
  const iprp = children.find((b) => b.type === 'iprp');
  if (!pitm || !iprp || pitm.end - pitm.start < 6) return null;
  const pitmVersion = meta[pitm.start]!;
  const primary = pitmVersion === 0 ? meta.readUInt16BE(pitm.start + 4) : pitm.end - pitm.start >= 8 ? meta.readUInt32BE(pitm.start + 4) : -1;
  if (primary < 0) return null;
  const inner = boxes(meta, iprp.start, iprp.end);
  const ipco = inner.find((b) => b.type === 'ipco');
  const ipmas = inner.filter((b) => b.type === 'ipma');
  if (!ipco || ipmas.length === 0) return null;
  const properties = boxes(meta, ipco.start, ipco.end);
  for (const ipma of ipmas) {
    const version = meta[ipma.start]!;
    const flags = meta.readUIntBE(ipma.start + 1, 3);
    let o = ipma.start + 4;
    if (o + 4 > ipma.end) return null;
    const count = meta.readUInt32BE(o);
    o += 4;
    for (let e = 0; e < count; e++) {
      const idSize = version < 1 ? 2 : 4;
      if (o + idSize + 1 > ipma.end) return null;
      const id = idSize === 2 ? meta.readUInt16BE(o) : meta.readUInt32BE(o);
      o += idSize;
      const associations = meta[o]!;
      o += 1;
      const assocSize = flags & 1 ? 2 : 1;
      if (o + associations * assocSize > ipma.end) return null;
      if (id !== primary) {
        o += associations * assocSize;
        continue;
      }
      for (let a = 0; a < associations; a++) {
        const index = assocSize === 2 ? meta.readUInt16BE(o) & 0x7fff : meta[o]! & 0x7f;
        o += assocSize;
        const property = properties[index - 1];
        if (property?.type === 'ispe' && property.end - property.start >= 12) {
          return sized(meta.readUInt32BE(property.start + 4), meta.readUInt32BE(property.start + 8), 'heif');
        }
      }
      return null;
    }
  }
  return null;
}

async function tiff(r: BlockReader, le: boolean): Promise<PixelSize | null> {
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const header = await r.bytes(4, 4);
  if (!header) return null;
  const ifd = u32(header, 0);
  const countBytes = await r.bytes(ifd, 2);
  if (!countBytes) return null;
  const count = u16(countBytes, 0);
  if (count === 0 || count > MAX_TIFF_ENTRIES) return null;
  const entries = await r.bytes(ifd + 2, count * 12);
  if (!entries) return null;
  let width: number | undefined;
  let height: number | undefined;
  let subfile = 0;
  for (let i = 0; i < count; i++) {
    const e = i * 12;
    const tag = u16(entries, e);
    const type = u16(entries, e + 2);
    const n = u32(entries, e + 4);
    if (n !== 1) continue;
    const value = type === 3 ? u16(entries, e + 8) : type === 4 ? u32(entries, e + 8) : undefined;
    if (value === undefined) continue;
    if (tag === 0x0100) width = value;
    else if (tag === 0x0101) height = value;
    else if (tag === 0x00fe) subfile = value;
  }
  // Bit 0 of NewSubfileType: IFD0 is a reduced-resolution copy (e.g. DNG); the main image is elsewhere.
  if (subfile & 1 || width === undefined || height === undefined) return null;
  return sized(width, height, 'tiff');
}

function bmp(head: Buffer): PixelSize | null {
  const dib = head.readUInt32LE(14);
  if (dib === 12) return sized(head.readUInt16LE(18), head.readUInt16LE(20), 'bmp');
  if (dib < 40) return null;
  // Negative height: rows stored top-down.
  return sized(head.readInt32LE(18), Math.abs(head.readInt32LE(22)), 'bmp');
}
