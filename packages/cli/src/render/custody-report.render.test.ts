import { describe, expect, it } from 'vitest';
import { renderCustodyReportHtml, type CustodyVerification } from '@exhibit/custody';
import { displayWidth } from './format.js';
import { renderCustodyReportText, renderVerificationForTerminal } from './custody-report.render.js';

const entry = (seq: number, action: string, actor: string, blobName?: string) => ({
  seq,
  time: `2024-05-01T09:00:0${seq}.000Z`,
  actor,
  action,
  subject: { caseId: 'C1', evidenceId: 'E1', ...(blobName ? { blobName } : {}) },
  details: {},
  tools: seq === 1 ? [{ name: 'exhibit-pipeline', version: '0.1.0' }] : [],
  keyId: 'ed25519:abc',
  alg: 'Ed25519',
  prevHash: String(seq - 1).repeat(64),
  hash: String(seq).repeat(64),
  segment: 'C1/E1/000000.jsonl',
});

const report: CustodyVerification = {
  format: 'exhibit-custody-verification/1',
  caseId: 'C1',
  verifiedAt: '2024-05-01T10:00:00.000Z',
  ok: true,
  keys: { source: 'keys.json', accepted: [{ keyId: 'ed25519:abc', algorithm: 'Ed25519', publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' } }], rejected: [] },
  items: [
    {
      caseId: 'C1',
      evidenceId: 'E1',
      ok: true,
      verifiedEntries: 3,
      lastSeq: 2,
      headHash: '2'.repeat(64),
      segments: [{ name: 'C1/E1/000000.jsonl', entries: 3, bytes: 1800 }],
      indexEntries: 3,
      keyIds: ['ed25519:abc'],
      evidence: [],
      firstBreak: null,
      entries: [
        entry(0, 'segment-start', 'service:exhibit-custody'),
        entry(1, 'received', 'service:exhibit-pipeline', 'C1/E1/Phone Extraction 2024-05-01/\u001b[2Jevidence.zip'),
        entry(2, 'view', 'alice@example.org', 'C1/E1/Phone Extraction 2024-05-01/evidence.zip'),
      ],
      entriesOmitted: 5,
    },
  ],
};

describe('custody report as text', () => {
  it('is the verification followed by every entry, which verify does not print', () => {
    const text = renderCustodyReportText(report, { width: 240 });
    const verification = renderVerificationForTerminal(report);
    expect(text.startsWith(`Chain-of-custody report: case C1\n\n${verification}`)).toBe(true);
    expect(text).toContain('Entries of C1/E1 (3; 5 more not shown: use --json or --html)');
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.includes('Seq'));
    expect(lines[header]).toMatch(/^ {2}Seq\s+Time \(UTC\)\s+Actor\s+Action\s+Subject\s+Tools\s+Entry hash \(SHA-256\)$/);
    expect(lines[header + 2]).toMatch(/^ {4}1\s+2024-05-01T09:00:01\.000Z\s+service:exhibit-pipeline\s+received\s+C1\/E1\/Phone Extraction 2024-05-01\/\\u001b\[2Jevidence\.zip\s+exhibit-pipeline 0\.1\.0\s+1{64}$/);
    expect(lines[header + 3]).toMatch(/alice@example\.org\s+view\s+.*\s2{64}$/);
    expect(text).not.toContain('\u001b');
  });

  it.each([72, 100, 140])('fits its entry table into %i columns, keeping actions whole and hashes whole or out', (width) => {
    const text = renderCustodyReportText(report, { width });
    const table = text.slice(text.indexOf('Entries of'));
    for (const line of table.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(width);
    expect(table).toMatch(/segment-start/);
    expect(table).toMatch(/alice@example\.org\s+view/);
    const header = table.split('\n')[1]!;
    if (header.includes('Entry hash')) expect(table).toContain('2'.repeat(64));
    else expect(table).toMatch(/left out to fit: [\s\S]*Entry hash/);
  });

  // Regression: an export recorded as cut short (complete: false, its caller unassigned mid-stream) read
  // "export" in the report, exactly as a finished one: its hash passed for a whole report's.
  it('export-cut-short-reported-as-export', () => {
    const exportEntry = (seq: number, details: Record<string, unknown>) => ({
      ...entry(seq, 'export', 'ivy@example.org'),
      details: { exportId: `e${seq}`, format: 'csv', planned: 2002, sha256: 'a'.repeat(64), bytes: 1, ...details },
    });
    const item = report.items[0]!;
    const cut: CustodyVerification = {
      ...report,
      items: [{ ...item, entriesOmitted: 0, entries: [exportEntry(3, { items: 2002, complete: true }), exportEntry(4, { items: 600, complete: false, stoppedBy: 'access-revoked' }), exportEntry(5, { items: 9, complete: false })] }],
    };
    const rows = renderCustodyReportText(cut, { width: 240 }).split('\n').filter((l) => l.includes('ivy@example.org'));
    expect(rows.map((l) => /ivy@example\.org\s+(.+?)\s+C1\/E1/.exec(l)?.[1])).toEqual(['export', 'export (INCOMPLETE: access-revoked)', 'export (INCOMPLETE)']);
    const html = renderCustodyReportHtml(cut);
    expect(html).toContain('<td>export (INCOMPLETE: access-revoked)</td>');
    expect(html).toContain('<td>export (INCOMPLETE)</td>');
    expect(html).toContain('<td>export</td>');
  });

  // Regression: a similar search from another case that showed none of this case's files is recorded
  // once for the whole case, in its first item's log (recordedFor "case"); it read "uma search C1/E1",
  // as if it had searched that evidence item only.
  it('search-recorded-for-case-shown-as-first-item', () => {
    const search = (seq: number, details: Record<string, unknown>) => ({ ...entry(seq, 'search', 'uma@example.org'), details });
    const item = report.items[0]!;
    const v: CustodyVerification = {
      ...report,
      items: [{ ...item, entriesOmitted: 0, entries: [search(3, { filesShown: 0, fileIdsShown: [], evidenceSearched: 2, recordedFor: 'case' }), search(4, { filesShown: 1, evidenceSearched: 2 })] }],
    };
    const rows = renderCustodyReportText(v, { width: 240 }).split('\n').filter((l) => l.includes('uma@example.org'));
    expect(rows[0]).toMatch(/uma@example\.org\s+search \(case C1, 2 items\)\s+case C1\s/);
    expect(rows[0]).not.toContain('C1/E1');
    expect(rows[1]).toMatch(/uma@example\.org\s+search\s+C1\/E1\s/);
    const html = renderCustodyReportHtml(v);
    expect(html).toContain('<td>search (case C1, 2 items)</td>');
    expect(html).toContain('case C1 (recorded once for the case)');
  });
});
