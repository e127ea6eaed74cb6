import { inflateSync } from 'node:zlib';
import exifr from 'exifr';
import { ExhibitError, LIMITS, type RandomAccessSource } from '@exhibit/core';
import { hasHeifBrand, MAX_FTYP_BYTES } from '../identify/heif-brands.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { decodeRecordedText } from './recorded-text.js';

/**
 * exifr reading through RandomAccessSource ranged reads.
 *
 * Why this way: exifr's own chunked mode is what we want (read 64 KiB, then
 * only the ranges the parsers ask for), but its URL reader would fetch the SAS
 * URL itself (no abort, no limits) and its buffer input means reading the whole
 * file. So we subclass exifr's chunked URL reader and replace the transport
 * with `source.read`, capped at LIMITS.maxMetadataBytes of address space.
 *
 * HEIC/AVIF: exifr 7.1.3 ignores the iloc base_offset (libheif writes the Exif
 * item as base_offset + 0) and loops forever on a zero-length top-level box,
 * so a corrected parser is set on each Exifr instance (no global registration).
 * exifr reads no XMP from HEIF files.
 *
 * Called in the parser threads only (sandbox/parse.worker.ts), where a loop
 * this file does not foresee is stopped by a deadline, never on the main thread.
 */

interface ExifrBufferView {
  byteLength: number;
  size: number | undefined;
  chunked: boolean;
  buffer: ArrayBufferLike;
  byteOffset: number;
  ranges: { list: Array<{ offset: number; length: number }> };
  getUint8(offset: number): number;
  getUint16(offset: number): number;
  getUint32(offset: number): number;
  getUintBytes(offset: number, size: number): number;
  set(chunk: Uint8Array, offset: number, canExtend: boolean): unknown;
  readChunk(offset: number, length?: number): Promise<unknown>;
  ensureChunk(offset: number, length: number): Promise<void>;
  read(): Promise<void>;
}

interface IsoBox {
  offset: number;
  length: number;
  kind: string;
  start: number;
  version?: number;
}

interface HeifParserBase {
  file: ExifrBufferView;
  options: { icc: { enabled: boolean }; tiff: { enabled: boolean } };
  parseBoxHead(offset: number): IsoBox;
  parseBoxFullHead(box: IsoBox): void;
  parseSubBoxes(box: IsoBox): void;
  get8bits(offset: number): [number, number];
  findIcc(meta: IsoBox): Promise<void>;
  findExif(meta: IsoBox): Promise<void>;
}

type ReaderCtor = new (input: string, options: unknown) => ExifrBufferView;
type HeifParserCtor = (new (options: unknown, file: ExifrBufferView, parsers: unknown) => HeifParserBase) & {
  canHandle(file: ExifrBufferView, firstTwoBytes: number): boolean;
  type: string;
};

export interface ExifrInstance {
  options: unknown;
  file: ExifrBufferView;
  fileParser: unknown;
  parsers: Record<string, unknown>;
  setup(): void;
  parse(): Promise<Record<string, unknown> | undefined>;
  extractThumbnail(): Promise<Uint8Array | undefined>;
}

interface ExifrLib {
  Exifr: new (options: object) => ExifrInstance;
  /** exifr's parsed options; `useCached` memoises one per options object given, in a Map that is never emptied. */
  Options: (new (options: object) => object) & { useCached(options: object): object };
  fileReaders: Map<string, unknown>;
  fileParsers: Map<string, unknown>;
  segmentParsers: Map<string, unknown>;
}

/** The parts of exifr's segment parsers we touch. */
interface SegmentParser {
  errors: string[];
  chunk: { getUint16(offset: number): number; getUint32(offset: number): number; getUint8Array(offset: number, length: number): Uint8Array; byteLength: number };
  options: Record<string, { pick: Set<number>; skip: Set<number> }>;
  localOptions?: { parse?: boolean };
  /** Async for TIFF, sync for XMP (which takes the packet text, else its chunk). */
  parse(input?: unknown): unknown;
  parseTag(offset: number, tag: number, blockKey: string): unknown;
  assignObjectToOutput(root: Record<string, unknown>, key: string, value: unknown): void;
}
type SegmentParserCtor = new (chunk: unknown, options: unknown, file: unknown) => SegmentParser;

