import type { ExportRow, RecordedTime } from '@exhibit/core';
import type { ContentView } from './case-scope.js';

/**
 * The pieces of an export (HTML, CSV, JSON), rendered one file at a time so
 * the whole report never sits in memory. Every value comes from the index
 * (evidence text included) and is escaped for its format.
 */

export type ExportFormat = 'html' | 'csv' | 'json';

/** A row as the case being exported holds it: the content with this occurrence's own source (case-scope.ts). */
export type ExportRowView = Omit<ExportRow, 'content'> & { content: ContentView | null };

export interface ExportMeta {
  exportId: string;
  caseId: string;
  producedBy: string;
  producedAt: string;
  filter: Record<string, unknown>;
  /** Files in the export (counted before streaming). */
  count: number;
}

/** What a report says about the custody logs of the case (no evidence re-hash). */
export interface CustodySummary {
  available: boolean;
  ok: boolean | null;
  verifiedAt: string | null;
  items: Array<{ evidenceId: string; ok: boolean; verifiedEntries: number; headHash: string | null; firstBreak: string | null }>;
  note: string;
}

export const CSV_COLUMNS = [
  'fileId', 'evidenceId', 'path', 'size', 'sha256', 'md5', 'sha1', 'mime', 'kind',
  'takenAtLocal', 'takenAtOffsetMinutes', 'takenAtUtc', 'gpsLat', 'gpsLon', 'make', 'model', 'tags', 'notes',
] as const;

/** RFC 4180, and a cell a spreadsheet would run as a formula is prefixed with an apostrophe. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(row: ExportRowView): string {
  const { file, content, tags } = row;
  const m = content?.metadata ?? null;
  const cells: unknown[] = [
    file.fileId,
    file.evidenceId,
    file.path,
    file.size,
    file.sha256,
    content?.md5,
    content?.sha1,
    content?.mime,
    content?.kind,
    m?.takenAt?.local,
    m?.takenAt?.offsetMinutes,
    m?.takenAt?.utc,
    m?.gps?.lat,
    m?.gps?.lon,
    m?.make,
    m?.model,
    tags.map((t) => t.tag).join('; '),
    tags.filter((t) => t.note !== '').map((t) => `${t.tag}: ${t.note}`).join('\n'),
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function jsonHead(meta: ExportMeta, custody: CustodySummary): string {
  const head = {
    format: 'exhibit-export/1',
    exportId: meta.exportId,
    caseId: meta.caseId,
    producedBy: meta.producedBy,
    producedAt: meta.producedAt,
    filter: meta.filter,
    custody,
  };
  const text = JSON.stringify(head);
  return `${text.slice(0, -1)},"items":[\n`;
}

export function jsonRow(row: ExportRowView, first: boolean): string {
  return `${first ? '' : ',\n'}${JSON.stringify(row)}`;
}

export function jsonFoot(count: number): string {
  return `\n],"count":${count}}\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** A time exactly as recorded, with its offset or the plain statement that there was none. */
export function recordedTimeText(t: RecordedTime | undefined): string {
  if (!t) return 'none recorded';
  const offset = t.offsetMinutes === null ? 'no offset recorded' : offsetText(t.offsetMinutes);
  return `${t.local} (${offset}${t.utc ? `; ${t.utc}` : ''}) from ${t.source}`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.5em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 6px;vertical-align:top;text-align:left}
