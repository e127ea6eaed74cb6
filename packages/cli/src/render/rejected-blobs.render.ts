import type { RejectedBlobListBody } from '../api/api-types.js';
import { formatCount, layoutTable, printable, wrapText } from './format.js';

/** One row per rejected blob; the name is escaped, since whoever dropped it chose it. */
export function renderRejectedBlobs(result: RejectedBlobListBody, options: { width?: number } = {}): string {
  if (result.items.length === 0) {
    return result.total === 0 ? 'no rejected blobs: every blob in the evidence container was taken in as evidence\n' : `no rejected blobs on this page (total ${result.total})\n`;
  }
  const { text: table, omitted } = layoutTable(result.items, [
    { header: 'First seen (UTC)', value: (r) => r.firstSeenAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), priority: 3, optional: true },
    { header: 'Seen', value: (r) => String(r.seenCount), align: 'right', priority: 2, optional: true },
    { header: 'Container', value: (r) => r.container, maxWidth: 24, minWidth: 9, priority: 0, optional: true },
    { header: 'Blob name', value: (r) => r.blobName, ellipsis: 'path', maxWidth: 80, minWidth: 24, priority: 9 },
    { header: 'Bytes', value: (r) => formatCount(r.size), align: 'right', priority: 4, optional: true },
    { header: 'Reason', value: (r) => r.reason, priority: 8 },
    { header: 'Detail', value: (r) => r.detail, maxWidth: 70, minWidth: 16, priority: 1, optional: true },
  ], options);
  const first = result.offset + 1;
  const last = result.offset + result.items.length;
  const more = last < result.total ? ` (next page: --offset ${last})` : '';
  const notes = [
    printable(`rejected blobs ${first}-${last} of ${result.total}${more}`),
    ...(omitted.length > 0 ? [`left out to fit ${options.width} columns: ${omitted.join(', ')} (--width N for more, --json for everything)`] : []),
    'To take one in, copy it to <caseId>/<evidenceId>/<file name> in the evidence container (docs/operations.md).',
  ];
  return `${table}\n\n${notes.map((n) => wrapText(n, options.width)).join('\n')}\n`;
}