const lib = exifr as unknown as ExifrLib;
// exifr keeps every options object it is given, with the Options parsed from it (~9 KB of objects and Sets), in a
// module-level Map for the life of the thread (Options.useCached). openExifr gives it a new object per file (the chunk
// limit is the file's), so each parser thread grew by one entry per file: 75 and 92 MiB of live heap in the two parser
// threads after ~9,000 photos each of the 4 GiB bench (regression exifr-options-kept-for-every-file-parsed). Parsed per
// instance instead, the Options go with their parse.
lib.Options.useCached = (options: object) => new lib.Options(options);
const UrlFetcher = lib.fileReaders.get('url') as ReaderCtor;
const ExifrHeicParser = lib.fileParsers.get('heic') as HeifParserCtor;
const ExifrAvifParser = lib.fileParsers.get('avif') as HeifParserCtor;
const ExifrTiffSegment = lib.segmentParsers.get('tiff') as SegmentParserCtor;
const ExifrXmpSegment = lib.segmentParsers.get('xmp') as SegmentParserCtor;

/** Messages kept per parser; a crafted IFD can hold 65535 bad entries. */
const MAX_PARSER_MESSAGES = 16;
const TIFF_BYTE = 1;
const TIFF_ASCII = 2;

/**
 * EXIF text tags whose BYTE-typed values are wrapped so that exifText (recorded-time.ts, which reads
 * UNDEFINED bytes as text, as exiftool does) does not take them: exifr gives BYTE (type 1) values as
 * the same Uint8Array as UNDEFINED, but exiftool prints
 * BYTE as numbers, never as text: a DateTimeOriginal stored as BYTE was a capture time exiftool
 * does not show (exif-date-stored-as-byte-read-as-date), a GPSStatus BYTE 86 read as V. These
 * come out as `{ exifType: 'BYTE', bytes }` (the bytes kept for the raw dump), which no text reader takes.
 */
const TEXT_TAGS: Readonly<Record<string, ReadonlySet<number>>> = {
  ifd0: new Set([0x0132]), // ModifyDate
  // DateTimeOriginal, CreateDate, OffsetTime(/Original/Digitized), SubSecTime(/Original/Digitized)
  exif: new Set([0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292]),
  gps: new Set([0x0001, 0x0003, 0x0009]), // GPSLatitudeRef, GPSLongitudeRef, GPSStatus
};

/**
 * exifr's TIFF parser gives up on a whole IFD at its first bad entry (an
 * invalid value type, an offset outside the segment): one bad tag used to drop
 * make, model, the dates and the pointers to the Exif and GPS IFDs. This one
 * skips the bad entry, records exifr's message, and reads the rest. ASCII
 * values end at the first NUL and keep invalid UTF-8 bytes recoverable (see
 * recorded-text.ts) instead of exifr's "strip trailing NULs only".
 */
class TolerantTiffSegment extends ExifrTiffSegment {
  private skipped = 0;

  parseTags(offset: number, blockKey: string, block: Map<number, unknown> = new Map()): Map<number, unknown> {
    const { pick: wanted, skip } = this.options[blockKey]!;
    const pick = new Set(wanted);
    const onlyPick = pick.size > 0;
    const count = this.chunk.getUint16(offset);
    offset += 2;
    for (let i = 0; i < count; i++) {
      let tag: number;
      try {
        tag = this.chunk.getUint16(offset);
      } catch {
        this.note(`${blockKey.toUpperCase()} directory ends outside the EXIF data after ${i} of ${count} entries`);
        break;
      }
      const wantedTag = onlyPick ? pick.has(tag) : !skip.has(tag);
      if (wantedTag) {
        try {
          const value = this.parseTag(offset, tag, blockKey);
          if (value !== undefined) block.set(tag, value);
        } catch (err) {
          this.note(err instanceof Error ? err.message : String(err));
        }
        if (onlyPick) {
          pick.delete(tag);
          if (pick.size === 0) break;
        }
      }
      offset += 12;
    }
    return block;
  }

