import { actionText, caseWideText, renderVerificationText, type CustodyVerification } from '@exhibit/custody';
import { layoutTable, printable, wrapText } from './format.js';

type Entry = NonNullable<CustodyVerification['items'][number]['entries']>[number];

/** The verification text with control characters from the logs (blob names come from evidence) escaped. */
export function renderVerificationForTerminal(v: CustodyVerification): string {
  return renderVerificationText(v)
    .split('\n')
    .map((line) => printable(line))
    .join('\n');
}

function subjectOf(e: Entry): string {
  const s = e.subject;
  // Recorded once for the whole case in its first item's log: not about that item.
  if (caseWideText(e.action, e.details) !== undefined) return `case ${s.caseId}`;
  return s.blobName ?? (s.fileId ? `file ${s.fileId}` : `${s.caseId}/${s.evidenceId}`);
}

/**
 * The chain-of-custody report as text: the verification, then every entry
 * the API returned (who did what, when, to what, and each entry's hash),
 * per evidence item. The HTML report (--html) adds the details and keys.
 */
export function renderCustodyReportText(v: CustodyVerification, options: { width?: number } = {}): string {
  const width = options.width;
  const out: string[] = [wrapText(`Chain-of-custody report: case ${printable(v.caseId)}`, width), '', renderVerificationForTerminal(v).trimEnd()];
  for (const item of v.items) {
    const entries = item.entries ?? [];
    const omitted = item.entriesOmitted ?? 0;
    out.push('', wrapText(printable(`Entries of ${item.caseId}/${item.evidenceId} (${entries.length}${omitted ? `; ${omitted} more not shown: use --json or --html` : ''})`), width));
    if (entries.length === 0) {
      out.push('  none');
      continue;
    }
    const table = layoutTable(
      entries,
      [
        { header: 'Seq', value: (e) => String(e.seq), align: 'right', priority: 100 },
        { header: 'Time (UTC)', value: (e) => e.time, priority: 90 },
        { header: 'Actor', value: (e) => e.actor, maxWidth: 48, minWidth: 20, priority: 80 },
        { header: 'Action', value: (e) => actionText(e.action, e.details, e.subject.caseId), priority: 85 },
        { header: 'Subject', value: subjectOf, ellipsis: 'path', maxWidth: 80, minWidth: 16, priority: 50, optional: true },
        { header: 'Tools', value: (e) => e.tools.map((t) => `${t.name} ${t.version}`).join(', '), maxWidth: 40, minWidth: 12, priority: 20, optional: true },
        // The hash links each entry to the next: shown whole or not at all.
        { header: 'Entry hash (SHA-256)', value: (e) => e.hash, priority: 60, optional: true },
      ],
      width === undefined ? {} : { width: width - 2 },
    );
    out.push(table.text.split('\n').map((l) => `  ${l}`).join('\n'));
    if (table.omitted.length > 0) out.push(wrapText(`  left out to fit: ${table.omitted.join(', ')} (--width N for more, --html or --json for everything)`, width));
  }
  return out.join('\n') + '\n';
}
