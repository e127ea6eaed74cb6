import { ExhibitError, errorMessage } from '@exhibit/core';

/** Socket-level failures: the server is (for now) out of reach. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * SQLSTATE classes that redelivery may cure: connection exceptions (08),
 * insufficient resources (53), operator intervention (57, e.g. failover),
 * serialization failures and deadlocks (40001, 40P01), auth (28: an expired
 * Entra token is replaced on the next connection).
 */
function isTransient(sqlState: string): boolean {
  return (
    sqlState.startsWith('08') ||
    sqlState.startsWith('53') ||
    sqlState.startsWith('57') ||
    sqlState.startsWith('28') ||
    sqlState === '40001' ||
    sqlState === '40P01'
  );
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Translates driver errors into ExhibitError, keeping the original as cause.
 * Messages never include the connection string; driver messages do not carry
 * it either (only host names, which are not secrets).
 */
export function translateSqlError(err: unknown, action: string): unknown {
  if (err instanceof ExhibitError) return err;
  const code = codeOf(err);
  const message = `${action}: ${errorMessage(err)}`;
  if (code === undefined) {
    // node-postgres reports a dropped or unusable connection without a code.
    if (/Connection terminated|connection timeout|Client has encountered a connection error/i.test(errorMessage(err))) {
      return new ExhibitError('index-unavailable', message, { cause: err });
    }
    return err;
  }
  if (code === '57014') return new ExhibitError('timeout', message, { cause: err, details: { sqlState: code } });
  if (NETWORK_CODES.has(code) || isTransient(code)) return new ExhibitError('index-unavailable', message, { cause: err, details: { sqlState: code } });
  if (code === '23505') return new ExhibitError('conflict', message, { cause: err, details: { sqlState: code } });
  // Integrity violations and bad data: the caller handed us something invalid.
  if (code.startsWith('23') || code.startsWith('22')) return new ExhibitError('invalid-argument', message, { cause: err, details: { sqlState: code } });
  return err;
}
