import type { RecordedTime } from './api-types';

/** "+02:00" for an offset in minutes. */
export function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const m = Math.abs(minutes);
  return `${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/**
 * A time exactly as the source recorded it: its wall clock and its offset,
 * never converted to the viewer's zone. Without an offset it says so.
 */
export function recordedText(t: RecordedTime): string {
  const local = t.local.replace('T', ' ');
  return t.offsetMinutes === null ? `${local} (no offset recorded)` : `${local} UTC${offsetText(t.offsetMinutes)}`;
}

export function bytesText(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]} (${n.toLocaleString('en')} B)`;
}

/** An instant the system itself recorded (always UTC), shown as UTC so it reads the same for everyone. */
export function instantText(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}

/**
 * A search recorded once for a whole case (recordedFor "case": in its first evidence item's log,
 * docs/pdq.md) is about the case, not that item (search-recorded-for-case-shown-as-first-item);
 * as the custody package's caseWideText.
 */
export function caseWideSubject(action: string, details: Record<string, unknown> | undefined, caseId: string): string | undefined {
  if (action !== 'search' || details?.recordedFor !== 'case') return undefined;
  const n = details.evidenceSearched;
  return `the case ${caseId}${typeof n === 'number' ? ` (${n} evidence item${n === 1 ? '' : 's'})` : ''}, recorded once in this item's log`;
}

/**
 * Text read from evidence (a path, a segment or partition name, an EWF header field, a recorded message) with its
 * control and bidirectional-formatting characters made visible as `\uXXXX`, as the CLI's printable() does: a U+202E
 * (right-to-left override) in a name would otherwise reorder what the examiner reads ("exhibit-‮10E.exe" shown as
 * "exhibit-exe.E01"), and a line or paragraph separator would break it. React escapes markup, not these.
 */
export function visibleControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
