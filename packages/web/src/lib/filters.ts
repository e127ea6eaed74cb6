/**
 * The current filter is the page's query string, in the API's own parameter
 * names: the gallery, the map and the timeline share it (a box drawn on the
 * map or a brush on the timeline becomes bbox / takenFrom+takenTo), it
 * survives a reload and can be bookmarked in the browser.
 */
export const FILTER_KEYS = [
  'evidenceId',
  'kind',
  'mime',
  'takenFrom',
  'takenTo',
  'make',
  'model',
  'hasGps',
  'bbox',
  'hash',
  'path',
  'extMismatch',
  'stage',
  'takenLocalFrom',
  'takenLocalTo',
  'takenOffset',
  'duplicates',
  'tag',
  'tagged',
] as const;
export const SORT_KEYS = ['sort', 'order'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** The filter (and sort) part of a query string, without paging or anything else. */
export function filterParams(search: URLSearchParams, options: { withSort?: boolean } = {}): URLSearchParams {
  const out = new URLSearchParams();
  const keys: readonly string[] = options.withSort === false ? FILTER_KEYS : [...FILTER_KEYS, ...SORT_KEYS];
  for (const k of keys) {
    const v = search.get(k);
    if (v !== null && v !== '') out.set(k, v);
  }
  return out;
}

export function withParams(search: URLSearchParams, changes: Record<string, string | null>): URLSearchParams {
  const out = filterParams(search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') out.delete(k);
    else out.set(k, v);
  }
  return out;
}

export function queryString(params: URLSearchParams): string {
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function activeFilterCount(search: URLSearchParams): number {
  return FILTER_KEYS.filter((k) => search.get(k)).length;
}
