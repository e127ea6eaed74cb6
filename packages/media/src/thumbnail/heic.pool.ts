import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

/**
 * HEIC decoding in worker threads. libheif (wasm) decodes synchronously on the
 * thread that calls it: a 12-MP iPhone photo holds that thread for hundreds of
 * milliseconds, and an extraction from a phone is mostly HEIC, so on the main
 * thread it would stall queue receipt, the HTTP API and lock renewals.
 *
 * The worker source is inline and loads heic-decode by the absolute path the
 * main thread resolved, so it runs the same under tsx, vitest and the esbuild
 * bundle of functions/ (where heic-decode is external and no second entry file
 * exists next to the bundle).
 *
 * A worker holds one file at a time, so a thread that dies can be blamed on the
 * file it held: it is retried once in a fresh thread (the death may have had
 * another cause), and a second death is the file's 'decode-failed'. The
 * messages and codes below are those decodeHeic has always had.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const message = (err) => String((err && err.message) || err);
// libheif-js prints the parse errors of hostile files with console.log (bound
// when it loads); its failures reach the pool as replies, so it is silenced.
// (Reading the thread's stdout from the parent instead would keep an idle
// process alive.)
for (const name of ['log', 'info', 'warn', 'error', 'debug']) console[name] = () => {};
let decode;
try {
  decode = require(workerData.heicDecodePath);
} catch (err) {
  parentPort.postMessage({ op: 'unavailable', message: message(err) });
}
if (decode) {
  parentPort.postMessage({ op: 'ready' });
  const fail = (id, code, text, cause) => parentPort.postMessage({ op: 'failed', id, code, message: text, cause });
  parentPort.on('message', async ({ id, input, maxPixels }) => {
    let images;
    try {
      images = await decode.all({ buffer: new Uint8Array(input) });
    } catch (err) {
      fail(id, 'decode-failed', 'HEIF container unreadable: ' + message(err), message(err));
      return;
    }
    try {
      const first = images[0];
      if (!first) return fail(id, 'decode-failed', 'HEIF file holds no image');
      const { width, height } = first;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        return fail(id, 'decode-failed', 'HEIF image has invalid dimensions ' + width + 'x' + height);
      }
      if (width * height > maxPixels) {
        return fail(id, 'limit-exceeded', 'HEIF image is ' + width + 'x' + height + ' pixels, more than the ' + maxPixels + ' allowed');
      }
      let decoded;
      try {
        decoded = await first.decode();
      } catch (err) {
        return fail(id, 'decode-failed', 'HEIF image data could not be decoded: ' + message(err), message(err));
      }
      const data = decoded.data;
      if (data.byteLength !== decoded.width * decoded.height * 4) {
        return fail(id, 'decode-failed', 'HEIF decoder returned an unexpected amount of pixel data');
      }
      // heic-decode allocates the pixels as their own ArrayBuffer: moved, not copied.
      const pixels = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data.buffer : data.slice().buffer;
      parentPort.postMessage({ op: 'done', id, pixels, width: decoded.width, height: decoded.height }, [pixels]);
    } catch (err) {
      fail(id, 'decode-failed', 'HEIF decoding failed: ' + message(err), message(err));
    } finally {
      images.dispose();
    }
  });
}
`;

type Reply =
  | { op: 'ready' }
  | { op: 'unavailable'; message: string }
  | { op: 'done'; id: number; pixels: ArrayBuffer; width: number; height: number }
  | { op: 'failed'; id: number; code: 'decode-failed' | 'limit-exceeded'; message: string; cause?: string };

export interface RawImage {
  /** Interleaved RGBA, 8 bits per channel. */
  data: Buffer;
  width: number;
  height: number;
}

export interface HeicDecodeOptions {
  maxPixels: number;
  /** The decode itself (not the wait for a free thread); past it the thread is stopped and the file fails with 'limit-exceeded'. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
}

interface Job {
  readonly id: number;
  readonly bytes: Buffer;
  readonly options: HeicDecodeOptions;
  /** Deaths of a thread while it was decoding this file. */
  deaths: number;
  slot: Slot | undefined;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
  resolve(image: RawImage): void;
  reject(err: Error): void;
}

interface Slot {
  readonly worker: Worker;
  /** heic-decode is loaded: a death from now on happened while decoding. */
  ready: boolean;
  job: Job | undefined;
}

/** Crashes of a decoder thread on one file after which the file itself is blamed. */
const DEATHS_BEFORE_BLAME = 2;

export interface HeicDecoderPoolOptions {
  /** Threads, started when needed. */
  size: number;
  /** A thread that decoded an image larger than this is replaced, which frees its wasm heap. */
  keepMaxPixels?: number;
}

export class HeicDecoderPool {
  private readonly slots: Array<Slot | undefined>;
  private readonly keepMaxPixels: number;
  private readonly queue: Job[] = [];
  private nextId = 1;

  constructor(
    private readonly heicDecodePath: string,
    options: HeicDecoderPoolOptions,
  ) {
    this.slots = Array.from({ length: Math.max(1, options.size) }, () => undefined);
    this.keepMaxPixels = options.keepMaxPixels ?? MEDIA_LIMITS.heicThreadKeepMaxPixels;
  }

