import { FileTypeParser } from 'file-type';
import exifr from 'exifr';
import type { RandomAccessSource } from '@exhibit/core';
import { openExifr } from '../metadata/exifr-source.js';
import { serveTasks, type TaskContext } from './worker-runtime.js';
import type { ExifPreviewInput, ExifrTaskInput, FileTypeInput, RangeRequest } from './parse.tasks.js';

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

const lib = exifr as unknown as { thumbnailOnlyOptions: object; orientationOnlyOptions: object };

serveTasks({
  /** exifr's output object as it is; the main thread maps it (exif.metadata.ts). */
  async exifr(input, context) {
    const { name, size, options, maxBytes } = input as ExifrTaskInput;
    const opened = await openExifr(new RemoteSource(context, name, size), options, { maxBytes });
    const output = await opened.exifr.parse();
    return { value: { output, limitReached: opened.reader.limitReached } };
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
    try {
      const result = await new FileTypeParser().fromBuffer(new Uint8Array(head));
      return { value: result ? { mime: result.mime, ext: result.ext } : null };
    } catch {
      // file-type only throws on reads past the end of a truncated structure; that is "unknown".
      return { value: null };
    }
  },
});