  override parseTag(offset: number, tag: number, blockKey: string): unknown {
    const type = this.chunk.getUint16(offset + 2);
    if (type === TIFF_BYTE && TEXT_TAGS[blockKey]?.has(tag)) {
      const value = super.parseTag(offset, tag, blockKey);
      return value instanceof Uint8Array ? { exifType: 'BYTE', bytes: value } : value;
    }
    if (type !== TIFF_ASCII) return super.parseTag(offset, tag, blockKey);
    const count = this.chunk.getUint32(offset + 4);
    const at = count <= 4 ? offset + 8 : this.chunk.getUint32(offset + 8);
    if (at + count > this.chunk.byteLength) {
      throw new Error(`Invalid TIFF value offset. block: ${blockKey.toUpperCase()}, tag: ${tag.toString(16)}, type: ${type}, offset ${at} is outside of chunk size ${this.chunk.byteLength}`);
    }
    const text = decodeRecordedText(this.chunk.getUint8Array(at, count));
    return text.trim() === '' ? undefined : text;
  }

  private note(message: string): void {
    if (this.errors.length < MAX_PARSER_MESSAGES) this.errors.push(message);
    else if (++this.skipped === 1) this.errors.push('further EXIF errors not listed');
  }
}

/**
 * exifr merges XMP's tiff: and exif: namespaces into the EXIF blocks, so an
 * XMP value silently replaced the EXIF one (or the other way round, whichever
 * parser finished last). Here XMP stays under `xmp`, one object per namespace.
 */
class SeparateXmpSegment extends ExifrXmpSegment {
  /** The packet text exifr parsed (its chunk, or the joined extended-XMP segments). */
  private packet: unknown;

  override parse(input?: unknown): unknown {
    this.packet = input ?? this.chunk;
    return super.parse(input);
  }

  assignToOutput(root: Record<string, unknown>, xmp: unknown): void {
    if (this.localOptions?.parse === false || typeof xmp !== 'object' || xmp === null) {
      root.xmp = xmp;
      return;
    }
    const namespaces: Record<string, unknown> = (root.xmp as Record<string, unknown> | undefined) ?? {};
    const xapBinding = typeof this.packet === 'string' ? xapNamespace(this.packet) : 'unbound';
    for (let [ns, value] of Object.entries(xmp)) {
      if (ns === 'xmlns') continue;
      // exifr keys XMP by prefix; `xap` is read as XMP basic (exif.metadata.ts) only when the packet binds it to
      // XMP basic's URI. A prefix bound elsewhere is kept apart (xmp-xap-prefix-foreign-uri-read-as-basic).
      if (ns === 'xap' && xapBinding !== XMP_BASIC_URI) ns = `xap@${xapBinding}`;
      const existing = namespaces[ns];
      namespaces[ns] = typeof existing === 'object' && existing !== null && typeof value === 'object' && value !== null ? { ...existing, ...value } : value;
    }
    root.xmp = namespaces;
  }
}

const XMP_BASIC_URI = 'http://ns.adobe.com/xap/1.0/';
/** `xmlns:xap` declarations looked at in one packet; one is usual. */
const MAX_XAP_DECLARATIONS = 64;
/** Characters after `xmlns:xap` read for its `="uri"`. */
const XAP_DECLARATION_WINDOW = 256;

/**
 * What the packet binds the `xap` prefix to: XMP basic's URI only when every declaration says so
 * (two Descriptions may bind it differently), else the first other URI, else 'unbound'. Each
 * declaration is matched within a fixed window, so the scan is linear in the packet.
 */
function xapNamespace(packet: string): string {
  let at = packet.indexOf('xmlns:xap');
  let seen = 0;
  let bound: string | undefined;
  while (at >= 0 && seen < MAX_XAP_DECLARATIONS) {
    const m = /^xmlns:xap\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(packet.slice(at, at + XAP_DECLARATION_WINDOW));
    if (m) {
      const uri = m[1] ?? m[2] ?? '';
      seen++;
      if (uri !== XMP_BASIC_URI) return uri.slice(0, 128);
      bound = uri;
    }
    at = packet.indexOf('xmlns:xap', at + 1);
  }
  if (at >= 0) return 'unbound'; // more declarations than looked at: not known
  return bound ?? 'unbound';
}

const SEGMENT_OVERRIDES: Record<string, SegmentParserCtor> = {
  tiff: TolerantTiffSegment as unknown as SegmentParserCtor,
  xmp: SeparateXmpSegment as unknown as SegmentParserCtor,
};

