import { Readable } from 'node:stream';
import type { DeadlineWorkerPool, ServeResult } from '@exhibit/core/deadline-pool';

/** What the main thread answers a thing handed over: send its bytes, more of them, skip to the next, or stop. */
export type SessionAnswer = { op: 'open' } | { op: 'more' } | { op: 'next' } | { op: 'end' };

/** What `exchange` gives: the next thing the thread handed over, or how its task ended. */
export type SessionEvent<Handed> = Handed | { t: 'done'; value: unknown } | { t: 'failed'; error: Error };

interface Message<Handed> {
  request: SessionEvent<Handed>;
  reply?: (answer: SessionAnswer) => void;
}

export interface ParserThreadSessionOptions<Request extends { t: string }, Served extends Request> {
  label: string;
  /** The step budget: renewed by every thing handed over (an entry, a member's state, a chunk). */
  timeoutMs: number;
  abortSignal?: AbortSignal;
  /** The requests the main thread serves at once (byte reads, stream pieces): never handed over. */
  served: ReadonlyArray<Served['t']>;
  /** Serves them; never renews the budget (a loop that only reads would never end). */
  serve(request: Served): Promise<ServeResult>;
}

/**
 * One listing task's conversation with its parser thread (the disk-image
 * reader's and the ZIP/TAR readers'). The thread hands over one thing at a
 * time (an entry, a member's state, a chunk) and waits; `exchange` answers
 * what it handed over and waits for the next (or for the task's end).
 * Exchanges run one after another, so a member stream abandoned mid-read and
 * the listing that goes on cannot answer the same request twice.
 */
export class ParserThreadSession<Request extends { t: string }, Served extends Request = never> {
  private pending: Message<Exclude<Request, Served>> | undefined;
  private waiter: ((message: Message<Exclude<Request, Served>>) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Things handed over by the thread: a thread that dies after the first cannot be started again (the pool's mayRunAgain). */
  taken = 0;
  readonly task: Promise<unknown>;

  constructor(pool: DeadlineWorkerPool, kind: string, input: unknown, options: ParserThreadSessionOptions<Request, Served>) {
    const served = options.served as ReadonlyArray<string>;
    this.task = pool.run(kind, input, {
      label: options.label,
      timeoutMs: options.timeoutMs,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      mayRunAgain: () => this.taken === 0,
      serve: (raw) => {
        const request = raw as Request;
        if (served.includes(request.t)) return options.serve(request as Served);
        this.taken += 1;
        // Entries and chunks are progress: the step budget starts again with each answer.
        return new Promise<ServeResult>((resolve) =>
          this.deliver({ request: request as Exclude<Request, Served>, reply: (answer) => resolve({ value: answer, renew: true }) }),
        );
      },
    });
    this.task.then(
      (value) => this.deliver({ request: { t: 'done', value } }),
      (error: unknown) => this.deliver({ request: { t: 'failed', error: error instanceof Error ? error : new Error(String(error)) } }),
    );
  }

  private deliver(message: Message<Exclude<Request, Served>>): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.pending = message;
  }

  /** Answers the request waiting (if any) with `answer`, then waits for the next one. */
  exchange(answer: SessionAnswer | null): Promise<SessionEvent<Exclude<Request, Served>>> {
    const turn = this.queue.then(async () => {
      const waiting = this.pending;
      this.pending = undefined;
      if (waiting && (waiting.request.t === 'done' || waiting.request.t === 'failed')) {
        this.pending = waiting;
        return waiting.request;
      }
      const next = new Promise<Message<Exclude<Request, Served>>>((resolve) => (this.waiter = resolve));
      if (waiting) {
        // Nothing was asked yet (the first turn): wait without answering.
        if (answer) waiting.reply?.(answer);
        else {
          this.waiter = undefined;
          this.pending = waiting;
          return waiting.request;
        }
      }
      const message = await next;
      // Kept so the next exchange answers it (and an ended task stays ended).
      this.pending = message;
      return message.request;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Tells the thread to stop (if it waits for an answer) and waits for the task to settle. */
  async end(): Promise<void> {
    // What the thread hands over next (it may still be working on it), or how the task ended.
    const last = await this.exchange(null);
    if (last.t !== 'done' && last.t !== 'failed') {
      const waiting = this.pending;
      this.pending = undefined;
      waiting?.reply?.({ op: 'end' });
    }
    await this.task.catch(() => undefined);
  }
}

/** A chunk of a member's bytes as a parser thread hands it over. */
export interface ChunkEvent {
  t: 'chunk';
  bytes: ArrayBuffer;
  last: boolean;
}

/**
 * A member's bytes as the thread sends them: the next chunk is asked for only
 * when the stream wants more (its buffer drained), so memory stays at a chunk
 * or two whatever the member's size. `first` is a chunk already taken (the
 * disk reader's answer to 'open'). Anything but a chunk ends the stream with
 * `failure(event)`: the member's own typed error, the task's failure
 * ('parse-timeout', 'parse-crashed', a storage fault, 'aborted'), or a
 * member ended before its last byte.
 */
export function memberChunkStream<Handed extends { t: string }>(
  session: { exchange(answer: SessionAnswer | null): Promise<SessionEvent<Handed>> },
  options: { first?: ChunkEvent; failure(event: SessionEvent<Handed>): Error },
): Readable {
  let ended = options.first?.last ?? false;
  const stream = new Readable({
    highWaterMark: 0,
    read() {
      if (ended) return;
      session.exchange({ op: 'more' }).then(
        (request) => {
          if (stream.destroyed) return;
          if (request.t === 'chunk') {
            const chunk = request as unknown as ChunkEvent;
            ended = chunk.last;
            if (chunk.bytes.byteLength > 0) stream.push(Buffer.from(chunk.bytes));
            if (ended) stream.push(null);
          } else {
            ended = true;
            stream.destroy(options.failure(request));
          }
        },
        (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  const first = options.first;
  if (first) {
    if (first.bytes.byteLength > 0) stream.push(Buffer.from(first.bytes));
    if (first.last) stream.push(null);
  }
  return stream;
}
