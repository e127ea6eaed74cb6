import escapeHtml from 'escape-html';
import type { CustodyBreak, CustodyVerification, EvidenceCustodyVerification, VerifiedEntry } from './custody-verify.js';

function describeBreak(b: CustodyBreak): string {
  const where = [
    b.seq !== null ? `seq ${b.seq}` : b.expectedSeq !== null ? `expected seq ${b.expectedSeq}` : null,
    b.segment ? `${b.segment}${b.line !== null ? ` line ${b.line}` : ''}` : null,
  ].filter(Boolean);
  return `${b.reason}${where.length ? ` at ${where.join(', ')}` : ''}: ${b.detail}`;
}

function itemSummary(item: EvidenceCustodyVerification): string {
  const segments = `${item.segments.length} segment${item.segments.length === 1 ? '' : 's'}`;
  const gaps = (item.indexGaps ?? []).map((g) => (g.fromSeq === g.toSeq ? `${g.fromSeq}` : `${g.fromSeq}-${g.toSeq}`));
  const index =
    item.indexEntries === null
      ? 'no index copy compared'
      : `index copy ${item.indexEntries}${gaps.length > 0 ? ` (lacks seq ${gaps.join(', ')}, vouched for by the hash chain)` : ''}`;
  const evidence =
    item.evidenceChecked === false ? 'evidence not re-hashed' : item.evidence.length === 0 ? 'no evidence hashes recorded' : `${item.evidence.filter((e) => e.ok).length}/${item.evidence.length} evidence blobs match`;
  return `${item.verifiedEntries} entries verified, ${segments}, ${index}, ${evidence}`;
}

/** Plain text for terminals and logs. */
export function renderVerificationText(v: CustodyVerification): string {
  const lines: string[] = [];
  lines.push(`Custody verification of case ${v.caseId}: ${v.ok ? 'VERIFIED' : 'FAILED'} (${v.verifiedAt})`);
  lines.push(`Keys (${v.keys.source}): ${v.keys.accepted.map((k) => `${k.keyId} [${k.algorithm}]`).join(', ') || 'none'}`);
  for (const r of v.keys.rejected) lines.push(`  rejected key ${r.keyId}: ${r.reason}`);
  if (v.checkpoints) {
    lines.push(`Checkpoints (${v.checkpoints.location}): ${v.checkpoints.verified} verified, ${v.checkpoints.rejected.length} rejected`);
    for (const r of v.checkpoints.rejected) lines.push(`  rejected checkpoint line ${r.line}${r.evidenceId ? ` (${r.evidenceId})` : ''}: ${r.reason}`);
  }
  for (const note of v.notes ?? []) lines.push(`Note: ${note}`);
  if (v.items.length === 0) lines.push('No custody logs.');
  for (const item of v.items) {
    lines.push('');
    lines.push(`${item.caseId}/${item.evidenceId}: ${item.ok ? 'OK' : 'BROKEN'}`);
    lines.push(`  ${itemSummary(item)}`);
    if (item.headHash) lines.push(`  head: seq ${item.lastSeq} sha256 ${item.headHash}`);
    if (item.checkpoint) lines.push(`  checkpoint ${item.checkpoint.time}: ${item.checkpoint.entries} entries, head sha256 ${item.checkpoint.headHash}`);
    else if (item.checkpoint === null) lines.push('  no checkpoint yet');
    if (item.firstBreak) lines.push(`  FIRST BREAK ${describeBreak(item.firstBreak)}`);
    for (const e of item.evidence.filter((x) => !x.ok)) {
      lines.push(`  evidence ${e.blobName}: recorded ${e.recordedSha256} (seq ${e.seq}), now ${e.actualSha256 ?? 'missing'}`);
    }
  }
  return lines.join('\n') + '\n';
}

const h = (value: unknown): string => escapeHtml(String(value ?? ''));

/**
 * An entry's action as a reader should take it: an export not recorded as complete (as getExport
 * reads it: only complete: true is a whole report) is marked INCOMPLETE, with why when known, so its hash is never read as a whole report's.
 */
export function actionText(action: string, details: Record<string, unknown> | undefined, caseId?: string): string {
  const caseWide = caseWideText(action, details, caseId);
  if (caseWide !== undefined) return `${action} (${caseWide})`;
  if (action !== 'export' || details?.complete === true) return action;
  return `export (INCOMPLETE${typeof details?.stoppedBy === 'string' ? `: ${details.stoppedBy}` : ''})`;
}

/**
 * What an entry recorded once for its whole case covered, else undefined: a similar-picture search
 * from another case that showed none of this case's files is written once, in the log of the case's
 * first evidence item, with recordedFor "case" and evidenceSearched (docs/pdq.md). Read as about
 * that item it misstated what was searched (search-recorded-for-case-shown-as-first-item).
 */
export function caseWideText(action: string, details: Record<string, unknown> | undefined, caseId?: string): string | undefined {
  if (action !== 'search' || details?.recordedFor !== 'case') return undefined;
  const n = details.evidenceSearched;
  const items = typeof n === 'number' ? `, ${n} item${n === 1 ? '' : 's'}` : '';
  return `case${caseId !== undefined ? ` ${caseId}` : ''}${items}`;
}

