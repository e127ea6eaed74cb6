import { workerData } from 'node:worker_threads';
import { ExhibitError } from '../../errors.js';
import { serveTasks } from '../worker-runtime.js';

/**
 * A thread for the deadline pool's tests: tasks that play a parser gone wrong
 * or one that talks to the main thread. Test only.
 */
serveTasks({
  /** A parser that builds a structure from a count it trusted until the heap is gone. */
  async 'exhaust-heap'() {
    const held: number[][] = [];
    for (;;) held.push(Array.from({ length: 1_000_000 }, (_, i) => i));
  },

  /** Reads ranges from the main thread and sums their lengths. */
  async 'read-ranges'(input, context) {
    const { ranges } = input as { ranges: Array<{ offset: number; length: number }> };
    let total = 0;
    for (const range of ranges) total += ((await context.request(range)) as ArrayBuffer).byteLength;
    return { value: total };
  },

  /** Asks for all its ranges at once (a stream reading ahead) and sums their lengths. */
  async 'read-ranges-together'(input, context) {
    const { ranges } = input as { ranges: Array<{ offset: number; length: number }> };
    const got = await Promise.all(ranges.map((range) => context.request(range) as Promise<ArrayBuffer>));
    return { value: got.reduce((sum, bytes) => sum + bytes.byteLength, 0) };
  },

  /** Computes for `spinMs` (wall time), then reads one range and sums its length: a parser slow before its first read. */
  async 'spin-then-read'(input, context) {
    const { spinMs } = input as { spinMs: number };
    const until = Date.now() + spinMs;
    while (Date.now() < until);
    return { value: ((await context.request({ offset: 0, length: 4 })) as ArrayBuffer).byteLength };
  },

  /** Fails with a typed error and its details, as a reader does for a hostile archive. */
  async 'typed-failure'() {
    throw new ExhibitError('corrupt-file', 'entries overlap', { details: { reason: 'overlapping-entries', membersDeclared: 3, findings: ['archive-prefix'] } });
  },

  /** A parser stuck on a structure: it never returns. */
  async loop() {
    for (;;);
  },

  /** What the pool gave every thread as its workerData (the tsx bootstrap's own fields left out). */
  async 'worker-data'() {
    const { tsxApi: _tsx, entry: _entry, ...data } = (workerData ?? {}) as Record<string, unknown>;
    return { value: data };
  },

  async echo(input) {
    return { value: input };
  },
});
