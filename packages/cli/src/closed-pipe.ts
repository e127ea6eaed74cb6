import type { EventEmitter } from 'node:events';

/** The reader went away: `exhibit status C1 | head` after head has read its lines. */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Makes writes to a closed pipe harmless. Node ignores SIGPIPE, so writing to
 * a pipe whose reader has exited fails with EPIPE, emitted as an 'error'
 * event; unhandled, it kills the process with a stack trace. The output is
 * no longer wanted, which is no error of ours: it is dropped, and the command
 * finishes its work and exits with its own code. Any other write failure is
 * passed to `onOtherError` (a failed output must not pass for a success).
 */
export function tolerateClosedPipes(streams: readonly EventEmitter[], onOtherError: (err: Error) => void): void {
  for (const stream of streams) {
    stream.on('error', (err: Error) => {
      if (!isClosedPipe(err)) onOtherError(err);
    });
  }
}