function entryRow(e: VerifiedEntry): string {
  const caseWide = caseWideText(e.action, e.details) !== undefined ? `case ${e.subject.caseId} (recorded once for the case)` : null;
  const subject = [caseWide, e.subject.blobName, e.subject.fileId ? `file ${e.subject.fileId}` : null, e.subject.sha256 ? `sha256 ${e.subject.sha256}` : null]
    .filter(Boolean)
    .map((s) => `<div>${h(s)}</div>`)
    .join('');
  const tools = e.tools.map((t) => `${t.name} ${t.version}`).join(', ');
  return `<tr>
<td class="num">${h(e.seq)}</td><td class="mono">${h(e.time)}</td><td>${h(e.actor)}</td><td>${h(actionText(e.action, e.details, e.subject.caseId))}</td>
<td class="mono small">${subject}</td>
<td><pre>${h(JSON.stringify(e.details, null, 1))}</pre>${tools ? `<div class="small">tools: ${h(tools)}</div>` : ''}</td>
<td class="mono small">${h(e.hash)}<div class="muted">prev ${h(e.prevHash)}</div><div class="muted">${h(e.keyId)}</div></td>
</tr>`;
}

function itemSection(item: EvidenceCustodyVerification): string {
  const status = item.ok ? '<span class="ok">VERIFIED</span>' : '<span class="bad">BROKEN</span>';
  const brk = item.firstBreak ? `<p class="bad">First break: ${h(describeBreak(item.firstBreak))}</p>` : '';
  const segments = item.segments.map((s) => `<li class="mono">${h(s.name)}: ${h(s.entries)} entries verified, ${h(s.bytes)} bytes</li>`).join('');
  const evidence = item.evidence
    .map((e) => `<tr><td class="mono">${h(e.blobName)}</td><td class="num">${h(e.seq)}</td><td class="mono small">${h(e.recordedSha256)}</td><td class="mono small">${h(e.actualSha256 ?? 'missing')}</td><td>${e.ok ? '<span class="ok">match</span>' : '<span class="bad">DIFFERS</span>'}</td></tr>`)
    .join('');
  const entries = (item.entries ?? []).map(entryRow).join('');
  const omitted = item.entriesOmitted ? `<p class="muted">${h(item.entriesOmitted)} further verified entries are not shown; use the JSON report for all of them.</p>` : '';
  return `<section>
<h2>Evidence ${h(item.evidenceId)} ${status}</h2>
<p>${h(itemSummary(item))}.${item.headHash ? ` Head: seq ${h(item.lastSeq)}, SHA-256 <span class="mono">${h(item.headHash)}</span>.` : ''}</p>
${brk}
<h3>Segments</h3><ul>${segments || '<li>none</li>'}</ul>
<h3>Evidence re-hashed</h3>
${evidence ? `<table><thead><tr><th>Blob</th><th>Recorded at seq</th><th>Recorded SHA-256</th><th>SHA-256 now</th><th></th></tr></thead><tbody>${evidence}</tbody></table>` : '<p>No evidence hashes recorded in this log.</p>'}
<h3>Entries</h3>
${entries ? `<table class="entries"><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Actor</th><th>Action</th><th>Subject</th><th>Details</th><th>Entry hash</th></tr></thead><tbody>${entries}</tbody></table>` : '<p>No entries.</p>'}
${omitted}
</section>`;
}

/**
 * A self-contained printable page: every entry, its hash, and the
 * verification result. Every value from a log is escaped; logs record names
 * taken from evidence and must never become markup.
 */
export function renderCustodyReportHtml(v: CustodyVerification, options: { generatedBy?: string } = {}): string {
  const keys = v.keys.accepted.map((k) => `<li class="mono">${h(k.keyId)} (${h(k.algorithm)}) ${h(JSON.stringify(k.publicKeyJwk))}</li>`).join('');
  const rejected = v.keys.rejected.map((r) => `<li class="bad">${h(r.keyId)}: ${h(r.reason)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Chain of custody: case ${h(v.caseId)}</title>
<style>
body{font:11pt/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:16pt}h2{font-size:13pt;border-bottom:1px solid #999;margin-top:2em}h3{font-size:11pt}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #bbb;padding:3px 5px;vertical-align:top;text-align:left}
th{background:#eee}.mono{font-family:ui-monospace,monospace;word-break:break-all}.small{font-size:8.5pt}.num{text-align:right}
pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:8.5pt}.muted{color:#666}.ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}
@media print{body{margin:0}section{page-break-before:always}thead{display:table-header-group}tr{page-break-inside:avoid}}
</style></head><body>
<h1>Chain of custody: case ${h(v.caseId)}</h1>
<p>Result: ${v.ok ? '<span class="ok">VERIFIED</span>' : '<span class="bad">FAILED</span>'}. Verified at ${h(v.verifiedAt)}${options.generatedBy ? ` for ${h(options.generatedBy)}` : ''}.</p>
<p>Each entry is canonical JSON (RFC 8785) signed by the key named in it; each entry's hash (SHA-256 of its canonical bytes) is repeated as the next entry's prev hash.
The logs are append blobs <span class="mono">custody/${h(v.caseId)}/&lt;evidence&gt;/&lt;segment&gt;.jsonl</span>; the public keys are in <span class="mono">custody/${h(v.caseId)}/keys.json</span>.</p>
<h3>Keys (${h(v.keys.source)})</h3><ul>${keys || '<li>none</li>'}${rejected}</ul>${
  v.checkpoints
    ? `<h3>Checkpoints</h3><p>${h(v.checkpoints.location)}: ${h(v.checkpoints.verified)} verified, ${h(v.checkpoints.rejected.length)} rejected</p><ul>${v.checkpoints.rejected
        .map((r) => `<li class="bad">line ${h(r.line)}${r.evidenceId ? ` (${h(r.evidenceId)})` : ''}: ${h(r.reason)}</li>`)
        .join('')}</ul>`
    : ''
}${(v.notes ?? []).map((n) => `<p>${h(n)}</p>`).join('')}
${v.items.map(itemSection).join('\n') || '<p>No custody logs for this case.</p>'}
</body></html>
`;
}
