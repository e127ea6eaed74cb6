import { FileTypeParser } from 'file-type';
import exifr from 'exifr';
import { ExhibitError, isExhibitError, type RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { exifrMessages, openExifr } from '../metadata/exifr-source.js';
import { readPixelSize } from '../metadata/pixel-size.js';
import { findWebpExifChunk, subSource } from '../metadata/webp-exif.reader.js';
import { serveTasks, type TaskContext } from '@exhibit/core/worker-runtime';
import { identifyFromSource } from '../identify/identify-source.js';
import { holdsVideoTrack } from '../identify/iso-bmff-tracks.js';
import { id3FrameCount } from '../metadata/id3-frames.js';
import { readVideoXmp } from '../metadata/video-xmp.reader.js';
import { heifTransforms } from '../thumbnail/heif-transforms.js';
import { declaresStillItem } from '../thumbnail/heif-still-item.js';
import { imageEnd, trailingDataFinding } from '../identify/polyglot.js';
import type { ExifPreviewInput, ExifrTaskInput, ExifrTaskOutput, FileTypeInput, Id3FramesInput, IdentifyInput, PixelSizeInput, RangeRequest, TrailingDataInput } from './parse.tasks.js';

/**
 * The parser thread (started by parse.pool.ts): exifr and file-type run here,
 * never on the main thread. Bytes come from the main thread, range by range,
 * as exifr asks for them: the source, its limits and its abort signal stay
 * there, and the thread holds only what the parser reads.
 */

/** The file as the main thread serves it. */
class RemoteSource implements RandomAccessSource {
  constructor(
    private readonly context: TaskContext,
    readonly name: string,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const request: RangeRequest = { offset, length };
    const bytes = (await this.context.request(request)) as ArrayBuffer;
    return Buffer.from(bytes);
  }

  async url(): Promise<string> {
    throw new Error('a parser thread has no URL of the file');
  }
}

/**
 * exifr's output as the main thread should receive it: each byte value its
 * own small buffer (a view would drag the whole read chunk, up to
 * LIMITS.maxMetadataBytes, across with it), and no more values than
 * MEDIA_LIMITS.maxParsedValues in all, so a file cannot make the main thread
 * hold what the parser thread's heap limit allowed. Values are kept exactly
 * or the parse fails; nothing is cut short.
 */
function compact(output: Record<string, unknown>): Record<string, unknown> {
  let values = 0;
  const count = (n: number) => {
    values += n;
    if (values > MEDIA_LIMITS.maxParsedValues) {
      throw new ExhibitError('limit-exceeded', `image metadata holds more than ${MEDIA_LIMITS.maxParsedValues} values`);
    }
  };
  const walk = (value: unknown): unknown => {
    count(1);
    if (typeof value === 'string') {
      count(Math.floor(value.length / 64));
      return value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (ArrayBuffer.isView(value)) {
      count(Math.floor(value.byteLength / 64));
      // Same type, own buffer (a Buffer arrives as a Uint8Array, as it would cloned).
      const own = (value.buffer as ArrayBuffer).slice(value.byteOffset, value.byteOffset + value.byteLength);
      if (value instanceof DataView) return new DataView(own);
      if (Buffer.isBuffer(value)) return new Uint8Array(own);
      return new (value.constructor as new (buffer: ArrayBuffer) => ArrayBufferView)(own);
    }
    if (value instanceof ArrayBuffer) return value.slice(0);
    if (Array.isArray(value)) return value.map(walk);
    if (value instanceof Date || value instanceof Error) return value;
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) Object.defineProperty(out, String(k), { value: walk(v), enumerable: true, writable: true, configurable: true });
    return out;
  };
  return walk(output) as Record<string, unknown>;
}

async function fileTypeOfHead(head: Buffer): Promise<{ ext: string; mime: string } | null> {
  try {
    const result = await new FileTypeParser().fromBuffer(new Uint8Array(head.buffer, head.byteOffset, head.byteLength));
    return result ? { mime: result.mime, ext: result.ext } : null;
  } catch {
    // file-type only throws on reads past the end of a truncated structure; that is "unknown".
    return null;
  }
}

const lib = exifr as unknown as { thumbnailOnlyOptions: object; orientationOnlyOptions: object };

serveTasks({
  /** exifr's output object as it is; the main thread maps it (exif.metadata.ts). */
  async exifr(input, context) {
    const { name, size, options, maxBytes } = input as ExifrTaskInput;
    const opened = await openExifr(new RemoteSource(context, name, size), options, { maxBytes });
    const output = await opened.exifr.parse();
    const messages = exifrMessages(opened.exifr, output);
    return { value: { output: output === undefined ? undefined : compact(output), limitReached: opened.reader.limitReached, messages } };
  },

  /**
   * A WebP's EXIF chunk (webp-exif.reader.ts) read by exifr as a TIFF source;
   * null when there is none. A chunk exifr cannot read, or a walk stopped at
   * MEDIA_LIMITS.maxWebpChunks, is a message: a partial read, never hidden.
   */
  async 'webp-exif'(input, context) {
    const { name, size, options, maxBytes } = input as ExifrTaskInput;
    const source = new RemoteSource(context, name, size);
    const found = await findWebpExifChunk(source, maxBytes);
    if (found.kind === 'none') return { value: null };
    if (found.kind === 'stopped' || found.kind === 'capped') {
      const message =
        found.kind === 'stopped'
          ? `WebP: no EXIF chunk in the first ${found.chunks} chunks; the rest were not walked`
          : `WebP: its VP8X flags say it has EXIF, but no EXIF chunk starts within the first ${found.bytes} bytes read`;
      return { value: { output: undefined, limitReached: false, messages: [message] } satisfies ExifrTaskOutput };
    }
    try {
      const opened = await openExifr(subSource(source, found.start, found.length), options, { maxBytes });
      const output = await opened.exifr.parse();
      const messages = exifrMessages(opened.exifr, output);
      if (found.cutAtCap) messages.push(`WebP: the EXIF chunk runs past the ${maxBytes} bytes read; the rest of it was not read`);
      return { value: { output: output === undefined ? undefined : compact(output), limitReached: opened.reader.limitReached, messages } satisfies ExifrTaskOutput };
    } catch (err) {
      if (isExhibitError(err)) throw err;
      // An EXIF chunk exifr cannot read at all: the image still has its size; the reason is kept.
      const message = `WebP EXIF chunk unreadable: ${err instanceof Error ? err.message : String(err)}`;
      return { value: { output: undefined, limitReached: false, messages: [message] } satisfies ExifrTaskOutput };
    }
  },

  /** The image's real pixel size from its own header (pixel-size.ts walks segments and boxes read from the file). */
  async 'pixel-size'(input, context) {
    const { name, size, maxBytes } = input as PixelSizeInput;
    return { value: await readPixelSize(new RemoteSource(context, name, size), { maxBytes }) };
  },

  /** What exifr.thumbnail() and exifr.orientation() read, through the corrected HEIF parser. */
  async 'exif-preview'(input, context) {
    const { name, size } = input as ExifPreviewInput;
    const source = new RemoteSource(context, name, size);
    const thumbnail = await openExifr(source, lib.thumbnailOnlyOptions, { maxBytes: size });
    const preview = await thumbnail.exifr.extractThumbnail();
    if (!preview || preview.byteLength === 0) return { value: {} };
    const oriented = await openExifr(source, lib.orientationOnlyOptions, { maxBytes: size });
    const output = (await oriented.exifr.parse()) as { ifd0?: Record<number, unknown> } | undefined;
    const orientation = output?.ifd0?.[274];
    const bytes = preview.slice().buffer;
    return { value: { preview: bytes, ...(typeof orientation === 'number' ? { orientation } : {}) }, transfer: [bytes] };
  },

  async 'file-type'(input) {
    const { head } = input as FileTypeInput;
    return { value: await fileTypeOfHead(Buffer.from(head)) };
  },

  /** The whole identification (identify-source.ts): file-type, then the format checks and the tail. */
  async identify(input, context) {
    const { name, size } = input as IdentifyInput;
    return { value: await identifyFromSource(new RemoteSource(context, name, size), fileTypeOfHead) };
  },

  /** The ID3v2 frames ffmpeg would read (id3-frames.ts walks tag and RIFF/AIFF chunk headers by ranged reads). */
  async 'id3-frames'(input, context) {
    const { name, size, limit } = input as Id3FramesInput;
    return { value: await id3FrameCount(new RemoteSource(context, name, size), limit) };
  },

  /** A QuickTime/MP4 video's XMP capture dates (video-xmp.reader.ts walks its boxes and parses the packets here). */
  async 'video-xmp'(input, context) {
    const { name, size } = input as IdentifyInput;
    return { value: await readVideoXmp(new RemoteSource(context, name, size)) };
  },

  /** Whether an ISO-BMFF file's tracks include video (iso-bmff-tracks.ts walks its boxes by ranged reads). */
  async 'video-track'(input, context) {
    const { name, size } = input as IdentifyInput;
    return { value: await holdsVideoTrack(new RemoteSource(context, name, size)) };
  },

  /** A HEIF's rotation and mirror on its primary item (heif-transforms.ts walks its boxes). */
  async 'heif-transforms'(input) {
    return { value: heifTransforms(Buffer.from((input as TrailingDataInput).bytes)) };
  },

  /** Whether a HEIF declares a still image item (heif-still-item.ts walks its top-level boxes). */
  async 'heif-still-item'(input) {
    return { value: declaresStillItem(Buffer.from((input as TrailingDataInput).bytes)) };
  },

  /** Where a JPEG, PNG or GIF ends by its own structure, and what follows it. */
  async 'trailing-data'(input) {
    const bytes = Buffer.from((input as TrailingDataInput).bytes);
    const end = imageEnd(bytes);
    return { value: end ? trailingDataFinding(end, bytes) : null };
  },
});