  decode(bytes: Buffer, options: HeicDecodeOptions): Promise<RawImage> {
    if (options.abortSignal?.aborted) return Promise.reject(new ExhibitError('aborted', 'HEIF decoding aborted'));
    return new Promise<RawImage>((resolve, reject) => {
      const job: Job = { id: this.nextId++, bytes, options, deaths: 0, slot: undefined, timer: undefined, onAbort: undefined, resolve, reject };
      if (options.abortSignal) {
        job.onAbort = () => this.abort(job);
        options.abortSignal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** The threads that are decoding a file right now (tests stop them to play a crash). */
  decodingWorkers(): Worker[] {
    return this.slots.flatMap((s) => (s?.ready && s.job ? [s.worker] : []));
  }

  /**
   * The threads that hold a file, started or still starting. Set synchronously by
   * decode(), so a test can tell that two files went to two threads without racing
   * the decodes themselves (on a loaded machine one can finish before the other's
   * thread has even loaded).
   */
  busyWorkers(): Worker[] {
    return this.slots.flatMap((s) => (s?.job ? [s.worker] : []));
  }

  /** Stops every thread; queued and running decodes fail with 'aborted'. */
  async close(): Promise<void> {
    const jobs = [...this.queue.splice(0), ...this.slots.flatMap((s) => (s?.job ? [s.job] : []))];
    const workers = this.slots.flatMap((s) => (s ? [s.worker] : []));
    this.slots.fill(undefined);
    for (const job of jobs) this.settle(job, new ExhibitError('aborted', 'HEIF decoder pool closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      // An idle thread first; a new one only when none is idle.
      let index = this.slots.findIndex((s) => s !== undefined && s.job === undefined);
      if (index === -1) index = this.slots.findIndex((s) => s === undefined);
      if (index === -1) return;
      this.start(index, this.queue.shift()!);
    }
  }

  private start(index: number, job: Job): void {
    const slot = this.slots[index] ?? this.spawn(index);
    slot.job = job;
    job.slot = slot;
    // Referenced only while it holds a file: a process waiting on a decode must not
    // exit, an idle decoder thread must not keep a CLI or a test process alive.
    slot.worker.ref();
    // The caller keeps its bytes (the thumbnail falls back to sharp and the EXIF
    // preview), so the thread gets a copy it owns, moved rather than cloned again.
    const input = new ArrayBuffer(job.bytes.byteLength);
    new Uint8Array(input).set(job.bytes);
    slot.worker.postMessage({ id: job.id, input, maxPixels: job.options.maxPixels }, [input]);
    job.timer = setTimeout(() => {
      this.retire(slot);
      this.settle(job, new ExhibitError('limit-exceeded', `HEIF decoding took longer than ${job.options.timeoutMs} ms and was stopped`));
      this.pump();
    }, job.options.timeoutMs);
  }

  private spawn(index: number): Slot {
    // No execArgv: the parent's flags (`--input-type=module` of `node -e`, a tsx
    // loader) would turn the CommonJS source into a module or load it needlessly.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { heicDecodePath: this.heicDecodePath },
    });
    worker.unref();
    const slot: Slot = { worker, ready: false, job: undefined };
    worker.on('message', (reply: Reply) => this.onReply(slot, reply));
    worker.on('error', (err) => this.onDeath(slot, err));
    worker.on('exit', (code) => this.onDeath(slot, new Error(`exit code ${code}`)));
    this.slots[index] = slot;
    return slot;
  }

  private onReply(slot: Slot, reply: Reply): void {
    if (!this.slots.includes(slot)) return;
    if (reply.op === 'ready') {
      slot.ready = true;
      return;
    }
    const job = slot.job;
    if (reply.op === 'unavailable') {
      this.retire(slot);
      if (job) this.settle(job, new ExhibitError('tool-unavailable', `heic-decode cannot be loaded: ${reply.message}`));
      this.pump();
      return;
    }
    if (!job || reply.id !== job.id) return;
    slot.job = undefined;
    if (reply.op === 'done' && reply.width * reply.height > this.keepMaxPixels) this.retire(slot);
    else slot.worker.unref();
    if (reply.op === 'done') {
      this.settle(job, { data: Buffer.from(reply.pixels, 0, reply.pixels.byteLength), width: reply.width, height: reply.height });
    } else {
      this.settle(job, new ExhibitError(reply.code, reply.message, reply.cause === undefined ? {} : { cause: new Error(reply.cause) }));
    }
    this.pump();
  }

  private onDeath(slot: Slot, err: Error): void {
    // 'error' and 'exit' both arrive for one death; a retired thread is already forgotten.
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    this.slots[index] = undefined;
    const job = slot.job;
    if (job) {
      clearTimeout(job.timer);
      job.slot = undefined;
      if (!slot.ready) {
        this.settle(job, new ExhibitError('tool-unavailable', `HEIF decoder thread stopped while starting: ${err.message}`, { cause: err }));
      } else if (++job.deaths >= DEATHS_BEFORE_BLAME) {
        this.settle(job, new ExhibitError('decode-failed', `HEIF decoder thread died on this file ${job.deaths} times (${err.message})`, { cause: err }));
      } else {
        // Back to the head of the queue: the next free slot starts a fresh thread for it.
        this.queue.unshift(job);
      }
    }
    this.pump();
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    // A thread cannot be interrupted inside libheif, only stopped; a fresh one replaces it.
    if (job.slot) this.retire(job.slot);
    this.settle(job, new ExhibitError('aborted', 'HEIF decoding aborted'));
    this.pump();
  }

  /** Forgets a thread and stops it; its 'exit' then finds nothing to do. */
  private retire(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index !== -1) this.slots[index] = undefined;
    if (slot.job) slot.job.slot = undefined;
    slot.job = undefined;
    void slot.worker.terminate().catch(() => undefined);
  }

  private settle(job: Job, result: RawImage | Error): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    job.slot = undefined;
    if (job.onAbort) job.options.abortSignal?.removeEventListener('abort', job.onAbort);
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
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
