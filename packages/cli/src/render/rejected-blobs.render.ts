import type { RejectedBlobListBody } from '../api/api-types.js';
import { formatCount, printable, renderTable } from './format.js';

/** One row per rejected blob; the name is escaped, since whoever dropped it chose it. */
export function renderRejectedBlobs(result: RejectedBlobListBody, options: { width?: number } = {}): string {
  if (result.items.length === 0) {
    return result.total === 0 ? 'no rejected blobs: every blob in the evidence container was taken in as evidence\n' : `no rejected blobs on this page (total ${result.total})\n`;
  }
  const table = renderTable(result.items, [
    { header: 'First seen (UTC)', value: (r) => r.firstSeenAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') },
    { header: 'Seen', value: (r) => String(r.seenCount), align: 'right' },
    { header: 'Container', value: (r) => r.container, maxWidth: 24, minWidth: 9, priority: 1, optional: true },
    { header: 'Blob name', value: (r) => r.blobName, ellipsis: 'path', maxWidth: 80, minWidth: 24, priority: 5 },
    { header: 'Bytes', value: (r) => formatCount(r.size), align: 'right', priority: 3 },
    { header: 'Reason', value: (r) => r.reason, priority: 4 },
    { header: 'Detail', value: (r) => r.detail, maxWidth: 70, minWidth: 16, priority: 2, optional: true },
  ], options);
  const first = result.offset + 1;
  const last = result.offset + result.items.length;
  const more = last < result.total ? ` (next page: --offset ${last})` : '';
  return (
    `${table}\n\n${printable(`rejected blobs ${first}-${last} of ${result.total}${more}`)}\n` +
    'To take one in, copy it to <caseId>/<evidenceId>/<file name> in the evidence container (docs/operations.md).\n'
  );
}
