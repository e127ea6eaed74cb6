/** Messages between a deadline pool (deadline-pool.ts) and its worker threads (worker-runtime.ts). */

/** An error as it crosses the thread boundary: an ExhibitError keeps its code and its details (scope, reason, findings). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

export type ToWorker =
  | { op: 'run'; id: number; kind: string; input: unknown }
  | { op: 'response'; id: number; seq: number; value: unknown };

export type ToMain =
  | { op: 'ready' }
  | { op: 'request'; id: number; seq: number; request: unknown }
  | { op: 'done'; id: number; value: unknown }
  | { op: 'failed'; id: number; error: WireError };
