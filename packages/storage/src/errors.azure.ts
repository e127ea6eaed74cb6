import { RestError } from '@azure/storage-blob';
import { ExhibitError, redactSecrets } from '@exhibit/core';

/** Translates Azure Storage SDK failures into our typed errors, keeping the cause. */
export function translateStorageError(err: unknown, what: string): ExhibitError {
  if (err instanceof ExhibitError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new ExhibitError('aborted', `${what}: aborted`, { cause: err });
  }
  if (err instanceof RestError || (typeof err === 'object' && err !== null && 'statusCode' in err)) {
    const status = (err as RestError).statusCode;
    const code = (err as RestError).code ?? '';
    const message = redactSecrets(`${what}: ${status ?? ''} ${code}`.trim());
    if (status === 404) return new ExhibitError('not-found', message, { cause: err });
    if (status === 409) return new ExhibitError('conflict', message, { cause: err });
    if (status === 412 || status === 416) return new ExhibitError('precondition-failed', message, { cause: err });
    if (status === 403 || status === 401) return new ExhibitError('forbidden', message, { cause: err });
    if (status === 400) return new ExhibitError('invalid-argument', message, { cause: err });
    return new ExhibitError('storage-unavailable', message, { cause: err });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new ExhibitError('storage-unavailable', redactSecrets(`${what}: ${detail}`), { cause: err });
}