/** Top-level boxes walked looking for `meta` before giving up. */
const MAX_TOP_LEVEL_BOXES = 64;

/** Reads the source on demand for exifr; never beyond `maxBytes` of the file. */
class SourceReader extends UrlFetcher {
  /** Set when exifr asked for bytes past the cap: the dump may be incomplete. */
  limitReached = false;
  bytesRead = 0;

  constructor(
    private readonly source: RandomAccessSource,
    options: unknown,
    private readonly maxBytes: number,
    private readonly abortSignal: AbortSignal | undefined,
  ) {
    super('exhibit:source', options);
    this.size = source.size;
  }

  async readWhole(): Promise<void> {
    this.chunked = false;
    await this._readChunk(0, undefined);
  }

  async _readChunk(offset: number, length: number | undefined): Promise<unknown> {
    const wantedEnd = length === undefined ? this.source.size : offset + length;
    const end = Math.min(wantedEnd, this.source.size, this.maxBytes);
    if (wantedEnd > this.maxBytes && this.maxBytes < this.source.size) this.limitReached = true;
    if (end <= offset) return undefined;
    const chunk = await this.source.read(offset, end - offset, this.abortSignal ? { abortSignal: this.abortSignal } : {});
    this.bytesRead += chunk.length;
    if (offset + chunk.length < this.source.size && chunk.length < end - offset) {
      throw new ExhibitError('storage-unavailable', `short read at ${offset}: ${chunk.length} of ${end - offset} bytes`);
    }
    return this.set(chunk, offset, true);
  }

  // Zero-filled growth: exifr's default (allocUnsafe) would leave holes between
  // ranges holding stale process memory, which could surface in a dump.
  _extend(newLength: number): { uintView: Uint8Array; dataView: DataView } {
    const uintView = Buffer.alloc(newLength);
    uintView.set(new Uint8Array(this.buffer, this.byteOffset, this.byteLength), 0);
    return { uintView, dataView: new DataView(uintView.buffer, uintView.byteOffset, uintView.byteLength) };
  }
}

function correctedHeifParser(Base: HeifParserCtor): HeifParserCtor {
  class Corrected extends Base {
    /**
     * exifr takes a file as HEIC only if 'heic' is among the compatible brands
     * of an ftyp of at most 50 bytes; camera HEIF (Canon, Sony .HIF: heix,
     * mif1, miaf, MiHB...) often lists no 'heic'. Any HEIF brand will do.
     */
    static override canHandle(file: ExifrBufferView, firstTwoBytes: number): boolean {
      if (Base.type !== 'heic') return Base.canHandle(file, firstTwoBytes);
      const head = Buffer.from(file.buffer, file.byteOffset, Math.min(file.byteLength, MAX_FTYP_BYTES));
      return hasHeifBrand(head);
    }

    async parse(): Promise<void> {
      let offset = this.file.getUint32(0);
      for (let i = 0; i < MAX_TOP_LEVEL_BOXES; i++) {
        await this.file.ensureChunk(offset, 16);
        const box = this.parseBoxHead(offset);
        if (box.kind === 'meta') {
          await this.file.ensureChunk(box.offset, box.length);
          this.parseBoxFullHead(box);
          this.parseSubBoxes(box);
          if (this.options.icc.enabled) await this.findIcc(box);
          if (this.options.tiff.enabled) await this.findExif(box);
          return;
        }
        if (box.length < 8) return;
        offset += box.length;
      }
    }

    /** ISO/IEC 14496-12 ItemLocationBox, versions 0-2; only single-extent, file-offset items. */
    findExtentInIloc(box: IsoBox, wantedId: number): [number, number] | undefined {
      this.parseBoxFullHead(box);
      const f = this.file;
      const v = box.version ?? 0;
      const end = box.offset + box.length;
      let o = box.start;
      const [offsetSize, lengthSize] = this.get8bits(o++);
      const [baseOffsetSize, indexOrReserved] = this.get8bits(o++);
      const indexSize = v === 1 || v === 2 ? indexOrReserved : 0;
      // item_ID and item_count are both 32-bit in version 2, 16-bit before.
      const idSize = v === 2 ? 4 : 2;
      let count = f.getUintBytes(o, idSize);
      o += idSize;
      const uint = (at: number, size: number) => (size === 0 ? 0 : f.getUintBytes(at, size));
      while (count-- > 0 && o < end) {
        const id = f.getUintBytes(o, idSize);
        o += idSize;
        let method = 0;
        if (v === 1 || v === 2) {
          method = f.getUint16(o) & 0x0f;
          o += 2;
        }
        o += 2; // data_reference_index
        const base = uint(o, baseOffsetSize);
        o += baseOffsetSize;
        const extentCount = f.getUint16(o);
        o += 2;
        if (id === wantedId) {
          if (method !== 0 || extentCount !== 1) return undefined;
          o += indexSize;
          return [base + uint(o, offsetSize), uint(o + offsetSize, lengthSize)];
        }
        o += extentCount * (indexSize + offsetSize + lengthSize);
      }
      return undefined;
    }
  }
  return Corrected as unknown as HeifParserCtor;
}

