import { performance } from 'node:perf_hooks';
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';
import { ExhibitError, type ExhibitErrorCode } from '../errors.js';
import type { ToMain, ToWorker, WireError } from './wire.js';

/**
 * Worker threads that run parsers of evidence bytes where a deadline can kill
 * them. A parser that loops on a structure read from a file (a zero-length
 * box, an IFD that points back at itself) holds the thread it runs on; on the
 * event loop that would stop every queue, lock renewal and API request of the
 * process for good, since no timer can fire. Here it holds one thread, which
 * the main thread stops when the task's budget runs out and replaces.
 *
 * One task per thread so a death can be blamed on the task it held; a thread
 * referenced only while it holds a task; a thread that dies is retried once in
 * a fresh thread (the death may have had another cause, e.g. the machine), a
 * second death is the file's failure. Besides:
 *
 * - The budget counts only the parser's own time. While the worker waits for
 *   bytes the main thread is fetching for it (`serve`), the clock is stopped,
 *   so slow storage is never blamed on a file; with several requests waiting
 *   at once it starts again only when the last is answered.
 * - Failures carry no timing: 'parse-timeout' names the budget, not the time
 *   taken; 'parse-crashed' names the cause class (memory limit or exit), so
 *   the same file gives the same recorded reason every run.
 * - Threads run with V8 heap limits (`resourceLimits`), so a parser that
 *   builds a huge structure from a count in a file dies alone instead of
 *   taking the process's memory.
 *
 * The main thread does only I/O for a task: it owns the source, its limits and
 * the abort signal, and answers the worker's byte-range requests.
 */

/** How a worker thread is started: a module file, or (from TypeScript sources) through tsx's loader. */
export interface WorkerEntry {
  /** The worker module. */
  url: URL;
  /** tsx's ESM API module, registered in the thread before `url` is imported (TypeScript sources only). */
  tsxApi?: string;
}

/**
 * The worker module `name` beside the module at `moduleUrl` (its import.meta.url):
 * from TypeScript sources (tsx, vitest) the .ts file, run through tsx's loader;
 * in the Functions bundle functions/scripts/build.mjs emits each worker as its
 * own entry, `<name>.js`, beside main.js. Built from a variable, not a relative
 * literal: build.mjs rewrites those into copied assets.
 */
export function workerEntryBeside(moduleUrl: string, name: string): WorkerEntry {
  if (moduleUrl.endsWith('.ts')) return { url: new URL(`./${name}.ts`, moduleUrl), tsxApi: import.meta.resolve('tsx/esm/api') };
  return { url: new URL(`./${name}.js`, moduleUrl) };
}

