import { Readable } from 'node:stream';
import { ExhibitError } from '@exhibit/core';
import type { DeadlineWorkerPool, ServeResult } from '@exhibit/core/deadline-pool';
import { fromWireError, type ArchiveAnswer, type ArchiveRequest } from './archive.tasks.js';

/** What the thread hands over (entries, member state, chunks); reads and feeds are served directly. */
export type HandedRequest = Exclude<ArchiveRequest, { t: 'read' | 'feed' }>;
export type SessionEvent = HandedRequest | { t: 'done'; value: unknown } | { t: 'failed'; error: Error };

interface Message {
  request: SessionEvent;
  reply?: (answer: ArchiveAnswer) => void;
}

export interface SessionOptions {
  label: string;
  /** The step budget: renewed by every entry or chunk handed over. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
  /** Serves the thread's byte requests ('read', 'feed'); never renews the budget. */
  serveBytes(request: Extract<ArchiveRequest, { t: 'read' | 'feed' }>): Promise<ServeResult>;
}

/**
 * One listing task's conversation with its archive parser thread (the same
 * conversation as the disk-image reader's). The thread hands over one thing
 * at a time (an entry, a member's state, a chunk) and waits; `exchange`
 * answers what it handed over and waits for the next (or for the task's
 * end). Exchanges run one after another, so a member stream abandoned
 * mid-read and the listing that goes on cannot answer the same request twice.
 */
export class ArchiveThreadSession {
  private pending: Message | undefined;
  private waiter: ((message: Message) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Things handed over by the thread: a thread that dies after the first cannot be started again (the pool's mayRunAgain). */
  taken = 0;
  readonly task: Promise<unknown>;

  constructor(pool: DeadlineWorkerPool, kind: string, input: unknown, options: SessionOptions) {
    this.task = pool.run(kind, input, {
      label: options.label,
      timeoutMs: options.timeoutMs,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      mayRunAgain: () => this.taken === 0,
      serve: (raw) => {
        const request = raw as ArchiveRequest;
        if (request.t === 'read' || request.t === 'feed') return options.serveBytes(request);
        this.taken += 1;
        // Entries and chunks are progress: the step budget starts again with each answer.
        return new Promise<ServeResult>((resolve) => this.deliver({ request, reply: (answer) => resolve({ value: answer, renew: true }) }));
      },
    });
    this.task.then(
      (value) => this.deliver({ request: { t: 'done', value } }),
      (error: unknown) => this.deliver({ request: { t: 'failed', error: error instanceof Error ? error : new Error(String(error)) } }),
    );
  }

  private deliver(message: Message): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.pending = message;
  }

  /** Answers the request waiting (if any) with `answer`, then waits for the next one. */
  exchange(answer: ArchiveAnswer | null): Promise<SessionEvent> {
    const turn = this.queue.then(async () => {
      const waiting = this.pending;
      this.pending = undefined;
      if (waiting && (waiting.request.t === 'done' || waiting.request.t === 'failed')) {
        this.pending = waiting;
        return waiting.request;
      }
      const next = new Promise<Message>((resolve) => (this.waiter = resolve));
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
    const last = await this.exchange(null);
    if (last.t !== 'done' && last.t !== 'failed') {
      const waiting = this.pending;
      this.pending = undefined;
      waiting?.reply?.({ op: 'end' });
    }
    await this.task.catch(() => undefined);
  }
}

/**
 * An opened member's bytes as the thread sends them: the next chunk is asked
 * for only when the stream wants more (its buffer drained), so memory stays
 * at a chunk or two whatever the member's size. Errors keep their type:
 * the member's 'data-error' (corrupt-file with its reason, ...), or the
 * task's failure ('parse-timeout', 'parse-crashed', a storage fault, 'aborted').
 */
export function memberStream(session: ArchiveThreadSession, label: string): Readable {
  let ended = false;
  const stream = new Readable({
    highWaterMark: 0,
    read() {
      if (ended) return;
      session.exchange({ op: 'more' }).then(
        (request) => {
          if (stream.destroyed) return;
          if (request.t === 'chunk') {
            ended = request.last;
            if (request.bytes.byteLength > 0) stream.push(Buffer.from(request.bytes));
            if (ended) stream.push(null);
          } else if (request.t === 'data-error') {
            ended = true;
            stream.destroy(fromWireError(request.error));
          } else if (request.t === 'failed') {
            ended = true;
            stream.destroy(request.error);
          } else {
            ended = true;
            stream.destroy(new ExhibitError('corrupt-file', `${label}: the archive parser thread ended the member before its last byte`));
          }
        },
        (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  return stream;
}

/** Why a member could not be opened: its own typed error, or the task's end. */
export function openFailure(event: SessionEvent, label: string): Error {
  if (event.t === 'data-error') return fromWireError(event.error);
  if (event.t === 'failed') return event.error;
  return new ExhibitError('corrupt-file', `${label}: the archive parser thread sent no data for this member`);
}
