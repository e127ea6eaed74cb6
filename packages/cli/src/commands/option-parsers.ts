import { InvalidArgumentError } from 'commander';
import { isValidId } from '@exhibit/core';

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

/** An ISO 8601 date or date-time; kept as typed, the API interprets it. */
export function isoDateOption(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError('must be an ISO 8601 date or date-time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z');
  }
  return value;
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

/** minLon,minLat,maxLon,maxLat in decimal degrees. */
export function bboxOption(value: string): [number, number, number, number] {
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError('expected minLon,minLat,maxLon,maxLat (decimal degrees)');
  }
  const [minLon, minLat, maxLon, maxLat] = parts as [number, number, number, number];
  if (minLon < -180 || maxLon > 180 || minLat < -90 || maxLat > 90 || minLat > maxLat) {
    throw new InvalidArgumentError('longitudes must be within -180..180, latitudes within -90..90, and minLat <= maxLat');
  }
  return [minLon, minLat, maxLon, maxLat];
}