const CorrectedHeic = correctedHeifParser(ExifrHeicParser);
const CorrectedAvif = correctedHeifParser(ExifrAvifParser);

interface PngChunkView {
  byteLength: number;
  getString(offset: number, length: number): string;
  subarray(offset: number, length?: number): PngChunkView;
}
interface PngChunk {
  type: string;
  offset: number;
  length: number;
  start: number;
  size: number;
  marker: number;
  chunk?: PngChunkView;
}
interface PngParserBase {
  file: ExifrBufferView & {
    getString(offset: number, length: number): string;
    getUint8Array(offset: number, length: number): Uint8Array;
    available(offset: number, length: number): boolean;
  };
  metaChunks: PngChunk[];
  unknownChunks: PngChunk[];
  errors: string[];
  injectSegment(type: string, chunk: unknown): void;
  findPngChunksInRange(offset: number, end: number): Promise<void>;
}
type PngParserCtor = (new (options: unknown, file: ExifrBufferView, parsers: unknown) => PngParserBase) & {
  canHandle(file: ExifrBufferView, firstTwoBytes: number): boolean;
};
const ExifrPngParser = lib.fileParsers.get('png') as PngParserCtor;
/** ImageMagick's zTXt keywords for a JPEG's APP1 EXIF. */
const RAW_PROFILE_KEYWORD = /^Raw profile type (exif|APP1)$/i;
/** zTXt chunks looked at, and the most bytes one may hold or inflate to (EXIF as hex: twice its size). */
const MAX_RAW_PROFILE_CHUNKS = 16;
const MAX_RAW_PROFILE_TEXT_BYTES = 1024 * 1024;
/** A zTXt's keyword (at most 79 bytes), its NUL and the compression method. */
const ZTXT_HEAD_BYTES = 81;

/**
 * A PNG eXIf chunk holds the TIFF structure itself, but writers that followed
 * the first drafts of the eXIf proposal (2017, "begins with the Exif ID code")
 * put JPEG's `Exif\0\0` header in front of it. exifr then read no
 * TIFF header and the whole EXIF was lost (png-exif-chunk-with-jpeg-header);
 * exiftool reads it, with a warning. The header is skipped.
 */
class CorrectedPng extends ExifrPngParser {
  /**
   * exifr walks only the chunks inside its first read (64 KiB). An eXIf chunk
   * after the image data of a larger PNG is not read (absent, never wrong):
   * finding it by searching the file's tail took planted EXIF (a PNG appended
   * after IEND, a private chunk holding a fake eXIf chunk) that exiftool does
   * not show (png-appended-file-planted-exif); only a walk of the chunk chain
   * from the signature would find the real one.
   */
  override async findPngChunksInRange(offset: number, end: number): Promise<void> {
    // exifr reads each chunk's 8-byte header unchecked: one that straddles the end of
    // the bytes read so far threw and lost every chunk, eXIf included
    // (png-chunk-header-across-read-boundary-loses-exif). The walk stops before it.
    await super.findPngChunksInRange(offset, this.wholeHeadersEnd(offset, end));
  }

  /** `end`, or the offset of the first chunk from `offset` whose header is not all before `end`. */
  private wholeHeadersEnd(offset: number, end: number): number {
    let o = offset;
    while (o < end) {
      if (o + 8 > end) return o;
      o += 12 + this.file.getUint32(o);
    }
    return end;
  }

