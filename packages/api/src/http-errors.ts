import { ExhibitError, type ExhibitErrorCode } from '@exhibit/core';
import type { ApiResponse } from './api.types.js';

export interface ErrorBody {
  error: { code: ExhibitErrorCode | 'method-not-allowed' | 'internal'; message: string; details?: Record<string, unknown> };
}

const STATUS: Partial<Record<ExhibitErrorCode, number>> = {
  'invalid-argument': 400,
  'invalid-message': 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'precondition-failed': 412,
  'limit-exceeded': 413,
  'storage-unavailable': 503,
  'index-unavailable': 503,
  'bus-unavailable': 503,
  'tool-unavailable': 503,
  timeout: 503,
  aborted: 503,
};

/** Codes whose message is safe to show the caller; anything else becomes a generic 500. */
const CALLER_FACING: ReadonlySet<ExhibitErrorCode> = new Set(['invalid-argument', 'invalid-message', 'unauthenticated', 'forbidden', 'conflict', 'precondition-failed', 'limit-exceeded', 'hash-mismatch']);

/**
 * One body for every "not found", whatever the cause (no such case, file, or
 * no assignment), so a response never tells an outsider what exists.
 */
export const NOT_FOUND_BODY: ErrorBody = Object.freeze({ error: Object.freeze({ code: 'not-found', message: 'not found' }) }) as ErrorBody;

export function notFound(): ExhibitError {
  return new ExhibitError('not-found', 'not found');
}

export function statusFor(err: unknown): number {
  return err instanceof ExhibitError ? (STATUS[err.code] ?? 500) : 500;
}

export function errorResponse(err: unknown): ApiResponse {
  const status = statusFor(err);
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 404) return { status, headers, body: NOT_FOUND_BODY };
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  if (status === 503) headers['retry-after'] = '5';
  if (err instanceof ExhibitError && CALLER_FACING.has(err.code)) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.details) error.details = err.details;
    return { status, headers, body: { error } satisfies ErrorBody };
  }
  if (status === 503 && err instanceof ExhibitError) {
    return { status, headers, body: { error: { code: err.code, message: 'temporarily unavailable, retry later' } } satisfies ErrorBody };
  }
  return { status: 500, headers, body: { error: { code: 'internal', message: 'internal error' } } satisfies ErrorBody };
}
