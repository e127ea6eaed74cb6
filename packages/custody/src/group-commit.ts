import { ExhibitError } from '@exhibit/core';

/** One caller's entry waiting for its log's next group; settled once, by the group write or an abort. */
export interface Waiting<T> {
  readonly item: T;
  readonly abortSignal: AbortSignal | undefined;
  readonly settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions<T> {
  /** Most waiting entries handed to one write. */
  maxGroupEntries: number;
  /**
   * Writes (part of) a group as one append and one index transaction and settles every
   * entry it wrote or found already recorded. Returns the entries it left for the next
   * group (they did not fit this one). A throw rejects every unsettled entry with it.
   * abortSignal aborts only once every entry's own signal has.
   */
  write(key: string, group: Waiting<T>[], abortSignal: AbortSignal | undefined): Promise<Waiting<T>[]>;
  /** Work of the log's own that needs a write with no caller waiting (a restoration entry). */
  hasOwnWork(key: string): boolean;
}

/**
 * Group commit for appends to one log: while a write to a log is in flight, entries
 * for it wait; when it ends, those that arrived meanwhile go out together in the next
 * write. One write at a time per log keeps seq order strict (arrival order), and a
 * caller's promise settles only with the write that carried its entry.
 */
export class GroupCommit<T> {
  private readonly logs = new Map<string, { waiting: Waiting<T>[]; draining: boolean }>();

  constructor(private readonly o: GroupCommitOptions<T>) {}

  submit(key: string, item: T, abortSignal: AbortSignal | undefined): Promise<void> {
    if (abortSignal?.aborted) return Promise.reject(aborted(abortSignal.reason));
    let log = this.logs.get(key);
    if (!log) {
      log = { waiting: [], draining: false };
      this.logs.set(key, log);
    }
    const queue = log;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      // Aborted while still waiting: taken out, nothing written. Once in a write it stays:
      // an append cannot be called back once sent.
      const onAbort = () => {
        const at = queue.waiting.indexOf(waiting);
        if (at < 0) return;
        queue.waiting.splice(at, 1);
        waiting.reject(aborted(abortSignal?.reason));
      };
      const waiting: Waiting<T> = {
        item,
        abortSignal,
        get settled() {
          return settled;
        },
        resolve() {
          if (settled) return;
          settled = true;
          abortSignal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject(err) {
          if (settled) return;
          settled = true;
          abortSignal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      abortSignal?.addEventListener('abort', onAbort, { once: true });
      queue.waiting.push(waiting);
      if (!queue.draining) void this.drain(key, queue);
    });
  }

  private async drain(key: string, log: { waiting: Waiting<T>[]; draining: boolean }): Promise<void> {
    log.draining = true;
    let lastOk = true;
    try {
      while (log.waiting.length > 0 || (lastOk && this.o.hasOwnWork(key))) {
        const group = this.take(log);
        if (group.length === 0 && log.waiting.length > 0) continue;
        const all = allAborted(group.map((w) => w.abortSignal));
        try {
          const left = await this.o.write(key, group, all.signal);
          log.waiting.unshift(...left.filter((w) => !w.settled));
          for (const w of group) {
            if (!w.settled && !left.includes(w)) w.reject(new ExhibitError('conflict', `custody log ${key}: a group write ended without settling an entry`));
          }
          lastOk = true;
        } catch (err) {
          for (const w of group) w.reject(err);
          lastOk = false;
        } finally {
          all.dispose();
        }
      }
    } finally {
      log.draining = false;
      if (log.waiting.length === 0 && this.logs.get(key) === log) this.logs.delete(key);
      // An entry that arrived as the loop ended would otherwise wait for a drain that never comes.
      else if (log.waiting.length > 0) void this.drain(key, log);
    }
  }

  /** The next group, in arrival order; entries whose callers gave up meanwhile are rejected, not written. */
  private take(log: { waiting: Waiting<T>[] }): Waiting<T>[] {
    const group: Waiting<T>[] = [];
    while (group.length < this.o.maxGroupEntries && log.waiting.length > 0) {
      const w = log.waiting.shift()!;
      if (w.settled) continue;
      if (w.abortSignal?.aborted) {
        w.reject(aborted(w.abortSignal.reason));
        continue;
      }
      group.push(w);
    }
    return group;
  }
}

function aborted(cause: unknown): ExhibitError {
  return new ExhibitError('aborted', 'custody append aborted', { cause });
}

/**
 * A signal that aborts once every one of `signals` has (never when one is missing): a
 * group write serves several callers, and one caller giving up must not cut off the
 * others' entries. dispose() removes the listeners, which long-lived signals (a
 * shutdown's) would otherwise collect, one per group.
 */
export function allAborted(signals: ReadonlyArray<AbortSignal | undefined>): { signal: AbortSignal | undefined; dispose: () => void } {
  if (signals.length === 0 || signals.some((s) => s === undefined)) return { signal: undefined, dispose: () => undefined };
  const controller = new AbortController();
  const listening: Array<[AbortSignal, () => void]> = [];
  let left = signals.length;
  const one = (reason: unknown) => {
    if (--left === 0) controller.abort(reason);
  };
  for (const s of signals as AbortSignal[]) {
    if (s.aborted) {
      one(s.reason);
      continue;
    }
    const listener = () => one(s.reason);
    s.addEventListener('abort', listener, { once: true });
    listening.push([s, listener]);
  }
  return { signal: controller.signal, dispose: () => listening.forEach(([s, l]) => s.removeEventListener('abort', l)) };
}
