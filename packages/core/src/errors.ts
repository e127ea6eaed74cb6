/**
 * Typed errors. Codes are a closed string union so callers can switch on them
 * and so the index can store them as reasons an examiner can read.
 */
export type ExhibitErrorCode =
  // retryable infrastructure faults: thrown so the bus redelivers / dead-letters
  | 'storage-unavailable'
  | 'bus-unavailable'
  | 'index-unavailable'
  | 'tool-unavailable'
  | 'timeout'
  // not found / precondition
  | 'not-found'
  | 'conflict'
  | 'precondition-failed'
  // configuration and programming
  | 'invalid-config'
  | 'invalid-message'
  | 'invalid-argument'
  // evidence problems: recorded as a file's failure, never retried
  | 'corrupt-file'
  | 'unsupported-format'
  | 'limit-exceeded'
  | 'encrypted'
  | 'unsafe-entry'
  | 'hash-mismatch'
  | 'decode-failed'
  | 'tool-failed'
  /** A parser of the file's bytes ran past its time budget and its thread was stopped. */
  | 'parse-timeout'
  /** A parser's thread died on the file twice (its memory limit, or a crash). */
  | 'parse-crashed'
  /** Delivery kept failing until the bus gave up on the message. */
  | 'dead-lettered'
  /** The watchdog re-drove the work several times and it never moved (a lost message, a stage that hangs). */
  | 'stuck'
  /** The evidence blob changed after it was received. */
  | 'evidence-changed'
  /** A resumable hash's saved states did not load LIMITS.maxHashRestarts times; it was given up on. */
  | 'hash-state-unusable'
  // access
  | 'unauthenticated'
  | 'forbidden'
  | 'aborted';

const RETRYABLE: ReadonlySet<ExhibitErrorCode> = new Set([
  'storage-unavailable',
  'bus-unavailable',
  'index-unavailable',
  'tool-unavailable',
  'timeout',
]);

export class ExhibitError extends Error {
  override readonly name = 'ExhibitError';
  readonly code: ExhibitErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ExhibitErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export function isExhibitError(err: unknown, code?: ExhibitErrorCode): err is ExhibitError {
  return err instanceof ExhibitError && (code === undefined || err.code === code);
}

/** True when redelivery may succeed; anything unknown is treated as retryable. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ExhibitError) return err.retryable;
  return true;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
