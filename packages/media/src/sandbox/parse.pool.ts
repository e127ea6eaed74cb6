import os from 'node:os';
import { ExhibitError, LIMITS, type ContentFinding, type IdentificationResult, type RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { DeadlineWorkerPool, workerEntryBeside, type ServeResult, type WorkerEntry } from '@exhibit/core/deadline-pool';
import type { PixelSize } from '../metadata/pixel-size.js';
import type { VideoXmpRead } from '../metadata/video-xmp.reader.js';
import type { HeifTransforms } from '../thumbnail/heif-transforms.js';
import type { ExifPreviewOutput, ExifrTaskInput, ExifrTaskOutput, FileTypeOutput, Id3FramesInput, IdentifyInput, PixelSizeInput, RangeRequest, TrailingDataInput } from './parse.tasks.js';

/**
 * The process's parser threads (parse.worker.ts): every exifr and file-type
 * call on evidence bytes goes through here, with a time budget and a heap
 * limit, so one file can fail only itself (@exhibit/core/deadline-pool says how).
 */

/** The parser thread's module, parse.worker.ts (dist/parse.worker.js in the Functions bundle). */
export function parseWorkerEntry(): WorkerEntry {
  return workerEntryBeside(import.meta.url, 'parse.worker');
}

export function createParsePool(size: number = Math.min(MEDIA_LIMITS.parseThreads, os.availableParallelism())): DeadlineWorkerPool {
  return new DeadlineWorkerPool({
    entry: parseWorkerEntry(),
    size,
    resourceLimits: {
      maxOldGenerationSizeMb: MEDIA_LIMITS.parseThreadHeapMb,
      maxYoungGenerationSizeMb: MEDIA_LIMITS.parseThreadYoungHeapMb,
      stackSizeMb: 4,
    },
    startTimeoutMs: MEDIA_LIMITS.parseThreadStartTimeoutMs,
  });
}

let shared: DeadlineWorkerPool | undefined;

/** The shared parser threads, started on first use. */
export function parsePool(): DeadlineWorkerPool {
  shared ??= createParsePool();
  return shared;
}

/** Stops the shared parser threads (tests; a process that exits needs nothing: idle threads are unref'd). */
export async function closeParsePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  if (pool) await pool.close();
}

export interface SandboxOptions {
  abortSignal?: AbortSignal;
  /** Parser time budget; MEDIA_LIMITS.parseTimeoutMs by default. */
  timeoutMs?: number;
  /** Another pool (tests). */
  pool?: DeadlineWorkerPool;
}

/** Serves the worker's byte-range requests from `source`, never past `maxBytes` of it. */
function rangeServer(source: RandomAccessSource, maxBytes: number) {
  return async (request: unknown, options: { abortSignal?: AbortSignal }): Promise<ServeResult> => {
    const { offset, length } = request as RangeRequest;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > maxBytes) {
      throw new ExhibitError('invalid-argument', `parser thread asked for bytes ${offset}+${length}, outside the ${maxBytes} bytes it may read`);
    }
    const chunk = await source.read(offset, length, options);
    // A copy the thread owns, moved rather than cloned (a Buffer may share its memory with others).
    const bytes = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    return { value: bytes, transfer: [bytes] };
  };
}

function runOptions(label: string, options: SandboxOptions) {
  return {
    label,
    timeoutMs: options.timeoutMs ?? MEDIA_LIMITS.parseTimeoutMs,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  };
}

/** exifr's output for `source` with `exifrOptions`, parsed in a parser thread over ranged reads of at most `maxBytes`. */
export function parseExifrSandboxed(
  source: RandomAccessSource,
  exifrOptions: object,
  options: SandboxOptions & { maxBytes?: number } = {},
): Promise<ExifrTaskOutput> {
  const maxBytes = options.maxBytes ?? LIMITS.maxMetadataBytes;
  const input: ExifrTaskInput = { name: source.name, size: source.size, options: exifrOptions, maxBytes };
  // The reader may ask for up to a chunk past the cap (it clips what it keeps).
  const served = Math.min(source.size, maxBytes);
  return (options.pool ?? parsePool()).run<ExifrTaskOutput>('exifr', input, {
    ...runOptions('image metadata parser', options),
    serve: rangeServer(source, served),
  });
}

/**
 * A WebP's EXIF chunk read by exifr (metadata/webp-exif.reader.ts), in a parser
 * thread over windowed ranged reads of at most `maxBytes`; null when the file
 * has none.
 */
export function parseWebpExifSandboxed(
  source: RandomAccessSource,
  exifrOptions: object,
  options: SandboxOptions & { maxBytes?: number } = {},
): Promise<ExifrTaskOutput | null> {
  const maxBytes = options.maxBytes ?? LIMITS.maxMetadataBytes;
  const input: ExifrTaskInput = { name: source.name, size: source.size, options: exifrOptions, maxBytes };
  return (options.pool ?? parsePool()).run<ExifrTaskOutput | null>('webp-exif', input, {
    ...runOptions('WebP EXIF parser', options),
    serve: rangeServer(source, Math.min(source.size, maxBytes)),
  });
}