/** Loads tsx into the thread, then the TypeScript worker module; an error here is a thread that cannot start. */
const TSX_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import(workerData.tsxApi);
  register();
  await import(workerData.entry);
})().catch((err) => setImmediate(() => { throw err; }));
`;

export interface DeadlinePoolOptions {
  /** The module each thread runs; it calls serveTasks (worker-runtime.ts). */
  entry: WorkerEntry;
  /** Threads, started when needed. */
  size: number;
  /** V8 limits of each thread; a thread past them dies ('parse-crashed'). */
  resourceLimits: ResourceLimits;
  /** A thread that does not report ready within this many ms is a fault of the machine ('tool-unavailable'). */
  startTimeoutMs: number;
  /** Plain data every thread gets as its `workerData` (the HEIC decoder's: where heic-decode is installed). */
  workerData?: Record<string, unknown>;
}

export interface ServeResult {
  value: unknown;
  transfer?: Transferable[];
  /**
   * The task made progress (a disk image's entry listed, a chunk of a member
   * produced): its budget starts again in full. A task that lists a whole file
   * system is then bounded per step, so a parser stuck between two steps is
   * stopped, while a large image that keeps making progress is not. Byte
   * ranges served never renew it (a loop that only reads would never end).
   */
  renew?: boolean;
}

export interface RunOptions {
  /** Names the parser in failure messages: "<label> did not finish within …". */
  label: string;
  /** Budget of the worker's own time on this task (waits for `serve` excluded); past it the thread is stopped: 'parse-timeout'. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
  /** Answers a request the worker makes while it runs the task (byte ranges); rejecting ends the task with that error. */
  serve?(request: unknown, options: { abortSignal?: AbortSignal }): Promise<ServeResult>;
  /**
   * Asked when the task's thread died the first time: false blames the file
   * at once instead of running the task again. For tasks whose requests had
   * effects on the main thread (entries already handed on) that a fresh
   * start would repeat. Run again when absent.
   */
  mayRunAgain?(): boolean;
  /**
   * Asked with the task's value when it is done: true stops the thread
   * instead of keeping it for the next task (a decoder whose heap grew to
   * the largest image it decoded and never shrinks).
   */
  recycleThread?(value: unknown): boolean;
  /**
   * Told once, when the task settles (done, failed, out of time, aborted), how much parser time it took: the clock its
   * budget runs on (waits for `serve` excluded), every run of it counted when its thread died and it ran again. For a
   * caller whose several tasks share one budget of their own (a ZIP's chain search, zip.reader.ts).
   */
  usedMs?(ms: number): void;
  /**
   * A run after the task's thread died gets what its budget has left, never a fresh one (and the task fails out of time
   * when nothing is left): for a task whose budget is a share of its caller's own, which a re-run must not widen (a
   * window of a ZIP's chain search, zip.reader.ts). Absent, a re-run starts with the whole budget again.
   */
  budgetSpansRuns?: boolean;
  /** The task's own error for a budget that ran out, in place of 'parse-timeout' (the HEIC decoder's 'limit-exceeded'). Stable: no timings. */
  timeoutError?(): Error;
  /** The task's own error for a thread that died on it for good, in place of 'parse-crashed': `cause` is the death's stable cause class, `err` the death itself. */
  crashError?(cause: string, err: Error): Error;
}

interface Job {
  readonly id: number;
  readonly kind: string;
  readonly input: unknown;
  readonly options: RunOptions;
  deaths: number;
  slot: Slot | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Budget left; the clock runs only while the worker computes. */
  remainingMs: number;
  /** Parser time taken so far, over every run (RunOptions.usedMs). */
  usedMs: number;
  runningSince: number | undefined;
  /** Requests of the worker the main thread is still answering; the clock runs only while there are none. */
  waiting: number;
  onAbort: (() => void) | undefined;
  settled: boolean;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  job: Job | undefined;
  startTimer: NodeJS.Timeout | undefined;
}

/** Deaths of a thread on one task after which the file itself is blamed. */
const DEATHS_BEFORE_BLAME = 2;

export class DeadlineWorkerPool {
  private readonly slots: Array<Slot | undefined>;
  private readonly queue: Job[] = [];
  private nextId = 1;
  /** Threads started so far (tests check that a stopped thread was replaced). */
  started = 0;

  constructor(private readonly options: DeadlinePoolOptions) {
    this.slots = Array.from({ length: Math.max(1, options.size) }, () => undefined);
  }

  /** Runs `kind` on `input` in a thread; resolves with what the worker's handler returned. */
  run<T>(kind: string, input: unknown, options: RunOptions): Promise<T> {
    if (options.abortSignal?.aborted) return Promise.reject(new ExhibitError('aborted', `${options.label} aborted`));
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        kind,
        input,
        options,
        deaths: 0,
        slot: undefined,
        timer: undefined,
        remainingMs: options.timeoutMs,
        usedMs: 0,
        runningSince: undefined,
        waiting: 0,
        onAbort: undefined,
        settled: false,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      if (options.abortSignal) {
        job.onAbort = () => this.abort(job);
        options.abortSignal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** The threads holding a task right now (tests stop them to play a crash). */
  busyWorkers(): Worker[] {
    return this.slots.flatMap((s) => (s?.ready && s.job ? [s.worker] : []));
  }

  /**
   * The threads a task went to, started or still starting. Set synchronously
   * by run(), so a test can tell that two tasks went to two threads without
   * racing the tasks themselves.
   */
  assignedWorkers(): Worker[] {
    return this.slots.flatMap((s) => (s?.job ? [s.worker] : []));
  }

  /** Stops every thread; queued and running tasks fail with 'aborted'. */
  async close(): Promise<void> {
    const jobs = [...this.queue.splice(0), ...this.slots.flatMap((s) => (s?.job ? [s.job] : []))];
    const slots = this.slots.flatMap((s) => (s ? [s] : []));
    this.slots.fill(undefined);
    for (const job of jobs) this.settle(job, new ExhibitError('aborted', `${job.options.label} stopped: the parser threads were closed`));
    for (const slot of slots) clearTimeout(slot.startTimer);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let index = this.slots.findIndex((s) => s !== undefined && s.job === undefined);
      if (index === -1) index = this.slots.findIndex((s) => s === undefined);
      if (index === -1) return;
      const job = this.queue.shift()!;
      const slot = this.slots[index] ?? this.spawn(index);
      slot.job = job;
      job.slot = slot;
      // Referenced while it holds a task: a process waiting on a parse must not exit.
      slot.worker.ref();
      if (slot.ready) this.send(slot, job);
    }
  }

  /** The task goes to a thread that has loaded its module: the budget never pays for a thread's start. */
  private send(slot: Slot, job: Job): void {
    const message: ToWorker = { op: 'run', id: job.id, kind: job.kind, input: job.input };
    try {
      // Cloned, never moved: a task whose thread died is sent again.
      slot.worker.postMessage(message);
    } catch (err) {
      this.release(slot);
      this.settle(job, new ExhibitError('invalid-argument', `${job.options.label}: task input cannot be sent to a thread`, { cause: err }));
      this.pump();
      return;
    }
    this.startClock(job);
  }

  private startClock(job: Job): void {
    job.runningSince = performance.now();
    job.timer = setTimeout(() => this.expire(job), Math.max(0, job.remainingMs));
  }

  private stopClock(job: Job): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    if (job.runningSince !== undefined) {
      const ran = performance.now() - job.runningSince;
      job.remainingMs -= ran;
      job.usedMs += ran;
    }
    job.runningSince = undefined;
  }

  private expire(job: Job): void {
    job.timer = undefined;
    if (job.slot) this.retire(job.slot);
    this.settle(job, this.timeoutError(job));
    this.pump();
  }

  private timeoutError(job: Job): Error {
    return job.options.timeoutError?.() ?? new ExhibitError('parse-timeout', `${job.options.label} did not finish within its ${job.options.timeoutMs} ms budget and was stopped`);
  }

  private spawn(index: number): Slot {
    const { entry, resourceLimits, workerData } = this.options;
    // No execArgv: the parent's flags (a tsx loader, `--input-type=module`) are not the thread's business.
    const worker = entry.tsxApi
      ? new Worker(TSX_BOOTSTRAP, { eval: true, execArgv: [], resourceLimits, workerData: { ...workerData, tsxApi: entry.tsxApi, entry: entry.url.href } })
      : new Worker(entry.url, { execArgv: [], resourceLimits, ...(workerData ? { workerData } : {}) });
    this.started++;
    worker.unref();
    const slot: Slot = { worker, ready: false, job: undefined, startTimer: undefined };
    slot.startTimer = setTimeout(() => {
      if (slot.ready || !this.slots.includes(slot)) return;
      const job = slot.job;
      this.retire(slot);
      if (job) this.settle(job, new ExhibitError('tool-unavailable', `${job.options.label}: parser thread did not start within ${this.options.startTimeoutMs} ms`));
      this.pump();
    }, this.options.startTimeoutMs);
    slot.startTimer.unref();
    worker.on('message', (message: ToMain) => this.onMessage(slot, message));
    worker.on('error', (err) => this.onDeath(slot, err));
    worker.on('exit', (code) => this.onDeath(slot, new Error(`exit code ${code}`)));
    this.slots[index] = slot;
    return slot;
  }

  private onMessage(slot: Slot, message: ToMain): void {
    if (!this.slots.includes(slot)) return;
    if (message.op === 'ready') {
      slot.ready = true;
      clearTimeout(slot.startTimer);
      if (slot.job) this.send(slot, slot.job);
      return;
    }
    const job = slot.job;
    if (!job || message.id !== job.id) return;
    if (message.op === 'request') {
      this.serve(slot, job, message.seq, message.request);
      return;
    }
    if (message.op === 'done' && job.options.recycleThread?.(message.value)) this.retire(slot);
    else this.release(slot);
    if (message.op === 'done') this.settle(job, message.value);
    else this.settle(job, fromWire(message.error));
    this.pump();
  }

  private serve(slot: Slot, job: Job, seq: number, request: unknown): void {
    // A worker may wait on several requests at once (a stream reading ahead while a result waits to be taken).
    job.waiting += 1;
    this.stopClock(job);
    const serve = job.options.serve;
    const served = serve
      ? serve(request, job.options.abortSignal ? { abortSignal: job.options.abortSignal } : {})
      : Promise.reject(new ExhibitError('invalid-argument', `${job.options.label}: the worker asked for data this task does not serve`));
    served.then(
      ({ value, transfer, renew }) => {
        if (job.settled || slot.job !== job) return;
        const reply: ToWorker = { op: 'response', id: job.id, seq, value };
        slot.worker.postMessage(reply, transfer ?? []);
        if (renew) job.remainingMs = job.options.timeoutMs;
        job.waiting -= 1;
        if (job.waiting === 0) this.startClock(job);
      },
      (err: unknown) => {
        if (job.settled || slot.job !== job) return;
        // The worker waits for an answer that will not come: it is replaced rather than told.
        this.retire(slot);
        this.settle(job, err instanceof Error ? err : new Error(String(err)));
        this.pump();
      },
    );
  }

  private onDeath(slot: Slot, err: Error): void {
    // 'error' and 'exit' both arrive for one death; a retired thread is already forgotten.
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    this.slots[index] = undefined;
    clearTimeout(slot.startTimer);
    const job = slot.job;
    // An answer still being fetched for the dead thread must not restart the task's clock.
    slot.job = undefined;
    if (job) {
      this.stopClock(job);
      job.slot = undefined;
      if (!slot.ready) {
        this.settle(job, new ExhibitError('tool-unavailable', `${job.options.label}: parser thread stopped while starting: ${err.message}`, { cause: err }));
      } else if (++job.deaths >= DEATHS_BEFORE_BLAME) {
        const cause = deathCause(err, this.options.resourceLimits);
        this.settle(job, job.options.crashError?.(cause, err) ?? new ExhibitError('parse-crashed', `${job.options.label} thread ${cause} on this file, twice`, { cause: err }));
      } else if (job.options.mayRunAgain && !job.options.mayRunAgain()) {
        const cause = deathCause(err, this.options.resourceLimits);
        this.settle(job, job.options.crashError?.(cause, err) ?? new ExhibitError('parse-crashed', `${job.options.label} thread ${cause} on this file after handing on part of its results`, { cause: err }));
      } else if (job.options.budgetSpansRuns && !(job.remainingMs > 0)) {
        this.settle(job, this.timeoutError(job));
      } else {
        // Back to the head of the queue, in a fresh thread, with a full budget (or what is left of it).
        if (!job.options.budgetSpansRuns) job.remainingMs = job.options.timeoutMs;
        // The dead thread's requests are void (their answers are dropped).
        job.waiting = 0;
        this.queue.unshift(job);
      }
    }
    this.pump();
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    // A thread cannot be interrupted inside a parser, only stopped; a fresh one replaces it.
    if (job.slot) this.retire(job.slot);
    this.settle(job, new ExhibitError('aborted', `${job.options.label} aborted`));
    this.pump();
  }

  /** The thread finished its task and stays for the next one. */
  private release(slot: Slot): void {
    slot.job = undefined;
    slot.worker.unref();
  }

  /** Forgets a thread and stops it; its 'exit' then finds nothing to do. */
  private retire(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index !== -1) this.slots[index] = undefined;
    clearTimeout(slot.startTimer);
    if (slot.job) slot.job.slot = undefined;
    slot.job = undefined;
    void slot.worker.terminate().catch(() => undefined);
  }

  private settle(job: Job, result: unknown): void {
    if (job.settled) return;
    job.settled = true;
    this.stopClock(job);
    job.slot = undefined;
    if (job.onAbort) job.options.abortSignal?.removeEventListener('abort', job.onAbort);
    try {
      job.options.usedMs?.(job.usedMs);
    } catch {
      // The caller's accounting never holds back the task's result.
    }
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  }
}

/** A death's cause class, without addresses or timings, so the recorded reason is stable. */
function deathCause(err: Error, limits: ResourceLimits): string {
  if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return `ran out of its ${limits.maxOldGenerationSizeMb ?? 'default'} MiB heap`;
  }
  return 'stopped unexpectedly';
}

/** A worker's error back to its type: typed codes stay ExhibitErrors (with their details), anything else a plain Error with the parser's message. */
function fromWire(error: WireError): Error {
  if (error.code !== undefined) return new ExhibitError(error.code as ExhibitErrorCode, error.message, error.details ? { details: error.details } : {});
  const err = new Error(error.message);
  err.name = error.name;
  return err;
}
