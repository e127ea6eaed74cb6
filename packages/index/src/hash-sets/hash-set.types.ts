/**
 * Shapes shared by the hash-set readers and the importer. A reader turns an
 * examiner-supplied file (NSRL, Project VIC / CAID, ICSE, checksum lists)
 * into rows and row errors; the importer decides, per the documented rule in
 * docs/known-files.md, whether the set is taken.
 */

export type HashSetFormat = 'nsrl-rds-v3' | 'vics-json' | 'icse-csv' | 'hashdeep' | 'hashkeeper' | 'checksum-list' | 'hash-list' | 'pdq-list';

export const HASH_SET_FORMATS: readonly HashSetFormat[] = [
  'nsrl-rds-v3', 'vics-json', 'icse-csv', 'hashdeep', 'hashkeeper', 'checksum-list', 'hash-list', 'pdq-list',
];

import type { HashSetKind } from '@exhibit/core';

export type { HashSetKind };
export const HASH_SET_KINDS: readonly HashSetKind[] = ['known-good', 'known-bad', 'notable'];

/** One known file: at least one digest, lower-case hex. */
export interface HashSetRow {
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  /** The source's category number (VICS, ICSE), or null. */
  category: number | null;
  size: number | null;
  /** Further fields kept as data (VICS Series, VictimIdentified, Tags, PhotoDNA; a PDQ list's label): never interpreted. */
  extra: Record<string, unknown> | null;
  /** A PDQ list's hash (64 lower-case hex digits); absent for exact-digest formats. */
  pdq?: string | null;
  /** The quality a PDQ list states for the hash (0-100), if it states one. */
  pdqQuality?: number | null;
}

export type RowErrorReason =
  | 'bad-hex'
  | 'wrong-length'
  | 'bom'
  | 'crlf'
  | 'line-too-long'
  | 'field-count'
  | 'no-hash'
  | 'bad-value'
  | 'bad-json';

/** A malformed row: where (line number, or entry number in a JSON `value` array) and why. */
export interface RowError {
  /** 1-based line number for text formats; for VICS JSON the 1-based entry in `value`. */
  line: number;
  /** 'line' for text formats, 'entry' for JSON entries, 'row' for SQLite rows. */
  unit: 'line' | 'entry' | 'row';
  reason: RowErrorReason;
  detail: string;
}

/** What a reader says about the whole source beyond its rows. */
export interface SourceInfo {
  format: HashSetFormat;
  /** Model or release version as the source states it (VICS odata model, NSRL VERSION row), if any. */
  sourceVersion: string | null;
}

export interface HashSetReader {
  info: SourceInfo;
  /**
   * Rows in source order, in batches (one await per batch keeps a
   * multi-million-row read fast); errors are reported through onError and
   * never stop the read.
   */
  rows(onError: (e: RowError) => void, abortSignal?: AbortSignal): AsyncIterable<HashSetRow[]>;
  /**
   * The importer's read of a source that has stable row positions (NSRL's
   * SQLite tables: the rowid): every row as stored, duplicates included, in
   * position order from just after `after`, each batch with the position of
   * the last source row it covers (bad rows included). The importer
   * de-duplicates in the index and resumes from the last committed position.
   * Absent for sources without positions.
   */
  positioned?: PositionedSource;
}

export interface PositionedBatch {
  rows: HashSetRow[];
  /** Position (rowid) of the last source row this batch read. */
  last: number;
}

export interface PositionedSource {
  /** The rows may repeat (one per file name and package): the importer keeps the distinct ones. */
  duplicates: boolean;
  rows(onError: (e: RowError) => void, options: { after: number | null; abortSignal?: AbortSignal }): AsyncIterable<PositionedBatch>;
}

export const DIGEST_HEX_CHARS = { md5: 32, sha1: 40, sha256: 64 } as const;