.item{display:flex;gap:1em;border-top:2px solid #333;padding:1em 0;page-break-inside:avoid}
.item img{max-width:320px;max-height:320px;object-fit:contain;border:1px solid #ccc}
.thumb{width:320px;flex:none}.hash{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.ok{color:#064}.bad{color:#a00;font-weight:bold}.note{white-space:pre-wrap}`;

export function htmlHead(meta: ExportMeta): string {
  const filter = Object.keys(meta.filter).length === 0 ? 'none (every file of the case)' : JSON.stringify(meta.filter);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exhibit report ${escapeHtml(meta.caseId)} ${escapeHtml(meta.exportId)}</title>
<style>${STYLE}</style></head><body>
<h1>Exhibit report: case ${escapeHtml(meta.caseId)}</h1>
<table>
<tr><th>Produced by</th><td>${escapeHtml(meta.producedBy)}</td></tr>
<tr><th>Produced at</th><td>${escapeHtml(meta.producedAt)}</td></tr>
<tr><th>Export id</th><td class="hash">${escapeHtml(meta.exportId)}</td></tr>
<tr><th>Filter</th><td class="hash">${escapeHtml(filter)}</td></tr>
<tr><th>Files</th><td>${meta.count}</td></tr>
</table>
<p>The SHA-256 of this file, exactly as delivered, is recorded in the case's chain-of-custody log (action <code>export</code>, export id above).</p>
<h2>Files</h2>
`;
}

/** One file; `thumbnail` is the JPEG to embed, or why there is none. */
export function htmlRow(row: ExportRowView, thumbnail: Buffer | string): string {
  const { file, content, tags } = row;
  const m = content?.metadata ?? null;
  const img = Buffer.isBuffer(thumbnail)
    ? `<img alt="thumbnail of ${escapeHtml(file.name)}" src="data:image/jpeg;base64,${thumbnail.toString('base64')}">`
    : `<p>${escapeHtml(thumbnail)}</p>`;
  const rows: Array<[string, string]> = [
    ['Path', escapeHtml(file.path)],
    ['Evidence item', escapeHtml(file.evidenceId)],
    ['File id', `<span class="hash">${escapeHtml(file.fileId)}</span>`],
    ['Size', file.size === null ? 'unknown' : `${file.size} bytes`],
    ['SHA-256', `<span class="hash">${escapeHtml(file.sha256 ?? 'not hashed')}</span>`],
    ['MD5', `<span class="hash">${escapeHtml(content?.md5 ?? '')}</span>`],
    ['SHA-1', `<span class="hash">${escapeHtml(content?.sha1 ?? '')}</span>`],
    ['Type', escapeHtml([content?.mime, content?.kind].filter(Boolean).join(', ') || 'not identified')],
    ['Taken at', escapeHtml(recordedTimeText(m?.takenAt))],
    ['GPS', m?.gps ? escapeHtml(`${m.gps.lat}, ${m.gps.lon}`) : 'none'],
    ['Camera', escapeHtml([m?.make, m?.model].filter(Boolean).join(' ') || 'none recorded')],
    ['Flags', escapeHtml(file.flags.join(', ') || 'none')],
  ];
  const tagList =
    tags.length === 0
      ? '<p>No tags.</p>'
      : `<ul>${tags
          .map((t) => `<li><strong>${escapeHtml(t.tag)}</strong> (${escapeHtml(t.updatedBy)}, ${escapeHtml(t.updatedAt)})${t.note ? `<div class="note">${escapeHtml(t.note)}</div>` : ''}</li>`)
          .join('')}</ul>`;
  return `<div class="item"><div class="thumb">${img}</div><div><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
<h3>Tags and notes</h3>${tagList}</div></div>
`;
}

export function htmlFoot(meta: ExportMeta, custody: CustodySummary): string {
  const verdict = !custody.available
    ? '<p>Custody verification is not configured in this deployment.</p>'
    : `<p class="${custody.ok ? 'ok' : 'bad'}">${custody.ok ? 'Every custody log of the case verified' : 'A custody log of the case did NOT verify'} at ${escapeHtml(custody.verifiedAt)}.</p>
<table><tr><th>Evidence item</th><th>Result</th><th>Entries verified</th><th>Head hash</th><th>First break</th></tr>
${custody.items
  .map(
    (i) =>
      `<tr><td>${escapeHtml(i.evidenceId)}</td><td class="${i.ok ? 'ok' : 'bad'}">${i.ok ? 'ok' : 'broken'}</td><td>${i.verifiedEntries}</td><td class="hash">${escapeHtml(i.headHash ?? '')}</td><td>${escapeHtml(i.firstBreak ?? '')}</td></tr>`,
  )
  .join('\n')}
</table>`;
  return `<h2>Chain of custody</h2>
${verdict}
<p>${escapeHtml(custody.note)}</p>
<p>Produced by ${escapeHtml(meta.producedBy)} at ${escapeHtml(meta.producedAt)}; ${meta.count} files.</p>
</body></html>
`;
}
