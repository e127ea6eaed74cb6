import { ExhibitError } from '@exhibit/core';

/** Process exit codes; scripts rely on them. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** An integrity mismatch, or processing not (yet) complete where that is the question asked. */
  integrity: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type CliErrorCode = 'api-unreachable' | 'api-error' | 'usage' | 'incomplete';

/** Failures that belong to the CLI itself rather than to the domain. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly exitCode: ExitCode = code === 'usage' ? EXIT.usage : code === 'incomplete' ? EXIT.integrity : EXIT.error,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ExhibitError) {
    if (err.code === 'invalid-argument') return EXIT.usage;
    if (err.code === 'hash-mismatch') return EXIT.integrity;
  }
  return EXIT.error;
}
