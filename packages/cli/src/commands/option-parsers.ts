import { InvalidArgumentError } from 'commander';
import { isValidId } from '@exhibit/core';
import { DEFAULT_OUTPUT_WIDTH, MAX_OUTPUT_WIDTH } from '../render/output-width.js';

/** Commander argument parsers: a bad value is a usage error (exit 2) before anything runs. */

export function intOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export function positiveNumberOption(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`must be a number above 0 and at most ${max}`);
    return n;
  };
}

export function idOption(kind: 'case' | 'evidence') {
  return (value: string): string => {
    if (!isValidId(value)) throw new InvalidArgumentError(`not a valid ${kind} id (letters, digits, '.', '_', '-'; at most 64)`);
    return value;
  };
}

const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * An ISO 8601 date or date-time (a space may stand for the 'T'). Without an
 * offset the API compares it with the wall-clock time as recorded.
 */
export function isoDateOption(value: string): string {
  const normalised = value.trim().replace(' ', 'T');
  if (!ISO_TIME_RE.test(normalised)) {
    throw new InvalidArgumentError('must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM], e.g. 2024-05-01 or 2024-05-01T12:00:00Z');
  }
  return normalised;
}

/** `caseId` or `caseId/evidenceId`. */
export function parseCaseTarget(value: string): { caseId: string; evidenceId?: string } {
  const parts = value.split('/');
  const [caseId, evidenceId] = parts;
  if (parts.length > 2 || caseId === undefined || !isValidId(caseId) || (evidenceId !== undefined && !isValidId(evidenceId))) {
    throw new InvalidArgumentError('expected <caseId> or <caseId>/<evidenceId>');
  }
  return evidenceId === undefined ? { caseId } : { caseId, evidenceId };
}

const DEGREES_RE = /^-?\d{1,3}(?:\.\d{1,12})?$/;

/** minLon,minLat,maxLon,maxLat in decimal degrees; returned as typed (normalised), never re-formatted. */
export function bboxOption(value: string): string {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== 4 || parts.some((p) => !DEGREES_RE.test(p))) {
    throw new InvalidArgumentError('expected minLon,minLat,maxLon,maxLat in decimal degrees, e.g. -0.5,51.3,0.3,51.7');
  }
  const [minLon, minLat, maxLon, maxLat] = parts.map(Number) as [number, number, number, number];
  if (minLon < -180 || maxLon > 180 || minLat < -90 || maxLat > 90) {
    throw new InvalidArgumentError('longitudes must be within -180..180 and latitudes within -90..90');
  }
  if (minLon > maxLon || minLat > maxLat) throw new InvalidArgumentError('min must not exceed max');
  return parts.join(',');
}

/** Fewest hex digits `--hash` takes; the API refuses fewer too. */
export const HASH_PREFIX_MIN_CHARS = 8;

/**
 * An MD5, SHA-1 or SHA-256, or its first 8 or more hex digits (the 12 that
 * `search` prints are enough); lower-cased.
 */
export function hashPrefixOption(value: string): string {
  const hex = value.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new InvalidArgumentError('must be hexadecimal digits (0-9, a-f)');
  if (hex.length < HASH_PREFIX_MIN_CHARS || hex.length > 64) {
    throw new InvalidArgumentError(
      `must be ${HASH_PREFIX_MIN_CHARS} to 64 hex digits: an MD5 (32), SHA-1 (40) or SHA-256 (64), or its first ${HASH_PREFIX_MIN_CHARS} or more digits`,
    );
  }
  return hex;
}

/** `--width <n>` for commands that print tables. */
export const WIDTH_FLAGS = '--width <n>';
export const WIDTH_DESCRIPTION = `widest a table line may be (default: the terminal's width, else ${DEFAULT_OUTPUT_WIDTH}; 0 for no limit)`;
export const widthOption = (value: string): number => {
  const n = intOption(0, MAX_OUTPUT_WIDTH)(value);
  if (n !== 0 && n < 20) throw new InvalidArgumentError('must be 0 (no limit) or at least 20');
  return n;
};
