import type { SearchHit } from '@exhibit/core';
import type { SearchResultBody } from '../api/api-types.js';
import { formatBytes, printable, renderTable } from './format.js';
import { formatGps, formatRecordedTime } from './time.js';

const SHA_PREFIX = 12;

function typeOf(hit: SearchHit): string {
  const c = hit.content;
  if (hit.file.entryKind !== 'file') return hit.file.entryKind;
  if (!c) return '?';
  return c.mime ?? c.kind ?? '?';
}

function flagsOf(hit: SearchHit): string {
  const flags: string[] = [...hit.file.flags];
  if (hit.file.stage === 'failed') flags.push('FAILED');
  else if (hit.file.stage !== 'indexed') flags.push(`(${hit.file.stage})`);
  return flags.join(' ');
}

/** One row per hit: what an examiner scans first. Full detail is `exhibit show`. */
export function renderSearchResult(result: SearchResultBody): string {
  if (result.items.length === 0) return `no files match (total ${result.total})\n`;
  const table = renderTable(result.items, [
    { header: 'File id', value: (h) => h.file.fileId },
    { header: 'Path', value: (h) => h.file.path, maxWidth: 60 },
    { header: 'Type', value: typeOf, maxWidth: 24 },
    { header: 'Size', value: (h) => (h.file.size === null ? '' : formatBytes(h.file.size)), align: 'right' },
    { header: 'Taken at (as recorded)', value: (h) => formatRecordedTime(h.content?.metadata?.takenAt) },
    { header: 'Taken from', value: (h) => h.content?.metadata?.takenAt?.source ?? '', maxWidth: 26 },
    { header: 'Make/model', value: (h) => [h.content?.metadata?.make, h.content?.metadata?.model].filter(Boolean).join(' '), maxWidth: 32 },
    { header: 'GPS', value: (h) => formatGps(h.content?.metadata?.gps) },
    { header: 'SHA-256', value: (h) => (h.file.sha256 ?? '').slice(0, SHA_PREFIX) },
    { header: 'Flags', value: flagsOf, maxWidth: 40 },
  ]);
  const first = result.offset + 1;
  const last = result.offset + result.items.length;
  const more = last < result.total ? ` (next page: --offset ${last})` : '';
  return `${table}\n\n${printable(`files ${first}-${last} of ${result.total}${more}`)}\n`;
}
