import { createRequire } from 'node:module';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { DeadlineWorkerPool, workerEntryBeside, type WorkerEntry } from '@exhibit/core/deadline-pool';
import { MEDIA_LIMITS } from '../media-limits.js';
import type { HeicDecodeInput, HeicDecodeOutput } from './heic.tasks.js';

/**
 * HEIC decoding in worker threads of a DeadlineWorkerPool
 * (@exhibit/core/deadline-pool). libheif (wasm) decodes synchronously on the
 * thread that calls it: a 12-MP iPhone photo holds that thread for hundreds of
 * milliseconds, and an extraction from a phone is mostly HEIC, so on the main
 * thread it would stall queue receipt, the HTTP API and lock renewals. A
 * crafted file that makes libheif loop or die holds or kills only its thread.
 *
 * The pool's rules apply (one file per thread, a death retried once in a fresh
 * thread, a thread referenced only while it holds a file), with the failures
 * decodeHeic has always had: a decode past its budget is 'limit-exceeded', a
 * file on which a thread died twice is 'decode-failed', each with a message
 * that carries no timing, so the same file gives the same reason every run.
 * A thread that decoded a large image is replaced (its wasm heap never shrinks).
 */

/** The decoder thread's module, heic.worker.ts (dist/heic.worker.js in the Functions bundle). */
export function heicWorkerEntry(): WorkerEntry {
  return workerEntryBeside(import.meta.url, 'heic.worker');
}

export interface RawImage {
  /** Interleaved RGBA, 8 bits per channel. */
  data: Buffer;
  width: number;
  height: number;
}

export interface HeicDecodeOptions {
  maxPixels: number;
  /** The decode itself (not the wait for a free thread, nor a thread's start); past it the thread is stopped and the file fails with 'limit-exceeded'. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
}

export interface HeicDecoderPoolOptions {
  /** Threads, started when needed. */
  size: number;
  /** A thread that decoded an image larger than this is replaced, which frees its wasm heap. */
  keepMaxPixels?: number;
  /** Another thread module (tests: one that misbehaves on purpose). */
  entry?: WorkerEntry;
}

export class HeicDecoderPool {
  private readonly pool: DeadlineWorkerPool;
  private readonly keepMaxPixels: number;

  constructor(heicDecodePath: string, options: HeicDecoderPoolOptions) {
    this.keepMaxPixels = options.keepMaxPixels ?? MEDIA_LIMITS.heicThreadKeepMaxPixels;
    this.pool = new DeadlineWorkerPool({
      entry: options.entry ?? heicWorkerEntry(),
      size: options.size,
      // libheif's memory is wasm memory, outside the V8 heap limits; its growth is bounded by the pixel limit and the recycling.
      resourceLimits: {},
      startTimeoutMs: MEDIA_LIMITS.parseThreadStartTimeoutMs,
      workerData: { heicDecodePath },
    });
  }

  async decode(bytes: Buffer, options: HeicDecodeOptions): Promise<RawImage> {
    // The caller keeps its bytes (the thumbnail falls back to sharp and the EXIF
    // preview): the thread gets a copy (sent again if its first thread dies).
    const input: HeicDecodeInput = { bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, maxPixels: options.maxPixels };
    const out = await this.pool.run<HeicDecodeOutput>('heic-decode', input, {
      label: 'HEIF decoding',
      timeoutMs: options.timeoutMs,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      recycleThread: (value) => {
        const { width, height } = value as HeicDecodeOutput;
        return width * height > this.keepMaxPixels;
      },
      timeoutError: () => new ExhibitError('limit-exceeded', `HEIF decoding took longer than ${options.timeoutMs} ms and was stopped`),
      crashError: (cause, err) => new ExhibitError('decode-failed', `HEIF decoder thread died on this file 2 times (${cause})`, { cause: err }),
    });
    return { data: Buffer.from(out.pixels, 0, out.pixels.byteLength), width: out.width, height: out.height };
  }

  /** The threads that are decoding a file right now (tests stop them to play a crash). */
  decodingWorkers(): Worker[] {
    return this.pool.busyWorkers();
  }

  /**
   * The threads that hold a file, started or still starting. Set synchronously by
   * decode(), so a test can tell that two files went to two threads without racing
   * the decodes themselves (on a loaded machine one can finish before the other's
   * thread has even loaded).
   */
  busyWorkers(): Worker[] {
    return this.pool.assignedWorkers();
  }

  /** Stops every thread; queued and running decodes fail with 'aborted'. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

let shared: HeicDecoderPool | undefined;

/** The process's decoder threads: at most two, started on the first HEIC. */
export function heicDecoderPool(): HeicDecoderPool {
  if (shared) return shared;
  let heicDecodePath: string;
  try {
    heicDecodePath = createRequire(import.meta.url).resolve('heic-decode');
  } catch (err) {
    throw new ExhibitError('tool-unavailable', `heic-decode is not installed: ${errorMessage(err)}`, { cause: err });
  }
  shared = new HeicDecoderPool(heicDecodePath, { size: Math.min(2, os.availableParallelism()) });
  return shared;
}

/** Stops the shared decoder threads (tests; a process that exits needs nothing: idle threads are unref'd). */
export async function closeHeicDecoderPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  if (pool) await pool.close();
}
