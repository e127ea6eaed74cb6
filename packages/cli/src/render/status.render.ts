import { volumeIssueOf } from '@exhibit/core';
import type { EvidenceListBody, EvidenceStatusBody } from '../api/api-types.js';
import { formatBytes, formatCount, printable, renderTable } from './format.js';

export const STATUS_STAGES = ['hash', 'identify', 'unpack', 'metadata', 'thumbnail', 'index'] as const;
export type StatusStage = (typeof STATUS_STAGES)[number];

/**
 * An integrity problem `exhibit status` exits 3 for: an upload's mismatch or change after receipt, or a disk image's
 * stored hashes that differ from its media or could not be checked against it ('failed': media failing its acquisition
 * checksums, a segment changed during the check, a check given up). Such an image is not verified, and exit 0 would
 * say the evidence is sound (regression `ewf-damaged-chunk-status-exit-0`).
 */
export function hasIntegrityMismatch(status: EvidenceStatusBody): boolean {
  return (
    status.uploads.some((u) => u.integrity === 'mismatch' || u.changedAfterReceipt !== null) ||
    (status.diskImages ?? []).some((d) => d.integrity === 'mismatch' || d.integrity === 'failed')
  );
}

/** A disk image's container, acquisition header and stored-hash check, and each volume (docs/disk-images.md). */
function renderDiskImage(d: EvidenceStatusBody['diskImages'][number]): string[] {
  const out = [`  ${printable(d.path)}  ${d.format}, ${formatCount(d.mediaBytes)} bytes of media (${formatBytes(d.mediaBytes)})  stored hashes: ${d.integrity}`];
  if (d.segments.length > 1) {
    const names = d.segments.map((s) => printable(s.name.slice(s.name.lastIndexOf('/') + 1)));
    out.push(`    ${d.segments.length} segments read as one image: ${names.length > 6 ? `${names.slice(0, 3).join(', ')} … ${names[names.length - 1]}` : names.join(', ')}`);
  }
  if (d.integrity === 'mismatch') out.push(`    MISMATCH with the hash stored in the image: ${d.mismatches.join(', ')}`);
  // A split raw set stores no hash, nor need an EWF image (storedHashes {}): its 'failed' is media that cannot be read
  // whole (a piece's lost tail, a segment cut), said as such, never as a hash it does not have.
  const storesHash = Boolean(d.storedHashes?.md5 || d.storedHashes?.sha1);
  if (d.integrity === 'failed') out.push(storesHash ? '    NOT VERIFIED against the hash stored in the image:' : '    MEDIA NOT READABLE WHOLE:');
  if (d.integrityDetail) out.push(`    ${printable(d.integrityDetail)}`);
  const h = d.ewfHeader as Record<string, unknown> | null;
  if (h) {
    const text = (key: string) => (typeof h[key] === 'string' ? printable(h[key] as string) : undefined);
    const taken = h['acquisitionDate'] as { local?: string; offsetMinutes?: number | null } | undefined;
    const fields = [
      text('caseNumber') && `case ${text('caseNumber')}`,
      text('evidenceNumber') && `evidence ${text('evidenceNumber')}`,
      text('examiner') && `examiner ${text('examiner')}`,
      taken?.local && `acquired ${printable(taken.local)}${taken.offsetMinutes === null ? ' (local time of the acquiring machine)' : ''}`,
      text('acquiringSoftwareVersion') && `with software version ${text('acquiringSoftwareVersion')}`,
    ].filter(Boolean);
    if (fields.length > 0) out.push(`    ${fields.join(', ')}`);
    if (text('notes')) out.push(`    notes: ${text('notes')}`);
  }
  for (const v of d.volumes) {
    const what = v.fileSystem ?? (v.problem ? `not read: ${printable(v.problem.message)}` : 'not read');
    out.push(`    volume ${v.index} (${v.scheme}${v.type ? ` ${printable(v.type)}` : ''}) at ${formatCount(v.offset)}, ${formatBytes(v.size)}: ${what}${v.fileSystem ? `, ${formatCount(v.entries)} entries` : ''}`);
  }
  // A note (a file system read on past its partition entry) records how a volume was read with nothing failing: said as a
  // note, as `exhibit image ls` says it, never among the problems; no exit code looks at either.
  // A problem recorded with its code (volumeProblemText) is said as `exhibit image ls` says it; one recorded before, as stored.
  for (const p of d.volumeProblems) {
    const issue = volumeIssueOf(p);
    out.push(
      issue.code === null
        ? `    ${printable(p)}`
        : `    volume ${issue.kind} (${printable(issue.where)}): ${printable(issue.code)}: ${printable(issue.message)}`,
    );
  }
  return out;
}

