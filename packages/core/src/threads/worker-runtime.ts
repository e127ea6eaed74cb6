import { parentPort, type Transferable } from 'node:worker_threads';
import { isExhibitError } from '../errors.js';
import { wireErrorDetails } from '../wire-error-details.js';
import type { ToMain, ToWorker, WireError } from './wire.js';

/** What a task handler can ask of the main thread while it runs. */
export interface TaskContext {
  /** Sends `request` to the main thread's `serve` and waits for its answer (byte ranges); `transfer` is moved, not cloned. */
  request(request: unknown, transfer?: Transferable[]): Promise<unknown>;
}

export interface TaskResult {
  value: unknown;
  transfer?: Transferable[];
}

export type TaskHandler = (input: unknown, context: TaskContext) => Promise<TaskResult>;

/**
 * The worker side of a deadline pool: runs one task at a time and answers
 * with its value or its error. Called once by a worker module with its
 * handlers; the thread then reports ready.
 */
export function serveTasks(handlers: Record<string, TaskHandler>): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks runs in a worker thread only');
  // Parsers print warnings about hostile files with console (exifr's ICC
  // reader does); the outcome reaches the pool as a reply, so they are silenced.
  for (const name of ['log', 'info', 'warn', 'error', 'debug'] as const) console[name] = () => undefined;

  const waiting = new Map<number, (value: unknown) => void>();
  let nextSeq = 1;
  const post = (message: ToMain, transfer: Transferable[] = []) => port.postMessage(message, transfer);

  port.on('message', (message: ToWorker) => {
    if (message.op === 'response') {
      const resolve = waiting.get(message.seq);
      waiting.delete(message.seq);
      resolve?.(message.value);
      return;
    }
    const { id, kind, input } = message;
    const context: TaskContext = {
      request(request, transfer) {
        const seq = nextSeq++;
        return new Promise((resolve) => {
          waiting.set(seq, resolve);
          post({ op: 'request', id, seq, request }, transfer ?? []);
        });
      },
    };
    const handler = handlers[kind];
    const running = handler ? handler(input, context) : Promise.reject(new Error(`no task "${kind}" in this worker`));
    running.then(
      (result) => {
        try {
          post({ op: 'done', id, value: result.value }, result.transfer ?? []);
        } catch (err) {
          post({ op: 'failed', id, error: toWire(err) });
        }
      },
      (err: unknown) => post({ op: 'failed', id, error: toWire(err) }),
    );
  });
  post({ op: 'ready' });
}

function toWire(err: unknown): WireError {
  if (isExhibitError(err)) {
    const details = wireErrorDetails(err.details);
    return { name: err.name, message: err.message, code: err.code, ...(details ? { details } : {}) };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

