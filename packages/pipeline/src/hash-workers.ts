import { Worker } from 'node:worker_threads';
import { ExhibitError } from '@exhibit/core';

/**
 * Hash contexts living in worker threads. node:crypto hashes synchronously on
 * the calling thread, so MD5 + SHA-1 + SHA-256 of a 4 GB extraction would hold
 * the event loop (and with it every other stage of the process) for ~30 s and
 * use one core. Here each algorithm group runs in its own thread and the main
 * thread only copies blocks into shared memory.
 *
 * The worker source is inline so that it runs the same under tsx, vitest and
 * the esbuild bundle of functions/ (none of which has to know about a second
 * entry file). It is deliberately tiny: open, update, digest, drop.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.op === 'open') {
      jobs.set(m.job, m.algorithms.map((a) => [a, createHash(a)]));
    } else if (m.op === 'update') {
      const hashes = jobs.get(m.job);
      if (hashes) for (const [, h] of hashes) h.update(new Uint8Array(m.block, 0, m.length));
      parentPort.postMessage({ op: 'ack', job: m.job });
    } else if (m.op === 'digest') {
      const hashes = jobs.get(m.job);
      jobs.delete(m.job);
      const hex = {};
      if (hashes) for (const [a, h] of hashes) hex[a] = h.digest('hex');
      parentPort.postMessage({ op: 'digest', job: m.job, hex });
    } else if (m.op === 'drop') {
      jobs.delete(m.job);
    }
  } catch (err) {
    parentPort.postMessage({ op: 'error', job: m.job, message: String(err && err.message || err) });
  }
});
`;

type Reply =
  | { op: 'ack'; job: number }
  | { op: 'digest'; job: number; hex: Record<string, string> }
  | { op: 'error'; job: number; message: string };

interface JobHandlers {
  ack(): void;
  digest(hex: Record<string, string>): void;
  fail(err: Error): void;
}

/** One worker thread with the hash contexts of any number of jobs. */
class HashWorker {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, JobHandlers>();
  /** Requests (updates, digests) the thread has not answered yet. */
  private awaiting = 0;

  /**
   * Referenced only while someone waits for an answer: a process waiting on a
   * digest must not exit, but neither an idle thread nor a job that was opened
   * and then abandoned may keep a CLI or a test process alive.
   */
  private expect(worker: Worker): void {
    if (this.awaiting++ === 0) worker.ref();
  }

  private answered(): void {
    if (this.awaiting > 0 && --this.awaiting === 0) this.worker?.unref();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // No execArgv: a parent flag such as `--input-type=module` (node -e) would make the CommonJS source fail.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      // Every update and digest gets exactly one answer, also for a job dropped meanwhile.
      this.answered();
      const job = this.jobs.get(reply.job);
      if (!job) return;
      if (reply.op === 'ack') job.ack();
      else if (reply.op === 'digest') {
        this.jobs.delete(reply.job);
        job.digest(reply.hex);
      } else {
        this.jobs.delete(reply.job);
        job.fail(new ExhibitError('tool-unavailable', `hash worker: ${reply.message}`));
      }
    });
    const lost = (err: Error) => {
      // A dead worker loses its contexts: every job on it must start over, so the fault is retryable.
      this.worker = undefined;
      this.awaiting = 0;
      const pending = [...this.jobs.values()];
      this.jobs.clear();
      for (const job of pending) job.fail(new ExhibitError('tool-unavailable', `hash worker stopped: ${err.message}`, { cause: err }));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => {
      if (this.worker === worker) lost(new Error(`exit code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  open(job: number, algorithms: readonly string[], handlers: JobHandlers): void {
    this.jobs.set(job, handlers);
    this.ensure().postMessage({ op: 'open', job, algorithms });
  }

  update(job: number, block: SharedArrayBuffer, length: number): void {
    const worker = this.ensure();
    this.expect(worker);
    worker.postMessage({ op: 'update', job, block, length });
  }

  digest(job: number): void {
    const worker = this.ensure();
    this.expect(worker);
    worker.postMessage({ op: 'digest', job });
  }

  drop(job: number): void {
    this.jobs.delete(job);
    this.worker?.postMessage({ op: 'drop', job });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.jobs.clear();
    this.awaiting = 0;
    if (worker) await worker.terminate();
  }
}

/**
 * The algorithm groups, one thread each, split so the threads take about the
 * same time: SHA-256 alone (~3.8 ms/MB without SHA extensions) against MD5 and
 * SHA-1 together (~3.3 ms/MB).
 */
export const HASH_GROUPS = [['sha256'], ['md5', 'sha1']] as const;

let workers: HashWorker[] | undefined;
let nextJob = 1;

/**
 * Which sent blocks every thread has hashed. Each thread answers its own
 * blocks in order, but the threads run at different speeds, so a block is
 * done only when the slowest thread has acknowledged it: counted per thread.
 */
export class BlockAcks {
  private sent = 0;
  private readonly acked: number[];
  private readonly waiting: Array<{ seq: number; resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(threads: number) {
    this.acked = Array.from({ length: threads }, () => 0);
  }

  /** A block went to every thread; resolves once each has acknowledged it. */
  push(): Promise<void> {
    const seq = ++this.sent;
    return new Promise((resolve, reject) => this.waiting.push({ seq, resolve, reject }));
  }

  ack(thread: number): void {
    this.acked[thread] = (this.acked[thread] ?? 0) + 1;
    const done = Math.min(...this.acked);
    while (this.waiting.length > 0 && this.waiting[0]!.seq <= done) this.waiting.shift()!.resolve();
  }

  failAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

export interface WorkerHashJob {
  /** Sends one block to every group; resolves when every group has hashed it. */
  update(block: SharedArrayBuffer, length: number): Promise<void>;
  digest(): Promise<Record<string, string>>;
  drop(): void;
}

/** Opens a hashing job spread over the hash threads (started on first use, shared by the process). */
export function openWorkerHashJob(): WorkerHashJob {
  workers ??= HASH_GROUPS.map(() => new HashWorker());
  const pool = workers;
  const job = nextJob++;
  let failure: Error | undefined;
  const acks = new BlockAcks(pool.length);
  const digests: Array<Record<string, string>> = [];
  let digestWaiter: { resolve: (hex: Record<string, string>) => void; reject: (e: Error) => void } | undefined;

  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    acks.failAll(err);
    digestWaiter?.reject(err);
    for (const w of pool) w.drop(job);
  };

  HASH_GROUPS.forEach((algorithms, i) =>
    pool[i]!.open(job, algorithms, {
      ack: () => acks.ack(i),
      digest: (hex) => {
        digests.push(hex);
        if (digests.length === pool.length) digestWaiter?.resolve(Object.assign({}, ...digests) as Record<string, string>);
      },
      fail,
    }),
  );

  return {
    update(block, length) {
      if (failure) return Promise.reject(failure);
      const hashed = acks.push();
      for (const w of pool) w.update(job, block, length);
      return hashed;
    },
    digest() {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        digestWaiter = { resolve, reject };
        for (const w of pool) w.digest(job);
      });
    },
    drop() {
      for (const w of pool) w.drop(job);
    },
  };
}

/** Stops the hash threads (tests; a process that exits needs nothing: idle threads are unref'd). */
export async function closeHashWorkers(): Promise<void> {
  const pool = workers;
  workers = undefined;
  if (pool) await Promise.all(pool.map((w) => w.close()));
}
