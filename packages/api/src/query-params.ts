import { z } from 'zod';
import { ExhibitError, isValidId } from '@exhibit/core';
import { API_LIMITS } from './api-limits.js';

/**
 * Query strings arrive as text. These schemas parse and bound each value and
 * keep the input side a plain string, so the OpenAPI document (generated
 * from the input side) describes what a caller actually sends.
 */

/** Turns a query string into a plain object; repeated or oversized parameters are refused. */
export function queryToObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  const repeated = new Set<string>();
  let count = 0;
  for (const [key, value] of query) {
    count += 1;
    if (count > API_LIMITS.maxQueryParams) {
      throw new ExhibitError('invalid-argument', `at most ${API_LIMITS.maxQueryParams} query parameters`);
    }
    const max = key === 'cursor' ? API_LIMITS.maxCursorChars : API_LIMITS.maxQueryValueChars;
    if (value.length > max) {
      throw new ExhibitError('invalid-argument', `query parameter ${key.slice(0, 64)} is longer than ${max} characters`);
    }
    if (Object.hasOwn(out, key)) repeated.add(key);
    out[key] = value;
  }
  if (repeated.size > 0) {
    const names = [...repeated].map((k) => k.slice(0, 64));
    throw new ExhibitError('invalid-argument', `query parameters given more than once: ${names.join(', ')}`, {
      details: { repeated: names },
    });
  }
  return out;
}

/** Reads zod issues into a 400 that names every bad and every unknown parameter. */
export function validationError(where: 'query' | 'path' | 'body', error: z.ZodError): ExhibitError {
  const unknown: string[] = [];
  const invalid: Array<{ name: string; message: string }> = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      unknown.push(...issue.keys.map((k) => k.slice(0, 64)));
    } else {
      invalid.push({ name: issue.path.map(String).join('.') || where, message: issue.message });
    }
  }
  const parts: string[] = [];
  if (unknown.length > 0) parts.push(`unknown ${where} parameters: ${unknown.join(', ')}`);
  if (invalid.length > 0) parts.push(invalid.map((i) => `${i.name}: ${i.message}`).join('; '));
  const details: Record<string, unknown> = {};
  if (unknown.length > 0) details.unknown = unknown;
  if (invalid.length > 0) details.invalid = invalid;
  return new ExhibitError('invalid-argument', `invalid ${where}: ${parts.join('; ')}`, { details });
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))?)?$/;

/** Checks the calendar by hand: Date.parse rolls 30 February over into March. */
function isRealTime(value: string): boolean {
  const m = TIME_RE.exec(value);
  if (!m) return false;
  const [year, month, day, hour = 0, minute = 0, second = 0, offH = 0, offM = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  if (year === undefined || month === undefined || day === undefined) return false;
  if (month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth && hour < 24 && minute < 60 && second < 60 && offH <= 14 && offM < 60;
}

export const param = {
  /** Case and evidence ids as core defines them. */
  id: (description: string) =>
    z
      .string()
      .max(64)
      .refine(isValidId, { message: 'must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit' })
      .describe(description),

  /** File ids are derived hashes; accept the id alphabet, bounded. */
  fileId: () =>
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'must be a file id')
      .describe('File id (one occurrence of a file)'),

  /** User names: UPNs, e-mail addresses, or local names. */
  user: (description: string) =>
    z
      .string()
      .min(1)
      .max(API_LIMITS.maxUserChars)
      // Explicit control ranges rather than \p{Cc}: the pattern is published in the OpenAPI document and must work in any regex dialect.
      .regex(/^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$/, 'must be a user name without control characters or surrounding spaces')
      .describe(description),

  text: (description: string, maxChars = 256) => z.string().min(1).max(maxChars).describe(description),

  int: (description: string, min: number, max: number) =>
    z
      .string()
      .regex(/^\d{1,10}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .describe(`${description} (integer ${min}-${max})`),

  bool: (description: string) => z.enum(['true', 'false']).transform((v) => v === 'true').describe(description),

  /**
   * A date or a date-time, with or without an offset. Without an offset it is
   * compared as recorded wall-clock time (see the index's search).
   */
  time: (description: string) =>
    z
      .string()
      .regex(TIME_RE, 'must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]')
      .refine(isRealTime, { message: 'is not a real date and time' })
      .describe(description),

  /**
   * minLon,minLat,maxLon,maxLat in decimal degrees (WGS84). Each as a
   * JavaScript number prints (its shortest exact text, up to 23 decimals, or
   * with an exponent below 1e-6), so a map cluster's box, the exact positions
   * of its files, is sent back unrounded and selects exactly those files.
   */
  bbox: () =>
    z
      .string()
      .regex(/^-?\d{1,3}(?:\.\d{1,23})?(?:e-\d{1,3})?(?:,-?\d{1,3}(?:\.\d{1,23})?(?:e-\d{1,3})?){3}$/, 'must be minLon,minLat,maxLon,maxLat')
      .transform((v) => v.split(',').map(Number) as [number, number, number, number])
      .refine(([minLon, minLat, maxLon, maxLat]) => minLon >= -180 && maxLon <= 180 && minLat >= -90 && maxLat <= 90, {
        message: 'longitudes must be within -180..180 and latitudes within -90..90',
      })
      .refine(([minLon, minLat, maxLon, maxLat]) => minLon <= maxLon && minLat <= maxLat, {
        message: 'min must not exceed max',
      })
      .describe('Bounding box minLon,minLat,maxLon,maxLat (decimal degrees, WGS84; west and south negative)'),

  /**
   * Hex digits an MD5, SHA-1 or SHA-256 starts with: at least 8 (so a prefix
   * still picks out one content), up to a whole digest (an exact match).
   */
  hash: () =>
    z
      .string()
      .regex(/^[0-9a-fA-F]{8,64}$/, 'must be 8 to 64 hex digits: an MD5, SHA-1 or SHA-256, or the start of one')
      .transform((v) => v.toLowerCase())
      .describe('MD5 (32 hex), SHA-1 (40) or SHA-256 (64) of the content, or its first 8 or more hex digits (a prefix of any of the three)'),
};
