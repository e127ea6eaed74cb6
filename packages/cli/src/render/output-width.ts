import type { TextStream } from '../context.js';

/** Table width when the output is not a terminal (a pipe or a file) and no --width was given. */
export const DEFAULT_OUTPUT_WIDTH = 120;
/** Widest --width accepted; 0 means no limit. */
export const MAX_OUTPUT_WIDTH = 10_000;

/**
 * How wide tables may be: --width when given (0 = no limit), else the
 * terminal's width, else DEFAULT_OUTPUT_WIDTH.
 */
export function outputWidth(stream: TextStream, explicit?: number): number {
  if (explicit !== undefined) return explicit === 0 ? Number.POSITIVE_INFINITY : explicit;
  if (stream.isTTY && typeof stream.columns === 'number' && stream.columns > 0) return stream.columns;
  return DEFAULT_OUTPUT_WIDTH;
}
