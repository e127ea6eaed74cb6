import { z } from 'zod';
import type { ReviewFilter } from '@exhibit/core';
import { param } from './query-params.js';
import { FILE_KINDS, FILE_STAGES } from './response-schemas.js';

/** A tag as people type it: 1-64 characters, no control characters, no surrounding spaces. */
export const tagText = (description: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$/, 'must be 1-64 characters without control characters or surrounding spaces')
    .describe(description);

const wallClock = (description: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?$/, 'must be YYYY-MM-DD[THH:MM[:SS]] (recorded wall clock, no offset)')
    .describe(description);

/**
 * The search filter: the same parameters on search, map, timeline and
 * export, so whatever the gallery shows is what the map, the timeline and a
 * report cover.
 */
export const FILTER_SHAPE = {
  evidenceId: param.id('Only this evidence item').optional(),
  kind: z.enum(FILE_KINDS).optional().describe('File kind from the content signature'),
  mime: z
    .string()
    .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/i, 'must be a MIME type')
    .optional()
    .describe('Detected MIME type, e.g. image/jpeg, or image/* for any image type'),
  takenFrom: param.time('Captured at or after (UTC when the offset is known, else as recorded). Capture-time tags only: a file with only a modification time matches no time range').optional(),
  takenTo: param.time('Taken at or before').optional(),
  takenLocalFrom: wallClock('Capture time as recorded (wall clock, whatever its offset) at or after: the timeline axis').optional(),
  takenLocalTo: wallClock('Capture time as recorded before (exclusive)').optional(),
  takenOffset: z.enum(['recorded', 'missing']).optional().describe('Capture time with a recorded offset, or one without'),
  make: param.text('Camera make (case-insensitive)', 128).optional(),
  model: param.text('Camera model (case-insensitive)', 128).optional(),
  hasGps: param.bool('Only files with (true) or without (false) a usable GPS location; a position recorded as 0,0, out of range or as a void measurement (flag gps-null-island / gps-out-of-range / gps-void) is not one').optional(),
  bbox: param.bbox().optional(),
  hash: param.hash().optional(),
  path: param.text('Case-insensitive substring of the display path', 1024).optional(),
  extMismatch: param.bool('Only files whose extension does not fit their content').optional(),
  stage: z.enum(FILE_STAGES).optional().describe('Processing stage of the occurrence (failed: the failures)'),
  duplicates: z
    .enum(['only', 'collapse'])
    .optional()
    .describe('only: files whose content occurs more than once in the case; collapse: one file per distinct content (the smallest fileId)'),
  tag: tagText('Files carrying this tag').optional(),
  tagged: param.bool('Files with (true) or without (false) any tag: the bookmarks').optional(),
  known: z
    .enum(['bad', 'notable', 'good', 'unknown'])
    .optional()
    .describe('Only files whose content matches an enabled hash set of this kind (known-bad, notable, known-good), or (unknown) none; docs/known-files.md'),
  includeKnownGood: param.bool('Also return known-good files (content in a known-good set and in no known-bad or notable one), which are hidden by default').optional(),
};

const filterObject = z.strictObject(FILTER_SHAPE);
export type FilterQuery = z.output<typeof filterObject>;

/** The parsed query as the index's filter (`path` is the index's `pathText`). */
export function toFilter(caseId: string, query: FilterQuery): ReviewFilter {
  const { path, ...rest } = query;
  const filter: ReviewFilter = { caseId };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (filter as unknown as Record<string, unknown>)[k] = v;
  if (path !== undefined) filter.pathText = path;
  return filter;
}

/** Only the filter keys of a parsed query (for custody details and export headers). */
export function filterOf<T extends Record<string, unknown>>(query: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(FILTER_SHAPE)) if (query[key] !== undefined) out[key] = query[key];
  return out;
}