  async findExif(): Promise<void> {
    const seg = this.metaChunks.find((info) => info.type === 'exif');
    if (!seg?.chunk) {
      const profile = await this.rawProfileExif();
      if (profile) this.injectSegment('tiff', profile);
      return;
    }
    let chunk = seg.chunk;
    if (chunk.byteLength >= 6 && chunk.getString(0, 6) === 'Exif\0\0') chunk = chunk.subarray(6, chunk.byteLength - 6);
    this.injectSegment('tiff', chunk);
  }

  /**
   * ImageMagick (6, and 7 before it wrote eXIf) keeps a JPEG's EXIF in a PNG as
   * a zTXt chunk "Raw profile type exif" (older: "APP1"): zlib-compressed text
   * `\nexif\n<length>\n<hex lines>`. exifr reads no such chunk, so a converted
   * photo lost its capture time, GPS, make and model
   * (png-imagemagick-raw-profile-exif-not-read); exiftool reads it. Only chunks
   * inside exifr's walk; inflated output capped at MAX_RAW_PROFILE_TEXT_BYTES.
   */
  private async rawProfileExif(): Promise<Uint8Array | undefined> {
    const candidates = this.unknownChunks.filter((c) => c.type === 'ztxt').slice(0, MAX_RAW_PROFILE_CHUNKS);
    for (const seg of candidates) {
      if (seg.size < 24 || seg.size > MAX_RAW_PROFILE_TEXT_BYTES) continue;
      // Keyword (1-79 bytes), NUL, compression method 0 (zlib), compressed text. Only the
      // head is read to tell the keyword: any other zTXt is never read in full or inflated.
      const headBytes = Math.min(seg.size, ZTXT_HEAD_BYTES);
      await this.file.ensureChunk(seg.start, headBytes);
      if (!this.file.available(seg.start, headBytes)) continue;
      const head = Buffer.from(this.file.getUint8Array(seg.start, headBytes));
      const nul = head.indexOf(0);
      if (nul < 0 || nul + 1 >= head.length || !RAW_PROFILE_KEYWORD.test(head.toString('latin1', 0, nul)) || head[nul + 1] !== 0) continue;
      await this.file.ensureChunk(seg.start, seg.size);
      if (!this.file.available(seg.start, seg.size)) continue;
      const data = Buffer.from(this.file.getUint8Array(seg.start, seg.size));
      let text: string;
      try {
        text = inflateSync(data.subarray(nul + 2), { maxOutputLength: MAX_RAW_PROFILE_TEXT_BYTES }).toString('latin1');
      } catch (err) {
        this.errors.push(`PNG raw profile unreadable: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      const bytes = rawProfileBytes(text);
      if (typeof bytes === 'string') {
        this.errors.push(`PNG raw profile unreadable: ${bytes}`);
        continue;
      }
      return bytes;
    }
    // ImageMagick writes the profile uncompressed, as tEXt, when told not to compress (-compress None)
    // and when it is short; exiftool reads it there too. Only zTXt was read, so such a PNG had no
    // capture time, GPS, make or model (png-raw-profile-in-text-chunk-not-read). exifr has read every
    // tEXt chunk inside its walk already; keyword (1-79 bytes), NUL, then the text itself.
    const texts = this.metaChunks.filter((c) => c.type === 'text').slice(0, MAX_RAW_PROFILE_CHUNKS);
    for (const seg of texts) {
      if (!seg.chunk || seg.size < 24 || seg.size > MAX_RAW_PROFILE_TEXT_BYTES) continue;
      const head = seg.chunk.getString(0, Math.min(seg.chunk.byteLength, ZTXT_HEAD_BYTES));
      const nul = head.indexOf('\0');
      if (nul < 0 || !RAW_PROFILE_KEYWORD.test(head.slice(0, nul))) continue;
      const bytes = rawProfileBytes(seg.chunk.getString(nul + 1, seg.chunk.byteLength - nul - 1));
      if (typeof bytes === 'string') {
        this.errors.push(`PNG raw profile unreadable: ${bytes}`);
        continue;
      }
      return bytes;
    }
    return undefined;
  }
}

/**
 * The APP1 payload of an ImageMagick raw profile text (`\n<name>\n<length>\n<hex>`)
 * without JPEG's Exif\0\0, or why there is none. Linear in the text: one regular
 * expression over it all (header, hex and whitespace in one) backtracked
 * quadratically on a long whitespace run, holding a parser thread for tens of
 * seconds on a 1 KB file (png-raw-profile-whitespace-run-redos).
 */
function rawProfileBytes(text: string): Uint8Array | string {
  const header = /^\s*[A-Za-z0-9]+\s+(\d{1,9})\s/.exec(text);
  if (!header) return 'no profile header';
  const length = Number(header[1]);
  const hex = text.slice(header[0].length).replace(/\s+/g, '');
  if (!/^[0-9a-f]*$/i.test(hex)) return 'profile is not hex';
  if (hex.length < length * 2) return `profile holds ${hex.length >> 1} of ${length} bytes`;
  let bytes: Uint8Array = Buffer.from(hex.slice(0, length * 2), 'hex');
  if (Buffer.from(bytes.subarray(0, 6)).toString('latin1') === 'Exif\0\0') bytes = bytes.subarray(6);
  const order = Buffer.from(bytes.subarray(0, 4)).toString('latin1');
  if (order !== 'II*\0' && order !== 'MM\0*') return 'profile holds no TIFF header';
  return bytes;
}

type JpegParserCtor = (new (options: unknown, file: ExifrBufferView, parsers: unknown) => {
  file: ExifrBufferView;
  findAppSegmentsInRange(offset: number, end: number): number | undefined;
}) & { canHandle(file: ExifrBufferView, firstTwoBytes: number): boolean };
const ExifrJpegParser = lib.fileParsers.get('jpeg') as JpegParserCtor;
/**
 * How far from an APPn marker exifr's segment tests read: the type at +4 (four
 * bytes) decides. Exif and JFIF end by +10; ICC's part numbers are at +16 and
 * +17; XMP ('http') reads its 35-byte extension URI from +4. A fixed 64 (more
 * than any test reads) held back an EXIF APP1 starting within 64 bytes of the
 * end of the first read, and exifr's TIFF-only reads (preview, orientation)
 * never read on (jpeg-exif-near-read-boundary-loses-preview).
 */
const APP_TYPE_END = 8;
const APP_TEST_END = 10;
const ICC_TEST_END = 18;
const XMP_TEST_END = 4 + 35;
/** 'http' and 'ICC_' as big-endian uint32. */
const HTTP = 0x68747470;
const ICC_ = 0x4943435f;

/**
 * exifr tells whether an APP13 holds IPTC by scanning the whole segment, and
 * the other segment types by their first bytes, with no bounds check. A
 * Photoshop APP13 (tens of KiB, with its own thumbnail) running past the bytes
 * read so far made that scan read outside its buffer, and the exception ended
 * the whole parse: EXIF, GPS and XMP lost with it
 * (jpeg-app13-across-read-boundary-loses-exif); exiftool reads them. The scan
 * of each range now stops before such a segment, so exifr reads the next
 * chunk and takes the segment up once it is all there (or never, at the end of
 * the file or the byte cap: then only that segment is missing).
 */
class CorrectedJpeg extends ExifrJpegParser {
  override findAppSegmentsInRange(offset: number, end: number): number | undefined {
    return super.findAppSegmentsInRange(offset, this.safeEnd(offset, end));
  }

  /** `end`, or the offset of the first APPn segment from `offset` that exifr could not test within `end`, plus 2 (exifr stops 2 bytes early). */
  private safeEnd(offset: number, end: number): number {
    const f = this.file;
    // The same walk as exifr's: byte by byte to a 0xFF, over each segment by its length.
    for (let o = offset; o < end - 2; o++) {
      if (f.getUint8(o) !== 0xff) continue;
      const marker = f.getUint8(o + 1);
      const isApp = marker >= 0xe0 && marker <= 0xef;
      const isJpeg = [0xc0, 0xc2, 0xc4, 0xdb, 0xdd, 0xda, 0xfe].includes(marker);
      if (!isApp && !isJpeg) continue;
      if (marker === 0xda) return end; // image data follows: exifr stops there itself
      // The segment's length is not all read yet (a marker 3 bytes before the end): exifr would read past the
      // range (a RangeError that lost every tag), so it stops here and reads on (jpeg-app-marker-three-bytes-before-read-end).
      if (o + 4 > end) return o + 2;
      const length = f.getUint16(o + 2);
      if (isApp && this.testedEnd(o, marker, length, end) > end) return o + 2;
      o += length + 1;
    }
    return end;
  }

  /** The end of the bytes exifr's segment tests read for the APPn at `o` (`end` bounds what may be looked at). */
  private testedEnd(o: number, marker: number, length: number, end: number): number {
    // APP13: exifr scans the whole segment for IPTC.
    if (marker === 0xed) return Math.max(o + 2 + length, o + 4 + 'Photoshop'.length);
    if (o + APP_TYPE_END > end) return o + APP_TYPE_END;
    const type = this.file.getUint32(o + 4);
    if (type === HTTP) return o + XMP_TEST_END;
    if (type === ICC_ && marker === 0xe2) return o + ICC_TEST_END;
    return o + APP_TEST_END;
  }
}

export interface SourceExifr {
  exifr: ExifrInstance;
  reader: { limitReached: boolean; bytesRead: number };
}

/**
 * An Exifr instance whose file is the source, first chunk already read.
 * `maxBytes` caps the highest byte offset exifr may read.
 */
export async function openExifr(
  source: RandomAccessSource,
  options: object,
  settings: { maxBytes?: number; abortSignal?: AbortSignal } = {},
): Promise<SourceExifr> {
  const instance = new lib.Exifr({
    ...options,
    chunked: true,
    firstChunkSize: MEDIA_LIMITS.metadataChunkBytes,
    chunkSize: MEDIA_LIMITS.metadataChunkBytes,
    chunkLimit: Math.ceil((settings.maxBytes ?? LIMITS.maxMetadataBytes) / MEDIA_LIMITS.metadataChunkBytes),
  });
  const reader = new SourceReader(source, instance.options, settings.maxBytes ?? LIMITS.maxMetadataBytes, settings.abortSignal);
  await reader.read();
  instance.file = reader;
  if (reader.byteLength >= 4) {
    const marker = reader.getUint16(0);
    for (const [type, Parser] of [
      ['jpeg', CorrectedJpeg],
      ['heic', CorrectedHeic],
      ['avif', CorrectedAvif],
      ['png', CorrectedPng],
    ] as Array<[string, HeifParserCtor | PngParserCtor | JpegParserCtor]>) {
      if (Parser.canHandle(reader, marker)) {
        instance.fileParser = new Parser(instance.options, reader, instance.parsers);
        // What exifr's setup() would mark: extractThumbnail finds a JPEG's EXIF only with file.jpeg set.
        (reader as unknown as Record<string, unknown>)[type] = true;
        break;
      }
    }
  }
  // Throws "Unknown file format" for bytes no parser handles, as parse() would.
  instance.setup();
  useSegmentOverrides(instance);
  return { exifr: instance, reader };
}

/** Segment parsers for this instance only (exifr's global registry stays untouched). */
function useSegmentOverrides(instance: ExifrInstance): void {
  const fileParser = instance.fileParser as { options: unknown; file: unknown; parsers: Record<string, unknown>; createParser: (type: string, chunk: unknown) => unknown };
  fileParser.createParser = (type: string, chunk: unknown) => {
    const Parser = SEGMENT_OVERRIDES[type] ?? (lib.segmentParsers.get(type) as SegmentParserCtor);
    const parser = new Parser(chunk, fileParser.options, fileParser.file);
    fileParser.parsers[type] = parser;
    return parser;
  };
}

/**
 * Every message exifr recorded: its own (file parser, failed segments) and
 * those each segment parser kept for itself, which exifr never reports (an
 * unreadable Exif or GPS IFD vanished without a word).
 */
export function exifrMessages(instance: ExifrInstance, output: Record<string, unknown> | undefined): string[] {
  const messages: string[] = [];
  const own = output?.errors;
  if (Array.isArray(own)) for (const e of own) messages.push(e instanceof Error ? e.message : String(e));
  for (const [type, parser] of Object.entries(instance.parsers)) {
    const errors = (parser as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const e of errors) messages.push(`${type}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return [...new Set(messages)];
}
