import canonicalize from 'canonicalize';
import { ExhibitError } from '@exhibit/core';

/**
 * RFC 8785 (JSON Canonicalization Scheme): sorted keys, no whitespace,
 * ECMAScript number formatting, UTF-8. We use the `canonicalize` package by
 * one of the RFC's authors rather than our own serialiser, because anyone who
 * re-verifies a custody log offline must reproduce these bytes exactly, with
 * any conforming JCS implementation.
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (err) {
    throw new ExhibitError('invalid-argument', `value cannot be canonicalised: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new ExhibitError('invalid-argument', 'value has no JSON representation');
  return text;
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * Reduces caller-supplied details to plain JSON (Dates to ISO strings,
 * undefined dropped, NaN to null) so what is signed is exactly what is stored
 * and read back. Rejects what JSON cannot carry (bigint, cycles).
 */
export function toPlainJson<T>(value: T): T {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new ExhibitError('invalid-argument', `value is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new ExhibitError('invalid-argument', 'value has no JSON representation');
  return JSON.parse(text) as T;
}