/** Declared split images still waiting for segments, and later segments waiting for their first (docs/disk-images.md, "Split images"). */
function renderImageSegments(segments: EvidenceStatusBody['imageSegments'] | undefined): string[] {
  const waiting = (segments?.declared ?? []).filter((d) => d.missing.length > 0);
  const orphans = segments?.orphans ?? [];
  if (waiting.length === 0 && orphans.length === 0) return [];
  const out = ['', 'Split images waiting'];
  const list = (names: string[]) => (names.length > 6 ? `${names.slice(0, 5).map(printable).join(', ')} … (${names.length})` : names.map(printable).join(', '));
  for (const d of waiting) {
    out.push(`  ${printable(d.firstSegment)}: ${d.segments.length - d.missing.length} of ${d.segments.length} declared segments received; waiting for ${list(d.missing)}`);
  }
  for (const o of orphans) out.push(`  ${printable(o.fileName)}: orphan segment, waiting for its first segment ${printable(o.firstSegment)} (no image read from it yet)`);
  return out;
}

/** The full status of one evidence item, for people; its tables fit `width` (paths keep their file names). */
export function renderEvidenceStatus(status: EvidenceStatusBody, options: { width?: number } = {}): string {
  const out: string[] = [];
  // The tables are indented by two.
  const table = options.width === undefined ? {} : { width: options.width - 2 };
  const state = status.complete ? 'complete' : 'processing';
  out.push(`Evidence ${printable(status.caseId)}/${printable(status.evidenceId)}: ${state}`);

  out.push('', `Uploads (${status.uploads.length})`);
  // A declared later segment is hashed in its first segment's read (docs/disk-images.md, "Split sets"): until then its integrity is pending.
  const firstOfLater = new Map((status.imageSegments?.declared ?? []).flatMap((d) => d.segments.slice(1).map((s) => [s.fileName, d.firstSegment] as const)));
  for (const u of status.uploads) {
    out.push(`  ${printable(u.fileName)}  ${formatCount(u.size)} bytes (${formatBytes(u.size)})  integrity: ${u.integrity}`);
    const first = firstOfLater.get(u.fileName);
    if (u.integrity === 'pending' && first !== undefined) out.push(`    waiting for its first segment's read (hashed in ${printable(first)}'s unpack, or by its own hash stage once that is over)`);
    if (u.hashes) out.push(`    sha256 ${u.hashes.sha256}`, `    sha1   ${u.hashes.sha1}`, `    md5    ${u.hashes.md5}`);
    if (u.integrity === 'mismatch') out.push(`    MISMATCH with the acquisition hash: ${u.mismatches.join(', ') || 'see custody log'}`);
    const change = u.changedAfterReceipt;
    if (change) {
      out.push(
        change.etag === ''
          ? `    EVIDENCE GONE: the blob was deleted from storage after receipt (noticed ${change.firstSeenAt})`
          : `    EVIDENCE CHANGED: the blob was overwritten after receipt (now ${change.size === null ? '?' : formatCount(change.size)} bytes, noticed ${change.firstSeenAt}); the hashes above are of what was received`,
      );
    }
    const a = u.acquisition;
    // The ingest stage has already decoded the metadata text; it is shown as stored.
    const who = [a.examiner && `examiner ${a.examiner}`, a.exhibitRef && `exhibit ${a.exhibitRef}`]
      .filter(Boolean)
      .join(', ');
    if (who) out.push(`    ${printable(who)}`);
    if (a.description) out.push(`    ${printable(a.description)}`);
    out.push(`    received ${u.receivedAt}${u.hashedAt ? `, hashed ${u.hashedAt}` : ''}`);
  }

  const images = status.diskImages ?? [];
  if (images.length > 0) out.push('', `Disk images (${images.length})`, ...images.flatMap(renderDiskImage));
  out.push(...renderImageSegments(status.imageSegments));

  const s = status.files.byStage;
  out.push(
    '',
    `Files: ${formatCount(status.files.total)} found` +
      ` (indexed ${s.indexed ?? 0}, failed ${s.failed ?? 0}, in progress ${status.files.total - (s.indexed ?? 0) - (s.failed ?? 0)})`,
  );
  out.push(
    '',
    indent(
      renderTable(
        STATUS_STAGES.map((stage) => ({ stage, ...status.stages[stage] })),
        [
          { header: 'Stage', value: (r) => r.stage },
          { header: 'Done', value: (r) => String(r.done), align: 'right' },
          { header: 'Failed', value: (r) => String(r.failed), align: 'right' },
          { header: 'Pending', value: (r) => String(r.pending), align: 'right' },
        ],
      ),
    ),
  );

  if (status.failures.length > 0) {
    out.push('', `Failures (${status.failures.length})`);
    out.push(indent(renderTable(status.failures, [
      { header: 'Path', value: (f) => f.path, ellipsis: 'path', maxWidth: 80, minWidth: 24, priority: 2 },
      { header: 'Stage', value: (f) => f.stage, priority: 3 },
      {
        header: 'Reason',
        value: (f) => (f.archive ? `unpack stopped (${f.archive.reason}), ${f.archive.membersRecorded} members recorded: ${f.code}: ${f.detail}` : `${f.code}: ${f.detail}`),
        maxWidth: 120,
        minWidth: 24,
        priority: 1,
      },
    ], table)));
  }
  const known = status.knownFiles;
  if (known && known.knownBad + known.notable + known.knownGood > 0) {
    out.push('', `Known files (hash sets): ${known.knownBad} known-bad, ${known.notable} notable, ${known.knownGood} known-good (hidden from search by default)`);
  }
  if (status.findings.length > 0) {
    out.push('', `Findings (${status.findings.length})`);
    out.push(indent(renderTable(status.findings, [
      { header: 'Path', value: (f) => f.path, ellipsis: 'path', maxWidth: 80, minWidth: 24, priority: 2 },
      { header: 'Finding', value: (f) => f.flag, priority: 3 },
      { header: 'Detail', value: (f) => f.detail, maxWidth: 120, minWidth: 24, priority: 1 },
    ], table)));
  }
  return out.join('\n') + '\n';
}