/** The image's pixel size from its own header (metadata/pixel-size.ts), read in a parser thread over ranged reads of at most `maxBytes`. */
export function pixelSizeSandboxed(source: RandomAccessSource, options: SandboxOptions & { maxBytes: number }): Promise<PixelSize | null> {
  const input: PixelSizeInput = { name: source.name, size: source.size, maxBytes: options.maxBytes };
  return (options.pool ?? parsePool()).run<PixelSize | null>('pixel-size', input, {
    ...runOptions('image size reader', options),
    serve: rangeServer(source, Math.min(source.size, options.maxBytes)),
  });
}

/** The EXIF preview (IFD1 thumbnail) of an image in memory and the main image's orientation, parsed in a parser thread. */
export async function exifPreviewSandboxed(bytes: Buffer, options: SandboxOptions = {}): Promise<{ preview?: Buffer; orientation?: number }> {
  const source: RandomAccessSource = {
    name: 'image',
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(offset + length, bytes.length)),
    url: async () => {
      throw new Error('no URL for bytes in memory');
    },
  };
  const result = await (options.pool ?? parsePool()).run<ExifPreviewOutput>('exif-preview', { name: source.name, size: source.size }, {
    ...runOptions('EXIF preview parser', options),
    serve: rangeServer(source, bytes.length),
  });
  return {
    ...(result.preview ? { preview: Buffer.from(result.preview) } : {}),
    ...(result.orientation !== undefined ? { orientation: result.orientation } : {}),
  };
}

/** The identification of `source` (identify-source.ts: file-type, format checks, tail), found in a parser thread. */
export function identifySandboxed(source: RandomAccessSource, options: SandboxOptions = {}): Promise<IdentificationResult> {
  const input: IdentifyInput = { name: source.name, size: source.size };
  return (options.pool ?? parsePool()).run<IdentificationResult>('identify', input, {
    ...runOptions('file identification', options),
    serve: rangeServer(source, source.size),
  });
}

/**
 * The ID3v2 frames at an audio file's start and in its WAV/AIFF chunks, up to `limit` + 1
 * (metadata/id3-frames.ts), counted in a parser thread: a walk of headers the file states.
 */
export function id3FramesSandboxed(source: RandomAccessSource, limit: number, options: SandboxOptions = {}): Promise<number> {
  const input: Id3FramesInput = { name: source.name, size: source.size, limit };
  return (options.pool ?? parsePool()).run<number>('id3-frames', input, {
    ...runOptions('ID3 frame count', options),
    serve: rangeServer(source, source.size),
  });
}

/**
 * A QuickTime/MP4 video's XMP capture dates (metadata/video-xmp.reader.ts): its boxes walked and its packets
 * parsed in a parser thread, under its deadline, never on the main event loop.
 */
export function videoXmpSandboxed(source: RandomAccessSource, options: SandboxOptions = {}): Promise<VideoXmpRead> {
  const input: IdentifyInput = { name: source.name, size: source.size };
  return (options.pool ?? parsePool()).run<VideoXmpRead>('video-xmp', input, {
    ...runOptions('video XMP reader', options),
    serve: rangeServer(source, source.size),
  });
}

/** Whether an ISO-BMFF file's tracks include video (iso-bmff-tracks.ts, holdsVideoTrack), found in a parser thread. */
export function videoTrackSandboxed(source: RandomAccessSource, options: SandboxOptions = {}): Promise<boolean> {
  const input: IdentifyInput = { name: source.name, size: source.size };
  return (options.pool ?? parsePool()).run<boolean>('video-track', input, {
    ...runOptions('track walk', options),
    serve: rangeServer(source, source.size),
  });
}

/** A finding about bytes after the end of a JPEG, PNG or GIF held in memory (polyglot.ts), found in a parser thread. */
export function trailingDataSandboxed(bytes: Buffer, options: SandboxOptions = {}): Promise<ContentFinding | null> {
  // Cloned, not moved: a task whose thread died is sent again, and the caller keeps its bytes.
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (options.pool ?? parsePool()).run<ContentFinding | null>('trailing-data', { bytes: copy } satisfies TrailingDataInput, runOptions('image end scan', options));
}

/** A HEIF's own rotation and mirror (thumbnail/heif-transforms.ts), found in a parser thread. */
export function heifTransformsSandboxed(bytes: Buffer, options: SandboxOptions = {}): Promise<HeifTransforms | null> {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (options.pool ?? parsePool()).run<HeifTransforms | null>('heif-transforms', { bytes: copy } satisfies TrailingDataInput, runOptions('HEIF transform reader', options));
}

/** Whether a HEIF declares a still image item (thumbnail/heif-still-item.ts), found in a parser thread. */
export function heifStillItemSandboxed(bytes: Buffer, options: SandboxOptions = {}): Promise<boolean> {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (options.pool ?? parsePool()).run<boolean>('heif-still-item', { bytes: copy } satisfies TrailingDataInput, runOptions('HEIF still item check', options));
}

/** file-type's verdict on the head of a file, found in a parser thread. */
export function fileTypeSandboxed(head: Buffer, options: SandboxOptions = {}): Promise<FileTypeOutput> {
  // Cloned, not moved: a task whose thread died is sent again.
  const copy = head.buffer.slice(head.byteOffset, head.byteOffset + head.byteLength) as ArrayBuffer;
  return (options.pool ?? parsePool()).run<FileTypeOutput>('file-type', { head: copy }, runOptions('file type detection', options));
}
