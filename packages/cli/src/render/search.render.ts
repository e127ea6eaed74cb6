import type { SearchHit } from '@exhibit/core';
import type { SearchResultBody } from '../api/api-types.js';
import { formatBytes, layoutTable, printable, wrapText } from './format.js';
import { formatGps, formatRecordedTime } from './time.js';

const SHA_PREFIX = 12;

function typeOf(hit: SearchHit): string {
  const c = hit.content;
  if (hit.file.entryKind !== 'file') return hit.file.entryKind;
  if (!c) return '?';
  return c.mime ?? c.kind ?? '?';
}

/**
 * The occurrence's flags, then the findings about its bytes (preview-differs,
 * trailing-data, ...: recorded once per content, shown at every occurrence, as
 * `status` and `show` do), each once.
 */
function flagsOf(hit: SearchHit): string {
  const flags: string[] = [...hit.file.flags];
  for (const f of hit.content?.findings ?? []) if (!flags.includes(f.flag)) flags.push(f.flag);
  if (hit.file.stage === 'failed') flags.push('FAILED');
  else if (hit.file.stage !== 'indexed') flags.push(`(${hit.file.stage})`);
  return flags.join(' ');
}

/**
 * One row per hit: what an examiner scans first; full detail is `show`. The
 * table fits `width` (the terminal's): the path is cut in its middle so the
 * file name stays, lesser columns are narrowed or left out, and a note says
 * which were left out.
 */
export function renderSearchResult(result: SearchResultBody, options: { width?: number; /** the page was asked for by --cursor: its position is not known */ byCursor?: boolean } = {}): string {
  const total = `${result.total}${result.totalIsLowerBound ? '+' : ''}`;
  if (result.items.length === 0) return `no files match (total ${total})\n`;
  const { text, omitted } = layoutTable(
    result.items,
    [
      // `show` needs the whole id, so it is never cut.
      { header: 'File id', value: (h) => h.file.fileId, priority: 100 },
      { header: 'Path', value: (h) => h.file.path, ellipsis: 'path', minWidth: 24, priority: 90 },
      { header: 'Type', value: typeOf, maxWidth: 24, minWidth: 10, priority: 35, optional: true },
      { header: 'Size', value: (h) => (h.file.size === null ? '' : formatBytes(h.file.size)), align: 'right', priority: 60, optional: true },
      // A time is never cut: without its offset it would say something else.
      { header: 'Taken at (as recorded)', value: (h) => formatRecordedTime(h.content?.metadata?.takenAt), priority: 40, optional: true },
      // Which tag the time came from (EXIF:DateTimeOriginal, XMP:…, QuickTime:…): a time without its source is not evidence.
      { header: 'Taken from', value: (h) => h.content?.metadata?.takenAt?.source ?? '', maxWidth: 26, minWidth: 10, priority: 15, optional: true },
      { header: 'Make/model', value: (h) => [h.content?.metadata?.make, h.content?.metadata?.model].filter(Boolean).join(' '), maxWidth: 32, minWidth: 12, priority: 20, optional: true },
      { header: 'GPS', value: (h) => formatGps(h.content?.metadata?.gps), priority: 10, optional: true },
      { header: 'SHA-256', value: (h) => (h.file.sha256 ?? '').slice(0, SHA_PREFIX), priority: 30, optional: true },
      // 'ext-mismatch' and 'FAILED' stay whole.
      { header: 'Flags', value: flagsOf, maxWidth: 40, minWidth: 12, priority: 70, optional: true },
    ],
    options,
  );
  const first = result.offset + 1;
  const last = result.offset + result.items.length;
  // The cursor pages on at the same cost however deep (an offset reads every file before it).
  const more = result.nextCursor ? ` (next page: --cursor ${result.nextCursor})` : '';
  const shown = options.byCursor ? `${result.items.length} files` : `files ${first}-${last}`;
  const notes = [printable(`${shown} of ${total}${more}`)];
  if (omitted.length > 0) notes.push(`left out to fit ${options.width} columns: ${omitted.join(', ')} (--width N for more, --json for everything)`);
  return `${text}\n\n${notes.map((n) => wrapText(n, options.width)).join('\n')}\n`;
}
