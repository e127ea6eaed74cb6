import type { FileDetailBody } from '../api/api-types.js';
import { formatBytes, formatCount, printable } from './format.js';
import { formatGps, formatRecordedTime } from './time.js';

/** Everything recorded about one file, its content and where it came from. */
export function renderFileDetail(detail: FileDetailBody): string {
  const { file, content, provenance } = detail;
  const out: string[] = [];
  const row = (label: string, value: string | number | null | undefined) => {
    if (value === undefined || value === null || value === '') return;
    out.push(`  ${label.padEnd(16)}${printable(String(value))}`);
  };

  out.push(`File ${file.fileId}`);
  row('path', file.path);
  if (file.recordedName !== file.name) row('recorded name', file.recordedName);
  row('evidence', `${file.caseId}/${file.evidenceId}`);
  row('kind', file.entryKind);
  row('size', file.size === null ? null : `${formatCount(file.size)} bytes (${formatBytes(file.size)})`);
  row('stage', file.stage);
  if (file.failure) row('failure', `${file.failure.stage}: ${file.failure.code}: ${file.failure.detail}`);
  if (file.flags.length) row('flags', file.flags.join(', '));
  if (file.memberCount !== null) row('members', `${file.memberCount} (unpack ${file.unpack})`);
  for (const key of ['modified', 'accessed', 'changed', 'created'] as const) {
    const t = file.archiveTimes[key];
    if (t) row(`archive ${key}`, `${formatRecordedTime(t, { long: true })} [${t.source}]`);
  }

  if (content) {
    out.push('', 'Content');
    row('sha256', content.sha256);
    row('sha1', content.sha1);
    row('md5', content.md5);
    row('type', [content.mime, content.kind && `(${content.kind})`, content.detectedExt && `.${content.detectedExt}`].filter(Boolean).join(' '));
    const m = content.metadata;
    if (m) {
      if (m.takenAt) row('taken at', `${formatRecordedTime(m.takenAt, { long: true })} [${m.takenAt.source}]`);
      if (m.takenAt?.utc) row('taken at (UTC)', m.takenAt.utc);
      for (const t of m.captureTimes?.slice(1) ?? []) row('also recorded', `${formatRecordedTime(t, { long: true })} [${t.source}]`);
      if (m.modifiedAt) row('modified at', `${formatRecordedTime(m.modifiedAt, { long: true })} [${m.modifiedAt.source}]`);
      row('device', [m.make, m.model].filter(Boolean).join(' '));
      row('software', m.software);
      row('GPS', formatGps(m.gps));
      if (m.gpsRecorded) {
        const at = (n: number | null) => (n === null ? 'not a number' : n.toFixed(5));
        row('GPS (recorded)', `${at(m.gpsRecorded.lat)},${at(m.gpsRecorded.lon)} ${m.gpsRecorded.flag}: not a location`);
      }
      if (m.width !== undefined && m.height !== undefined) row('dimensions', `${m.width} x ${m.height}`);
      if (m.declaredWidth !== undefined && m.declaredHeight !== undefined) row('declared size', `${m.declaredWidth} x ${m.declaredHeight} (EXIF)`);
      for (const f of m.findings ?? []) row('finding', `${f.flag}: ${f.detail}`);
      row('orientation', m.orientation);
      row('duration', m.durationSec === undefined ? undefined : `${m.durationSec.toFixed(2)} s`);
      if (m.codecs?.length) row('codecs', m.codecs.join(', '));
    }
    row('metadata', content.metadataStatus);
    row('thumbnail', content.thumbnailStatus + (content.thumbnailSource ? ` (from ${content.thumbnailSource})` : ''));
    if (content.failure) row('failure', `${content.failure.stage}: ${content.failure.code}: ${content.failure.detail}`);
    for (const f of content.findings ?? []) row('finding', `${f.flag}: ${f.detail}`);
    const tools = Object.entries(content.tools)
      .map(([stage, list]) => `${stage}: ${(list ?? []).map((t) => `${t.name} ${t.version}`).join(', ')}`)
      .join('; ');
    row('tools', tools);
  }

  out.push('', `Provenance${provenance.complete ? '' : ' (INCOMPLETE: a parent could not be found)'}`);
  provenance.chain.forEach((link, i) => {
    const what = i === 0 ? 'this file' : 'inside';
    out.push(`  ${i}. ${printable(link.path)}`);
    out.push(`       ${what}${link.entryIndex === null ? '' : `, entry #${link.entryIndex}`}, sha256 ${link.sha256 ?? '(none)'}${link.mime ? `, ${link.mime}` : ''}`);
  });
  const u = provenance.upload;
  if (u) {
    out.push(`  uploaded as ${printable(u.blobName)}, ${formatCount(u.size)} bytes, received ${u.receivedAt}, integrity ${u.integrity}`);
    if (u.hashes) out.push(`       sha256 ${u.hashes.sha256}`);
    const a = u.acquisition;
    const acq = [a.examiner && `examiner ${a.examiner}`, a.exhibitRef && `exhibit ${a.exhibitRef}`, a.sha256 && `acquisition sha256 ${a.sha256}`]
      .filter(Boolean)
      .join(', ');
    if (acq) out.push(`       ${printable(acq)}`);
  }
  return out.join('\n') + '\n';
}