/** The evidence items of a case, one line each. */
export function renderEvidenceList(list: EvidenceListBody): string {
  if (list.items.length === 0) return `Case ${printable(list.caseId)}: no evidence uploaded yet\n`;
  const done = list.items.filter((i) => i.complete).length;
  return (
    `Case ${printable(list.caseId)}: ${list.items.length} evidence item${list.items.length === 1 ? '' : 's'}, ${done} complete\n\n` +
    renderTable(list.items, [
      { header: 'Evidence', value: (i) => i.evidenceId },
      { header: 'Uploads', value: (i) => String(i.uploads), align: 'right' },
      { header: 'Files', value: (i) => String(i.files), align: 'right' },
      { header: 'State', value: (i) => (i.complete ? 'complete' : 'processing') },
    ]) +
    '\n'
  );
}

/** Counts per stage over one or more evidence items, for the --watch bars. */
export function aggregateStages(statuses: readonly EvidenceStatusBody[]): Record<StatusStage, { done: number; failed: number; pending: number }> {
  const totals = Object.fromEntries(STATUS_STAGES.map((s) => [s, { done: 0, failed: 0, pending: 0 }])) as Record<
    StatusStage,
    { done: number; failed: number; pending: number }
  >;
  for (const st of statuses) {
    for (const stage of STATUS_STAGES) {
      const c = st.stages[stage];
      totals[stage].done += c.done;
      totals[stage].failed += c.failed;
      totals[stage].pending += c.pending;
    }
  }
  return totals;
}

/** One line summarising progress, for --watch without a terminal. */
export function renderProgressLine(statuses: readonly EvidenceStatusBody[]): string {
  const stages = aggregateStages(statuses);
  const parts = STATUS_STAGES.map((s) => {
    const c = stages[s];
    return `${s} ${c.done + c.failed}/${c.done + c.failed + c.pending}${c.failed ? ` (${c.failed} failed)` : ''}`;
  });
  const complete = statuses.length > 0 && statuses.every((s) => s.complete);
  return `${complete ? 'complete' : 'processing'}: ${parts.join(', ')}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
